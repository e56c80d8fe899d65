"""Board descriptions: shipped files validate, bad wiring gives one precise error."""

from __future__ import annotations

import pytest

from extflash import board
from extflash.errors import ConfigError

H7_PINS = "PB2,PB6,PD11,PD12,PE2,PD13"


@pytest.mark.parametrize("name", board.list_boards())
def test_every_shipped_board_validates(name):
    b = board.load(name)
    assert b.source and b.memories
    for mem in b.memories:
        needed = board.REQUIRED[mem.bank] if mem.controller == "QUADSPI" else board.OCTAL_REQUIRED
        assert {w.signal for w in mem.wires} >= set(needed)


def test_shipped_boards_cover_the_brief():
    names = {board.load(n).name for n in board.list_boards()}
    assert {"STM32H743I-EVAL", "STM32H750B-DK", "STM32H747I-DISCO", "STM32F746G-DISCO",
            "STM32F769I-DISCO", "STM32L476G-DISCO", "B-L475E-IOT01A",
            # ST's OCTOSPI/XSPI kits and an H7R7 board
            "STM32H7B3I-DK", "STM32H735G-DK", "B-U585I-IOT02A", "STM32L4R9I-DISCO",
            "STM32L562E-DK", "STM32H573I-DK", "STM32H7S78-DK", "NUCLEO-H7S3L8", "ART-Pi2"} <= names


def test_from_options_positional_and_named_give_the_same_wiring():
    a = board.from_options(mcu="STM32H743ZI", chip="W25Q128JV", pins=H7_PINS, hse="25MHz")
    b = board.from_options(mcu="STM32H743ZI", chip="w25q128jvsiq",
                           pins="clk=PB2,ncs=PB6,io0=PD11,io1=PD12,io2=PE2,io3=PD13")
    assert a.memory().wires == b.memory().wires
    assert a.hse_hz == 25_000_000 and a.memory().chip == "W25Q128JV"
    assert a.memory().wire("bk1_ncs").af == 10  # type: ignore[union-attr]


def test_dual_flash_positional_with_shared_ncs():
    b = board.from_options(mcu="STM32H743XI", chip="MT25TL01G", bank="dual",
                           pins="PB2,PG6,PF8,PF9,PF7,PF6,PH2,PH3,PG9,PG14")
    mem = b.memory()
    assert mem.banks == (1, 2) and mem.ncs_wire(2).pin == "PG6"


def test_pin_that_cannot_carry_the_signal_lists_the_ones_that_can():
    with pytest.raises(ConfigError) as exc:
        board.from_options(mcu="STM32H743ZI", chip="W25Q128JV", pins="PB2,PB6,PD12,PD11,PE2,PD13")
    text = str(exc.value)
    assert "PD12 cannot carry QUADSPI BK1_IO0" in text
    assert "PC9 (AF9), PD11 (AF9), PF8 (AF10)" in text


def test_unknown_pin_and_duplicates_and_counts():
    with pytest.raises(ConfigError, match="'PZ2' is not a GPIO pin"):
        board.from_options(mcu="STM32H743ZI", chip="W25Q128JV", pins="PZ2,PB6,PD11,PD12,PE2,PD13")
    with pytest.raises(ConfigError, match="PD11 is given for both"):
        board.from_options(mcu="STM32H743ZI", chip="W25Q128JV",
                           pins="clk=PB2,ncs=PB6,io0=PD11,io1=PD11,io2=PE2,io3=PD13")
    with pytest.raises(ConfigError, match="expected 6 pins"):
        board.from_options(mcu="STM32H743ZI", chip="W25Q128JV", pins="PB2,PB6")


def test_bank2_on_a_package_without_it():
    # The L476 QUADSPI has a single bank: no BK2 signal exists at all
    with pytest.raises(ConfigError, match=r"has no QUADSPI BK2_NCS \(bank 2"):
        board.from_options(mcu="STM32L476VG", chip="N25Q128A", bank=2,
                           pins="PE10,PE11,PE12,PE13,PE14,PE15")


def test_unknown_board_and_chip():
    with pytest.raises(ConfigError, match="unknown board"):
        board.load("NO-SUCH-BOARD")
    with pytest.raises(ConfigError, match="unknown flash chip"):
        board.from_options(mcu="STM32H743ZI", chip="XYZ123", pins=H7_PINS)


def test_board_file_from_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\nmcu = "STM32F746NG"\n[[memory]]\nchip = "N25Q128A"\n'
                    '[memory.pins]\nclk = "PB2"\nbk1_ncs = "PB6"\nbk1_io0 = "PD11"\n'
                    'bk1_io1 = "PD12"\nbk1_io2 = "PE2"\n')
    with pytest.raises(ConfigError, match=r"mine.toml memory\[0\]: bank=1 needs pins for bk1_io3"):
        board.load(path)
