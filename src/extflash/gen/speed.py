"""How close a loader comes to the chip's own limit: program a block on the virtual board with
datasheet-typical chip timing and compare the virtual time the loader calls took with the chip's
minimum for the same work (one 64 KiB block erase per block and one page program per page, at
the datasheet's typical times). Used by ``extflash new`` and ``bench/gen_efficiency.py``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from extflash import board as boards
from extflash import chips

WRITE_CALLS = ("Write", "ProgramPage")  # .stldr and FLM names of the page-programming call


@dataclass(frozen=True)
class Speed:
    """A generated loader's measured speed against the chip's own minimum."""

    size: int  # bytes programmed (erase + write, no verify)
    virtual_s: float  # the loader calls, in virtual time
    chip_min_s: float  # the chip's typical erase + page-program time for the same bytes
    write_s: float  # the Write calls alone
    page_program_s: float  # the chip's typical page-program time for the same pages

    @property
    def ratio(self) -> float:
        return self.virtual_s / self.chip_min_s

    @property
    def write_ratio(self) -> float:
        return self.write_s / self.page_program_s

    def describe(self) -> str:
        return (f"{self.size >> 10} KiB erased and written in {self.virtual_s * 1e3:.1f} ms "
                f"virtual time, {self.ratio:.2f}x the chip's datasheet minimum (Write "
                f"{self.write_ratio:.2f}x its page-program time)")


def chip_minimum(spec: chips.ChipSpec, size: int, parallel: int) -> tuple[float, float]:
    """(erase + program, program) seconds the chip(s) need for ``size`` bytes, typical times."""
    per_chip = size // parallel
    block = next((e for e in spec.erases if e.size == 0x10000), max(spec.erases,
                                                                     key=lambda e: e.size))
    erase_s = -(-per_chip // block.size) * block.typ_ms / 1e3
    program_s = (per_chip // spec.page_size) * spec.timing.page_program_us[0] / 1e6
    return erase_s + program_s, program_s


def measure(loader: Path | str, board: boards.Board, size: int = 0x10000,
            seed: int = 1) -> Speed:
    """Program ``size`` random bytes at the window base through ``loader`` on a fresh virtual
    ``board`` (typical chip timing) and time it."""
    from extflash import api
    from extflash.image import Chunk, from_chunks

    data = random.Random(seed).randbytes(size)
    with api.open_session(loader, board=board, timing="typical") as s:
        before = len(s.driver.calls)
        report = s.program(from_chunks([Chunk(s.geometry.start, data, "speed")]),
                           verify=False).report
        write_s = sum(c.elapsed_s for c in s.driver.calls[before:] if c.function in WRITE_CALLS)
        memory = board.memory_at(s.geometry.start)
    total, program = chip_minimum(chips.find(memory.chip), size, len(memory.banks))
    return Speed(size, report.target_time_s, total, write_s, program)
