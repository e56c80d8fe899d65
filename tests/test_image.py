"""Image readers on real files: an application ELF linked with the Arm toolchain, and the Intel
HEX / S-record / binary files objcopy makes from it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from extflash import image
from extflash.errors import ImageError
from extflash.toolchain import Toolchain


@pytest.fixture(scope="module")
def app_elf(build_elf) -> Path:
    return build_elf("app", ["app/app.c"], "app/app.ld", cpu="cortex-m7")


def objcopy(toolchain: Toolchain, elf: Path, fmt: str, out: Path, *extra: str) -> Path:
    subprocess.run(
        [str(toolchain.tool("objcopy")), "-O", fmt, *extra, str(elf), str(out)], check=True
    )
    return out


def test_elf_segments_land_at_their_load_addresses(app_elf: Path) -> None:
    img = image.load(app_elf)
    assert img.format == "elf"
    ext, internal = img.split(0x90000000, 0x91000000)
    assert internal.chunks and internal.start == 0x08000000
    # The external part: the function, then the 4-aligned 3097-word asset table.
    assert ext.start == 0x90000000
    assets = ext.chunks[-1].data[-3097 * 4 :]
    assert int.from_bytes(assets[4:8], "little") == 2654435761
    assert int.from_bytes(assets[-4:], "little") == (3096 * 2654435761) & 0xFFFFFFFF


@pytest.mark.parametrize("fmt,suffix", [("ihex", ".hex"), ("srec", ".srec")])
def test_hex_and_srec_match_the_elf(
    app_elf: Path, toolchain: Toolchain, tmp_path: Path, fmt: str, suffix: str
) -> None:
    converted = image.load(objcopy(toolchain, app_elf, fmt, tmp_path / f"app{suffix}"))
    reference = image.load(app_elf)
    assert converted.format in ("hex", "srec")
    assert [(c.address, c.data) for c in converted.chunks] == [
        (c.address, c.data) for c in reference.chunks
    ]


def test_raw_binary_needs_an_address(app_elf: Path, toolchain: Toolchain, tmp_path: Path) -> None:
    binary = objcopy(toolchain, app_elf, "binary", tmp_path / "ext.bin", "-j", ".ext_rodata")
    with pytest.raises(ImageError, match="raw binary: give the address"):
        image.load(binary)
    img = image.load(binary, address=0x90001000)
    assert img.start == 0x90001000 and img.size == binary.stat().st_size


def test_hex_checksum_error_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hex"
    bad.write_text(":0400000001020304F2\n:0400040001020304ED\n:00000001FF\n")
    with pytest.raises(ImageError, match=r"bad.hex:2: record checksum mismatch"):
        image.load(bad)


def test_truncated_hex_is_reported(tmp_path: Path) -> None:
    trunc = tmp_path / "t.hex"
    trunc.write_text(":0400000001020304F2\n")
    with pytest.raises(ImageError, match="no end-of-file record"):
        image.load(trunc)


def test_overlapping_records_are_rejected(tmp_path: Path) -> None:
    overlap = tmp_path / "o.srec"
    lines = []
    for addr in (0x90000000, 0x90000002):
        rec = bytes([9]) + addr.to_bytes(4, "big") + b"\x11\x22\x33\x44"
        lines.append("S3" + (rec + bytes([0xFF - (sum(rec) & 0xFF)])).hex().upper())
    overlap.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImageError, match=r"line 2 at 0x90000002.*overlaps line 1"):
        image.load(overlap)


def test_not_an_arm_elf(tmp_path: Path) -> None:
    host_elf = Path("/bin/true")
    with pytest.raises(ImageError, match="not ARM"):
        image.load(host_elf)


def test_garbage_after_elf_magic(tmp_path: Path) -> None:
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"\x7fELF" + bytes(range(60)))
    with pytest.raises(ImageError, match="not a valid ELF image"):
        image.load(junk)
