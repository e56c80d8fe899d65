"""Halting debug of one virtual Cortex-M core, as a debugger sees it through its MEM-AP.

:class:`CoreDebug` owns the core's debug registers and run state:

* DHCSR: C_DEBUGEN, C_HALT, C_STEP, C_MASKINTS (written with DBGKEY) and the status bits
  S_REGRDY, S_HALT, S_LOCKUP, S_RETIRE_ST and S_RESET_ST (the last two sticky, cleared by a
  read). Entering debug state sets C_HALT, as the architecture says;
* DCRSR/DCRDR register transfers (R0-R12, SP, LR, DebugReturnAddress, xPSR, MSP, PSP, the
  CONTROL/FAULTMASK/BASEPRI/PRIMASK word, FPSCR, S0-S31);
* DFSR (HALTED, BKPT, VCATCH...), DEMCR vector catch (reset and fault catches), the FPB
  comparators (v1 or v2 encoding), and the read-only identification words of the private bus.

The core itself is a :class:`CoreBackend`: :class:`MachineCore` runs on the emulator's
:class:`~extflash.emu.machine.Machine`; :class:`ParkedCore` is a second core (the Cortex-M4 of
a dual-core H7) that is never given code to run here: it only has registers and debug state, so
a debugger can find it, halt it and resume it.

Modelling choices: a BKPT instruction halts the core (DFSR.BKPT) when C_DEBUGEN is set; a fault
the loader has no handler for halts the core when the matching DEMCR vector catch is set
(DFSR.VCATCH, at the faulting instruction, without stacking a frame) and locks it up otherwise
(S_LOCKUP). A fault taken by the loader's own HardFault handler runs that handler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from extflash.errors import TargetError
from extflash.probe.dap import BusError
from extflash.probe.ids import FPB_BASE, ROM_TABLE_BASE, CoreModel, ppb_constants

log = logging.getLogger(__name__)

DHCSR, DCRSR, DCRDR, DEMCR = 0xE000EDF0, 0xE000EDF4, 0xE000EDF8, 0xE000EDFC
DFSR, AIRCR, CPUID = 0xE000ED30, 0xE000ED0C, 0xE000ED00
DBGKEY = 0xA05F
C_DEBUGEN, C_HALT, C_STEP, C_MASKINTS, C_SNAPSTALL = 1, 2, 4, 8, 32
S_REGRDY, S_HALT, S_SLEEP, S_LOCKUP = 1 << 16, 1 << 17, 1 << 18, 1 << 19
S_RETIRE_ST, S_RESET_ST = 1 << 24, 1 << 25
DFSR_HALTED, DFSR_BKPT, DFSR_DWTTRAP, DFSR_VCATCH, DFSR_EXTERNAL = 1, 2, 4, 8, 16
VC_CORERESET, VC_HARDERR = 1 << 0, 1 << 10
VC_FAULTS = 0x7F0  # MMERR..HARDERR: any of them catches a fault with no handler
AIRCR_VECTKEY = 0x05FA
AIRCR_VECTRESET, AIRCR_SYSRESETREQ = 1 << 0, 1 << 2
DCRSR_REGWNR = 1 << 16
NO_BREAKPOINT = 0xFFFFFFF4  # never fetched: not an EXC_RETURN value, not memory

# DCRSR.REGSEL -> register name (ARMv7-M C1.6.3); 20 is the CONTROL/FAULTMASK/BASEPRI/PRIMASK
# word, handled separately.
REGSEL = {**{i: f"r{i}" for i in range(13)}, 13: "sp", 14: "lr", 15: "pc", 16: "xpsr",
          17: "msp", 18: "psp", 33: "fpscr", **{64 + i: f"s{i}" for i in range(32)}}
CFBP = 20
CFBP_FIELDS = (("primask", 0), ("basepri", 8), ("faultmask", 16), ("control", 24))


@dataclass(frozen=True)
class Stop:
    """Why a slice of execution ended early: ``"breakpoint"`` (BKPT or FPB), ``"fault"``,
    ``"lockup"``; ``consumed_fs`` is the virtual time the core ran."""

    reason: str
    consumed_fs: int
    detail: str = ""


class CoreBackend(Protocol):
    """A core the debug logic controls."""

    def reg_read(self, name: str) -> int: ...

    def reg_write(self, name: str, value: int) -> None: ...

    def ppb_read(self, address: int, size: int) -> int: ...

    def ppb_write(self, address: int, size: int, value: int) -> None: ...

    def execute(self, budget_fs: int, breakpoint: int) -> Stop | None:
        """Run up to ``budget_fs`` of virtual time, or until a stop (returned)."""
        ...

    def step(self) -> Stop | None: ...

    def reset(self) -> None:
        """Core registers to their reset values and PC/MSP from the boot vector table."""
        ...


class Fpb:
    """The Flash Patch and Breakpoint unit: breakpoint comparators only (no remapping)."""

    def __init__(self, model: CoreModel) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        self.enabled = False
        self.comps = [0] * self.model.fpb_comparators

    def read(self, address: int) -> int:
        offset = address - FPB_BASE
        if offset == 0:
            return self.model.fpb_ctrl | int(self.enabled)
        index = (offset - 8) // 4
        if 0 <= index < len(self.comps):
            return self.comps[index]
        return 0

    def write(self, address: int, value: int) -> None:
        offset = address - FPB_BASE
        if offset == 0:
            if value & 2:  # KEY must be written as 1
                self.enabled = bool(value & 1)
            return
        index = (offset - 8) // 4
        if 0 <= index < len(self.comps):
            self.comps[index] = value & 0xFFFFFFFF

    def addresses(self) -> list[int]:
        """The instruction addresses the enabled comparators break on."""
        if not self.enabled:
            return []
        out = []
        for comp in self.comps:
            if not comp & 1:
                continue
            if self.model.fpb_rev2:
                out.append(comp & 0xFFFFFFFE)
            else:
                match = comp >> 30  # 1: lower halfword, 2: upper halfword, 3: both
                word = comp & 0x1FFFFFFC
                if match in (1, 3):
                    out.append(word)
                if match in (2, 3):
                    out.append(word + 2)
        return out


class CoreDebug:
    """The debug registers and run state of one core. ``on_reset_request(system)`` is called
    for AIRCR SYSRESETREQ (``True``) and VECTRESET (``False``) writes."""

    def __init__(self, name: str, backend: CoreBackend, model: CoreModel, *, has_fpu: bool,
                 on_reset_request: Callable[[bool], None]) -> None:
        self.name = name
        self.backend = backend
        self.model = model
        self.constants = ppb_constants(model, has_fpu=has_fpu)
        self.debug_pages = frozenset({ROM_TABLE_BASE >> 12, FPB_BASE >> 12})
        self.fpb = Fpb(model)
        self.on_reset_request = on_reset_request
        self.ctrl = 0
        self.demcr = 0
        self.power_on()

    # -- state -------------------------------------------------------------------------------
    def power_on(self) -> None:
        """Power-on reset: the debug logic too."""
        self.ctrl = 0
        self.demcr = 0
        self.fpb.reset()
        self.dcrdr = 0
        self.halted = False
        self.lockup = False
        self.dfsr = 0
        self.sticky = S_RESET_ST
        self.regrdy = True

    @property
    def running(self) -> bool:
        return not self.halted and not self.lockup

    def enter_debug(self, cause: int) -> None:
        self.halted = True
        self.lockup = False
        self.ctrl |= C_HALT
        self.dfsr |= cause

    def system_reset(self) -> None:
        """After a system or core reset: the debug registers survive; vector catch may halt."""
        self.backend.reset()
        self.halted = False
        self.lockup = False
        self.sticky |= S_RESET_ST
        if self.ctrl & C_DEBUGEN and self.demcr & VC_CORERESET:
            self.enter_debug(DFSR_VCATCH)

    # -- execution ---------------------------------------------------------------------------
    def _breakpoint(self) -> int:
        addresses = self.fpb.addresses()
        if len(addresses) > 1:
            log.debug("%s: %d FPB comparators enabled; the virtual core stops on the first only",
                      self.name, len(addresses))
        return addresses[0] if addresses else NO_BREAKPOINT

    def execute(self, budget_fs: int) -> int:
        """Let the core run for ``budget_fs``; returns the time it actually ran."""
        if not self.running or budget_fs <= 0:
            return 0
        stop = self.backend.execute(budget_fs, self._breakpoint())
        if stop is None:
            self.sticky |= S_RETIRE_ST
            return budget_fs
        self.sticky |= S_RETIRE_ST
        self._stopped(stop)
        return stop.consumed_fs

    def _stopped(self, stop: Stop) -> None:
        if stop.reason == "breakpoint" and self.ctrl & C_DEBUGEN:
            self.enter_debug(DFSR_BKPT)
        elif stop.reason == "fault" and self.ctrl & C_DEBUGEN and self.demcr & VC_FAULTS:
            self.enter_debug(DFSR_VCATCH)
        else:
            log.debug("%s locked up: %s %s", self.name, stop.reason, stop.detail)
            self.lockup = True

    def _step(self) -> None:
        self.halted = False
        stop = self.backend.step()
        self.sticky |= S_RETIRE_ST
        if stop is not None and stop.reason != "breakpoint":
            self._stopped(stop)
            if self.lockup:
                return
        self.enter_debug(DFSR_BKPT if stop is not None else DFSR_HALTED)

    # -- private peripheral bus --------------------------------------------------------------
    def read(self, address: int, size: int) -> int:
        word = address & ~3
        value = self._read_word(word)
        shift = 8 * (address & 3)
        return (value >> shift) & ((1 << 8 * size) - 1)

    def _read_word(self, word: int) -> int:
        if word == DHCSR:
            value = (self.ctrl | (S_REGRDY if self.regrdy else 0) | (S_HALT if self.halted else 0)
                     | (S_LOCKUP if self.lockup else 0) | self.sticky)
            self.sticky = 0
            return value
        if word == DCRDR:
            return self.dcrdr
        if word == DCRSR:
            return 0
        if word == DFSR:
            return self.dfsr
        if word == DEMCR:
            return self.demcr
        if FPB_BASE <= word < FPB_BASE + 0xFD0:
            return self.fpb.read(word)
        if word in self.constants:
            return self.constants[word]
        if word >> 12 in self.debug_pages:
            return 0  # the rest of a component the debug logic answers itself
        return self.backend.ppb_read(word, 4)

    def write(self, address: int, size: int, value: int) -> None:
        word = address & ~3
        if word in (DHCSR, DCRSR, DCRDR, DFSR, DEMCR, AIRCR) or (
                FPB_BASE <= word < FPB_BASE + 0xFD0):
            value = (value << 8 * (address & 3)) & 0xFFFFFFFF
            self._write_word(word, value)
        elif word in self.constants:
            return  # identification registers are read-only
        else:
            self.backend.ppb_write(address, size, value)

    def _write_word(self, word: int, value: int) -> None:
        if word == DHCSR:
            self._write_dhcsr(value)
        elif word == DCRSR:
            self._transfer(value)
        elif word == DCRDR:
            self.dcrdr = value
        elif word == DFSR:
            self.dfsr &= ~value  # write-one-to-clear
        elif word == DEMCR:
            self.demcr = value & 0x010F07F1
            self.backend.ppb_write(DEMCR, 4, self.demcr)  # TRCENA gates the DWT
        elif word == AIRCR:
            self._write_aircr(value)
        else:
            self.fpb.write(word, value)

    def _write_dhcsr(self, value: int) -> None:
        if value >> 16 != DBGKEY:
            return
        ctrl = value & (C_DEBUGEN | C_HALT | C_STEP | C_MASKINTS | C_SNAPSTALL)
        if not ctrl & C_DEBUGEN:
            ctrl = 0
        self.ctrl = ctrl
        if ctrl & C_HALT:
            if not self.halted:
                self.enter_debug(DFSR_HALTED)
        elif self.halted:
            if ctrl & C_STEP:
                self._step()
            else:
                self.halted = False

    def _write_aircr(self, value: int) -> None:
        if value >> 16 != AIRCR_VECTKEY:
            return
        self.backend.ppb_write(AIRCR, 4, value & ~(AIRCR_VECTRESET | AIRCR_SYSRESETREQ))
        if value & AIRCR_SYSRESETREQ:
            self.on_reset_request(True)
        elif value & AIRCR_VECTRESET:
            self.on_reset_request(False)

    def _transfer(self, dcrsr: int) -> None:
        regsel = dcrsr & 0x7F
        write = bool(dcrsr & DCRSR_REGWNR)
        if not self.halted or (regsel not in REGSEL and regsel != CFBP):
            self.regrdy = False  # UNPREDICTABLE on hardware; make it visible
            return
        self.regrdy = True
        if regsel == CFBP:
            if write:
                for name, shift in CFBP_FIELDS:
                    self.backend.reg_write(name, (self.dcrdr >> shift) & 0xFF)
            else:
                self.dcrdr = sum((self.backend.reg_read(n) & 0xFF) << s for n, s in CFBP_FIELDS)
            return
        name = REGSEL[regsel]
        if write:
            value = self.dcrdr & ~1 if name == "pc" else self.dcrdr
            self.backend.reg_write(name, value)
        else:
            self.dcrdr = self.backend.reg_read(name) & 0xFFFFFFFF


class MachineCore:
    """The emulator's core as a :class:`CoreBackend`. ``boot`` is the vector table address."""

    def __init__(self, machine: object, boot: int) -> None:
        from extflash.emu.machine import Machine

        assert isinstance(machine, Machine)
        self.machine = machine
        self.boot = boot

    def reg_read(self, name: str) -> int:
        return self.machine.reg_read(name)

    def reg_write(self, name: str, value: int) -> None:
        self.machine.reg_write(name, value & 0xFFFFFFFF)

    def ppb_read(self, address: int, size: int) -> int:
        m = self.machine.bus.find(address)
        if m is None:
            raise BusError(address, "nothing on the private peripheral bus here")
        return int(m.periph.read(address - m.base, size))

    def ppb_write(self, address: int, size: int, value: int) -> None:
        m = self.machine.bus.find(address)
        if m is None:
            raise BusError(address, "nothing on the private peripheral bus here")
        m.periph.write(address - m.base, size, value)

    def execute(self, budget_fs: int, breakpoint: int) -> Stop | None:
        pc = self.machine.reg_read("pc")
        result = self.machine.run(pc, stop_at=breakpoint, timeout_fs=budget_fs)
        if result.reason == "timeout":
            return None
        if result.reason == "returned":  # reached the FPB breakpoint
            return Stop("breakpoint", result.time_fs)
        detail = str(result.fault) if result.fault is not None else ""
        return Stop(result.reason, result.time_fs, detail)

    def step(self) -> Stop | None:
        m = self.machine
        result = m.run(m.reg_read("pc"), stop_at=NO_BREAKPOINT, timeout_fs=m.clock.fs_per_cycle)
        if result.reason == "timeout":
            return None
        return Stop(result.reason, result.time_fs, str(result.fault or ""))

    def reset(self) -> None:
        m = self.machine
        demcr = m.scs["DEMCR"]
        m.reset()
        m.scs["DEMCR"] = demcr  # the debug domain is not reset by a system reset
        try:
            sp, pc = (int.from_bytes(m.mem_read(self.boot + 4 * i, 4), "little") for i in (0, 1))
        except TargetError:  # no memory at the boot address: the vector fetch faults
            sp, pc = 0, 0xFFFFFFFE
        m.reg_write("msp", sp & ~3)
        m.reg_write("sp", sp & ~3)
        m.reg_write("pc", pc & ~1)
        m.reg_write("xpsr", (pc & 1) << 24)


