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

import contextlib
import ctypes
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import unicorn
from unicorn import arm_const as A
from unicorn.unicorn_py3.unicorn import uclib

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
WIDE_REGISTERS = frozenset(n for n in REGISTERS if n[0] == "d")  # 64 bits: not in a batch

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


def _raw(name: str, *argtypes: type) -> Callable[..., int]:
    """unicorn's C function ``name`` with plain integer arguments: a call with addresses as
    ints costs ~0.5 us, the binding's prototype (checking pointer types) ~1.3 us."""
    func = type(getattr(uclib, name))((name, uclib))
    func.argtypes = argtypes
    func.restype = ctypes.c_int
    return func


_P, _U64 = ctypes.c_void_p, ctypes.c_uint64
# (handle, ids, value pointers, count) / (handle, address, buffer, size) / (handle, id, value)
raw_reg_read_batch = _raw("uc_reg_read_batch", _P, _P, _P, ctypes.c_int)
raw_reg_write_batch = _raw("uc_reg_write_batch", _P, _P, _P, ctypes.c_int)
raw_mem_read = _raw("uc_mem_read", _P, _U64, _P, _U64)
raw_mem_write = _raw("uc_mem_write", _P, _U64, _P, _U64)
raw_reg_read = _raw("uc_reg_read", _P, ctypes.c_int, _P)


def handle(uc: unicorn.Uc) -> int:
    """The engine handle as an int, for the ``raw_*`` functions."""
    uch = uc._uch
    assert uch is not None and uch.value is not None
    return int(uch.value)


PROBE_PAGE = 0x1000  # where the probes of unicorn's internals run (before a machine maps it)


@contextlib.contextmanager
def probe_page(uc: unicorn.Uc) -> Iterator[int]:
    """A page at :data:`PROBE_PAGE` for a probe's code and data, on an engine that maps nothing
    there yet: unmapped again with its translated code, and the core's registers and flags as
    they were before."""
    fresh = uc.context_save()
    uc.mem_map(PROBE_PAGE, 0x1000)
    try:
        yield PROBE_PAGE
    finally:
        uc.mem_unmap(PROBE_PAGE, 0x1000)
        uc.ctl_remove_cache(PROBE_PAGE, PROBE_PAGE + 0x1000)
        uc.context_restore(fresh)


def decode_bits(value: int, names: dict[int, str]) -> tuple[str, ...]:
    return tuple(name for bit, name in sorted(names.items()) if value >> bit & 1)


class RegisterBatch:
    """A fixed list of 32-bit core registers read or written in one ``uc_reg_*_batch`` call
    (the binding's per-register path costs microseconds per register; exception entry and
    return touch a dozen or more)."""

    def __init__(self, uc: unicorn.Uc, regs: Sequence[int]) -> None:
        n = len(regs)
        self._uch = handle(uc)
        self._ids = (ctypes.c_int * n)(*regs)
        self._values = (ctypes.c_uint32 * n)()
        base = ctypes.addressof(self._values)
        self._ptrs = (ctypes.c_void_p * n)(*(base + 4 * i for i in range(n)))
        self._n = n
        self._call = (self._uch, ctypes.addressof(self._ids), ctypes.addressof(self._ptrs), n)

    def read(self) -> list[int]:
        status = raw_reg_read_batch(*self._call)
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)
        return self._values[:]

    def read_first(self) -> int:
        """The first register's value (all are read; for one-register batches)."""
        status = raw_reg_read_batch(*self._call)
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)
        return self._values[0]

    def write(self, values: Sequence[int]) -> None:
        self._values[:] = list(values)  # c_uint32 elements keep the low 32 bits of the value
        status = raw_reg_write_batch(*self._call)
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)


# What entry reads (the frame's registers first, in frame order) and what it writes before and
# after rebuilding the hflags from CPSR; the order of writes is the one a register-at-a-time
# sequence would use (CONTROL before the stack pointers, XPSR before CPSR, PC last).
_ENTRY_READ = (*_FRAME, A.UC_ARM_REG_PC, A.UC_ARM_REG_XPSR, A.UC_ARM_REG_CONTROL,
               A.UC_ARM_REG_MSP, A.UC_ARM_REG_PSP)
_FP_READ = (*_FP_REGS, A.UC_ARM_REG_FPSCR)
_STACK_WRITE = {False: (A.UC_ARM_REG_CONTROL, A.UC_ARM_REG_MSP, A.UC_ARM_REG_XPSR),
                True: (A.UC_ARM_REG_CONTROL, A.UC_ARM_REG_MSP, A.UC_ARM_REG_PSP,
                       A.UC_ARM_REG_XPSR)}
