"""The virtual chip as its debug port sees it: cores, access ports, reset, time.

A :class:`VirtualSystem` wraps an emulated :class:`~extflash.emu.machine.Machine` (usually the
one of a :class:`~extflash.emu.virtual_board.VirtualBoard`) and presents it the way an STM32
presents itself to SWD:

* AP0 is the primary core's AHB-AP, with a ROM table that leads to the SCS, DWT and FPB;
* on the H7 an AHB-AP to the system bus (AP1) and an APB-AP (AP2) follow, and on a dual-core
  part AP3 reaches the Cortex-M4, which has its own private bus and debug registers;
* DBGMCU_IDCODE is a peripheral of the machine (so firmware sees it too);
* the nRESET line and AIRCR.SYSRESETREQ reset the system (memory kept, debug state kept,
  cores restart from the boot vector table unless DEMCR.VC_CORERESET halts them).

Time is deterministic: every probe transaction costs the time it would take on the wire
(:class:`WireTiming`: SWD bit times, plus a USB round trip whenever the host waits for an
answer), and the running core executes for exactly that long. Reading DHCSR in a loop therefore
lets the core run until it halts, writing a buffer while a loader runs overlaps the two as on
hardware, and the virtual clock gives transfer rates a real probe would see at that SWD
frequency.

Injected problems (:class:`Faults`) make the failure paths testable: a target that stops
answering (no ACK), another chip on the wire (wrong DPIDR and DEV_ID), read protection.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import unicorn

from extflash.emu.clock import FS_PER_S
from extflash.emu.machine import Machine
from extflash.emu.regmodel import Access, Peripheral, Reg
from extflash.errors import TargetError
from extflash.mcu import PartRef
from extflash.probe import ids
from extflash.probe.core import CoreDebug, MachineCore, ParkedCore
from extflash.probe.dap import (
    AccessPort,
    BusError,
    DebugPort,
    MemAp,
    bytes_to_words,
    words_to_bytes,
)

log = logging.getLogger(__name__)

TCM_REGIONS = ("ITCM", "DTCM")  # private to the Cortex-M7: the M4 cannot reach them


@dataclass
class WireTiming:
    """Cost of probe traffic in virtual time: ``bits_per_transfer`` SWD clock cycles per register
    transfer, and one USB round trip each time the host waits for the probe's answer (queued
    commands share it, as with CMSIS-DAP)."""

    swd_hz: int = 4_000_000
    round_trip_s: float = 125e-6  # a high-speed USB probe (CMSIS-DAP v2, ST-LINK/V3)
    bits_per_transfer: int = 46  # request, ACK, data, parity, turnarounds, idle

    def transfers_fs(self, transfers: int) -> int:
        return int(transfers * self.bits_per_transfer / self.swd_hz * FS_PER_S)

    @property
    def round_trip_fs(self) -> int:
        return int(self.round_trip_s * FS_PER_S)


@dataclass
class Faults:
    """Problems a test can inject."""

    silent: bool = False  # the target stopped answering (no ACK on any transfer)
    silent_after: int | None = None  # ... from this many probe transactions on
    dpidr: int | None = None  # another chip on the wire: this DPIDR ...
    dev_id: int | None = None  # ... and this DBGMCU DEV_ID
    read_protected: bool = False  # RDP level 1: memory access by the debugger is refused


class Dbgmcu(Peripheral):
    """DBGMCU: IDCODE (DEV_ID, REV_ID) and the low-power/freeze controls (power-on reset only)."""

    def __init__(self, base: int, idcode: int) -> None:
        super().__init__("DBGMCU", base, (
            Reg("IDCODE", 0x00, idcode, access=Access.RO),
            Reg("CR", 0x04),
            *(Reg(f"FZ{i}", 0x08 + 4 * i) for i in range(13)),
        ))

    def reset(self) -> None:
        """A system reset keeps DBGMCU (it belongs to the debug domain)."""

    def power_on(self) -> None:
        super().reset()


class SystemBus:
    """Accesses from an AP to the system: memory and peripherals of the machine."""

    def __init__(self, system: VirtualSystem, *, excluded: Sequence[tuple[int, int]] = ()) -> None:
        self.system = system
        self.machine = system.machine
        self.excluded = tuple(excluded)
        self.flash = tuple((m.start, m.end) for m in system.part.part.memory if m.kind == "flash")

    def _check(self, address: int, size: int, *, write: bool = False) -> None:
        reason = self.system.refuses(address)
        if reason:
            raise BusError(address, reason)
        for start, end in self.excluded:
            if start <= address < end:
                raise BusError(address, "not reachable from this access port")
        if write and any(s <= address < e for s, e in self.flash) and not self._writable(address):
            raise BusError(address, "internal flash is written through its controller")

    def _writable(self, address: int) -> bool:
        """Whether the core could store here now (a flash controller in program mode)."""
        return any(lo <= address <= hi and perms & unicorn.UC_PROT_WRITE
                   for lo, hi, perms in self.machine.uc.mem_regions())

    def read(self, address: int, size: int) -> int:
        self._check(address, size)
        m = self.machine.bus.find(address)
        if m is not None:
            return int(m.periph.read(address - m.base, size))
        return int.from_bytes(self._mem_read(address, size), "little")

    def write(self, address: int, size: int, value: int) -> None:
        self._check(address, size, write=True)
        m = self.machine.bus.find(address)
        if m is not None:
            m.periph.write(address - m.base, size, value)
            return
        self._mem_write(address, value.to_bytes(size, "little"))

    def read_words(self, address: int, count: int) -> list[int]:
        self._check(address, 4 * count)
        self._check(address + 4 * count - 4, 4)
        return bytes_to_words(self._mem_read(address, 4 * count))

    def write_words(self, address: int, words: Sequence[int]) -> None:
        self._check(address, 4 * len(words), write=True)
        self._check(address + 4 * len(words) - 4, 4, write=True)
        self._mem_write(address, words_to_bytes(words))

    def _mem_read(self, address: int, size: int) -> bytes:
        try:
            return self.machine.mem_read(address, size)
        except TargetError as exc:
            raise BusError(address, str(exc)) from None

    def _mem_write(self, address: int, data: bytes) -> None:
        try:
            self.machine.mem_write(address, data)
        except TargetError as exc:
            raise BusError(address, str(exc)) from None


class CoreBus:
    """A core's AHB-AP view: its private peripheral bus, then the system bus."""

    def __init__(self, core: CoreDebug, system_bus: SystemBus) -> None:
        self.core = core
        self.system_bus = system_bus

    def read(self, address: int, size: int) -> int:
        if ids.SCS_BASE - 0xE000 <= address < ids.PPB_END:
            return self.core.read(address, size)
        return self.system_bus.read(address, size)

    def write(self, address: int, size: int, value: int) -> None:
        if ids.SCS_BASE - 0xE000 <= address < ids.PPB_END:
            self.core.write(address, size, value)
        else:
            self.system_bus.write(address, size, value)

    def read_words(self, address: int, count: int) -> list[int]:
        if address + 4 * count > ids.SCS_BASE - 0xE000 and address < ids.PPB_END:
            return [self.read(address + 4 * i, 4) for i in range(count)]
        return self.system_bus.read_words(address, count)

    def write_words(self, address: int, words: Sequence[int]) -> None:
        if address + 4 * len(words) > ids.SCS_BASE - 0xE000 and address < ids.PPB_END:
            for i, w in enumerate(words):
                self.write(address + 4 * i, 4, w)
            return
        self.system_bus.write_words(address, words)


