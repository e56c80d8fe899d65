"""The command line: extflash test, --trace on the operation commands, and failed operations
reported with their diagnosis."""

from __future__ import annotations

import json

from click.testing import CliRunner

from extflash.cli import main

BOARD = ["--board", "nucleo-h743zi-w25q128", "--timing", "instant"]


def test_conformance_command(faulty):
    good = CliRunner().invoke(main, ["test", str(faulty()), *BOARD])
    assert good.exit_code == 0, good.output
    assert "PASSED: " in good.output and "PASS  Init twice in a row" in good.output
    bad = CliRunner().invoke(main, ["test", str(faulty("ERASE_END_EXCL")), *BOARD, "--json"])
    assert bad.exit_code == 1
    data = json.loads(bad.output)
    assert data["schema"] == "extflash.test/1" and data["passed"] is False
    failed = {c["name"] for c in data["checks"] if c["status"] == "fail"}
    assert failed == {"erase-first", "erase-middle", "erase-last"}


def test_conformance_command_has_no_flash_file_option(faulty, tmp_path):
    result = CliRunner().invoke(main, ["test", str(faulty()), *BOARD, "--flash-file",
                                       str(tmp_path / "chip.bin")])
    assert result.exit_code == 2 and "No such option '--flash-file'" in result.output


def test_failed_operation_prints_the_diagnosis(faulty, tmp_path):
    result = CliRunner().invoke(main, ["erase", "-l", str(faulty("PLL_NOT_ENABLED")), *BOARD,
                                       "--address", "0x90000000", "--size", "4K", "-q"])
    assert result.exit_code == 1
    assert "error: Init(0x1) did not return" in result.output
    assert "PLL1 was never enabled (RCC_CR.PLL1ON=0)" in result.output
    assert "fix: set RCC_CR.PLL1ON before waiting for PLL1RDY" in result.output
    assert "Traceback" not in result.output


def test_trace_option(faulty, tmp_path):
    out = tmp_path / "erase.txt"
    result = CliRunner().invoke(main, ["erase", "-l", str(faulty()), *BOARD, "--address",
                                       "0x90000000", "--size", "4K", "-q", "--trace", str(out),
                                       "--trace-filter", "QUADSPI,flash"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "SectorErase(0x90000000, 0x90000000)" in text
    assert "bank 1: 0x20 1-1-0 addr=0x000000(3B)" in text
    assert "RCC_" not in text and "GPIO" not in text


def test_trace_written_when_the_call_fails(faulty, tmp_path):
    out = tmp_path / "init.json"
    result = CliRunner().invoke(main, ["erase", "-l", str(faulty("WRONG_NCS")), *BOARD,
                                       "--address", "0x90000000", "--size", "4K", "-q",
                                       "--trace", str(out)])
    assert result.exit_code == 1
    events = json.loads(out.read_text())["events"]
    assert any(e.get("outcome") == "not received" for e in events)
    assert "the loader routes BK1_NCS to PB10 (AF9)" in result.output
