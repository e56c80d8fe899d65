"""Finding the loop a hung call spins in, what it reads, and what it waits for.

:func:`probe` runs the stopped core a little further with instruction and memory hooks: which
thread-mode instructions repeat (the loop), which peripheral registers and RAM words the loop
reads and what values it gets, whether it changes memory, and whether its state comes back
exactly the same (a fixed point: without an interrupt nothing can ever change).

:func:`wait_condition` reads the loop's machine code after the load of a polled register and
works out the test: ``lsls r2, r2, #6; bpl loop`` waits for bit 25 to be set, ``and r2, #0x38;
cmp r2, #0x18; bne loop`` for the field to read 0b011.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import capstone
import unicorn
from capstone import arm as carm

from extflash.diagnose import memhooks
from extflash.emu.machine import Machine, RunResult
from extflash.emu.mmio import UnmodelledBlock
from extflash.emu.scs import SystemControlSpace

NO_BIT = -1
MAX_PROBE_RUNS = 40
THREAD_REGS = ("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
               "sp", "lr")


@dataclass(frozen=True)
class Read:
    """What one instruction of the loop keeps reading."""

    pc: int
    address: int
    name: str  # "RCC_CR", "QUADSPI_SR", or the address
    periph: str | None
    offset: int
    size: int
    values: tuple[int, ...]  # distinct values seen, first first

    @property
    def value(self) -> int:
        return self.values[-1]

    @property
    def constant(self) -> bool:
        return len(self.values) == 1


@dataclass(frozen=True)
class LoopProfile:
    """What a loop the core could not leave did: its code, what it read and wrote."""

    pcs: tuple[int, ...]  # thread-mode instructions that ran more than once
    handler_pcs: tuple[int, ...]  # instructions that ran inside exception handlers
    registers: tuple[Read, ...]  # peripheral registers read by the loop
    memory: tuple[Read, ...]  # RAM read by the loop
    changed_memory: bool  # the loop stored a different value somewhere
    fixed_point: bool  # registers and everything read came back identical at the loop head
    reads_time: bool  # the loop reads a time source (its own timeout, perhaps)
    result: RunResult  # how the probe run ended (``returned``: the call was only slow)
    instructions: int

    @property
    def stalled(self) -> bool:
        """The loop comes back to the same state with nothing to count time: without an
        interrupt or a peripheral changing on its own, it can never leave."""
        return self.fixed_point and not self.reads_time

    @property
    def span(self) -> tuple[int, int]:
        return (min(self.pcs), max(self.pcs)) if self.pcs else (0, 0)


class _Recorder:
    def __init__(self, machine: Machine, ram: list[tuple[int, int]],
                 constants: Iterable[tuple[int, int]]) -> None:
        self.m = machine
        self.ram = ram
        self.constants = tuple(constants)
        self.pcs: Counter[int] = Counter()
        self.handler: Counter[int] = Counter()
        self.reads: dict[tuple[int, int], list[int]] = {}
        self.names: dict[tuple[int, int], tuple[str, str | None, int, int]] = {}
        self.changed = False
        self.head: int | None = None
        self.snapshots: list[tuple[tuple[int, ...], int, bool]] = []
        self.read_version = 0  # bumps when a read returns a value not seen at that place before
        self.reads_time = False

    def in_handler(self) -> bool:
        return bool(self.m.exceptions.active)

    def executed(self) -> int:
        return sum(self.pcs.values()) + sum(self.handler.values())

    def code(self, uc: unicorn.Uc, address: int, size: int, _ud: object) -> None:
        if self.in_handler():
            self.handler[address] += 1
            return
        self.pcs[address] += 1
        if address == self.head:
            regs = tuple(self.m.reg_read(r) for r in THREAD_REGS)
            self.snapshots.append((regs, self.read_version, self.changed))

    def _in_ram(self, address: int) -> bool:
        return any(lo <= address < hi for lo, hi in self.ram)

    def read(self, address: int, size: int, value: int) -> None:
        if self.in_handler():
            return
        if any(lo <= address < hi for lo, hi in self.constants):
            return  # literal pools and tables: constants, never what a loop waits for
        pc = self.m.reg_read("pc") & ~1
        if self._in_ram(address):
            name: tuple[str, str | None, int, int] = (f"0x{address:08X}", None, 0, size)
        else:
            found = self.m.bus.find(address)
            if found is None:
                return
            p, offset = found.periph, address - found.base
            if isinstance(p, UnmodelledBlock):
                periph, offset = p.name_at(offset)
                name = (f"{periph}+0x{offset:X}", periph, offset, size)
            else:
                if offset & ~3 in getattr(p, "time_sources", frozenset()):
                    self.reads_time = True  # SysTick CVR, DWT CYCCNT: the loop has a clock
                    return
                name = (p.describe(offset), p.name, offset, size)
        key = (pc, address)
        seen = self.reads.get(key)
        if seen is None:
            self.reads[key] = [value]
            self.names[key] = name
            self.read_version += 1
        elif value not in seen:
            seen.append(value)
            self.read_version += 1

    def write(self, address: int, size: int, value: int) -> None:
        if self.in_handler() or self.changed:
            return
        if not self._in_ram(address):
            self.changed = self.m.bus.find(address) is not None  # a peripheral write acts
            return
        try:
            old = int.from_bytes(self.m.uc.mem_read(address, size), "little")
        except unicorn.UcError:
            return
        if old != value:
            self.changed = True


def _ram_ranges(machine: Machine) -> list[tuple[int, int]]:
    return [(r.start, r.end) for r in machine.part.part.memory if r.kind == "ram"]


def probe(machine: Machine, *, stop_at: int, instructions: int = 6000,
          constants: Iterable[tuple[int, int]] = ()) -> LoopProfile:
    """Run the core on for about ``instructions`` instructions and describe the loop it is in.

    The run is part of the call (it stops at ``stop_at`` like the call does), so when the call
    was only slow the profile's ``result`` says ``returned``. ``constants``: address ranges
    holding code and read-only data, whose reads are not evidence.
    """
    rec = _Recorder(machine, _ram_ranges(machine), constants)
    uc = machine.uc
    code_hook = uc.hook_add(unicorn.UC_HOOK_CODE, rec.code)
    mem_hooks = [memhooks.on_read(uc, rec.read), memhooks.on_write(uc, rec.write)]
    fs_per_cycle = machine.clock.fs_per_cycle
    result: RunResult | None = None
    try:
        _flush(machine)
        # polling loops fast-forward virtual time, so one run may execute only a few
        # iterations: run again until the instruction budget is spent
        for run in range(MAX_PROBE_RUNS):
            executed = rec.executed()
            if executed >= instructions:
                break
            if rec.head is None and (executed >= instructions * 3 // 4
                                     or run >= MAX_PROBE_RUNS // 2):
                hot = [pc for pc, n in rec.pcs.items() if n > 1]
                rec.head = min(hot) if hot else None
            goal = instructions if rec.head is not None else instructions * 3 // 4
            result = machine.run(machine.reg_read("pc"), stop_at=stop_at,
                                 timeout_fs=max(goal - executed, 1) * fs_per_cycle)
            if result.reason != "timeout":
                break
    finally:
        uc.hook_del(code_hook)
        for h in mem_hooks:
            h.remove()
        _flush(machine)
    assert result is not None
    return _profile(rec, result)


def _flush(machine: Machine) -> None:
    # translated blocks keep the hooks they were built with; rebuild them with (or without) ours
    for region in machine.part.part.memory:
        if region.kind == "ram":
            machine.invalidate_code(region.start, region.end)


def _profile(rec: _Recorder, result: RunResult) -> LoopProfile:
    loop = {pc for pc, n in rec.pcs.items() if n > 1} or set(rec.pcs)
    registers: list[Read] = []
    memory: list[Read] = []
    for key, values in rec.reads.items():
        pc, address = key
        if pc not in loop:
            continue
        name, periph, offset, size = rec.names[key]
        read = Read(pc, address, name, periph, offset, size, tuple(values))
        (registers if periph is not None else memory).append(read)
    fixed = False
    snaps = rec.snapshots
    for a, b in itertools.pairwise(snaps):
        if a[0] == b[0] and a[1] == b[1] and not b[2]:
            fixed = True
    return LoopProfile(pcs=tuple(sorted(loop)), handler_pcs=tuple(sorted(rec.handler)),
                       registers=tuple(registers), memory=tuple(memory),
                       changed_memory=rec.changed, fixed_point=fixed,
                       reads_time=rec.reads_time, result=result,
                       instructions=rec.executed())


# -- interrupts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterruptState:
    """Whether an interrupt could have ended a loop: masks, pending and running sources."""

    masked_by: str  # "" or "PRIMASK=1", "FAULTMASK=1", "BASEPRI=0x40"
    pending: tuple[str, ...]  # enabled exceptions pending (SysTick, IRQ92...)
    sources: tuple[str, ...]  # enabled exceptions that could become pending (SysTick running)
    can_preempt: bool  # could any of them run now?
    systick: str  # "off", "counting without interrupt", "interrupt every N cycles"


def interrupt_state(machine: Machine) -> InterruptState:
    scs: SystemControlSpace = machine.scs
    from extflash.emu import cortexm

    def name(exc: int) -> str:
        return cortexm.EXCEPTION_NAMES.get(exc, f"IRQ{exc - 16}")

    primask = machine.reg_read("primask") & 1
    faultmask = machine.reg_read("faultmask") & 1
    basepri = machine.reg_read("basepri") & 0xFF
    level = 256
    for exc in machine.exceptions.active:
        level = min(level, scs.priority(exc))
    masked_by = ""
    if faultmask:
        masked_by, level = "FAULTMASK=1", -1
    elif primask:
        masked_by, level = "PRIMASK=1", min(level, 0)
    elif basepri:
        masked_by, level = f"BASEPRI=0x{basepri:02X}", min(level, basepri)
    pending = sorted(e for e in scs.pending if scs.exception_enabled(e))
    csr = scs["STK_CSR"]
    sources = []
    if csr & 3 == 3:
        sources.append(cortexm.SYSTICK)
    sources += [16 + irq for irq in range(scs.irq_words * 32) if scs.irq_enabled(irq)]
    candidates = set(pending) | set(sources)
    can = any(scs.priority(e) < level for e in candidates)
    if not csr & 1:
        systick = "off (SYST_CSR.ENABLE=0)"
    elif not csr & 2:
        systick = "counting without its interrupt (SYST_CSR.TICKINT=0)"
    else:
        systick = f"interrupting every {(scs['STK_RVR'] & 0xFFFFFF) + 1} clocks"
    return InterruptState(masked_by, tuple(name(e) for e in pending),
                          tuple(name(e) for e in sources), can, systick)


# -- what a polling loop tests --------------------------------------------------------------------


@dataclass(frozen=True)
class WaitCondition:
    """The loop ends when ``(value & mask) == expected`` (or ``!=`` when ``negate``)."""

    mask: int
    expected: int
    negate: bool

    def met(self, value: int) -> bool:
        return ((value & self.mask) == self.expected) != self.negate


_CS = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
_CS.detail = True

# flag -> (condition code meaning "flag set", meaning "flag clear")
_CC_FLAG = {carm.ARM_CC_EQ: ("Z", True), carm.ARM_CC_NE: ("Z", False),
            carm.ARM_CC_MI: ("N", True), carm.ARM_CC_PL: ("N", False),
            carm.ARM_CC_HS: ("C", True), carm.ARM_CC_LO: ("C", False)}


def _instructions(machine: Machine, start: int, count: int) -> list[capstone.CsInsn]:
    try:
        code = machine.mem_read(start, count * 4)
    except Exception:
        return []
    return list(_CS.disasm(code, start))[:count]


def _mnemonic(insn: capstone.CsInsn) -> str:
    return insn.mnemonic.split(".")[0]


def wait_condition(machine: Machine, read: Read, loop: Iterable[int]) -> WaitCondition | None:
    """What value of ``read``'s register ends the loop, from the code after the load.

    Bits are tracked through shifts, masks and field extracts into the flags a conditional
    branch tests; None when the code does something this small interpreter does not follow.
    """
    pcs = set(loop)
    lo, hi = (min(pcs), max(pcs)) if pcs else (read.pc, read.pc)
    insns = _instructions(machine, read.pc, 12)
    if not insns:
        return None
    shift = 8 * (read.offset & 3)
    load = insns[0]
    if _mnemonic(load) not in ("ldr", "ldrb", "ldrh") or not load.operands:
        return None
    # tracked register -> for each result bit, the register bit it holds (NO_BIT: zero)
    regs: dict[int, list[int]] = {load.operands[0].reg: [j + shift if j < 8 * read.size
                                                         else NO_BIT for j in range(32)]}
    flags: dict[str, tuple[int, int, bool]] = {}  # flag -> (mask, value, set-means-equal)
    for insn in insns[1:]:
        mn = _mnemonic(insn)
        ops = insn.operands
        jump = insn.group(capstone.CS_GRP_JUMP)
        if jump and mn not in ("cbz", "cbnz") and insn.cc in _CC_FLAG and ops:
            return _branch(insn.cc, ops[0].imm, flags, lo, hi)
        if mn in ("cbz", "cbnz") and len(ops) == 2 and ops[0].reg in regs:
            mask, value = _zero_test(regs[ops[0].reg], 0xFFFFFFFF, 0)
            target = ops[1].imm
            looping = lo <= target <= hi
            zero_exits = (mn == "cbz") != looping
            return WaitCondition(mask, value, negate=not zero_exits)
        if jump or insn.group(capstone.CS_GRP_CALL) or mn == "pop":
            return None
        step = _step(mn, insn, regs, flags)
        if step is None:
            return None
    return None


def _zero_test(bits: list[int], test_mask: int, test_value: int) -> tuple[int, int]:
    """(mask, value) over the register such that "result & test_mask == test_value"."""
    mask = value = 0
    for j, b in enumerate(bits):
        if not test_mask >> j & 1:
            continue
        if b == NO_BIT:
            if test_value >> j & 1:
                return 0, 1  # can never match: mask 0 with a non-zero value
            continue
        mask |= 1 << b
        value |= (test_value >> j & 1) << b
    return mask, value


_NO_DEST = frozenset({"str", "strb", "strh", "cmp", "cmn", "tst", "teq", "push", "nop"})


def _imm(op: capstone.arm.ArmOp) -> int:
    return op.imm & 0xFFFFFFFF


def _step(mn: str, insn: capstone.CsInsn, regs: dict[int, list[int]],
          flags: dict[str, tuple[int, int, bool]]) -> bool | None:
    """Apply one instruction to the tracked bits; None when it cannot be followed."""
    ops = insn.operands
    reg_ops = [o for o in ops if o.type == carm.ARM_OP_REG]
    imms = [o for o in ops if o.type == carm.ARM_OP_IMM]
    dest = ops[0].reg if ops and ops[0].type == carm.ARM_OP_REG else None
    src = reg_ops[1].reg if len(reg_ops) > 1 else dest
    if mn in ("tst", "cmp") and ops and ops[0].reg in regs and len(imms) == 1:
        bits = regs[ops[0].reg]
        imm = _imm(imms[0])
        if mn == "tst":
            mask, value = _zero_test(bits, imm, 0)
        else:
            mask, value = _zero_test(bits, 0xFFFFFFFF, imm)
        flags["Z"] = (mask, value, True)
        return True
    if src not in regs or dest is None:
        # registers we do not track (loop counters, addresses) are fine, unless the
        # instruction overwrites one we do
        if dest in regs and mn not in _NO_DEST:
            del regs[dest]
        return True
    bits = regs[src]
    if mn in ("lsl", "lsls") and imms:
        n = imms[0].imm
        new = [bits[j - n] if j >= n else NO_BIT for j in range(32)]
        carry = bits[32 - n] if 0 < n <= 32 else NO_BIT
    elif mn in ("lsr", "lsrs") and imms:
        n = imms[0].imm
        new = [bits[j + n] if j + n < 32 else NO_BIT for j in range(32)]
        carry = bits[n - 1] if 0 < n <= 32 else NO_BIT
    elif mn in ("and", "ands") and imms:
        imm = _imm(imms[0])
        new = [b if imm >> j & 1 else NO_BIT for j, b in enumerate(bits)]
        carry = NO_BIT
    elif mn in ("bic", "bics") and imms:
        imm = _imm(imms[0])
        new = [NO_BIT if imm >> j & 1 else b for j, b in enumerate(bits)]
        carry = NO_BIT
    elif mn == "ubfx" and len(imms) == 2:
        lsb, width = imms[0].imm, imms[1].imm
        new = [bits[lsb + j] if j < width and lsb + j < 32 else NO_BIT for j in range(32)]
        carry = NO_BIT
    elif mn in ("uxtb", "uxth"):
        width = 8 if mn == "uxtb" else 16
        new = [b if j < width else NO_BIT for j, b in enumerate(bits)]
        carry = NO_BIT
    elif mn in ("mov", "movs") and len(reg_ops) == 2:
        new, carry = list(bits), NO_BIT
    else:
        return None
    regs[dest] = new
    if insn.update_flags:
        mask, value = _zero_test(new, 0xFFFFFFFF, 0)
        flags["Z"] = (mask, value, True)
        if new[31] != NO_BIT:
            flags["N"] = (1 << new[31], 1 << new[31], True)
        if carry != NO_BIT and mn.startswith(("lsl", "lsr")):
            flags["C"] = (1 << carry, 1 << carry, True)
    return True


def _branch(cc: int, target: int, flags: dict[str, tuple[int, int, bool]], lo: int,
            hi: int) -> WaitCondition | None:
    flag, when_set = _CC_FLAG[cc]
    if flag not in flags:
        return None
    mask, value, _ = flags[flag]
    if mask == 0 and value:
        return None  # the test can never pass: no register bit decides it
    # the branch is taken when (reg & mask) == value is `when_set` (for N/C: the bit is set)
    taken_when_equal = when_set
    looping = lo <= target <= hi
    exit_when_equal = taken_when_equal != looping
    return WaitCondition(mask, value, negate=not exit_when_equal)