class ParkedCore:
    """A core that holds registers but never runs code here (a dual-core part's second core)."""

    def __init__(self, model: CoreModel) -> None:
        self.model = model
        self.regs: dict[str, int] = {}
        self.ppb: dict[int, int] = {}
        self.reset()

    def reg_read(self, name: str) -> int:
        return self.regs.get(name, 0)

    def reg_write(self, name: str, value: int) -> None:
        self.regs[name] = value & 0xFFFFFFFF
        if name == "sp":
            self.regs["msp"] = self.regs[name]

    def ppb_read(self, address: int, size: int) -> int:
        word = self.ppb.get(address & ~3, 0)
        return (word >> 8 * (address & 3)) & ((1 << 8 * size) - 1)

    def ppb_write(self, address: int, size: int, value: int) -> None:
        word = address & ~3
        shift = 8 * (address & 3)
        mask = ((1 << 8 * size) - 1) << shift
        if word == CPUID:
            return
        self.ppb[word] = (self.ppb.get(word, 0) & ~mask) | ((value << shift) & mask)

    def execute(self, budget_fs: int, breakpoint: int) -> Stop | None:
        return None  # it "runs" without touching anything the tests can see

    def step(self) -> Stop | None:
        return None

    def reset(self) -> None:
        self.regs = {"xpsr": 1 << 24, "pc": 0, "sp": 0, "msp": 0}
        self.ppb = {CPUID: self.model.cpuid, 0xE000ED0C: 0xFA050000, 0xE000ED14: 0x200,
                    0xE0001000: 0x40000000}
