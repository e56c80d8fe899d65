"""Hangs: the loop the core spins in, the register bits or variable it waits for, the value it
keeps reading, and why that value can never change on this board.

Each polled register is explained by the first rule that knows its peripheral: an unmodelled
block or a peripheral whose clock is off (reads 0 for ever), the QUADSPI/OCTOSPI/XSPI (memory-
mapped mode, disabled controller, automatic polling that cannot match, a command that never
started), and the RCC/PWR-style ready flags that follow an enable bit; then the general rule:
nothing in progress (no transfer, no busy chip, no scheduled event) can change the value. A
rule says whether the hang is *certain*: then the call is stopped early instead of running
into the host's timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from extflash.diagnose import loops, protocol, wiring
from extflash.diagnose.context import Context
from extflash.diagnose.fault import explain_fault
from extflash.diagnose.model import Diagnosis
from extflash.emu import cortexm
from extflash.emu.mmio import UnmodelledBlock
from extflash.emu.periph.engine import CommandEngine
from extflash.emu.periph.frontstate import (
    BUSY,
    FMODE_POLL,
    FMODE_WRITE,
    FTF,
    SMF,
    TCF,
    TEF,
    ControllerState,
)
from extflash.emu.periph.rcc import Rcc
from extflash.emu.periph.tablemodel import Follow, TableModel
from extflash.emu.regmodel import Peripheral, Reg

FAULT_EXCEPTIONS = (cortexm.HARDFAULT, cortexm.MEMMANAGE, cortexm.BUSFAULT, cortexm.USAGEFAULT)
THUMB_SELF_BRANCH = 0xE7FE


@dataclass(frozen=True)
class Why:
    """Why a polled value never changes."""

    text: str
    certain: bool
    fix: str | None = None
    details: tuple[str, ...] = ()
    # told without knowing which bits the loop tests: certain only for a loop that reads
    # nothing else that moves (no tick, no other register)
    inferred: bool = False


# -- naming bits --------------------------------------------------------------------------------


def describe_condition(reg: Reg | None, cond: loops.WaitCondition) -> str:
    """``PLL1RDY=1``, ``SWS=0x3``, ``any of FTF, TCF set``."""
    fields = [f for f in (reg.fields if reg else ()) if f.mask & cond.mask]
    covered = 0
    parts = []
    for f in fields:
        covered |= f.mask
        value = (cond.expected & f.mask) >> f.lsb
        parts.append((f.name, value, f.width))
    rest = cond.mask & ~covered
    if rest:
        parts.append((f"bits 0x{rest:X}", (cond.expected & rest), 32))
    if not cond.negate:
        return ", ".join(f"{n}={v:#x}" if w > 1 else f"{n}={v}" for n, v, w in parts)
    names = [n for n, _v, _w in parts]
    if len(parts) == 1 and parts[0][2] == 1:
        return f"{names[0]}={1 - parts[0][1]}"
    if cond.expected == 0:
        return f"any of {', '.join(names)} set"
    if cond.expected == cond.mask:
        return f"any of {', '.join(names)} clear"
    return "not (" + ", ".join(f"{n}={v:#x}" for n, v, _w in parts) + ")"


def awaited_bits(cond: loops.WaitCondition | None, value: int) -> int:
    """Bits the loop needs to change (all tested bits when the test is unknown)."""
    if cond is None:
        return 0xFFFFFFFF
    if not cond.negate:
        return (value ^ cond.expected) & cond.mask
    return cond.mask


def enable_field(rcc: Peripheral, periph: str) -> str | None:
    """``RCC_AHB3ENR.QSPIEN`` for the peripheral's clock enable bit."""
    stems = rcc.stems(periph) if isinstance(rcc, Rcc) else (periph,)
    for reg in rcc.regs.values():
        if not reg.name.endswith("ENR") or reg.name.endswith("LPENR"):
            continue
        for f in reg.fields:
            if f.name in {f"{s}EN" for s in stems}:
                return f"RCC_{reg.name}.{f.name}"
    return None


# -- rules --------------------------------------------------------------------------------------


def _unmodelled(ctx: Context, p: Peripheral | None, read: loops.Read,
                cond: loops.WaitCondition | None) -> Why | None:
    if p is not None and not isinstance(p, UnmodelledBlock):
        return None
    name = read.periph or read.name
    return Why(f"{name} is not modelled on the virtual {ctx.machine.part.part.name}: its "
               f"registers read 0, so the value never changes", True,
               f"if the loader really needs {name}, report it; otherwise remove the access")


