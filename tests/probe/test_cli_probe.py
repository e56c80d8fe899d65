"""`extflash program --target probe` through pyOCD and the virtual probe, then the same chip read
back with the virtual-board target: two backends, one flash file, the same bytes."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from extflash import board
from extflash.cli import main

BOARD = "nucleo-h743zi-w25q128"


def test_program_through_the_probe_then_read_on_the_virtual_board(
    gen_loader: Any, tmp_path: Path
) -> None:
    stldr = str(gen_loader(board.load(BOARD)).stldr)
    data = random.Random(12).randbytes(20_000)
    image = tmp_path / "app.bin"
    image.write_bytes(data)
    chip = str(tmp_path / "chip.bin")
    runner = CliRunner()

    res = runner.invoke(main, ["program", str(image), "--address", "0x90004000",
                               "--loader", stldr, "--target", "probe",
                               "--probe", f"virtual:{BOARD}", "--mcu", "STM32H743ZI",
                               "--frequency", "4MHz", "--flash-file", chip, "--json"],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["verified"] and report["bytes_written"] >= len(data)

    out = tmp_path / "back.bin"
    res = runner.invoke(main, ["read", "--address", "0x90004000", "--size", str(len(data)),
                               "-o", str(out), "--loader", stldr, "--board", BOARD,
                               "--flash-file", chip, "-q"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == data


def test_probe_target_needs_the_mcu(gen_loader: Any, tmp_path: Path) -> None:
    stldr = str(gen_loader(board.load(BOARD)).stldr)
    res = CliRunner().invoke(main, ["checksum", "--loader", stldr, "--target", "probe",
                                    "--probe", f"virtual:{BOARD}"])
    assert res.exit_code == 2 and "--target probe needs the MCU" in res.output


def test_no_such_probe_is_a_clear_error(gen_loader: Any) -> None:
    stldr = str(gen_loader(board.load(BOARD)).stldr)
    res = CliRunner().invoke(main, ["checksum", "--loader", stldr, "--target", "probe",
                                    "--probe", "0669FF3530", "--mcu", "STM32H743ZI"])
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output and "0669FF3530" in res.output
