"""The loader as an immutable value: what a ``.stldr`` or FLM file contains, exactly decoded."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from extflash.errors import InputError, LoaderFormatError
from extflash.loader import elf as elfmod
from extflash.loader.attributes import BuildAttributes, parse_attributes
from extflash.loader.elf import Relocation, Section, Symbol
from extflash.loader.flm import FlashDevice, RelocatedImage, decode_flash_device, relocate
from extflash.loader.stldr import StorageInfo, decode_storage_info

if TYPE_CHECKING:
    from extflash.loader.code import CodeFacts
    from extflash.loader.family import FamilyInference

MAX_FILE_SIZE = 64 << 20  # real loaders with full DWARF stay under a few MiB
STLDR_ENTRIES = ("Init", "Write", "SectorErase", "Read", "MassErase", "Verify", "CheckSum",
                 "DeInit")
FLM_ENTRIES = ("Init", "UnInit", "EraseSector", "ProgramPage", "EraseChip", "Verify",
               "BlankCheck")
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400


@dataclass(frozen=True)
class ElfFacts:
    """The ELF header facts of a loader."""

    machine: int
    flags: int
    entry: int
    type: int

    @property
    def eabi_version(self) -> int:
        return self.flags >> 24

    @property
    def float_abi(self) -> str:
        """"hard", "soft" or "unspecified" (IAR/Keil leave the e_flags float bits clear)."""
        if self.flags & EF_ARM_ABI_FLOAT_HARD:
            return "hard"
        if self.flags & EF_ARM_ABI_FLOAT_SOFT:
            return "soft"
        return "unspecified"


@dataclass(frozen=True)
class LoadSegment:
    """One PT_LOAD: ``data`` (its file bytes) goes at ``address``; ``memsize`` incl. zero fill."""

    index: int
    address: int
    data: bytes = field(repr=False)
    memsize: int
    flags: str  # "RWX" subset
    sections: tuple[str, ...]

    @property
    def end(self) -> int:
        return self.address + self.memsize

    @property
    def executable(self) -> bool:
        return "X" in self.flags

    def contains(self, address: int) -> bool:
        return self.address <= address < self.end


@dataclass(frozen=True)
class ZeroRange:
    """Memory the host must clear: NOBITS (``.bss``) bytes of a segment beyond its file data."""

    address: int
    size: int
    sections: tuple[str, ...]

    @property
    def end(self) -> int:
        return self.address + self.size


@dataclass(frozen=True)
class EntryPoint:
    """A loader function the host calls."""

    name: str
    address: int  # as in the symbol table: the Thumb bit set for Thumb code
    section: str | None

    @property
    def thumb(self) -> bool:
        return bool(self.address & 1)

    @property
    def code_address(self) -> int:
        return self.address & ~1


@dataclass(frozen=True)
class Footprint:
    """RAM the loader image occupies, lowest to highest address (``.bss`` included)."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Loader:
    """A loader as a value: its ELF, device description and entry points."""

    kind: str  # "stldr" | "flm"
    path: str
    elf: ElfFacts
    sections: tuple[Section, ...]
    segments: tuple[LoadSegment, ...]
    zero_ranges: tuple[ZeroRange, ...]
    symbols: tuple[Symbol, ...]
    has_symtab: bool
    entry_points: tuple[EntryPoint, ...]
    storage_info: StorageInfo | None
    flash_device: FlashDevice | None
    attributes: BuildAttributes
    relocations: tuple[Relocation, ...] = field(repr=False)
    file_bytes: bytes = field(repr=False, compare=False)

    @property
    def descriptor_section(self) -> str | None:
        desc = self.storage_info or self.flash_device
        return desc.section if desc else None

    @property
    def image_segments(self) -> tuple[LoadSegment, ...]:
        """The segments the host loads to run the code (a descriptor-only segment excluded)."""
        desc = self.descriptor_section
        return tuple(s for s in self.segments if s.memsize and s.sections != (desc,))

    @property
    def footprint(self) -> Footprint | None:
        segs = self.image_segments
        if not segs:
            return None
        return Footprint(min(s.address for s in segs), max(s.end for s in segs))

    def entry(self, name: str) -> EntryPoint | None:
        return next((e for e in self.entry_points if e.name == name), None)

    def symbol(self, name: str) -> Symbol | None:
        return next((s for s in self.symbols if s.name == name and s.shndx), None)

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def section_data(self, name: str) -> bytes:
        sec = self.section(name)
        if sec is None or sec.is_nobits:
            return b""
        return self.file_bytes[sec.offset : sec.offset + sec.size]

    def segment_at(self, address: int) -> LoadSegment | None:
        return next((s for s in self.image_segments if s.contains(address)), None)

    @functools.cached_property
    def code(self) -> CodeFacts:
        """What the machine code references (disassembled on first use)."""
        from extflash.loader.code import analyse  # capstone: only for commands that look

        code = [(s, self.section_data(s.name)) for s in self.sections
                if s.is_alloc and s.flags & elfmod.SHF_EXECINSTR and not s.is_nobits]
        data = [self.section_data(s.name) for s in self.sections
                if s.is_alloc and s.flags & elfmod.SHF_WRITE and not s.is_nobits
                and not s.flags & elfmod.SHF_EXECINSTR]
        return analyse(code, data, self.symbols)

    @functools.cached_property
    def inferred_family(self) -> FamilyInference:
        from extflash.loader.family import infer_family

        return infer_family(self)

    def relocate(self, base: int) -> RelocatedImage:
        """An FLM image placed at ``base`` (PrgCode + PrgData packed, relocations applied)."""
        return relocate(self, base)


