"""The HAL-style OCTOSPI/XSPI test loaders (tests/firmware/ospi_hal) build for every kit.

Each variant is compiled from the project's C with arm-none-eabi-gcc for its family's loader
RAM base, and checked the way a host sees it: ``extflash info`` reads its StorageInfo and
entry points, ``extflash lint`` finds no error, the board's pins and the controller's register
block are compiled in, and the HAL variant moves DR data a byte at a time where the
register-level one moves words. Running them on the virtual board needs the OCTOSPI/XSPI model.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import ospi_hal.build as ob
import pytest
from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs
from click.testing import CliRunner
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from extflash.cli import main
from extflash.errors import ConfigError
from extflash.mcu import find_part

ENTRY_POINTS = ("Init", "Write", "Read", "SectorErase", "MassErase", "Verify", "CheckSum")
DR_OFFSET = "#0x50]"

VARIANTS = ob.KITS
H7B3_OCTAL = ob.H7B3_OCTAL


class Loader:
    """A built loader ELF, parsed once."""

    def __init__(self, path: Path, build: ob.LoaderBuild) -> None:
        self.path = path
        self.build = build
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            self.header = elf.header
            symtab = elf.get_section_by_name(".symtab")
            assert isinstance(symtab, SymbolTableSection)
            self.symbols = {s.name: s for s in symtab.iter_symbols() if s.name}
            self.sections = {s.name: (s.header, s.data()) for s in elf.iter_sections()}

    def read(self, address: int, size: int) -> bytes:
        for header, data in self.sections.values():
            if header["sh_type"] == "SHT_PROGBITS" and header["sh_flags"] & 2:
                start = header["sh_addr"]
                if start <= address and address + size <= start + header["sh_size"]:
                    return data[address - start : address - start + size]
        raise AssertionError(f"no section holds {address:#x}+{size}")

    def symbol_bytes(self, name: str) -> bytes:
        sym = self.symbols[name]
        return self.read(sym["st_value"] & ~1, sym["st_size"])

    def disassemble(self, name: str) -> list[tuple[str, str]]:
        md = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
        addr = self.symbols[name]["st_value"] & ~1
        return [(i.mnemonic, i.op_str) for i in md.disasm(self.symbol_bytes(name), addr)]

    def literal_words(self) -> set[int]:
        _, text = self.sections[".text"]
        return {struct.unpack_from("<I", text, i)[0] for i in range(0, len(text) - 3, 2)}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def loader(request: pytest.FixtureRequest, build_elf: Any,
           tmp_path_factory: pytest.TempPathFactory) -> Loader:
    b = ob.loader_build(VARIANTS[request.param])
    elf = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                    cpu=b.cpu)
    stldr = tmp_path_factory.mktemp("ospi") / f"{request.param}.stldr"
    shutil.copyfile(elf, stldr)
    return Loader(stldr, b)


def _cli_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return dict(json.loads(result.output))


def test_info_reads_storage_info_and_entry_points(loader: Loader) -> None:
    data = _cli_json("info", str(loader.path))
    b = loader.build
    dev = data["device"]
    assert dev["name"] == b.name
    assert (dev["start"], dev["size"], dev["page_size"], dev["erase_value"]) == (
        b.window, b.size, b.page_size, 0xFF)
    assert dev["sector_groups"] == [{"count": b.size // b.sector_size, "size": b.sector_size}]
    assert set(ENTRY_POINTS) <= set(data["entry_points"])
    assert all(data["entry_points"][n] & 1 for n in ENTRY_POINTS)
    assert data["footprint"]["start"] == b.ram_base + 4


def test_lint_finds_no_error(loader: Loader) -> None:
    data = _cli_json("lint", str(loader.path), "--mcu", VARIANTS_BY_NAME[loader.build.name]["mcu"])
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    assert errors == []


def test_board_pins_and_controller_are_compiled_in(loader: Loader) -> None:
    b = loader.build
    assert loader.symbol_bytes("ospi_pins") == b"".join(bytes(p) for p in b.pins)
    family = find_part(VARIANTS_BY_NAME[b.name]["mcu"]).family
    controller = family.controller(b.controller)
    assert controller is not None
    assert controller.base in loader.literal_words(), f"{b.name}: controller base not referenced"


def test_data_register_width_follows_the_driver_style(loader: Loader) -> None:
    """HAL style: strb/ldrb on DR; register level: whole-word str/ldr on DR."""
    tx = loader.disassemble("HAL_OSPI_Transmit")
    rx = loader.disassemble("HAL_OSPI_Receive")
    word_store = any(m in ("str", "str.w") and op.endswith(DR_OFFSET) for m, op in tx)
    word_load = any(m in ("ldr", "ldr.w") and op.endswith(DR_OFFSET) for m, op in rx)
    assert any(m.startswith("strb") and op.endswith(DR_OFFSET) for m, op in tx), tx
    if VARIANTS_BY_NAME[loader.build.name].get("register_level"):
        assert word_store and word_load
    else:
        assert not word_store and not word_load


VARIANTS_BY_NAME = {ob.loader_build(v).name: v for v in VARIANTS.values()}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mcu": "STM32H743ZI"}, "no recipe for family"),
        ({"chip": "NOPE25Q"}, "unknown chip"),
        ({"mode": "quad"}, "an octal part"),
        ({"mode": "ddr"}, "mode must be one of"),
        ({"controller": "XSPI1"}, "has no controller"),
        ({"port": 3}, "cannot drive port 3"),
        ({"pins": {**H7B3_OCTAL, "io0": "PA0"}}, "no single AF"),
        ({"pins": {k: v for k, v in H7B3_OCTAL.items() if k != "dqs"}}, "needs pins for dqs"),
        ({"pins": {**H7B3_OCTAL, "clk": "B2"}}, "not a port pin"),
    ],
)
def test_bad_board_descriptions_are_config_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ob.loader_build({**VARIANTS["h7b3-mx25lm-dtr"], **change})


def test_quad_chip_refuses_octal_mode() -> None:
    with pytest.raises(ConfigError, match="a quad part"):
        ob.loader_build({**VARIANTS["h735-w25q128"], "mode": "dtr"})


def _bits(loader: Loader, symbol: str) -> list[tuple[int, int]]:
    raw = loader.symbol_bytes(symbol)
    return [struct.unpack_from("<II", raw, i) for i in range(0, len(raw), 8)]


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        # H7S78-DK: XSPIM port-2 supply (PWR_CSR2.EN_XSPIM2), then SBS clock and XSPI2 HSLV
        # for the 1.8 V MX66UW1G45G, as the kit's BSP does
        ("h7s7-mx66uw-dtr-xspi2", [(0x5802480C, 15), (0x58024554, 1), (0x58000510, 18)]),
        # a 3 V chip on port 1: the port supply only, never HSLV
        ("h7r7-w25q128-xspi1", [(0x5802480C, 14)]),
        # 32L4R9IDISCOVERY wires the NOR to port G pins: PWR clock, then PWR_CR2.IOSV (VDDIO2)
        ("l4r9-mx25lm-str-port2", [(0x40021058, 28), (0x40007004, 9)]),
        ("h7b3-mx25lm-dtr", [(0, 0)]),
    ],
)
def test_io_supplies_follow_the_port_and_the_chip_voltage(
        variant: str, expected: list[tuple[int, int]], build_elf: Any) -> None:
    b = ob.loader_build(VARIANTS[variant])
    path = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                     cpu=b.cpu)
    assert _bits(Loader(path, b), "io_supplies") == expected


def test_io_manager_routes_the_l4r9_nor_through_port_2() -> None:
    b = ob.loader_build(VARIANTS["l4r9-mx25lm-str-port2"])
    assert (b.controller, b.port, b.window) == ("OCTOSPI1", 2, 0x90000000)
    flags = set(b.cflags)
    assert {"-DOH_IOM_KIND=1", "-DOH_INSTANCE=1", "-DOH_PORT=2", "-DOH_USES_DQS=0"} <= flags


@pytest.mark.parametrize(
    ("variant", "divider", "dummy", "dc_code"),
    [
        ("h7b3-mx25lm-dtr", 2, 6, 7),   # HSI 64 MHz / 2 = 32 MHz: 6 cycles, CR2 DC = 111
        ("u585-mx25lm-dtr-ospi2", 1, 6, 7),
        ("h573-mx25lm-dtr", 1, 6, 7),   # HSI 32 MHz, undivided
    ],
)
def test_octal_dummy_cycles_match_the_cr2_setting(variant: str, divider: int, dummy: int,
                                                  dc_code: int) -> None:
    flags = set(ob.loader_build(VARIANTS[variant]).cflags)
    assert f"-DOH_CLOCK_DIVIDER={divider}u" in flags
    assert f"-DOH_CHIP_READ_DUMMY_CLOCKS={dummy}" in flags
    assert f"-DOH_CHIP_DC_CODE={dc_code}u" in flags


def test_faster_buses_need_more_dummy_cycles() -> None:
    chip = ob.OCTAL_CHIPS["MX25LM51245G"]
    assert [chip.dummy_for(mhz * 1_000_000) for mhz in (50, 66, 84, 104, 133)] == [
        6, 6, 8, 10, 14]
    with pytest.raises(ConfigError, match="no dummy-cycle setting"):
        chip.dummy_for(200_000_000)
