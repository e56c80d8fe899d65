"""What the virtual board saw during one loader call: the flash commands and what the chip made
of each, wiring problems, unmodelled accesses, stack use, stray writes and the memory-mapped
window afterwards."""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from extflash.emu.machine import FaultInfo, UnmodelledAccess
from extflash.emu.periph.engine import WiringEvent
from extflash.emu.periph.frontstate import FMODE_MAPPED, FMODE_POLL, FMODES
from extflash.emu.spi import SpiCommand

__all__ = ["FMODES", "CallEvidence", "FlashCommand", "FlashLog", "WindowState", "window_state"]
# Arguments each entry point takes (stldr-abi.md 3 and 4.3), for printing calls.
ARITY = {
    "stldr": {"Init": 1, "DeInit": 0, "Write": 3, "Read": 3, "SectorErase": 2, "MassErase": 1,
              "Verify": 4, "CheckSum": 3},
    "flm": {"Init": 3, "UnInit": 1, "EraseSector": 1, "EraseChip": 0, "ProgramPage": 3,
            "Verify": 3, "BlankCheck": 3},
}
MAX_COMMANDS = 4096
# Rejected commands are kept beyond MAX_COMMANDS (up to this many): a loader that polls for a
# status bit thousands of times after the chip ignored its WRITE ENABLE must not lose the one
# command that explains it.
MAX_REJECTED = 256


@dataclass
class FlashCommand:
    """One chip-select cycle the controller drove, and what the chip did with it."""

    seq: int
    time_fs: int
    pc: int
    bank: int
    command: SpiCommand
    outcome: str = "pending"  # "ok" | "rejected" | "not received"
    reason: str = ""
    polling: bool = False  # a status read of the controller's automatic polling
    mode: str = ""  # the controller's functional mode (FMODES) when it sent the command
    # The chip operation the command started (program/erase/write-status): kind, the address
    # range and when the chip's busy time ends; empty when it started none.
    busy: dict[str, Any] = field(default_factory=dict)

    @property
    def opcode(self) -> int | None:
        return self.command.instruction

    def describe(self) -> str:
        text = self.command.describe()
        if self.outcome == "rejected":
            text += f" -> rejected: {self.reason}"
        elif self.outcome == "not received":
            text += " -> never reached the chip"
        return text

    def as_dict(self) -> dict[str, Any]:
        c = self.command
        return {"time_s": self.time_fs / 1e15, "pc": self.pc, "bank": self.bank,
                "command": c.describe(), "opcode": c.instruction,
                "lines": [c.instruction_lines, c.address_lines, c.data_lines],
                "address": c.address, "address_bytes": c.address_bytes,
                "dummy_cycles": c.dummy_cycles,
                "length": len(c.write_data) or c.read_length,
                "ddr": c.ddr, "dqs": c.dqs, "mode": self.mode, "polling": self.polling,
                "outcome": self.outcome, "reason": self.reason, **self.busy}


class FlashLog:
    """Every command the board's memory controller sends, paired with the chip's verdict.

    The controller reports a command (``CommandEngine.trace``) just before the chip sees it;
    the chip records one :class:`~extflash.emu.flash.nor.FlashEvent` per command it receives.
    A command is resolved when the next one starts (or on demand): a new chip event is its
    verdict, no new event means it never reached the chip (chip select or clock not routed).
    """

    def __init__(self, board: Any) -> None:
        self.board = board
        self.commands: deque[FlashCommand] = deque(maxlen=MAX_COMMANDS)
        self.rejected: deque[FlashCommand] = deque(maxlen=MAX_REJECTED)
        self.seq = 0
        self.work = 0  # commands other than automatic-polling status reads
        self.listeners: list[Callable[[FlashCommand], None]] = []
        self._pending: dict[int, tuple[FlashCommand, object, int]] = {}
        board.qspi.trace = self._on_command

    @classmethod
    def of(cls, board: Any) -> FlashLog:
        """The log of ``board`` (created and attached on first use)."""
        log = _LOGS.get(board)
        if log is None:
            log = _LOGS[board] = cls(board)
        return log

    def _last_event(self, bank: int) -> object:
        chip = self.board.chips.get(bank)
        return chip.events[-1] if chip is not None and chip.events else None

    def _on_command(self, bank: int, cmd: SpiCommand) -> None:
        self._resolve(bank)
        self.seq += 1
        fmode = self.board.qspi.fmode
        polling = fmode == FMODE_POLL
        self.work += not polling
        record = FlashCommand(self.seq, self.board.machine.clock.now_fs,
                              self.board.machine.bus.pc(), bank, cmd, polling=polling,
                              mode=FMODES[fmode])
        self.commands.append(record)
        self._pending[bank] = (record, self._last_event(bank), self._busy_until(bank))

    def _busy(self, bank: int, cmd: SpiCommand, busy_until: int) -> dict[str, Any]:
        """The operation a command started. The chip's own record when it is still busy; once
        it settled (automatic polling reports its command when the match ends), what the command
        says: data is a page program (its range), no data phase an erase (range unknown)."""
        op = getattr(self.board.chips.get(bank), "_op", None)
        out: dict[str, Any] = {"busy_until_s": busy_until / 1e15}
        if op is not None:
            return {**out, "busy_kind": op.kind, "busy_start": op.start, "busy_end": op.end}
        if cmd.write_data and cmd.address is not None:
            return {**out, "busy_kind": "program", "busy_start": cmd.address,
                    "busy_end": cmd.address + len(cmd.write_data)}
        return {**out, "busy_kind": "erase" if cmd.address is not None else "write-status"}

    def _busy_until(self, bank: int) -> int:
        chip = self.board.chips.get(bank)
        return int(getattr(chip, "busy_until", 0) or 0)

    def _resolve(self, bank: int) -> None:
        pending = self._pending.pop(bank, None)
        if pending is None:
            return
        record, marker, busy_before = pending
        last = self._last_event(bank)
        if last is None or last is marker:
            record.outcome = "not received"
        else:
            record.outcome = last.outcome  # type: ignore[attr-defined]
            record.reason = last.reason  # type: ignore[attr-defined]
            if record.outcome == "rejected":
                self.rejected.append(record)
            busy_until = self._busy_until(bank)
            if busy_until > record.time_fs and busy_until != busy_before:
                record.busy = self._busy(bank, record.command, busy_until)
        for listener in self.listeners:
            listener(record)

    def flush(self) -> None:
        for bank in list(self._pending):
            self._resolve(bank)

    def since(self, seq: int) -> list[FlashCommand]:
        """Commands after sequence number ``seq`` (resolved), with the rejected ones that
        already left the bounded log."""
        self.flush()
        first = self.commands[0].seq if self.commands else self.seq + 1
        kept = [c for c in self.rejected if seq < c.seq < first]
        return kept + [c for c in self.commands if c.seq > seq]


