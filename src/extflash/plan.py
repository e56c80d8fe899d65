"""Planning a programming job before anything touches the chip.

A :class:`Geometry` describes the external device as the loader declares it (StorageInfo or
FlashDevice): start address, size, page size, erase value and the sector list. :func:`make_plan`
maps an :class:`~extflash.image.Image` onto it: which sectors are touched, which of them the image
covers completely, and what lies outside the device. Every error here is raised before the first
erase, so a bad image never costs the user any data.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from extflash.errors import ImageError
from extflash.image import Image


@dataclass(frozen=True)
class Sector:
    index: int
    address: int  # absolute (e.g. 0x90010000)
    size: int

    @property
    def end(self) -> int:
        return self.address + self.size


@dataclass(frozen=True)
class Geometry:
    name: str
    start: int
    size: int
    page_size: int
    erase_value: int
    sectors: tuple[Sector, ...]

    @property
    def end(self) -> int:
        return self.start + self.size

    def contains(self, address: int, size: int = 1) -> bool:
        return self.start <= address and address + size <= self.end

    @functools.cached_property
    def _starts(self) -> list[int]:
        return [s.address for s in self.sectors]

    def sector_index(self, address: int) -> int:
        """Index of the sector holding ``address`` (which must be inside the device)."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0 or address >= self.sectors[i].end:
            raise ImageError(f"address 0x{address:08X} is not in any sector of {self.name}")
        return i

    def sectors_in(self, address: int, size: int) -> list[Sector]:
        """The sectors overlapping [address, address+size)."""
        if size <= 0:
            return []
        first, last = self.sector_index(address), self.sector_index(address + size - 1)
        return list(self.sectors[first : last + 1])


def geometry_from_runs(
    name: str,
    start: int,
    size: int,
    page_size: int,
    erase_value: int,
    runs: Sequence[tuple[int, int]],
) -> Geometry:
    """Build a geometry from (count, sector size) runs, laid out upward from ``start``."""
    return Geometry(name, start, size, page_size, erase_value, tuple(expand_runs(start, runs)))


def expand_runs(start: int, runs: Iterable[tuple[int, int]]) -> Iterator[Sector]:
    """Sectors in address order from (count, size) runs: each run continues where the previous
    one ended (StorageInfo sector groups)."""
    address, index = start, 0
    for count, sector_size in runs:
        for _ in range(count):
            yield Sector(index, address, sector_size)
            address += sector_size
            index += 1


@dataclass(frozen=True)
class SectorPlan:
    sector: Sector
    ranges: tuple[tuple[int, int], ...]  # [lo, hi) parts of the sector the image provides

    @property
    def full(self) -> bool:
        return sum(hi - lo for lo, hi in self.ranges) == self.sector.size


@dataclass(frozen=True)
class Plan:
    geometry: Geometry
    image: Image  # the part of the image inside the device
    sectors: tuple[SectorPlan, ...]
    outside: Image  # the part outside the device (internal flash, or an error for the caller)

    @property
    def partial(self) -> tuple[SectorPlan, ...]:
        return tuple(s for s in self.sectors if not s.full)

    @property
    def bytes_to_write(self) -> int:
        return self.image.size


def make_plan(image: Image, geometry: Geometry) -> Plan:
    """Which sectors ``image`` touches; raises for an empty image or one that misses the device."""
    if not image.chunks:
        raise ImageError(f"{image.source or 'the image'} contains no data to program")
    if geometry.sectors and geometry.sectors[-1].end != geometry.end:
        # The loader's sector list and its declared size disagree; program only what is mapped.
        geometry = Geometry(
            geometry.name,
            geometry.start,
            geometry.sectors[-1].end - geometry.start,
            geometry.page_size,
            geometry.erase_value,
            geometry.sectors,
        )
    inside, outside = image.split(geometry.start, geometry.end)
    if not inside.chunks:
        raise ImageError(
            f"{image.source or 'the image'} has no data in {geometry.name} "
            f"(0x{geometry.start:08X}..0x{geometry.end - 1:08X}); its data spans "
            f"0x{image.start:08X}..0x{image.end - 1:08X}"
        )
    touched: dict[int, list[tuple[int, int]]] = {}
    for chunk in inside.chunks:
        for sector in geometry.sectors_in(chunk.address, len(chunk.data)):
            lo, hi = max(chunk.address, sector.address), min(chunk.end, sector.end)
            touched.setdefault(sector.index, []).append((lo, hi))
    plans = tuple(
        SectorPlan(geometry.sectors[i], tuple(ranges)) for i, ranges in sorted(touched.items())
    )
    return Plan(geometry, inside, plans, outside)


def describe_outside(outside: Image) -> str:
    return ", ".join(f"0x{c.address:08X}..0x{c.end - 1:08X} ({c.origin})" for c in outside.chunks)
