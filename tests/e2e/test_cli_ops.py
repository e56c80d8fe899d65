"""The operation commands as users run them: separate invocations sharing a flash file."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from extflash import board
from extflash.cli import main


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_program_then_read_in_separate_commands(gen_loader: Any, tmp_path: Path) -> None:
    stldr = str(gen_loader(board.load("weact-h743")).stldr)
    data = random.Random(4).randbytes(10_000)
    image = tmp_path / "app.bin"
    image.write_bytes(data)
    chip = str(tmp_path / "chip.bin")
    common = ["--loader", stldr, "--board", "weact-h743", "--flash-file", chip]

    res = run("program", str(image), "--address", "0x90020000", *common, "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["verified"] and report["image_bytes"] == 10_000

    out = tmp_path / "back.bin"
    res = run("read", "--address", "0x90020000", "--size", "10000", "-o", str(out), *common, "-q")
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == data

    res = run("verify", str(image), "--address", "0x90020000", *common)
    assert res.exit_code == 0 and "flash matches" in res.output

    res = run("erase", "--address", "0x90020000", "--size", "4K", *common)
    assert res.exit_code == 0 and "erased 1 sector(s): 0x90020000..0x90020FFF" in res.output
    res = run("verify", str(image), "--address", "0x90020000", *common)
    differing = sum(b != 0xFF for b in data[:4096])
    assert res.exit_code == 1
    assert f"{differing} of 10000 bytes differ; first at 0x90020000" in res.output

    res = run("blank-check", "--address", "0x90020000", "--size", "4096", *common)
    assert res.exit_code == 0 and res.stdout.strip() == "blank"


def test_inline_board_and_bad_input_exit_codes(gen_loader: Any, tmp_path: Path) -> None:
    brd = board.from_options(mcu="STM32H743ZI", chip="W25Q128JV", pins="PB2,PB6,PD11,PD12,PE2,PD13")
    stldr = str(gen_loader(brd).stldr)
    inline = ["--mcu", "STM32H743ZI", "--chip", "W25Q128JV", "--pins", "PB2,PB6,PD11,PD12,PE2,PD13"]
    res = run(
        "checksum", "--loader", stldr, *inline, "--address", "0x90000000", "--size", "16", "--json"
    )
    assert res.exit_code == 0, res.output
    import zlib

    assert json.loads(res.stdout)["crc32"] == zlib.crc32(b"\xff" * 16)

    bad_pins = [
        "--mcu",
        "STM32H743ZI",
        "--chip",
        "W25Q128JV",
        "--pins",
        "PB2,PB7,PD11,PD12,PE2,PD13",
    ]
    res = run("checksum", "--loader", stldr, *bad_pins)
    assert res.exit_code == 2
    assert "PB7 cannot carry QUADSPI BK1_NCS" in res.output and "Traceback" not in res.output

    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (17 << 20))
    res = run("program", str(big), "--address", "0x90000000", "--loader", stldr, *inline)
    assert res.exit_code == 2 and "outside the internal flash" in res.output

    res = run("program", str(big), "--loader", stldr, *inline)
    assert res.exit_code == 2 and "raw binary: give the address" in res.output
