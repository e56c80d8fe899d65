"""Boards with memories on OCTOSPI/XSPI: port-relative signals, the port and controller from the
pins, swaps, several memories, and inline pin lists (the pins decide the QUADSPI bank too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from extflash import board
from extflash.errors import ConfigError

H7S78_DK_NOR = ("clk=PN6,ncs=PN1,io0=PN2,io1=PN3,io2=PN4,io3=PN5,io4=PN8,io5=PN9,io6=PN10,"
                "io7=PN11,dqs=PN0")


def test_inline_octal_pins_pick_xspim_port_2_and_its_reset_controller() -> None:
    b = board.from_options(mcu="STM32H7S7L8", chip="W25Q128JV", pins=H7S78_DK_NOR)
    m = b.memories[0]
    assert (m.controller, m.port) == ("XSPI2", 2)
    assert m.pin("dqs") == "PN0" and m.pin("io7") == "PN11"
    assert m.wire("clk") == board.Wire("clk", "PN6", 9)
    assert b.notes == ()


def test_positional_octal_forms() -> None:
    quad = board.from_options(mcu="STM32H7S7L8", chip="W25Q128JV", pins="PN6,PN1,PN2,PN3,PN4,PN5")
    assert [w.signal for w in quad.memories[0].wires] == ["clk", "ncs", "io0", "io1", "io2", "io3"]
    octal = board.from_options(mcu="STM32H7S7L8", chip="W25Q128JV",
                               pins="PN6,PN1,PN2,PN3,PN4,PN5,PN8,PN9,PN10,PN11,PN0")
    assert octal.memories[0].pin("dqs") == "PN0"


def test_octospim_ports_on_h735() -> None:
    p1 = board.from_options(mcu="STM32H735IG", chip="W25Q128JV", pins="PF10,PG6,PD11,PD12,PE2,PD13")
    assert (p1.memories[0].controller, p1.memories[0].port) == ("OCTOSPI1", 1)
    p2 = board.from_options(mcu="STM32H735IG", chip="W25Q128JV", pins="PF4,PG12,PF0,PF1,PF2,PF3")
    assert (p2.memories[0].controller, p2.memories[0].port) == ("OCTOSPI2", 2)


def test_wrong_octal_pin_names_the_port_and_the_pins_that_can() -> None:
    with pytest.raises(ConfigError) as exc:
        board.from_options(mcu="STM32H7S7L8", chip="W25Q128JV", pins="PN6,PN1,PN2,PN3,PN4,PN7")
    assert exc.value.message == "--pins: PN7 cannot carry XSPIM port 2 IO3 on STM32H7S7L8"
    assert exc.value.hint == "pins that can: PN5 (AF9)"
    with pytest.raises(ConfigError, match=r"all of io4\.\.io7"):
        board.from_options(mcu="STM32H7S7L8", chip="W25Q128JV",
                           pins="clk=PN6,ncs=PN1,io0=PN2,io1=PN3,io2=PN4,io3=PN5,io4=PN8")


def test_board_file_with_two_memories_and_a_swap() -> None:
    text = """
name = "two-port"
mcu = "STM32H735IGK6"
[[memory]]
chip = "W25Q128JV"
[memory.pins]
clk = "PF10"
ncs = "PG6"
io0 = "PD11"
io1 = "PD12"
io2 = "PE2"
io3 = "PD13"
[[memory]]
chip = "W25Q64JV"
controller = "OCTOSPI1"
[memory.pins]
clk = "PF4"
ncs = "PG12"
io0 = "PF0"
io1 = "PF1"
io2 = "PF2"
io3 = "PF3"
"""
    b = board.parse(text)
    first, second = b.memories
    assert (first.controller, first.port) == ("OCTOSPI1", 1)
    assert (second.controller, second.port) == ("OCTOSPI1", 2)
    assert b.memory_on_port(2) is second
    assert b.notes == ("OCTOSPIM port 2 driven by OCTOSPI1 (swapped; at reset it is OCTOSPI2)",)


def test_quadspi_pins_decide_the_bank_and_the_order() -> None:
    bank2 = board.from_options(mcu="STM32H743ZI", chip="W25Q128JV",
                               pins="PB2,PC11,PE7,PE8,PE9,PE10")
    assert bank2.memories[0].bank == 2
    assert bank2.notes == ("the pins fit QUADSPI bank 2 (BK2_NCS, BK2_IO0..IO3): using bank 2",)
    st_order = board.from_options(mcu="STM32H743ZI", chip="W25Q128JV",
                                  pins="PB2,PD11,PD12,PE2,PD13,PB6")
    assert st_order.memories[0].pin("bk1_ncs") == "PB6"
    assert st_order.notes == ("pins read in the order CLK,IO0..IO3,NCS",)
    plain = board.from_options(mcu="STM32H743ZI", chip="W25Q128JV",
                               pins="PB2,PB6,PD11,PD12,PE2,PD13")
    assert plain.memories[0].bank == 1 and plain.notes == ()


def test_bank_option_overrides_the_inference() -> None:
    with pytest.raises(ConfigError, match="PC11 cannot carry QUADSPI BK1_NCS"):
        board.from_options(mcu="STM32H743ZI", chip="W25Q128JV", bank=1,
                           pins="PB2,PC11,PE7,PE8,PE9,PE10")


def test_package_letter_rejects_ph2_on_lqfp144() -> None:
    with pytest.raises(ConfigError, match="PH2 cannot carry QUADSPI BK2_IO0 on STM32H743ZI"):
        board.from_options(mcu="STM32H743ZI", chip="W25Q128JV", bank=2,
                           pins="PB2,PC11,PH2,PE8,PE9,PE10")


def test_l4_quadspi_on_the_l432() -> None:
    b = board.from_options(mcu="STM32L432KC", chip="W25Q128JV", pins="PA3,PA2,PB1,PB0,PA7,PA6")
    assert b.memories[0].wire("bk1_ncs") == board.Wire("bk1_ncs", "PA2", 10)


def test_cli_shows_how_the_pins_were_understood(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from extflash.cli import main

    not_a_loader = tmp_path / "x.stldr"
    not_a_loader.write_text("not a loader")
    result = CliRunner().invoke(main, ["test", str(not_a_loader), "--mcu", "STM32H743ZI",
                                       "--chip", "W25Q128JV", "--pins",
                                       "PB2,PC11,PE7,PE8,PE9,PE10"])
    assert result.exit_code != 0
    assert "note: the pins fit QUADSPI bank 2" in result.output
    assert "Traceback" not in result.output
