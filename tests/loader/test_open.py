"""extflash.loader.open decodes every layout of the test loaders exactly as their C sources say."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from extflash import loader
from extflash.loader.stldr import SectorGroup

LoaderFile = Callable[[str], Path]
STLDR_ENTRIES = {"Init", "Write", "SectorErase", "Read", "MassErase", "Verify", "CheckSum",
                 "DeInit"}


def _elf_symbols(path: Path) -> dict[str, tuple[int, int]]:
    """name -> (value, size) straight from the symbol table bytes, for cross-checking."""
    from extflash.loader import elf

    parsed = elf.parse(path.read_bytes(), str(path))
    return {s.name: (s.value, s.size) for s in parsed.symbols if s.name}


def test_gcc_info_at_zero_decodes_every_field(loader_file: LoaderFile) -> None:
    path = loader_file("h7-info0")
    ld = loader.open(path)
    si = ld.storage_info
    assert ld.kind == "stldr" and si is not None
    assert (si.name, si.name_terminated, si.device_type, si.type_name) == (
        "W25Q128_extflash-test", True, 3, "NOR_FLASH")
    assert (si.start, si.size, si.page_size, si.erase_value) == (0x90000000, 0x1000000, 0x100,
                                                                  0xFF)
    assert si.groups == (SectorGroup(256, 0x10000),)
    assert (si.symbol_size, si.bytes_read, si.padding) == (200, 200, b"\0" * 5)
    assert (si.section, si.address) == (".info", 0)
    sectors = si.sectors
    assert len(sectors) == 256
    assert (sectors[1].address, sectors[-1].address, sectors[-1].size) == (
        0x90010000, 0x90FF0000, 0x10000)
    symbols = _elf_symbols(path)
    assert {e.name for e in ld.entry_points} == STLDR_ENTRIES
    for e in ld.entry_points:
        assert e.address == symbols[e.name][0] and e.thumb
        assert ld.segment_at(e.code_address) is not None
    fp = ld.footprint
    assert fp is not None and fp.start == 0x24000004
    bss = ld.section(".bss")
    assert bss is not None and fp.end == bss.end
    assert [(z.address, z.size, z.sections) for z in ld.zero_ranges] == [
        (bss.addr, bss.size, (".bss",))]
    assert ld.elf.machine == 40 and ld.elf.float_abi == "soft" and ld.elf.entry == symbols[
        "Init"][0]
    exec_segs = [s for s in ld.segments if s.executable]
    assert len(exec_segs) == 1 and exec_segs[0].address == 0x24000004
    assert ld.inferred_family.best is not None
    assert ld.inferred_family.best.family_id == "stm32h7-qspi"
    assert ld.inferred_family.interface == "quadspi"


def test_cubeide_dev_info_is_read_from_its_own_section(loader_file: LoaderFile) -> None:
    ld = loader.open(loader_file("f7-cubeide"))
    si = ld.storage_info
    assert si is not None and si.section == ".Dev_info"
    fp = ld.footprint
    assert fp is not None and fp.start == 0x20000004
    # The descriptor sits inside the RAM image range, in an overlapping second segment.
    assert fp.start < si.address < fp.end
    assert sum(1 for s in ld.segments if s.contains(si.address)) == 2
    assert (si.page_size, si.groups) == (0x1000, (SectorGroup(4096, 0x1000),))
    tied = {g.family_id for g in ld.inferred_family.tied}
    assert tied == {"stm32f4", "stm32f7"}  # same RCC, GPIO and QUADSPI bases
    assert ld.inferred_family.interface == "quadspi"


def test_storage_info_at_top_of_ram_is_left_out_of_the_footprint(loader_file: LoaderFile) -> None:
    ld = loader.open(loader_file("h7-top-of-ram"))
    assert ld.storage_info is not None and ld.storage_info.address == 0x2407FF00
    fp = ld.footprint
    assert fp is not None and fp.start == 0x24000004 and fp.end < 0x24001000


def test_stripped_loader_keeps_only_entry_points(loader_file: LoaderFile) -> None:
    full = loader.open(loader_file("h7-info0"))
    ld = loader.open(loader_file("h7-stripped"))
    named = {s.name for s in ld.symbols if s.name}
    assert named == STLDR_ENTRIES | {"StorageInfo"}
    assert ld.storage_info == full.storage_info
    assert ld.entry_points == full.entry_points
    assert ld.inferred_family.best is not None
    assert ld.inferred_family.best.family_id == "stm32h7-qspi"


def test_iar_section_names_and_two_sector_groups(loader_file: LoaderFile) -> None:
    ld = loader.open(loader_file("l4-iar"))
    si = ld.storage_info
    assert si is not None and si.section == "P3" and si.address == 0
    assert si.groups == (SectorGroup(256, 0x10000), SectorGroup(16, 0x20000))
    assert si.size == si.sectors_total == 0x1200000
    assert (si.sectors[256].address, si.sectors[256].size) == (0x91000000, 0x20000)
    assert [z.sections for z in ld.zero_ranges] == [("P2 ui",)]
    assert {s.name for s in ld.sections} >= {"P1 ro", "P2 ui", "P3"}
    assert ld.footprint is not None and ld.footprint.start == 0x20000004
    assert "stm32l4" in {g.family_id for g in ld.inferred_family.tied}


def test_keil_layout_with_zero_size_symbol_reads_200_bytes(loader_file: LoaderFile) -> None:
    ld = loader.open(loader_file("g4-keil-size0"))
    si = ld.storage_info
    assert si is not None
    assert (si.section, si.symbol_size, si.bytes_read) == ("DevInfo", 0, 200)
    assert si.name == "W25Q128_extflash-test" and si.groups == (SectorGroup(256, 0x10000),)
    assert {s.name for s in ld.sections} >= {"PrgCode", "PrgData", "DevInfo"}


def test_136_byte_storage_info_has_two_sector_slots(loader_file: LoaderFile) -> None:
    si = loader.open(loader_file("h7-size136")).storage_info
    assert si is not None and (si.symbol_size, si.bytes_read) == (136, 136)
    assert si.groups == (SectorGroup(256, 0x10000),)


def test_octospi_loader_is_told_apart_from_quadspi(loader_file: LoaderFile) -> None:
    inference = loader.open(loader_file("h7-ospi")).inferred_family
    assert inference.best is not None and inference.best.family_id == "stm32h7-ospi"
    assert inference.interface == "octospi"
    assert any("OCTOSPIM" in e for e in inference.best.evidence)


def test_cortex_m0_loader_infers_g0_and_spi(loader_file: LoaderFile) -> None:
    ld = loader.open(loader_file("g0-dwt"))
    assert not ld.code.thumb2 and ld.attributes.v6m_only
    assert ld.inferred_family.best is not None
    assert ld.inferred_family.best.family_id == "stm32g0"
    assert ld.inferred_family.interface == "spi"


def test_rwpi_code_is_detected(loader_file: LoaderFile) -> None:
    assert "Init" in loader.open(loader_file("l4-rwpi")).code.r9_functions
    assert loader.open(loader_file("h7-info0")).code.r9_functions == ()


def test_fpu_use_is_detected(loader_file: LoaderFile) -> None:
    hard = loader.open(loader_file("hard-float"))
    assert hard.code.vfp and not hard.code.vfp_double and hard.elf.float_abi == "hard"
    assert hard.attributes.vfp_args
    double = loader.open(loader_file("double"))
    assert double.code.vfp_double
    assert not loader.open(loader_file("h7-info0")).code.vfp


def test_flm_flash_device_and_relocation(loader_file: LoaderFile) -> None:
    path = loader_file("flm")
    ld = loader.open(path)
    fd = ld.flash_device
    assert ld.kind == "flm" and ld.storage_info is None and fd is not None
    assert (fd.version, fd.name, fd.device_type, fd.address, fd.size, fd.page_size) == (
        0x0101, "extflash FLM test W25Q64", 5, 0x90000000, 0x800000, 0x100)
    assert (fd.empty_value, fd.program_timeout_ms, fd.erase_timeout_ms) == (0xFF, 300, 6000)
    assert [(r.size, r.offset) for r in fd.runs] == [(0x1000, 0), (0x10000, 0x10000)]
    assert fd.runs_terminated and fd.section == "DevDscr"
    sectors = fd.sectors
    assert len(sectors) == 16 + 127
    assert (sectors[16].address, sectors[16].size) == (0x90010000, 0x10000)
    assert {e.name for e in ld.entry_points} == {"Init", "UnInit", "EraseSector", "ProgramPage",
                                                  "EraseChip"}
    symbols = _elf_symbols(path)
    base = 0x20000000
    image = ld.relocate(base)
    assert image.entry_points["Init"] == base + symbols["Init"][0]
    assert image.static_base == base + symbols["_GLOBAL_OFFSET_TABLE_"][0]
    # The pointer table in PrgData now points at the relocated variables.
    table = symbols["status_regs"][0]
    words = struct.unpack_from("<2I", image.data, table)
    assert words == (base + symbols["base_address"][0], base + symbols["current_function"][0])
    assert image.relocations_applied >= 2
    with pytest.raises(loader.LoaderFormatError, match="not a position-independent FLM"):
        loader.open(loader_file("h7-info0")).relocate(base)
