"""The command engine shared by the QUADSPI, OCTOSPI and XSPI register front-ends.

A front-end (:mod:`.quadspi`, :mod:`.octospi`) declares its register table and decodes its
registers into one :class:`~extflash.emu.spi.SpiCommand` frame (instruction, address,
alternate, dummy and data phases; lines per phase; STR/DTR per phase; DQS). The engine runs the
modes the three controllers share (RM0433 QUADSPI, RM0455/RM0456 OCTOSPI, RM0477 XSPI chapters
"functional modes"): indirect write and read, automatic status polling (mask/match, AND/OR,
interval, stop on match), memory-mapped mode, ABORT, FIFO level and threshold, the flags
(TEF/TCF/FTF/SMF/TOF/BUSY, the same bits in all three SRs), the TCEN/LPTR timeout, bus time,
the banks and the wiring checks.

Modelling choices (documented in ``docs/boards.md``):

* The chips are instantaneous at the command level: a read command's data is fetched when the
  command starts, and an indirect write's bytes reach the chip as soon as DL+1 bytes were pushed.
  Bus time still passes: each command occupies the bus for the half-clocks its phases take at
  the controller's CLK (plus CSHT+1 cycles of nCS high); BUSY and TCF follow that virtual time.
  A status-register read while a transfer is still on the bus stalls until it ends (the guest
  would only spin there), which keeps busy-wait loops cheap.
* In an indirect write the FIFO drains to the chip at once: FLEVEL reads 0 and FTF stays set
  while bytes are still expected. In an indirect read FLEVEL = min(bytes left, FIFO depth) and
  BUSY clears once the FIFO is drained.
* Auto-polling evaluates the status at the latest poll tick at or before "now" (chip status only
  moves from busy to ready, so that finds the first match without simulating every tick).
* With the peripheral clock off (RCC enable bit clear) registers read 0 and writes are ignored.
  The enable state is cached: the board calls :meth:`CommandEngine.clock_changed` when RCC's
  enable bits change (and :meth:`CommandEngine.wiring_changed` when GPIO routing or port clocks
  change), so no register access looks anything up.
* Outside memory-mapped mode the window is not mapped: accesses are bus errors.
* Wiring: before each command the GPIO routing of the pins the board wires to CLK, the bank's
  NCS and the IO lines the command uses is checked (AF mode, AF number, port clock). If CLK or
  NCS is not routed the chip sees nothing (reads float); a missing IO line forces exactly the bits
  that line carries to the pull level (1 with the boards' pull-ups). Every problem is recorded
  as a :class:`WiringEvent`.

Bus side (:meth:`CommandEngine.raw_mmio`): the controller serves the machine's bus with its own
callbacks, lean for the hot path. An access syncs virtual time only when it can observe or move
time: a DR beat that does not complete a transfer, or an SR read while nothing time-dependent is
in progress, does not. For the machine's idle detection an SR read is reported as *polling* only
when it repeats the previous access (same SR read, same value); DR accesses count as activity.
The optional native fast path (:mod:`extflash.emu.native.quadspi_fast`, with the register map the
front-end describes in its :class:`~extflash.emu.native.quadspi_fast.NativeLayout`) serves exactly
those timeless accesses in C and hands every other one to the same Python code, so both paths
give identical results.
"""

from __future__ import annotations

import ctypes
import logging
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from extflash.emu import native as native_helpers
from extflash.emu.clock import FS_PER_S, VirtualClock
from extflash.emu.flash.nor import FlashEvent, LaneFacts
from extflash.emu.mmio import MMIO_READ_CFUNC, MMIO_WRITE_CFUNC, Bus
from extflash.emu.native import quadspi_fast
from extflash.emu.native.quadspi_fast import (
    FLAG_IRQ,
    FLAG_MAPPED_BUSY,
    FRAME_ERASE,
    FRAME_PROGRAM,
    FRAME_REFUSED,
    FRAME_RSTEN,
    FRAME_WRDI,
    FRAME_WREN,
    MODE_CMD,
    MODE_FORWARD,
    MODE_IDLE,
    MODE_MAPPED,
    MODE_OFF,
    MODE_POLL,
    MODE_RX,
    MODE_RXT,
    MODE_TX,
    NEVER,
    OP_ERASE,
    OP_PROGRAM,
    QUIET_SR_READS,
    READ_ARRAY,
    READ_REGISTER,
    REC_POLL,
    REC_READ,
    REC_REFUSED,
    REC_RSTEN,
    SLOTS,
    TX_CAPACITY,
    Deferred,
    FastState,
    LaneOperation,
    LaneRecord,
    LaneTime,
    NativeLayout,
    NativeQuadspi,
    QuadspiFastState,
    Served,
)
from extflash.emu.periph.frontstate import (
    BUSY,
    FMODE_MAPPED,
    FMODE_POLL,
    FMODE_READ,
    FMODE_WRITE,
    FMODES,
    FTF,
    QUADSPI_FIELDS,
    SMF,
    TCF,
    TEF,
    TOF,
    ControllerState,
    FieldNames,
    describe_setup,
)
from extflash.emu.periph.learned import LearnedFrames, Registers, program_swaps
from extflash.emu.regmodel import Peripheral, Reg
from extflash.emu.spi import SpiCommand, SpiDevice
from extflash.errors import ConfigError

log = logging.getLogger(__name__)

CR, DCR, SR, FCR, DLR, CCR, AR, ABR, DR, PSMKR, PSMAR, PIR, LPTR = range(0, 0x34, 4)

# CR interrupt-enable bit -> SR flag it reports (TEIE..TOIE are CR[20:16]).
IRQ_ENABLES = {16: TEF, 17: TCF, 18: FTF, 19: SMF, 20: TOF}

LINES = (0, 1, 2, 4)  # IMODE/ADMODE/ABMODE/DMODE encodings
ALL_ONES = 0xFFFFFFFF
IRQ_ENABLE_BITS = 0x1F << 16  # TEIE..TOIE


# -- wiring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Where a front-end keeps the registers the engine reads and writes (offsets)."""

    CR: int
    DCR: int
    SR: int
    FCR: int
    DLR: int
    CCR: int
    AR: int
    ABR: int
    DR: int
    PSMKR: int
    PSMAR: int
    PIR: int
    LPTR: int


@dataclass(frozen=True)
class Variant:
    """What differs between the instances of a controller kind (from ``[[controller]]``)."""

    family: str
    fifo_bytes: int
    flevel_width: int
    irq: int
    fthres_width: int = 5


@dataclass(frozen=True)
class PinView:
    """What the GPIO says about one pin: mode ("af", "input", "output", "analog"), AF number and
    whether its port clock is on."""

    mode: str
    af: int
    clocked: bool
    note: str = ""  # why the signal does not reach the pin at all (IO manager, port supply)


PinProbe = Callable[[str], PinView]


@dataclass(frozen=True)
class BankWire:
    """One board signal of a flash bank and the pin and AF that carry it."""

    signal: str  # "clk", "ncs", "io0".."io3" (bank-relative)
    name: str  # board signal: "clk", "bk2_ncs", "bk2_io1"
    pin: str
    af: int


@dataclass(frozen=True)
class WiringEvent:
    """A command started while a wired signal was not routed to its pin."""

    time_fs: int
    bank: int
    signal: str  # board signal name, e.g. "bk1_io2"
    pin: str
    expected_af: int
    mode: str
    af: int
    clocked: bool
    command: str
    controller: str = "QUADSPI"
    note: str = ""

    def describe(self) -> str:
        if self.note:
            return (f"{self.controller} {self.signal.upper()} does not reach {self.pin}: "
                    f"{self.note}; command {self.command}")
        got = f"mode {self.mode}" + (f" AF{self.af}" if self.mode == "af" else "")
        if not self.clocked:
            got += ", port clock off"
        return (f"{self.controller} {self.signal.upper()} is wired to {self.pin} but {self.pin} "
                f"has {got} (needs AF{self.expected_af}); command {self.command}")


@dataclass
class Bank:
    """One bank: the device on its chip select and the wires that reach it."""

    number: int
    device: SpiDevice
    wires: dict[str, BankWire]
    pull_up: bool = True
    port: int | None = None  # the IO-manager port the wires belong to (OCTOSPIM/XSPIM)


class WindowPort(Protocol):
    """How the controller exposes the memory-mapped window (the machine implements it)."""

    def map_buffer(self, buffer: bytearray, size: int,
                   write: Callable[[int, int, int], None] | None = None) -> bool: ...
    def map_reader(self, size: int, read: Callable[[int, int], int],
                   write: Callable[[int, int, int], None] | None = None) -> None: ...
    def unmap(self) -> None: ...
    def invalidate(self, offset: int, length: int) -> None: ...
    def on_first_access(self, callback: Callable[[], None]) -> None: ...


