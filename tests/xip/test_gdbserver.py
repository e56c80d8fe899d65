"""The GDB server driven by a real gdb-multiarch in batch mode: break in an application's
function in the memory-mapped window, step, read a QUADSPI or XSPI register, continue to the
exit."""

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
from extflash.gdb.loader_call import prepare_loader_call
from extflash.gdb.server import GdbServer, open_listener
from extflash.xip import Prepared, prepare

GDB = shutil.which("gdb-multiarch")
QUADSPI_CR = 0x52005000  # RM0433: QUADSPI register block at 0x52005000, CR at offset 0
QUADSPI_CCR = 0x52005014  # CCR at offset 0x14, FMODE in bits [27:26]


@pytest.fixture(scope="module")
def app(build_elf: Any) -> Path:
    return build_elf("xip-app-gdb", ["xip/app.c"], "xip/app.ld", cflags=["-DEXIT_STATUS=3"])


def gdb_batch(elf: Path, port: int, commands: list[str]) -> str:
    if GDB is None:  # required, like the Arm toolchain: scripts/bootstrap.sh installs it
        pytest.fail("gdb-multiarch is not installed: apt-get install gdb-multiarch "
                    "(make test installs it)")
    args = [GDB, "--batch", "-nx", str(elf), "-ex", f"target extended-remote :{port}"]
    for command in commands:
        args += ["-ex", command]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def debug(prepared: Prepared, elf: Path, commands: list[str]) -> tuple[str, list[int | None]]:
    """Serve ``prepared`` to a gdb-multiarch batch session: its output and the exit statuses."""
    server = GdbServer(prepared, open_listener(0))
    statuses: list[int | None] = []
    thread = threading.Thread(target=lambda: statuses.append(server.serve()), daemon=True)
    thread.start()
    try:
        text = gdb_batch(elf, server.port, commands)
    finally:
        thread.join(30)
        server.close()
    return text, statuses


def values(text: str) -> list[int]:
    """The values GDB printed ($1 = 0x..., in order)."""
    return [int(line.split("= ")[1].split()[0], 0) for line in text.splitlines()
            if line.startswith("$")]


def test_gdb_breaks_steps_and_reads_registers_in_an_xip_application(app: Path) -> None:
    text, statuses = debug(prepare(board.load("weact-h743"), app), app, [
        "break fibonacci", "continue", "print/x $pc", "stepi", "print/x $pc",
        f"print/x *(unsigned int *)0x{QUADSPI_CR:08X}", "print/x *(unsigned int *)0x90000004",
        "delete", "continue",
    ])
    assert "Breakpoint 1, fibonacci (n=n@entry=20)" in text, text
    pc, stepped, quadspi_cr, reset_vector = values(text)
    assert pc == 0x90000008 and stepped != pc, text  # stopped in the window, then stepped
    assert quadspi_cr & 1  # CR.EN: the boot enabled the controller
    assert reset_vector & 0xFF000000 == 0x90000000  # the window reads as the chip
    assert "hello from the window" in text  # semihosting output reaches GDB's console
    assert "exited with code 03" in text
    assert statuses == [3]


XSPI1_CR = 0x52005000  # RM0477: XSPI1 register block at 0x52005000, CR at offset 0


def test_gdb_breaks_in_an_xip_application_on_an_h7r7_xspi_board(app: Path) -> None:
    """The H7R/S case: W25Q128JV on XSPI1 of an H7R7 from --mcu/--chip/--pins, the generated
    boot maps the window, GDB stops in the application's function there and reads XSPI1."""
    brd = board.from_options(mcu="STM32H7R7I8T6", chip="W25Q128JV",
                             pins="PO4,PO0,PP0,PP1,PP2,PP3")
    text, statuses = debug(prepare(brd, app), app, [
        "break fibonacci", "continue", "print/x $pc", "stepi", "print/x $pc",
        f"print/x *(unsigned int *)0x{XSPI1_CR:08X}", "delete", "continue",
    ])
    assert "Breakpoint 1, fibonacci (n=n@entry=20)" in text, text
    pc, stepped, cr = values(text)
    assert pc == 0x90000008 and stepped != pc, text
    assert cr & 1 and (cr >> 28) & 3 == 3  # CR.EN, CR.FMODE=11: memory-mapped (RM0477 XSPI_CR)
    assert "exited with code 03" in text and statuses == [3]


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
    (["--board", "weact-h743"], "error: gdbserver needs what to debug: --run APP.elf, or"),
    (["--board", "weact-h743", "--run", "x.elf", "--port", "70000"],
     "error: --port 70000 is not a TCP port"),
])
def test_gdbserver_bad_options(args: list[str], message: str) -> None:
    res = CliRunner().invoke(main, ["gdbserver", *args], catch_exceptions=False)
    assert res.exit_code == 2
    assert res.stderr.startswith(message)


