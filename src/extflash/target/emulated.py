"""The virtual board as a :class:`~extflash.target.base.Target`.

Time here is virtual: a call's ``elapsed_s`` and its timeout are measured on the board's
deterministic clock, not the host's. Reads of memory cost nothing on this backend, so the
programmer may compare and verify through the memory-mapped window instead of on-target code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extflash.emu.clock import FS_PER_S
from extflash.target.base import CORE_REGISTERS, RunOutcome

RESULT_REGISTERS = ("r0", "r1", "sp", "lr", "pc", "xpsr")


class EmulatedTarget:
    """Drives a :class:`~extflash.emu.virtual_board.VirtualBoard`'s core like a debugger."""

    cheap_reads = True

    def __init__(self, board: Any) -> None:
        self.board = board
        self.machine = board.machine
        self.part = self.machine.part

    @property
    def description(self) -> str:
        return f"virtual {self.part.part.name} ({self.board.board.name})"

    def read_memory(self, address: int, size: int) -> bytes:
        return bytes(self.machine.mem_read(address, size))

    def write_memory(self, address: int, data: bytes) -> None:
        self.machine.mem_write(address, bytes(data))

    def read_registers(self, names: tuple[str, ...] = CORE_REGISTERS) -> dict[str, int]:
        return self.machine.reg_read_many(names)

    def write_registers(self, values: Mapping[str, int]) -> None:
        self.machine.reg_write_many(values)

    def run(self, pc: int, *, stop_at: int, timeout_s: float) -> RunOutcome:
        result = self.machine.run(pc, stop_at=stop_at, timeout_fs=int(timeout_s * FS_PER_S))
        self.board.check_flash_clock()
        registers = self.read_registers(RESULT_REGISTERS)
        return RunOutcome(
            reason=result.reason,
            pc=registers["pc"],
            elapsed_s=result.time_fs / FS_PER_S,
            registers=registers,
            detail=result,
            summary=str(result.fault or result.spin or ""),
        )

    def halt(self) -> None:
        """The virtual core only runs inside :meth:`run`; it is always halted here."""

    def reset(self, *, halt: bool = True) -> None:
        self.machine.reset()

    def close(self) -> None:
        self.board.close()