_JUMP_WRITE = (A.UC_ARM_REG_CPSR, A.UC_ARM_REG_LR, A.UC_ARM_REG_PC)
_RETURN_READ = (A.UC_ARM_REG_CONTROL, A.UC_ARM_REG_MSP, A.UC_ARM_REG_PSP)
_RETURN_WRITE = {False: (*_FRAME, A.UC_ARM_REG_CONTROL, A.UC_ARM_REG_MSP, A.UC_ARM_REG_XPSR),
                 True: (*_FRAME, A.UC_ARM_REG_CONTROL, A.UC_ARM_REG_PSP, A.UC_ARM_REG_XPSR)}
_FP_WRITE = (*_FP_REGS, A.UC_ARM_REG_FPSCR)


# Register ids in the order of native/exceptions_fast.c's enum.
_NATIVE_IDS = (*_FRAME, A.UC_ARM_REG_PC, A.UC_ARM_REG_XPSR, A.UC_ARM_REG_CONTROL,
               A.UC_ARM_REG_MSP, A.UC_ARM_REG_PSP, A.UC_ARM_REG_CPSR, *_FP_REGS,
               A.UC_ARM_REG_FPSCR)


class _NativeUnit(ctypes.Structure):
    """``struct exc_unit`` of native/exceptions_fast.c."""

    _fields_ = [("uc", ctypes.c_void_p), ("reg_read_batch", ctypes.c_void_p),
                ("reg_write_batch", ctypes.c_void_p), ("mem_read", ctypes.c_void_p),
                ("mem_write", ctypes.c_void_p), ("has_fpu", ctypes.c_int32),
                ("id", ctypes.c_int32 * len(_NATIVE_IDS))]


@dataclass
class _NativeExceptions:
    """The C exception entry and return (native/exceptions_fast.c) and their unit."""

    unit: _NativeUnit
    address: int  # of unit
    enter: Callable[..., int]  # (unit, number, handler, thread) -> unicorn status
    leave: Callable[..., int]  # (unit, exc_return, current after) -> unicorn status
    enter_address: int  # of the C functions, for other C code
    leave_address: int


def _native_exceptions(uc: unicorn.Uc, has_fpu: bool) -> _NativeExceptions | None:
    """The C exception unit bound to ``uc``, or None (no C compiler, EXTFLASH_NATIVE=0)."""
    from extflash.emu import native

    lib = native.load("exceptions_fast")
    if lib is None:
        return None

    functions = (uclib.uc_reg_read_batch, uclib.uc_reg_write_batch, uclib.uc_mem_read,
                 uclib.uc_mem_write)
    unit = _NativeUnit(handle(uc), *map(address_of_function, functions), int(has_fpu),
                       (ctypes.c_int32 * len(_NATIVE_IDS))(*_NATIVE_IDS))
    enter, leave = lib.exc_enter, lib.exc_leave
    enter.argtypes = (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int32)
    leave.argtypes = (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32)
    enter.restype = leave.restype = ctypes.c_int
    return _NativeExceptions(unit, ctypes.addressof(unit), enter, leave,
                             address_of_function(enter), address_of_function(leave))


def address_of_function(function: Any) -> int:
    """The address of a ctypes foreign function (or callback)."""
    return int(ctypes.cast(function, ctypes.c_void_p).value or 0)


