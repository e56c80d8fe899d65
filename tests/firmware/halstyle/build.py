"""Build recipes for the HAL-style reference loader in this folder.

:func:`loader_build` turns a board description into the sources, linker script and flags to
hand to the ``build_elf`` test fixture::

    b = loader_build({"mcu": "STM32H743ZI", "chip": "W25Q128JV", "bank": 1,
                      "pins": {"clk": "PB2", "bk1_ncs": "PB6", "bk1_io0": "PD11", ...}})
    elf = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                    cpu=b.cpu)

The board dict follows the shape of extflash's board files: ``mcu`` (or ``family`` with the
family id from ``extflash/data/families``), ``hse_hz`` (0 = run from HSI), ``bank`` (1, 2 or
``"dual"``), ``pins`` (signal -> ``"PB2"`` or ``("PB2", af)``; the AF is looked up in the MCU's
pin table when omitted) and ``chip`` (a name from :data:`CHIPS` or a :class:`ChipFacts`).
Optional: ``hse_bypass`` (HSE is an external clock, e.g. an ST-LINK's MCO), ``supply``
(``"ldo"``/``"smps"``, H7 only; dual-core parts default to SMPS) and ``max_qspi_hz``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extflash.errors import ConfigError
from extflash.mcu import find_part, pin_functions

HERE = Path(__file__).parent
SOURCES = ("hal_tick.c", "hal_rcc.c", "hal_gpio.c", "hal_qspi.c", "nor.c", "loader.c",
           "libc_min.c")
MHZ = 1_000_000


@dataclass(frozen=True)
class PllLimits:
    """Input divider, reference, VCO and multiplier ranges of a family's main PLL."""

    m: range
    ref_hz: tuple[int, int]
    vco_hz: tuple[int, int]
    n: range
    p: tuple[int, ...]  # dividers allowed on the output that drives SYSCLK


@dataclass(frozen=True)
class FamilyRecipe:
    flag: str  # HS_FAMILY_<flag>
    cpu: str
    fpu: str
    clock_source: str
    linker_script: str
    hsi_hz: int
    sysclk_hz: int  # also the QUADSPI kernel clock: every recipe runs AHB at SYSCLK
    pll: PllLimits


# PLL limits from RM0433 (H7), RM0410/RM0385 (F7), RM0390/RM0402 (F4), RM0351 (L4) and
# RM0440 (G4); SYSCLK targets need no overdrive/boost beyond what clock_<family>.c sets up.
FAMILIES: dict[str, FamilyRecipe] = {
    "stm32h7-qspi": FamilyRecipe(
        "H7", "cortex-m7", "fpv5-d16", "clock_h7.c", "ld/h7.ld", 64 * MHZ, 200 * MHZ,
        PllLimits(range(1, 64), (2 * MHZ, 16 * MHZ), (192 * MHZ, 836 * MHZ), range(4, 513),
                  (2, 4, 6, 8))),
    "stm32f7": FamilyRecipe(
        "F7", "cortex-m7", "fpv5-sp-d16", "clock_f4f7.c", "ld/f7.ld", 16 * MHZ, 216 * MHZ,
        PllLimits(range(2, 64), (1 * MHZ, 2 * MHZ), (100 * MHZ, 432 * MHZ), range(50, 433),
                  (2, 4, 6, 8))),
    "stm32f4": FamilyRecipe(
        "F4", "cortex-m4", "fpv4-sp-d16", "clock_f4f7.c", "ld/f4.ld", 16 * MHZ, 100 * MHZ,
        PllLimits(range(2, 64), (1 * MHZ, 2 * MHZ), (100 * MHZ, 432 * MHZ), range(50, 433),
                  (2, 4, 6, 8))),
    "stm32l4": FamilyRecipe(
        "L4", "cortex-m4", "fpv4-sp-d16", "clock_l4g4.c", "ld/l4.ld", 16 * MHZ, 80 * MHZ,
        PllLimits(range(1, 9), (4 * MHZ, 16 * MHZ), (64 * MHZ, 344 * MHZ), range(8, 87),
                  (2, 4, 6, 8))),
    "stm32g4": FamilyRecipe(
        "G4", "cortex-m4", "fpv4-sp-d16", "clock_l4g4.c", "ld/g4.ld", 16 * MHZ, 150 * MHZ,
        PllLimits(range(1, 17), (2_660_000, 16 * MHZ), (96 * MHZ, 344 * MHZ), range(8, 128),
                  (2, 4, 6, 8))),
}

