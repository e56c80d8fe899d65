"""Cortex-M core facts and the exception mechanics unicorn leaves to us.

unicorn 2.1.4 executes M-profile instructions but models neither the SCS nor exception entry
and return. This module holds the per-core constants (unicorn CPU model, CPUID), register names,
fault-status bit meanings, and :class:`ExceptionUnit`, which stacks and unstacks exception frames
by hand (including the FP extension frame when CONTROL.FPCA is set).

Measured unicorn traps this code relies on (see the project's emulator notes):

* ``Uc(UC_ARCH_ARM, UC_MODE_THUMB)`` plus ``ctl_set_cpu_model`` before any mapping selects the
  real core; ``UC_MODE_MCLASS`` would force a Cortex-M33.
* Writing IPSR through ``reg_write`` does not rebuild QEMU's cached hflags; writing CPSR back
  does, after which a BX to an EXC_RETURN value raises interrupt 8 (exception exit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import unicorn
from unicorn import arm_const as A

CORE_MODELS: dict[str, int] = {
    "cortex-m0": A.UC_CPU_ARM_CORTEX_M0,
    "cortex-m0plus": A.UC_CPU_ARM_CORTEX_M0,
    "cortex-m3": A.UC_CPU_ARM_CORTEX_M3,
    "cortex-m4": A.UC_CPU_ARM_CORTEX_M4,
    "cortex-m7": A.UC_CPU_ARM_CORTEX_M7,
    "cortex-m33": A.UC_CPU_ARM_CORTEX_M33,
    "cortex-m55": A.UC_CPU_ARM_CORTEX_M33,  # closest model unicorn has (v8-M mainline)
}

# SCB_CPUID values (ARM TRMs; the revisions ST ships: M7 r1p2, M4 r0p1, M33 r0p4, M0+ r0p1).
CPUID: dict[str, int] = {
    "cortex-m0": 0x410CC200,
    "cortex-m0plus": 0x410CC601,
    "cortex-m3": 0x412FC231,
    "cortex-m4": 0x410FC241,
    "cortex-m7": 0x411FC272,
    "cortex-m33": 0x410FD214,
    "cortex-m55": 0x410FD220,
}

REGISTERS: dict[str, int] = {
    **{f"r{i}": getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)},
    "sp": A.UC_ARM_REG_SP, "lr": A.UC_ARM_REG_LR, "pc": A.UC_ARM_REG_PC,
    "xpsr": A.UC_ARM_REG_XPSR, "ipsr": A.UC_ARM_REG_IPSR, "msp": A.UC_ARM_REG_MSP,
    "psp": A.UC_ARM_REG_PSP, "primask": A.UC_ARM_REG_PRIMASK, "basepri": A.UC_ARM_REG_BASEPRI,
    "faultmask": A.UC_ARM_REG_FAULTMASK, "control": A.UC_ARM_REG_CONTROL,
    "fpscr": A.UC_ARM_REG_FPSCR,
    **{f"s{i}": getattr(A, f"UC_ARM_REG_S{i}") for i in range(32)},
    **{f"d{i}": getattr(A, f"UC_ARM_REG_D{i}") for i in range(16)},
}

# Exception numbers.
RESET, NMI, HARDFAULT, MEMMANAGE, BUSFAULT, USAGEFAULT = 1, 2, 3, 4, 5, 6
SVCALL, DEBUGMON, PENDSV, SYSTICK = 11, 12, 14, 15
EXCEPTION_NAMES = {NMI: "NMI", HARDFAULT: "HardFault", MEMMANAGE: "MemManage",
                   BUSFAULT: "BusFault", USAGEFAULT: "UsageFault", SVCALL: "SVCall",
                   DEBUGMON: "DebugMonitor", PENDSV: "PendSV", SYSTICK: "SysTick"}

# CFSR bits (ARMv7-M ARM B3.2.15): MMFSR [7:0], BFSR [15:8], UFSR [31:16].
CFSR_BITS: dict[int, str] = {
    0: "IACCVIOL", 1: "DACCVIOL", 3: "MUNSTKERR", 4: "MSTKERR", 5: "MLSPERR", 7: "MMARVALID",
    8: "IBUSERR", 9: "PRECISERR", 10: "IMPRECISERR", 11: "UNSTKERR", 12: "STKERR",
    13: "LSPERR", 15: "BFARVALID", 16: "UNDEFINSTR", 17: "INVSTATE", 18: "INVPC", 19: "NOCP",
    24: "UNALIGNED", 25: "DIVBYZERO",
}
HFSR_BITS: dict[int, str] = {1: "VECTTBL", 30: "FORCED", 31: "DEBUGEVT"}

CONTROL_SPSEL = 1 << 1
CONTROL_FPCA = 1 << 2
XPSR_T = 1 << 24
EXC_RETURN_MIN = 0xFFFFFF00

_FRAME = (A.UC_ARM_REG_R0, A.UC_ARM_REG_R1, A.UC_ARM_REG_R2, A.UC_ARM_REG_R3,
          A.UC_ARM_REG_R12, A.UC_ARM_REG_LR)
_FP_REGS = tuple(getattr(A, f"UC_ARM_REG_S{i}") for i in range(16))
BASIC_FRAME = 0x20
FP_FRAME = 0x68  # basic frame + s0..s15 + FPSCR + reserved word


def decode_bits(value: int, names: dict[int, str]) -> tuple[str, ...]:
    return tuple(name for bit, name in sorted(names.items()) if value >> bit & 1)


@dataclass
class ExceptionUnit:
    """Exception entry and return on a unicorn core (stacking done in Python).

    ``read32``/``write32`` access guest memory; ``vector_at`` reads the handler address of an
    exception number (through VTOR). The unit keeps the stack of active exceptions, so nested
    preemption and tail returns restore the right IPSR.
    """

    uc: unicorn.Uc
    has_fpu: bool
    read32: Callable[[int], int]
    write32: Callable[[int, int], None]

    def __post_init__(self) -> None:
        self.active: list[int] = []

    @property
    def current(self) -> int:
        return self.active[-1] if self.active else 0

    def _set_xpsr(self, xpsr: int) -> None:
        uc = self.uc
        uc.reg_write(A.UC_ARM_REG_XPSR, xpsr)
        # Rebuild QEMU's hflags (handler-mode flag) so a BX to EXC_RETURN is an exception exit.
        uc.reg_write(A.UC_ARM_REG_CPSR, uc.reg_read(A.UC_ARM_REG_CPSR))

    def enter(self, number: int, handler: int) -> None:
        """Stack the context and continue at ``handler`` as exception ``number``."""
        uc = self.uc
        control = uc.reg_read(A.UC_ARM_REG_CONTROL)
        thread = not self.active
        use_psp = thread and bool(control & CONTROL_SPSEL)
        fp = self.has_fpu and bool(control & CONTROL_FPCA)
        sp = uc.reg_read(A.UC_ARM_REG_PSP if use_psp else A.UC_ARM_REG_MSP)
        xpsr = uc.reg_read(A.UC_ARM_REG_XPSR)
        pc = uc.reg_read(A.UC_ARM_REG_PC)
        size = FP_FRAME if fp else BASIC_FRAME
        frame = sp - size
        if frame & 4:
            frame -= 4
            xpsr |= 1 << 9  # stack was realigned
        else:
            xpsr &= ~(1 << 9)
        words = [uc.reg_read(r) for r in _FRAME] + [pc & ~1, xpsr]
        if fp:
            words += [uc.reg_read(r) for r in _FP_REGS]
            words += [uc.reg_read(A.UC_ARM_REG_FPSCR), 0]
        for i, w in enumerate(words):
            self.write32(frame + 4 * i, w)
        exc_return = 0xFFFFFFE1 if fp else 0xFFFFFFF1
        if thread:
            exc_return |= 0x8 | (0x4 if use_psp else 0)
        uc.reg_write(A.UC_ARM_REG_CONTROL, control & ~(CONTROL_SPSEL | CONTROL_FPCA))
        uc.reg_write(A.UC_ARM_REG_MSP, frame if not use_psp else uc.reg_read(A.UC_ARM_REG_MSP))
        if use_psp:
            uc.reg_write(A.UC_ARM_REG_PSP, frame)
        self.active.append(number)
        self._set_xpsr(XPSR_T | number)
        uc.reg_write(A.UC_ARM_REG_LR, exc_return)
        uc.reg_write(A.UC_ARM_REG_PC, handler | 1)

    def leave(self, exc_return: int) -> None:
        """Unstack the frame selected by ``exc_return`` (called on interrupt 8)."""
        uc = self.uc
        use_psp = bool(exc_return & 0x4)
        fp = not exc_return & 0x10
        sp = uc.reg_read(A.UC_ARM_REG_PSP if use_psp else A.UC_ARM_REG_MSP)
        count = (FP_FRAME if fp else BASIC_FRAME) // 4
        words = [self.read32(sp + 4 * i) for i in range(count)]
        for reg, w in zip(_FRAME, words, strict=False):
            uc.reg_write(reg, w)
        if fp:
            for reg, w in zip(_FP_REGS, words[8:24], strict=True):
                uc.reg_write(reg, w)
            uc.reg_write(A.UC_ARM_REG_FPSCR, words[24])
        xpsr = words[7]
        sp += count * 4 + (4 if xpsr & (1 << 9) else 0)
        if self.active:
            self.active.pop()
        control = uc.reg_read(A.UC_ARM_REG_CONTROL) & ~(CONTROL_SPSEL | CONTROL_FPCA)
        if use_psp:
            control |= CONTROL_SPSEL
        if fp:
            control |= CONTROL_FPCA
        uc.reg_write(A.UC_ARM_REG_CONTROL, control)
        uc.reg_write(A.UC_ARM_REG_PSP if use_psp else A.UC_ARM_REG_MSP, sp)
        self._set_xpsr((xpsr & ~(1 << 9) & ~0x1FF) | XPSR_T | self.current)
        uc.reg_write(A.UC_ARM_REG_PC, words[6] | 1)

    def reset(self) -> None:
        self.active.clear()