def _clock_off(ctx: Context, p: Peripheral | None, read: loops.Read,
               cond: loops.WaitCondition | None) -> Why | None:
    if p is None:
        return None
    rcc = ctx.machine.rcc
    if p is rcc or rcc.is_enabled(p.name):
        return None
    enable = enable_field(rcc, p.name) or "its RCC enable bit"
    return Why(f"the {p.name} clock is off ({enable}=0): its registers read 0 and ignore "
               f"writes", True, f"set {enable} before using {p.name}")


def _ready_follows_enable(ctx: Context, p: Peripheral | None, read: loops.Read,
                          cond: loops.WaitCondition | None) -> Why | None:
    """``<X>RDY`` bits of RCC/PWR follow ``<X>ON``: a ready flag whose enable is 0 stays 0."""
    if not isinstance(p, TableModel) or cond is None:
        return None  # which ready flag is awaited must be known, not guessed
    reg = p.regs.get(read.offset & ~3)
    if reg is None:
        return None
    waiting = awaited_bits(cond, read.value)
    rcc_tree = getattr(p, "tree", None)
    for f in reg.fields:
        if not f.mask & waiting:
            continue
        rule = next((r for r in p.rules if isinstance(r, Follow) and r.dst_reg == reg.name
                     and r.dst_field == f.name), None)
        if rule is not None and not p.get_field(rule.src_reg, rule.src_field):
            stem = rule.src_field[:-2] if rule.src_field.endswith(("ON", "EN")) else rule.src_field
            return Why(f"{stem} was never enabled ({p.name}_{rule.src_reg}.{rule.src_field}=0), "
                       f"so {f.name} stays 0", True,
                       f"set {p.name}_{rule.src_reg}.{rule.src_field} before waiting for "
                       f"{f.name}")
        if rcc_tree is not None and f.name == "SWS":
            sw = p.get_field(reg.name, "SW")
            sources = rcc_tree.sources
            flag = sources[sw] if sw < len(sources) else None
            if flag is not None and not p.get_field("CR", flag):
                return Why(f"the system clock switch (SW={sw}) waits for its source, and "
                           f"{p.name}_CR.{flag}=0", True,
                           f"start the clock source and wait for {flag} before switching")
    return None


def _controller(ctx: Context, p: Peripheral | None, read: loops.Read,
                cond: loops.WaitCondition | None) -> Why | None:
    """A QUADSPI/OCTOSPI/XSPI status register that cannot change, from the controller's
    front-end neutral state (:mod:`extflash.emu.periph.frontstate`)."""
    if not isinstance(p, CommandEngine) or (read.offset & ~3) != p.L.SR:
        return None
    st = p.state()
    f = st.fields
    value = read.value
    waiting = awaited_bits(cond, value)
    wants_done = bool(waiting & (TCF | FTF | SMF)) or cond is None
    wants_idle = bool(waiting & BUSY) and bool(value & BUSY)
    name = p.name
    if st.mapped and (wants_done or wants_idle):
        return Why(f"the {name} is still in memory-mapped mode ({f.fmode}=3): it stays BUSY and "
                   f"ignores writes to the command registers, AR and DLR, so the command the "
                   f"loader set up never started", True,
                   "leave memory-mapped mode first: set CR.ABORT and wait for it to clear "
                   "(hosts call Init again while the previous call left the flash mapped)")
    if not st.enabled and wants_done:
        return Why(f"the {name} is disabled (CR.EN=0): no command starts", True,
                   "set CR.EN after configuring CR and the device configuration registers")
    if cond is None:
        if st.fmode == FMODE_POLL and value & BUSY and not value & SMF:
            # whatever bit a generic wait (HAL_WaitForFlag) reads, automatic polling moves SR
            # only on a status match: SMF, and BUSY falling with APMS (RM0433/RM0455/RM0477
            # "automatic status-polling mode")
            why = _polling(ctx, p.name, st)
            return replace(why, inferred=True) if why is not None else None
        return None  # beyond this point the rule depends on which flag the loop waits for
    if value & TEF and waiting & TCF:
        size = st.flash_bytes
        return Why(f"the last command ended in a transfer error (SR.TEF=1): its address "
                   f"0x{st.address:X} is beyond the {size >> 20} MiB the {name} was told the "
                   f"flash holds ({f.size})", True,
                   f"set {f.size} to log2(flash size) - 1 and mask addresses to the chip")
    if waiting & SMF:
        return _polling(ctx, p.name, st)
    if wants_done:
        if not value & BUSY:
            return Why(f"no command is in progress (SR.BUSY=0, {f.fmode}={st.fmode}): the "
                       f"loader's register writes did not start one", True, f.start_order)
        if st.fmode == FMODE_WRITE and st.write_bytes_missing is not None:
            return Why(f"the indirect write still expects {st.write_bytes_missing} more byte(s) "
                       f"through DR (DLR={st.data_length}): TCF is set only after DLR+1 bytes",
                       True,
                       "write exactly DLR+1 bytes to DR, or set DLR to the byte count minus one")
        if st.fmode == FMODE_POLL:
            return Why(f"the {name} is in automatic-polling mode, which ends only on a status "
                       f"match (APMS) or ABORT, not with TCF", True,
                       "wait for SMF in automatic-polling mode, or abort it")
    if wants_idle and st.fmode == FMODE_POLL and not st.stop_on_match:
        return Why("automatic polling without CR.APMS keeps running after a match, so BUSY "
                   "stays set", True, "set CR.APMS (stop on match) or abort the polling")
    return None


