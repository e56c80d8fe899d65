"""Bad generator requests give one precise ConfigError saying what and where."""

from __future__ import annotations

import pytest

from extflash import gen
from extflash.errors import ConfigError, ExtflashError

H7_PINS = {"clk": "PB2", "ncs": "PB6", "io0": "PD11", "io1": "PD12", "io2": "PE2", "io3": "PD13"}


def _error(**kwargs: object) -> ConfigError:
    args = {"part": "STM32H743ZI", "chip": "W25Q128JV", "bank": 1, "pins": H7_PINS} | kwargs
    with pytest.raises(ConfigError) as info:
        gen.plan_loader(**args)  # type: ignore[arg-type]
    return info.value


def test_unknown_part() -> None:
    assert "unknown MCU part 'STM32H799ZI'" in str(_error(part="STM32H799ZI"))


def test_unknown_chip_suggests_close_names() -> None:
    err = _error(chip="W25Q128XX")
    assert "unknown flash chip 'W25Q128XX'" in err.message and "W25Q128JV" in str(err)


def test_pin_that_cannot_carry_the_signal_lists_those_that_can() -> None:
    err = _error(pins=H7_PINS | {"io0": "PA0"})
    assert "PA0 cannot carry QUADSPI BK1_IO0" in err.message
    assert err.hint is not None
    assert "PC9 (AF9)" in err.hint and "PD11 (AF9)" in err.hint and "PF8 (AF10)" in err.hint


def test_missing_signal() -> None:
    pins = {k: v for k, v in H7_PINS.items() if k != "io3"}
    assert "needs pins for bk1_io3" in _error(pins=pins).message


def test_bank2_on_a_part_without_it() -> None:
    pins = {"clk": "PE10", "bk2_ncs": "PE11", "bk2_io0": "PE12", "bk2_io1": "PE13",
            "bk2_io2": "PE14", "bk2_io3": "PE15"}
    err = _error(part="STM32L476VG", bank=2, pins=pins)
    assert "has no QUADSPI BK2_NCS" in err.message and "bank 2" in err.message


def test_bad_bank() -> None:
    assert "bank must be 1, 2 or \"dual\"" in _error(bank=3).message


def test_chip_too_big_for_the_window_in_dual_flash() -> None:
    pins = {"clk": "PB2", "bk1_ncs": "PB6", "bk1_io0": "PD11", "bk1_io1": "PD12",
            "bk1_io2": "PE2", "bk1_io3": "PD13", "bk2_io0": "PE7", "bk2_io1": "PE8",
            "bk2_io2": "PE9", "bk2_io3": "PE10"}
    err = _error(chip="W25Q02JV", bank="dual", pins=pins)
    assert "512 MiB" in err.message and "256 MiB QUADSPI window" in err.message


@pytest.mark.parametrize("hse", [1_000_000, 60_000_000])
def test_hse_out_of_range(hse: int) -> None:
    err = _error(hse_hz=hse)
    assert "outside the stm32h7-qspi oscillator range 4-48 MHz" in err.message


def test_hse_without_an_exact_pll_setting() -> None:
    err = _error(part="STM32F746NG", hse_hz=7_372_800)
    assert "no PLL setting reaches 180 MHz from HSE 7.3728 MHz" in err.message


def test_family_without_generator_support() -> None:
    err = _error(part="STM32G0B1RE")
    assert isinstance(err, ExtflashError) and err.exit_code == 2
    assert "STM32G0B1 has no QUADSPI, OCTOSPI or XSPI controller" in err.message
