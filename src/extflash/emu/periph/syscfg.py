"""SYSCFG: the register table from the SVD; the I/O compensation cell reports READY once enabled
(``CCCSR.EN`` -> ``CCCSR.READY``, waited for by ``HAL_EnableCompensationCell``)."""

from __future__ import annotations

from extflash.emu.periph import sysregs
from extflash.emu.periph.tablemodel import Follow, TableModel, on_ready_pairs


class Syscfg(TableModel):
    def __init__(self, family_id: str, base: int) -> None:
        regs = sysregs.registers(family_id, "SYSCFG")
        rules = (*on_ready_pairs(regs), Follow("CMPCR", "CMP_PD", "CMPCR", "READY"))
        super().__init__("SYSCFG", base, regs, rules)