QE_METHODS = {"none": "HS_QE_NONE", "sr1-bit6": "HS_QE_SR1_BIT6",
              "sr2-bit1-31": "HS_QE_SR2_BIT1_31", "sr2-bit1-01": "HS_QE_SR2_BIT1_01"}


@dataclass(frozen=True)
class ChipFacts:
    """What the loader needs to know about one SPI NOR part (per chip, not per bank pair)."""

    name: str
    jedec_id: int  # manufacturer, memory type, capacity: 0xEF4018
    size: int
    qe: str  # a key of QE_METHODS
    protect_mask: int  # SR1 block-protect bits to clear
    read: tuple[int, str, int, int]  # opcode, protocol "1-4-4", mode clocks, dummy clocks
    program: tuple[int, str]  # opcode, protocol "1-1-4"
    max_read_hz: int
    page_size: int = 256
    sector: tuple[int, int] = (0xD8, 0x10000)  # erase opcode, size
    chip_erase_opcode: int = 0xC7
    # maximum times (ms) from the datasheets, used as the loader's timeouts
    program_ms: int = 5
    sector_erase_ms: int = 2000
    chip_erase_ms: int = 200_000
    wrsr_ms: int = 40

    @property
    def addr_bytes(self) -> int:
        return 4 if self.size > 16 << 20 else 3


# Facts from the datasheets as summarised in the project's peripherals.md §7.
CHIPS: dict[str, ChipFacts] = {c.name: c for c in (
    ChipFacts("W25Q128JV", 0xEF4018, 16 << 20, "sr2-bit1-31", 0x7C, (0xEB, "1-4-4", 2, 4),
              (0x32, "1-1-4"), 133 * MHZ, program_ms=3, chip_erase_ms=200_000, wrsr_ms=15),
    ChipFacts("W25Q256JV", 0xEF4019, 32 << 20, "sr2-bit1-31", 0x7C, (0xEB, "1-4-4", 2, 4),
              (0x32, "1-1-4"), 133 * MHZ, program_ms=3, chip_erase_ms=400_000, wrsr_ms=15),
    ChipFacts("MX25L12835F", 0xC22018, 16 << 20, "sr1-bit6", 0x3C, (0xEB, "1-4-4", 2, 4),
              (0x38, "1-4-4"), 104 * MHZ, program_ms=3, chip_erase_ms=150_000),
    ChipFacts("MX25L51245G", 0xC2201A, 64 << 20, "sr1-bit6", 0x3C, (0xEB, "1-4-4", 2, 4),
              (0x38, "1-4-4"), 104 * MHZ, program_ms=3, chip_erase_ms=300_000),
    ChipFacts("MT25QL128", 0x20BA18, 16 << 20, "none", 0x7C, (0xEB, "1-4-4", 0, 10),
              (0x32, "1-1-4"), 108 * MHZ, program_ms=2, chip_erase_ms=120_000, wrsr_ms=8),
    ChipFacts("MT25QL512", 0x20BA20, 64 << 20, "none", 0x7C, (0xEB, "1-4-4", 0, 10),
              (0x32, "1-1-4"), 108 * MHZ, program_ms=2, chip_erase_ms=460_000, wrsr_ms=8),
)}

BANKS = {1: 1, 2: 2, "dual": 3}
SIGNALS_BY_BANK: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # (required, optional) signals
    1: (("clk", "bk1_ncs", "bk1_io0", "bk1_io1", "bk1_io2", "bk1_io3"), ()),
    2: (("clk", "bk2_ncs", "bk2_io0", "bk2_io1", "bk2_io2", "bk2_io3"), ()),
    # dual flash: boards may tie both chips to BK1_NCS
    3: (("clk", "bk1_ncs", "bk1_io0", "bk1_io1", "bk1_io2", "bk1_io3",
         "bk2_io0", "bk2_io1", "bk2_io2", "bk2_io3"), ("bk2_ncs",)),
}
_PIN_RE = re.compile(r"^P([A-K])(\d{1,2})$")


@dataclass(frozen=True)
class LoaderBuild:
    """Arguments for the ``build_elf`` fixture (paths relative to tests/firmware)."""

    name: str
    sources: tuple[str, ...]
    linker_script: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    cpu: str
    family: str
    chip: ChipFacts
    chips: int  # 1, or 2 in dual-flash mode
    ram_base: int  # where the host puts its BKPT; the image starts 4 bytes above

    @property
    def device_size(self) -> int:
        return self.chip.size * self.chips


