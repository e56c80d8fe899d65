"""Helpers shared by the probe tests (imported by name: pytest puts this directory on the path)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile

from extflash import mcu
from extflash.emu.machine import Machine
from extflash.probe import VirtualSystem

FAST_RESET = {"reset.hold_time": 0.0, "reset.post_delay": 0.0}


def machine_system(part: str, **kwargs) -> VirtualSystem:
    """A virtual system on a bare machine (no board, no external flash)."""
    return VirtualSystem(Machine(mcu.find_part(part)), **kwargs)


@dataclass
class Firmware:
    path: Path
    segments: list[tuple[int, bytes]]
    symbols: dict[str, int]

    @classmethod
    def read(cls, path: Path) -> Firmware:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            segments = [(s["p_paddr"], s.data()) for s in elf.iter_segments()
                        if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
            symtab = elf.get_section_by_name(".symtab")
            symbols = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name}
        return cls(path, segments, symbols)

    def __getitem__(self, name: str) -> int:
        return self.symbols[name]
