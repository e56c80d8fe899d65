"""extflash new: generated loaders for many boards pass the conformance test on the virtual board
wired exactly as described (the generator's self-test), and the command gives precise errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from extflash import board, gen, mcu
from extflash.cli import main

SIGNALS = {
    1: ("clk", "bk1_ncs", "bk1_io0", "bk1_io1", "bk1_io2", "bk1_io3"),
    2: ("clk", "bk2_ncs", "bk2_io0", "bk2_io1", "bk2_io2", "bk2_io3"),
    "dual": ("clk", "bk1_ncs", "bk1_io0", "bk1_io1", "bk1_io2", "bk1_io3",
             "bk2_io0", "bk2_io1", "bk2_io2", "bk2_io3"),
}


def pins_for(part: str, bank: int | str, choice: int) -> str:
    """A valid wiring from the package's AF table: the ``choice``-th pin that can carry each
    signal (where there is one), so different combinations use different pin sets."""
    table = board.signal_pins(mcu.find_part(part))
    used: set[str] = set()
    wiring = []
    for signal in SIGNALS[bank]:
        options = [p for p in sorted(table[signal]) if p not in used]
        pin = options[min(choice, len(options) - 1)]
        used.add(pin)
        wiring.append(f"{signal}={pin}")
    return ",".join(wiring)


# family x chip x bank x pin choice; every QUADSPI family, dual-core parts, all chip vendors.
COMBINATIONS = [
    ("STM32H743ZI", "W25Q128JV", 1, 0),
    ("STM32H743ZI", "W25Q128JV", 1, 1),
    ("STM32H743ZI", "W25Q256JV", 2, 0),
    ("STM32H743XI", "MT25QL512", "dual", 0),
    ("STM32H745XI", "W25Q128JV", 2, 1),
    ("STM32H747XI", "MT25TL01G", "dual", 1),
    ("STM32H750VB", "W25Q64JV", 1, 0),
    ("STM32H743ZI", "MX25L25645G", 1, 2),
    ("STM32H743ZI", "S25FL512S", 1, 0),
    ("STM32H743ZI", "W25Q02JV", 1, 0),
    ("STM32H743ZI", "MX25R6435F", 1, 1),
    ("STM32F746NG", "N25Q128A", 1, 0),
    ("STM32F746NG", "W25Q128JV", "dual", 0),
    ("STM32F769NI", "MX25L51245G", 1, 1),
    ("STM32F446ZE", "W25Q32JV", 1, 0),
    ("STM32F412ZG", "MX25L12835F", 1, 1),
    ("STM32F469NI", "MT25QL128", 1, 0),
    ("STM32L476VG", "N25Q128A", 1, 0),
    ("STM32L496ZG", "W25Q16JV", 1, 1),
    ("STM32L476VG", "MX25R6435F", 1, 1),
    ("STM32G474RE", "IS25LP128", 1, 0),
    ("STM32G474QE", "GD25Q128", 1, 1),
    ("STM32G474RE", "S25FL256S", 1, 0),
]


@pytest.mark.parametrize("part,chip,bank,choice", COMBINATIONS,
                         ids=[f"{p}-{c}-bank{b}-pins{n}" for p, c, b, n in COMBINATIONS])
def test_generated_loader_passes_its_self_test(part: str, chip: str, bank: int | str,
                                               choice: int, tmp_path: Path) -> None:
    brd = board.from_options(mcu=part, chip=chip, bank=bank, pins=pins_for(part, bank, choice))
    made = gen.new_loader(brd, tmp_path / "loader.stldr")
    report = made.report
    assert report is not None and report.passed, "\n".join(report.render())  # type: ignore[attr-defined]
    names = {c.name for c in report.checks}  # type: ignore[attr-defined]
    assert {"erase-last", "write-page-cross", "verify", "mass-erase"} <= names
    if bank != "dual":
        assert made.build.size.code + made.build.size.data <= 4096


def test_new_command_writes_a_tested_loader(tmp_path: Path) -> None:
    out = tmp_path / "w25q128_h745_bk2.stldr"
    res = CliRunner().invoke(main, [
        "new", "--mcu", "STM32H745XI", "--chip", "W25Q128JV", "--bank", "2",
        "--pins", "clk=PB2,ncs=PC11,io0=PH2,io1=PH3,io2=PG9,io3=PG14", "--hse", "25MHz",
        "--name", "w25q128_h745_bk2", "-o", str(out), "--flm", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["self_test"] == "passed" and Path(data["stldr"]) == out and out.exists()
    assert Path(data["flm"]).exists()
    from extflash import loader

    ldr = loader.open(out)
    assert ldr.storage_info is not None and ldr.storage_info.name == "w25q128_h745_bk2"


def test_new_command_rejects_a_pin_that_cannot_carry_its_signal(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, [
        "new", "--mcu", "STM32H745XI", "--chip", "W25Q128JV", "--bank", "2",
        "--pins", "clk=PB2,ncs=PC10,io0=PH2,io1=PH3,io2=PG9,io3=PG14", "-o", str(tmp_path)])
    assert res.exit_code == 2
    assert "PC10 cannot carry QUADSPI BK2_NCS" in res.output and "PC11 (AF9)" in res.output
    assert not list(tmp_path.iterdir())  # nothing generated


def test_new_command_rejects_an_unknown_part_and_chip(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["new", "--mcu", "STM32H799ZI", "--chip", "W25Q128JV",
                               "--pins", "PB2,PB6,PD11,PD12,PE2,PD13", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "unknown MCU part 'STM32H799ZI'" in res.output
    res = runner.invoke(main, ["new", "--mcu", "STM32H743ZI", "--chip", "W25Q999",
                               "--pins", "PB2,PB6,PD11,PD12,PE2,PD13", "-o", str(tmp_path)])
    assert res.exit_code == 2 and "W25Q999" in res.output