def solve_pll(source_hz: int, target_hz: int, limits: PllLimits) -> tuple[int, int, int]:
    """Integer (M, N, P) with source / M * N / P == target, preferring the highest reference."""
    for m in limits.m:
        ref, rem = divmod(source_hz, m)
        if rem or not limits.ref_hz[0] <= ref <= limits.ref_hz[1]:
            continue
        for p in limits.p:
            n, rem = divmod(target_hz * p, ref)
            if not rem and n in limits.n and limits.vco_hz[0] <= ref * n <= limits.vco_hz[1]:
                return m, n, p
    raise ConfigError(f"no PLL setting makes {target_hz} Hz from a {source_hz} Hz oscillator")


def _h7_input_range(ref_hz: int) -> int:
    """PLL1RGE: 0 = 1-2 MHz, 1 = 2-4 MHz, 2 = 4-8 MHz, 3 = 8-16 MHz."""
    return next(i for i, top in enumerate((2, 4, 8, 16)) if ref_hz <= top * MHZ)


def _pin_af(board: Mapping[str, Any], signal: str, value: Any) -> tuple[str, int, int]:
    if isinstance(value, str):
        pin, af = value.upper(), None
    else:
        pin, af = str(value[0]).upper(), int(value[1])
    m = _PIN_RE.match(pin)
    if not m:
        raise ConfigError(f"pin '{pin}' for {signal} is not a port pin like PB2")
    if af is None:
        if "mcu" not in board:
            raise ConfigError(f"pin {pin} for {signal} has no AF and the board names no mcu")
        # Pin tables spell the signal QUADSPI_BK1_NCS, QUADSPI_NCS (single-bank parts) or
        # QUADSPI1_BK1_NCS (G4)
        tail = signal.upper()
        tails = {tail, tail.removeprefix("BK1_")}
        wanted = {f"{ip}_{t}" for ip in ("QUADSPI", "QUADSPI1") for t in tails}
        afs = {f.af for f in pin_functions(find_part(board["mcu"])) if f.pin == pin
               and f.signal in wanted}
        if len(afs) != 1:
            raise ConfigError(f"{board['mcu']} has no single AF putting QUADSPI {tail} on {pin}")
        af = afs.pop()
    return m.group(1), int(m.group(2)), af


def _family_id(board: Mapping[str, Any]) -> tuple[str, bool]:
    """Family id and whether the part is dual-core."""
    if "mcu" in board:
        ref = find_part(board["mcu"])
        return ref.family.id, ref.part.is_dual_core
    return str(board["family"]), bool(board.get("dual_core", False))


def _chip(board: Mapping[str, Any]) -> ChipFacts:
    chip = board["chip"]
    if isinstance(chip, ChipFacts):
        return chip
    try:
        return CHIPS[str(chip).upper()]
    except KeyError:
        raise ConfigError(f"unknown chip '{chip}' (known: {', '.join(CHIPS)})") from None


def _define(name: str, value: object) -> str:
    return f"-D{name}={value}"