def test_gdb_steps_through_a_loaders_init(gen_loader: Any) -> None:
    brd = board.load("weact-h743")
    loader = Path(gen_loader(brd).stldr)
    prepared = prepare_loader_call(brd, loader)
    text, _ = debug(prepared, loader, [
        "print/x $pc", "stepi", "print/x $pc", "break qspi_map", "continue",
        f"print/x *(unsigned int *)0x{QUADSPI_CR:08X}", "finish",
        f"print/x *(unsigned int *)0x{QUADSPI_CCR:08X}", "delete", "continue", "print/x $r0",
    ])
    assert "Breakpoint 1, " in text and "qspi_map" in text, text
    init, stepped, cr, ccr, result = values(text)
    assert init == prepared.reset_pc and stepped != init
    assert cr & 1  # the controller is enabled before it is mapped
    assert (ccr >> 26) & 3 == 3  # CCR.FMODE: memory-mapped once qspi_map returned
    assert result == 1  # Init returned 1 to the host's BKPT


def test_gdbserver_command_serves_gdb_and_exits_with_the_status(app: Path) -> None:
    """The command as a user runs it: a process listening (port 0: the one it prints), GDB
    attaches, continues to the end; the server exits with the application's status."""
    import sys

    extflash = Path(sys.executable).with_name("extflash")  # the installed command
    server = subprocess.Popen(
        [str(extflash), "gdbserver", "--run", str(app), "--board",
         "weact-h743", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        banner = server.stderr.readline()
        assert banner.startswith("serving the virtual WeAct-H743 to GDB on localhost:"), banner
        port = int(banner.split("localhost:")[1].split()[0])
        text = gdb_batch(app, port, ["continue"])
        assert server.wait(timeout=60) == 3
    finally:
        if server.poll() is None:
            server.kill()
    assert "exited with code 03" in text
    assert server.stdout is not None and "hello from the window" in server.stdout.read()


def test_gdb_steps_over_a_store_into_a_window_with_memory_mapped_writes(build_elf: Any) -> None:
    """The H735 OCTOSPI boot keeps the loader's write set (WCCR): the window is zero-copy and
    a store into it is decoded into a page program. Stepping over that store moves on once."""
    import ospi_hal.build as ob
    from test_xip_octospi import boot_and_app, kit_board

    name = "h735-w25q128"
    b = ob.loader_build(ob.KITS[name], name)
    boot, _ = boot_and_app(build_elf, b, "-DKEEP_WRITABLE_WINDOW")
    app = build_elf("xip-app-window-store", ["xip/app.c"], "xip/app.ld",
                    cflags=["-DEXIT_STATUS=3", "-DWINDOW_STORE=0x90F00000u"], cpu=b.cpu)
    prepared = prepare(kit_board(name, b), app, boot=boot)
    text, statuses = debug(prepared, app, [
        "break window_store", "continue", "stepi", "print/x $pc", "break *$pc", "stepi",
        "print/x $pc", "print/x *(unsigned int *)0x90F00000", "jump *$pc - 2",
    ])
    assert "Breakpoint 1, window_store" in text, text
    at_store, after, stored = values(text)
    # the step from a breakpoint on the store moved on (the store ran once, no second stop)
    assert after == at_store + 2, text
    assert stored == 0xFFFFFFFF  # the chip ignored the page program (no WEL)
    # resuming at the store's breakpoint runs the store once, without stopping: to the exit
    assert "exited with code 03" in text and statuses == [3], text
