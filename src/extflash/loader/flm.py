"""CMSIS FLM flash algorithms: the ``FlashDevice`` descriptor and placing the image in RAM.

``FlashDevice`` (CMSIS ``FlashOS.h``, pyOCD format ``<H128sHLLLLBxxxLL``): version, name[128],
type, device address, size, page size, reserved, empty value, program and erase timeouts (ms),
then ``{sector size, sector offset}`` runs ended by a 0xFFFFFFFF pair. Each run starts at its
offset from the device address and lasts until the next run (or the device end).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from extflash.errors import LoaderFormatError
from extflash.loader.elf import ElfFile, Symbol
from extflash.loader.stldr import MAX_EXPANDED_SECTORS, Sector, read_descriptor

if TYPE_CHECKING:
    from extflash.loader.model import Loader

FLASH_DEVICE_HEAD = struct.Struct("<H128sHIIIIB3xII")
SECTORS_END = 0xFFFFFFFF
MAX_SECTOR_RUNS = 512
FLASH_DEVICE_MAX = FLASH_DEVICE_HEAD.size + 8 * MAX_SECTOR_RUNS
R_ARM_ABS32 = 2
R_ARM_RELATIVE = 23
R_ARM_GOT_BREL = 26
GOT_SYMBOL = "_GLOBAL_OFFSET_TABLE_"
CODE_SECTIONS = ("PrgCode",)
DATA_SECTIONS = ("PrgData",)


@dataclass(frozen=True)
class SectorRun:
    """Sectors of ``size`` bytes starting at ``offset`` from the device address."""

    size: int
    offset: int


@dataclass(frozen=True)
class FlashDevice:
    """A CMSIS FLM's FlashDevice structure."""

    version: int
    name: str
    name_terminated: bool
    device_type: int
    address: int
    size: int
    page_size: int
    reserved: int
    empty_value: int
    program_timeout_ms: int
    erase_timeout_ms: int
    runs: tuple[SectorRun, ...]
    runs_terminated: bool
    section: str
    symbol_address: int

    def _expand(self) -> Iterator[Sector]:
        index = 0
        for i, run in enumerate(self.runs):
            end = self.runs[i + 1].offset if i + 1 < len(self.runs) else self.size
            offset = run.offset
            while run.size and offset < end:
                yield Sector(index, self.address + offset, run.size)
                offset += run.size
                index += 1
                if index > MAX_EXPANDED_SECTORS:
                    raise LoaderFormatError(
                        f"FlashDevice in '{self.section}' expands to over a million sectors")

    @property
    def sectors(self) -> tuple[Sector, ...]:
        return tuple(self._expand())


def decode_flash_device(elf: ElfFile, symbol: Symbol) -> FlashDevice:
    # The symbol size often covers only part of the sector list: read on to the terminator.
    raw = read_descriptor(elf, symbol, FLASH_DEVICE_MAX, "FlashDevice", use_symbol_size=False)
    sec = elf.sections[symbol.shndx]
    if len(raw) < FLASH_DEVICE_HEAD.size:
        raise LoaderFormatError(f"{elf.where}: FlashDevice in '{sec.name}' has {len(raw)} bytes, "
                                f"needs at least {FLASH_DEVICE_HEAD.size}")
    (vers, name_b, dev_type, addr, size, page, reserved, empty, to_prog,
     to_erase) = FLASH_DEVICE_HEAD.unpack_from(raw, 0)
    nul = name_b.find(b"\0")
    runs: list[SectorRun] = []
    terminated = False
    for pos in range(FLASH_DEVICE_HEAD.size, len(raw) - 7, 8):
        sec_size, sec_off = struct.unpack_from("<II", raw, pos)
        if sec_size == SECTORS_END and sec_off == SECTORS_END:
            terminated = True
            break
        runs.append(SectorRun(sec_size, sec_off))
    return FlashDevice(
        version=vers,
        name=(name_b if nul < 0 else name_b[:nul]).decode("utf-8", errors="replace"),
        name_terminated=nul >= 0,
        device_type=dev_type,
        address=addr,
        size=size,
        page_size=page,
        reserved=reserved,
        empty_value=empty,
        program_timeout_ms=to_prog,
        erase_timeout_ms=to_erase,
        runs=tuple(runs),
        runs_terminated=terminated,
        section=sec.name,
        symbol_address=symbol.value,
    )


@dataclass(frozen=True)
class RelocatedImage:
    """An FLM placed at ``base`` the way pyOCD does it: PrgCode and PrgData in one blob.

    ``data`` covers link addresses 0..end of PrgData (ZI included, zero-filled); the host writes
    it at ``base`` and sets R9 to ``static_base``.
    """

    base: int
    data: bytes
    static_base: int
    entry_points: dict[str, int]  # name -> Thumb address at the new base
    relocations_applied: int

    @property
    def end(self) -> int:
        return self.base + len(self.data)


def relocate(loader: Loader, base: int) -> RelocatedImage:
    if base & 3 or not 0 <= base < 1 << 32:
        raise LoaderFormatError(f"FLM base {base:#x} must be a 4-byte aligned 32-bit address")
    code = [s for s in loader.sections if s.name in CODE_SECTIONS]
    data = [s for s in loader.sections if s.name in DATA_SECTIONS]
    if not code or code[0].addr != 0:
        raise LoaderFormatError(f"{loader.path}: not a position-independent FLM "
                                "(no PrgCode section at address 0)")
    parts = code + data
    end = max(s.end for s in parts)
    if end > 0x100000:
        raise LoaderFormatError(f"{loader.path}: PrgCode/PrgData span {end:#x} bytes")
    blob = bytearray(end)
    for sec in parts:
        if not sec.is_nobits:
            blob[sec.addr : sec.end] = loader.section_data(sec.name)
    # GCC position-independent code addresses data through a GOT at R9; Keil's RWPI code
    # addresses it as R9 + offset from the start of PrgData.
    got = loader.symbol(GOT_SYMBOL)
    static = base + (got.value if got else data[0].addr if data else end)
    patch: set[int] = set()
    for rel in loader.relocations:
        if rel.section not in CODE_SECTIONS + DATA_SECTIONS or rel.offset + 4 > end:
            continue
        if rel.type == R_ARM_ABS32 and rel.symbol is not None and rel.symbol.section is None:
            continue  # absolute symbols do not move
        if rel.type in (R_ARM_ABS32, R_ARM_RELATIVE):
            patch.add(rel.offset)
        elif rel.type == R_ARM_GOT_BREL and got is not None:
            slot = (got.value + _word(blob, rel.offset)) & 0xFFFFFFFF
            if slot + 4 <= end:
                patch.add(slot)  # the GOT slot holds the symbol's link-time address
    for offset in sorted(patch):
        moved = (_word(blob, offset) + base) & 0xFFFFFFFF
        blob[offset : offset + 4] = moved.to_bytes(4, "little")
    applied = len(patch)
    entries = {e.name: base + e.address for e in loader.entry_points}
    return RelocatedImage(base, bytes(blob), static, entries, applied)


def _word(blob: bytearray, offset: int) -> int:
    return int.from_bytes(blob[offset : offset + 4], "little")
