"""Addresses as names: ``Write+0x1c``, ``uwTick``, for messages a person can act on."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from extflash.loader.model import Loader


@dataclass(frozen=True)
class _Entry:
    """One symbol of the loader: where it starts, its size, whether it is code."""

    start: int
    size: int
    name: str
    function: bool


class Symbolizer:
    """Function and object symbols of a loader at the addresses it runs from.

    ``offset`` moves link addresses to run addresses (an FLM relocated into RAM).
    """

    def __init__(self, loader: Loader | None = None, *, offset: int = 0) -> None:
        entries: list[_Entry] = []
        if loader is not None:
            for s in loader.symbols:
                if not s.name or not s.shndx or s.type not in ("func", "object", "notype"):
                    continue
                if s.name.startswith("$") or (s.type == "notype" and s.size == 0):
                    continue  # mapping symbols ($t, $d) and section markers
                start = (s.value & ~1 if s.type == "func" else s.value) + offset
                entries.append(_Entry(start, s.size, s.name, s.type == "func"))
        entries.sort(key=lambda e: (e.start, -e.size))
        self._entries = entries
        self._starts = [e.start for e in entries]

    def __bool__(self) -> bool:
        return bool(self._entries)

    def _find(self, address: int, *, function: bool | None) -> _Entry | None:
        i = bisect.bisect_right(self._starts, address) - 1
        while i >= 0:
            e = self._entries[i]
            if (function is None or e.function == function) and (
                    e.start <= address < e.start + max(e.size, 1)):
                return e
            if address - e.start > 0x10000:
                break
            i -= 1
        return None

    def function_at(self, address: int) -> str | None:
        """The function containing ``address`` (Thumb bit ignored)."""
        e = self._find(address & ~1, function=True)
        return e.name if e else None

    def name(self, address: int) -> str | None:
        """``Write+0x1C`` for code, ``uwTick`` / ``buffer+0x10`` for data, None if unknown."""
        e = self._find(address & ~1, function=True) or self._find(address, function=False)
        if e is None:
            return None
        delta = (address & ~1 if e.function else address) - e.start
        return e.name if delta == 0 else f"{e.name}+0x{delta:X}"

    def describe(self, address: int) -> str:
        """``0x24000236 (clock_init+0x22)`` or just the address."""
        name = self.name(address)
        return f"0x{address:08X} ({name})" if name else f"0x{address:08X}"
