"""The GDB server driven by a real gdb-multiarch in batch mode: break in an application's
function in the memory-mapped window, step, read a QUADSPI register, continue to the exit."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from extflash import board
from extflash.cli import main
from extflash.gdb.server import GdbServer, open_listener
from extflash.xip import prepare

GDB = shutil.which("gdb-multiarch")
QUADSPI_CR = 0x52005000  # RM0433: QUADSPI register block at 0x52005000, CR at offset 0


@pytest.fixture(scope="module")
def app(build_elf: Any) -> Path:
    return build_elf("xip-app-gdb", ["xip/app.c"], "xip/app.ld", cflags=["-DEXIT_STATUS=3"])


def gdb_batch(elf: Path, port: int, commands: list[str]) -> str:
    assert GDB is not None
    args = [GDB, "--batch", "-nx", str(elf), "-ex", f"target extended-remote :{port}"]
    for command in commands:
        args += ["-ex", command]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


@pytest.mark.skipif(GDB is None, reason="gdb-multiarch is not installed (scripts/bootstrap.sh)")
def test_gdb_breaks_steps_and_reads_registers_in_an_xip_application(app: Path) -> None:
    prepared = prepare(board.load("weact-h743"), app)
    server = GdbServer(prepared, open_listener(0))
    statuses: list[int | None] = []
    thread = threading.Thread(target=lambda: statuses.append(server.serve()), daemon=True)
    thread.start()
    try:
        text = gdb_batch(app, server.port, [
            "break fibonacci", "continue", "print/x $pc", "stepi", "print/x $pc",
            f"print/x *(unsigned int *)0x{QUADSPI_CR:08X}", "print/x *(unsigned int *)0x90000004",
            "delete", "continue",
        ])
    finally:
        thread.join(30)
        server.close()
    assert "Breakpoint 1, fibonacci (n=n@entry=20)" in text, text
    pcs = [line.split("= ")[1] for line in text.splitlines() if line.startswith("$1 =")
           or line.startswith("$2 =")]
    assert pcs[0] == "0x90000008" and pcs[1] != pcs[0], text  # stopped in the window, stepped
    quadspi_cr = next(line for line in text.splitlines() if line.startswith("$3 ="))
    assert int(quadspi_cr.split("= ")[1], 16) & 1  # CR.EN: the boot enabled the controller
    reset_vector = next(line for line in text.splitlines() if line.startswith("$4 ="))
    assert int(reset_vector.split("= ")[1], 16) & 0xFF000000 == 0x90000000  # the window reads
    assert "hello from the window" in text  # semihosting output reaches GDB's console
    assert "exited with code 03" in text
    assert statuses == [3]


def test_gdbserver_port_in_use_is_refused_before_anything_runs(app: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        res = CliRunner().invoke(main, ["gdbserver", "--run", str(app), "--board", "weact-h743",
                                        "--port", str(port)], catch_exceptions=False)
    finally:
        busy.close()
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: cannot serve GDB on 127.0.0.1:{port}: ")


@pytest.mark.parametrize(("args", "message"), [
    (["--board", "weact-h743"], "error: gdbserver needs the application to debug: --run"),
    (["--board", "weact-h743", "--run", "x.elf", "--port", "70000"],
     "error: --port 70000 is not a TCP port"),
])
def test_gdbserver_bad_options(args: list[str], message: str) -> None:
    res = CliRunner().invoke(main, ["gdbserver", *args], catch_exceptions=False)
    assert res.exit_code == 2
    assert res.stderr.startswith(message)
