"""Issue #17 item 10: a loader whose IO2/IO3 are not the board's programs "without error", and
the chip holds its data with 1s on those lines (0x38 -> 0xFC, 15 bytes in 16 differ). The
verify failure names the pins instead of leaving the user with a byte count."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from extflash import api, board, gen
from extflash.cli import main
from extflash.errors import OperationError
from extflash.image import Chunk, from_chunks

BOARD_PINS = "clk=PB2,ncs=PB10,io0=PD11,io1=PD12,io2=PE2,io3=PD13"  # NCS on PB10
LOADER_PINS = {"clk": "PB2", "ncs": "PB10", "io0": "PD11", "io1": "PD12", "io2": "PF7",
               "io3": "PF6"}  # IO2/IO3 on the other valid pins
SIZE = 0x10000
DATA = bytes([0x38]) + random.Random(17).randbytes(SIZE - 1)


@pytest.fixture(scope="module")
def other_pins_loader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = gen.plan_loader("STM32H743ZI", chip="W25Q128JV", pins=LOADER_PINS, hse_hz=25_000_000)
    return gen.build(cfg, tmp_path_factory.mktemp("pins")).stldr


def _board() -> board.Board:
    return board.from_options(mcu="STM32H743ZI", chip="W25Q128JV", pins=BOARD_PINS, hse="25MHz")


def test_the_chip_gets_ones_on_the_unrouted_lines(other_pins_loader: Path) -> None:
    with api.open_session(other_pins_loader, board=_board()) as s:
        with pytest.raises(OperationError, match="verify failed"):
            s.program(from_chunks([Chunk(0x90000000, DATA, "app")]))
        chip = s.target.board.flash_contents()[:SIZE]  # type: ignore[attr-defined]
    assert chip[0] == 0xFC  # 0x38 with IO2/IO3 (bits 2, 3, 6, 7) high
    assert all(c == d | 0xCC for c, d in zip(chip, DATA, strict=True))
    differing = sum(c != d for c, d in zip(chip, DATA, strict=True))
    assert 0.92 < differing / SIZE < 0.95  # 15 in 16


def test_the_verify_failure_names_the_pins(other_pins_loader: Path, tmp_path: Path) -> None:
    app = tmp_path / "app.bin"
    app.write_bytes(DATA)
    result = CliRunner().invoke(
        main, ["program", str(app), "--address", "0x90000000", "-l", str(other_pins_loader),
               "--mcu", "STM32H743ZI", "--chip", "W25Q128JV", "--pins", BOARD_PINS,
               "--hse", "25MHz", "-q"],
    )
    assert result.exit_code == 1
    out = result.output
    assert "verify failed" in out and "Traceback" not in out
    assert "BK1_IO2: the board wires it to PE2" in out and "PF7 (AF9) instead" in out
    assert "BK1_IO3: the board wires it to PD13" in out and "PF6 (AF9) instead" in out
    assert "hint: route every QUADSPI signal" in out