class SoftWindow:
    """A window without a CPU: tests and host-side reads use :meth:`read`."""

    def __init__(self) -> None:
        self.buffer: bytearray | None = None
        self.reader: Callable[[int, int], int] | None = None
        self.writer: Callable[[int, int, int], None] | None = None
        self.first_access: Callable[[], None] | None = None
        self.size = 0

    def map_buffer(self, buffer: bytearray, size: int,
                   write: Callable[[int, int, int], None] | None = None) -> bool:
        self.buffer, self.reader, self.size = buffer, None, size
        self.writer = write
        return True

    def map_reader(self, size: int, read: Callable[[int, int], int],
                   write: Callable[[int, int, int], None] | None = None) -> None:
        self.buffer, self.reader, self.size = None, read, size
        self.writer = write

    def unmap(self) -> None:
        self.buffer, self.reader, self.size = None, None, 0

    def invalidate(self, offset: int, length: int) -> None:
        pass

    def on_first_access(self, callback: Callable[[], None]) -> None:
        self.first_access = callback

    @property
    def mapped(self) -> bool:
        return self.size > 0

    def write(self, offset: int, value: int, size: int = 4) -> None:
        if self.writer is None:
            raise ValueError(f"+0x{offset:X}: the mapped window is read-only (bus error)")
        self.writer(offset, size, value)

    def read(self, offset: int, length: int) -> bytes:
        if offset + length > self.size:
            raise ValueError(f"+0x{offset:X} is outside the mapped window (bus error)")
        touched, self.first_access = self.first_access, None
        if touched is not None:
            touched()
        if self.buffer is not None:
            return bytes(self.buffer[offset:offset + length])
        assert self.reader is not None
        out = bytearray()
        while len(out) < length:
            n = min(4, length - len(out))
            out += self.reader(offset + len(out), n).to_bytes(n, "little")
        return bytes(out)


def _garble_table(lines: int, missing: frozenset[int], direction_in: bool, pull_up: bool) -> bytes:
    """A 256-byte translate table forcing the bits carried by ``missing`` IO lines to the pull."""
    mask = 0
    for bit in range(8):
        # single-line SPI: IO0 carries host->chip bits, IO1 chip->host bits
        line = (1 if direction_in else 0) if lines == 1 else bit % lines
        if line in missing:
            mask |= 1 << bit
    return bytes(((b | mask) if pull_up else (b & ~mask)) for b in range(256))


@dataclass
class _Active:
    """The operation in progress."""

    fmode: int
    done_fs: int = 0  # when the bus transfer ends (write/read/no-data commands)
    tx: bytearray = field(default_factory=bytearray)
    tx_expected: int | None = None  # None: until the end of the flash (DL all ones)
    rx: bytes = b""
    rx_pos: int = 0
    address: int = 0
    poll_next_fs: int = 0
    poll_interval_fs: int = 0
    poll_ftf: bool = False
    lane: bool = False  # a status poll the native command lane started (and may continue)
    stall_fs: int = 0  # an indirect read software has not drained stalls then (FIFO full)


_STARTED = {OP_PROGRAM: "program", OP_ERASE: "erase"}  # the chip's operation a lane started

# a learned frame's registers (learned.Registers) in the native side's reg[] (SLOTS order)
_FRAME_SLOTS = tuple(SLOTS.index(name) for name in ("CCR", "TCR", "IR", "DCR", "DLR", "AR"))


@dataclass(frozen=True)
class _ProgramProof:
    """A page program about to run, as :meth:`CommandEngine._learn_program` checks it after."""

    chip: _LaneChip
    context: tuple[object, int]
    registers: Registers
    page: int  # the page's first address in the array
    offset: int  # where in the page the data starts
    old: bytes  # the page before
    busy_until: int  # the end of busy the lane would give it


@dataclass(frozen=True)
class _EraseProof:
    """An erase about to run, as :meth:`CommandEngine._learn_erase` checks it after."""

    chip: _LaneChip
    context: tuple[object, int]
    registers: Registers
    at: int  # the array address the frame names
    now_fs: int  # when it starts


# what the chip takes an instruction-alone frame for -> its learned frame kind
_INSTRUCTION_FRAMES = {"wren": FRAME_WREN, "wrdi": FRAME_WRDI, "rsten": FRAME_RSTEN,
                       "refused": FRAME_REFUSED}


class _LaneChip(Protocol):
    """A device the native command lane can run commands for (a NorFlash)."""

    memory: bytearray
    status: int
    reset_armed: bool

    def lane_facts(self) -> LaneFacts | None: ...
    def lane_frame(self, cmd: SpiCommand) -> str | None: ...
    def lane_refusal(self, cmd: SpiCommand, qpi: bool | None = None) -> str | None: ...
    def lane_operation(self) -> tuple[str, int, int] | None: ...
    def lane_take(self, *, wel: bool, busy_until: int, started: tuple[str, int, int] | None,
                  enabled: bool, commands: int, events: Callable[[], list[FlashEvent]],
                  changed: tuple[int, int] | None, armed: bool = False) -> None: ...
    def is_settle_event(self, callback: Callable[[], None]) -> bool: ...


