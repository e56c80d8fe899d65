"""The HAL-style reference loader (tests/firmware/halstyle) builds for every QUADSPI family.

Each variant is compiled from the project's C with arm-none-eabi-gcc and the resulting ELF
is checked the way a host reads it: entry points by symbol, the image at the family's RAM
base + 4, StorageInfo decoded from its own (overlapping) section, the RAM vector table at
base + 0x200 with SysTick_Handler in its slot, a hard-float ABI, and the board's pins, chip
and bank compiled in.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import halstyle.build as hb
import pytest
from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs
from elftools.elf.constants import P_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import ARMAttributesSection, SymbolTableSection

from extflash.errors import ConfigError

ENTRY_POINTS = ("Init", "Write", "Read", "SectorErase", "MassErase", "Verify", "CheckSum")
EF_ARM_ABI_FLOAT_HARD = 0x400
FP_ARCH = {"fpv5-d16": 8, "fpv5-sp-d16": 8, "fpv4-sp-d16": 6}  # Tag_FP_arch values
QUADSPI_BASE = {"stm32h7-qspi": 0x52005000}
RCC_BASE = {"stm32h7-qspi": 0x58024400, "stm32f7": 0x40023800, "stm32f4": 0x40023800,
            "stm32l4": 0x40021000, "stm32g4": 0x40021000}
SYSTICK_SLOT = 15

H7_BANK1 = {"clk": "PB2", "bk1_ncs": "PB6", "bk1_io0": "PD11", "bk1_io1": "PD12",
            "bk1_io2": "PE2", "bk1_io3": "PD13"}

H7_BANK2 = {"clk": "PB2", "bk2_ncs": "PC11", "bk2_io0": "PE7", "bk2_io1": "PE8",
            "bk2_io2": "PE9", "bk2_io3": "PE10"}
# STM32H747I-DISCO: two chips in dual-flash mode sharing BK1_NCS (UM2411)
H747_DUAL = {"clk": "PF10", "bk1_ncs": "PG6", "bk1_io0": "PD11", "bk1_io1": "PF9",
             "bk1_io2": "PF7", "bk1_io3": "PF6", "bk2_io0": "PH2", "bk2_io1": "PH3",
             "bk2_io2": "PG9", "bk2_io3": "PG14"}
# STM32F769I-DISCO (UM2033) and STM32F412G-DISCO (UM2032) wiring
F769_PINS = {"clk": "PB2", "bk1_ncs": "PB6", "bk1_io0": "PC9", "bk1_io1": "PC10",
             "bk1_io2": "PE2", "bk1_io3": "PD13"}
F412_PINS = {"clk": "PB2", "bk1_ncs": "PG6", "bk1_io0": "PF8", "bk1_io1": "PF9",
             "bk1_io2": "PF7", "bk1_io3": "PF6"}
PORT_E_PINS = {"clk": "PE10", "bk1_ncs": "PE11", "bk1_io0": "PE12", "bk1_io1": "PE13",
               "bk1_io2": "PE14", "bk1_io3": "PE15"}

VARIANTS: dict[str, dict[str, Any]] = {
    "h7-w25q128-bank1": {"mcu": "STM32H743ZI", "chip": "W25Q128JV", "bank": 1,
                         "pins": H7_BANK1},
    "h7-w25q256-bank2-hse": {"mcu": "STM32H743ZI", "chip": "W25Q256JV", "bank": 2,
                             "hse_hz": 25_000_000, "pins": H7_BANK2},
    "h747-mt25ql512-dual": {"mcu": "STM32H747XI", "chip": "MT25QL512", "bank": "dual",
                            "hse_hz": 25_000_000, "pins": H747_DUAL},
    "f7-mx25l512-bank1": {"mcu": "STM32F769NI", "chip": "MX25L51245G", "bank": 1,
                          "hse_hz": 25_000_000, "pins": F769_PINS},
    "f7-mt25ql128-explicit-af": {"family": "stm32f7", "chip": "MT25QL128", "bank": 1,
                                 "pins": {**{k: (v, 9) for k, v in H7_BANK1.items()},
                                          "bk1_ncs": ("PB6", 10)}},
    "f4-mt25ql128-bank1": {"mcu": "STM32F412ZG", "chip": "MT25QL128", "bank": 1,
                           "hse_hz": 8_000_000, "pins": F412_PINS},
    "l4-mx25l128-bank1": {"mcu": "STM32L476VG", "chip": "MX25L12835F", "bank": 1,
                          "pins": PORT_E_PINS},
    # a chip outside the built-in table, with QE written as the 2nd byte of WRSR (QER 001)
    "l4-custom-chip-qer001": {"mcu": "STM32L476VG", "bank": 1, "hse_hz": 8_000_000,
                              "hse_bypass": True, "pins": PORT_E_PINS,
                              "chip": replace(hb.CHIPS["W25Q128JV"], name="W25Q128FV",
                                              qe="sr2-bit1-01")},
    "g4-w25q128-bank1": {"mcu": "STM32G474VE", "chip": "W25Q128JV", "bank": 1,
                         "hse_hz": 24_000_000, "pins": PORT_E_PINS},
}


class Loader:
    """A built loader ELF, parsed once."""

    def __init__(self, path: Path, build: Any) -> None:
        self.build = build
        self.data = path.read_bytes()
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            self.header = elf.header
            self.loads = [s.header for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            symtab = elf.get_section_by_name(".symtab")
            assert isinstance(symtab, SymbolTableSection)
            self.symbols = {s.name: s for s in symtab.iter_symbols() if s.name}
            self.sections = {s.name: (s.header, s.data()) for s in elf.iter_sections()}
            attrs = elf.get_section_by_name(".ARM.attributes")
            assert isinstance(attrs, ARMAttributesSection)
            self.attributes = {a.tag: a.value for sub in attrs.iter_subsections()
                               for ss in sub.iter_subsubsections() for a in ss.iter_attributes()}

    def read(self, address: int, size: int) -> bytes:
        """Bytes at an address, from the section that holds it (as a symbol-aware host does)."""
        for header, data in self.sections.values():
            if header["sh_type"] == "SHT_PROGBITS" and header["sh_flags"] & 2:
                start = header["sh_addr"]
                if start <= address and address + size <= start + header["sh_size"]:
                    return data[address - start : address - start + size]
        raise AssertionError(f"no section holds {address:#x}+{size}")

    def symbol_bytes(self, name: str) -> bytes:
        sym = self.symbols[name]
        return self.read(sym["st_value"] & ~1, sym["st_size"])


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def loader(request: pytest.FixtureRequest, build_elf: Any) -> Loader:
    b = hb.loader_build(VARIANTS[request.param])
    path = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                     cpu=b.cpu)
    return Loader(path, b)


def test_entry_points_are_thumb_functions_in_the_image(loader: Loader) -> None:
    image = loader.loads[0]
    for name in ENTRY_POINTS:
        sym = loader.symbols[name]
        assert sym["st_info"]["type"] == "STT_FUNC", name
        assert sym["st_value"] & 1, f"{name} is not a Thumb address"
        addr = sym["st_value"] & ~1
        assert image["p_vaddr"] <= addr < image["p_vaddr"] + image["p_filesz"], name
    assert loader.header["e_entry"] == loader.symbols["Init"]["st_value"]


def test_image_is_linked_at_ram_base_plus_4(loader: Loader) -> None:
    assert loader.header["e_type"] == "ET_EXEC"
    assert loader.header["e_machine"] == "EM_ARM"
    assert loader.loads[0]["p_vaddr"] == loader.build.ram_base + 4
    lowest = min(h["p_vaddr"] for h in loader.loads)
    assert lowest == loader.build.ram_base + 4


def test_storage_info_sits_in_an_overlapping_second_segment(loader: Loader) -> None:
    image, info = loader.loads
    sym = loader.symbols["StorageInfo"]
    assert sym["st_size"] == 200
    assert info["p_flags"] == P_FLAGS.PF_R
    assert info["p_vaddr"] <= sym["st_value"] < info["p_vaddr"] + info["p_memsz"]
    # CubeIDE layout: .Dev_info lies inside the RAM image's address range
    assert image["p_vaddr"] < info["p_vaddr"]
    assert info["p_vaddr"] + info["p_memsz"] <= image["p_vaddr"] + image["p_memsz"]
    header, _ = loader.sections[".Dev_info"]
    assert header["sh_addr"] == sym["st_value"]


def test_storage_info_decodes_to_the_chip_geometry(loader: Loader) -> None:
    raw = loader.symbol_bytes("StorageInfo")
    name = raw[:100].split(b"\0")[0].decode()
    dev_type, start, size, page, erase_value = struct.unpack_from("<H2xIIIB", raw, 100)
    sectors = [struct.unpack_from("<II", raw, 120 + 8 * i) for i in range(10)]
    b = loader.build
    assert name == b.name
    assert dev_type == 3  # NOR_FLASH
    assert start == 0x90000000
    assert size == b.chip.size * b.chips
    assert page == b.chip.page_size * b.chips
    assert erase_value == 0xFF
    count, sector_size = sectors[0]
    assert sector_size == b.chip.sector[1] * b.chips
    assert count * sector_size == size
    assert sectors[1] == (0, 0)


def test_vector_table_at_base_0x200_points_at_the_systick_handler(loader: Loader) -> None:
    table = loader.symbols["g_pfnVectors"]
    assert table["st_value"] == loader.build.ram_base + 0x200
    words = struct.unpack("<16I", loader.read(table["st_value"], 64))
    handler = loader.symbols["SysTick_Handler"]["st_value"]
    assert handler & 1
    assert words[SYSTICK_SLOT] == handler


def test_hard_float_build(loader: Loader) -> None:
    assert loader.header["e_flags"] & EF_ARM_ABI_FLOAT_HARD
    assert loader.attributes["TAG_ABI_VFP_ARGS"] == 1  # arguments in VFP registers
    assert loader.attributes["TAG_FP_ARCH"] == FP_ARCH[hb.FAMILIES[loader.build.family].fpu]


def test_board_pins_are_compiled_in(loader: Loader) -> None:
    """qspi_pins holds {port, pin, af} for every signal the bank uses."""
    b = loader.build
    pins = hb.SIGNALS_BY_BANK[hb.BANKS[VARIANTS_BY_NAME[b.name]["bank"]]]
    board = VARIANTS_BY_NAME[b.name]
    expected = []
    for signal in (*pins[0], *pins[1]):
        if signal in board["pins"]:
            port, pin, af = hb._pin_af(board, signal, board["pins"][signal])
            expected.append(bytes([ord(port) - ord("A"), pin, af]))
    assert loader.symbol_bytes("qspi_pins") == b"".join(expected)


def _literal_words(loader: Loader) -> set[int]:
    _, text = loader.sections[".text"]
    return {struct.unpack_from("<I", text, i)[0] for i in range(0, len(text) - 3, 2)}


def test_registers_the_loader_programs(loader: Loader) -> None:
    """The family's QUADSPI and RCC blocks appear in the literal pools."""
    words = _literal_words(loader)
    family = loader.build.family
    assert QUADSPI_BASE.get(family, 0xA0001000) in words
    rcc = RCC_BASE[family]
    assert any(rcc <= w < rcc + 0x400 for w in words), "no RCC register address"


