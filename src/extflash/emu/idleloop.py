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
event is nearer than ``machine.MIN_LOOK`` cycles (running them costs less than the look).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import unicorn
from unicorn import arm_const as A

from extflash.emu.cortexm import RegisterBatch

# a turn longer than this is not looked for (HAL_Delay's is 7 instructions)
MAX_TURN = 24
# looks without an idle turn before a return address counts as busy (one of them may be the
# turn after which the wait ends)
STRIKES = 2
MAX_HEADS = 16
SLOTS = 1024  # the verdict table: one slot per return address (hashed on bits 1..10)

# core registers compared between turns, in this order (loads and branches read them by index)
TURN_REGISTERS = (*(getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)), A.UC_ARM_REG_SP,
                  A.UC_ARM_REG_LR, A.UC_ARM_REG_PC, A.UC_ARM_REG_XPSR)
PC_INDEX, XPSR_INDEX = 15, 16
IT_BITS = 0x0600FC00  # xPSR.ICI/IT
EXC_RETURN_MIN = 0xF0000000

_LOAD_WIDTH = {"LDR": 4, "LDRB": 1, "LDRSB": 1, "LDRH": 2, "LDRSH": 2}
_DATA = ("MOV", "MOVW", "MOVT", "MVN", "ADD", "ADDW", "ADC", "SUB", "SUBW", "SBC", "RSB", "MUL",
         "MLA", "MLS", "AND", "ORR", "ORN", "EOR", "BIC", "LSL", "LSR", "ASR", "ROR", "CMP",
         "CMN", "TST", "TEQ", "UXTB", "UXTH", "SXTB", "SXTH", "UBFX", "SBFX", "BFI", "BFC", "CLZ",
         "REV", "REV16", "UDIV", "SDIV", "UMULL", "SMULL", "NOP")
_DIRECT = ("B", "BL", "CBZ", "CBNZ")
_INDIRECT = ("BX", "BLX")


@dataclass(frozen=True)
class _Load:
    base: int  # register index, or -1: the PC (literal pool)
    index: int  # register index, or -1: none
    shift: int
    disp: int
    post: bool  # post-indexed: the address is the base register alone
    width: int


@dataclass(frozen=True)
class _Insn:
    size: int
    load: _Load | None = None
    target: int = -1  # BX/BLX: the register holding the branch target
    jump: bool = False  # B, CBZ, CBNZ: a loop's closing branch is one


