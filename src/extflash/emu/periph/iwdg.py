"""IWDG, the independent watchdog (RM0433/RM0399/RM0477 "Independent watchdog (IWDG)").

KR (0x00, write-only keys): 0xCCCC starts the watchdog, 0xAAAA reloads the counter from RLR,
0x5555 unlocks PR/RLR/WINR. PR (0x04) divides LSI by 4 x 2^PR, RLR (0x08, reset 0xFFF) is the
reload value: the watchdog resets the part (4 x 2^PR x (RLR + 1)) / f_LSI after the last reload
(0.512 s at reset values with the 32 kHz LSI). With the hardware-watchdog option byte it starts
by itself at reset. The counter itself is kept by whoever runs time (the virtual probe's
system); this model holds the registers and reports starts and reloads.
"""

from __future__ import annotations

from collections.abc import Callable

from extflash.emu.regmodel import Access, Peripheral, Reg

KEY_START, KEY_RELOAD, KEY_UNLOCK = 0xCCCC, 0xAAAA, 0x5555
LSI_HZ = 32_000


class Iwdg(Peripheral):
    def __init__(self, name: str, base: int) -> None:
        super().__init__(name, base, (
            Reg("KR", 0x00, access=Access.WO), Reg("PR", 0x04), Reg("RLR", 0x08, 0xFFF),
            Reg("SR", 0x0C, access=Access.RO), Reg("WINR", 0x10, 0xFFF),
        ))
        self.on_start: Callable[[], None] = lambda: None
        self.on_reload: Callable[[], None] = lambda: None

    def on_write_KR(self, old: int, new: int) -> None:
        key = new & 0xFFFF
        if key == KEY_START:
            self.on_start()
            self.on_reload()
        elif key == KEY_RELOAD:
            self.on_reload()

    @property
    def timeout_s(self) -> float:
        return 4 * (1 << (self["PR"] & 7)) * ((self["RLR"] & 0xFFF) + 1) / LSI_HZ
