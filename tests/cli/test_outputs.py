"""Output paths (read -o, new -o, --trace, --flash-file) are checked before any work: one line,
exit 2, nothing erased or written. A trace that cannot be written after a success is a warning."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from cli_support import run

from extflash import trace

READ = ["read", "--address", "0x90000000", "--size", "4K"]


def refused(res, option: str, path: Path, why: str) -> None:
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    assert res.stderr.splitlines()[0] == f"error: {option} {path}: {why}"
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    "where, why",
    [
        ("missing", "the folder {parent} does not exist"),
        ("too-long", "cannot write there (File name too long)"),
    ],
)
def test_read_output_checked_before_reading(target, tmp_path, where, why):
    path = {
        "missing": tmp_path / "missing" / "out.bin",
        "too-long": tmp_path / ("x" * 300 + ".bin"),
    }[where]
    res = run(*READ, "-o", str(path), *target)
    refused(res, "-o", path, why.format(parent=path.parent))
    assert not (tmp_path / "chip.bin").exists()  # the session was never opened


def test_read_output_that_is_a_folder(target, tmp_path):
    res = run(*READ, "-o", str(tmp_path), *target)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: Invalid value for '-o' / '--output'")
    assert "is a directory" in res.stderr and "Traceback" not in res.output


def test_read_output_on_a_read_only_file_system(target, tmp_path):
    path = Path("/proc/version")  # not writable, not even by root
    if not path.exists():
        pytest.skip("needs Linux /proc")
    res = run(*READ, "-o", str(path), *target)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: -o {path}: cannot write there")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write read-only files")
def test_read_output_on_a_read_only_file(target, tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"keep")
    path.chmod(0o444)
    refused(
        run(*READ, "-o", str(path), *target), "-o", path, "cannot write there (Permission denied)"
    )
    assert path.read_bytes() == b"keep"


def test_trace_into_a_missing_folder_erases_nothing(target, tmp_path):
    chip = tmp_path / "chip.bin"
    image = tmp_path / "app.bin"
    image.write_bytes(b"\x11" * 4096)
    assert run("program", str(image), "--address", "0x90000000", *target, "-q").exit_code == 0
    path = tmp_path / "missing" / "trace.txt"
    res = run("erase", "--address", "0x90000000", "--size", "4K", *target, "--trace", str(path))
    refused(res, "--trace", path, f"the folder {path.parent} does not exist")
    res = run("verify", str(image), "--address", "0x90000000", *target, "-q")
    assert res.exit_code == 0, res.output  # still programmed
    assert chip.exists()


def test_new_output_checked_before_building(tmp_path):
    path = tmp_path / "missing" / "w25q64.stldr"
    res = run("new", "--board", "weact-h743", "-o", str(path), "--no-self-test")
    refused(res, "-o", path, f"the folder {path.parent} does not exist")
    assert not path.parent.exists()


def test_a_trace_that_cannot_be_written_after_success_is_a_warning(target, tmp_path, monkeypatch):
    def disk_full(self, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(trace.Timeline, "write", disk_full)
    path = tmp_path / "trace.txt"
    res = run("erase", "--address", "0x90000000", "--size", "4K", *target, "--trace", str(path))
    assert res.exit_code == 0, res.output
    assert "erased 1 sector(s)" in res.stdout
    assert (
        f"warning: the trace could not be written to {path}: No space left on device" in res.stderr
    )
