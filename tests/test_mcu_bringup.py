"""What a HAL bring-up reads back on the OCTOSPI/XSPI families: clock trees (RCC), voltage
scaling (PWR), the H7R/S XSPIM port supply and I/O speed bits (PWR/SBS), and the RCC enables of
every memory controller and IO manager, written register by register as the HAL does."""

from __future__ import annotations

import pytest

from extflash import mcu
from extflash.emu.machine import Machine
from extflash.emu.regmodel import Peripheral


def write_fields(block: Peripheral, reg: str, **fields: int) -> None:
    """Read-modify-write of ``reg`` through the bus interface (what a loader's STR does)."""
    r = block.by_name[reg]
    value = block.read(r.offset, 4)
    for name, v in fields.items():
        f = next(f for f in r.fields if f.name == name)
        value = (value & ~f.mask) | (v << f.lsb) & f.mask
    block.write(r.offset, 4, value)


@pytest.mark.parametrize(("part", "hz"), [("STM32U585AI", 4_000_000), ("STM32L552ZE", 4_000_000),
                                          ("STM32L4R5ZI", 4_000_000), ("STM32H563ZI", 32_000_000),
                                          ("STM32H7S7L8", 64_000_000)])
def test_reset_clock_comes_from_the_tree(part: str, hz: int) -> None:
    m = Machine(mcu.find_part(part))
    assert m.rcc.tree is not None
    assert m.rcc.sysclk_hz() == hz == m.family.reset_clock_hz


def test_u5_pll1_from_msis_drives_sysclk_and_the_octospi_kernel() -> None:
    m = Machine(mcu.find_part("STM32U585AI"))
    rcc = m.rcc
    # MSIS 4 MHz / M 1 * N 80 = 320 MHz VCO; R /2 = 160 MHz SYSCLK, Q /4 = 80 MHz OCTOSPI.
    write_fields(rcc, "PLL1CFGR", PLL1SRC=1, PLL1M=0, PLL1REN=1, PLL1QEN=1)
    write_fields(rcc, "PLL1DIVR", PLL1N=79, PLL1R=1, PLL1Q=3)
    write_fields(rcc, "CR", PLL1ON=1)
    assert rcc.get_field("CR", "PLL1RDY") == 1
    write_fields(rcc, "CFGR1", SW=3)
    assert rcc.get_field("CFGR1", "SWS") == 3
    assert rcc.core_hz() == 160_000_000
    assert rcc.kernel_clock_hz("OCTOSPI1") == 160_000_000  # OCTOSPISEL reset: SYSCLK
    write_fields(rcc, "CCIPR2", OCTOSPISEL=2)
    assert rcc.kernel_clock_hz("OCTOSPI2") == 80_000_000
    pwr = m.pwr
    assert pwr is not None
    write_fields(pwr, "VOSR", VOS=3, BOOSTEN=1)  # HAL waits for VOSRDY and BOOSTRDY
    assert pwr.get_field("VOSR", "VOSRDY") == 1 == pwr.get_field("VOSR", "BOOSTRDY")
    assert pwr.get_field("SVMSR", "ACTVOS") == 3


def test_l4plus_and_l5_octospi_kernel_follows_ospisel() -> None:
    for part in ("STM32L4R5ZI", "STM32L552ZE"):
        rcc = Machine(mcu.find_part(part)).rcc
        # HSI16 / M 1 * N 20 = 320 MHz VCO; R /2 = 160 -> too fast for a real part, fine here.
        write_fields(rcc, "CR", HSION=1)
        write_fields(rcc, "PLLCFGR", PLLSRC=2, PLLM=1, PLLN=20, PLLR=0, PLLQ=1, PLLREN=1)
        write_fields(rcc, "CR", PLLON=1)
        write_fields(rcc, "CFGR", SW=3)
        assert rcc.get_field("CFGR", "SWS") == 3
        assert rcc.sysclk_hz() == 80_000_000  # 16 / 2 * 20 / 2
        write_fields(rcc, "CCIPR2", OSPISEL=2)  # PLL48M1CLK = VCO / 4
        assert rcc.kernel_clock_hz("OCTOSPI1") == 40_000_000


