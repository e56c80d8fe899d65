"""The ``StorageInfo`` descriptor of an STM32CubeProgrammer ``.stldr`` loader.

Layout (ST ``Dev_Inf.h``, 200 bytes): name[100] @0, u16 type @100, 2 pad, u32 start @104,
u32 size @108, u32 page @112, u8 erase value @116, 3 pad, 10 x {u32 count, u32 size} @120.
The sector list ends at the first entry whose count is 0. Some IAR builds declare only two
sector slots (``st_size`` 136); hand-written ones give the symbol size 0 (read 200 then).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from extflash.errors import LoaderFormatError
from extflash.loader.elf import ElfFile, Symbol
from extflash.plan import Sector, expand_runs

STORAGE_INFO_SIZE = 200
NAME_SIZE = 100
SECTORS_OFFSET = 120
SECTOR_SLOTS = 10
MAX_EXPANDED_SECTORS = 1 << 20  # a 256 MiB device of 256-byte sectors

DEVICE_TYPES = {
    1: "MCU_FLASH", 2: "NAND_FLASH", 3: "NOR_FLASH", 4: "SRAM", 5: "PSRAM", 6: "PC_CARD",
    7: "SPI_FLASH", 8: "I2C_FLASH", 9: "SDRAM", 10: "I2C_EEPROM",
}


@dataclass(frozen=True)
class SectorGroup:
    """``count`` equal sectors of ``size`` bytes."""

    count: int
    size: int


def expand_sectors(start: int, groups: tuple[SectorGroup, ...]) -> Iterator[Sector]:
    """Sectors in address order: each group continues where the previous one ended."""
    return expand_runs(start, ((g.count, g.size) for g in groups))


@dataclass(frozen=True)
class StorageInfo:
    """A .stldr's StorageInfo structure."""

    name: str
    name_terminated: bool
    device_type: int
    start: int
    size: int
    page_size: int
    erase_value: int
    groups: tuple[SectorGroup, ...]
    symbol_size: int  # st_size as found (200, 136, 0, ...)
    bytes_read: int  # how many descriptor bytes the file really holds
    padding: bytes  # the 2 + 3 padding bytes (after type, after erase value)
    section: str
    address: int

    @property
    def type_name(self) -> str:
        return DEVICE_TYPES.get(self.device_type, f"unknown ({self.device_type})")

    @property
    def sectors_total(self) -> int:
        return sum(g.count * g.size for g in self.groups)

    @property
    def sector_count(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def sectors(self) -> tuple[Sector, ...]:
        """The expanded sector list (refused beyond a million sectors: no real device has that)."""
        if self.sector_count > MAX_EXPANDED_SECTORS:
            raise LoaderFormatError(
                f"StorageInfo in '{self.section}' declares {self.sector_count} sectors")
        return tuple(expand_sectors(self.start, self.groups))


def read_descriptor(elf: ElfFile, symbol: Symbol, default_size: int, what: str, *,
                    use_symbol_size: bool = True) -> bytes:
    """The bytes of a descriptor symbol, taken from the symbol's OWN section (never a segment).

    CubeIDE builds put the descriptor in a second PT_LOAD that overlaps the image; reading by
    address from segments would return the code bytes there.
    """
    if not 0 < symbol.shndx < len(elf.sections):
        raise LoaderFormatError(f"{elf.where}: {what} symbol is not in a section "
                                f"(section index {symbol.shndx:#x})")
    sec = elf.sections[symbol.shndx]
    if sec.is_nobits:
        raise LoaderFormatError(f"{elf.where}: {what} lies in '{sec.name}', a section without "
                                "file contents (NOBITS)")
    if not sec.addr <= symbol.value < sec.addr + max(sec.size, 1) or sec.size == 0:
        raise LoaderFormatError(
            f"{elf.where}: {what} symbol at {symbol.value:#010x} lies outside its section "
            f"'{sec.name}' ({sec.addr:#010x}..{sec.addr + sec.size:#010x})")
    offset = symbol.value - sec.addr
    wanted = (symbol.size if use_symbol_size else 0) or default_size
    return elf.section_bytes(sec)[offset : offset + min(wanted, default_size)]


def decode_storage_info(elf: ElfFile, symbol: Symbol) -> StorageInfo:
    raw = read_descriptor(elf, symbol, STORAGE_INFO_SIZE, "StorageInfo")
    blob = raw.ljust(STORAGE_INFO_SIZE, b"\0")
    name_bytes = blob[:NAME_SIZE]
    nul = name_bytes.find(b"\0")
    name = (name_bytes if nul < 0 else name_bytes[:nul]).decode("utf-8", errors="replace")
    dev_type, start, size, page = struct.unpack_from("<H2xIII", blob, NAME_SIZE)
    erase = blob[116]
    slots = max(0, min(SECTOR_SLOTS, (len(raw) - SECTORS_OFFSET) // 8))
    groups = []
    for i in range(slots):
        count, sec_size = struct.unpack_from("<II", blob, SECTORS_OFFSET + 8 * i)
        if count == 0:
            break
        groups.append(SectorGroup(count, sec_size))
    sec = elf.sections[symbol.shndx]
    return StorageInfo(
        name=name,
        name_terminated=nul >= 0 and len(raw) > nul,
        device_type=dev_type,
        start=start,
        size=size,
        page_size=page,
        erase_value=erase,
        groups=tuple(groups),
        symbol_size=symbol.size,
        bytes_read=len(raw),
        padding=blob[102:104] + blob[117:120],
        section=sec.name,
        address=symbol.value,
    )
