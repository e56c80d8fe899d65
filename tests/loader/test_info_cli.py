"""``extflash info``: the human summary and the extflash.info/1 JSON on real loaders."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from extflash.cli import main

LoaderFile = Callable[[str], Path]


def test_info_text_summary(loader_file: LoaderFile) -> None:
    result = CliRunner().invoke(main, ["info", str(loader_file("h7-info0"))])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "'W25Q128_extflash-test' (NOR_FLASH)" in out
    assert "0x90000000, size 16 MiB, page 256 B, erase value 0xff" in out
    assert "256 × 64 KiB @ 0x90000000..0x90ffffff" in out
    assert "Init 0x24000005" in out
    assert "family:      stm32h7-qspi" in out and "interface:   quadspi" in out
    assert "RCC base 0x58024400 referenced" in out


def test_info_two_sector_groups(loader_file: LoaderFile) -> None:
    out = CliRunner().invoke(main, ["info", str(loader_file("l4-iar"))]).output
    assert "256 × 64 KiB @ 0x90000000..0x90ffffff" in out
    assert "16 × 128 KiB @ 0x91000000..0x911fffff" in out


def test_info_json_schema(loader_file: LoaderFile) -> None:
    result = CliRunner().invoke(main, ["info", "--json", str(loader_file("h7-info0"))])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["schema"] == "extflash.info/1" and data["kind"] == "stldr"
    dev = data["device"]
    assert (dev["start"], dev["size"], dev["page_size"], dev["erase_value"]) == (
        0x90000000, 0x1000000, 256, 255)
    assert dev["sector_groups"] == [{"count": 256, "size": 0x10000}]
    assert data["entry_points"]["Init"] & 1 and data["footprint"]["start"] == 0x24000004
    assert data["family"]["best"] == "stm32h7-qspi" and data["family"]["interface"] == "quadspi"


def test_info_json_flm(loader_file: LoaderFile) -> None:
    data = json.loads(CliRunner().invoke(main, ["info", "--json",
                                                str(loader_file("flm"))]).output)
    assert data["kind"] == "flm" and data["device"]["descriptor"] == "FlashDevice"
    assert data["device"]["sector_runs"] == [{"size": 4096, "offset": 0},
                                             {"size": 65536, "offset": 65536}]
    assert data["device"]["erase_timeout_ms"] == 6000
