"""USART/UART/LPUART transmitters, so a loader that prints debug text runs and is heard.

The register table is the family's (``[[USART]]`` in ``data/regs/<family>.toml``, generated from
the SVD); every instance of the part uses it at its own base. Behaviour:

* a byte written to the transmit data register (``TDR``; ``DR`` on F4, RM0390 §25.6.2) while
  ``CR1.UE`` and ``CR1.TE`` are set is sent at once: it goes to the machine's
  :class:`SerialConsole`, which the CLI shows and the trace decodes;
* ``TXE``/``TXFNF`` (transmit register/FIFO not full) and ``TC`` (transmission complete) read 1
  (RM0433 §48.8.10 USART_ISR, RM0390 §25.6.1 USART_SR: both are 1 after reset and whenever
  nothing is waiting to go out); the transmission itself takes no time here, so a loader's
  ``while (!(ISR & TXE))`` never waits;
* nothing is ever received (``RXNE`` stays 0);
* with the instance's clock off in RCC, writes are ignored and reads return 0 (reported as
  ``clock-disabled``), as for the GPIO ports.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from extflash.emu.periph import sysregs
from extflash.emu.periph.tablemodel import Always, TableModel

log = logging.getLogger(__name__)

INSTANCE = re.compile(r"^(LP)?U(S)?ART\d*$")  # USART1, UART4, LPUART1, LPUART (not SEC_ aliases)
STATUS_BITS = tuple(Always(reg, bit) for reg in ("ISR", "SR") for bit in ("TXE", "TXFNF", "TC"))
MAX_LINE = 1024  # a line without a newline is cut here (a loader printing binary data)


class SerialConsole:
    """The text every transmitter sent, per instance, cut into lines for its listeners."""

    def __init__(self) -> None:
        self.sent: dict[str, bytearray] = {}
        self.lines: list[tuple[str, str]] = []  # (instance, line) in the order they ended
        self.listeners: list[Callable[[str, str], None]] = []
        self._pending: dict[str, bytearray] = {}

    def put(self, port: str, byte: int) -> None:
        self.sent.setdefault(port, bytearray()).append(byte)
        pending = self._pending.setdefault(port, bytearray())
        if byte == 0x0A or len(pending) >= MAX_LINE:
            if byte != 0x0A:
                pending.append(byte)
            self._emit(port, pending)
        elif byte != 0x0D:
            pending.append(byte)

    def flush(self) -> None:
        """Hand over the lines still missing their newline (at the end of a call)."""
        for port, pending in self._pending.items():
            if pending:
                self._emit(port, pending)

    def _emit(self, port: str, pending: bytearray) -> None:
        line = pending.decode("utf-8", "replace")
        pending.clear()
        self.lines.append((port, line))
        log.info("%s: %s", port, line)
        for listener in self.listeners:
            listener(port, line)

    def text(self, port: str) -> str:
        return self.sent.get(port, bytearray()).decode("utf-8", "replace")


class Usart(TableModel):
    """One USART/UART/LPUART instance (see the module documentation)."""

    def __init__(self, name: str, base: int, family_id: str, console: SerialConsole,
                 clock_enabled: Callable[[], bool] = lambda: True) -> None:
        super().__init__(name, base, sysregs.registers(family_id, "USART"), STATUS_BITS)
        self.console = console
        self.clock_enabled = clock_enabled
        data = self.by_name.get("TDR") or self.by_name.get("DR")
        control = self.by_name.get("CR1")
        self._data_offset = data.offset if data is not None else None
        self._enable_mask = 0
        if control is not None:
            for bit in ("UE", "TE"):
                if any(f.name == bit for f in control.fields):
                    self._enable_mask |= control.field(bit).mask
        self._control_offset = control.offset if control is not None else None

    def read(self, offset: int, size: int) -> int:
        if not self.clock_enabled():
            self._report("clock-disabled", offset, size, 0)
            return 0
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if not self.clock_enabled():
            self._report("clock-disabled", offset, size, value)
            return
        super().write(offset, size, value)
        if offset == self._data_offset and self._transmitting():
            self.console.put(self.name, value & 0xFF)

    def _transmitting(self) -> bool:
        if self._control_offset is None:
            return True
        cr1 = self.values[self._control_offset]
        return cr1 & self._enable_mask == self._enable_mask

    def describe_data(self, offset: int, value: int) -> str | None:
        """A transmitted byte as the trace shows it: ``'A'`` or ``0x0A``."""
        if offset != self._data_offset:
            return None
        byte = value & 0xFF
        return f"sent {chr(byte)!r}" if 0x20 <= byte < 0x7F else f"sent 0x{byte:02X}"


def instances(bases: dict[str, int]) -> dict[str, int]:
    """The USART/UART/LPUART instances among a family's peripheral bases."""
    return {name: base for name, base in bases.items() if INSTANCE.match(name)}
