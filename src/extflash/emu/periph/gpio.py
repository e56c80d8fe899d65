"""GPIO ports: MODER/OTYPER/OSPEEDR/PUPDR/IDR/ODR/BSRR/LCKR/AFRL/AFRH.

Reset values differ per port and family (debug pins on PA13-15/PB3-4 are in AF mode at reset);
they are the reference manuals' values (RM0433 §12.4, RM0090/RM0385 §8.4, RM0351/RM0440 §8.5).
BSRR sets/resets ODR bits (set wins), LCKR follows the key sequence (1, 0, 1, read) and then
freezes the configuration of the locked pins until reset. IDR reflects ODR on output pins and
the pull-up on inputs (nothing else drives the pins).

A port whose clock is off in RCC ignores writes and reads 0, as on silicon; such accesses are
reported as ``clock-disabled`` through the machine's ``on_unmodelled`` callbacks, which is the
usual cause of "QUADSPI pins never switched to AF" bugs.

Models that route signals through pins (the QUADSPI's wiring check) subscribe to a port's
``config_listeners``, called when MODER/AFRL/AFRH change and on reset, rather than reading the
pin state on every command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from extflash import mcu
from extflash.emu.regmodel import Access, Peripheral, Reg

MODES = ("input", "output", "af", "analog")
PULLS = ("none", "up", "down", "reserved")

# (MODER, OSPEEDR, PUPDR) reset values for ports A and B; other ports use "others".
_RESETS: dict[str, dict[str, tuple[int, int, int]]] = {
    "analog-reset": {"A": (0xABFFFFFF, 0x0C000000, 0x64000000),
                     "B": (0xFFFFFEBF, 0x000000C0, 0x00000100),
                     "others": (0xFFFFFFFF, 0, 0)},
    "input-reset": {"A": (0xA8000000, 0x0C000000, 0x64000000),  # F4/F7 (RM0090/RM0385)
                    "B": (0x00000280, 0x000000C0, 0x00000100),
                    "others": (0, 0, 0)},
}
LCKK = 1 << 16
ROUTING_REGS = frozenset({0x00, 0x20, 0x24})  # MODER, AFRL, AFRH: what decides a pin's function


@dataclass(frozen=True)
class PinState:
    """A pin's configuration as its GPIO registers set it."""

    name: str
    mode: str  # "input" | "output" | "af" | "analog"
    af: int
    otype: str  # "push-pull" | "open-drain"
    speed: int  # 0 (low) .. 3 (very high)
    pull: str  # "none" | "up" | "down"
    output: int  # ODR bit
    locked: bool


class GpioPort(Peripheral):
    def __init__(self, letter: str, base: int, family_id: str,
                 clock_enabled: Callable[[], bool] = lambda: True) -> None:
        table = _RESETS[mcu.family(family_id).gpio_reset]
        moder, ospeedr, pupdr = table.get(letter, table["others"])
        regs = (
            Reg("MODER", 0x00, moder), Reg("OTYPER", 0x04, 0), Reg("OSPEEDR", 0x08, ospeedr),
            Reg("PUPDR", 0x0C, pupdr), Reg("IDR", 0x10, 0, access=Access.RO), Reg("ODR", 0x14),
            Reg("BSRR", 0x18, access=Access.WO), Reg("LCKR", 0x1C), Reg("AFRL", 0x20),
            Reg("AFRH", 0x24),
        )
        super().__init__(f"GPIO{letter}", base, regs)
        self.letter = letter
        self.clock_enabled = clock_enabled
        self.config_listeners: list[Callable[[], None]] = []
        self._lock_step = 0
        self._locked = 0

    def reset(self) -> None:
        super().reset()
        self._lock_step = 0
        self._locked = 0
        for listener in getattr(self, "config_listeners", ()):
            listener()

    # -- bus side --------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        if not self.clock_enabled():
            self._report("clock-disabled", offset, size, 0)
            return 0
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if not self.clock_enabled():
            self._report("clock-disabled", offset, size, value)
            return
        word = offset & ~3
        old = self.values.get(word, 0)
        if self._locked and word in (0x00, 0x04, 0x08, 0x0C, 0x20, 0x24):
            super().write(offset, size, value)
            keep = self._lock_mask(word)
            self.values[word] = (self.values[word] & ~keep) | (old & keep)
        else:
            super().write(offset, size, value)
        if word in ROUTING_REGS and self.values[word] != old:
            for listener in self.config_listeners:
                listener()

    def _lock_mask(self, word: int) -> int:
        bits_per_pin = {0x04: 1, 0x20: 4, 0x24: 4}.get(word, 2)
        first = 8 if word == 0x24 else 0
        mask = 0
        for pin in range(16):
            if self._locked >> pin & 1 and first <= pin < first + (8 if word >= 0x20 else 16):
                mask |= ((1 << bits_per_pin) - 1) << ((pin - first) * bits_per_pin)
        return mask

    def on_write_BSRR(self, old: int, new: int) -> None:
        odr = self["ODR"]
        odr &= ~(new >> 16)
        odr |= new & 0xFFFF
        self["ODR"] = odr

    def on_write_LCKR(self, old: int, new: int) -> None:
        if self._locked:
            self["LCKR"] = old
            return
        key = new & LCKK
        expected = (LCKK, 0, LCKK)
        if self._lock_step < 3 and key == expected[self._lock_step] and (
                self._lock_step == 0 or (new & 0xFFFF) == (old & 0xFFFF)):
            self._lock_step += 1
        else:
            self._lock_step = 1 if key else 0
        self["LCKR"] = new & 0x1FFFF

    def on_read_LCKR(self, value: int) -> int:
        if self._lock_step == 3:
            self._locked = value & 0xFFFF
            self._lock_step = 4
            value |= LCKK
            self["LCKR"] = value
        return value

    def on_read_IDR(self, value: int) -> int:
        out = 0
        moder, pupdr, odr = self["MODER"], self["PUPDR"], self["ODR"]
        for pin in range(16):
            mode = moder >> (2 * pin) & 3
            if mode == 1:
                out |= (odr >> pin & 1) << pin
            elif mode == 0 and (pupdr >> (2 * pin) & 3) == 1:
                out |= 1 << pin
        return out

    # -- model side ------------------------------------------------------------------------
    def pin(self, number: int) -> PinState:
        afr = self["AFRL"] if number < 8 else self["AFRH"]
        return PinState(
            name=f"P{self.letter}{number}",
            mode=MODES[self["MODER"] >> (2 * number) & 3],
            af=afr >> (4 * (number % 8)) & 0xF,
            otype="open-drain" if self["OTYPER"] >> number & 1 else "push-pull",
            speed=self["OSPEEDR"] >> (2 * number) & 3,
            pull=PULLS[self["PUPDR"] >> (2 * number) & 3],
            output=self["ODR"] >> number & 1,
            locked=bool(self._locked >> number & 1),
        )


class GpioBank:
    """All GPIO ports of a part, with pin lookup by name (``bank.pin("PB2")``)."""

    def __init__(self, ports: dict[str, GpioPort]) -> None:
        self.ports = ports

    def pin(self, name: str) -> PinState:
        name = name.strip().upper()
        if len(name) < 3 or name[0] != "P" or not name[2:].isdigit():
            raise ValueError(f"'{name}' is not a pin name like PB2")
        port = self.ports.get(name[1])
        number = int(name[2:])
        if port is None or number > 15:
            raise ValueError(f"this part has no pin {name}")
        return port.pin(number)
