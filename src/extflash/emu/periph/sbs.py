"""SBS (system configuration on H5 and H7R/S): the register table from the SVD; compensation
cells report ready once enabled (``CCCSR.XSPIn_COMP_EN`` -> ``XSPIn_COMP_RDY``), and the I/O
speed optimisation bits read back (see :meth:`Sbs.io_speed_optimised`)."""

from __future__ import annotations

from extflash.emu.periph import sysregs
from extflash.emu.periph.tablemodel import TableModel, on_ready_pairs


class Sbs(TableModel):
    def __init__(self, family_id: str, base: int) -> None:
        regs = sysregs.registers(family_id, "SBS")
        super().__init__("SBS", base, regs, on_ready_pairs(regs))

    def has_io_speed_optimisation(self, port: int) -> bool:
        """Does the family have the I/O speed optimisation bit of XSPIM port ``port``?"""
        return self._has("CCCSR", f"XSPI{port}_IOHSLV")

    def io_speed_optimised(self, port: int) -> bool:
        """Is "high speed at low voltage" on for the I/Os of XSPIM port ``port``?

        H7R/S (RM0477 SBS_CCCSR.XSPIn_IOHSLV, set by ``HAL_SBS_EnableIOSpeedOptimize``): the
        bit takes effect only when the user option bit FLASH_OBW1SR.XSPIn_HSLV is also set. At
        1.8 V without it the I/O buffers keep their low-voltage speed class, so the datasheet's
        I/O AC characteristics cap the usable clock far below the octal memories' 200 MHz;
        silicon then shows marginal or corrupt data at high clock rates, not a clean failure.
        Families without the bit answer False.
        """
        field = f"XSPI{port}_IOHSLV"
        return self._has("CCCSR", field) and bool(self.get_field("CCCSR", field))