def _polling(ctx: Context, name: str, st: ControllerState) -> Why | None:
    f = st.fields
    if st.fmode != FMODE_POLL:
        return Why(f"the {name} is in {st.mode} mode ({f.fmode}={st.fmode}); SMF is set only "
                   f"by a status match in automatic-polling mode", True,
                   f"start automatic polling ({f.fmode}=2) before waiting for SMF")
    status, mask, match = st.poll_status, st.poll_mask, st.poll_match
    chips = ctx.board.chips
    chip = chips.get(st.bank) or next(iter(chips.values()))
    wire_problems = [e for e in ctx.call.wiring if e.signal.endswith(("ncs", "clk"))]
    head = (f"automatic polling reads status 0x{status:02X} and waits for (status & "
            f"0x{mask:02X}) == 0x{match:02X}")
    if wire_problems:
        problems = wiring.problems(ctx.board) or [wire_problems[0].describe()]
        return Why(f"{head}, but the chip never sees the status command: {problems[0]}", True,
                   wiring.fix(ctx.board), tuple(problems[1:]))
    if chip.busy:
        left = (chip.busy_until - ctx.machine.clock.now_fs) / 1e15
        return Why(f"{head}; the chip is still busy for {left:.3g} s (WIP=1)", False)
    actual = chip.status
    rejected = [c for c in ctx.call.flash if c.outcome == "rejected"]
    told = protocol.explain(ctx.board, ctx.call.flash)
    if told is not None:
        return Why(f"{head}, and it never comes: {told.cause}", True, told.fix, told.details)
    if (status & 0xFF) != actual:
        reason = rejected[-1].reason if rejected else "the status command does not match the chip"
        return Why(f"{head}; the chip's status is really 0x{actual:02X}, but the controller "
                   f"reads 0x{status & 0xFF:02X}: {reason}", True,
                   "read the status with the opcode and line modes the chip is in")
    note = ""
    if mask & 0x02 and match & 0x02 and not actual & 0x02:
        note = " (WEL=1 never comes: no WRITE ENABLE reached the chip before this poll)"
    elif rejected:
        note = f" (the chip rejected {rejected[-1].command.describe()}: {rejected[-1].reason})"
    return Why(f"{head}; the chip is idle and its status stays 0x{actual:02X}, so the match "
               f"never happens{note}", True,
               "poll for the bit the chip really changes (WIP=0 after program/erase)")


def _nothing_pending(ctx: Context, p: Peripheral | None, read: loops.Read,
                     cond: loops.WaitCondition | None) -> Why | None:
    """The general rule, after the ones that know a peripheral: the value can change only if
    something is in progress. On the virtual board that is a transfer the peripheral has on
    the bus, a chip that is busy, a scheduled event (a timer, a clock that locks, a timeout
    such as QUADSPI's TCEN/LPTR) or an interrupt handler. With none of them the loop waits for
    ever (TOF with CR.TCEN=0, say); with only interrupts left it is not yet certain (the watch
    calls it a hang when two looks find the loop reading the same values)."""
    if p is None:
        return None
    m = ctx.machine
    if any(chip.busy for chip in ctx.board.chips.values()):
        return None
    pending = getattr(p, "pending", None)
    if callable(pending) and pending() is not None:
        return None
    if m.clock.next_events_except(m.scs.wakes_core, 1):
        return None  # something is scheduled that may change it
    checked = (f"nothing pending can change {read.name}: no transfer in progress, no chip "
               f"busy, no timer or other event scheduled")
    fix = (f"wait for a flag {p.name} sets in the mode it is in (see its reference manual "
           f"chapter), or bound the wait and report the failure")
    ints = loops.interrupt_state(m)
    if ints.can_preempt:
        return Why(f"{checked}; only an interrupt handler ({', '.join(ints.sources)}) could",
                   False, fix)
    return Why(f"{checked}, and no interrupt can run", True, fix)


