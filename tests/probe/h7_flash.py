"""Test helper: the STM32H74x internal-flash controller, enough for a flash algorithm to run.

RM0433 behaviour kept: KEYRx unlock sequence (CRx.LOCKx set at reset and after a wrong key),
sector erase (SER + SNB + START) and bank erase (BER + START) filling with 0xFF, programming
with PG set (the core's stores reach the array only then), EOP set on completion, CCRx clearing
status bits. Simplified: operations complete at once (BSY/QW never read 1) and programming
does not check that the flash word was erased. Installed over the machine's plain FLASH
register table by :func:`install`.
"""

from __future__ import annotations

import unicorn

from extflash.emu.machine import Machine
from extflash.emu.periph.flashif import FlashInterface

KEYS = (0x45670123, 0xCDEF89AB)
BANK_SIZE, SECTOR_SIZE = 0x100000, 0x20000
LOCK, PG, SER, BER, START = 1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 7
EOP = 1 << 16


class H7FlashController(FlashInterface):
    def __init__(self, machine: Machine, base: int, flash_start: int) -> None:
        self.machine = machine
        self.flash_start = flash_start
        self.key_step = {1: 0, 2: 0}
        super().__init__("stm32h7-qspi", base)
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.key_step = {1: 0, 2: 0}
        for bank in (1, 2):
            self[f"CR{bank}"] = LOCK | 0x30
            self._protect(bank, program=False)

    def _bank_start(self, bank: int) -> int:
        return self.flash_start + (bank - 1) * BANK_SIZE

    def _protect(self, bank: int, *, program: bool) -> None:
        perms = unicorn.UC_PROT_ALL if program else unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC
        self.machine.uc.mem_protect(self._bank_start(bank), BANK_SIZE, perms)

    def _key(self, bank: int, value: int) -> None:
        step = self.key_step[bank]
        if value == KEYS[step]:
            self.key_step[bank] = step + 1
            if step + 1 == len(KEYS):
                self[f"CR{bank}"] &= ~LOCK
                self.key_step[bank] = 0
        else:
            self.key_step[bank] = 0

    def _control(self, bank: int, old: int, new: int) -> None:
        name = f"CR{bank}"
        if old & LOCK:
            self[name] = old  # locked: the write is ignored
            return
        self._protect(bank, program=bool(new & PG))
        if new & START and new & (SER | BER):
            start = self._bank_start(bank)
            if new & SER:
                start += ((new >> 8) & 7) * SECTOR_SIZE
            size = SECTOR_SIZE if new & SER else BANK_SIZE
            self.machine.mem_write(start, b"\xff" * size)
            self[f"SR{bank}"] |= EOP
        self[name] &= ~START

    def on_write_KEYR1(self, old: int, new: int) -> None:
        self._key(1, new)

    def on_write_KEYR2(self, old: int, new: int) -> None:
        self._key(2, new)

    def on_write_CR1(self, old: int, new: int) -> None:
        self._control(1, old, new)

    def on_write_CR2(self, old: int, new: int) -> None:
        self._control(2, old, new)

    def on_write_CCR1(self, old: int, new: int) -> None:
        self["SR1"] &= ~new
        self["CCR1"] = 0

    def on_write_CCR2(self, old: int, new: int) -> None:
        self["SR2"] &= ~new
        self["CCR2"] = 0


def install(machine: Machine) -> H7FlashController:
    base = machine.family.peripherals["FLASH"]
    flash = next(m for m in machine.part.part.memory if m.kind == "flash")
    machine.unmap(base, 0x400)
    controller = H7FlashController(machine, base, flash.start)
    machine.add_peripheral(controller)
    return controller
