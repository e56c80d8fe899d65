"""Transfer rates through pyOCD and the virtual debug probe.

Builds extflash's generated loader (.stldr and FLM) for NUCLEO-H743ZI + W25Q128JV, then on the
virtual board behind the virtual probe measures:

* raw debug-port writes and reads of RAM (pyOCD MEM-AP block transfers);
* program + verify of an image with the .stldr, double-buffered and single-buffered;
* the same with the FLM (one ProgramPage per 256-byte page), with and without the second page
  buffer.

Virtual time is what a board behind a real probe would take with the modelled link (a USB
round trip per probe command plus 46 SWD clocks per register transfer) and the chip's
datasheet timing; host time is how long the emulation took here. Prints a table.

    .venv/bin/python bench/probe_speed.py [--kib 512] [--swd-mhz 4] [--rtt-us 125]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from extflash import board, gen
from extflash.image import Chunk, Image
from extflash.probe import VirtualSystem, WireTiming, plug_in, register, unplug
from extflash.runner import DriverOptions
from extflash.target.pyocd_target import ProbeOptions, open_probe_session, open_probe_target

BOARD = "nucleo-h743zi-w25q128"
FAST_RESET = {"reset.hold_time": 0.0, "reset.post_delay": 0.0}


@dataclass
class Row:
    what: str
    size: int
    virtual_s: float
    host_s: float

    def cells(self) -> list[str]:
        kib = self.size / 1024
        return [self.what, f"{kib:.0f}", f"{self.virtual_s:.3f}", f"{kib / self.virtual_s:.1f}",
                f"{self.host_s:.2f}", f"{kib / self.host_s:.1f}"]


def fresh(args: argparse.Namespace, timing: str) -> tuple[VirtualSystem, str]:
    wire = WireTiming(swd_hz=int(args.swd_mhz * 1e6), round_trip_s=args.rtt_us * 1e-6)
    system = VirtualSystem.for_board(BOARD, timing=timing, wire=wire)
    return system, plug_in(system)


def probe_options(uid: str, args: argparse.Namespace) -> ProbeOptions:
    return ProbeOptions(probe=uid, frequency=int(args.swd_mhz * 1e6), pyocd_options=FAST_RESET)


def raw_transfers(args: argparse.Namespace, size: int) -> list[Row]:
    system, uid = fresh(args, "typical")
    target = open_probe_target(system.part, probe_options(uid, args))
    data = random.Random(2).randbytes(size)
    rows = []
    try:
        for what, action in (("debug port: write RAM", lambda: target.write_memory(0x24000000,
                                                                                   data)),
                             ("debug port: read RAM", lambda: target.read_memory(0x24000000,
                                                                                 size))):
            v0, h0 = system.now_s, time.perf_counter()
            action()
            rows.append(Row(what, size, system.now_s - v0, time.perf_counter() - h0))
    finally:
        target.close()
        unplug(system)
    return rows


def program(args: argparse.Namespace, what: str, loader: Path, size: int, timing: str, *,
            double_buffer: bool = True, options: DriverOptions | None = None) -> Row:
    system, uid = fresh(args, timing)
    image = Image((Chunk(0x90000000, random.Random(1).randbytes(size)),), "bench")
    try:
        with open_probe_session(loader, system.part, probe=probe_options(uid, args),
                                options=options, double_buffer=double_buffer) as session:
            v0, h0 = system.now_s, time.perf_counter()
            result = session.program(image)
            row = Row(what, size, system.now_s - v0, time.perf_counter() - h0)
        if not result.report.verified or \
                system.board.flash_contents()[:size] != image.chunks[0].data:
            raise SystemExit(f"{what}: verify FAILED")
    finally:
        unplug(system)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kib", type=int, default=512, help="image size (KiB)")
    ap.add_argument("--swd-mhz", type=float, default=4.0)
    ap.add_argument("--rtt-us", type=float, default=125.0, help="USB round trip per command")
    args = ap.parse_args()
    register()
    size = args.kib * 1024
    with tempfile.TemporaryDirectory() as tmp:
        built = gen.build(gen.plan_loader(board.load(BOARD)), Path(tmp), flm=True)
        assert built.flm is not None
        rows = raw_transfers(args, size)
        for timing in ("typical", "instant"):
            rows.append(program(args, f".stldr double-buffered, {timing} NOR", built.stldr,
                                size, timing))
            rows.append(program(args, f".stldr single buffer, {timing} NOR", built.stldr,
                                size, timing, double_buffer=False))
        for double in (True, False):
            label = "two page buffers" if double else "one buffer"
            rows.append(program(args, f"FLM (256-byte pages, {label}), typical NOR", built.flm,
                                size // 4, "typical", double_buffer=double))
    header = ["operation", "KiB", "virtual s", "virtual KiB/s", "host s", "host KiB/s"]
    table = [header, *(r.cells() for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"virtual probe: SWD {args.swd_mhz:g} MHz, {args.rtt_us:g} us USB round trip per reply; "
          f"{BOARD}")
    for i, row in enumerate(table):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print("program rows include erase, write and verify (CRC-32 computed on the target; "
          "a run that differs is read back).")


if __name__ == "__main__":
    main()
