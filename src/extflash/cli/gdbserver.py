"""``extflash gdbserver``: serve the virtual board, booted into an application running from the
memory-mapped window, to gdb-multiarch or VS Code Cortex-Debug."""

from __future__ import annotations

import sys
from typing import Any

import click

from extflash.cli.common import ADDRESS, PORT, handle_errors
from extflash.cli.options import fresh_board_options
from extflash.errors import InputError


@click.command()
@click.option("--run", "app", type=click.Path(dir_okay=False), metavar="APP.elf",
              help="The application to program into the window and debug.")
@click.option("--boot", type=click.Path(dir_okay=False), metavar="BOOT.elf",
              help="Boot image for the internal flash (default: one generated for the board).")
@click.option("--loader", type=click.Path(dir_okay=False), metavar="FILE",
              help="Program the application through this loader (default: straight into the "
              "virtual chip).")
@click.option("--app-address", type=ADDRESS, metavar="ADDR",
              help="Where the application's vector table is (default: the window base).")
@click.option("--port", type=PORT, default=3333, show_default=True,
              help="TCP port to listen on (localhost).")
@fresh_board_options
@handle_errors("gdbserver")
def gdbserver(app: str | None, boot: str | None, loader: str | None, app_address: int | None,
              port: int, **kw: Any) -> int:
    """Serve the virtual board to GDB, halted at the boot image's reset vector (--run) or at
    the loader's Init (--loader alone).

    Connect with: gdb-multiarch APP.elf -ex 'target extended-remote :3333'. Serves one GDB
    session; exits with the application's status if it called SYS_EXIT.
    """
    from extflash import api, xip
    from extflash.gdb.loader_call import prepare_loader_call
    from extflash.gdb.server import GdbServer, open_listener

    if app is None and loader is None:
        raise InputError("gdbserver needs what to debug: --run APP.elf, or --loader FILE "
                         "(halted at its Init)")
    board = api.resolve_board(kw.pop("board_name"), mcu=kw.pop("mcu"), chip=kw.pop("chip"),
                              bank=kw.pop("bank"), pins=kw.pop("pins"), hse=kw.pop("hse"))

    def show(source: str, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    timing = kw.pop("timing")
    listener = open_listener(port)  # before anything is programmed
    try:
        if app is None:
            assert loader is not None
            prepared = prepare_loader_call(board, loader, on_output=show, timing=timing)
        else:
            prepared = xip.prepare(board, app, boot=boot, loader=loader,
                                   app_address=app_address, on_output=show, timing=timing)
    except BaseException:
        listener.close()
        raise
    server = GdbServer(prepared, listener)
    try:
        where = "reset" if app is not None else "Init"
        click.echo(f"serving the virtual {board.name} to GDB on localhost:{server.port} "
                   f"(halted at {where}, 0x{prepared.reset_pc:08X})", err=True)
        status = server.serve()
    finally:
        server.close()
    return 0 if status is None else status
