"""Emulator speed: program-and-verify through the virtual QUADSPI, word-wise and byte-wise.

Builds tests/firmware/qspi/qspi_fw.c, runs it on the NUCLEO-H743ZI+W25Q128JV virtual board with
instant flash timing, programs N MiB in 64 KiB chunks (one call per chunk, as CubeProgrammer
does), then verifies by reading the memory-mapped window (zero-copy). Prints a table.

    .venv/bin/python bench/emu_speed.py [--mib 4]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from elftools.elf.elffile import ELFFile

from extflash import board
from extflash.emu.native import quadspi_fast
from extflash.emu.virtual_board import VirtualBoard
from extflash.toolchain import find_toolchain

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "tests" / "firmware"
sys.path[:0] = [str(ROOT / "tests" / "emu"), str(ROOT / "tests")]
from test_virtual_board import SRC, Rig, config  # noqa: E402

CHUNK = 64 * 1024


def build(out: Path) -> tuple[list[tuple[int, bytes]], dict[str, int]]:
    elf = out / "qspi_fw.elf"
    flags = ["-mcpu=cortex-m7", "-mthumb", "-O2", "-nostdlib", "-nostartfiles",
             "-ffunction-sections"]
    find_toolchain().build([FW / "qspi" / "qspi_fw.c"], elf, linker_script=FW / "qspi" / "h7.ld",
                           cflags=flags, ldflags=["-lgcc"], include_dirs=[FW / "include"],
                           what="qspi_fw")
    with elf.open("rb") as fh:
        e = ELFFile(fh)
        segs = [(s["p_paddr"], s.data()) for s in e.iter_segments()
                if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
        syms = {s.name: s["st_value"] for s in e.get_section_by_name(".symtab").iter_symbols()}
    return segs, syms


def run(func: str, mib: int, segs, syms) -> tuple[float, float]:
    b = board.load("nucleo-h743zi-w25q128")
    vb = VirtualBoard(b, timing="instant")
    for addr, data in segs:
        vb.machine.mem_write(addr, data)
    rig = Rig(vb, syms, b.part.family.loader_ram_base)
    cfg = config(rig)
    rig.call("qspi_init", cfg)
    image = random.Random(1).randbytes(mib << 20)
    t0 = time.perf_counter()
    for off in range(0, len(image), CHUNK):
        vb.machine.mem_write(rig.ram + SRC + 0x4000, image[off:off + CHUNK])
        rig.call(func, cfg, off, rig.ram + SRC + 0x4000, CHUNK, timeout_s=60)
    t1 = time.perf_counter()
    rig.call("qspi_mapped", cfg)
    ok = vb.machine.mem_read(0x90000000, len(image)) == image
    t2 = time.perf_counter()
    if not ok:
        raise SystemExit(f"{func}: verify FAILED")
    return t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        segs, syms = build(Path(tmp))
    rows = []
    for label, func in (("word-wise DR (32-bit)", "qspi_program"),
                        ("byte-wise DR (HAL-style)", "qspi_program_bytes")):
        prog, verify = run(func, args.mib, segs, syms)
        rows.append((label, prog, verify, args.mib / (prog + verify)))
    path = "native" if quadspi_fast.load() is not None else "pure-Python"
    print(f"program + verify {args.mib} MiB through the virtual QUADSPI ({path} register path; "
          f"bench/run.py has the full table)")
    print(f"{'loader':<26} {'program s':>10} {'verify s':>9} {'MiB/s':>7}")
    for label, prog, verify, rate in rows:
        print(f"{label:<26} {prog:>10.2f} {verify:>9.3f} {rate:>7.2f}")


if __name__ == "__main__":
    main()
