"""The chip file (--flash-file): created only with a warning, replaced atomically, left alone by
read-only commands, and locked while a command uses it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import run

from extflash.emu.chipfile import lock_path, replace_atomically


def program(target: list[str], tmp_path: Path, data: bytes, address: str = "0x90001000") -> None:
    image = tmp_path / "app.bin"
    image.write_bytes(data)
    res = run("program", str(image), "--address", address, *target, "-q")
    assert res.exit_code == 0, res.output


def test_a_missing_chip_file_starts_blank_with_a_warning(target, tmp_path):
    chip = tmp_path / "chip.bin"
    res = run("blank-check", *target, "--address", "0x90000000", "--size", "64K")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "blank"
    assert f"warning: {chip} does not exist: starting with a blank W25Q64JV" in res.stderr
    assert chip.is_file()
    res = run("blank-check", *target, "--address", "0x90000000", "--size", "64K")
    assert "does not exist" not in res.stderr


def test_read_only_commands_leave_the_chip_file_untouched(target, tmp_path):
    chip = tmp_path / "chip.bin"
    program(target, tmp_path, b"\x5a" * 300)
    before = chip.stat()
    out = tmp_path / "back.bin"
    for args in (
        ["read", "--address", "0x90001000", "--size", "300", "-o", str(out)],
        ["verify", str(tmp_path / "app.bin"), "--address", "0x90001000"],
        ["checksum", "--address", "0x90000000", "--size", "64K"],
        ["blank-check", "--address", "0x90010000", "--size", "4K"],
    ):
        res = run(*args, *target, "-q")
        assert res.exit_code == 0, res.output
    after = chip.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert out.read_bytes() == b"\x5a" * 300


def test_a_save_replaces_the_file_and_leaves_no_temporary(target, tmp_path):
    chip = tmp_path / "chip.bin"
    program(target, tmp_path, b"\x01" * 64)
    first = chip.stat().st_ino
    program(target, tmp_path, b"\x02" * 64, address="0x90002000")
    assert chip.stat().st_ino != first  # a new file renamed over the old one
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "app.bin", "chip.bin", "chip.bin.lock",
    ]  # fmt: skip


def test_an_interrupted_save_keeps_the_previous_contents(tmp_path):
    chip = tmp_path / "chip.bin"
    chip.write_bytes(b"previous")

    def write_half(path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        replace_atomically(chip, write_half)
    assert chip.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["chip.bin"]


HOLDER = """
import sys
from pathlib import Path
from extflash.emu.chipfile import ChipFileLock
lock = ChipFileLock.acquire(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_second_process_on_the_same_chip_file_is_refused(target, tmp_path):
    chip = tmp_path / "chip.bin"
    image = tmp_path / "app.bin"
    image.write_bytes(b"\xa5" * 4096)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(chip)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        res = run("program", str(image), "--address", "0x90000000", *target, "-q")
        assert res.exit_code == 3
        assert res.stderr.startswith(
            f"error: the chip file {chip} is in use by another extflash process (pid {holder.pid})"
        )
        assert "hint: wait for that command to finish" in res.stderr
        assert not chip.exists()  # nothing was loaded, run or saved
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    res = run("program", str(image), "--address", "0x90000000", *target, "-q")
    assert res.exit_code == 0, res.output
    assert lock_path(chip).read_text() == ""  # released: no owner recorded


def test_an_unwritable_chip_file_is_refused_before_any_work(target, tmp_path):
    missing = tmp_path / "no-such-folder" / "chip.bin"
    options = [*target[:-1], str(missing)]
    res = run("erase", *options, "--address", "0x90000000", "--size", "4K")
    assert res.exit_code == 2
    assert res.output == (
        f"error: --flash-file {missing}: the folder {missing.parent} does not exist\n"
        "  hint: create it first, or give a path in an existing folder\n"
    )