RULES: tuple[Callable[[Context, Peripheral | None, loops.Read, loops.WaitCondition | None],
                      Why | None], ...] = (
    _unmodelled, _clock_off, _controller, _ready_follows_enable, _nothing_pending)


# -- the hang as a whole ------------------------------------------------------------------------


def _register_wait(ctx: Context, profile: loops.LoopProfile,
                   read: loops.Read) -> tuple[str, Why | None]:
    m = ctx.machine
    p: Peripheral | None = m.peripherals.get(read.periph or "")
    if p is None:
        found = m.bus.find(read.address)
        p = found.periph if found is not None else None
    cond = loops.wait_condition(m, read, profile.pcs)
    if cond is not None and cond.met(read.value):
        cond = None  # the analysis disagrees with what the loop sees: do not trust it
    reg = p.regs.get(read.offset & ~3) if p is not None else None
    decoded = reg.decode(read.value) if reg is not None else f"0x{read.value:X}"
    if cond is not None and reg is not None and reg.fields:
        what = f"{read.name}.{describe_condition(reg, cond)}"
    elif cond is not None and cond.mask & (cond.mask - 1) == 0:  # one bit, no field names
        bit = cond.mask.bit_length() - 1
        value = int(bool(cond.expected)) ^ int(cond.negate)
        what = f"bit {bit} of {read.name} to read {value}"
    elif cond is not None:
        what = (f"{read.name} & 0x{cond.mask:X} {'!=' if cond.negate else '=='} "
                f"0x{cond.expected:X}")
    else:
        what = f"{read.name} to change"
    text = f"waits for {what}; it keeps reading 0x{read.value:08X} ({decoded})"
    why = next((w for rule in RULES if (w := rule(ctx, p, read, cond)) is not None), None)
    alone = len(profile.registers) == 1 and not profile.memory and not profile.reads_time
    if why is not None and why.inferred and not alone:
        why = replace(why, certain=False)  # the loop may leave on its own timeout
    return text, why


def _memory_wait(ctx: Context, profile: loops.LoopProfile) -> tuple[str, Why]:
    names = []
    for r in profile.memory[:3]:
        sym = ctx.symbols.name(r.address)
        label = f"{sym} (0x{r.address:08X})" if sym else f"0x{r.address:08X}"
        names.append(f"{label} = 0x{r.value:X}")
    text = f"waits for {' , '.join(names)} to change"
    ints = loops.interrupt_state(ctx.machine)
    if not profile.fixed_point or ints.can_preempt:
        return text, Why(f"interrupts can still run ({', '.join(ints.sources) or 'none'}), "
                         f"SysTick is {ints.systick}", False)
    tick_fix = ("do not disable interrupts (cpsid i / __disable_irq) in a loader that waits on "
                "an interrupt-driven tick, or base HAL_GetTick on DWT->CYCCNT or polled SysTick "
                "COUNTFLAG")
    if ints.pending and ints.masked_by:
        return text, Why(f"only an interrupt handler could change it, and {ints.pending[0]} is "
                         f"pending but interrupts are masked ({ints.masked_by})", True, tick_fix)
    if ints.sources and ints.masked_by:
        return text, Why(f"only an interrupt handler could change it, and interrupts are masked "
                         f"({ints.masked_by})", True, tick_fix)
    return text, Why(f"nothing can change it: no interrupt is enabled and SysTick is "
                     f"{ints.systick}", True,
                     "start the tick the loop depends on (SysTick with its interrupt and a "
                     "vector table, or a polled DWT/SysTick tick)")


def _fault_handler(ctx: Context) -> Diagnosis | None:
    active = [e for e in ctx.machine.exceptions.active if e in FAULT_EXCEPTIONS]
    fault = ctx.call.fault or ctx.machine.last_fault
    if not active or fault is None:
        return None
    pc = ctx.machine.reg_read("pc") & ~1
    handler = ctx.symbols.function_at(pc) or f"the handler at 0x{pc:08X}"
    name = cortexm.EXCEPTION_NAMES.get(active[-1], "fault")
    return explain_fault(ctx, fault, handler=f"{handler} ({name})")


def _idle(ctx: Context, pc: int) -> str | None:
    try:
        here = int.from_bytes(ctx.machine.mem_read(pc, 2), "little")
    except Exception:
        return None
    return "self-branch" if here == THUMB_SELF_BRANCH else None


