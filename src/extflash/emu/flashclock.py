"""The flash clock a loader leaves the QUADSPI at, against the chip's limit for the command used.

CLK = kernel clock / (CR.PRESCALER + 1) (RM0433 §23.5.1 QUADSPI_CR). A chip's datasheet gives
the highest clock of each read command (``max_mhz`` in its data file: W25Q128JV 133 MHz for the
fast reads, 50 MHz for 0x03 READ). Checked after each loader call: in memory-mapped mode against
the read command CCR sets up, otherwise against the chip's fastest command. A loader planned for
a slower crystal, or a prescaler computed for another chip, shows here; silicon may well read
garbage at that clock, the virtual chip does not, so the run carries on and this is a warning.
"""

from __future__ import annotations

from typing import Any

from extflash.chips import ChipSpec
from extflash.emu.periph.quadspi import CCR, CR, FMODE_MAPPED

LINES = (0, 1, 2, 4)  # IMODE/ADMODE/DMODE encodings


def mapped_read(ccr: int) -> tuple[int, str]:
    """(opcode, "1-4-4" protocol) of the command a memory-mapped CCR sets up."""
    imode, admode, dmode = ((ccr >> lsb) & 3 for lsb in (8, 10, 24))
    return ccr & 0xFF, f"{LINES[imode]}-{LINES[admode]}-{LINES[dmode]}"


def problem(qspi: Any, spec: ChipSpec) -> str | None:
    """One sentence when the QUADSPI's clock is above what ``spec`` allows now, else None."""
    if not qspi.values[CR] & 1 or not spec.reads:  # EN clear: no clock on the pin
        return None
    clk_hz = int(qspi.clk_hz)
    ccr = qspi.values[CCR]
    if (ccr >> 26) & 3 == FMODE_MAPPED:
        opcode, protocol = mapped_read(ccr)
        command = spec.read_command(opcode, protocol)
        if command is None:
            return None  # an unknown read: the chip model reports it
        limit_hz, what = command.max_mhz * 1e6, f"0x{opcode:02X} {protocol} reads"
    else:
        limit_hz, what = max(r.max_mhz for r in spec.reads) * 1e6, "any command"
    if clk_hz <= limit_hz:
        return None
    return (f"the QUADSPI clock is {clk_hz / 1e6:g} MHz (kernel {qspi.kernel_hz() / 1e6:g} MHz "
            f"/ {(qspi.values[CR] >> 24) + 1}), above the {spec.name}'s {limit_hz / 1e6:g} MHz "
            f"for {what}")
