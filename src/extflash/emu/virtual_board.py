"""A virtual board: the :class:`~extflash.emu.machine.Machine` of the board's part, its QUADSPI,
and the NOR chips wired as the board says.

``VirtualBoard(board, flash_file=...)`` keeps the chips' contents (array and non-volatile
registers) in ``flash_file`` so successive commands see the same chip: it is loaded at start when
it exists, and :meth:`VirtualBoard.save` writes it. A dual-flash board keeps bank 2 next to it
(``<flash_file>.bank2``).

The memory-mapped window is served zero-copy from the chip's array when the configured read
command is one the chip answers with the array as is; otherwise (wrong dummy cycles, wrong
lines, mis-wired pins) each window read is decoded into a flash command (slow path).

``native`` chooses the QUADSPI's register fast path: ``None`` (default) uses the native one when
it builds (see :mod:`extflash.emu.native`), ``False`` the pure-Python one, ``True`` requires the
native one. Both give identical results.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

from extflash import chips
from extflash.board import Board, Memory
from extflash.emu import flashclock
from extflash.emu.flash.nor import NorFlash
from extflash.emu.machine import Machine
from extflash.emu.mmio import PAGE
from extflash.emu.periph.quadspi import BankWire, PinView, Quadspi, variant_for
from extflash.emu.regmodel import Peripheral
from extflash.errors import ConfigError

log = logging.getLogger(__name__)


class _WindowReader(Peripheral):
    """The slow path of the mapped window: every read decoded into a flash command."""

    def __init__(self, base: int, size: int, read: Callable[[int, int], int]) -> None:
        super().__init__("QUADSPI_WINDOW", base, ())
        self.size = size
        self._read = read

    def read(self, offset: int, size: int) -> int:
        return self._read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        self._report("write", offset, size, value)  # memory-mapped mode is read-only


class MachineWindow:
    """:class:`~extflash.emu.periph.quadspi.WindowPort` over a machine's address space."""

    def __init__(self, machine: Machine, base: int) -> None:
        self.machine = machine
        self.base = base
        self.size = 0
        self.zero_copy = False

    def map_buffer(self, buffer: bytearray, size: int) -> None:
        self.unmap()
        # the whole array is mapped (chip sizes are whole pages); FSIZE beyond it is unmapped
        self.machine.map_buffer(self.base, buffer, writable=False, executable=True)
        self.size, self.zero_copy = len(buffer), True

    def map_reader(self, size: int, read: Callable[[int, int], int]) -> None:
        self.unmap()
        self.machine.unpark(self.base)  # the reader takes the place of the parked buffer
        size = -(-size // PAGE) * PAGE
        self.machine.add_peripheral(_WindowReader(self.base, size, read))
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

    def invalidate(self, offset: int, length: int) -> None:
        if self.size and offset < self.size:
            self.machine.invalidate_code(self.base + offset, self.base + offset + length)


class VirtualBoard:
    """Machine + QUADSPI + chips for one :class:`~extflash.board.Board`."""

    def __init__(self, board: Board, *, flash_file: str | Path | None = None,
                 timing: str = "typical", native: bool | None = None) -> None:
        self.board = board
        self.flash_file = Path(flash_file) if flash_file is not None else None
        self.machine = Machine(board.part, hse_hz=board.hse_hz)  # 0: no crystal
        memory = board.memory("QUADSPI")
        fam = board.part.family
        try:
            variant = variant_for(fam.id)
        except ValueError:
            raise ConfigError(f"{board.name}: {fam.name} has no QUADSPI model") from None
        window = next(w for w in fam.windows if w.controller == "QUADSPI")
        self.window = MachineWindow(self.machine, window.start)
        rcc = self.machine.rcc
        self.qspi = Quadspi(
            variant, self.machine.clock, base=fam.peripherals["QUADSPI"],
            kernel_hz=lambda: rcc.kernel_clock_hz("QUADSPI"),
            clock_enabled=lambda: rcc.is_enabled("QUADSPI"),
            pin_probe=self._probe, set_irq=self.machine.set_irq_pending, window=self.window,
            native=native)
        # the controller caches its clock enable and pin routing; tell it when they change
        rcc.enable_listeners.append(self._enables_changed)
        for port in self.machine.gpio.ports.values():
            port.config_listeners.append(self.qspi.wiring_changed)
        self.machine.add_peripheral(self.qspi)
        spec = chips.find(memory.chip)
        self.chips: dict[int, NorFlash] = {}
        self.flash_clock_problems: list[str] = []
        for bank in memory.banks:
            path = self._bank_file(bank)
            if path is not None and path.exists():
                chip = NorFlash.load(spec, self.machine.clock, path, timing=timing)
            else:
                chip = NorFlash(spec, self.machine.clock, timing=timing)
            chip.on_change.append(functools.partial(self._changed, bank))
            self.chips[bank] = chip
            self.qspi.attach(bank, chip, self._wires(memory, bank), pull_up=memory.io_pull_up)

    @staticmethod
    def _wires(memory: Memory, bank: int) -> dict[str, BankWire]:
        wires: dict[str, BankWire] = {}
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
        self.qspi.clock_changed()
        self.qspi.wiring_changed()  # port clocks are part of the routing

    def _probe(self, pin: str) -> PinView:
        state = self.machine.gpio.pin(pin)
        return PinView(state.mode, state.af, self.machine.rcc.is_enabled(f"GPIO{pin[1]}"))

    def _changed(self, bank: int, start: int, end: int) -> None:
        self.qspi.on_memory_change(bank, start, end - start)

    def _bank_file(self, bank: int) -> Path | None:
        if self.flash_file is None:
            return None
        if bank == 1 or self.board.memory().bank != "dual":
            return self.flash_file
        return self.flash_file.with_name(self.flash_file.name + ".bank2")

    def check_flash_clock(self) -> None:
        """Report, once each, a QUADSPI clock above the chip's limit (see :mod:`.flashclock`)."""
        found = flashclock.problem(self.qspi, next(iter(self.chips.values())).spec)
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
        """Write the chips' contents to ``flash_file`` (no-op without one)."""
        for bank, chip in self.chips.items():
            path = self._bank_file(bank)
            if path is not None:
                chip.save(path)
                log.debug("saved bank %d to %s", bank, path)
