"""Ctrl-C while erasing, writing or reading: the command stops at the next loader call, saves
a consistent chip file, says which sectors were erased and written, and exits 130."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import pytest
from cli_support import run

from extflash.progress import ProgressRenderer

WHOLE_CHIP = 8 << 20  # the WeAct H743's W25Q64


def interrupt_at(phase: str, args: list[str], presses: int = 1) -> subprocess.CompletedProcess[str]:
    """Run ``extflash ARGS`` and press Ctrl-C once it reports progress in ``phase``."""
    command = [sys.executable, "-c", "from extflash.cli import main; main()", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(f"{phase}:"):
            for _ in range(presses):
                proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=60)  # a guard against a hang, not a timing
    return subprocess.CompletedProcess(command, proc.returncode, out, "".join(seen) + err)


def test_interrupted_program_reports_and_keeps_what_was_written(target, tmp_path):
    data = random.Random(17).randbytes(WHOLE_CHIP)
    image = tmp_path / "app.bin"
    image.write_bytes(data)
    res = interrupt_at("writing", ["program", str(image), "--address", "0x90000000", *target])
    assert res.returncode == 130, res.stderr
    assert "stopping after the current loader call" in res.stderr
    assert "error: interrupted; chip state: sectors erased: 0-2047; written: 0-" in res.stderr
    assert "Traceback" not in res.stderr
    written = res.stderr.split("written: 0-")[1].split(";")[0]
    end = (int(written) + 1) * 4096
    assert end < WHOLE_CHIP

    # The chip file holds the written sectors and blank ones after them, and is unlocked.
    back = tmp_path / "back.bin"
    res2 = run("read", "--address", "0x90000000", "--size", str(end), "-o", str(back), *target)
    assert res2.exit_code == 0, res2.output
    assert back.read_bytes() == data[:end]
    res2 = run("blank-check", "--address", hex(0x90000000 + end), *target, "-q")
    assert res2.exit_code == 0 and res2.stdout.strip() == "blank"


def test_a_second_ctrl_c_stops_at_once_and_still_reports(target, tmp_path):
    image = tmp_path / "app.bin"
    image.write_bytes(random.Random(5).randbytes(WHOLE_CHIP))
    args = ["program", str(image), "--address", "0x90000000", *target]
    res = interrupt_at("writing", args, presses=2)
    assert res.returncode == 130, res.stderr
    assert "error: interrupted; chip state: sectors erased: 0-2047; written: " in res.stderr
    assert "Traceback" not in res.stderr
    res2 = run("checksum", "--address", "0x90000000", "--size", "4K", *target, "-q")
    assert res2.exit_code == 0, res2.output  # the chip file was saved and unlocked


def test_interrupted_erase_reports_the_erased_sectors(target, tmp_path):
    res = interrupt_at("erasing", ["erase", "--address", "0x90000000", "--size", "8M", *target])
    assert res.returncode == 130, res.stderr
    assert "error: interrupted; chip state: sectors erased: 0-" in res.stderr
    assert "written: none" in res.stderr
    assert (tmp_path / "chip.bin").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["read", "--address", "0x90000000", "--size", "1M", "-o", "{out}"],
        ["checksum", "--address", "0x90000000", "--size", "4M"],
    ],
)
def test_interrupted_read_and_checksum_stop_and_write_no_output(
    target, tmp_path, monkeypatch, command
):
    """Ctrl-C arrives (a real SIGINT to this process) as the first piece is reported."""
    out = tmp_path / "out.bin"
    shown = ProgressRenderer.__call__

    def press_ctrl_c(self, phase, done, total):
        shown(self, phase, done, total)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(ProgressRenderer, "__call__", press_ctrl_c)
    res = run(*(a.format(out=out) for a in command), *target)
    assert res.exit_code == 130, res.output
    assert res.stdout == ""
    assert "error: interrupted; chip state: sectors erased: none; written: none" in res.stderr
    assert not out.exists()
