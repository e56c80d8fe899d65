"""HSE and clock limits: no crystal means HSERDY never sets; clocks over the part's limits are
reported (loaders built by the generator for one crystal, run on boards with another)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from extflash import api, board, gen, mcu
from extflash.cli import main
from extflash.emu.machine import Machine
from extflash.errors import OperationError
from extflash.image import Chunk, from_chunks

WEACT = "weact-h743"  # STM32H743, 25 MHz crystal


@pytest.fixture(scope="module")
def loader_for_8mhz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's loader for the WeAct wiring, but planned for an 8 MHz crystal."""
    config = gen.plan_loader(board.load(WEACT), hse_hz=8_000_000)
    return gen.build(config, tmp_path_factory.mktemp("hse8")).stldr


def _program(stldr: Path, brd: board.Board) -> list[str]:
    """Program a page; the clock problems the RCC and the flash clock check reported."""
    with api.open_session(stldr, board=brd) as s:
        s.program(from_chunks([Chunk(s.geometry.start, bytes(range(256)), "d")]))
        vb = s.target.board  # type: ignore[attr-defined]
        problems: list[str] = [*vb.machine.rcc.clock_problems, *vb.flash_clock_problems]
    return problems


def test_pll_over_spec_on_a_faster_crystal_is_reported(
    loader_for_8mhz: Path, caplog: pytest.LogCaptureFixture
) -> None:
    problems = _program(loader_for_8mhz, board.load(WEACT))
    vco = [p for p in problems if "PLL VCO" in p]
    assert vco and "1250 MHz, above the STM32H74x/H75x range 192 MHz..960 MHz" in vco[0]
    assert "the board's HSE crystal is 25 MHz" in vco[0]
    assert any(p.startswith("the core clock is") and "480 MHz" in p for p in problems), problems
    assert "RCC: the PLL VCO" in caplog.text
    flash = [p for p in problems if "QUADSPI clock" in p]
    assert flash == ["the QUADSPI clock is 312.5 MHz (kernel 312.5 MHz / 1), above the "
                     "W25Q64JV's 133 MHz for 0xEB 1-4-4 reads"]


def test_the_right_crystal_reports_nothing(loader_for_8mhz: Path) -> None:
    brd = dataclasses.replace(board.load(WEACT), hse_hz=8_000_000)
    assert _program(loader_for_8mhz, brd) == []


def test_mapped_read_command_from_ccr() -> None:
    from extflash import chips
    from extflash.emu.clock import VirtualClock
    from extflash.emu.flash.nor import NorFlash
    from extflash.emu.periph import quadspi as q
    from extflash.emu.periph.frontstate import protocol

    clock = VirtualClock(480_000_000)
    ctrl = q.Quadspi(q.variant_for("stm32h7-qspi"), clock, base=0x52005000,
                     kernel_hz=lambda: 240_000_000)
    ctrl.attach(1, NorFlash(chips.find("W25Q128JV"), clock, timing="typical"))
    ctrl.write(q.DCR, 4, 23 << 16)
    ctrl.write(q.CR, 4, 1)
    # FMODE=3, DMODE=4 lines, ADMODE=4, IMODE=1, instruction 0xEB (RM0433 QUADSPI_CCR)
    ccr = (3 << 26) | (3 << 24) | (3 << 10) | (1 << 8) | 0xEB
    ctrl.write(q.CCR, 4, ccr)
    # the frame flashclock.problem checks the clock against
    frame = ctrl.mapped_frame
    assert frame is not None
    assert (frame.instruction, protocol(frame)) == (0xEB, "1-4-4")


def test_no_crystal_means_hserdy_never_sets() -> None:
    part = mcu.find_part("STM32H743VI")
    for hse, ready in ((None, 1), (25_000_000, 1), (0, 0)):
        m = Machine(part, hse_hz=hse)
        m.rcc.set_field("CR", "HSEON", 0)
        m.rcc.write(m.rcc.by_name["CR"].offset, 4, m.rcc["CR"] | (1 << 16))  # HSEON
        assert m.rcc.get_field("CR", "HSERDY") == ready, hse


def test_a_loader_waiting_for_a_missing_crystal_fails_its_init(loader_for_8mhz: Path) -> None:
    brd = board.with_hse(board.load(WEACT), 0)
    assert brd.hse_hz == 0
    with api.open_session(loader_for_8mhz, board=brd) as s, pytest.raises(
        OperationError, match=r"Init"
    ):
        s.read(s.geometry.start, 16)


def test_cli_hse_zero_on_a_named_board(loader_for_8mhz: Path, tmp_path: Path) -> None:
    args = ["read", "-l", str(loader_for_8mhz), "--board", WEACT, "--address", "0x90000000",
            "--size", "16", "-o", str(tmp_path / "out.bin")]
    assert CliRunner().invoke(main, args).exit_code == 0
    result = CliRunner().invoke(main, [*args, "--hse", "0"])
    assert result.exit_code != 0
    assert "error:" in result.output and "Init" in result.output
    assert "Traceback" not in result.output


def test_a_board_file_without_hse_keeps_the_family_crystal() -> None:
    brd = board.parse(
        'name = "x"\nmcu = "STM32H743VIT6"\n[[memory]]\nchip = "W25Q64JV"\n'
        '[memory.pins]\nclk = "PB2"\nbk1_ncs = "PB6"\nbk1_io0 = "PD11"\nbk1_io1 = "PD12"\n'
        'bk1_io2 = "PE2"\nbk1_io3 = "PD13"\n'
    )
    assert brd.hse_hz is None
    assert Machine(brd.part, hse_hz=brd.hse_hz).rcc.hse_hz == 25_000_000
