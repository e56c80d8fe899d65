"""PWR: supply and voltage-scaling status that HAL bring-up waits for.

* H7: ``D3CR.VOSRDY`` and ``CSR1.ACTVOSRDY`` read 1 (the regulator settles at once),
  ``CSR1.ACTVOS`` follows ``D3CR.VOS``; the SMPS/LDO supply configuration in ``CR3`` reads back.
* H7R/S (RM0477): ``CSR4.VOSRDY`` and ``SR1.ACTVOSRDY`` read 1, ``SR1.ACTVOS`` follows
  ``CSR4.VOS``; ``CSR2.EN_XSPIM1/2`` read back (see :meth:`Pwr.xspim_supply`).
* H5 (RM0481): ``VOSSR.VOSRDY``/``ACTVOSRDY`` read 1, ``VOSSR.ACTVOS`` follows ``VOSCR.VOS``.
* U5 (RM0456): ``VOSR.VOSRDY`` reads 1, ``VOSR.BOOSTRDY`` follows ``BOOSTEN``,
  ``SVMSR.ACTVOSRDY`` reads 1 and ``SVMSR.ACTVOS`` follows ``VOSR.VOS``.
* F4/F7: over-drive ``ODEN`` -> ``ODRDY`` and ``ODSWEN`` -> ``ODSWRDY``; ``VOSRDY`` reads 1.
* L4/L4+/L5/G4: ``SR2.VOSF`` stays 0 (the voltage scaling change is complete at once).

A rule applies where the family's register table has its fields, so one list serves all.
"""

from __future__ import annotations

from extflash.emu.periph import sysregs
from extflash.emu.periph.tablemodel import Always, Follow, TableModel

RULES = (
    Always("D3CR", "VOSRDY"), Always("CSR1", "ACTVOSRDY"), Follow("D3CR", "VOS", "CSR1", "ACTVOS"),
    Always("SRDCR", "VOSRDY"),  # H7A3-style naming
    Follow("CR", "ODEN", "CSR", "ODRDY"), Follow("CR", "ODSWEN", "CSR", "ODSWRDY"),
    Always("CSR", "VOSRDY"),
    Follow("CR1", "ODEN", "CSR1", "ODRDY"), Follow("CR1", "ODSWEN", "CSR1", "ODSWRDY"),
    Always("CSR1", "VOSRDY"),
    Always("CSR4", "VOSRDY"), Always("SR1", "ACTVOSRDY"), Follow("CSR4", "VOS", "SR1", "ACTVOS"),
    Always("VOSSR", "VOSRDY"), Always("VOSSR", "ACTVOSRDY"),
    Follow("VOSCR", "VOS", "VOSSR", "ACTVOS"),
    Always("VOSR", "VOSRDY"), Follow("VOSR", "BOOSTEN", "VOSR", "BOOSTRDY"),
    Always("SVMSR", "ACTVOSRDY"), Follow("VOSR", "VOS", "SVMSR", "ACTVOS"),
)


class Pwr(TableModel):
    def __init__(self, family_id: str, base: int) -> None:
        super().__init__("PWR", base, sysregs.registers(family_id, "PWR"), RULES)

    def xspim_supply(self, port: int) -> bool:
        """Is the I/O supply of XSPIM port ``port`` (1 or 2) switched on?

        H7R/S (RM0477 PWR_CSR2.EN_XSPIMn, peripherals.md §6.1): the XSPIM_Pn I/Os have their own
        supply (VDDXSPIn) and stay isolated from it until software sets EN_XSPIMn, which the HAL
        does with ``HAL_PWREx_EnableXSPIM1/2()`` once that supply is stable. Until then no
        signal of the port reaches the pins: the memory is never selected or clocked and reads
        through the port return nothing the memory drove. Families without the bit have no such
        switch (answer True).
        """
        field = f"EN_XSPIM{port}"
        return not self._has("CSR2", field) or bool(self.get_field("CSR2", field))