_LOGS: weakref.WeakKeyDictionary[Any, FlashLog] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class StrayWrite:
    """A store by the loader outside the memory it may write."""

    pc: int
    address: int
    size: int
    region: str


@dataclass(frozen=True)
class WindowState:
    """The memory-mapped window after a call, as a host reading it over SWD would find it."""

    mapped: bool
    readable: bool
    detail: str  # why it is not readable, or how it is mapped

    def describe(self) -> str:
        if self.readable:
            return "memory-mapped, shows the flash contents"
        if self.mapped:
            return f"memory-mapped but does not show the flash contents: {self.detail}"
        return f"not memory-mapped: {self.detail}"


def window_state(board: Any) -> WindowState:
    """Is the flash readable through the window right now (CubeProgrammer's read-back path)?"""
    q = board.qspi
    if not board.machine.rcc.is_enabled(q.name):
        return WindowState(False, False, f"the {q.name} clock is off")
    st = q.state()
    fmode = st.fields.fmode
    if not st.mapped:
        if not st.enabled:
            return WindowState(False, False, f"{q.name} is disabled (CR.EN=0)")
        if st.fmode == FMODE_MAPPED:
            return WindowState(False, False, f"{fmode} still reads 3 but memory-mapped mode "
                               f"was aborted and never re-entered (only "
                               f"{st.fields.mapped_start} starts it)")
        return WindowState(False, False, f"{q.name} is in {st.mode} mode ({fmode}={st.fmode})")
    if board.window.zero_copy or q.mapped_exact:
        return WindowState(True, True, "")
    cmd = q.mapped_frame
    reasons = []
    for bank, chip in board.chips.items():
        why = chip.read_check(cmd) if cmd is not None else None
        if why:
            reasons.append(why if len(board.chips) == 1 else f"bank {bank}: {why}")
    if not reasons:
        wires = [e.describe() for e in q.wiring_events[-2:]]
        reasons = wires or ["the read command or the wiring does not match the chip"]
    return WindowState(True, False, "; ".join(reasons))


@dataclass
class CallEvidence:
    """Everything recorded about one loader call on the virtual board."""

    function: str
    address: int
    args: tuple[int, ...]
    start_fs: int
    end_fs: int = 0
    reason: str = ""  # "returned", "timeout", "fault", "lockup", "breakpoint"
    r0: int | None = None
    r1: int | None = None
    flash: list[FlashCommand] = field(default_factory=list)
    wiring: list[WiringEvent] = field(default_factory=list)
    unmodelled: list[UnmodelledAccess] = field(default_factory=list)
    stack_used: int | None = None  # bytes below the initial SP that the call wrote
    stack_size: int = 0
    overflow: int = 0  # bytes written below the stack's bottom (into the image)
    stray: list[StrayWrite] = field(default_factory=list)
    buffer_writes: int = 0  # bytes of the host's data buffer the call changed
    window: WindowState | None = None
    chip_busy_s: float = 0.0  # how long the chip stays busy after the call returned
    fault: FaultInfo | None = None  # a fault taken during the call (even one a handler took)
    stuck: Any = None  # the Diagnosis when the watch proved the call can never return

    @property
    def elapsed_s(self) -> float:
        return (self.end_fs - self.start_fs) / 1e15

    def signature(self) -> str:
        return f"{self.function}({', '.join(f'0x{a:X}' for a in self.args)})"

    def rejected(self) -> list[FlashCommand]:
        return [c for c in self.flash if c.outcome == "rejected"]
