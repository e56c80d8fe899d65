"""FLASH interface registers: ACR (latency, caches) reads back what the loader wrote.

The internal flash itself is plain read-only memory in the machine; programming it is outside
what external loaders do, so only the register table (from the SVD) is modelled.
"""

from __future__ import annotations

from extflash.emu.periph import sysregs
from extflash.emu.periph.tablemodel import TableModel


class FlashInterface(TableModel):
    def __init__(self, family_id: str, base: int) -> None:
        super().__init__("FLASH", base, sysregs.registers(family_id, "FLASH"))
