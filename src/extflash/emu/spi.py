"""What a flash chip sees during one chip-select cycle.

Controllers (QUADSPI, OCTOSPI, XSPI, plain SPI) turn their register state into a
:class:`SpiCommand` and hand it to the device wired to the chip select they drive. The device
answers with the bytes it drives on the data lines. Keeping this boundary at the command level
(not bit level) keeps the controller models readable and fast, while still carrying everything
a real chip would notice: line counts per phase, address width, mode/alternate bytes, dummy
clocks and DDR.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class SpiCommand:
    """One command on the flash bus: each phase's value, width and lines."""

    instruction: int | None  # None: no instruction phase (SIOO / continuous-read)
    instruction_lines: int = 1  # 0 (none), 1, 2, 4 or 8
    instruction_bytes: int = 1  # 2 for octal double-byte opcodes
    address: int | None = None
    address_bytes: int = 0
    address_lines: int = 0
    alternate: int | None = None  # mode / alternate bytes value
    alternate_bytes: int = 0
    alternate_lines: int = 0
    dummy_cycles: int = 0
    data_lines: int = 0  # 0: no data phase
    ddr: bool = False  # the data phase is DTR (double transfer rate: two beats a clock)
    write_data: bytes = b""  # host -> chip
    read_length: int = 0  # chip -> host, bytes
    # Per-phase DTR for the other phases. QUADSPI's DDRM sets address, alternate and data DTR
    # together (instruction stays STR: RM0433 "DDR mode"); OCTOSPI/XSPI set each phase's own
    # xDTR bit (RM0455 OCTOSPI_CCR IDTR/ADDTR/ABDTR/DDTR).
    instruction_dtr: bool = False
    address_dtr: bool = False
    alternate_dtr: bool = False
    dqs: bool = False  # the host samples read data on the chip's data strobe (CCR.DQSE)

    @property
    def is_read(self) -> bool:
        return self.read_length > 0

    @property
    def opcode(self) -> int | None:
        """The first instruction byte: the opcode of a two-byte octal instruction too."""
        if self.instruction is None:
            return None
        return self.instruction >> (8 * (max(self.instruction_bytes, 1) - 1)) & 0xFF

    def describe(self) -> str:
        """One line: ``0xEB 1-4-4 addr=0x001000(3B) alt=0xF0 dummy=4 read 256B``; phases'
        rates when any is DTR: ``0xEE11 8D-8D-8D ...`` (see :mod:`.periph.frontstate`)."""
        from extflash.emu.periph.frontstate import describe_frame

        return describe_frame(self)


class SpiDevice(Protocol):
    """A device on a chip select: a NOR chip, or nothing (a floating bus)."""

    def transfer(self, cmd: SpiCommand) -> bytes:
        """Run one command; return exactly ``cmd.read_length`` bytes."""
        ...


class FloatingBus:
    """No device answers: reads return all ones (pull-ups) or whatever the wiring leaves."""

    def __init__(self, fill: int = 0xFF) -> None:
        self.fill = fill

    def transfer(self, cmd: SpiCommand) -> bytes:
        return bytes([self.fill]) * cmd.read_length
