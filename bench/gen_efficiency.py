"""How close generated loaders come to the chip's physical limit.

For each board: build the generator's loader, program 1 MiB (erase + write, no verify) on the
virtual board with datasheet-typical chip timing, and compare the virtual time the loader calls
took with the chip's own minimum for the same work: one 64 KiB block erase per block plus one
page program per page, at the datasheet's typical times. Prints a table.

    .venv/bin/python bench/gen_efficiency.py [--mib 1]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from extflash import api, board, chips, gen
from extflash.image import Chunk, from_chunks

BOARDS = [
    "weact-h743",
    "nucleo-h743zi-w25q128",
    "stm32f746g-disco",
    "stm32f769i-disco",
    "stm32l476g-disco",
    "b-l475e-iot01a",
    "stm32h743i-eval",
    "stm32h747i-disco",
]


def physical_minimum(spec: chips.ChipSpec, size: int, chips_in_parallel: int) -> float:
    """Seconds the chip(s) need to erase and program ``size`` bytes (typical times)."""
    per_chip = size // chips_in_parallel
    block = next(e for e in spec.erases if e.size == 0x10000)
    erase_s = (per_chip // block.size) * block.typ_ms / 1e3
    program_s = (per_chip // spec.page_size) * spec.timing.page_program_us[0] / 1e6
    return erase_s + program_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1)
    args = parser.parse_args()
    size = args.mib << 20
    data = random.Random(1).randbytes(size)
    print(f"generated loaders: program {args.mib} MiB (erase + write), typical chip timing")
    print(f"{'board':<24} {'chip':<12} {'loader B':>9} {'virtual s':>10} {'chip min s':>11} "
          f"{'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in BOARDS:
            brd = board.load(name)
            mem = brd.memories[0]
            built = gen.build(gen.plan_loader(brd), Path(tmp) / name)
            with api.open_session(built.stldr, board=brd) as s:
                base = s.geometry.start
                report = s.program(from_chunks([Chunk(base, data, "bench")]), verify=False).report
            parallel = 2 if mem.bank == "dual" else 1
            minimum = physical_minimum(chips.find(mem.chip), size, parallel)
            ratio = report.target_time_s / minimum
            loader_bytes = built.size.code + built.size.data
            print(f"{name:<24} {mem.chip + ('x2' if parallel == 2 else ''):<12} "
                  f"{loader_bytes:>9} {report.target_time_s:>10.3f} {minimum:>11.3f} "
                  f"{ratio:>6.2f}")


if __name__ == "__main__":
    main()
