"""A small, bounds-checked ELF32 little-endian ARM reader for loader files.

Loader files come from anywhere, so every count, offset and size in them is checked against
the file length before anything is read or allocated. A problem becomes one
:class:`LoaderFormatError` that names the file offset or section; nothing else escapes.
(A hand-written reader is used instead of pyelftools because it only has to understand the
few structures loaders use, and it has a single failure path.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from extflash.errors import LoaderFormatError

EM_ARM = 40
ET_EXEC = 2
ET_DYN = 3
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_NOBITS = 8
SHT_REL = 9
SHT_ARM_ATTRIBUTES = 0x70000003
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_ABS = 0xFFF1

EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
SHDR = struct.Struct("<IIIIIIIIII")
PHDR = struct.Struct("<IIIIIIII")
SYM = struct.Struct("<IIIBBH")
REL = struct.Struct("<II")

# Far beyond any real loader; they keep hostile files from costing time or memory.
MAX_SECTIONS = 4096
MAX_SEGMENTS = 256
MAX_SYMBOLS = 200_000
MAX_MEMSZ = 0x1000_0000  # 256 MiB: no MCU has more RAM than this in one segment

MACHINES = {3: "x86", 8: "MIPS", 62: "x86-64", 183: "AArch64", 243: "RISC-V"}


@dataclass(frozen=True)
class Section:
    """An ELF section header."""

    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int

    @property
    def is_nobits(self) -> bool:
        return self.type == SHT_NOBITS

    @property
    def is_alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)

    @property
    def end(self) -> int:
        return self.addr + self.size

    def contains(self, address: int, length: int = 1) -> bool:
        return self.addr <= address and address + length <= self.end


@dataclass(frozen=True)
class ProgramHeader:
    """An ELF program header."""

    index: int
    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    flags: int


@dataclass(frozen=True)
class Symbol:
    """An ELF symbol."""

    name: str
    value: int
    size: int
    type: str  # "func", "object", "section", "file", "notype", "other"
    bind: str  # "local", "global", "weak", "other"
    shndx: int
    section: str | None  # name of the section it belongs to; None for absolute/undefined

    @property
    def is_function(self) -> bool:
        return self.type == "func"


@dataclass(frozen=True)
class Relocation:
    """An ELF relocation."""

    offset: int  # the address the relocation patches
    type: int
    symbol: Symbol | None
    section: str  # the section patched


@dataclass(frozen=True)
class ElfHeader:
    """The ELF header fields extflash reads."""

    type: int
    machine: int
    entry: int
    flags: int


SYM_TYPES = {0: "notype", 1: "object", 2: "func", 3: "section", 4: "file"}
SYM_BINDS = {0: "local", 1: "global", 2: "weak"}


@dataclass(frozen=True)
class ElfFile:
    """The parsed structures of one ELF file; ``data`` is the whole file."""

    where: str
    data: bytes
    header: ElfHeader
    sections: tuple[Section, ...]
    segments: tuple[ProgramHeader, ...]
    symbols: tuple[Symbol, ...]
    has_symtab: bool
    relocations: tuple[Relocation, ...]

    def section_bytes(self, section: Section) -> bytes:
        if section.is_nobits:
            return b""
        return self.data[section.offset : section.offset + section.size]

    def section_named(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def symbol(self, name: str) -> Symbol | None:
        """The defined symbol called ``name``; a global one wins over a local one."""
        found = [s for s in self.symbols if s.name == name and s.shndx != SHN_UNDEF]
        found.sort(key=lambda s: s.bind != "global")
        return found[0] if found else None

    def segment_bytes(self, seg: ProgramHeader) -> bytes:
        return self.data[seg.offset : seg.offset + seg.filesz]


def _fail(where: str, what: str) -> LoaderFormatError:
    return LoaderFormatError(f"{where}: {what}")


def parse(data: bytes, where: str) -> ElfFile:
    """Parse ``data`` (the whole file) or raise LoaderFormatError naming ``where`` and the spot."""
    header = _parse_header(data, where)
    e_shoff, e_phoff, e_phnum, e_shnum, e_shstrndx = _table_geometry(data, where)
    sections = _parse_sections(data, where, e_shoff, e_shnum, e_shstrndx)
    segments = _parse_segments(data, where, e_phoff, e_phnum)
    symtab = next((s for s in sections if s.type == SHT_SYMTAB), None)
    symbols = _parse_symbols(data, where, symtab, sections) if symtab else ()
    relocations = _parse_relocations(data, where, sections, symbols)
    return ElfFile(where, data, header, sections, segments, symbols, symtab is not None,
                   relocations)


def _parse_header(data: bytes, where: str) -> ElfHeader:
    if len(data) < 4 or data[:4] != b"\x7fELF":
        raise _fail(where, f"not an ELF file (starts with {data[:4].hex() or 'nothing'}, "
                           "expected 7f454c46)")
    if len(data) < EHDR.size:
        raise _fail(where, f"truncated ELF header ({len(data)} bytes, need {EHDR.size})")
    ident = data[:16]
    if ident[4] != 1:
        kind = "ELF64" if ident[4] == 2 else f"ELF class {ident[4]}"
        raise _fail(where, f"{kind} file at offset 4; loaders are ELF32")
    if ident[5] != 1:
        raise _fail(where, "big-endian ELF (EI_DATA at offset 5); loaders are little-endian ARM")
    fields = EHDR.unpack_from(data, 0)
    e_type, e_machine, _version, e_entry, _ph, _sh, e_flags = fields[1:8]
    if e_machine != EM_ARM:
        name = MACHINES.get(e_machine, f"machine {e_machine}")
        raise _fail(where, f"ELF for {name} (e_machine at offset 18); loaders are ARM (40)")
    if e_type not in (ET_EXEC, ET_DYN):
        raise _fail(where, f"ELF type {e_type} at offset 16 is not an executable (a .o file?); "
                           "loaders are linked executables")
    return ElfHeader(e_type, e_machine, e_entry, e_flags)


def _table_geometry(data: bytes, where: str) -> tuple[int, int, int, int, int]:
    (_i, _t, _m, _v, _e, e_phoff, e_shoff, _f, _eh,
     e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = EHDR.unpack_from(data, 0)
    size = len(data)
    if e_shnum:
        if e_shentsize != SHDR.size:
            raise _fail(where, f"section header size {e_shentsize} at offset 46 (expected 40)")
        if e_shnum > MAX_SECTIONS or e_shoff + e_shnum * SHDR.size > size:
            raise _fail(where, f"section header table at file offset {e_shoff:#x} with {e_shnum} "
                               f"entries runs past the end of the file ({size} bytes)")
    if e_phnum:
        if e_phentsize != PHDR.size:
            raise _fail(where, f"program header size {e_phentsize} at offset 42 (expected 32)")
        if e_phnum > MAX_SEGMENTS or e_phoff + e_phnum * PHDR.size > size:
            raise _fail(where, f"program header table at file offset {e_phoff:#x} with {e_phnum} "
                               f"entries runs past the end of the file ({size} bytes)")
    if e_shnum and e_shstrndx >= e_shnum:
        raise _fail(where, f"section name table index {e_shstrndx} (offset 50) is not one of "
                           f"the {e_shnum} sections")
    return e_shoff, e_phoff, e_phnum, e_shnum, e_shstrndx


def _cstring(blob: bytes, offset: int, where: str, what: str) -> str:
    if offset >= len(blob):
        raise _fail(where, f"{what}: name offset {offset:#x} is outside its string table "
                           f"({len(blob)} bytes)")
    end = blob.find(b"\0", offset)
    if end < 0:
        raise _fail(where, f"{what}: name at string table offset {offset:#x} is not terminated")
    return blob[offset:end].decode("utf-8", errors="replace")


def _parse_sections(data: bytes, where: str, shoff: int, shnum: int,
                    shstrndx: int) -> tuple[Section, ...]:
    raw = [SHDR.unpack_from(data, shoff + i * SHDR.size) for i in range(shnum)]
    for i, (_n, sh_type, _fl, _a, sh_offset, sh_size, *_rest) in enumerate(raw):
        if sh_type != SHT_NOBITS and sh_type != 0 and sh_offset + sh_size > len(data):
            raise _fail(where, f"section {i} (header at file offset {shoff + i * SHDR.size:#x}) "
                               f"claims {sh_size:#x} bytes at offset {sh_offset:#x}, past the end "
                               f"of the file ({len(data)} bytes)")
    names = b""
    if shnum:
        _n, _t, _f, _a, str_off, str_size, *_r = raw[shstrndx]
        names = data[str_off : str_off + str_size]
    sections = []
    for i, (sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, _al,
            sh_entsize) in enumerate(raw):
        name = _cstring(names, sh_name, where, f"section {i}") if i else ""
        sections.append(Section(i, name, sh_type, sh_flags, sh_addr, sh_offset, sh_size,
                                sh_link, sh_info, sh_entsize))
    return tuple(sections)


def _parse_segments(data: bytes, where: str, phoff: int, phnum: int) -> tuple[ProgramHeader, ...]:
    segments = []
    for i in range(phnum):
        p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, _al = PHDR.unpack_from(
            data, phoff + i * PHDR.size)
        if p_type == PT_LOAD:
            at = f"program header {i} (file offset {phoff + i * PHDR.size:#x})"
            if p_offset + p_filesz > len(data):
                raise _fail(where, f"{at} loads {p_filesz:#x} bytes from offset {p_offset:#x}, "
                                   f"past the end of the file ({len(data)} bytes)")
            if p_filesz > p_memsz:
                raise _fail(where, f"{at} has file size {p_filesz:#x} > memory size {p_memsz:#x}")
            if p_memsz > MAX_MEMSZ or p_vaddr + p_memsz > 1 << 32:
                raise _fail(where, f"{at} claims {p_memsz:#x} bytes at {p_vaddr:#010x}, "
                                   "more than any MCU address space allows")
        segments.append(ProgramHeader(i, p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz,
                                      p_flags))
    return tuple(segments)


def _parse_symbols(data: bytes, where: str, symtab: Section,
                   sections: tuple[Section, ...]) -> tuple[Symbol, ...]:
    if symtab.entsize not in (0, SYM.size) or symtab.size % SYM.size:
        raise _fail(where, f"symbol table '{symtab.name}' has entry size {symtab.entsize} and "
                           f"size {symtab.size:#x} (expected multiples of 16)")
    count = symtab.size // SYM.size
    if count > MAX_SYMBOLS:
        raise _fail(where, f"symbol table '{symtab.name}' claims {count} symbols")
    if not 0 < symtab.link < len(sections) or sections[symtab.link].type != SHT_STRTAB:
        raise _fail(where, f"symbol table '{symtab.name}' links to section {symtab.link}, "
                           "which is not a string table")
    strtab = _strtab(data, sections[symtab.link])
    symbols = []
    for i in range(1, count):
        st_name, value, size, info, _other, shndx = SYM.unpack_from(
            data, symtab.offset + i * SYM.size)
        name = _cstring(strtab, st_name, where, f"symbol {i} of '{symtab.name}'") if st_name else ""
        if 0 < shndx < SHN_LORESERVE:
            if shndx >= len(sections):
                raise _fail(where, f"symbol '{name}' (entry {i}) refers to section {shndx}; "
                                   f"the file has {len(sections)}")
            section: str | None = sections[shndx].name
        else:
            section = None
        symbols.append(Symbol(name, value, size, SYM_TYPES.get(info & 0xF, "other"),
                              SYM_BINDS.get(info >> 4, "other"), shndx, section))
    return tuple(symbols)


def _strtab(data: bytes, section: Section) -> bytes:
    return data[section.offset : section.offset + section.size]


def _parse_relocations(data: bytes, where: str, sections: tuple[Section, ...],
                       symbols: tuple[Symbol, ...]) -> tuple[Relocation, ...]:
    relocs: list[Relocation] = []
    for sec in sections:
        if sec.type != SHT_REL or sec.size % REL.size:
            continue
        if sec.size // REL.size > MAX_SYMBOLS:
            raise _fail(where, f"relocation section '{sec.name}' claims {sec.size // REL.size} "
                               "entries")
        patched = sections[sec.info].name if 0 < sec.info < len(sections) else "?"
        for i in range(sec.size // REL.size):
            r_offset, r_info = REL.unpack_from(data, sec.offset + i * REL.size)
            sym_index = r_info >> 8
            # symbols[] skips the null entry 0
            symbol = symbols[sym_index - 1] if 0 < sym_index <= len(symbols) else None
            relocs.append(Relocation(r_offset, r_info & 0xFF, symbol, patched))
    return tuple(relocs)