class VirtualSystem:
    """The debug view of a virtual chip. ``name`` is what probe UIDs refer to
    (``virtual:<name>``); ``board`` (optional) is a VirtualBoard, saved on :meth:`flush`."""

    def __init__(self, machine: Machine, *, name: str | None = None, board: Any = None,
                 timing: WireTiming | None = None, faults: Faults | None = None) -> None:
        self.machine = machine
        self.board = board
        self.part: PartRef = machine.part
        part = self.part.part
        self.name = (name or part.name).lower()
        self.timing = timing or WireTiming()
        self.faults = faults or Faults()
        self.nreset = False
        self.transactions = 0
        self.overlapped_bytes = 0  # written by the debugger while the primary core ran
        family = part.family
        boot = next((m.start for m in part.memory if m.kind == "flash"), 0x08000000)
        self.dbgmcu = Dbgmcu(ids.dbgmcu_address(part), ids.dev_id(part) | 0x1003 << 16)
        machine.add_peripheral(self.dbgmcu)
        model = ids.core_model(family.core)
        self.cores = [CoreDebug("core 0 (" + model.name + ")", MachineCore(machine, boot), model,
                                has_fpu=family.has_fpu, on_reset_request=self.core_reset_request)]
        system_bus = SystemBus(self)
        rom = ids.ROM_TABLE_BASE | 0b11
        aps: dict[int, AccessPort] = {0: MemAp(CoreBus(self.cores[0], system_bus), ids.AHB_AP_IDR,
                                               base=rom, wrap=ids.AHB_AP_WRAP)}
        if family.id.startswith("stm32h7"):
            aps[1] = MemAp(system_bus, ids.AHB_AP_IDR, wrap=ids.AHB_AP_WRAP)
            aps[2] = MemAp(system_bus, ids.APB_AP_IDR, prot_mask=0)
        if part.second_core is not None:
            second = ids.core_model(part.second_core)
            tcm = [(m.start, m.end) for m in part.memory if m.name in TCM_REGIONS]
            self.cores.append(CoreDebug("core 1 (" + second.name + ")", ParkedCore(second),
                                        second, has_fpu=True,
                                        on_reset_request=self.core_reset_request))
            aps[3] = MemAp(CoreBus(self.cores[1], SystemBus(self, excluded=tcm)),
                           ids.AHB_AP_IDR, base=rom, wrap=ids.AHB_AP_WRAP)
        self.dp = DebugPort(ids.dpidr(part), aps)
        self.power_on()

    # -- construction from a board ----------------------------------------------------------
    @classmethod
    def for_board(cls, board_name: str, *, flash_file: str | None = None,
                  timing: str = "typical", wire: WireTiming | None = None) -> VirtualSystem:
        """A shipped board (or board file) on the virtual board, with its flash file."""
        from extflash import board as boards
        from extflash.emu.virtual_board import VirtualBoard

        brd = boards.load(board_name)
        vb = VirtualBoard(brd, flash_file=flash_file, timing=timing)
        return cls(vb.machine, name=board_name, board=vb, timing=wire)

    # -- reset -------------------------------------------------------------------------------
    def power_on(self) -> None:
        self.dbgmcu.power_on()
        self.dp.power_on()
        for core in self.cores:
            core.power_on()
        self.system_reset()

    def system_reset(self) -> None:
        for core in self.cores:
            core.system_reset()
        self.apply_faults()  # option bytes and the injected chip identity survive resets
        log.debug("virtual %s: system reset", self.part.part.name)

    def core_reset_request(self, system: bool) -> None:
        if system:
            self.system_reset()
        else:
            self.cores[0].system_reset()

    def set_reset_line(self, asserted: bool) -> None:
        """Drive nRESET: while low nothing runs; releasing it resets the system."""
        if self.nreset and not asserted:
            self.nreset = False
            self.system_reset()
        self.nreset = asserted

    # -- faults and protection ---------------------------------------------------------------
    def refuses(self, address: int) -> str:
        """Why a debug access to system ``address`` fails now ("" when it does not)."""
        if self.nreset:
            return "the system is held in reset"
        if self.faults.read_protected and address >> 28 not in (0x4, 0x5):
            return "read protection (RDP level 1) blocks debug access"
        return ""

    def inject(self, **faults: Any) -> None:
        """Set :class:`Faults` fields (``silent=True``, ``dev_id=0x413``...) and apply them."""
        for name, value in faults.items():
            if not hasattr(self.faults, name):
                raise TypeError(f"unknown fault {name!r}")
            setattr(self.faults, name, value)
        self.apply_faults()

    def apply_faults(self) -> None:
        f = self.faults
        self.dp.answering = not f.silent
        self.dp.dpidr = f.dpidr if f.dpidr is not None else ids.dpidr(self.part.part)
        dev = f.dev_id if f.dev_id is not None else ids.dev_id(self.part.part)
        self.dbgmcu["IDCODE"] = dev | 0x1003 << 16
        rdp = ids.rdp_register(self.part.family)
        if rdp is not None:
            address, shift, mirrors = rdp
            level = 0xBB if f.read_protected else ids.RDP_LEVEL0
            for reg in (address, *mirrors):
                m = self.machine.bus.find(reg)
                if m is not None and (reg - m.base) & ~3 in m.periph.values:
                    offset = (reg - m.base) & ~3
                    word = m.periph.values[offset]
                    m.periph.values[offset] = (word & ~(0xFF << shift)) | level << shift

    # -- time --------------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        return self.machine.clock.now_fs / FS_PER_S

    def elapse(self, fs: int, *, transaction: bool = True) -> None:
        """``fs`` of virtual time pass: the primary core runs if it may; the clock advances.

        ``transaction`` is False when the host merely waits (no traffic on the wire).
        """
        self.transactions += transaction
        after = self.faults.silent_after
        if after is not None and self.transactions >= after:
            self.dp.answering = False
        primary = self.cores[0]
        ran = 0
        if not self.nreset and primary.running:
            try:
                ran = primary.execute(fs)
            except Exception as exc:
                log.warning("virtual core stopped by an emulator error: %s", exc)
                primary.lockup = True
        left = fs - ran
        if left > 0:
            self.machine.clock.advance_fs(left)

    def flush(self) -> None:
        """Persist the board's flash file, if there is one."""
        if self.board is not None and hasattr(self.board, "save"):
            self.board.save()