def test_h5_hsi_divider_pll_and_octospi_kernel() -> None:
    m = Machine(mcu.find_part("STM32H563ZI"))
    rcc = m.rcc
    write_fields(rcc, "CR", HSIDIV=0)  # 64 MHz
    assert rcc.sysclk_hz() == 64_000_000
    # HSI 64 / DIVM1 4 * N 31 = 496 MHz VCO; P /2 = 248 -> SYSCLK; Q /4 = 124 MHz kernel.
    write_fields(rcc, "PLL1CFGR", PLL1SRC=1, DIVM1=4, PLL1PEN=1, PLL1QEN=1)
    write_fields(rcc, "PLL1DIVR", PLL1N=30, PLL1P=1, PLL1Q=3)
    write_fields(rcc, "CR", PLL1ON=1)
    write_fields(rcc, "CFGR1", SW=3)
    assert rcc.get_field("CFGR1", "SWS") == 3 and rcc.core_hz() == 248_000_000
    write_fields(rcc, "CCIPR4", OCTOSPI1SEL=1)
    assert rcc.kernel_clock_hz("OCTOSPI1") == 124_000_000
    pwr = m.pwr
    assert pwr is not None
    write_fields(pwr, "VOSCR", VOS=3)
    assert pwr.get_field("VOSSR", "VOSRDY") == 1 and pwr.get_field("VOSSR", "ACTVOS") == 3


def test_h7rs_bring_up_xspi_kernel_supply_and_io_speed() -> None:
    m = Machine(mcu.find_part("STM32H7S7L8"), hse_hz=24_000_000)
    rcc, pwr, sbs = m.rcc, m.pwr, m.sbs
    assert pwr is not None and sbs is not None
    write_fields(rcc, "CR", HSEON=1)
    assert rcc.get_field("CR", "HSERDY") == 1
    # HSE 24 / 12 = 2 MHz; PLL1 * 300 = 600 MHz (P /1); PLL2 * 200 = 400 MHz, S /2 = 200 MHz.
    write_fields(rcc, "PLLCKSELR", PLLSRC=2, DIVM1=12, DIVM2=12)
    write_fields(rcc, "PLL1DIVR1", DIVN=299, DIVP=0)
    write_fields(rcc, "PLL2DIVR1", DIVN=199)
    write_fields(rcc, "PLL2DIVR2", DIVS=1)
    write_fields(rcc, "PLLCFGR", PLL1PEN=1, PLL2SEN=1)
    write_fields(rcc, "CR", PLL1ON=1, PLL2ON=1)
    write_fields(rcc, "BMCFGR", BMPRE=0b1000)
    write_fields(rcc, "CFGR", SW=3)
    assert rcc.get_field("CFGR", "SWS") == 3
    assert (rcc.core_hz(), rcc.hclk_hz()) == (600_000_000, 300_000_000)
    assert rcc.kernel_clock_hz("XSPI2") == 300_000_000  # XSPI2SEL reset: HCLK5
    write_fields(rcc, "CCIPR1", XSPI2SEL=1)
    assert rcc.kernel_clock_hz("XSPI2") == 200_000_000
    assert rcc.kernel_clock_hz("XSPI1") == 300_000_000
    # PWR: voltage scaling, then the XSPIM port 2 supply (HAL_PWREx_EnableXSPIM2).
    write_fields(pwr, "CSR4", VOS=1)
    assert pwr.get_field("CSR4", "VOSRDY") == 1 and pwr.get_field("SR1", "ACTVOS") == 1
    assert not pwr.xspim_supply(2)
    write_fields(pwr, "CSR2", EN_XSPIM2=1)
    assert pwr.xspim_supply(2) and not pwr.xspim_supply(1)
    # SBS: compensation cell ready once enabled; HSLV for port 2 (HAL_SBS_EnableIOSpeedOptimize).
    write_fields(sbs, "CCCSR", XSPI2_COMP_EN=1)
    assert sbs.get_field("CCCSR", "XSPI2_COMP_RDY") == 1
    assert not sbs.io_speed_optimised(2)
    write_fields(sbs, "CCCSR", XSPI2_IOHSLV=1)
    assert sbs.io_speed_optimised(2) and not sbs.io_speed_optimised(1)


def test_families_without_xspim_have_no_supply_switch() -> None:
    m = Machine(mcu.find_part("STM32H735IG"))
    assert m.pwr is not None and m.pwr.xspim_supply(1)
    assert m.sbs is None


@pytest.mark.parametrize("family_id", sorted(f.id for f in mcu.families().values()
                                              if f.controllers))
def test_every_controller_and_io_manager_has_an_rcc_enable(family_id: str) -> None:
    fam = mcu.family(family_id)
    m = Machine(mcu.PartRef(fam.parts[0], ""))
    names = [c.name for c in fam.controllers] + ([fam.io_manager.name] if fam.io_manager else [])
    for name in names:
        assert not m.rcc.is_enabled(name), f"{family_id}: {name} enabled at reset"
        stems = {f"{s}EN" for s in m.rcc.stems(name)}
        reg = next(r for r in m.rcc.regs.values() if r.name.rstrip("0123456789").endswith("ENR")
                   and not r.name.rstrip("0123456789").endswith(("LPENR", "SMENR"))
                   and any(f.name in stems for f in r.fields))
        field = next(f.name for f in reg.fields if f.name in stems)
        write_fields(m.rcc, reg.name, **{field: 1})
        assert m.rcc.is_enabled(name), f"{family_id}: {name} via {reg.name}.{field}"