def loader_build(board: Mapping[str, Any], name: str | None = None) -> LoaderBuild:
    family_id, dual_core = _family_id(board)
    recipe = FAMILIES.get(family_id)
    if recipe is None:
        raise ConfigError(f"the HAL-style loader has no recipe for family '{family_id}'",
                          hint=f"supported: {', '.join(FAMILIES)}")
    chip = _chip(board)
    bank = BANKS.get(board.get("bank", 1))
    if bank is None:
        raise ConfigError(f"bank must be 1, 2 or 'dual', not {board.get('bank')!r}")
    chips = 2 if bank == 3 else 1

    pins = board["pins"]
    required, optional = SIGNALS_BY_BANK[bank]
    missing = [s for s in required if s not in pins]
    if missing:
        raise ConfigError(f"bank {board.get('bank', 1)} needs pins for {', '.join(missing)}")
    pin_macros = [
        "HS_PIN({},{},{})".format(*_pin_af(board, s, pins[s]))
        for s in (*required, *optional) if s in pins
    ]

    hse_hz = int(board.get("hse_hz", 0))
    m, n, p = solve_pll(hse_hz or recipe.hsi_hz, recipe.sysclk_hz, recipe.pll)
    ref_hz = (hse_hz or recipe.hsi_hz) // m
    max_qspi_hz = min(int(board.get("max_qspi_hz", 80 * MHZ)), chip.max_read_hz)
    prescaler = max(0, -(-recipe.sysclk_hz // max_qspi_hz) - 1)
    total = chip.size * chips
    if total & (total - 1):
        raise ConfigError(f"{chip.name}: size {total:#x} is not a power of two")
    supply = board.get("supply", "smps" if dual_core else "ldo")

    bank_tag = {1: "bank1", 2: "bank2", 3: "dual"}[bank]
    name = name or f"halstyle-{recipe.flag}-{chip.name}-{bank_tag}"
    read_op, read_proto, mode_clocks, dummy_clocks = chip.read
    _, read_addr_lines, read_data_lines = (int(x) for x in read_proto.split("-"))
    prog_op, prog_proto = chip.program
    _, prog_addr_lines, prog_data_lines = (int(x) for x in prog_proto.split("-"))
    cflags = [
        f"-mfpu={recipe.fpu}", "-mfloat-abi=hard",
        "-ffreestanding", "-fno-tree-loop-distribute-patterns",
        f"-DHS_FAMILY_{recipe.flag}",
        _define("HS_HSE_HZ", f"{hse_hz}u"),
        _define("HS_HSE_BYPASS", int(bool(board.get("hse_bypass", False)))),
        _define("HS_SYSCLK_HZ", f"{recipe.sysclk_hz}u"),
        _define("HS_PLL_M", f"{m}u"), _define("HS_PLL_N", f"{n}u"), _define("HS_PLL_P", f"{p}u"),
        _define("HS_PLL_RGE", f"{_h7_input_range(ref_hz)}u"),
        _define("HS_H7_SMPS", 1 if supply == "smps" else 0),
        _define("HS_QSPI_BANK", bank),
        _define("HS_QSPI_PRESCALER", f"{prescaler}u"),
        _define("HS_QSPI_FSIZE", f"{total.bit_length() - 2}u"),
        _define("HS_QSPI_PINS", ",".join(pin_macros)),
        _define("HS_DEVICE_NAME", f'"{name}"'),
        _define("HS_CHIP_JEDEC_ID", f"{chip.jedec_id:#08x}u"),
        _define("HS_CHIP_SIZE", f"{chip.size:#x}u"),
        _define("HS_CHIP_PAGE_SIZE", f"{chip.page_size}u"),
        _define("HS_CHIP_SECTOR_SIZE", f"{chip.sector[1]:#x}u"),
        _define("HS_CHIP_SECTOR_ERASE_OPCODE", f"{chip.sector[0]:#04x}u"),
        _define("HS_CHIP_SECTOR_ERASE_MS", f"{chip.sector_erase_ms}u"),
        _define("HS_CHIP_MASS_ERASE_OPCODE", f"{chip.chip_erase_opcode:#04x}u"),
        _define("HS_CHIP_MASS_ERASE_MS", f"{chip.chip_erase_ms}u"),
        _define("HS_CHIP_PROGRAM_OPCODE", f"{prog_op:#04x}u"),
        _define("HS_CHIP_PROGRAM_ADDR_LINES", prog_addr_lines),
        _define("HS_CHIP_PROGRAM_DATA_LINES", prog_data_lines),
        _define("HS_CHIP_PROGRAM_MS", f"{chip.program_ms}u"),
        _define("HS_CHIP_READ_OPCODE", f"{read_op:#04x}u"),
        _define("HS_CHIP_READ_ADDR_LINES", read_addr_lines),
        _define("HS_CHIP_READ_DATA_LINES", read_data_lines),
        _define("HS_CHIP_READ_MODE_CLOCKS", mode_clocks),
        _define("HS_CHIP_READ_DUMMY_CLOCKS", dummy_clocks),
        _define("HS_CHIP_QE", QE_METHODS[chip.qe]),
        _define("HS_CHIP_PROTECT_MASK", f"{chip.protect_mask:#04x}u"),
        _define("HS_CHIP_ADDR_BYTES", chip.addr_bytes),
        _define("HS_CHIP_WRSR_MS", f"{chip.wrsr_ms}u"),
    ]
    sources: Sequence[str] = [f"halstyle/{s}" for s in (*SOURCES, recipe.clock_source)]
    ram_base = 0x24000000 if family_id == "stm32h7-qspi" else 0x20000000
    return LoaderBuild(
        name=name, sources=tuple(sources), linker_script=f"halstyle/{recipe.linker_script}",
        cflags=tuple(cflags), ldflags=(f"-L{HERE / 'ld'}",), cpu=recipe.cpu,
        family=family_id, chip=chip, chips=chips, ram_base=ram_base,
    )