def explain_hang(ctx: Context, *, probe_instructions: int = 6000) -> Diagnosis | None:
    """Why the call is not returning; None when a further probe run showed it returning.

    The probe runs the core on (it is part of the call): a call that was only slow returns
    during it, and then there is nothing to explain.
    """
    handler = _fault_handler(ctx)
    if handler is not None:
        return handler
    m = ctx.machine
    fn = ctx.function
    profile = loops.probe(m, stop_at=ctx.stop_at, instructions=probe_instructions,
                          constants=ctx.constants)
    if profile.result.reason == "returned":
        return None
    if profile.result.fault is not None:
        return explain_fault(ctx, profile.result.fault)
    handler = _fault_handler(ctx)
    if handler is not None:
        return handler
    pc = m.reg_read("pc") & ~1
    loop_pc = profile.pcs[0] if profile.pcs else pc
    where = ctx.where(loop_pc)
    place = ctx.in_function(loop_pc)
    details: list[str] = []
    if profile.pcs:
        lo, hi = profile.span
        details.append(f"loop: 0x{lo:08X}..0x{hi:08X} {place}, "
                       f"{len(profile.pcs)} instruction(s)")
    extra: dict[str, Any] = {"profile": profile}
    if not profile.stalled and (profile.changed_memory or any(
            not r.constant for r in profile.registers)):
        cause = (f"{fn}() is still running {place}: it makes progress (its state changes "
                 f"from one pass to the next), so it may yet return")
        return Diagnosis("hang", fn, cause, tuple(details), None, certain=False, where=where,
                         extra=extra)
    waits = [r for r in profile.registers if r.constant]
    if waits:
        best: tuple[str, Why | None] | None = None
        for read in waits:
            text, why = _register_wait(ctx, profile, read)
            if best is None or (why is not None and (best[1] is None or
                                                     (why.certain and not best[1].certain))):
                best = (text, why)
        assert best is not None
        text, why = best
        for read in waits:
            details.append(f"reads {read.name} at {ctx.where(read.pc)}: "
                           + ", ".join(f"0x{v:08X}" for v in read.values))
        if why is None:
            cause = f"{fn}() {text} {place}"
            return Diagnosis("hang", fn, cause, tuple(details), None, certain=False, where=where,
                             extra=extra)
        cause = f"{fn}() {text} {place}: {why.text}"
        return Diagnosis("hang", fn, cause, tuple(details) + why.details, why.fix,
                         certain=why.certain and profile.stalled, where=where, extra=extra)
    if profile.memory:
        text, why = _memory_wait(ctx, profile)
        cause = f"{fn}() {text} {place}: {why.text}"
        return Diagnosis("hang", fn, cause, tuple(details), why.fix, certain=why.certain,
                         where=where, extra=extra)
    ints = loops.interrupt_state(m)
    if _idle(ctx, pc) == "self-branch":
        stuck = not ints.can_preempt
        cause = (f"{fn}() stopped in an endless loop (`b .`) {ctx.in_function(pc)}"
                 + ("" if stuck else f", waiting for an interrupt ({', '.join(ints.sources)})"))
        return Diagnosis("hang", fn, cause, tuple(details),
                         "this is usually an error trap (Error_Handler, a failed HAL call): find "
                         "which check sent the loader there", certain=stuck,
                         where=ctx.where(pc), extra=extra)
    cause = (f"{fn}() is still running {place} ({profile.instructions} instructions probed "
             f"without a polling loop)")
    return Diagnosis("hang", fn, cause, tuple(details), None, certain=False, where=where,
                     extra=extra)


def same_stall(earlier: Diagnosis | None, later: Diagnosis) -> bool:
    """Did two looks find the same loop, a fixed point reading the same values both times?

    Between two looks the board ran on (slices of growing virtual time, no flash work): a loop
    that only an interrupt could free and that still reads what it read before is not waiting
    for something slow, it is stuck. A loop that counts, or reads a time source or a variable
    that moved, is not the same stall."""
    if earlier is None or earlier.cause != later.cause:
        return False
    a, b = earlier.extra.get("profile"), later.extra.get("profile")
    if a is None or b is None or not (a.stalled and b.stalled) or a.pcs != b.pcs:
        return False

    def seen(profile: loops.LoopProfile) -> list[tuple[int, tuple[int, ...]]]:
        return [(r.address, r.values) for r in (*profile.registers, *profile.memory)]

    return seen(a) == seen(b)