@dataclass
class ExceptionUnit:
    """Exception entry and return on a unicorn core.

    The frame moves between the registers and guest memory in one batch each way: in C
    (native/exceptions_fast.c, one call) where the native helpers build, else here in Python
    (``native=False`` forces it; both give identical results). The unit keeps the stack of
    active exceptions, so nested preemption and tail returns restore the right IPSR.
    """

    uc: unicorn.Uc
    has_fpu: bool
    native: bool = True

    def __post_init__(self) -> None:
        self.active: list[int] = []
        uc = self.uc
        self._native = _native_exceptions(uc, self.has_fpu) if self.native else None
        self._entry_read = RegisterBatch(uc, _ENTRY_READ)
        self._fp_read = RegisterBatch(uc, _FP_READ)
        self._stack_write = {k: RegisterBatch(uc, v) for k, v in _STACK_WRITE.items()}
        self._jump_write = RegisterBatch(uc, _JUMP_WRITE)
        self._cpsr = RegisterBatch(uc, (A.UC_ARM_REG_CPSR,))
        self._return_read = RegisterBatch(uc, _RETURN_READ)
        self._return_write = {k: RegisterBatch(uc, v) for k, v in _RETURN_WRITE.items()}
        self._fp_write = RegisterBatch(uc, _FP_WRITE)
        self._uch = handle(uc)
        self._frame = (ctypes.c_uint32 * (FP_FRAME // 4))()  # the frame being (un)stacked
        self._frame_address = ctypes.addressof(self._frame)
        # (number, entered) on every exception entry and return: the report's interrupt rows
        self.listeners: list[Callable[[int, bool], None]] = []

    @property
    def current(self) -> int:
        return self.active[-1] if self.active else 0

    @property
    def native_unit(self) -> _NativeExceptions | None:
        """The C side (native/exceptions_fast.c), for other C code that enters exceptions."""
        return self._native

    def entered_natively(self, number: int) -> None:
        """Exception ``number`` was entered by C code (native/ticks_fast.c) with the C side's
        entry: it is active from now on."""
        self.active.append(number)
        for listener in self.listeners:
            listener(number, True)

    def _finish(self, stack: RegisterBatch, stack_values: Sequence[int], lr: int,
                pc: int) -> None:
        """Write CONTROL, the stack pointers and XPSR, rebuild QEMU's hflags (handler-mode
        flag, so a BX to EXC_RETURN is an exception exit) by writing CPSR back, then jump."""
        stack.write(stack_values)
        self._jump_write.write((self._cpsr.read_first(), lr, pc))

    def enter(self, number: int, handler: int) -> None:
        """Stack the context and continue at ``handler`` as exception ``number``."""
        native = self._native
        if native is not None:
            status = native.enter(native.address, number, handler, not self.active)
            if status != unicorn.UC_ERR_OK:
                raise unicorn.UcError(status)
            self.active.append(number)
            for listener in self.listeners:
                listener(number, True)
            return
        *frame_regs, pc, xpsr, control, msp, psp = self._entry_read.read()
        thread = not self.active
        use_psp = thread and bool(control & CONTROL_SPSEL)
        fp = self.has_fpu and bool(control & CONTROL_FPCA)
        sp = psp if use_psp else msp
        size = FP_FRAME if fp else BASIC_FRAME
        frame = sp - size
        if frame & 4:
            frame -= 4
            xpsr |= 1 << 9  # stack was realigned
        else:
            xpsr &= ~(1 << 9)
        words = [*frame_regs, pc & ~1, xpsr]
        if fp:
            words += [*self._fp_read.read(), 0]
        self._frame[:len(words)] = words  # type: ignore[assignment]
        status = raw_mem_write(self._uch, frame, self._frame_address, 4 * len(words))
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)
        exc_return = 0xFFFFFFE1 if fp else 0xFFFFFFF1
        if thread:
            exc_return |= 0x8 | (0x4 if use_psp else 0)
        control &= ~(CONTROL_SPSEL | CONTROL_FPCA)
        xpsr = XPSR_T | number
        self.active.append(number)
        for listener in self.listeners:
            listener(number, True)
        if use_psp:
            self._finish(self._stack_write[True], (control, msp, frame, xpsr), exc_return,
                         handler | 1)
        else:
            self._finish(self._stack_write[False], (control, frame, xpsr), exc_return,
                         handler | 1)

    def leave(self, exc_return: int) -> None:
        """Unstack the frame selected by ``exc_return`` (called on interrupt 8)."""
        native = self._native
        if native is not None:
            active = self.active
            after = active[-2] if len(active) > 1 else 0
            status = native.leave(native.address, exc_return, after)
            if status != unicorn.UC_ERR_OK:
                raise unicorn.UcError(status)
            if active:
                left = active.pop()
                for listener in self.listeners:
                    listener(left, False)
            return
        use_psp = bool(exc_return & 0x4)
        fp = not exc_return & 0x10
        control, msp, psp = self._return_read.read()
        sp = psp if use_psp else msp
        count = (FP_FRAME if fp else BASIC_FRAME) // 4
        status = raw_mem_read(self._uch, sp, self._frame_address, 4 * count)
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)
        words = self._frame[:count]
        xpsr = words[7]
        sp += count * 4 + (4 if xpsr & (1 << 9) else 0)
        if self.active:
            left = self.active.pop()
            for listener in self.listeners:
                listener(left, False)
        control &= ~(CONTROL_SPSEL | CONTROL_FPCA)
        if use_psp:
            control |= CONTROL_SPSEL
        if fp:
            control |= CONTROL_FPCA
            self._fp_write.write(words[8:25])
        xpsr = (xpsr & ~(1 << 9) & ~0x1FF) | XPSR_T | self.current
        stack = (*words[:len(_FRAME)], control, sp, xpsr)
        self._finish(self._return_write[use_psp], stack, words[5], words[6] | 1)

    def reset(self) -> None:
        self.active.clear()