def open_loader(path: str | os.PathLike[str]) -> Loader:
    """Read and decode a loader file; LoaderFormatError (exit 2) if it is not a usable one."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_SIZE:
            raise LoaderFormatError(f"{p}: {size} bytes is far larger than any loader")
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read loader {p}: {exc.strerror or exc}") from None
    return from_bytes(data, str(p))


def from_bytes(data: bytes, where: str = "<memory>") -> Loader:
    elf = elfmod.parse(data, where)
    load = [ph for ph in elf.segments if ph.type == elfmod.PT_LOAD]
    if not load:
        raise LoaderFormatError(f"{where}: no loadable segment (PT_LOAD): nothing to run")
    si_sym = elf.symbol("StorageInfo")
    fd_sym = elf.symbol("FlashDevice")
    kind = _kind(where, si_sym, fd_sym, elf)
    storage = decode_storage_info(elf, si_sym) if kind == "stldr" and si_sym else None
    device = decode_flash_device(elf, fd_sym) if kind == "flm" and fd_sym else None
    segments = tuple(_segment(elf, ph) for ph in load)
    names = STLDR_ENTRIES if kind == "stldr" else FLM_ENTRIES
    entries = tuple(EntryPoint(n, sym.value, sym.section) for n in names
                    if (sym := elf.symbol(n)) is not None)
    attrs_sec = next((s for s in elf.sections if s.type == elfmod.SHT_ARM_ATTRIBUTES), None)
    return Loader(
        kind=kind,
        path=where,
        elf=ElfFacts(elf.header.machine, elf.header.flags, elf.header.entry, elf.header.type),
        sections=elf.sections,
        segments=segments,
        zero_ranges=tuple(z for seg, ph in zip(segments, load, strict=True)
                          if (z := _zero_range(elf, seg, ph)) is not None),
        symbols=elf.symbols,
        has_symtab=elf.has_symtab,
        entry_points=entries,
        storage_info=storage,
        flash_device=device,
        attributes=parse_attributes(elf.section_bytes(attrs_sec)) if attrs_sec else
        BuildAttributes(),
        relocations=elf.relocations,
        file_bytes=data,
    )


def _kind(where: str, si: Symbol | None, fd: Symbol | None, elf: elfmod.ElfFile) -> str:
    if si is not None:
        return "stldr"
    if fd is not None or elf.section_named("DevDscr") is not None:
        return "flm"
    return "flm" if where.lower().endswith(".flm") else "stldr"


def _segment_sections(elf: elfmod.ElfFile, ph: elfmod.ProgramHeader) -> tuple[Section, ...]:
    out = []
    for s in elf.sections:
        if not s.is_alloc or not s.size or not ph.vaddr <= s.addr < ph.vaddr + ph.memsz:
            continue
        in_file = s.is_nobits or ph.offset <= s.offset < ph.offset + max(ph.filesz, 1)
        if in_file:
            out.append(s)
    return tuple(out)


def _segment(elf: elfmod.ElfFile, ph: elfmod.ProgramHeader) -> LoadSegment:
    flags = "".join(c for c, bit in (("R", elfmod.PF_R), ("W", elfmod.PF_W), ("X", elfmod.PF_X))
                    if ph.flags & bit)
    names = tuple(s.name for s in _segment_sections(elf, ph))
    return LoadSegment(ph.index, ph.vaddr, elf.segment_bytes(ph), ph.memsz, flags, names)


def _zero_range(elf: elfmod.ElfFile, seg: LoadSegment,
                ph: elfmod.ProgramHeader) -> ZeroRange | None:
    if ph.memsz <= ph.filesz:
        return None
    nobits = tuple(s.name for s in _segment_sections(elf, ph) if s.is_nobits)
    return ZeroRange(ph.vaddr + ph.filesz, ph.memsz - ph.filesz, nobits)
