"""PWR: supply and voltage-scaling status that HAL bring-up waits for.

* H7: ``D3CR.VOSRDY`` and ``CSR1.ACTVOSRDY`` read 1 (the regulator settles at once),
  ``CSR1.ACTVOS`` follows ``D3CR.VOS``; the SMPS/LDO supply configuration in ``CR3`` reads back.
* F4/F7: over-drive ``ODEN`` -> ``ODRDY`` and ``ODSWEN`` -> ``ODSWRDY``; ``VOSRDY`` reads 1.
* L4/G4: ``SR2.VOSF`` stays 0 (the voltage scaling change is complete at once).
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
)


class Pwr(TableModel):
    def __init__(self, family_id: str, base: int) -> None:
        super().__init__("PWR", base, sysregs.registers(family_id, "PWR"), RULES)