class IdleLoops:
    """What the machine learnt of the loops it returned into, and the skip itself.

    ``readable(address, size)`` says whether a load there reads plain memory (RAM, internal
    flash: no peripheral model behind it)."""

    def __init__(self, uc: unicorn.Uc, readable: Callable[[int, int], bool]) -> None:
        self._registers = RegisterBatch(uc, TURN_REGISTERS)
        self.verdicts = (ctypes.c_uint32 * SLOTS)()
        self.verdicts_address = ctypes.addressof(self.verdicts)
        self._readable = readable
        self._decoded: dict[tuple[int, bytes], _Insn | None] = {}
        self._on_turns: set[int] = set()  # addresses on a turn found idle once: never busy
        self._jumps: set[int] = set()  # addresses of B, CBZ, CBNZ decoded so far
        self._strikes: dict[int, int] = {}  # looks that found no idle turn, per return address
        self._cs: Any = None
        self._ids: dict[int, str] = {}
        self._regs: dict[int, int] = {}
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

    def wants(self, pc: int) -> bool:
        """Is a return to ``pc`` worth a look (not known to lead to busy code)?"""
        return self.verdicts[(pc >> 1) % SLOTS] != (pc & ~1) | 1

    def _busy(self, pc: int) -> None:
        if pc not in self._on_turns:
            self.verdicts[(pc >> 1) % SLOTS] = pc | 1

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
        if start not in self._on_turns:
            strikes = self._strikes[start] = self._strikes.get(start, 0) + 1
            if strikes >= STRIKES:
                self._busy(start)
        return len(path), 0

    def _found(self, turn: list[int]) -> None:
        """An idle turn: its addresses are never busy; its head is watched from now on."""
        self._on_turns.update(turn)
        for i, pc in enumerate(turn):
            before = turn[i - 1]
            if pc < before and before in self._jumps:  # the closing branch's target
                if (pc not in self.heads and len(self.heads) < MAX_HEADS
                        and self.on_head is not None):
                    self.heads.append(pc)
                    self.on_head(pc)
                return

    def skip(self, turn: int, avail: int) -> int:
        """Cycles of whole turns that pass before ``avail`` runs out (at least one left for the
        core: it reaches the event itself)."""
        cycles = (avail - 1) // turn * turn
        self.skipped_cycles += cycles
        return cycles

    # -- one instruction ------------------------------------------------------------------------
    def _safe(self, insn: _Insn, pc: int, regs: list[int]) -> bool:
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
            address = regs[load.base]
            if not load.post:
                if load.index >= 0:
                    address += regs[load.index] << load.shift
                address += load.disp
        return self._readable(address & 0xFFFFFFFF, load.width)

    def _insn(self, pc: int, code: bytes) -> _Insn | None:
        key = (pc, code)
        if key not in self._decoded:
            insn = self._decoded[key] = self._decode(pc, code)
            if insn is not None and insn.jump:
                self._jumps.add(pc)
        return self._decoded[key]

    def _decode(self, pc: int, code: bytes) -> _Insn | None:
        """The instruction at ``pc`` if it may run in a probe (writes core registers only)."""
        if self._cs is None:
            self._setup()
        insn = next(self._cs.disasm(code, pc, 1), None)
        if insn is None:
            return None
        name = self._ids.get(insn.id)
        from capstone import arm

        written = insn.regs_access()[1]
        if name in _DATA or name in _DIRECT:
            if arm.ARM_REG_PC in written and name not in _DIRECT:
                return None
            return _Insn(insn.size, jump=name in ("B", "CBZ", "CBNZ"))
        ops = insn.operands
        if name in _INDIRECT and len(ops) == 1 and ops[0].type == arm.ARM_OP_REG:
            target = self._regs.get(ops[0].reg, -1)
            return _Insn(insn.size, target=target) if 0 <= target < PC_INDEX else None
        width = _LOAD_WIDTH.get(name or "")
        if width is None or len(ops) < 2 or ops[0].type != arm.ARM_OP_REG:
            return None
        if self._regs.get(ops[0].reg, -1) not in range(PC_INDEX):
            return None  # a load into the PC is a branch this does not follow
        mem = ops[1]
        if mem.type != arm.ARM_OP_MEM or mem.subtracted:
            return None
        base = -1 if mem.mem.base == arm.ARM_REG_PC else self._regs.get(mem.mem.base, -2)
        index = self._regs.get(mem.mem.index, -2) if mem.mem.index else -1
        if base == -2 or index == -2 or index == PC_INDEX:
            return None
        post = len(ops) > 2  # [Rn], #imm: the offset is applied after the access
        if base < 0 and (post or insn.writeback or index >= 0):
            return None
        return _Insn(insn.size, load=_Load(base, index, mem.mem.lshift, mem.mem.disp, post,
                                           width))

    def _setup(self) -> None:
        import capstone
        from capstone import arm

        self._cs = capstone.Cs(capstone.CS_ARCH_ARM,
                               capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
        self._cs.detail = True
        wanted = {*_DATA, *_DIRECT, *_INDIRECT, *_LOAD_WIDTH}
        self._ids = {getattr(arm, f"ARM_INS_{n}"): n for n in wanted
                     if hasattr(arm, f"ARM_INS_{n}")}
        names = [f"R{i}" for i in range(13)] + ["SP", "LR", "PC"]
        self._regs = {getattr(arm, f"ARM_REG_{n}"): i for i, n in enumerate(names)}
