"""The virtual board's speed, as a user sees it (``make bench``).

Programs and verifies an image through a real loader on the virtual board, the way
``extflash program`` does (the API's session: plan, erase, Write calls, verify through the
memory-mapped window), and prints one table:

* program + verify N MiB with the generator's loader (32-bit DR accesses);
* the same with the HAL-style reference loader (tests/firmware/halstyle: byte-wise DR writes,
  SysTick-interrupt HAL tick), built here with arm-none-eabi-gcc;
* re-programming the same image with one 4 KiB sector changed, skip-unchanged on (time and
  ratio against the full program);
* reading the whole chip back through the memory-mapped window and through the loader's Read().

Chip times follow ``--timing`` (typical datasheet times by default) in *virtual* time: the
machine fast-forwards the loader's busy polling, so wall time is the emulator's own cost. MB/s
is 10^6 bytes per wall second; the CPU column (this process's CPU time) tells how much of the
wall time a busy host took away.

    .venv/bin/python bench/run.py [--mib 16] [--board nucleo-h743zi-w25q128] [--path auto]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "tests" / "firmware"
sys.path[:0] = [str(FIRMWARE), str(ROOT / "tests" / "emu"), str(ROOT / "tests")]

from extflash import api, board, gen  # noqa: E402
from extflash.emu import native  # noqa: E402
from extflash.image import Chunk, Image, from_chunks  # noqa: E402
from extflash.runner import INIT_EVERY_CALL, INIT_SEQUENCES, DriverOptions  # noqa: E402
from extflash.toolchain import find_toolchain  # noqa: E402

SECTOR = 4096


@dataclass
class Row:
    what: str
    loader: str
    nbytes: int
    wall_s: float
    cpu_s: float
    virtual_s: float | None
    note: str = ""

    @property
    def mb_s(self) -> float:
        return self.nbytes / self.wall_s / 1e6 if self.wall_s else float("inf")


def build_halstyle(brd: board.Board, out: Path) -> Path:
    """The HAL-style reference loader for ``brd``, built as the tests build it."""
    from test_reference_loaders import halstyle_loader  # the tests' recipe, not a copy

    tc = find_toolchain()

    def build_elf(name: str, sources: Sequence[str], linker_script: str | None, *,
                  cflags: Sequence[str] = (), ldflags: Sequence[str] = (),
                  cpu: str = "cortex-m7") -> Path:
        elf = out / f"{name}.elf"
        flags = [f"-mcpu={cpu}", "-mthumb", "-Os", "-ffunction-sections", "-fdata-sections",
                 "-nostdlib", "-nostartfiles", "-Wall", "-Werror", *cflags]
        tc.build([FIRMWARE / s for s in sources], elf,
                 linker_script=FIRMWARE / linker_script if linker_script else None,
                 cflags=flags, ldflags=[*ldflags, "-lgcc"], include_dirs=[FIRMWARE / "include"],
                 what=name)
        return elf

    return Path(halstyle_loader(brd, build_elf))


def image(base: int, size: int, seed: int = 1) -> Image:
    return from_chunks([Chunk(base, random.Random(seed).randbytes(size), "bench")],
                       source="bench")


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - t0, time.process_time() - c0, result


def program_rows(label: str, loader: Path, brd: board.Board, size: int, timing: str,
                 *, extra: bool, init_sequence: str = INIT_EVERY_CALL) -> list[Row]:
    rows = []
    options = DriverOptions(init_sequence=init_sequence)
    with api.open_session(loader, board=brd, timing=timing, options=options) as s:
        base = s.geometry.start
        img = image(base, size)
        wall, cpu, res = timed(lambda: s.program(img, verify=True))
        rep = res.report
        assert rep.verified and rep.bytes_written == size, rep.as_dict()
        full = Row(f"program + verify {size >> 20} MiB", label, size, wall, cpu, rep.target_time_s)
        rows.append(full)
        if not extra:
            return rows
        data = bytearray(img.chunks[0].data)
        changed = size // 2 // SECTOR * SECTOR
        data[changed:changed + SECTOR] = random.Random(2).randbytes(SECTOR)
        img2 = from_chunks([Chunk(base, bytes(data), "bench, one sector changed")],
                           source="bench")
        wall, cpu, res = timed(lambda: s.program(img2, verify=True, skip_unchanged=True))
        rep = res.report
        assert rep.verified and len(rep.sectors_written) == 1, rep.as_dict()
        rows.append(Row("re-program, 1 sector changed", label, size, wall, cpu, rep.target_time_s,
                        f"skip-unchanged; {wall / full.wall_s:.1%} of the full program"))
        wall, cpu, back = timed(lambda: s.read(base, size))
        assert back == bytes(data)
        rows.append(Row(f"read back {size >> 20} MiB", "window", size, wall, cpu, None,
                        "memory-mapped window"))
        s.driver.begin("read")
        driver: Any = s.driver
        t0_virtual = s.target.machine.clock.now_fs  # type: ignore[attr-defined]
        wall, cpu, back = timed(lambda: driver.read_through_loader(base, size))
        virtual = (s.target.machine.clock.now_fs - t0_virtual) / 1e15  # type: ignore[attr-defined]
        assert back == bytes(data)
        rows.append(Row(f"read back {size >> 20} MiB", "generated Read()", size, wall, cpu,
                        virtual, "the loader's Read() function"))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=16, help="image size (default 16 MiB)")
    ap.add_argument("--board", default="nucleo-h743zi-w25q128")
    ap.add_argument("--timing", default="typical", choices=("instant", "typical", "max"))
    ap.add_argument("--path", default="auto", choices=("auto", "native", "python"),
                    help="QUADSPI register path: native fast path (auto: when it builds) or "
                         "pure Python")
    ap.add_argument("--no-bytewise", action="store_true", help="skip the HAL-style loader")
    ap.add_argument("--init-sequence", default=INIT_EVERY_CALL, choices=INIT_SEQUENCES,
                    help=".stldr Init before every call (as CubeProgrammer) or once per operation")
    args = ap.parse_args(argv)
    if args.path == "python":
        os.environ["EXTFLASH_NATIVE"] = "0"
    elif args.path == "native":
        native.require("quadspi_fast")
    used = "native" if native.load("quadspi_fast") is not None else "python"
    brd = board.load(args.board)
    size = args.mib << 20
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        word = gen.build(gen.plan_loader(brd), Path(tmp) / "gen").stldr
        rows += program_rows("generated (32-bit DR)", word, brd, size, args.timing, extra=True,
                             init_sequence=args.init_sequence)
        if not args.no_bytewise:
            hal = build_halstyle(brd, Path(tmp))
            rows += program_rows("HAL-style (8-bit DR)", hal, brd, size, args.timing,
                                 extra=False, init_sequence=args.init_sequence)
    print(f"extflash virtual board: {brd.name} ({brd.part.part.name}), {args.timing} chip "
          f"timing, QUADSPI path: {used}, Init sequence: {args.init_sequence}")
    header = (f"{'operation':<30} {'loader':<22} {'wall s':>8} {'MB/s':>7} {'CPU s':>7} "
              f"{'virtual s':>10}  note")
    print(header)
    print("-" * len(header))
    for r in rows:
        virtual = f"{r.virtual_s:10.3f}" if r.virtual_s is not None else f"{'-':>10}"
        print(f"{r.what:<30} {r.loader:<22} {r.wall_s:8.2f} {r.mb_s:7.2f} {r.cpu_s:7.2f} "
              f"{virtual}  {r.note}")


if __name__ == "__main__":
    main()
