"""The MCU family data files load, agree with each other and resolve user part names."""

from __future__ import annotations

import itertools

import pytest

from extflash import mcu
from extflash.errors import ConfigError


def test_every_family_loads_with_consistent_memory() -> None:
    fams = mcu.families()
    assert {"stm32h7-qspi", "stm32f7", "stm32f4", "stm32l4", "stm32g4"} <= set(fams)
    for fam in fams.values():
        assert fam.region_at(fam.loader_ram_base + 4) is not None, fam.id
        for part in fam.parts:
            rams = sorted((m for m in part.memory if m.kind == "ram"), key=lambda m: m.start)
            for a, b in itertools.pairwise(rams):
                assert a.end <= b.start, f"{part.name}: {a.name} overlaps {b.name}"


def test_part_names_with_package_letters_resolve() -> None:
    ref = mcu.find_part("stm32h745xih6")
    assert ref.part.name == "STM32H745"
    assert ref.part.second_core == "cortex-m4"
    assert ref.family.loader_ram_base == 0x24000000


def test_unknown_part_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown MCU part 'STM32H799ZI'"):
        mcu.find_part("STM32H799ZI")
    with pytest.raises(ConfigError, match="not an STM32 part number"):
        mcu.find_part("ATSAMD21")


def test_pin_table_of_a_package() -> None:
    funcs = {(f.pin, f.signal): f.af for f in mcu.pin_functions(mcu.find_part("STM32H743ZIT6"))}
    assert funcs[("PB2", "QUADSPI_CLK")] == 9
    assert funcs[("PB6", "QUADSPI_BK1_NCS")] == 10
    assert funcs[("PG9", "QUADSPI_BK2_IO2")] == 9
    # LQFP144 has no PH2/PH3; bank 2 IO0 there is PE7 only.
    assert ("PH2", "QUADSPI_BK2_IO0") not in funcs
    assert funcs[("PE7", "QUADSPI_BK2_IO0")] == 10


def test_family_peripheral_lookup() -> None:
    fam = mcu.family("stm32h7-qspi")
    assert fam.peripheral_at(0x52005008) == "QUADSPI"
    assert fam.peripheral_at(0x580244D4) == "RCC"
    assert not mcu.family("stm32g0").has_dwt_cyccnt


def test_package_letter_without_order_code_selects_the_package() -> None:
    # Z = 144 pins: no PH2 (bank 2 IO0 only on PE7); X = 240 pins has PH2.
    lqfp144 = {(f.pin, f.signal) for f in mcu.pin_functions(mcu.find_part("STM32H743ZI"))}
    assert ("PH2", "QUADSPI_BK2_IO0") not in lqfp144
    assert ("PE7", "QUADSPI_BK2_IO0") in lqfp144
    bga240 = {(f.pin, f.signal) for f in mcu.pin_functions(mcu.find_part("STM32H743XI"))}
    assert ("PH2", "QUADSPI_BK2_IO0") in bga240


def test_unknown_part_suggests_close_names_of_its_series() -> None:
    with pytest.raises(ConfigError) as exc:
        mcu.find_part("STM32H734ZI")
    assert exc.value.hint is not None
    assert exc.value.hint.startswith("did you mean STM32H743")


def test_l43x_l45x_quadspi_parts() -> None:
    l432 = mcu.find_part("STM32L432KC")
    assert l432.family.id == "stm32l4"
    assert l432.part.ram_at(0x2000C000) is not None  # SRAM2 alias right after 48 KiB SRAM1
    funcs = {(f.pin, f.signal): f.af for f in mcu.pin_functions(l432)}
    assert funcs[("PA3", "QUADSPI_CLK")] == 10
    assert funcs[("PB1", "QUADSPI_BK1_IO0")] == 10
    l452 = mcu.find_part("STM32L452VE")
    assert {f.signal for f in mcu.pin_functions(l452)} >= {"QUADSPI_BK2_NCS", "QUADSPI_BK2_IO3"}
    for name in ("STM32L431", "STM32L433", "STM32L443", "STM32L451", "STM32L462"):
        assert mcu.find_part(name).family.id == "stm32l4"


def test_l4s_parts_share_the_l4r_pin_tables() -> None:
    l4s5 = {(f.pin, f.signal) for f in mcu.pin_functions(mcu.find_part("STM32L4S5ZI"))}
    l4r5 = {(f.pin, f.signal) for f in mcu.pin_functions(mcu.find_part("STM32L4R5ZI"))}
    assert l4s5 == l4r5 and ("PE10", "OCTOSPIM_P1_CLK") in l4s5
    assert mcu.find_part("STM32L4R7").family.id == "stm32l4plus"


def test_h7ab_and_u5ax_memory_maps() -> None:
    h7b3 = mcu.find_part("STM32H7B3ZI").part
    assert h7b3.ram_at(0x240F0000) is not None and h7b3.ram_at(0x30010000) is not None
    assert mcu.find_part("STM32H735IG").part.ram_at(0x240F0000) is None
    assert mcu.find_part("STM32U5A5ZJ").part.ram_at(0x20200000) is not None
