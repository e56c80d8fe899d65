"""Generated loaders, built with arm-none-eabi-gcc for many part/chip/bank/pin combinations and
checked as the hosts will see them: entry points, StorageInfo, load address, size, no vectors."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from extflash import board, chips, gen, loader
from shipped_boards import ALL_BOARDS

BuildLoader = Callable[..., gen.BuildResult]  # the build_loader fixture (conftest.py)

STLDR_ENTRIES = ("Init", "Write", "Read", "SectorErase", "MassErase", "Verify", "CheckSum")
FLM_ENTRIES = ("Init", "UnInit", "EraseSector", "EraseChip", "ProgramPage", "Verify",
               "BlankCheck")
VTOR = 0xE000ED08

B1_DISCO = "PB2,PB6,PD11,PD12,PE2,PD13"
H7_B2_E = "PB2,PC11,PE7,PE8,PE9,PE10"

# (part, chip, bank, pins as CLK,NCS,IO0..IO3[,BK2...], HSE Hz)
CASES: list[tuple[str, str, object, str, int | None]] = [
    ("STM32H743ZI", "W25Q128JV", 1, B1_DISCO, None),
    ("STM32H743ZI", "W25Q128JV", 1, B1_DISCO, 25_000_000),
    ("STM32H743ZI", "W25Q256JV", 1, "PB2,PB6,PF8,PF9,PF7,PF6", 8_000_000),
    ("STM32H743ZI", "W25Q64JV", 2, H7_B2_E, None),
    ("STM32H743XI", "MX25L51245G", 2, "PB2,PC11,PH2,PH3,PG9,PG14", None),
    ("STM32H743ZI", "W25Q128JV", "dual", B1_DISCO + ",PE7,PE8,PE9,PE10", None),
    ("STM32H747XI", "MT25QL512", "dual", "PF10,PG6,PD11,PF9,PF7,PF6,PH2,PH3,PG9,PG14", 25_000_000),
    ("STM32H750VB", "W25Q128JV", 1, B1_DISCO, None),
    ("STM32H745XI", "N25Q128A", 1, "PF10,PG6,PF8,PF9,PF7,PF6", 25_000_000),
    ("STM32H743ZI", "W25Q02JV", 1, B1_DISCO, None),
    ("STM32F746NG", "N25Q128A", 1, B1_DISCO, 25_000_000),
    ("STM32F769NI", "MX25L51245G", 1, "PB2,PB6,PC9,PC10,PE2,PD13", 25_000_000),
    ("STM32F746NG", "W25Q128JV", "dual", B1_DISCO + ",PC11,PE7,PE8,PE9,PE10", None),
    ("STM32F746NG", "W25Q32JV", 2, H7_B2_E, None),
    ("STM32F446ZE", "W25Q128JV", 1, "PB2,PB6,PF8,PF9,PF7,PF6", None),
    ("STM32F412ZG", "W25Q64JV", 2, H7_B2_E, 8_000_000),
    ("STM32F412ZG", "W25Q16JV", "dual", "PB2,PB6,PF8,PF9,PF7,PF6,PA6,PA7,PC4,PC5", None),
    ("STM32L476VG", "N25Q128A", 1, "PE10,PE11,PE12,PE13,PE14,PE15", None),
    ("STM32L476VG", "W25Q256JV", 1, "PB10,PB11,PB1,PB0,PA7,PA6", 8_000_000),
    ("STM32G474RE", "W25Q128JV", 1, "PA3,PA2,PB1,PB0,PA7,PA6", None),
    ("STM32G474RE", "MX25L51245G", "dual", "PA3,PA2,PB1,PB0,PA7,PA6,PC1,PC2,PC3,PC4", None),
    ("STM32G474RE", "W25Q512JV", 1, "PB10,PB11,PB1,PB0,PA7,PA6", 24_000_000),
]


def _plan(part: str, chip: str, bank: object, pins: str, hse: int | None) -> gen.LoaderConfig:
    bank_v = board._norm_bank(bank, "test")
    return gen.plan_loader(part, chip, bank_v, board.parse_pins(pins, bank_v), hse_hz=hse,
                           name=f"{part}-{chip}-{bank}-{hse or 'hsi'}")


def _id(case: tuple[str, str, object, str, int | None]) -> str:
    hse = case[4]
    return "-".join(str(x) for x in case[:3]) + (f"-hse{hse // 1_000_000}" if hse else "")


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_stldr_as_the_host_sees_it(case: tuple, build_loader: BuildLoader) -> None:
    cfg = _plan(*case)
    result = build_loader(cfg)
    ldr = loader.open(result.stldr)
    chip = chips.find(case[1])
    chips_n = 2 if case[2] == "dual" else 1

    assert ldr.kind == "stldr" and ldr.has_symtab
    for name in STLDR_ENTRIES:
        entry = ldr.entry(name)
        assert entry is not None and entry.thumb, name

    si = ldr.storage_info
    assert si is not None and si.symbol_size == 200
    assert si.start == 0x90000000
    assert si.size == chip.size * chips_n
    assert si.page_size == chip.page_size * chips_n
    assert si.erase_value == 0xFF and si.name == cfg.name
    assert [(g.count, g.size) for g in si.groups] == [
        (chip.size // chip.sector_size, chip.sector_size * chips_n)]

    base = cfg.family.loader_ram_base + 4
    image = ldr.image_segments
    assert min(s.address for s in image) == base
    assert si.address == 0
    assert any(s.address == 0 and s.sections == (".info",) for s in ldr.segments)
    assert ldr.section(".isr_vector") is None
    code = b"".join(s.data for s in image)
    assert struct.pack("<I", VTOR) not in code
    assert cfg.family.peripherals["QUADSPI"].to_bytes(4, "little") in code
    if chips_n == 1:
        assert result.size.total <= 4096, result.size


def test_sizes_are_measured_from_the_elf(build_loader: BuildLoader) -> None:
    result = build_loader(_plan(*CASES[0]))
    ldr = loader.open(result.stldr)
    fp = ldr.footprint
    assert fp is not None and fp.size == result.size.total
    assert result.command[0].endswith("gcc") and "-T" in result.command


def test_project_is_readable_and_rebuildable(build_loader: BuildLoader) -> None:
    cfg = _plan(*CASES[2])
    result = build_loader(cfg)
    files = {p.name for p in result.project.iterdir()}
    assert {"config.h", "board_config.c", "Makefile", "stldr.ld", "flm.ld", "nor.c"} <= files
    header = (result.project / "config.h").read_text()
    assert "#define NOR_ADDR_BYTES     4" in header      # W25Q256JV: 4-byte opcodes
    assert "0xEC" in header and "#define OP_PROGRAM         0x34u" in header
    ld = (result.project / "stldr.ld").read_text()
    assert "ORIGIN = 0x24000004" in ld and "KEEP(*(.text.Init))" in ld


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_every_shipped_board_builds(name: str, build_loader: BuildLoader) -> None:
    b = board.load(name)  # a board file that does not load is a failure, not a skip
    cfg = gen.plan_loader(b)
    result = build_loader(cfg)
    ldr = loader.open(result.stldr)
    mem = b.memories[0]  # QUADSPI, OCTOSPI or XSPI
    chip = chips.find(mem.chip)
    assert ldr.storage_info is not None
    assert ldr.storage_info.size == chip.size * (2 if mem.bank == "dual" else 1)
    assert cfg.hse_hz == (b.hse_hz or None)


@pytest.mark.parametrize("case", [CASES[0], CASES[6], CASES[17]], ids=["h7", "h7-dual", "l4"])
def test_flm_from_the_same_sources(case: tuple, build_loader: BuildLoader) -> None:
    cfg = _plan(*case)
    result = build_loader(cfg, flm=True)
    assert result.flm is not None and result.flm_size is not None
    ldr = loader.open(result.flm)
    assert ldr.kind == "flm"
    for name in FLM_ENTRIES:
        assert ldr.entry(name) is not None, name
    code = ldr.section("PrgCode")
    assert code is not None and code.addr == 0
    assert ldr.section(".got") is None and not ldr.relocations
    fd = ldr.flash_device
    assert fd is not None
    assert fd.address == 0x90000000 and fd.size == cfg.flash_size
    assert fd.page_size == cfg.page_size and fd.empty_value == 0xFF
    assert [(r.size, r.offset) for r in fd.runs] == [(cfg.sector_size, 0)]
    assert fd.erase_timeout_ms == cfg.nor.timeout_sector_ms
    assert fd.program_timeout_ms == cfg.nor.timeout_page_ms
