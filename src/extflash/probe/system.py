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

Injected problems (:class:`~extflash.probe.faults.Faults`) make the failure paths testable: a
target that stops answering, another chip on the wire, an application that silences SWD, the H7
supply lock-up, option bytes (RDP, boot address, hardware watchdog); see that module.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import unicorn

from extflash.emu.clock import FS_PER_S
from extflash.emu.machine import Machine
from extflash.emu.periph import sysregs
from extflash.emu.periph.hsem import Hsem
from extflash.emu.periph.iwdg import Iwdg
from extflash.emu.regmodel import Access, Peripheral, Reg
from extflash.errors import TargetError
from extflash.mcu import PartRef
from extflash.probe import ids
from extflash.probe.core import CoreDebug, MachineCore
from extflash.probe.dap import (
    AccessPort,
    BusError,
    DebugPort,
    MemAp,
    bytes_to_words,
    words_to_bytes,
)
from extflash.probe.faults import VDD_MIN_V, Faults
from extflash.probe.second_core import RunningCore

log = logging.getLogger(__name__)

THUMB_WFI = b"\x30\xbf"
SYSTEM_MEMORY = 0x1FF00000  # where BOOT0 high starts an H7 (its ST bootloader)
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
                 timing: WireTiming | None = None, faults: Faults | None = None,
                 supply: str | None = None) -> None:
        self.machine = machine
        self.board = board
        self.part: PartRef = machine.part
        part = self.part.part
        self.name = (name or part.name).lower()
        self.timing = timing or WireTiming()
        self.faults = faults or Faults()
        self.supply = supply  # how the board powers VCORE (the H7 supply lock-up needs it)
        self.debug = part.family.debug
        self.app_active = False  # the application in flash runs (not halted at the reset vector)
        self.supply_locked = False
        self.programmed_supply: str | None = None  # what the application wrote to PWR_CR3
        self.pins_taken = ""  # firmware reconfigured the SWD pins (checked after it runs)
        self.asleep = ""  # firmware in Stop/Standby without the DBGMCU debug bits
        self.iwdg_fs = 0  # time the independent watchdog counted since its last reload
        self.iwdg_mark = 0  # virtual time up to which iwdg_fs is counted
        self.iwdg_running = False
        self.iwdg: Iwdg | None = None
        bases = sysregs.bases(part.family.id)
        iwdg = next((n for n in ("IWDG1", "IWDG") if n in bases), None)
        if iwdg is not None:
            self.iwdg = Iwdg(iwdg, bases[iwdg][0])
            self.iwdg.on_start = self._iwdg_start
            self.iwdg.on_reload = self._iwdg_reload
            machine.add_peripheral(self.iwdg)
        self.silent_reason = ""
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
        core_ap = self.debug.core_ap if self.debug is not None else 0
        aps: dict[int, AccessPort] = {}
        if family.id.startswith("stm32h7"):
            aps[1] = MemAp(system_bus, ids.AHB_AP_IDR, wrap=ids.AHB_AP_WRAP)
            aps[2] = MemAp(system_bus, ids.APB_AP_IDR, prot_mask=0)
        # The core's AHB-AP: AP0, or where the family file says (H7R/S: AP1, and no AP0).
        aps[core_ap] = MemAp(CoreBus(self.cores[0], system_bus), ids.AHB_AP_IDR, base=rom,
                             wrap=ids.AHB_AP_WRAP)
        self.hsem: Hsem | None = None
        self.second: RunningCore | None = None
        self.second_boots = False  # BCM4 set and code at its boot address
        if part.second_core is not None:
            second = ids.core_model(part.second_core)
            tcm = [(m.start, m.end) for m in part.memory if m.name in TCM_REGIONS]
            hsem = sysregs.bases(family.id).get("HSEM")
            if hsem is not None:
                self.hsem = Hsem(hsem[0])
                machine.add_peripheral(self.hsem)
            self.second = RunningCore(second, machine, excluded=tcm)
            self.cores.append(CoreDebug("core 1 (" + second.name + ")", self.second,
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
        from extflash.probe.faults import faults_from_table

        brd = boards.load(board_name)
        faults = faults_from_table(brd.faults, f"board {brd.name} [faults]")
        vb = VirtualBoard(brd, flash_file=flash_file, timing=timing)
        return cls(vb.machine, name=board_name, board=vb, timing=wire, faults=faults,
                   supply=brd.supply)

    # -- reset -------------------------------------------------------------------------------
    def power_on(self) -> None:
        self.dbgmcu.power_on()
        self.dp.power_on()
        for core in self.cores:
            core.power_on()
        f = self.faults
        # The application writes its supply configuration right after every power-on; a wrong
        # one for this board stops the part before a debugger can connect (ST FAQ "Unable to
        # connect to STM32H7 devices"). BOOT0 high starts the system bootloader instead.
        programmed = f.app_supply or self.programmed_supply
        self.supply_locked = bool(
            self.debug is not None and self.debug.supply_lockup and self.supply is not None
            and programmed is not None and programmed != self.supply and not f.boot0)
        self.system_reset()

    def power_cycle(self) -> None:
        """Remove and restore the board's power (what a user does unplugging the USB cable)."""
        self.nreset = False
        self.power_on()

    def system_reset(self) -> None:
        for core in self.cores:
            core.system_reset()
        self.apply_faults()  # option bytes and the injected chip identity survive resets
        self._iwdg_reload()
        self.iwdg_running = self.faults.iwdg_hardware  # the option starts it at reset
        self.pins_taken = ""  # the GPIOs are back in their reset state (SWD on AF0)
        self.asleep = ""
        # The application runs unless the core stops at the reset vector (vector catch, as a
        # connection under reset does) or BOOT0 selects the system bootloader.
        self.app_active = not self.cores[0].halted and not self.faults.boot0
        # The Cortex-M4 runs its application when BCM4 boots it (RM0399 "Boot configuration").
        f = self.faults
        self.second_boots = (self.second is not None and (f.bcm4 is None or f.bcm4)
                             and self.second.has_code)
        self.update_wire()
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
        self.update_wire()

    def update_wire(self) -> None:
        """Whether the debug port answers now, and if not why (for tests and logs)."""
        f = self.faults
        reason = ""
        if f.silent or (f.silent_after is not None and self.transactions >= f.silent_after):
            reason = "the target stopped answering"
        elif f.target_voltage is not None and f.target_voltage < VDD_MIN_V:
            reason = f"VDD is {f.target_voltage:g} V"
        elif self.supply_locked:
            reason = "supply lock-up"
        elif f.rdp_level == 2:
            reason = "RDP level 2 disables the debug port"
        elif f.max_swd_hz is not None and self.timing.swd_hz > f.max_swd_hz:
            reason = f"SWD clock {self.timing.swd_hz} Hz above what the wiring carries"
        elif not self.nreset and (taken := (self.app_active and f.blocks_swd)
                                  or self.pins_taken or self.asleep):
            # Under NRST the pins are in their reset state (SWD, AF0): only a running
            # application can take them away.
            reason = taken
        self.silent_reason = reason
        self.dp.answering = not reason
        # A product state other than Open closes the access ports (the debug port answers):
        # RM0477 "Product state" / debug authentication.
        closed = f.product_state is not None and f.product_state != "open"
        self.dp.closed = f"product state {f.product_state}" if closed else ""

    # -- faults and protection ---------------------------------------------------------------
    def _swd_pins_taken(self) -> str:
        """Firmware that reconfigured SWDIO/SWCLK (GPIO MODER/AFR): the probe loses them."""
        if self.debug is None:
            return ""
        for name in self.debug.swd_pins:
            try:
                pin = self.machine.gpio.pin(name)
            except (ValueError, KeyError):
                return ""
            if pin.mode != "af" or pin.af != 0:
                return f"the application reconfigured {name} ({pin.mode}, AF{pin.af})"
        return ""

    def _deep_sleep(self) -> str:
        """Firmware waiting in WFI with SCR.SLEEPDEEP (Stop or Standby) and without the DBGMCU_CR
        bits that keep the debug port clocked: the probe gets no answer."""
        keep = self.debug.low_power_debug if self.debug is not None else 0
        if not keep or self.dbgmcu["CR"] & keep == keep or not self.machine.scs["SCR"] & 1 << 2:
            return ""
        pc = self.machine.reg_read("pc") & ~1
        try:
            around = self.machine.mem_read(pc - 2, 4)
        except TargetError:
            return ""
        if THUMB_WFI not in (around[0:2], around[2:4]):
            return ""
        return "the application entered Stop mode without the DBGMCU debug bits"

    def _note_supply(self) -> None:
        """The supply scheme the running firmware wrote to PWR_CR3 (kept over power cycles:
        the same firmware writes it again after every power-on)."""
        debug, pwr = self.debug, self.machine.pwr
        if debug is None or pwr is None or debug.supply_register is None:
            return
        m = self.machine.bus.find(debug.supply_register)
        if m is None:
            return
        offset = debug.supply_register - m.base
        value = m.periph.values.get(offset, 0) & 0x7
        if value != m.periph.regs[offset].reset & 0x7 and value in debug.supply_schemes:
            self.programmed_supply = debug.supply_schemes[value]

    def refuses(self, address: int) -> str:
        """Why a debug access to system ``address`` fails now ("" when it does not)."""
        if self.nreset:
            return "the system is held in reset"
        if self.faults.rdp_level and address >> 28 not in (0x4, 0x5):
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
        self.update_wire()
        if f.iwdg_hardware:
            self.iwdg_running = True  # the option byte: the watchdog runs from reset
        self.dp.dpidr = f.dpidr if f.dpidr is not None else ids.dpidr(self.part.part)
        dev = f.dev_id if f.dev_id is not None else ids.dev_id(self.part.part)
        self.dbgmcu["IDCODE"] = dev | 0x1003 << 16
        rdp = ids.rdp_register(self.part.family)
        if rdp is not None:
            address, shift, mirrors = rdp
            for reg in (address, *mirrors):
                self._option_field(reg, shift, 8, ids.rdp_byte(f.rdp_level))
        debug = self.debug
        if debug is not None:
            optsr = debug.rdp_register
            if optsr is not None and debug.iwdg_sw_bit is not None:
                self._option_field(optsr, debug.iwdg_sw_bit, 1, 0 if f.iwdg_hardware else 1)
            if optsr is not None and debug.bcm4_bit is not None and len(self.cores) > 1:
                self._option_field(optsr, debug.bcm4_bit, 1, 1 if f.bcm4 is None or f.bcm4 else 0)
            if debug.state_register is not None and debug.states:
                wanted = f.product_state or "open"
                byte = next((k for k, v in debug.states.items() if v == wanted),
                            next(iter(debug.states)))
                self._option_field(debug.state_register, 0, 8, byte)
            if debug.boot_register is not None:
                flash = next((m.start for m in self.part.part.memory if m.kind == "flash"),
                             0x08000000)
                boot = f.boot_address if f.boot_address is not None else flash
                self._option_field(debug.boot_register, 0, 16, boot >> 16)
                # BOOT_ADD1 (BOOT0 high): the system memory and its bootloader (RM0433 "Boot
                # configuration", reset value 0x1FF0)
                self._option_field(debug.boot_register, 16, 16, SYSTEM_MEMORY >> 16)
                primary = self.cores[0].backend
                if isinstance(primary, MachineCore):
                    primary.boot = SYSTEM_MEMORY if f.boot0 else boot & 0xFFFF0000

    def _option_field(self, reg: int, lsb: int, width: int, value: int) -> None:
        """Set a field of an option-byte register of the machine's flash interface."""
        m = self.machine.bus.find(reg)
        if m is None or (reg - m.base) & ~3 not in m.periph.values:
            return
        offset = (reg - m.base) & ~3
        mask = ((1 << width) - 1) << lsb
        m.periph.values[offset] = (m.periph.values[offset] & ~mask) | (value << lsb & mask)

    # -- time --------------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        return self.machine.clock.now_fs / FS_PER_S

    def elapse(self, fs: int, *, transaction: bool = True) -> None:
        """``fs`` of virtual time pass: the cores run if they may; the clock advances.

        ``transaction`` is False when the host merely waits (no traffic on the wire). A running
        watchdog cuts the time in steps that end where it would reset the part.
        """
        self.transactions += transaction
        self.update_wire()
        while fs > 0:
            step = min(fs, self._watchdog_left_fs())
            self._run_for(step)
            fs -= step

    def _run_for(self, fs: int) -> None:
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
        if ran:
            self._note_supply()
            self.pins_taken = self._swd_pins_taken()
            self.asleep = self._deep_sleep()
            self.update_wire()
        if self.second_boots and not self.nreset and self.cores[1].running:
            self.cores[1].execute(fs)  # the other core, on the same bus, for the same time
        self._watchdog(ran)

    # -- the independent watchdog (RM0433 IWDG) -----------------------------------------------
    # Started by firmware (KR = 0xCCCC) or by the hardware option (IWDG1_SW = 0), it resets the
    # part when nobody reloads it (KR = 0xAAAA) in time. It counts while the primary core runs
    # (a halted core stands for the debugger's DBGMCU freeze); Faults.iwdg_timeout_s overrides
    # the PR/RLR timeout. Once running, elapse() ends a step where it expires; one firmware
    # starts within a step is checked at the step's end (the host's next poll).
    def _iwdg_start(self) -> None:
        self.iwdg_running = True

    def _iwdg_reload(self) -> None:
        self.iwdg_fs = 0
        self.iwdg_mark = self.machine.clock.now_fs

    def _iwdg_timeout_fs(self) -> int:
        timeout = self.faults.iwdg_timeout_s
        if timeout is None:
            timeout = self.iwdg.timeout_s if self.iwdg is not None else 0.512
        return int(timeout * FS_PER_S)

    def _watchdog_left_fs(self) -> int:
        if not self.iwdg_running:
            return 1 << 62
        return max(1, self._iwdg_timeout_fs() - self.iwdg_fs)

    def _watchdog(self, ran_fs: int) -> None:
        now = self.machine.clock.now_fs
        if self.iwdg_running and ran_fs > 0:
            self.iwdg_fs += now - self.iwdg_mark
        self.iwdg_mark = now
        if self.iwdg_running and self.iwdg_fs >= self._iwdg_timeout_fs():
            log.debug("virtual %s: IWDG reset", self.part.part.name)
            self.system_reset()

    def load_internal_flash(self, segments: Sequence[tuple[int, bytes]]) -> None:
        """Put firmware into the internal flash as a programmer would have (for tests: an
        application that runs after the next power-on or reset)."""
        for address, data in segments:
            self.machine.mem_write(address, data)

    def other_cores_activity(self, *, clear: bool = False) -> str:
        """What the other cores did to the peripherals since the last ``clear`` ("" if nothing)."""
        core = self.second
        if core is None or not core.counts:
            return ""
        text = f"{self.cores[1].name} was running and made {core.summary()}"
        if self.hsem is not None:
            held = [f"HSEM {i} held by {self.hsem.holder(i)}" for i in range(32)
                    if self.hsem.holder(i).startswith("Cortex-M4")]
            text += "; " + ", ".join(held) if held else ""
        if clear:
            core.clear()
        return text

    def flush(self) -> None:
        """Persist the board's flash file, if there is one."""
        if self.board is not None and hasattr(self.board, "save"):
            self.board.save()