def _disassemble(loader: Loader, name: str) -> list[tuple[str, str]]:
    md = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)
    addr = loader.symbols[name]["st_value"] & ~1
    return [(i.mnemonic, i.op_str) for i in md.disasm(loader.symbol_bytes(name), addr)]


def test_data_register_is_accessed_one_byte_at_a_time(loader: Loader) -> None:
    tx = _disassemble(loader, "HAL_QSPI_Transmit")
    rx = _disassemble(loader, "HAL_QSPI_Receive")
    assert any(m.startswith("strb") and op.endswith("#0x20]") for m, op in tx), tx
    assert any(m.startswith("ldrb") and op.endswith("#0x20]") for m, op in rx), rx
    assert not any(m.startswith("str") and not m.startswith("strb") and op.endswith("#0x20]")
                   for m, op in tx)


def test_primask_is_toggled_around_operations(loader: Loader) -> None:
    for name in ("Init", "Write", "SectorErase", "MassErase"):
        ops = _disassemble(loader, name)
        writes = [op for m, op in ops if m == "msr" and op.startswith("primask")]
        assert writes, f"{name} never writes PRIMASK"


VARIANTS_BY_NAME = {hb.loader_build(v).name: v for v in VARIANTS.values()}


@pytest.mark.parametrize("family", sorted(hb.FAMILIES))
@pytest.mark.parametrize("oscillator_hz", [0, 8_000_000, 25_000_000])
def test_pll_solution_hits_the_target_within_limits(family: str, oscillator_hz: int) -> None:
    recipe = hb.FAMILIES[family]
    source = oscillator_hz or recipe.hsi_hz
    m, n, p = hb.solve_pll(source, recipe.sysclk_hz, recipe.pll)
    lim = recipe.pll
    assert source % m == 0
    assert lim.ref_hz[0] <= source // m <= lim.ref_hz[1]
    assert lim.vco_hz[0] <= source // m * n <= lim.vco_hz[1]
    assert m in lim.m and n in lim.n and p in lim.p
    assert source // m * n // p == recipe.sysclk_hz


def test_unreachable_clock_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no PLL setting"):
        hb.solve_pll(7_777_777, 200_000_000, hb.FAMILIES["stm32h7-qspi"].pll)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mcu": "STM32H7A3ZI"}, "no recipe for family"),
        ({"chip": "NOPE25Q"}, "unknown chip"),
        ({"bank": 3}, "bank must be"),
        ({"bank": 2}, "needs pins for bk2_ncs"),
        ({"pins": {**H7_BANK1, "bk1_io0": "PA0"}}, "no single AF"),
        ({"pins": {**H7_BANK1, "clk": "B2"}}, "not a port pin"),
    ],
)
def test_bad_board_descriptions_are_config_errors(change: dict[str, Any], message: str) -> None:
    board = {**VARIANTS["h7-w25q128-bank1"], **change}
    with pytest.raises(ConfigError, match=message):
        hb.loader_build(board)
