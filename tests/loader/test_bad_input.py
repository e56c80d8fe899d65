"""Bad loader files give one LoaderFormatError (exit 2) naming what and where — no traceback."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from extflash import loader
from extflash.cli import main
from extflash.errors import LoaderFormatError
from extflash.loader import elf

LoaderFile = Callable[[str], Path]


def _patched(src: Path, tmp_path: Path, offset: int, fmt: str, value: int) -> Path:
    data = bytearray(src.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    out = tmp_path / "patched.stldr"
    out.write_bytes(bytes(data))
    return out


def _section_header_offset(path: Path, name: str) -> int:
    parsed = elf.parse(path.read_bytes(), str(path))
    shoff = struct.unpack_from("<I", parsed.data, 32)[0]
    sec = parsed.section_named(name)
    assert sec is not None
    return shoff + sec.index * 40


@pytest.mark.parametrize(
    ("offset", "fmt", "value", "message"),
    [
        (4, "<B", 2, "ELF64 file at offset 4"),
        (5, "<B", 2, "big-endian ELF"),
        (18, "<H", 62, "ELF for x86-64"),
        (16, "<H", 1, "not an executable"),
        (48, "<H", 60000, "section header table at file offset"),
        (32, "<I", 0x7FFFFFF0, "runs past the end of the file"),
        (50, "<H", 999, "section name table index 999"),
    ],
)
def test_corrupted_header_fields(loader_file: LoaderFile, tmp_path: Path, offset: int, fmt: str,
                                 value: int, message: str) -> None:
    path = _patched(loader_file("h7-info0"), tmp_path, offset, fmt, value)
    with pytest.raises(LoaderFormatError, match=message) as exc:
        loader.open(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_not_elf_and_truncated(tmp_path: Path, loader_file: LoaderFile) -> None:
    text = tmp_path / "notes.stldr"
    text.write_text("hello")
    with pytest.raises(LoaderFormatError, match="not an ELF file"):
        loader.open(text)
    short = tmp_path / "short.stldr"
    short.write_bytes(loader_file("h7-info0").read_bytes()[:40])
    with pytest.raises(LoaderFormatError, match="truncated ELF header"):
        loader.open(short)
    half = tmp_path / "half.stldr"
    half.write_bytes(loader_file("h7-info0").read_bytes()[:600])
    with pytest.raises(LoaderFormatError, match="past the end of the file"):
        loader.open(half)


def test_section_size_beyond_file(loader_file: LoaderFile, tmp_path: Path) -> None:
    src = loader_file("h7-info0")
    path = _patched(src, tmp_path, _section_header_offset(src, ".prog") + 20, "<I", 0x7FFFFFFF)
    with pytest.raises(LoaderFormatError, match=r"section \d+ .* claims 0x7fffffff bytes"):
        loader.open(path)


def test_section_name_offset_outside_string_table(loader_file: LoaderFile,
                                                  tmp_path: Path) -> None:
    src = loader_file("h7-info0")
    path = _patched(src, tmp_path, _section_header_offset(src, ".prog"), "<I", 0xFFFFFF)
    with pytest.raises(LoaderFormatError, match="name offset 0xffffff is outside"):
        loader.open(path)


def test_storage_info_symbol_outside_its_section(loader_file: LoaderFile, tmp_path: Path) -> None:
    src = loader_file("h7-info0")
    parsed = elf.parse(src.read_bytes(), str(src))
    symtab = next(s for s in parsed.sections if s.type == elf.SHT_SYMTAB)
    index = next(i for i, s in enumerate(parsed.symbols, 1) if s.name == "StorageInfo")
    path = _patched(src, tmp_path, symtab.offset + index * 16 + 4, "<I", 0x5000)
    with pytest.raises(LoaderFormatError,
                       match=r"StorageInfo symbol at 0x00005000 lies outside its section '.info'"):
        loader.open(path)


def test_cli_reports_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.stldr"
    bad.write_bytes(b"\x7fELF" + b"\0" * 10)
    result = CliRunner().invoke(main, ["info", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    missing = CliRunner().invoke(main, ["info", str(tmp_path / "nope.stldr")])
    assert missing.exit_code == 2 and "cannot read loader" in missing.output
