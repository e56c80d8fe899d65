"""System Control Space (0xE000E000): SysTick, NVIC, SCB, CoreDebug; and the DWT cycle counter.

Both blocks are :class:`~extflash.emu.regmodel.Peripheral` tables with small hooks. Time comes
from the machine's :class:`~extflash.emu.clock.VirtualClock`: SysTick counts core cycles
(CLKSOURCE=1) or core/8 (CLKSOURCE=0, the STM32 external reference is HCLK/8), DWT CYCCNT counts
core cycles while DEMCR.TRCENA and DWT_CTRL.CYCCNTENA are both set. Reads of the counters are
"time sources": the machine's spin detector ignores their changing values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from extflash.emu.clock import VirtualClock
from extflash.emu.cortexm import (
    BUSFAULT,
    HARDFAULT,
    MEMMANAGE,
    NMI,
    PENDSV,
    SVCALL,
    SYSTICK,
    USAGEFAULT,
)
from extflash.emu.native import timesource_fast
from extflash.emu.native.timesource_fast import NativeTimeSource
from extflash.emu.regmodel import Access, Peripheral, Reg, fields

if TYPE_CHECKING:
    from extflash.emu.mmio import Bus

SCS_BASE = 0xE000E000
DWT_BASE = 0xE0001000
VECTKEY = 0x05FA
STCLK_DIVIDER = 8  # STM32: SysTick external reference = HCLK/8
CSR_ENABLE, CSR_TICKINT, CSR_CLKSOURCE, CSR_COUNTFLAG = 1 << 0, 1 << 1, 1 << 2, 1 << 16


def _scs_registers(cpuid: int, irq_words: int) -> tuple[Reg, ...]:
    regs = [
        Reg("ICTR", 0x004, irq_words - 1, access=Access.RO),
        Reg("ACTLR", 0x008),
        Reg("STK_CSR", 0x010, 0, fields(("ENABLE", 0), ("TICKINT", 1), ("CLKSOURCE", 2),
                                        ("COUNTFLAG", 16, 1, Access.RO))),
        Reg("STK_RVR", 0x014, 0, fields(("RELOAD", 0, 24))),
        Reg("STK_CVR", 0x018, 0, fields(("CURRENT", 0, 24))),
        Reg("STK_CALIB", 0x01C, 0x40000000, access=Access.RO),  # NOREF=0, SKEW=1, TENMS=0
        Reg("CPUID", 0xD00, cpuid, access=Access.RO),
        Reg("ICSR", 0xD04, 0, fields(("VECTACTIVE", 0, 9, Access.RO),
                                     ("RETTOBASE", 11, 1, Access.RO),
                                     ("VECTPENDING", 12, 9, Access.RO),
                                     ("ISRPENDING", 22, 1, Access.RO),
                                     ("PENDSTCLR", 25, 1, Access.SC), ("PENDSTSET", 26),
                                     ("PENDSVCLR", 27, 1, Access.SC), ("PENDSVSET", 28),
                                     ("NMIPENDSET", 31))),
        Reg("VTOR", 0x008 + 0xD00, 0, fields(("TBLOFF", 7, 25))),
        Reg("AIRCR", 0xD0C, 0xFA050000, fields(("VECTRESET", 0, 1, Access.SC),
                                               ("VECTCLRACTIVE", 1, 1, Access.SC),
                                               ("SYSRESETREQ", 2, 1, Access.SC),
                                               ("PRIGROUP", 8, 3), ("ENDIANNESS", 15, 1, Access.RO),
                                               ("VECTKEY", 16, 16))),
        Reg("SCR", 0xD10, 0, fields(("SLEEPONEXIT", 1), ("SLEEPDEEP", 2), ("SEVONPEND", 4))),
        Reg("CCR", 0xD14, 0x00000200, fields(("NONBASETHRDENA", 0), ("USERSETMPEND", 1),
                                             ("UNALIGN_TRP", 3), ("DIV_0_TRP", 4), ("BFHFNMIGN", 8),
                                             ("STKALIGN", 9), ("DC", 16), ("IC", 17), ("BP", 18))),
        Reg("SHPR1", 0xD18), Reg("SHPR2", 0xD1C), Reg("SHPR3", 0xD20),
        Reg("SHCSR", 0xD24, 0, fields(("MEMFAULTACT", 0), ("BUSFAULTACT", 1), ("USGFAULTACT", 3),
                                      ("SVCALLACT", 7), ("MONITORACT", 8), ("PENDSVACT", 10),
                                      ("SYSTICKACT", 11), ("USGFAULTPENDED", 12),
                                      ("MEMFAULTPENDED", 13), ("BUSFAULTPENDED", 14),
                                      ("SVCALLPENDED", 15), ("MEMFAULTENA", 16),
                                      ("BUSFAULTENA", 17), ("USGFAULTENA", 18))),
        Reg("CFSR", 0xD28, access=Access.W1C),
        Reg("HFSR", 0xD2C, access=Access.W1C),
        Reg("DFSR", 0xD30, access=Access.W1C),
        Reg("MMFAR", 0xD34), Reg("BFAR", 0xD38), Reg("AFSR", 0xD3C),
        Reg("CLIDR", 0xD78, access=Access.RO), Reg("CTR", 0xD7C, access=Access.RO),
        Reg("CCSIDR", 0xD80, access=Access.RO), Reg("CSSELR", 0xD84),
        Reg("CPACR", 0xD88, 0, fields(("CP10", 20, 2), ("CP11", 22, 2))),
        Reg("MPU_TYPE", 0xD90, 0x00001000, access=Access.RO),  # 16 regions, not enforced
        Reg("MPU_CTRL", 0xD94), Reg("MPU_RNR", 0xD98), Reg("MPU_RBAR", 0xD9C),
        Reg("MPU_RASR", 0xDA0),
        Reg("DHCSR", 0xDF0, 0, fields(("C_DEBUGEN", 0), ("C_HALT", 1), ("C_STEP", 2),
                                      ("C_MASKINTS", 3), ("S_REGRDY", 16, 1, Access.RO),
                                      ("DBGKEY", 16, 16, Access.WO))),
        Reg("DCRSR", 0xDF4, access=Access.WO), Reg("DCRDR", 0xDF8),
        Reg("DEMCR", 0xDFC, 0, fields(("VC_CORERESET", 0), ("VC_MMERR", 4), ("VC_NOCPERR", 5),
                                      ("VC_CHKERR", 6), ("VC_STATERR", 7), ("VC_BUSERR", 8),
                                      ("VC_INTERR", 9), ("VC_HARDERR", 10), ("MON_EN", 16),
                                      ("MON_PEND", 17), ("MON_STEP", 18), ("MON_REQ", 19),
                                      ("TRCENA", 24))),
        Reg("STIR", 0xF00, access=Access.WO),
        Reg("FPCCR", 0xF34, 0xC0000000), Reg("FPCAR", 0xF38), Reg("FPDSCR", 0xF3C),
    ]
    # Cache and branch-predictor maintenance operations (Cortex-M7): write-only, no effect here.
    for name, off in (("ICIALLU", 0xF50), ("ICIMVAU", 0xF58), ("DCIMVAC", 0xF5C),
                      ("DCISW", 0xF60), ("DCCMVAU", 0xF64), ("DCCMVAC", 0xF68), ("DCCSW", 0xF6C),
                      ("DCCIMVAC", 0xF70), ("DCCISW", 0xF74), ("BPIALL", 0xF78)):
        regs.append(Reg(name, off, access=Access.WO))
    for group, base in (("ISER", 0x100), ("ICER", 0x180), ("ISPR", 0x200), ("ICPR", 0x280),
                        ("IABR", 0x300)):
        regs += [Reg(f"{group}{i}", base + 4 * i) for i in range(irq_words)]
    regs += [Reg(f"IPR{i}", 0x400 + 4 * i) for i in range(irq_words * 8)]
    return tuple(regs)


# the configurable faults' enable bits in SHCSR
_SHCSR_ENABLE = {MEMMANAGE: 16, BUSFAULT: 17, USAGEFAULT: 18}


class SystemControlSpace(Peripheral):
    """SysTick + NVIC + SCB + CoreDebug. ``irqs`` is the number of external interrupt lines."""

    size = 0x1000

    def __init__(self, clock: VirtualClock, cpuid: int, *, irqs: int = 160,
                 wake: Callable[[], None] | None = None) -> None:
        self.irq_words = (irqs + 31) // 32
        super().__init__("SCS", SCS_BASE, _scs_registers(cpuid, self.irq_words))
        self.clock = clock
        self.wake = wake or (lambda: None)
        self.time_sources = frozenset({0x010, 0x018})
        self.vtor_written = False
        self.pending: set[int] = set()  # exception numbers (16+ for IRQs) pending
        self.demcr_listener: Callable[[int, int], None] | None = None
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.vtor_written = False
        self.pending = set()
        self._st_generation = 0
        self._st_anchor_fs = 0
        self._st_anchor_value = 0

    # -- SysTick -------------------------------------------------------------------------
    def _tick_fs(self) -> int:
        div = 1 if self.values[0x010] & CSR_CLKSOURCE else STCLK_DIVIDER
        return self.clock.fs_per_cycle * div

    def _systick_enabled(self) -> bool:
        return bool(self.values[0x010] & CSR_ENABLE)

    def _current(self) -> int:
        """SysTick CVR at the present instant (anchored count-down, reloading from RVR)."""
        if not self._systick_enabled():
            return self.values[0x018]
        ticks = (self.clock.now_fs - self._st_anchor_fs) // self._tick_fs()
        value = self._st_anchor_value
        if ticks <= value:
            return value - ticks
        period = self["STK_RVR"] + 1
        return self["STK_RVR"] - (ticks - value - 1) % period if period > 1 else 0

    def _rearm(self, value: int) -> None:
        """Anchor the counter at ``value`` now and schedule the next reach of zero."""
        self._st_generation += 1
        self._st_anchor_fs = self.clock.now_fs
        self._st_anchor_value = value
        if not self._systick_enabled() or (value == 0 and self["STK_RVR"] == 0):
            return
        ticks = value if value else self["STK_RVR"] + 1
        self.clock.schedule(self.clock.now_fs + ticks * self._tick_fs(),
                            functools.partial(self._expire, self._st_generation))

    def wakes_core(self, callback: Callable[[], None]) -> bool:
        """Is ``callback`` (a scheduled clock event) the SysTick tick that will pend the SysTick
        exception, and so stop the running core, when it fires?"""
        csr = self.values[0x010]
        return (isinstance(callback, functools.partial) and callback.func == self._expire
                and callback.args == (self._st_generation,) and bool(csr & CSR_ENABLE)
                and bool(csr & CSR_TICKINT))

    def _expire(self, generation: int) -> None:
        # once per tick (1 kHz HAL ticks): CSR bits read directly rather than by field name
        csr = self.values[0x010]
        if generation != self._st_generation or not csr & CSR_ENABLE:
            return
        self.values[0x010] = csr | CSR_COUNTFLAG
        if csr & CSR_TICKINT:
            self.set_pending(SYSTICK)
        # the counter reloads from RVR on the tick after reaching zero
        self._st_generation += 1
        tick_fs = self._tick_fs()
        reload = self.values[0x014]
        self._st_anchor_fs = self.clock.now_fs + tick_fs
        self._st_anchor_value = reload
        if reload:
            self.clock.schedule(self._st_anchor_fs + reload * tick_fs,
                                functools.partial(self._expire, self._st_generation))

    def tick_fs(self) -> int:
        """The length of one SysTick count."""
        return self._tick_fs()

    def ticks_passed(self, count: int, last_fs: int) -> None:
        """``count`` expiries were handled in C (native/ticks_fast.c), the last at ``last_fs``,
        their exceptions taken there: the state the last :meth:`_expire` leaves."""
        stale = functools.partial(self._expire, self._st_generation)
        self.values[0x010] |= CSR_COUNTFLAG
        self._st_generation += count
        tick_fs = self._tick_fs()
        reload = self.values[0x014]
        self._st_anchor_fs = last_fs + tick_fs
        self._st_anchor_value = reload
        self.clock.drop(lambda callback: isinstance(callback, functools.partial)
                        and callback.func == stale.func and callback.args == stale.args)
        self.clock.schedule(self._st_anchor_fs + reload * tick_fs,
                            functools.partial(self._expire, self._st_generation))

    def core_hz_changed(self) -> None:
        """Re-anchor SysTick at the new tick length (called by the machine)."""
        if self._systick_enabled():
            self._rearm(self._current())

    def on_write_STK_CSR(self, old: int, new: int) -> None:
        if (old ^ new) & 0b101:  # ENABLE or CLKSOURCE changed
            current = self._current_with(old)
            self.values[0x018] = current
            self._rearm(current)

    def _current_with(self, csr: int) -> int:
        saved = self.values[0x010]
        self.values[0x010] = csr
        try:
            return self._current()
        finally:
            self.values[0x010] = saved

    def on_read_STK_CSR(self, value: int) -> int:
        self.values[0x010] = value & ~(1 << 16)  # COUNTFLAG clears on read
        return value

    def on_read_STK_CVR(self, value: int) -> int:
        return self._current()

    def time_source_value(self, offset: int) -> Callable[[], int] | None:
        """The bus's direct read of a time-source word: CVR (CSR clears COUNTFLAG on read and
        keeps the register-table path)."""
        return self._current if offset == 0x018 else None

    def on_write_STK_CVR(self, old: int, new: int) -> None:
        # any write clears the counter and COUNTFLAG
        self.values[0x018] = 0
        self.set_field("STK_CSR", "COUNTFLAG", 0)
        if self._systick_enabled():
            self._rearm(0)

    def on_write_STK_RVR(self, old: int, new: int) -> None:
        self.values[0x014] = new & 0xFFFFFF

    # -- SCB -------------------------------------------------------------------------------
    def on_write_VTOR(self, old: int, new: int) -> None:
        self.vtor_written = True

    def on_write_AIRCR(self, old: int, new: int) -> None:
        if (new >> 16) != VECTKEY:
            self.values[0xD0C] = old  # writes without VECTKEY are ignored
        else:
            self.values[0xD0C] = (new & 0x0000FFFF) | 0xFA050000

    def on_write_ICSR(self, old: int, new: int) -> None:
        for set_bit, clr_bit, exc in ((26, 25, SYSTICK), (28, 27, PENDSV)):
            if new >> set_bit & 1:
                self.set_pending(exc)
            if new >> clr_bit & 1:
                self.pending.discard(exc)
        if new >> 31 & 1:
            self.set_pending(NMI)
        self.values[0xD04] &= ~((1 << 26) | (1 << 28) | (1 << 31))

    def on_read_ICSR(self, value: int) -> int:
        value &= ~0x1FF
        nxt = min(self.pending, default=0)
        value = (value & ~(0x1FF << 12)) | (nxt << 12)
        if any(e >= 16 for e in self.pending):
            value |= 1 << 22
        if SYSTICK in self.pending:
            value |= 1 << 26
        if PENDSV in self.pending:
            value |= 1 << 28
        return value

    def on_write_DHCSR(self, old: int, new: int) -> None:
        if (new >> 16) != 0xA05F:
            self.values[0xDF0] = old  # needs DBGKEY; the run control stays the host's
        self.values[0xDF0] &= 0xFFFF

    def on_write_DEMCR(self, old: int, new: int) -> None:
        if self.demcr_listener is not None:
            self.demcr_listener(old, new)

    def on_write_STIR(self, old: int, new: int) -> None:
        self.set_irq_pending(new & 0x1FF)

    # -- NVIC ------------------------------------------------------------------------------
    def _nvic_write(self, base: int, offset: int, new: int) -> None:
        i = (offset - base) // 4
        if base == 0x100:  # ISER
            self.values[0x100 + 4 * i] = self._enabled_word(i) | new
        elif base == 0x180:  # ICER
            self.values[0x100 + 4 * i] = self._enabled_word(i) & ~new
        elif base == 0x200:
            for bit in range(32):
                if new >> bit & 1:
                    self.pending.add(16 + 32 * i + bit)
        elif base == 0x280:
            for bit in range(32):
                if new >> bit & 1:
                    self.pending.discard(16 + 32 * i + bit)
        self.values[offset] = self._enabled_word(i) if base in (0x100, 0x180) else 0
        self.wake()

    def _enabled_word(self, i: int) -> int:
        return self.values[0x100 + 4 * i]

    def write(self, offset: int, size: int, value: int) -> None:
        word = offset & ~3
        if 0x100 <= word < 0x300 and size == 4:
            base = word & ~0x7F
            if self.tracer is not None:
                self.tracer(self, "w", offset, size, value)
            self._nvic_write(base, word, value)
            return
        super().write(offset, size, value)

    def read(self, offset: int, size: int) -> int:
        word = offset & ~3
        if 0x200 <= word < 0x300:  # ISPR/ICPR read back the pending state
            i = (word & 0x7F) // 4
            value = sum(1 << b for b in range(32) if 16 + 32 * i + b in self.pending)
            self.values[word] = value
        elif 0x180 <= word < 0x200:
            self.values[word] = self._enabled_word((word - 0x180) // 4)
        return super().read(offset, size)

    def irq_enabled(self, irq: int) -> bool:
        return bool(self._enabled_word(irq // 32) >> (irq % 32) & 1)

    def set_irq_pending(self, irq: int) -> None:
        self.set_pending(16 + irq)

    def set_pending(self, exception: int) -> None:
        self.pending.add(exception)
        self.wake()

    def priority(self, exception: int) -> int:
        if exception == NMI:
            return -2
        if exception == HARDFAULT:
            return -1
        if exception >= 16:
            n = exception - 16
            return (self.values[0x400 + (n & ~3)] >> (8 * (n & 3))) & 0xFF
        n = exception - 4  # SHPR1 holds MemManage (4)..; byte index = exception - 4
        return (self.values[0xD18 + (n & ~3)] >> (8 * (n & 3))) & 0xFF

    def exception_enabled(self, exception: int) -> bool:
        if exception >= 16:
            return self.irq_enabled(exception - 16)
        enable_bit = _SHCSR_ENABLE.get(exception)
        if enable_bit is not None:
            return bool(self.values[0xD24] >> enable_bit & 1)  # SHCSR
        return exception in (NMI, HARDFAULT, SVCALL, PENDSV, SYSTICK) or exception == 12

    def record_fault(self, cfsr: int, hfsr: int, address: int | None) -> None:
        self["CFSR"] = self["CFSR"] | cfsr
        self["HFSR"] = self["HFSR"] | hfsr
        if address is not None and cfsr & (1 << 15):
            self["BFAR"] = address
        if address is not None and cfsr & (1 << 7):
            self["MMFAR"] = address

    @property
    def vtor(self) -> int:
        return self.values[0xD08] & 0xFFFFFF80  # VTOR (asked at every exception entry)


class DataWatchpointTrace(Peripheral):
    """DWT: only CYCCNT counts (when DEMCR.TRCENA and CTRL.CYCCNTENA); LAR writes are accepted."""

    size = 0x1000
    REGISTERS = (
        Reg("CTRL", 0x000, 0x40000000, fields(("CYCCNTENA", 0), ("NUMCOMP", 28, 4, Access.RO))),
        Reg("CYCCNT", 0x004),
        Reg("CPICNT", 0x008), Reg("EXCCNT", 0x00C), Reg("SLEEPCNT", 0x010), Reg("LSUCNT", 0x014),
        Reg("FOLDCNT", 0x018), Reg("PCSR", 0x01C, access=Access.RO),
        *(Reg(f"{n}{i}", off + 0x10 * i) for i in range(4)
          for n, off in (("COMP", 0x20), ("MASK", 0x24), ("FUNCTION", 0x28))),
        Reg("LAR", 0xFB0, access=Access.WO),
        Reg("LSR", 0xFB4, 0x00000003, access=Access.RO),
    )

    def __init__(self, clock: VirtualClock, scs: SystemControlSpace, *, has_cyccnt: bool) -> None:
        super().__init__("DWT", DWT_BASE)
        self.clock = clock
        self.scs = scs
        self.has_cyccnt = has_cyccnt
        self.time_sources = frozenset({0x004})
        self._anchor_cycles = 0
        self._anchor_value = 0
        # CYCCNT word reads in C (native/timesource_fast.c), set up by raw_mmio; None: Python
        self.native: NativeTimeSource | None = None

    def raw_mmio(self, bus: Bus) -> tuple[object, object, object]:
        """The bus callbacks: CYCCNT reads in C where the native helpers build, else Python."""
        read, write = bus.python_callbacks(self)
        lib = timesource_fast.load() if self.has_cyccnt and bus.counter_address else None
        if lib is None:
            return read, write, None
        self.native = NativeTimeSource(lib, bus.counter_address, read)
        bus.native_time_source = self.native.state
        self.publish()
        return self.native.read_function, write, self.native.user_data

    def watch_flags(self, flags: list[Any]) -> None:
        """The native command lanes' deferred flags (the C side leaves CYCCNT to Python while
        one is raised)."""
        if self.native is not None:
            self.native.watch_flags(flags)

    def publish(self) -> None:
        """Tell the C side the counter's state (after every change of it)."""
        if self.native is not None:
            st = self.native.state
            st.counting = self.counting()
            st.anchor_cycles = self._anchor_cycles
            st.anchor_value = self._anchor_value

    def reset(self) -> None:
        super().reset()
        self._anchor_cycles = 0
        self._anchor_value = 0
        self.publish()

    def counting(self) -> bool:
        return (self.has_cyccnt and bool(self["CTRL"] & 1)
                and bool(self.scs["DEMCR"] >> 24 & 1))

    def _cyccnt(self) -> int:
        if not self.counting():
            return self._anchor_value
        return (self._anchor_value + self.clock.cycles - self._anchor_cycles) & 0xFFFFFFFF

    def on_read_CYCCNT(self, value: int) -> int:
        return self._cyccnt() if self.has_cyccnt else 0

    def time_source_value(self, offset: int) -> Callable[[], int] | None:
        """The bus's direct read of CYCCNT (the same value as the register-table path)."""
        if offset != 0x004:
            return None
        return self._cyccnt if self.has_cyccnt else (lambda: 0)

    def on_write_CYCCNT(self, old: int, new: int) -> None:
        self._anchor_value = new if self.has_cyccnt else 0
        self._anchor_cycles = self.clock.cycles

    def write(self, offset: int, size: int, value: int) -> None:
        before = self.counting()
        if offset & ~3 == 0 and before:
            self._anchor_value = self._cyccnt()
            self._anchor_cycles = self.clock.cycles
        super().write(offset, size, value)
        if not before and self.counting():
            self._anchor_cycles = self.clock.cycles
        self.publish()

    def demcr_changed(self, old: int, new: int) -> None:
        """DEMCR.TRCENA gates the counter: freeze or restart it at the current cycle."""
        was = bool(old >> 24 & 1) and self.has_cyccnt and bool(self["CTRL"] & 1)
        if was:
            self._anchor_value = (self._anchor_value + self.clock.cycles
                                  - self._anchor_cycles) & 0xFFFFFFFF
        self._anchor_cycles = self.clock.cycles
        self.publish()
