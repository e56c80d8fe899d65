"""HSEM, the hardware semaphore of the dual-core STM32H745/H747/H755/H757 (RM0399 "Hardware
semaphore (HSEM)"; CMSIS stm32h745xx.h).

32 semaphores. ``R[i]`` (0x00 + 4 i) holds LOCK (bit 31), COREID (bits 11:8) and PROCID
(bits 7:0). Two-step lock: a write with LOCK = 1 takes a free semaphore for the writing core
with the written PROCID (the core then reads it back to see whether it got it). One-step lock:
a read of ``RLR[i]`` (0x80 + 4 i) takes a free semaphore for the reading core with PROCID 0 and
returns the semaphore. A write with LOCK = 0 frees it when COREID and PROCID match the owner.
The COREID is the bus master's, not the written value: the Cortex-M7 is 3, the Cortex-M4 is 1
(``HSEM_CPU1_COREID`` / ``HSEM_CPU2_COREID``). The interrupt registers are kept as plain
registers (no interrupt is raised).
"""

from __future__ import annotations

from extflash.emu.regmodel import Access, Peripheral, Reg

LOCK = 1 << 31
CM7_COREID, CM4_COREID = 3, 1
SEMAPHORES = 32


class Hsem(Peripheral):
    def __init__(self, base: int) -> None:
        regs = [Reg(f"R{i}", 4 * i) for i in range(SEMAPHORES)]
        regs += [Reg(f"RLR{i}", 0x80 + 4 * i, access=Access.RO) for i in range(SEMAPHORES)]
        regs += [Reg(name, offset) for name, offset in (
            ("C1IER", 0x100), ("C1ICR", 0x104), ("C1ISR", 0x108), ("C1MISR", 0x10C),
            ("C2IER", 0x110), ("C2ICR", 0x114), ("C2ISR", 0x118), ("C2MISR", 0x11C),
            ("CR", 0x140), ("KEYR", 0x144))]
        super().__init__("HSEM", base, regs)
        self.master = CM7_COREID  # the core whose access is being served
        self.owners: list[int] = [0] * SEMAPHORES  # R[i] values

    def reset(self) -> None:
        super().reset()
        self.owners = [0] * SEMAPHORES

    def read(self, offset: int, size: int) -> int:
        word = offset & ~3
        if word < 0x100:
            index = (word & 0x7F) // 4
            if word >= 0x80 and not self.owners[index] & LOCK:  # one-step lock
                self.owners[index] = LOCK | self.master << 8
            return self.owners[index] >> 8 * (offset & 3) & ((1 << 8 * size) - 1)
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        word = offset & ~3
        if word >= 0x80:
            super().write(offset, size, value)
            return
        index = word // 4
        owner = self.owners[index]
        mine = self.master << 8 | (value & 0xFF)
        if value & LOCK:
            if not owner & LOCK:  # two-step lock
                self.owners[index] = LOCK | mine
        elif owner & 0xFFF == mine:
            self.owners[index] = 0

    def holder(self, index: int) -> str:
        """Who holds semaphore ``index`` (for messages)."""
        owner = self.owners[index]
        if not owner & LOCK:
            return "free"
        core = {CM7_COREID: "Cortex-M7", CM4_COREID: "Cortex-M4"}.get(owner >> 8 & 0xF, "?")
        return f"{core} (PROCID {owner & 0xFF})"
