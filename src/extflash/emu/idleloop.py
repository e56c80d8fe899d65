"""Loops that wait on memory only an interrupt changes, skipped to the next event.

``HAL_Delay`` waits for the SysTick handler to move a counter in RAM: ``bl HAL_GetTick`` (``ldr``
the counter's address, ``ldr`` the counter, ``bx lr``), ``subs``, ``cmp``, ``bcc``. No register
of a peripheral is read, so the machine's polling fast-forward (which watches peripheral reads)
never sees it, and the core runs the loop instruction by instruction up to the next tick: the
400,000 instructions of a HAL-style loader's ``Init`` are mostly such waits.

A loop is skipped when a turn of it provably changes nothing. The machine runs the core one
instruction at a time for two turns; every instruction must write only core registers (data
processing, compare, branch, or a single-register load from RAM, ROM or internal flash: no store,
no peripheral, no exception return, no IT block), and the second turn must take the first one's
path and leave every core register (R0-R12, SP, LR, xPSR) as the first left it (the first may
differ: the exception returned into a turn that had read the counter before the handler moved
it). Memory is unchanged too (nothing stored), so every further turn is that same turn until an
event: an interrupt, or anything else the clock fires (a DMA could write the counter). The
machine counts the whole turns that end before the next event (or the run's deadline, or the
watcher's checkpoint) and lets their cycles pass at once; the core runs the last partial turn
itself, so the event falls on the same instruction, at the same cycle, as without the skip
(tests/emu/test_idle_loops.py compares both runs register for register, with the C tick loop
and with the Python run loop).

When it looks: right after an exception return into thread mode (native/ticks_fast.c stops the
core there too), unless the return address is known to lead to busy code (:attr:`IdleLoops.
verdicts`: two looks there without an idle turn); when the core enters a loop found idle before
anew (a block hook on the loop's head, the target of its closing branch: HAL_Delay called again),
once per exception return, per event, and after a look at a wait that ended; never when the next
event is nearer than ``machine.MIN_LOOK`` cycles (running them costs less than the look). A head
is watched once a turn there was found idle, or once a look's path left a loop by its closing
branch (a wait for a single tick ends at that tick, so no look after a return ever sees it idle).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

import unicorn
from unicorn import arm_const as A

from extflash.emu import thumbsem
from extflash.emu.cortexm import RegisterBatch
from extflash.emu.thumb import Insn, decode
from extflash.emu.thumbsem import AL, EXC_RETURN_MIN, IT_BITS

# a turn longer than this is not looked for (HAL_Delay's is 7 instructions)
MAX_TURN = 24
# looks without an idle turn before a return address counts as busy (one of them may be the
# turn after which the wait ends)
STRIKES = 2
MAX_HEADS = 16
SLOTS, SLOT_SHIFT = 1024, 22  # address tables C reads: 2 ** (32 - SLOT_SHIFT) slots (PcTable)

# core registers compared between turns, in this order (loads and branches read them by index)
TURN_REGISTERS = (*(getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)), A.UC_ARM_REG_SP,
                  A.UC_ARM_REG_LR, A.UC_ARM_REG_PC, A.UC_ARM_REG_XPSR)
PC_INDEX, XPSR_INDEX = 15, 16


class PcTable:
    """A set of code addresses that C code reads (native/ticks_fast.c): one slot per address.
    A later address may take an earlier one's slot; C then asks Python about the earlier one
    again. The slot is a multiplicative hash of the address: taken from its low bits, a HAL
    data loop and memset 2 KiB apart took each other's slot at every look."""

    def __init__(self) -> None:
        self.slots = (ctypes.c_uint32 * SLOTS)()
        self.address = ctypes.addressof(self.slots)

    @staticmethod
    def slot(pc: int) -> int:  # as in_table() in native/ticks_fast.c
        return (((pc >> 1) * 2654435761) & 0xFFFFFFFF) >> SLOT_SHIFT

    def __contains__(self, pc: int) -> bool:
        return self.slots[self.slot(pc)] == (pc & ~1) | 1

    def add(self, pc: int) -> None:
        self.slots[self.slot(pc)] = (pc & ~1) | 1


