"""One interface: one error style (click's usage errors too), one JSON envelope for every
command on success and failure, -q where commands report progress, numbers in hex or with size
suffixes everywhere, and --size 0 refused the same way by every command."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
from cli_support import run


def envelope(res: Any) -> dict[str, Any]:
    data = json.loads(res.stdout)
    assert set(data) >= {"schema", "ok"}
    return dict(data)


def test_usage_errors_read_like_every_other_error(target):
    res = run("read", "--size", "16", "-o", "x.bin", *target)
    assert res.exit_code == 2
    assert res.stderr == (
        "error: Missing option '--address'.\n  hint: see 'extflash read --help'\n"
    )
    res = run("read", "--size", "16", "-o", "x.bin", *target, "--json")
    assert res.exit_code == 2
    assert envelope(res) == {
        "schema": "extflash.read/1",
        "ok": False,
        "error": {
            "code": "usage",
            "message": "Missing option '--address'.",
            "hint": "see 'extflash read --help'",
        },
    }
    res = run("prgram")
    assert res.exit_code == 2 and "did you mean 'program'?" in res.stderr


def test_every_result_has_the_envelope(target, tmp_path, h743_loader):
    image = tmp_path / "app.bin"
    image.write_bytes(b"\x42" * 5000)
    at = ["--address", "0x90003000"]
    res = run("program", str(image), *at, *target, "--json")
    assert res.exit_code == 0, res.output
    data = envelope(res)
    assert (data["schema"], data["ok"], data["verified"]) == ("extflash.program/1", True, True)

    res = run("erase", *at, "--size", "4K", *target, "--json")
    assert envelope(res) == {
        "schema": "extflash.erase/1", "ok": True, "sectors": 1,
        "address": 0x90003000, "size": 4096,
    }  # fmt: skip

    res = run("verify", str(image), *at, *target, "--json")
    assert res.exit_code == 1
    data = envelope(res)
    assert data["ok"] is False and data["match"] is False
    assert data["error"]["code"] == "mismatch"
    assert data["mismatches"] == [{"address": 0x90003000, "differing_bytes": 4096}]

    res = run("blank-check", *at, "--size", "4K", *target, "--json")
    assert envelope(res)["ok"] is True and envelope(res)["blank"] is True
    res = run("checksum", *at, "--size", "16", *target, "--json")
    assert envelope(res) == {
        "schema": "extflash.checksum/1", "ok": True, "address": 0x90003000, "size": 16,
        "crc32": zlib.crc32(b"\xff" * 16),
    }  # fmt: skip

    for command, key in (("boards", "boards"), ("chips", "chips")):
        data = envelope(run(command, "--json"))
        assert data["schema"] == f"extflash.{command}/1" and data["ok"] and data[key]
    data = envelope(run("info", h743_loader, "--json"))
    assert data["schema"] == "extflash.info/1" and data["ok"] is True


def test_failures_have_the_envelope_too(target, tmp_path):
    res = run("checksum", *target, "--address", "0x80000000", "--size", "16", "--json")
    assert res.exit_code == 2
    data = envelope(res)
    assert data["schema"] == "extflash.checksum/1" and data["ok"] is False
    assert data["error"]["code"] == "bad-image" and "outside" in data["error"]["message"]
    res = run("info", str(tmp_path / "none.stldr"), "--json")
    assert res.exit_code == 2
    assert envelope(res)["error"]["code"] == "bad-input"


@pytest.mark.parametrize(
    "command",
    [
        ["erase", "--address", "0x90000000"],
        ["read", "--address", "0x90000000", "-o", "out.bin"],
        ["checksum"],
        ["blank-check"],
    ],
)
def test_size_zero_means_the_same_in_every_command(target, command):
    res = run(*command, "--size", "0", *target)
    assert res.exit_code == 2
    assert res.stderr.startswith(
        "error: Invalid value for '--size': 0: a size of 0 bytes means nothing to do"
    )


def test_erase_without_a_size_erases_nothing(target, tmp_path):
    image = tmp_path / "app.bin"
    image.write_bytes(b"\x33" * 4096)
    assert run("program", str(image), "--address", "0x90000000", *target, "-q").exit_code == 0
    res = run("erase", "--address", "0x90000000", *target)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: erase needs the range: --address and --size")
    assert "hint: --all erases the whole chip" in res.stderr
    assert run("verify", str(image), "--address", "0x90000000", *target, "-q").exit_code == 0


@pytest.mark.parametrize(
    "option, value",
    [
        ("--init-arg", "0x1"),
        ("--buffer-size", "0x1000"),
        ("--stack-size", "1K"),
        ("--r9", "0x0"),
        ("--hse", "0x17D7840"),
        ("--hse", "25M"),
    ],
)
def test_numbers_in_hex_and_with_suffixes(target, option, value):
    inline = ["--mcu", "STM32H743VI", "--chip", "W25Q64JV", "--pins", "PB2,PB6,PD11,PD12,PE2,PD13"]
    board = inline if option == "--hse" else ["--board", "weact-h743"]
    args = [*target[:2], *board, *target[4:], option, value]
    res = run("checksum", "--address", "0x90000000", "--size", "4K", *args, "-q")
    assert res.exit_code == 0, res.output
    res = run("checksum", *args, option, "twelve")
    assert res.exit_code == 2
    assert f"error: Invalid value for '{option}': 'twelve' is not a" in res.stderr


def test_gdbserver_port_in_hex_and_checked():
    # the port parses (0xD05 = 3333); what to debug is missing, so nothing listens
    res = run("gdbserver", "--board", "weact-h743", "--port", "0xD05")
    assert res.exit_code == 2
    assert res.stderr.startswith("error: gdbserver needs what to debug")
    res = run("gdbserver", "--board", "weact-h743", "--run", "x.elf", "--port", "64K")
    assert res.exit_code == 2
    assert res.stderr.startswith("error: --port 65536 is not a TCP port (0..65535)")
    res = run("gdbserver", "--board", "weact-h743", "--port", "http")
    assert res.exit_code == 2
    assert "error: Invalid value for '--port': 'http' is not a number" in res.stderr


def test_checksum_reports_progress_and_q_silences_it(target):
    res = run("checksum", "--address", "0x90000000", "--size", "2M", *target)
    assert res.exit_code == 0, res.output
    assert "checksum: 2097152/2097152 bytes (100%)" in res.stderr
    res = run("checksum", "--address", "0x90000000", "--size", "2M", *target, "-q")
    assert res.stderr == ""
    # the pieces' CRCs combine into the CRC of the whole range
    blank_crc = zlib.crc32(b"\xff" * (2 << 20))
    assert res.stdout.strip().endswith(f"0x{blank_crc:08X}")


def test_test_and_new_take_q_and_no_flash_file(h743_loader, tmp_path):
    res = run("test", h743_loader, "--board", "weact-h743", "--timing", "instant")
    assert res.exit_code == 0, res.output
    assert "pass:" in res.stderr
    res = run("test", h743_loader, "--board", "weact-h743", "--timing", "instant", "-q")
    assert res.exit_code == 0 and res.stderr == ""
    for command in (["test", h743_loader], ["new", "-o", str(tmp_path)]):
        res = run(*command, "--board", "weact-h743", "--flash-file", str(tmp_path / "c.bin"))
        assert res.exit_code == 2
        assert res.stderr.startswith("error: No such option '--flash-file'")
    res = run("new", "--board", "weact-h743", "-o", str(tmp_path), "--no-self-test", "-q")
    assert res.exit_code == 0, res.output
    assert res.stderr == "" and "wrote" in res.stdout
