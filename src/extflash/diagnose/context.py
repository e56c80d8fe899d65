"""What an explanation may look at: the virtual board, the loader's symbols, the call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from extflash.diagnose.evidence import CallEvidence
from extflash.diagnose.symbols import Symbolizer
from extflash.emu.machine import Machine
from extflash.runner import RamLayout


@dataclass
class Context:
    """What a diagnosis rule sees of a failed call: board, symbols, evidence."""

    board: Any  # extflash.emu.virtual_board.VirtualBoard
    symbols: Symbolizer
    call: CallEvidence
    stop_at: int
    layout: RamLayout | None = None
    constants: tuple[tuple[int, int], ...] = ()  # code and read-only data of the loader

    @property
    def machine(self) -> Machine:
        machine: Machine = self.board.machine
        return machine

    @property
    def function(self) -> str:
        return self.call.function

    def where(self, address: int) -> str:
        """``0x24000242 (clock_init+0x2E)``."""
        return self.symbols.describe(address)

    def in_function(self, address: int) -> str:
        """``in clock_init`` / ``at 0x24000242`` for prose."""
        name = self.symbols.function_at(address)
        return f"in {name}" if name else f"at 0x{address:08X}"
