"""The flash clock a loader leaves the QUADSPI/OCTOSPI/XSPI at, against the chip's limit for the
command used, and the I/O speed class of the port it goes through.

CLK = kernel clock / (CR.PRESCALER + 1) (RM0433 §23.5.1 QUADSPI_CR; OCTOSPI/XSPI
DCR2.PRESCALER). A chip's datasheet gives the highest clock of each read command (``max_mhz`` in
its data file: W25Q128JV 133 MHz for the fast reads, 50 MHz for 0x03 READ). Checked after each
loader call: in memory-mapped mode against the read command that mode sends, otherwise against
the chip's fastest command. A loader planned for a slower crystal, or a prescaler computed for
another chip, shows here; silicon may well read garbage at that clock, the virtual chip does
not, so the run carries on and this is a warning.
"""

from __future__ import annotations

from typing import Any

from extflash.chips import ChipSpec
from extflash.emu.periph.frontstate import protocol


def _mapped_limit(ctrl: Any, spec: ChipSpec) -> tuple[float, str] | None:
    """(limit Hz, "what") for the read memory-mapped mode sends; None: a read the chip does
    not know (the chip model reports it)."""
    frame = ctrl.mapped_frame
    if frame is None or frame.instruction is None:
        return None
    lines = protocol(frame)
    if frame.instruction_lines == 8 and spec.octal is not None:
        octal = next((r for r in spec.octal.reads if r.opcode == frame.opcode), None)
        if octal is None:
            return None
        return octal.max_mhz * 1e6, f"0x{frame.instruction:04X} {lines} reads"
    command = spec.read_command(frame.instruction & 0xFF, lines)
    if command is None:
        return None
    return command.max_mhz * 1e6, f"0x{frame.instruction & 0xFF:02X} {lines} reads"


def problem(ctrl: Any, spec: ChipSpec) -> str | None:
    """One sentence when the controller's clock is above what ``spec`` allows now, else None
    (QUADSPI, OCTOSPI and XSPI alike: CLK = kernel clock / prescaler, RM0433 QUADSPI_CR,
    RM0455 OCTOSPI_DCR2, RM0477 XSPI_DCR2)."""
    if not ctrl.enabled or not spec.reads:  # EN clear: no clock on the pin
        return None
    clk_hz = int(ctrl.clk_hz)
    if ctrl.mapped:
        found = _mapped_limit(ctrl, spec)
        if found is None:
            return None
        limit_hz, what = found
    else:
        limit_hz, what = max(r.max_mhz for r in spec.reads) * 1e6, "any command"
    if clk_hz <= limit_hz:
        return None
    kernel = ctrl.kernel_hz()
    return (f"the {ctrl.name} clock is {clk_hz / 1e6:g} MHz (kernel {kernel / 1e6:g} MHz "
            f"/ {round(kernel / max(clk_hz, 1))}), above the {spec.name}'s "
            f"{limit_hz / 1e6:g} MHz for {what}")


def io_speed_problem(ctrl: Any, spec: ChipSpec, sbs: Any) -> str | None:
    """One sentence when a 1.8 V memory hangs off an XSPIM port whose I/O speed optimisation
    is off (H7R/S, RM0477 SBS_CCCSR.XSPIn_IOHSLV; see :meth:`.periph.sbs.Sbs.io_speed_optimised`).
    The virtual chip reads fine; silicon shows marginal or corrupt data at octal clock rates,
    so this is a warning."""
    bank = next(iter(ctrl.banks.values()), None)
    port = bank.port if bank is not None else None
    if (sbs is None or port is None or spec.voltage[1] > 2.0  # a 1.8 V part: 1.65-2.0 V
            or not sbs.has_io_speed_optimisation(port) or not ctrl.enabled):
        return None
    if sbs.io_speed_optimised(port):
        return None
    return (f"{ctrl.name} drives the {spec.voltage[0]:g}-{spec.voltage[1]:g} V {spec.name} "
            f"through XSPIM port {port} at {ctrl.clk_hz / 1e6:g} MHz without the I/O speed "
            f"optimisation (SBS_CCCSR.XSPI{port}_IOHSLV=0): at 1.8 V the port's I/Os keep "
            f"their low-voltage speed class and silicon reads marginal or corrupt data at "
            f"octal clock rates (RM0477 SBS_CCCSR; HAL_SBS_EnableIOSpeedOptimize(SBS_IO_XSPI"
            f"{port}_HSLV), with the XSPI{port}_HSLV option bit set)")
