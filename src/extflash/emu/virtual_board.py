"""A virtual board: the :class:`~extflash.emu.machine.Machine` of the board's part, its QUADSPI,
and the NOR chips wired as the board says.

``VirtualBoard(board, flash_file=...)`` keeps the chips' contents (array and non-volatile
registers) in ``flash_file`` so successive commands see the same chip: it is loaded at start when
it exists (a missing file starts a blank chip, with a warning saying so), and
:meth:`VirtualBoard.save` writes it atomically, only when the chip changed. A dual-flash board
keeps bank 2 next to it (``<flash_file>.bank2``). With ``lock=True`` the file is locked until
:meth:`VirtualBoard.close` (see :mod:`extflash.emu.chipfile`).

The memory-mapped window is served zero-copy from the chip's array when the configured read
command is one the chip answers with the array as is; otherwise (wrong dummy cycles, wrong
lines, mis-wired pins) each window read is decoded into a flash command (slow path). With
memory-mapped writes configured (OCTOSPI/XSPI WCCR) reads stay zero-copy and each store is
decoded into a write frame (:meth:`~extflash.emu.machine.Machine.trap_stores`).

``native`` chooses the memory controllers' register fast path: ``None`` (default) uses the
native one when it builds (see :mod:`extflash.emu.native`), ``False`` the pure-Python one,
``True`` requires the native one. Both give identical results.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

from extflash import chips
from extflash.board import Board, Memory
from extflash.emu import buffers, flashclock
from extflash.emu.chipfile import ChipFileLock, replace_atomically
from extflash.emu.flash.nor import FileContents, NorFlash
from extflash.emu.machine import Machine
from extflash.emu.mmio import PAGE
from extflash.emu.periph.engine import Bank, BankWire, CommandEngine, PinView
from extflash.emu.periph.iomanager import IoManager, Octospim, Xspim
from extflash.emu.periph.octospi import Octospi
from extflash.emu.periph.octospi import variant_for as octospi_variant
from extflash.emu.periph.quadspi import Quadspi, variant_for
from extflash.emu.regmodel import Peripheral
from extflash.errors import ConfigError

log = logging.getLogger(__name__)


def _instance(controller: str) -> int:
    """``OCTOSPI2`` -> 2 (the instance number the IO managers' source fields use)."""
    digits = controller[len(controller.rstrip("0123456789")):]
    return int(digits) if digits else 1


class _WindowReader(Peripheral):
    """The slow path of the mapped window: every read decoded into a flash command."""

    def __init__(self, name: str, base: int, size: int, read: Callable[[int, int], int],
                 write: Callable[[int, int, int], None] | None) -> None:
        super().__init__(name, base, ())
        self.size = size
        self._read = read
        self._write = write

    def read(self, offset: int, size: int) -> int:
        return self._read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if self._write is None:
            self._report("write", offset, size, value)  # no write set: the window is read-only
        else:
            self._write(offset, size, value)


class MachineWindow:
    """:class:`~extflash.emu.periph.quadspi.WindowPort` over a machine's address space."""

    def __init__(self, machine: Machine, base: int, controller: str = "QUADSPI") -> None:
        self.machine = machine
        self.base = base
        self.name = f"{controller}_WINDOW"
        self.size = 0
        self.zero_copy = False

    def map_buffer(self, buffer: bytearray, size: int,
                   write: Callable[[int, int, int], None] | None = None) -> bool:
        self.unmap()
        # the whole array is mapped (chip sizes are whole pages); FSIZE beyond it is unmapped
        self.machine.map_buffer(self.base, buffer, writable=False, executable=True)
        self.size, self.zero_copy = len(buffer), True
        # a memory-mapped write set: loads zero-copy, stores decoded; False when the machine
        # cannot trap stores (the caller then decodes every access)
        if write is not None and not self.machine.trap_stores(self.base, write):
            self.unmap()
            return False
        return True

    def map_reader(self, size: int, read: Callable[[int, int], int],
                   write: Callable[[int, int, int], None] | None = None) -> None:
        self.unmap()
        self.machine.unpark(self.base)  # the reader takes the place of the parked buffer
        size = -(-size // PAGE) * PAGE
        self.machine.add_peripheral(_WindowReader(self.name, self.base, size, read, write))
        self.size, self.zero_copy = size, False

    def unmap(self) -> None:
        if not self.size:
            return
        if self.zero_copy:
            self.machine.park_buffer(self.base, self.size)  # map_buffer reopens it cheaply
        else:
            self.machine.unmap(self.base, self.size)
            self.machine.invalidate_code(self.base, self.base + self.size)
        self.size, self.zero_copy = 0, False

    def on_first_access(self, callback: Callable[[], None]) -> None:
        if self.zero_copy:
            self.machine.on_first_access(self.base, self.size, callback)

    def invalidate(self, offset: int, length: int) -> None:
        if self.size and offset < self.size:
            self.machine.invalidate_code(self.base + offset, self.base + offset + length)


class VirtualBoard:
    """Machine + external-memory controllers (QUADSPI, OCTOSPI, XSPI, their IO manager) + chips
    for one :class:`~extflash.board.Board`.

    ``qspi`` is the controller of the board's first memory (the one loaders program) and
    ``chips`` its chips by chip select; every other memory is wired too
    (``controllers``/``memory_chips``).
    """

    def __init__(self, board: Board, *, flash_file: str | Path | None = None,
                 timing: str = "typical", native: bool | None = None,
                 lock: bool = False, small_pages: bool = False) -> None:
        self.board = board
        self.flash_file = Path(flash_file) if flash_file is not None else None
        # Held until close(); if construction fails, the unreferenced lock file closes and the
        # lock goes with it.
        self._lock = ChipFileLock.acquire(self.flash_file) if lock and self.flash_file else None
        # the chips' blank arrays fill on other threads while the machine is built
        buffers.prepare_blank_chips(board)
        try:
            self._build(board, timing, native, small_pages)
        finally:
            buffers.drop_prepared()

    def _build(self, board: Board, timing: str, native: bool | None, small_pages: bool) -> None:
        # what each bank's file holds now; None: written by this session, its key not worked out
        self._saved: dict[int, FileContents | None] = {}
        # small_pages: faster stores, no write-hooking watch or trace (Machine, "Pages")
        self.machine = Machine(board.part, hse_hz=board.hse_hz,  # 0: no crystal
                               small_pages=small_pages)
        self.timing = timing
        self.native = native
        self.flash_clock_problems: list[str] = []
        self._supplies: dict[int, Callable[[], bool] | None] = {}  # by port (_supply_bit)
        fam = board.part.family
        self.io_manager = self._build_io_manager()
        self.controllers: dict[str, CommandEngine] = {}
        self.windows: dict[str, MachineWindow] = {}
        self.memory_chips: dict[str, dict[int, NorFlash]] = {}
        rcc = self.machine.rcc
        rcc.enable_listeners.append(self._enables_changed)
        for index, memory in enumerate(board.memories):
            ctrl = self._controller(memory.controller)
            chips_here: dict[int, NorFlash] = {}
            spec = chips.find(memory.chip)
            for bank in memory.banks:
                path = self._bank_file(bank) if index == 0 else None
                if path is not None and path.exists():
                    chip = NorFlash.load(spec, self.machine.clock, path, timing=timing)
                    self._saved[bank] = chip.contents_key()
                else:
                    chip = NorFlash(spec, self.machine.clock, timing=timing)
                    if path is not None:
                        log.warning("%s does not exist: starting with a blank %s, saved there "
                                    "at the end", path, spec.name)
                chip.on_change.append(functools.partial(self._changed, ctrl, bank))
                chips_here[bank] = chip
                ctrl.attach(bank, chip, self._wires(memory, bank), pull_up=memory.io_pull_up,
                            port=self._port_of(memory))
            self.memory_chips[memory.controller] = chips_here
        # The family's other OCTOSPI/XSPI instances exist on the part with nothing wired to
        # them; the HAL reads and configures them too (HAL_OSPIM_Config reads both instances).
        for other in fam.controllers:
            if other.kind in ("octospi", "xspi"):
                self._controller(other.name)
        first = board.memories[0].controller
        self.qspi = self.controllers[first]
        self.window = self.windows[first]
        self.chips: dict[int, NorFlash] = self.memory_chips[first]
        if fam.controller(first) is None:
            raise ConfigError(f"{board.name}: {fam.name} has no {first} model")

    def _controller(self, name: str) -> CommandEngine:
        """The controller ``name`` (built and mapped on first use)."""
        known = self.controllers.get(name)
        if known is not None:
            return known
        fam = self.board.part.family
        spec = fam.controller(name)
        if spec is None:
            raise ConfigError(f"{self.board.name}: {fam.name} has no {name} controller")
        rcc = self.machine.rcc
        window = MachineWindow(self.machine, spec.window, name)
        common = dict(kernel_hz=functools.partial(rcc.kernel_clock_hz, name),
                      clock_enabled=functools.partial(rcc.is_enabled, name),
                      pin_probe=self._probe, set_irq=self.machine.set_irq_pending,
                      window=window, native=self.native)
        ctrl: CommandEngine
        if spec.kind == "quadspi":
            ctrl = Quadspi(variant_for(fam.id, name), self.machine.clock,
                                          base=spec.base, name=name, **common)
        else:
            variant, kind = octospi_variant(fam.id, name)
            ctrl = Octospi(variant, self.machine.clock, base=spec.base, name=name, kind=kind,
                           **common)
            ctrl.port_route = functools.partial(self._port_route, _instance(name))
        for port in self.machine.gpio.ports.values():
            port.config_listeners.append(ctrl.wiring_changed)
        if self.io_manager is not None:
            self.io_manager.listeners.append(ctrl.wiring_changed)
        self.machine.add_peripheral(ctrl)
        self.controllers[name] = ctrl
        self.windows[name] = window
        return ctrl

    def _build_io_manager(self) -> IoManager | None:
        spec = self.board.part.family.io_manager
        if spec is None:
            return None
        iom: IoManager
        if spec.kind == "xspim":
            iom = Xspim(spec.base, name=spec.name)
        else:
            iom = Octospim(spec.base, ports=spec.ports, has_cr=spec.kind == "octospim",
                           name=spec.name)
        self.machine.add_peripheral(iom)
        return iom

    def _port_of(self, memory: Memory) -> int | None:
        """The IO-manager port a memory is wired to (the board's, else the controller's own
        number: the managers' reset mapping)."""
        if self.io_manager is None or memory.controller == "QUADSPI":
            return None
        port = getattr(memory, "port", None)
        return int(port) if port else _instance(memory.controller)

    def _port_route(self, controller: int, bank: Bank, signal: str) -> str | None:
        """Why ``signal`` of the bank's port does not carry this controller (None: it does):
        the IO manager's mapping, and the port's I/O supply where the part gates it (H7R/S
        PWR_CSR2.EN_XSPIMn: RM0477, the XSPIM port I/Os are not powered until it is set)."""
        if bank.port is None:
            return None
        supply = self._supply_bit(bank.port)
        if supply is not None and not supply():
            return f"the port {bank.port} I/O supply is off (PWR EN_XSPIM{bank.port}=0)"
        if self.io_manager is None:
            return None
        return self.io_manager.route(controller, bank.port, signal)

    def _supply_bit(self, port: int) -> Callable[[], bool] | None:
        """The port's I/O supply enable (a PWR field), looked up once a port: the route checks
        ask for it for every pin whenever the wiring changed."""
        if port not in self._supplies:
            self._supplies[port] = self._find_supply_bit(port)
        return self._supplies[port]

    def _find_supply_bit(self, port: int) -> Callable[[], bool] | None:
        pwr = self.machine.peripherals.get("PWR")
        if pwr is None:
            return None
        name = f"EN_XSPIM{port}"
        for reg in pwr.by_name.values():
            if any(f.name == name for f in reg.fields):
                return functools.partial(lambda r: bool(pwr.get_field(r, name)), reg.name)
        return None

    @staticmethod
    def _wires(memory: Memory, bank: int) -> dict[str, BankWire]:
        if memory.controller != "QUADSPI":
            # port-relative signals: clk, ncs (ncs2 for chip select 2), dqs, io0..io7
            wires = {w.signal: BankWire(w.signal, w.signal, w.pin, w.af) for w in memory.wires
                     if w.signal not in ("ncs", "ncs2")}
            ncs = memory.wire("ncs2" if bank == 2 else "ncs") or memory.wire("ncs")
            if ncs is not None:
                wires["ncs"] = BankWire("ncs", ncs.signal, ncs.pin, ncs.af)
            return wires
        wires = {}
        clk = memory.wire("clk")
        assert clk is not None  # validated by extflash.board
        wires["clk"] = BankWire("clk", "clk", clk.pin, clk.af)
        ncs = memory.ncs_wire(bank)
        wires["ncs"] = BankWire("ncs", ncs.signal, ncs.pin, ncs.af)
        for i in range(4):
            w = memory.wire(f"bk{bank}_io{i}")
            if w is not None:
                wires[f"io{i}"] = BankWire(f"io{i}", w.signal, w.pin, w.af)
        return wires

    def _enables_changed(self) -> None:
        for ctrl in self.controllers.values():
            ctrl.clock_changed()
            ctrl.wiring_changed()  # port clocks are part of the routing

    def _probe(self, pin: str) -> PinView:
        state = self.machine.gpio.pin(pin)
        return PinView(state.mode, state.af, self.machine.rcc.is_enabled(f"GPIO{pin[1]}"))

    @staticmethod
    def _changed(ctrl: CommandEngine, bank: int, start: int, end: int) -> None:
        ctrl.on_memory_change(bank, start, end - start)

    def _bank_file(self, bank: int) -> Path | None:
        if self.flash_file is None:
            return None
        if bank == 1 or self.board.memories[0].bank != "dual":
            return self.flash_file
        return self.flash_file.with_name(self.flash_file.name + ".bank2")

    def check_flash_clock(self) -> None:
        """Report, once each, a controller clock above the chip's limit and a 1.8 V memory on a
        port without its I/O speed optimisation (see :mod:`.flashclock`)."""
        spec = next(iter(self.chips.values())).spec
        for found in (flashclock.problem(self.qspi, spec),
                      flashclock.io_speed_problem(self.qspi, spec,
                                                  self.machine.peripherals.get("SBS"))):
            if found is not None and found not in self.flash_clock_problems:
                self.flash_clock_problems.append(found)
                log.warning("%s", found)

    # -- what the runner uses -----------------------------------------------------------------
    @property
    def window_base(self) -> int:
        return self.window.base

    @property
    def flash_size(self) -> int:
        """Bytes the host sees at the window (both chips in dual-flash)."""
        return sum(len(c.memory) for c in self.chips.values())

    def flash_contents(self) -> bytes:
        """The external memory as the host addresses it (dual-flash interleaved)."""
        if len(self.chips) == 1:
            return bytes(next(iter(self.chips.values())).memory)
        one, two = self.chips[1].memory, self.chips[2].memory
        out = bytearray(2 * len(one))
        out[0::2], out[1::2] = one, two
        return bytes(out)

    def save(self) -> None:
        """Write the chips' contents to ``flash_file`` (no-op without one, or when unchanged).

        Each bank's file is replaced atomically: an interrupted save leaves the previous contents.
        """
        for bank, chip in self.chips.items():
            path = self._bank_file(bank)
            if path is None:
                continue
            if bank not in self._saved:  # a new file: no contents to compare (no CRC of them)
                replace_atomically(path, chip.save)
                self._saved[bank] = None
                continue
            state = chip.contents_key()
            if self._saved[bank] == state:
                continue
            replace_atomically(path, functools.partial(chip.save, blocks=state.blocks))
            self._saved[bank] = state
            log.debug("saved bank %d to %s", bank, path)

    def close(self) -> None:
        """Save the chip file (see :meth:`save`) and release its lock."""
        try:
            self.save()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None
