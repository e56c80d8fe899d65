"""Register models against reference-manual facts: offsets, reset values, semantics."""

from __future__ import annotations

import pytest

from extflash import mcu
from extflash.emu.machine import Machine


def word(m: Machine, address: int) -> int:
    return int.from_bytes(m.mem_read(address, 4), "little")


def put(m: Machine, address: int, value: int) -> None:
    m.mem_write(address, value.to_bytes(4, "little"))


@pytest.fixture(scope="module")
def h7() -> Machine:
    return Machine(mcu.find_part("STM32H743ZI"))


@pytest.mark.parametrize(("part", "cpuid"), [("STM32H743ZI", 0x411FC272),
                                             ("STM32F446RE", 0x410FC241),
                                             ("STM32G474RE", 0x410FC241)])
def test_cpuid_per_core(part, cpuid):
    assert word(Machine(mcu.find_part(part)), 0xE000ED00) == cpuid


def test_reset_values_from_the_reference_manuals(h7):
    assert word(h7, 0x58020000) == 0  # GPIO reads 0 while its clock is off
    put(h7, 0x580244E0, 0b111)  # RCC_AHB4ENR: GPIOA..C
    assert word(h7, 0x58020000) == 0xABFFFFFF  # GPIOA_MODER (RM0433: debug pins in AF)
    assert word(h7, 0x58020400) == 0xFFFFFEBF  # GPIOB_MODER
    assert word(h7, 0x58020800) == 0xFFFFFFFF  # GPIOC_MODER
    assert word(h7, 0x58024428) == 0x02020200  # RCC_PLLCKSELR: DIVMx = 32
    assert word(h7, 0x58024430) == 0x01010280  # RCC_PLL1DIVR
    assert word(h7, 0xE000ED0C) == 0xFA050000  # AIRCR reads VECTKEYSTAT
    f4 = Machine(mcu.find_part("STM32F446RE"))
    put(f4, 0x40023830, 1)  # RCC_AHB1ENR.GPIOAEN
    assert word(f4, 0x40020000) == 0xA8000000  # GPIOA_MODER (RM0390)
    assert word(f4, 0x40023804) == 0x24003010  # RCC_PLLCFGR


def test_h7_enable_register_offsets(h7):
    assert h7.rcc.by_name["AHB3ENR"].offset == 0xD4
    assert h7.rcc.by_name["AHB4ENR"].offset == 0xE0
    assert h7.rcc.by_name["C1_AHB3ENR"].offset == 0x134
    assert h7.rcc.by_name["D1CCIPR"].offset == 0x4C


def test_rcc_ready_flags_and_switch():
    m = Machine(mcu.find_part("STM32H743ZI"))
    put(m, 0x58024400, word(m, 0x58024400) | 1 << 16)  # HSEON
    assert word(m, 0x58024400) & (1 << 17)  # HSERDY
    put(m, 0x58024410, 3)  # SW = PLL1, but PLL1 is off: the switch does not happen
    assert (word(m, 0x58024410) >> 3) & 7 == 0
    put(m, 0x58024410, 2)  # SW = HSE
    assert (word(m, 0x58024410) >> 3) & 7 == 2
    assert m.rcc.core_hz() == 25_000_000 and m.clock.core_hz == 25_000_000


def test_aircr_needs_vectkey(h7):
    put(h7, 0xE000ED0C, 0x00000300)  # PRIGROUP without key: ignored
    assert word(h7, 0xE000ED0C) & 0x700 == 0
    put(h7, 0xE000ED0C, 0x05FA0300)
    assert word(h7, 0xE000ED0C) == 0xFA050300


def test_gpio_bsrr_and_lock_sequence():
    m = Machine(mcu.find_part("STM32H743ZI"))
    put(m, 0x580244E0, 1 << 1)  # GPIOBEN
    gpiob = 0x58020400
    put(m, gpiob + 0x18, (1 << 3) | (1 << 5))  # BSRR set 3, 5
    put(m, gpiob + 0x18, (1 << (16 + 5)) | (1 << 7))  # reset 5, set 7
    assert word(m, gpiob + 0x14) == (1 << 3) | (1 << 7)
    assert word(m, gpiob + 0x18) == 0  # write-only
    put(m, gpiob + 0x00, 0xFFFFFFDF)  # PB2 output
    assert m.gpio.pin("PB2").mode == "output"
    for value in (0x10004, 0x00004, 0x10004):  # lock PB2
        put(m, gpiob + 0x1C, value)
    word(m, gpiob + 0x1C)
    assert word(m, gpiob + 0x1C) & 0x10000 and m.gpio.pin("PB2").locked
    put(m, gpiob + 0x00, 0xFFFFFFFF)  # PB2 stays output; PB3 may change
    assert m.gpio.pin("PB2").mode == "output" and m.gpio.pin("PB3").mode == "analog"


def test_cortex_m0plus_has_no_cycle_counter():
    m = Machine(mcu.find_part("STM32G0B1"))
    put(m, 0xE000EDFC, 1 << 24)
    put(m, 0xE0001000, 1)
    m.clock.advance_cycles(1000)
    assert word(m, 0xE0001004) == 0


def test_flash_size_register_and_window_naming(h7):
    assert int.from_bytes(h7.mem_read(0x1FF1E880, 2), "little") == 2048  # KiB
    assert h7.describe_address(0x90001000) == "QUADSPI memory-mapped window"
    assert h7.describe_address(0x52005010) == "QUADSPI"
