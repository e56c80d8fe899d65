"""The one protocol every backend implements: the virtual board, pyOCD, and later GDB.

The runner and the programmer only ever talk to a :class:`Target`, so a loader is driven the same
way whether the core is emulated or real. A target offers memory and core-register access, a way
to run from an address until the core reaches a return breakpoint (or a timeout), halt and reset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from extflash.mcu import PartRef

CORE_REGISTERS = (
    "r0",
    "r1",
    "r2",
    "r3",
    "r4",
    "r5",
    "r6",
    "r7",
    "r8",
    "r9",
    "r10",
    "r11",
    "r12",
    "sp",
    "lr",
    "pc",
    "xpsr",
    "msp",
    "psp",
    "primask",
    "control",
)


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended.

    ``reason`` is ``"returned"`` (the core reached ``stop_at``), ``"timeout"``, ``"fault"``,
    ``"lockup"`` or ``"breakpoint"`` (a BKPT other than the return one). ``elapsed_s`` is virtual
    time on the virtual board and wall-clock time on hardware. ``registers`` holds the core
    registers at the stop; ``detail`` carries backend-specific evidence (fault status decoded,
    the instruction, the polling loop a hung call spins in) for diagnostics.
    """

    reason: str
    pc: int
    elapsed_s: float
    registers: Mapping[str, int] = field(default_factory=dict)
    detail: Any = None
    summary: str = ""

    @property
    def returned(self) -> bool:
        return self.reason == "returned"


@runtime_checkable
class Target(Protocol):
    """A halted Cortex-M core with memory, as a debugger sees it."""

    part: PartRef

    @property
    def description(self) -> str:
        """One line naming the target: ``virtual STM32H743 (board ...)``, ``ST-LINK 0669...``."""
        ...

    def read_memory(self, address: int, size: int) -> bytes: ...

    def write_memory(self, address: int, data: bytes) -> None: ...

    def read_registers(self, names: tuple[str, ...] = CORE_REGISTERS) -> dict[str, int]: ...

    def write_registers(self, values: Mapping[str, int]) -> None: ...

    def run(self, pc: int, *, stop_at: int, timeout_s: float) -> RunOutcome:
        """Resume at ``pc`` (Thumb) and wait until the core halts at ``stop_at`` or times out.

        On a timeout or an unexpected halt the core is left halted.
        """
        ...

    def halt(self) -> None: ...

    def reset(self, *, halt: bool = True) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncTarget(Protocol):
    """A target that can run a call in the background: ``start`` it, write memory while the
    core runs (the next data chunk), then ``wait`` for the halt. Used for double buffering."""

    def start(self, pc: int, *, stop_at: int) -> None: ...

    def wait(self, timeout_s: float) -> RunOutcome: ...

    def write_memory(self, address: int, data: bytes) -> None: ...