class CommandEngine(Peripheral):
    """The command engine behind a register front-end (QUADSPI, OCTOSPI, XSPI).

    The engine owns the modes (indirect write/read, automatic polling, memory-mapped), the
    FIFO, the flags, bus time, the banks and the wiring checks. A front-end declares its
    registers, where they sit (:attr:`L`), decodes them into a :class:`SpiCommand` frame
    (:meth:`_command`) and fires the start triggers from its register hooks.
    """

    L: Layout
    NATIVE = False  # the front-end describes its registers to the native fast path
    kind = "quadspi"  # the controller kind of the family data ("quadspi", "octospi", "xspi")
    FIELDS: FieldNames = QUADSPI_FIELDS  # where the front-end keeps what users are told
    # registers whose write completes a command's set-up (the trace describes the command)
    COMMAND_REGISTERS: tuple[int, ...] = ()
    COMMAND_CARRIES_MODE = True  # FMODE is written with the command (QUADSPI CCR[27:26])

    def _native_layout(self) -> NativeLayout:
        """The registers as the native fast path needs them (front-ends with ``NATIVE``)."""
        raise NotImplementedError

    def _lane_allowed(self) -> bool:
        """May the native lane run commands in the current configuration (beyond what the
        engine checks)?"""
        return True

    def _logged_command(self, record: LaneRecord, address: int, write_data: bytes,
                        read_length: int) -> SpiCommand:
        """The frame a command the native lane sent was, from the registers it recorded."""
        return self._command(address, ccr=record.ccr, write_data=write_data,
                             read_length=read_length)

    def on_write_AR(self, old: int, new: int) -> None:
        """AR is ignored while BUSY and in memory-mapped mode; otherwise it starts a command
        with an address that needs no data from software (RM0433 §23.3.7, RM0455 "indirect
        mode": the AR write is the trigger), even addresses only in dual-flash/dual-quad."""
        L = self.L
        if self._busy() or self._fmode == FMODE_MAPPED:
            self.values[L.AR] = old
            return
        if self._dfm:
            new &= ~1
            self.values[L.AR] = new
        if self.values[L.CR] & 1 and self._admode and not self._awaits_data:
            self._start(self._fmode, new)

    @property
    def _awaits_data(self) -> bool:
        """Does software still have to push data (an indirect write with a data phase)? Then
        the first DR write, not IR/CCR/AR, starts the command."""
        return self._fmode == FMODE_WRITE and self._dmode != 0

    # -- what a front-end decodes -------------------------------------------------------------
    def _command(self, address: int, *, write_data: bytes = b"", read_length: int = 0,
                 ccr: int | None = None) -> SpiCommand:
        raise NotImplementedError

    @property
    def _fmode(self) -> int:
        raise NotImplementedError

    @property
    def _admode(self) -> int:
        raise NotImplementedError

    @property
    def _dmode(self) -> int:
        raise NotImplementedError

    @property
    def _dfm(self) -> bool:
        return False

    @property
    def _selected_bank(self) -> int:
        """The chip select the next command drives (1 or 2): FSEL on QUADSPI/OCTOSPI."""
        return 2 if self.values[self.L.CR] & (1 << 7) else 1

    @property
    def fsize_bytes(self) -> int:
        raise NotImplementedError

    @property
    def clk_hz(self) -> int:
        raise NotImplementedError

    @property
    def _csht_cycles(self) -> int:
        raise NotImplementedError

    def __init__(
        self,
        variant: Variant,
        registers: tuple[Reg, ...],
        clock: VirtualClock,
        *,
        base: int,
        name: str,
        kernel_hz: Callable[[], int] = lambda: 64_000_000,
        clock_enabled: Callable[[], bool] = lambda: True,
        pin_probe: PinProbe | None = None,
        set_irq: Callable[[int], None] | None = None,
        window: WindowPort | None = None,
        native: bool | None = None,
    ) -> None:
        self.variant = variant
        super().__init__(name, base, registers)
        self.clock = clock
        self.kernel_hz = kernel_hz
        self.clock_enabled = clock_enabled
        self.pin_probe = pin_probe
        self.set_irq = set_irq
        self.window: WindowPort = window if window is not None else SoftWindow()
        self.banks: dict[int, Bank] = {}
        self.wiring_events: list[WiringEvent] = []
        self.commands = 0
        self.trace: Callable[[int, SpiCommand], None] | None = None  # (bank, cmd) per transfer
        self.beats = 0  # DR accesses handled here (data moving: the core is not idle)
        self.native_mode = native  # None: native fast path when it builds; True: required
        self.native: NativeQuadspi | None = None  # set once mapped with the native fast path
        self._native_slots: tuple[int, ...] = ()  # the offsets of the native side's reg[]
        self._native_values: Callable[[dict[int, int]], tuple[int, ...]] = lambda _v: ()
        self._sync: Callable[[], None] = _no_sync
        self._hold_time: Callable[[int | None], None] = lambda _count: None
        self._time_base: Callable[[], tuple[int, int, int, bool] | None] = lambda: None
        self._bus: Bus | None = None  # set with the native lane
        self._event_wakes: Callable[[Callable[[], None]], bool] = lambda _callback: False
        self._lane_kept = False  # the slice ended for a tick the lane passed (_lane_drain)
        self._lane_chip: _LaneChip | None = None  # the chip the native lane runs commands for
        self._learned = LearnedFrames()  # octal frames the lane may run (learned.py)
        self._observe: Callable[[int, int], None] | None = None
        self._clocked = clock_enabled()
        self._routes: dict[tuple[int, int, bool], tuple[tuple[BankWire, PinView], ...]] = {}
        # each wired signal's problem (None: it reaches its pin), by bank and signal
        self._signal_routes: dict[tuple[int, str], PinView | None] = {}
        self._sr_run = 0  # identical SR reads in a row, the last one _sr_last (0: other access)
        self._sr_last = 0
        self._active: _Active | None = None
        self._sticky = 0  # TEF/TCF/SMF/TOF
        self._sioo_sent = False
        self._last_status = 0
        self._mapped = False
        self._mapped_busy = False  # memory-mapped mode has seen its first access
        self._mapped_cmd: SpiCommand | None = None
        self.mapped_exact = False  # memory-mapped and the window shows the chip array as is
        self._dual_view: bytearray | None = None  # dual-flash window: the chips interleaved
        self._dual_sources: tuple[bytearray, bytearray] | None = None  # the arrays behind it
        self._timeout_epoch = 0
        self._garble: dict[tuple[int, frozenset[int], bool, bool], bytes] = {}
        self._fthres_mask = (1 << variant.fthres_width) - 1
        # the IO manager's and the port supply's say on a port signal (None: reaches the port)
        self.port_route: Callable[[Bank, str], str | None] | None = None

    # -- board side ---------------------------------------------------------------------------
    def attach(self, bank: int, device: SpiDevice, wires: dict[str, BankWire] | None = None, *,
               pull_up: bool = True, port: int | None = None) -> None:
        """Put ``device`` on chip select 1 or 2, reached through ``wires`` (none: not checked),
        on IO-manager ``port`` where the family has one."""
        self.banks[bank] = Bank(bank, device, dict(wires or {}), pull_up, port)

    @property
    def tracer(self) -> Callable[[Peripheral, str, int, int, int], None] | None:
        return self._tracer

    @tracer.setter
    def tracer(self, value: Callable[[Peripheral, str, int, int, int], None] | None) -> None:
        # the native side only serves accesses while nothing traces them
        self._tracer = value
        if getattr(self, "native", None) is not None:
            self._absorb()
            self._publish()

    def clock_changed(self) -> None:
        """The RCC enable bit may have changed: re-read ``clock_enabled``."""
        self._absorb()
        self._clocked = bool(self.clock_enabled())
        self._publish()

    def wiring_changed(self) -> None:
        """GPIO routing or a port clock may have changed: re-probe the pins on the next command."""
        self._routes.clear()
        self._signal_routes.clear()

    def reset(self) -> None:
        """RCC reset of the peripheral: registers, FIFO and any operation back to reset state."""
        self._absorb()
        super().reset()
        if self._mapped:
            self._leave_mapped()
        self._active = None
        self._sticky = 0
        self._sioo_sent = False
        self._last_status = 0
        self._sr_run = 0
        self._timeout_epoch += 1
        self._publish()

    # -- register access (model level: the debugger's view, tests) ----------------------------
    def read(self, offset: int, size: int) -> int:
        self._absorb()
        try:
            return self._read(offset, size)
        finally:
            self._publish()

    def write(self, offset: int, size: int, value: int) -> None:
        self._absorb()
        try:
            self._write(offset, size, value)
        finally:
            self._publish()

    def _read(self, offset: int, size: int) -> int:
        if not self._clocked:
            return 0
        word = offset & ~3
        if word == self.L.DR:
            return self._read_dr(size)
        if word == self.L.SR:
            return self._read_sr() >> ((offset & 3) * 8) & ((1 << (size * 8)) - 1)
        return super().read(offset, size)

    def _write(self, offset: int, size: int, value: int) -> None:
        if not self._clocked:
            return
        word = offset & ~3
        if word == self.L.DR:
            self._write_dr(offset, size, value)
            return
        super().write(offset, size, value)
        if word == self.L.FCR:  # write-1-to-clear of the sticky flags (the register itself reads 0)
            self._settle()
            self._sticky &= ~((value << ((offset & 3) * 8)) & (TEF | TCF | SMF | TOF))
            self._irq_check()

    # -- bus side (the core's accesses) -------------------------------------------------------
    def raw_mmio(self, bus: Bus) -> tuple[object, object, object]:
        """The bus callbacks: the native fast path when it builds and loads, else Python."""
        self._sync = bus.sync
        self._observe = bus.observe_read
        bus.activity_sources.append(self._beats_total)
        bus.slice_hooks.append(self.refresh)
        bus.exception_hooks.append(self._interrupted)
        self._hold_time = bus.hold_time
        nat = self.enable_native(bus.fail)
        if nat is None:
            return self.python_callbacks(bus)
        nat.defer_at(bus.counter_address)
        nat.stop_at(bus.limit_address)
        nat.tend_pages(*bus.tlb_tend)
        self._time_base = bus.time_base
        self._event_wakes = bus.event_wakes
        bus.deferred.append((nat.pending, self.refresh, None))
        # the lane's untaken time is all a CYCCNT read needs of its drain (timesource_fast.c)
        bus.deferred.append((nat.lane_dirty, self._lane_drain, nat.skip_cycles))
        bus.slice_start_hooks.append(self._slice_started)
        bus.slice_hooks.remove(self.refresh)
        bus.slice_hooks.append(self._slice_ended)
        bus.run_end_hooks.append(self.refresh)
        bus.native_lanes.append(self)
        self._bus = bus
        return nat.callbacks()

    # -- the machine's C tick loop (native/ticks_fast.c) ------------------------------------------
    def lane_chip(self) -> _LaneChip | None:
        """The chip the command lane runs commands for (None: the lane is off)."""
        return self._lane_chip

    @property
    def native_state(self) -> QuadspiFastState:
        assert self.native is not None
        return self.native.state

    @property
    def native_address(self) -> int:
        return ctypes.addressof(self.native_state)

    def enable_native(self, on_error: Callable[[BaseException], None]) -> NativeQuadspi | None:
        """Switch to the native fast path (as ``native_mode`` allows); None: Python it is.

        ``on_error`` receives exceptions raised while C hands an access to Python.
        """
        lib: ctypes.CDLL | None
        if not self.NATIVE:
            return None  # the front-end does not describe its registers to the native side
        if self.native_mode is True:
            try:
                lib = quadspi_fast.require()
            except native_helpers.NativeUnavailable as why:
                raise ConfigError(f"{self.name}: native fast path unavailable: {why}") from None
        else:
            lib = quadspi_fast.load() if self.native_mode is None else None
        if lib is None:
            return None
        layout = self._native_layout()
        reserved = {reg.offset: reg.masks()[4] for reg in self.regs.values()}
        self.native = NativeQuadspi(lib, layout, reserved, self._native_read, self._native_write,
                                    on_error)
        present = [name for name in SLOTS if name in layout.registers]
        assert tuple(present) == SLOTS[:len(present)], "missing slots come last"
        self._native_slots = tuple(layout.registers[name] for name in present)
        getter = operator.itemgetter(*self._native_slots)
        padding = (0,) * (len(SLOTS) - len(present))
        self._native_values = lambda values: getter(values) + padding
        self._publish()
        return self.native

    def refresh(self) -> None:
        """Bring the model up to date with what the native side served (the machine calls this
        after every run slice, so Python code between runs sees current registers)."""
        if self.native is not None and self.native.dirty:
            self._absorb()
            self._publish()

    def _slice_started(self) -> None:
        """A run slice starts (or an event scheduled mid-slice moved the next event): the lane
        counts time from the instruction the machine synced at, up to the next event."""
        nat = self.native
        if nat is not None and nat.state.lane:
            nat.set_time(self._lane_time())

    def _slice_ended(self) -> None:
        if self._lane_kept:
            self._lane_kept = False  # the core stopped for a tick the lane passed: it goes on
        else:
            self.refresh()
        if self.native is not None:
            self.native.state.time_valid = 0  # the next slice counts from zero again

    def _interrupted(self) -> None:
        """The core took an exception: the next SR read starts a new row of identical reads
        (a loop polling across SysTick ticks is seen by the machine only between two ticks)."""
        self._sr_run = 0
        if self.native is not None:
            self.native.state.sr_run = 0

    def _lane_drain(self) -> None:
        """The machine moves time while the lane holds some: after the lane passed a SysTick
        tick and stopped the core for it, the time only (the tick fires on it; the lane keeps
        its state across the exception, so a handler that leaves the QUADSPI alone costs no
        take-over); otherwise everything."""
        nat = self.native
        if nat is not None and nat.take_woke():
            self._take_lane_time(nat.state)
            self._lane_kept = True
            return
        self.refresh()

    def python_callbacks(self, bus: Bus) -> tuple[object, object, object]:
        """Raw ctypes callbacks running :meth:`bus_read` / :meth:`bus_write` (pure Python)."""
        def read(_uch: int, offset: int, size: int, _ud: int) -> int:
            try:
                return self.bus_read(offset, size)
            except BaseException as exc:
                bus.fail(exc)
                return 0

        def write(_uch: int, offset: int, size: int, value: int, _ud: int) -> None:
            try:
                self.bus_write(offset, size, value)
            except BaseException as exc:
                bus.fail(exc)

        return MMIO_READ_CFUNC(read), MMIO_WRITE_CFUNC(write), None

    def _beats_total(self) -> int:
        return self.beats + (self.native.beats() if self.native is not None else 0)

    def _native_read(self, offset: int, size: int) -> int:
        self._absorb()
        try:
            return self.bus_read(offset, size)
        finally:
            self._publish()

    def _native_write(self, offset: int, size: int, value: int) -> None:
        self._absorb()
        try:
            self.bus_write(offset, size, value)
        finally:
            self._publish()

    def bus_read(self, offset: int, size: int) -> int:
        """A read by the core: syncs time only when needed; SR reads repeated more than
        :data:`QUIET_SR_READS` times in a row are reported to the machine as polling."""
        word = offset & ~3
        if word == self.L.SR:
            if not self._sr_timeless():
                self._sync()
            value = self._read(offset, size)
            key = size << 40 | offset << 32 | value
            run = self._sr_run + 1 if self._sr_run and key == self._sr_last else 1
            self._sr_run, self._sr_last = run, key
            if run > QUIET_SR_READS and self._observe is not None:
                self._observe(self.base + offset, value)
            return value
        self._sr_run = 0
        if word == self.L.DR:
            self.beats += 1
            act = self._active
            if act is None or act.fmode != FMODE_READ or act.rx_pos + size >= len(act.rx):
                self._sync()
            return self._read_dr(size) if self._clocked else 0
        self._sync()
        return self._read(offset, size)

    def bus_write(self, offset: int, size: int, value: int) -> None:
        """A write by the core: a DR beat that does not complete the transfer is timeless."""
        self._sr_run = 0
        if offset & ~3 == self.L.DR:
            self.beats += 1
            act = self._active
            if (act is None or act.fmode != FMODE_WRITE or act.done_fs
                    or act.tx_expected is None or len(act.tx) + size >= act.tx_expected):
                self._sync()
        else:
            self._sync()
        self._write(offset, size, value)

    def _sr_timeless(self) -> bool:
        """Does an SR read now neither read nor move virtual time?"""
        act = self._active
        if act is None:
            return not self._mapped  # mapped: TOF follows time
        if act.fmode == FMODE_WRITE:
            return not act.done_fs  # still collecting data: nothing on the bus yet
        # a read whose bus time is over, or that stalled with the FIFO full (the clock only
        # moves forward, so a stale "now" past either proves it)
        return act.fmode == FMODE_READ and self.clock.now_fs >= self._read_end_fs(act)

    # -- native fast path: what it may serve, and taking back what it served ------------------
    def fast_state(self, lane: bool = False) -> FastState:
        """Which accesses the native side may serve until the next one it hands back (the
        timeless ones of :meth:`bus_read`/:meth:`bus_write`, register reads, and writes of
        registers without side effects; with ``lane``, the commands of its command lane too),
        and the state to serve them from."""
        act = self._active
        if self._mapped and self.tracer is None and self._clocked and not self._timeout_on:
            # register and SR reads: SR changes only at a window access (_window_accessed
            # publishes that) or a register write (Python's); with TCEN it follows time
            return FastState(MODE_MAPPED, self._sticky,
                             flags=FLAG_MAPPED_BUSY if self._mapped_busy else 0,
                             registers=self._native_values(self.values))
        if self._mapped or self.tracer is not None or (not self._clocked and act is not None):
            return FastState(MODE_FORWARD)  # every access goes through the model
        if not self._clocked:  # registers read 0, writes change nothing (_read, _write)
            return FastState(MODE_OFF, self._sticky,
                             registers=self._native_values(self.values))
        cr = self.values[self.L.CR]
        irq = self.set_irq is not None and cr & IRQ_ENABLE_BITS
        flags = FLAG_IRQ if irq else 0
        sticky = self._sticky
        if act is None:
            mode, limit, pos, length = MODE_IDLE, 0, 0, 0
        elif act.fmode == FMODE_WRITE and act.done_fs and lane:
            mode, limit, pos, length = MODE_CMD, 0, 0, 0  # on the bus until done_fs
        elif act.fmode == FMODE_POLL and act.lane and lane:
            mode, limit, pos, length = MODE_POLL, 0, 0, 0
        elif act.fmode == FMODE_WRITE:
            if act.done_fs or act.tx_expected is None or not cr & 1:
                return FastState(MODE_FORWARD)
            mode, limit, pos, length = MODE_TX, min(act.tx_expected - len(act.tx),
                                                    TX_CAPACITY), 0, 0
        elif (act.fmode == FMODE_READ and self.clock.now_fs >= act.done_fs
                and act.rx_pos < len(act.rx) and not irq):
            # TCF may rise while data is drained: only without interrupts to raise
            mode, limit, pos, length = MODE_RX, 0, act.rx_pos, len(act.rx)
        elif act.fmode == FMODE_READ and lane and act.rx_pos < len(act.rx) and not irq:
            # still on the bus: the lane waits SR reads out as _read_sr does
            mode, limit, pos, length = MODE_RXT, 0, act.rx_pos, len(act.rx)
        else:
            return FastState(MODE_FORWARD)
        return FastState(mode, sticky, min(self.fsize_bytes, ALL_ONES), self.variant.fifo_bytes,
                         limit, pos, length, flags, self._native_values(self.values))

    def _publish(self) -> None:
        nat = self.native
        if nat is None:
            return
        chip, facts = self._lane_facts()
        state = self.fast_state(facts is not None)
        act = self._active
        rx = act.rx if state.mode in (MODE_RX, MODE_RXT) and act is not None else None
        nat.publish(state, self._sr_run, self._sr_last, rx)
        if (state.mode == MODE_TX and act is not None and act.tx
                and len(act.tx) + state.limit <= TX_CAPACITY):
            nat.prefill(bytes(act.tx))
        if state.mode in (MODE_FORWARD, MODE_OFF, MODE_MAPPED) or chip is None or facts is None:
            self._lane_chip = None
            nat.lane_off()
            return
        self._lane_chip = chip
        op = LaneOperation()
        if state.mode == MODE_CMD and act is not None:
            op = LaneOperation(done_fs=act.done_fs)
        elif state.mode == MODE_POLL and act is not None:
            op = LaneOperation(poll_next_fs=act.poll_next_fs,
                               poll_interval_fs=act.poll_interval_fs, poll_ftf=act.poll_ftf)
        elif state.mode == MODE_RXT and act is not None:
            op = LaneOperation(done_fs=act.done_fs, stall_fs=act.stall_fs)
        frames = self._learned.frames(self._frame_context(facts))
        nat.publish_lane(facts, chip.memory, self.clk_hz, op, self._last_status,
                         self._lane_time(), frames)

    def _lane_time(self) -> LaneTime | None:
        """The running slice's time base for the lane (None: no slice runs). The chip's own
        end of busy is left out of the next event: the lane ends the chip's operation itself."""
        base = self._time_base()
        chip = self._lane_chip
        if base is None or chip is None:
            return None
        clock = self.clock
        events = clock.next_events_except(chip.is_settle_event, 2)
        return LaneTime(base[0], base[1], clock.fs_per_cycle,
                        events[0][0] if events else NEVER,
                        NEVER if clock.limit_fs is None else clock.limit_fs,
                        events[1][0] if len(events) > 1 else NEVER,
                        bool(events) and self._event_wakes(events[0][1]), base[2], base[3])

    def _lane_facts(self) -> tuple[_LaneChip | None, LaneFacts | None]:
        """The chip the native lane may run commands for, and its facts: one chip (no
        dual-flash), nothing traced, no interrupt enabled, every line of the bank routed."""
        cr = self.values[self.L.CR]
        if (self.trace is not None or cr & (1 << 6)
                or (self.set_irq is not None and cr & IRQ_ENABLE_BITS)
                or not self._lane_allowed()):
            return None, None
        bank = self.banks.get(self._selected_bank)
        if bank is None or not hasattr(bank.device, "lane_facts"):
            return None, None
        chip: _LaneChip = bank.device  # type: ignore[assignment]
        facts = chip.lane_facts()
        if facts is None:
            return None, None
        if self.pin_probe is not None and bank.wires:
            octal = facts.octal_mode is not None
            for width, dqs in ((2, False), (4, False), *(((8, False), (8, True)) if octal else ())):
                bad = self._routes.get((bank.number, width, dqs))
                if bad is None:
                    bad = self._routes[bank.number, width, dqs] = self._probe_routes(
                        bank, width, dqs)
                if bad:
                    return None, None
        return chip, facts

    def _absorb(self) -> None:
        """Take over what the native side served since the last publish."""
        if self._bus is not None and self._bus.lazy is not None:
            # the machine's C tick loop runs: its ticks are taken over first, and the slice's
            # end is then Python's (a callback ran)
            self._bus.lazy()
        nat = self.native
        if nat is None or not nat.dirty:
            return
        served = nat.served()
        nat.state.dirty = 0  # taken: a nested absorb (while replaying) has nothing to take
        lane_rx = self._take_lane(nat, self._lane_chip) if self._lane_chip is not None else None
        self._sr_run, self._sr_last = served.sr_run, served.sr_last
        if served.mode != MODE_FORWARD:
            self._take_served(nat, served, lane_rx)
        deferred = nat.take_deferred()
        if deferred is not None:
            self._replay(deferred)

    def _replay(self, access: Deferred) -> None:
        """A write the C side deferred (it only starts a command): handled as :meth:`bus_write`
        would have, at its own instruction."""
        self._hold_time(access.at)
        try:
            self._sr_run = 0
            if access.offset & ~3 == self.L.DR:
                self.beats += 1
            self._write(access.offset, access.size, access.value)
        finally:
            self._hold_time(None)

    def _take_lane(self, nat: NativeQuadspi, chip: _LaneChip) -> bytes | None:
        """Take over the time that passed in the lane, the commands it sent and the chip
        state it left; returns the data of an indirect read the lane started (None: none)."""
        st = nat.state
        st.lane_dirty = 0
        self._take_lane_time(st)
        records = nat.lane_records()

        qpi = st.chip_lines == 4  # the mode a refused frame met (the lane changes no mode)

        def event(r: LaneRecord) -> FlashEvent:
            cmd = self._logged_command(r, r.address, r.data,
                                       r.length if r.kind in (REC_POLL, REC_READ) else 0)
            if r.kind == REC_REFUSED:
                return FlashEvent(r.time_fs, cmd, "rejected", chip.lane_refusal(cmd, qpi) or "")
            return FlashEvent(r.time_fs, cmd, "ok")

        def events() -> list[FlashEvent]:
            # decoded when the chip's log is read: as the model would have logged them (the
            # lane sends no alternate bytes and no SIOO, so nothing else of CCR's state counts)
            return [event(r) for r in records()]

        self.commands += st.commands
        if st.polls:
            self._last_status = self.values[self.L.DR] = st.last_status
        changed = (st.changed_lo, st.changed_hi) if st.changed_lo != st.changed_hi else None
        chip.lane_take(wel=bool(st.wel), busy_until=st.busy_until,
                       started=(_STARTED[st.op_started], st.op_page, st.op_end)
                       if st.op_started else None,
                       enabled=bool(st.wrens), commands=st.commands, events=events,
                       changed=changed,
                       armed=bool(st.commands) and nat.last_kind() == REC_RSTEN)
        # the array cannot change under a read the lane started: no command starts before it
        # is drained
        rx = (bytes(chip.memory[st.read_at:st.read_at + st.len])
              if st.read_started == READ_ARRAY else bytes(st.reg_rx[:st.len])
              if st.read_started == READ_REGISTER else None)
        nat.clear_lane()
        return rx

    def _take_lane_time(self, st: QuadspiFastState) -> None:
        """Let the time the lane let pass pass on the clock (events due on the way fire)."""
        if st.skip_fs or st.skip_cycles:
            clock = self.clock
            clock.cycles += st.skip_cycles
            clock.advance_to(clock.now_fs + st.skip_fs)
            st.base_fs += st.skip_fs  # the lane's "now" stays where it was
            st.skip_fs = st.skip_cycles = 0

    def _take_served(self, nat: NativeQuadspi, served: Served, lane_rx: bytes | None) -> None:
        self._sticky = served.sticky
        if served.written:
            registers = served.registers()
            for i, offset in enumerate(self._native_slots):
                if served.written >> i & 1:
                    self.values[offset] = registers[i]
                    if offset == self.L.CCR:
                        self._sioo_sent = False  # as on_write_CCR does
        act = self._active
        st = nat.state
        if served.mode == MODE_CMD:  # a command the lane sent (or continued) is on the bus
            if act is None or act.fmode != FMODE_WRITE or act.done_fs != st.done_fs:
                n = st.cmd_length
                self._active = _Active(FMODE_WRITE, done_fs=st.done_fs, tx=bytearray(n),
                                       tx_expected=n or None,
                                       address=self.values[self.L.AR] if n else 0)
            return
        if served.mode == MODE_POLL:
            self._active = _Active(FMODE_POLL, poll_next_fs=st.poll_next_fs,
                                   poll_interval_fs=st.poll_interval_fs,
                                   poll_ftf=bool(st.poll_ftf), lane=True,
                                   address=self.values[self.L.AR] if self._admode else 0)
            return
        if served.mode == MODE_IDLE:
            self._active = None  # nothing started, or what the lane ran has ended
            return
        if served.mode == MODE_RXT and lane_rx is not None:
            # an indirect read the lane started (lane_start_read), as _start leaves it
            self._active = _Active(FMODE_READ, done_fs=st.done_fs, stall_fs=st.stall_fs,
                                   rx=lane_rx, rx_pos=served.pos, address=self.values[self.L.AR])
            return
        if served.started and served.mode == MODE_TX:
            # the first DR beat started an indirect write (as _start does)
            address = self.values[self.L.AR] if self._admode else 0
            act = self._active = _Active(FMODE_WRITE, address=address,
                                         tx_expected=self.values[self.L.DLR] + 1)
        if act is None:
            return
        # the bytes captured since the publish (a write C started reuses the buffer from 0)
        held = 0 if served.started else nat.prefilled
        if served.mode == MODE_TX and served.fill > held:
            act.tx += nat.captured(held, served.fill)
        elif served.mode in (MODE_RX, MODE_RXT):
            act.rx_pos = served.pos

    @property
    def mapped(self) -> bool:
        return self._mapped

    def pending(self) -> str | None:
        """What the controller has in progress that will change its registers by itself
        (None: nothing; its timers are clock events, see :meth:`_arm_timeout`). A read stalled
        with the FIFO full waits for software, not for time."""
        self._settle()
        act = self._active
        now = self.clock.now_fs
        if act is None or act.fmode == FMODE_POLL:
            return None  # a poll changes SR only when the chip's status does
        if act.fmode == FMODE_READ and now < self._read_end_fs(act):
            return "an indirect read on the bus"
        if act.fmode == FMODE_WRITE and act.done_fs and now < act.done_fs:
            return "a command on the bus"
        return None

    @property
    def enabled(self) -> bool:
        """CR.EN (cheap, moves nothing: for checks after every call)."""
        return bool(self.values[self.L.CR] & 1)

    @property
    def fmode(self) -> int:
        """The functional mode the registers select (cheap: for per-command hooks)."""
        return self._fmode

    @property
    def mapped_frame(self) -> SpiCommand | None:
        """The read frame memory-mapped mode sends (None outside memory-mapped mode)."""
        return self._mapped_cmd if self._mapped else None

    # -- what diagnostics see ---------------------------------------------------------------------
    def state(self) -> ControllerState:
        """The controller now, front-end neutral (see :mod:`.frontstate`); moves no time."""
        self._absorb()
        try:
            self._settle()
            sr = self._sr_value() if self._clocked else 0
            values, L = self.values, self.L
            act = self._active
            missing = None
            if act is not None and act.fmode == FMODE_WRITE and act.tx_expected is not None:
                missing = act.tx_expected - len(act.tx)
            writes = self._mapped_write_ccr()
            return ControllerState(
                name=self.name, kind=self.kind, fields=self.FIELDS, clocked=self._clocked,
                enabled=bool(values[L.CR] & 1), fmode=self._fmode, mapped=self._mapped, sr=sr,
                fifo_level=(sr >> 8) & ((1 << self.variant.flevel_width) - 1),
                fifo_bytes=self.variant.fifo_bytes,
                frame=self._command_preview(values[L.AR]),
                mapped_write=(self._mapped_write_frame(0, b"") if writes is not None else None),
                address=values[L.AR], data_length=values[L.DLR], poll_mask=values[L.PSMKR],
                poll_match=values[L.PSMAR], poll_status=values[L.DR],
                stop_on_match=bool(values[L.CR] & (1 << 22)), flash_bytes=self.fsize_bytes,
                bank=self._selected_bank, write_bytes_missing=missing)
        finally:
            self._publish()

    def describe_command(self, offset: int, value: int) -> str | None:
        """What writing ``value`` to the register at ``offset`` sets up, when that write
        completes a command (:attr:`COMMAND_REGISTERS`): ``indirect read: 0x0B 1-1-1, 3-byte
        address, 8 dummy`` (``command: 0xEE11 8D-8D-8D, ...`` where FMODE is set apart from
        the command); None for other registers."""
        if offset not in self.COMMAND_REGISTERS:
            return None
        self._absorb()  # the registers the native fast path served
        saved = self.values[offset]
        self.values[offset] = value
        try:
            fmode, cmd, once = self._fmode, self._command_preview(0), self._instruction_once
        finally:
            self.values[offset] = saved
            self._publish()
        what = FMODES[fmode] if self.COMMAND_CARRIES_MODE else "command"
        return f"{what}: {describe_setup(cmd, once=once)}"

    @property
    def _instruction_once(self) -> bool:
        """Is the instruction sent only with the first command (SIOO)?"""
        return False

    # -- status -------------------------------------------------------------------------------
    def _busy(self) -> bool:
        self._settle()
        return self._active is not None or (self._mapped and self._mapped_busy)

    def _read_sr(self) -> int:
        act = self._active
        now = self.clock.now_fs
        if act is not None and act.fmode != FMODE_POLL and now < act.done_fs:
            # The guest can only be waiting for the transfer: let bus time run to its end, or
            # for a read to where it stalls with the FIFO full.
            end = self._read_end_fs(act) if act.fmode == FMODE_READ else act.done_fs
            if end > now:
                self.clock.advance_fs(end - now)
        self._settle()
        value = self._sr_value()
        act = self._active
        if act is not None and act.fmode == FMODE_POLL and not value & SMF:
            # Spinning on a poll that has not matched: go to its next status read. Once a read
            # did not match (FTF set, RM0433 QUADSPI SR: "set each time status is read" in
            # automatic-polling mode), jump further, to the next thing that can change the
            # status (the chip's end of busy, a timer tick), as the spin loop would reach it.
            # The first read comes at once: the status is read as soon as polling starts, then
            # every PIR interval (RM0433 QUADSPI "automatic status-polling mode"), so a chip
            # that already matches (WEL=1 right after WREN) matches on it.
            now = self.clock.now_fs
            nxt = act.poll_next_fs
            if act.poll_ftf:
                nxt = max(nxt, self.clock.next_event_fs() or 0)
            if nxt > now:
                self.clock.skip_to(nxt)
                self._settle()
                value = self._sr_value()
        return value

    @staticmethod
    def _read_end_fs(act: _Active) -> int:
        """Until when an SR read during an indirect read waits: the transfer's end, or, before
        software has read DR at all, the moment the FIFO is full.

        RM0433 QUADSPI "indirect mode" (RM0455/RM0456 OCTOSPI alike; ``peripherals.md`` §2.2
        SR.BUSY): in indirect read mode, when the FIFO becomes full the controller stops reading
        and the clock stops until software reads DR; BUSY stays set until the transfer is over
        and the FIFO is empty. A read with DLR=0xFFFFFFFF ("read to the end of memory") that is
        never drained therefore holds the bus for only a FIFO's worth of data, and later SR
        reads cost their own bus time. Once software drains, the transfer is taken to run on
        to ``done_fs`` (the data as fast as it is read).
        """
        return act.stall_fs if act.rx_pos == 0 else act.done_fs

    def _sr_value(self) -> int:
        value = self._sticky
        act = self._active
        if act is not None:
            value |= BUSY
            thr = ((self.values[self.L.CR] >> 8) & self._fthres_mask) + 1
            if act.fmode == FMODE_READ:
                level = min(len(act.rx) - act.rx_pos, self.variant.fifo_bytes)
                value |= level << 8
                if level >= thr or (value & TCF and level):
                    value |= FTF
            elif act.fmode == FMODE_WRITE:
                if act.tx_expected is None or len(act.tx) < act.tx_expected:
                    value |= FTF
            elif act.fmode == FMODE_POLL and act.poll_ftf:
                value |= FTF
        elif self._mapped and self._mapped_busy:
            value |= BUSY
        elif self._fmode == FMODE_WRITE:
            value |= FTF  # indirect write, FIFO empty: free space >= threshold
        return value

    def _settle(self) -> None:
        """Move the operation on to "now": end transfers whose bus time is over, run polls."""
        act = self._active
        if act is None:
            return
        now = self.clock.now_fs
        if act.fmode == FMODE_POLL:
            if now >= act.poll_next_fs:
                self._poll(now)
            return
        if now < act.done_fs or (act.fmode == FMODE_WRITE and not act.done_fs):
            return
        if act.fmode == FMODE_READ:
            if act.rx_pos >= len(act.rx):
                self._finish()
            elif not self._sticky & TCF and len(act.rx) - act.rx_pos <= self.variant.fifo_bytes:
                self._sticky |= TCF
                self._irq_check()
        elif act.fmode == FMODE_WRITE and act.done_fs:  # done_fs is set once the command went out
            self._finish()

    def _finish(self) -> None:
        self._active = None
        self._sticky |= TCF
        self._irq_check()

    def _irq_check(self) -> None:
        cr = self.values[self.L.CR]
        if self.set_irq is None or not cr & IRQ_ENABLE_BITS or self.variant.irq < 0:
            return
        flags = self._sr_value()
        if any(cr & (1 << bit) and flags & flag for bit, flag in IRQ_ENABLES.items()):
            self.set_irq(self.variant.irq)

    def _duration_fs(self, cmd: SpiCommand, data_bytes: int) -> int:
        """Bus time of one command: its phases' bits over their line counts, plus nCS high.

        Counted in half clocks so that every phase is exact: an STR phase moves ``lines`` bits
        a clock, a DTR phase ``2 x lines`` (RM0433 QUADSPI "DDR mode", RM0455 OCTOSPI
        "double-transfer rate"); one byte on 8 lines in DTR is half a clock.
        """
        half = 2 * (cmd.dummy_cycles + self._csht_cycles)
        if cmd.instruction is not None and cmd.instruction_lines:
            half += _half_clocks(8 * max(cmd.instruction_bytes, 1), cmd.instruction_lines,
                                 cmd.instruction_dtr)
        if cmd.address_lines:
            half += _half_clocks(8 * cmd.address_bytes, cmd.address_lines, cmd.address_dtr)
        if cmd.alternate_lines:
            half += _half_clocks(8 * cmd.alternate_bytes, cmd.alternate_lines, cmd.alternate_dtr)
        if cmd.data_lines:
            half += _half_clocks(8 * data_bytes, cmd.data_lines, cmd.ddr)
        return half * FS_PER_S // (2 * max(self.clk_hz, 1))

    def _start(self, fmode: int, address: int) -> None:
        """A start trigger fired: run (or begin) the command the registers describe."""
        self._settle()
        now = self.clock.now_fs
        if self._admode and fmode != FMODE_MAPPED and address >= self.fsize_bytes:
            self._sticky |= TEF
            self._irq_check()
            return
        dl = self.values[self.L.DLR]
        act = _Active(fmode, address=address)
        dmode = self._dmode
        if fmode == FMODE_WRITE:
            if dmode:
                act.tx_expected = None if dl == ALL_ONES else dl + 1
                if act.tx_expected is None and self._admode:
                    act.tx_expected = max(self.fsize_bytes - address, 0)
                self._active = act
                return
            cmd = self._command(address)
            # an erase names an address: the write enables and resets Python runs are not
            # decoded once more for it
            erase = self._erase_before(cmd, address) if cmd.address_lines else None
            self._transfer(cmd)
            act.done_fs = now + self._duration_fs(cmd, 0)
            self._learn_frame(cmd)
            if erase is not None:
                self._learn_erase(erase, cmd)
        elif fmode == FMODE_READ:
            length = 0
            if dmode:
                length = (self.fsize_bytes - address) if dl == ALL_ONES else dl + 1
            cmd = self._command(address, read_length=length)
            act.rx = self._transfer(cmd)
            banks = 2 if self._dfm else 1
            act.done_fs = now + self._duration_fs(cmd, length // banks)
            act.stall_fs = now + self._duration_fs(
                cmd, min(length, self.variant.fifo_bytes) // banks)
        elif fmode == FMODE_POLL:
            cmd = self._command_preview(address, read_length=self._poll_length())
            gap_fs = max(self.values[self.L.PIR] & 0xFFFF, 1) * FS_PER_S // max(self.clk_hz, 1)
            read_fs = self._duration_fs(cmd, cmd.read_length)
            act.poll_interval_fs = gap_fs + read_fs
            act.poll_next_fs = now + read_fs
        self._active = act
        self._settle()

    def _learning(self, cmd: SpiCommand, *kinds: str
                  ) -> tuple[_LaneChip, LaneFacts, tuple[object, int], Registers, str] | None:
        """The chip, its facts, the context, the frame's registers and what the chip takes
        ``cmd`` for, when that is one of ``kinds`` (NorFlash.lane_frame: "wren", "wrdi",
        "rsten", "sr1", "program", "erase" in an octal state; "refused" in SPI or QPI) and the
        lane could run it again: no alternate bytes, dual-flash or SIOO."""
        bank = self.banks.get(self._selected_bank)
        if (self.native is None or bank is None or cmd.alternate_lines or self._dfm
                or self._instruction_once):
            return None
        chip: _LaneChip = bank.device  # type: ignore[assignment]
        lane_frame = getattr(chip, "lane_frame", None)
        what = lane_frame(cmd) if lane_frame is not None else None
        if what is None or what not in kinds:
            return None
        facts = chip.lane_facts()
        if facts is None or (facts.octal_mode is None) != (what == "refused"):
            return None
        ccr, tcr, ir, dcr, dlr, ar = operator.itemgetter(*_FRAME_SLOTS)(
            self._native_values(self.values))
        registers = (ccr, tcr, ir, dcr, dlr, ar if cmd.address_lines else 0)
        return chip, facts, self._frame_context(facts), registers, what

    def _frame_context(self, facts: LaneFacts) -> tuple[object, int]:
        """What a learned frame means depends on: the chip's octal mode (or, in SPI and QPI,
        its instruction lines) and the controller's clock."""
        mode = facts.octal_mode if facts.octal_mode is not None else facts.instruction_lines
        return mode, self.clk_hz

    def _learn_frame(self, cmd: SpiCommand, returned: bytes | None = None) -> None:
        """Teach the native lane a frame the chip has just taken for a write enable, a write
        disable or a reset enable, or refused in SPI or QPI whatever its state (no
        ``returned``), or a status read that ``returned`` bytes (learned.py), with its bus time
        (a poll's: one status read's)."""
        learning = (self._learning(cmd, "wren", "wrdi", "rsten", "refused") if returned is None
                    else self._learning(cmd, "sr1"))
        if learning is None:
            return
        chip, facts, context, registers, what = learning
        bus_fs = self._duration_fs(cmd, cmd.read_length)
        if returned is not None:
            self._learned.status_read(context, registers, bus_fs, returned, chip.status)
            return
        # a busy chip rejects a write enable or disable; a reset enable while busy is left to
        # the model too; a refusal does not depend on the chip's state
        taken = {"wren": not facts.busy_until and facts.wel,
                 "wrdi": not facts.busy_until and not facts.wel,
                 "rsten": not facts.busy_until and chip.reset_armed,
                 "refused": True}[what]
        if taken:
            self._learned.instruction(context, _INSTRUCTION_FRAMES[what], registers, bus_fs)

    def _program_before(self, cmd: SpiCommand, address: int) -> _ProgramProof | None:
        """What proving a page program takes from before it runs (:meth:`_learn_program`): an
        octal program frame the lane does not know yet, at an even address (8D ignores A0), to
        an idle chip with its latch set."""
        learning = self._learning(cmd, "program")
        if learning is None or address & 1:
            return None
        chip, facts, context, registers, _ = learning
        registers = (*registers[:5], 0)  # the lane matches a program at any even address
        ps = facts.page_size
        if (not facts.wel or facts.busy_until or not ps or not facts.program_fs
                or self._learned.knows(context, FRAME_PROGRAM, registers)):
            return None
        at = address % facts.size
        page = at - at % ps
        return _ProgramProof(chip, context, registers, page, at % ps,
                             bytes(chip.memory[page:page + ps]),
                             self.clock.now_fs + facts.program_fs)

    def _erase_before(self, cmd: SpiCommand, address: int) -> _EraseProof | None:
        """What proving an erase takes from before it runs (:meth:`_learn_erase`): an octal
        erase frame the lane does not know yet, to an idle chip with its latch set."""
        learning = self._learning(cmd, "erase")
        if learning is None:
            return None
        chip, facts, context, registers, _ = learning
        registers = (*registers[:4], 0, 0)  # the lane matches an erase at any address
        if (not facts.wel or facts.busy_until
                or self._learned.knows(context, FRAME_ERASE, registers)):
            return None
        return _EraseProof(chip, context, registers, address % facts.size, self.clock.now_fs)

    def _learn_erase(self, proof: _EraseProof, cmd: SpiCommand) -> None:
        """Teach the lane an erase the chip has just started as the lane runs one: the aligned
        range around the address erased, the chip busy for its erase time from now."""
        op, facts = proof.chip.lane_operation(), proof.chip.lane_facts()
        if op is None or facts is None or op[0] != "erase" or not facts.busy_until:
            return
        _, start, end = op
        size = end - start
        if (start != proof.at - proof.at % size
                or proof.chip.memory[start:end].count(0xFF) != size):
            return
        self._learned.erase(proof.context, proof.registers, size,
                            facts.busy_until - proof.now_fs, self._duration_fs(cmd, 0))

    def _learn_program(self, proof: _ProgramProof, cmd: SpiCommand, data: bytes,
                       bus_fs: int) -> None:
        """Teach the lane a page program the chip has just run, if it came out as the lane
        would run it (learned.program_swaps): busy for the chip's program time, the page
        ANDed with the data as it crossed the bus (cmd.write_data: the front-end may have
        swapped each byte pair), with each pair of that swapped again or not."""
        facts = proof.chip.lane_facts()
        if facts is None or facts.busy_until != proof.busy_until:
            return
        after = bytes(proof.chip.memory[proof.page:proof.page + len(proof.old)])
        swaps = program_swaps(data, cmd.write_data, proof.old, proof.offset, after)
        if swaps is not None:
            self._learned.page_program(proof.context, proof.registers, swaps, bus_fs)

    def _command_preview(self, address: int, read_length: int = 0) -> SpiCommand:
        """The command as the registers describe it, without SIOO bookkeeping (for timing)."""
        saved = self._sioo_sent
        cmd = self._command(address, read_length=read_length)
        self._sioo_sent = saved
        return cmd

    def _poll_length(self) -> int:
        dl = self.values[self.L.DLR]
        return (dl & 3) + 1 if not self._dfm else ((dl | 1) & 7) + 1

    def _poll(self, now: int) -> None:
        act = self._active
        assert act is not None
        ticks = (now - act.poll_next_fs) // act.poll_interval_fs
        tick_fs = act.poll_next_fs + ticks * act.poll_interval_fs
        cmd = self._command(act.address, read_length=self._poll_length())
        status_bytes = self._transfer(cmd)
        self._learn_frame(cmd, status_bytes)
        status = int.from_bytes(status_bytes, "little")
        self._last_status = status
        self.values[self.L.DR] = status
        act.poll_ftf = True
        act.poll_next_fs = tick_fs + act.poll_interval_fs
        mask, match = self.values[self.L.PSMKR], self.values[self.L.PSMAR]
        hits = ~(status ^ match) & mask
        # PMM=1: any unmasked bit matching is enough; PMM=0: all of them
        matched = (bool(hits) or mask == 0) if self.values[self.L.CR] & (1 << 23) else hits == mask
        if matched:
            self._sticky |= SMF
            if self.values[self.L.CR] & (1 << 22):  # APMS: stop on the first match
                self._active = None
        self._irq_check()

    # -- DR -----------------------------------------------------------------------------------
    def _write_dr(self, offset: int, size: int, value: int) -> None:
        if not self.values[self.L.CR] & 1:
            return
        act = self._active
        if act is None:
            if self._fmode != FMODE_WRITE or not self._dmode:
                return  # no indirect write waiting for data: the bytes go nowhere
            self._start(FMODE_WRITE, self.values[self.L.AR] if self._admode else 0)
            act = self._active
            if act is None:  # TEF
                return
        if act.fmode != FMODE_WRITE or act.done_fs:
            return
        act.tx += (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        if act.tx_expected is not None and len(act.tx) >= act.tx_expected:
            data = bytes(act.tx[:act.tx_expected])
            cmd = self._command(act.address, write_data=data)
            proof = self._program_before(cmd, act.address)
            self._transfer(cmd)
            per_bank = len(data) // (2 if self._dfm else 1)
            bus_fs = self._duration_fs(cmd, per_bank)
            act.done_fs = self.clock.now_fs + bus_fs
            if proof is not None:
                self._learn_program(proof, cmd, data, bus_fs)

    def _read_dr(self, size: int) -> int:
        act = self._active
        if act is not None and act.fmode == FMODE_POLL:
            act.poll_ftf = False
            return self._last_status & ((1 << (8 * size)) - 1)
        if act is None or act.fmode != FMODE_READ:
            return self._last_status & ((1 << (8 * size)) - 1) if self._fmode == FMODE_POLL else 0
        chunk = act.rx[act.rx_pos:act.rx_pos + size]
        act.rx_pos += len(chunk)
        if act.rx_pos >= len(act.rx):
            self._settle()
        return int.from_bytes(chunk, "little")

    # -- transfers, wiring, dual-flash --------------------------------------------------------
    def _transfer(self, cmd: SpiCommand) -> bytes:
        """Run ``cmd`` on the selected bank(s); dual-flash splits and interleaves the data."""
        self.commands += 1
        if not self._dfm:
            return self._bank_transfer(self._selected_bank, cmd)
        if cmd.address is not None:
            cmd.address >>= 1
        n = cmd.read_length // 2
        data = cmd.write_data
        halves = []
        for bank, part in ((1, data[0::2]), (2, data[1::2])):
            sub = replace(cmd, write_data=part, read_length=n)
            halves.append(self._bank_transfer(bank, sub))
        out = bytearray(2 * n)
        out[0::2], out[1::2] = halves[0], halves[1]
        return bytes(out)

    def _bank_transfer(self, number: int, cmd: SpiCommand) -> bytes:
        bank = self.banks.get(number)
        if self.trace is not None:
            self.trace(number, cmd)
        if bank is None:
            return b"\xff" * cmd.read_length
        missing = self._unrouted(bank, cmd)
        if missing is None:
            return (b"\xff" if bank.pull_up else b"\x00") * cmd.read_length
        if not missing:
            return bank.device.transfer(cmd)
        cmd = self._garble_out(cmd, missing, bank.pull_up)
        data = bank.device.transfer(cmd)
        if cmd.data_lines:
            data = data.translate(self._table(cmd.data_lines, missing, True, bank.pull_up))
        return data

    def _table(self, lines: int, missing: frozenset[int], inbound: bool, pull_up: bool) -> bytes:
        key = (lines, missing, inbound, pull_up)
        table = self._garble.get(key)
        if table is None:
            table = self._garble[key] = _garble_table(lines, missing, inbound, pull_up)
        return table

    def _garble_out(self, cmd: SpiCommand, missing: frozenset[int], pull_up: bool) -> SpiCommand:
        def bytes_of(value: int, n: int, lines: int) -> int:
            raw = value.to_bytes(n, "big").translate(self._table(lines, missing, False, pull_up))
            return int.from_bytes(raw, "big")

        out = replace(cmd)
        if out.instruction is not None and out.instruction_lines:
            out.instruction = bytes_of(out.instruction, 1, out.instruction_lines)
        if out.address is not None and out.address_lines:
            out.address = bytes_of(out.address, out.address_bytes, out.address_lines)
        if out.alternate is not None and out.alternate_lines:
            out.alternate = bytes_of(out.alternate, out.alternate_bytes, out.alternate_lines)
        if out.write_data and out.data_lines:
            out.write_data = out.write_data.translate(
                self._table(out.data_lines, missing, False, pull_up))
        return out

    def _unrouted(self, bank: Bank, cmd: SpiCommand) -> frozenset[int] | None:
        """IO lines of ``cmd`` that do not reach the chip; None when CLK or NCS does not."""
        if self.pin_probe is None or not bank.wires:
            return frozenset()
        width = _bus_width(cmd)
        dqs = cmd.dqs and cmd.read_length > 0
        bad = self._routes.get((bank.number, width, dqs))
        if bad is None:
            bad = self._routes[bank.number, width, dqs] = self._probe_routes(bank, width, dqs)
        if not bad:
            return frozenset()
        for wire, view in bad:
            self._record(bank.number, wire, view, cmd)
        if any(w.signal in ("clk", "ncs") for w, _ in bad):
            return None
        if any(w.signal == "dqs" for w, _ in bad):
            # no strobe: the controller samples nothing valid on any data line (RM0455
            # OCTOSPI "DQS": read data are captured on DQS edges when DQSE=1)
            return frozenset(range(max(cmd.data_lines, 1)))
        return frozenset(int(w.signal[2:]) for w, _ in bad)

    def _probe_routes(self, bank: Bank, width: int, dqs: bool
                      ) -> tuple[tuple[BankWire, PinView], ...]:
        """The wired signals (CLK, NCS, the IO lines of a ``width``-line bus, DQS when the
        command samples on it) that do not reach their pins: not given to this controller by
        the IO manager (or the port unpowered), or the pin not in the right AF mode."""
        bad = []
        signals = ("clk", "ncs", *(f"io{i}" for i in range(width)), *(("dqs",) if dqs else ()))
        for signal in signals:
            wire = bank.wires.get(signal)
            if wire is None:
                continue
            key = (bank.number, signal)
            if key not in self._signal_routes:  # the bus widths share their lines' probes
                self._signal_routes[key] = self._probe_signal(bank, signal, wire)
            view = self._signal_routes[key]
            if view is not None:
                bad.append((wire, view))
        return tuple(bad)

    def _probe_signal(self, bank: Bank, signal: str, wire: BankWire) -> PinView | None:
        """Why ``signal`` does not reach its pin (the pin's view), None when it does."""
        assert self.pin_probe is not None
        reason = self.port_route(bank, signal) if self.port_route is not None else None
        if reason is not None:
            return PinView("unrouted", 0, True, reason)
        view = self.pin_probe(wire.pin)
        if view.mode != "af" or view.af != wire.af or not view.clocked:
            return view
        return None

    def _record(self, bank: int, wire: BankWire, view: PinView, cmd: SpiCommand) -> None:
        event = WiringEvent(self.clock.now_fs, bank, wire.name, wire.pin, wire.af, view.mode,
                            view.af, view.clocked, cmd.describe(), self.name, view.note)
        last = self.wiring_events[-1] if self.wiring_events else None
        if last is None or (last.signal, last.mode, last.af, last.clocked) != (
                event.signal, event.mode, event.af, event.clocked) or len(self.wiring_events) < 64:
            if len(self.wiring_events) < 1000:
                self.wiring_events.append(event)
            log.debug("%s", event.describe())

    # -- abort and memory-mapped mode ---------------------------------------------------------
    def _abort(self) -> None:
        self._active = None
        if self._mapped:
            self._leave_mapped()
        self._sticky |= TCF

    def _enter_mapped(self) -> None:
        size = min(self.fsize_bytes, 0x1000_0000)
        probe_len = 4
        cmd = self._command_preview(0, read_length=probe_len)
        self._mapped = True
        self._mapped_cmd = cmd
        self._mapped_busy = False
        writes = self._window_write if self._mapped_write_ccr() is not None else None
        fast = self._zero_copy_buffer(cmd, size)
        # the window shows the chip array as is: reads zero-copy (or decoded per access when
        # the read frame does not show it as is); with a write set (OCTOSPI/XSPI WCCR) each
        # store is decoded into a write frame and sent to the chip
        self.mapped_exact = fast is not None
        if fast is not None and self.window.map_buffer(fast[0], fast[1], writes):
            self.window.on_first_access(self._mapped_access)
        else:
            self.window.map_reader(size, self._window_read, writes)

    def _mapped_write_ccr(self) -> int | None:
        """The command register value of memory-mapped writes when the front-end has a write
        set with a data phase configured (OCTOSPI/XSPI WCCR); None: the window is read-only."""
        return None

    def _mapped_write_frame(self, address: int, data: bytes) -> SpiCommand:
        raise NotImplementedError

    def _mapped_access(self) -> None:
        """An access to the memory-mapped window. BUSY rises at the first one, not when FMODE=11
        is written (RM0433 §23.3.7: "BUSY goes high as soon as the first memory-mapped access
        occurs"; the same in RM0410/RM0440 and the OCTOSPI/XSPI chapters), so a loader may
        still write CCR/AR before anything touched the window."""
        if self._mapped:
            self._window_accessed()

    @property
    def _timeout_on(self) -> bool:
        """CR.TCEN: the timeout counter releases nCS in memory-mapped mode (_arm_timeout)."""
        return bool(self.values[self.L.CR] & (1 << 3))

    def _window_accessed(self) -> None:
        """A window access: BUSY rises (and the timeout restarts). The native side serves SR
        reads in memory-mapped mode from what was published, so the first one is published."""
        first = not self._mapped_busy and self.native is not None
        if first:
            self._absorb()
        self._mapped_busy = True
        self._arm_timeout()
        if first:
            self._publish()

    def _arm_timeout(self) -> None:
        """TCEN: after LPTR CLK cycles without a window access nCS is released, TOF is set and
        BUSY falls (RM0433 §23.3.15, QUADSPI_LPTR; OCTOSPI_LPTR alike); the next access starts
        a new prefetch (BUSY again).

        Zero-copy reads after the first are invisible to the model, so the timeout counts from
        the first access after entering the mode or after the last timeout (from the last
        decoded window read on the slow path).
        """
        if not self._timeout_on:
            return
        self._timeout_epoch += 1
        epoch = self._timeout_epoch
        idle = self.values[self.L.LPTR] & 0xFFFF
        due = self.clock.now_fs + idle * FS_PER_S // max(self.clk_hz, 1)

        def fire() -> None:
            if self._mapped and epoch == self._timeout_epoch:
                self._sticky |= TOF
                self._mapped_busy = False
                self.window.on_first_access(self._mapped_access)
                self._irq_check()

        self.clock.schedule(due, fire)

    def _zero_copy_buffer(self, cmd: SpiCommand, size: int) -> tuple[bytearray, int] | None:
        """The chip memory itself (or a dual-flash interleaved view) when the command is a valid
        read for the chip(s) and every line it uses is routed; None otherwise."""
        numbers = (1, 2) if self._dfm else (self._selected_bank,)
        mems: list[bytearray] = []
        for n in numbers:
            bank = self.banks.get(n)
            if bank is None or self._unrouted(bank, cmd) != frozenset():
                return None
            memory = getattr(bank.device, "memory", None)
            check = getattr(bank.device, "read_check", None)
            if not isinstance(memory, bytearray) or check is None or not _check_ok(check(cmd)):
                return None
            mems.append(memory)
        if len(mems) == 1:
            return mems[0], min(size, len(mems[0]))
        # The interleaved view is built once and then kept in step by on_memory_change, mapped
        # or not: re-building 2 x 64 MiB on every entry into memory-mapped mode costs 0.3 s.
        view = self._dual_view
        kept = self._dual_sources
        if view is None or kept is None or kept[0] is not mems[0] or kept[1] is not mems[1]:
            view = bytearray(2 * min(len(m) for m in mems))
            view[0::2], view[1::2] = mems[0][: len(view) // 2], mems[1][: len(view) // 2]
            self._dual_view, self._dual_sources = view, (mems[0], mems[1])
        return view, min(size, len(view))

    def on_memory_change(self, bank: int, offset: int, length: int) -> None:
        """A chip's contents changed (erase/program): keep the mapped window coherent."""
        if self._dual_view is not None:
            dev = self.banks[bank].device
            memory: bytearray = dev.memory  # type: ignore[attr-defined]
            end = min(offset + length, len(self._dual_view) // 2)
            self._dual_view[2 * offset + bank - 1:2 * end:2] = memory[offset:end]
            offset, length = 2 * offset, 2 * (end - offset)
        if self._mapped:
            self.window.invalidate(offset, length)

    def _window_read(self, offset: int, size: int) -> int:
        """Slow path: one memory-mapped read access decoded into a flash read command."""
        if self._mapped_cmd is None:
            return 0
        cmd = self._command(offset, read_length=size)
        self._window_accessed()
        return int.from_bytes(self._transfer(cmd)[:size].ljust(size, b"\xff"), "little")

    def _window_write(self, offset: int, size: int, value: int) -> None:
        """A memory-mapped write access decoded with the write set (RM0455 "memory-mapped
        mode": writes use WCCR/WTCR/WIR/WABR) and sent to the chip."""
        if self._mapped_write_ccr() is None:
            return
        data = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        self._window_accessed()
        self._transfer(self._mapped_write_frame(offset, data))

    def _leave_mapped(self) -> None:
        self._mapped = False
        self._mapped_cmd = None
        self.mapped_exact = False
        self.window.unmap()


def _bus_width(cmd: SpiCommand) -> int:
    """How many IO lines a command drives: 2 for single/dual (IO0 out, IO1 in), else 4 or 8."""
    return max(2, cmd.instruction_lines, cmd.address_lines, cmd.alternate_lines, cmd.data_lines)


def _half_clocks(bits: int, lines: int, dtr: bool) -> int:
    return (bits if dtr else 2 * bits) // lines


def _no_sync() -> None:
    """Standalone use (no machine): the clock is already "now"."""


def _check_ok(result: object) -> bool:
    """``NorFlash.read_check`` answers True/None for a valid read, or a reason/False."""
    return result is True or result is None
