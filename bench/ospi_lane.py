"""Host time per page program through the virtual OCTOSPI/XSPI, native command lane on and off.

Builds a HAL-style OCTOSPI/XSPI test loader (tests/firmware/ospi_hal) for a kit, erases and
programs the same data once through the pure-Python register path (``EXTFLASH_NATIVE=0``) and
once through the native fast path with its command lane, times the loader's Write() calls and
prints the host time per 256-byte page. One run each (no repetition: a figure for the docs, not
a benchmark loop).

    .venv/bin/python bench/ospi_lane.py [--kit h735-w25q128] [--kib 256]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from extflash import api
from extflash.toolchain import find_toolchain

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "tests" / "firmware"
sys.path[:0] = [str(FW), str(ROOT / "tests" / "emu"), str(ROOT / "tests")]
import ospi_hal.build as ob  # noqa: E402
from test_ospi_halstyle_run import kit_board  # noqa: E402


def build(kit: str, out: Path) -> tuple[Path, ob.LoaderBuild]:
    b = ob.loader_build(ob.KITS[kit], kit)
    elf = out / f"{kit}.elf"
    flags = [f"-mcpu={b.cpu}", "-mthumb", "-Os", "-ffunction-sections", "-fdata-sections",
             "-nostdlib", "-nostartfiles", *b.cflags]
    find_toolchain().build([FW / s for s in b.sources], elf, linker_script=FW / b.linker_script,
                           cflags=flags, ldflags=[*b.ldflags, "-lgcc"],
                           include_dirs=[FW / "include"], what=kit)
    return elf, b


def run(elf: Path, b: ob.LoaderBuild, kit: str, data: bytes) -> tuple[float, int, bool]:
    """(host seconds in Write(), virtual fs, native lane used)."""
    with api.open_session(elf, board=kit_board(kit, b)) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        base = b.window + 0x40000
        s.erase(base, len(data))
        s.driver.begin("program")
        step = s.driver.max_write
        t0, v0 = time.perf_counter(), vb.machine.clock.now_fs
        for offset in range(0, len(data), step):
            s.driver.write(base + offset, data[offset:offset + step])
        host, virtual = time.perf_counter() - t0, vb.machine.clock.now_fs - v0
        chip = vb.chips[1]
        if bytes(chip.memory[0x40000:0x40000 + len(data)]) != data:
            raise SystemExit("program FAILED")
        return host, virtual, vb.qspi.native is not None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kit", default="h735-w25q128")
    ap.add_argument("--kib", type=int, default=256)
    args = ap.parse_args()
    data = random.Random(5).randbytes(args.kib * 1024)
    pages = len(data) // 256
    with tempfile.TemporaryDirectory() as tmp:
        elf, b = build(args.kit, Path(tmp))
        rows = []
        for label, env in (("lane off (Python)", "0"), ("lane on (native)", "1")):
            os.environ["EXTFLASH_NATIVE"] = env
            host, virtual, native = run(elf, b, args.kit, data)
            rows.append((label, host, virtual, native))
    print(f"{args.kit} ({b.controller}), HAL-style loader, {pages} pages of 256 bytes")
    print(f"{'path':<20} {'host s':>8} {'host us/page':>13} {'virtual ms':>11}")
    for label, host, virtual, _native in rows:
        print(f"{label:<20} {host:>8.3f} {host / pages * 1e6:>13.0f} {virtual / 1e12:>11.3f}")
    if rows[0][2] != rows[1][2]:
        raise SystemExit("the two paths disagree on virtual time")


if __name__ == "__main__":
    main()