class IdleLoops:
    """What the machine learnt of the loops it returned into, and the skip itself.

    ``readable(address, size)`` says whether a load there reads plain memory (RAM, internal
    flash: no peripheral model behind it)."""

    def __init__(self, uc: unicorn.Uc, readable: Callable[[int, int], bool]) -> None:
        self._registers = RegisterBatch(uc, TURN_REGISTERS)
        self.verdicts = PcTable()  # return addresses known to lead to busy code
        self._readable = readable
        self._decoded: dict[tuple[int, bytes], Insn | None] = {}
        self._on_turns: set[int] = set()  # addresses on a turn found idle once: never busy
        self._jumps: set[int] = set()  # addresses of B, CBZ, CBNZ decoded so far
        self._strikes: dict[int, int] = {}  # looks that found no idle turn, per return address
        self.skipped_cycles = 0  # for tests and benchmarks
        # Loop heads (the target of a turn's closing branch) of the turns found idle: the
        # machine stops the core there, once, when it enters such a loop anew (HAL_Delay called
        # again). ``armed``: set at each exception return and after a look there that found no
        # idle turn (the wait ended: the next one starts afresh); any look clears it
        # (native/ticks_fast.c sets it on its returns too).
        self.heads: list[int] = []
        self.armed = ctypes.c_uint32(1)
        self.armed_address = ctypes.addressof(self.armed)
        self.on_head: Callable[[int], None] | None = None
        # heads watched because a look's path left their loop (_left_loop), each tried once
        # (MAX_HEADS of them): on trial while watched and not yet on an idle turn; the first
        # look there that finds no idle turn stops the watch (off_head)
        self._tried: set[int] = set()
        self.off_head: Callable[[int], None] | None = None

    def wants(self, pc: int) -> bool:
        """Is a return to ``pc`` worth a look (not known to lead to busy code)?"""
        return pc not in self.verdicts

    def _busy(self, pc: int) -> None:
        if pc not in self._on_turns:
            self.verdicts.add(pc)
            if self.on_trial(pc):
                self._unwatch(pc)

    def on_trial(self, head: int) -> bool:
        """Is ``head`` watched on trial (its loop left by a look, not yet seen idle)?"""
        return head in self._tried and head in self.heads and head not in self._on_turns

    def probe(self, machine: Any, avail: int, stop_at: int) -> tuple[int, int]:
        """Run the core from where it stands, one instruction at a time, for at most two turns
        of a loop (and fewer than ``avail`` instructions: the next event is that far); returns
        (instructions run, idle turn length or 0). The caller lets their cycles pass.

        Two turns: the first may still differ (the exception returned into the middle of a turn
        that had loaded the counter before the handler moved it); the second must repeat the
        first's path and leave every core register as the first left it."""
        batch = self._registers
        regs = batch.read()
        start = regs[PC_INDEX] & ~1
        pc = start
        path: list[int] = []
        turn_end: list[int] | None = None
        limit = min(2 * MAX_TURN, avail - 1)
        while len(path) < limit:
            if regs[XPSR_INDEX] & IT_BITS:
                break  # inside an IT block: not stepped one by one
            code = machine.code_at(pc)
            insn = self._insn(pc, code) if code is not None else None
            if insn is None or pc == stop_at or not self._safe(insn, pc, regs):
                break
            if not machine.step_one(pc):
                break
            path.append(pc)
            regs = batch.read()
            pc = regs[PC_INDEX] & ~1
            if pc != start:
                continue
            if turn_end is None:
                turn_end = regs
                turn = len(path)
                limit = min(limit, 2 * turn)
                continue
            if regs == turn_end and path[:turn] == path[turn:]:
                self._found(path[:turn])
                self._strikes.pop(start, None)
                return len(path), turn
            break
        if self.on_trial(start):
            self._unwatch(start)
        if start not in self._on_turns:
            strikes = self._strikes[start] = self._strikes.get(start, 0) + 1
            if strikes >= STRIKES:
                self._busy(start)
        self._left_loop(machine, path)
        return len(path), 0

    def _found(self, turn: list[int]) -> None:
        """An idle turn: its addresses are never busy; its head is watched from now on."""
        self._on_turns.update(turn)
        for i, pc in enumerate(turn):
            before = turn[i - 1]
            if pc < before and before in self._jumps:  # the closing branch's target
                self._watch(pc)
                return

    def _left_loop(self, machine: Any, path: list[int]) -> None:
        """A look whose path left a loop: the first conditional branch back that the path
        passed without taking closes the loop the core was in, and its target (the loop's head)
        is watched, so that the next wait there is looked at when it starts.

        A wait for one tick (``while (HAL_GetTick() - start < 1)``) always ends at the first
        tick, so the look after that tick's return finds the loop left, never an idle turn, and
        each such wait would otherwise run instruction by instruction up to its tick: 200,000
        instructions in every ``Init`` of a loader at 200 MHz. Whether the loop is idle is the
        look at its head's business (two turns, as after a return); a head that leads to busy
        code (a loop polling a peripheral) is no longer watched after its first look."""
        for i, pc in enumerate(path[:-1]):
            if pc not in self._jumps:
                continue
            code = machine.code_at(pc)
            op = thumbsem.decode(code, pc) if code is not None else None
            if (op is not None and op.kind == "b" and op.cond != AL  # (CBZ only goes forward)
                    and op.target <= pc and path[i + 1] != op.target
                    and pc - op.target <= 4 * MAX_TURN):
                if (op.target not in self._tried and op.target not in self.heads
                        and self.wants(op.target) and len(self._tried) < MAX_HEADS):
                    self._tried.add(op.target)
                    self._watch(op.target)
                return

    def _watch(self, head: int) -> None:
        if head not in self.heads and len(self.heads) < MAX_HEADS and self.on_head is not None:
            self.heads.append(head)
            self.on_head(head)

    def _unwatch(self, head: int) -> None:
        self.heads.remove(head)
        if self.off_head is not None:
            self.off_head(head)

    def skip(self, turn: int, avail: int) -> int:
        """Cycles of whole turns that pass before ``avail`` runs out (at least one left for the
        core: it reaches the event itself)."""
        cycles = (avail - 1) // turn * turn
        self.skipped_cycles += cycles
        return cycles

    # -- one instruction ------------------------------------------------------------------------
    def _safe(self, insn: Insn, pc: int, regs: list[int]) -> bool:
        """May this instruction run in a probe: its load reads plain memory, its branch target
        is Thumb code and no exception return."""
        if insn.target >= 0:
            target = regs[insn.target]
            return bool(target & 1) and target < EXC_RETURN_MIN
        load = insn.load
        if load is None:
            return True
        if load.base < 0:
            address = ((pc + 4) & ~3) + load.disp
        else:
            address = regs[load.base] + load.disp
            if load.index >= 0:
                address += regs[load.index] << load.shift
        return self._readable(address & 0xFFFFFFFF, load.width)

    def _insn(self, pc: int, code: bytes) -> Insn | None:
        key = (pc, code)
        if key not in self._decoded:
            insn = self._decoded[key] = decode(code)
            if insn is not None and insn.jump:
                self._jumps.add(pc)
        return self._decoded[key]
