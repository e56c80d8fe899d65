"""Planning a programming job before anything touches the chip.

A :class:`Geometry` describes the external device as the loader declares it (StorageInfo or
FlashDevice): start address, size, page size, erase value and the sector list. :func:`make_plan`
maps an :class:`~extflash.image.Image` onto it: which sectors are touched, which of them the image
covers completely, and what lies outside the device. Every error here is raised before the first
erase, so a bad image never costs the user any data.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

from extflash.errors import ImageError
from extflash.image import Chunk, Image


class Sector(NamedTuple):
    """One erase unit. A tuple: a plan makes one per sector its image touches (4,096 for 16 MiB
    of 4 KiB sectors), and a frozen dataclass took four times as long to make."""

    index: int  # type: ignore[assignment]  # the field, not tuple.index, as namedtuple makes it
    address: int  # absolute (e.g. 0x90010000)
    size: int

    @property
    def end(self) -> int:
        return self.address + self.size


class SectorList(Sequence[Sector]):
    """A device's sectors in address order, made when asked for. They come in groups of equal
    sectors (StorageInfo's sector groups; a FlashDevice's runs, which may leave gaps), and a
    chip of 4 KiB sectors has thousands (16,384 for 64 MiB): building them all cost the command
    line 23 ms at every start, where a job looks at the few its image touches."""

    __slots__ = ("_first_address", "_first_index", "_groups", "_len")

    def __init__(self, groups: Iterable[tuple[int, int, int]]) -> None:
        """``groups``: (address, count, size), in address order and not overlapping."""
        table: list[tuple[int, int, int, int]] = []  # (first index, address, count, size)
        index = 0
        for address, count, size in groups:
            if count <= 0:
                continue
            if table and table[-1][3] == size and table[-1][1] + table[-1][2] * size == address:
                first, at, n, _ = table[-1]  # one group continues the last: the same sectors
                table[-1] = (first, at, n + count, size)
            else:
                table.append((index, address, count, size))
            index += count
        self._groups = tuple(table)
        self._first_index = [g[0] for g in table]
        self._first_address = [g[1] for g in table]
        self._len = index

    @classmethod
    def from_runs(cls, start: int, runs: Iterable[tuple[int, int]]) -> SectorList:
        """(count, size) runs, each continuing where the previous one ended."""
        groups, address = [], start
        for count, size in runs:
            groups.append((address, count, size))
            address += count * size
        return cls(groups)

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, i: int) -> Sector: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[Sector, ...]: ...

    def __getitem__(self, i: int | slice) -> Sector | tuple[Sector, ...]:
        if isinstance(i, slice):
            start, stop, step = i.indices(self._len)
            if step != 1:
                return tuple(self._sector(j) for j in range(start, stop, step))
            return tuple(self._run(start, stop))
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("sector index out of range")
        return self._sector(i)

    def _sector(self, i: int) -> Sector:
        first, address, _count, size = self._groups[bisect.bisect_right(self._first_index, i) - 1]
        return Sector(i, address + (i - first) * size, size)

    def _run(self, start: int, stop: int) -> Iterator[Sector]:
        """Sectors start..stop-1, group by group (a 16 MiB image's 4,096 without a search
        each)."""
        g = bisect.bisect_right(self._first_index, start) - 1
        while start < stop and g < len(self._groups):
            first, address, count, size = self._groups[g]
            for k in range(start - first, min(stop - first, count)):
                yield Sector(first + k, address + k * size, size)
            start, g = first + count, g + 1

    def __iter__(self) -> Iterator[Sector]:
        for first, address, count, size in self._groups:
            for k in range(count):
                yield Sector(first + k, address + k * size, size)

    def index_at(self, address: int) -> int:
        """The index of the sector holding ``address``, or -1 when none does."""
        g = bisect.bisect_right(self._first_address, address) - 1
        if g < 0:
            return -1
        first, start, count, size = self._groups[g]
        k = (address - start) // size
        return first + k if k < count else -1

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SectorList):
            return self._groups == other._groups
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._groups)

    def __repr__(self) -> str:
        return f"SectorList({[(a, n, s) for _, a, n, s in self._groups]})"


@dataclass(frozen=True)
class Geometry:
    """A flash device's address range, page size, erase value and sectors."""

    name: str
    start: int
    size: int
    page_size: int
    erase_value: int
    sectors: SectorList

    @property
    def end(self) -> int:
        return self.start + self.size

    def contains(self, address: int, size: int = 1) -> bool:
        return self.start <= address and address + size <= self.end

    def sector_index(self, address: int) -> int:
        """Index of the sector holding ``address`` (which must be inside the device)."""
        i = self.sectors.index_at(address)
        if i < 0:
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
    return Geometry(name, start, size, page_size, erase_value, SectorList.from_runs(start, runs))


def expand_runs(start: int, runs: Iterable[tuple[int, int]]) -> Iterator[Sector]:
    """Sectors in address order from (count, size) runs: each run continues where the previous
    one ended (StorageInfo sector groups)."""
    return iter(SectorList.from_runs(start, runs))


class SectorPlan(NamedTuple):
    """A sector the image touches. A tuple, as :class:`Sector` is: a plan makes thousands."""

    sector: Sector
    ranges: tuple[tuple[int, int], ...]  # [lo, hi) parts of the sector the image provides

    @property
    def full(self) -> bool:
        return sum(hi - lo for lo, hi in self.ranges) == self.sector.size


@dataclass(frozen=True)
class Plan:
    """What programming an image takes, sector by sector."""

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
    if len(inside.chunks) == 1:  # one piece of each sector, in order (a binary image)
        chunk = inside.chunks[0]
        plans = tuple(SectorPlan(sector, (part,)) for sector, part in _parts(geometry, chunk))
        return Plan(geometry, inside, plans, outside)
    touched: dict[int, tuple[Sector, list[tuple[int, int]]]] = {}
    for chunk in inside.chunks:
        for sector, part in _parts(geometry, chunk):
            if sector.index in touched:
                touched[sector.index][1].append(part)
            else:
                touched[sector.index] = (sector, [part])
    plans = tuple(SectorPlan(sector, tuple(ranges))
                  for _, (sector, ranges) in sorted(touched.items()))
    return Plan(geometry, inside, plans, outside)


def _parts(geometry: Geometry, chunk: Chunk) -> Iterator[tuple[Sector, tuple[int, int]]]:
    """The sectors ``chunk`` overlaps, each with the [lo, hi) part of it the chunk holds."""
    start, end = chunk.address, chunk.end
    for sector in geometry.sectors_in(start, end - start):
        at, stop = sector.address, sector.address + sector.size
        yield sector, (start if start > at else at, end if end < stop else stop)


def describe_outside(outside: Image) -> str:
    return ", ".join(f"0x{c.address:08X}..0x{c.end - 1:08X} ({c.origin})" for c in outside.chunks)
