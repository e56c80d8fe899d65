"""``extflash run``: boot the virtual board from its internal flash and run an application from
the memory-mapped window, printing what it writes (semihosting, ITM port 0, USARTs)."""

from __future__ import annotations

import sys
from typing import Any

import click

from extflash.cli.common import ADDRESS, echo_json, envelope, handle_errors
from extflash.cli.options import fresh_board_options, output_options, trace_options
from extflash.cli.session import recording, write_recording


@click.command()
@click.argument("app", type=click.Path(dir_okay=False), metavar="APP.elf")
@click.option("--boot", type=click.Path(dir_okay=False), metavar="BOOT.elf",
              help="Boot image for the internal flash (default: one generated for the board).")
@click.option("--loader", type=click.Path(dir_okay=False), metavar="FILE",
              help="Program the application through this loader (default: straight into the "
              "virtual chip).")
@click.option("--app-address", type=ADDRESS, metavar="ADDR",
              help="Where the application's vector table is (default: the window base).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True),
              default=10.0, show_default=True, metavar="S",
              help="End the run after S seconds (virtual or wall-clock time): exit 124.")
@fresh_board_options
@trace_options
@output_options
@handle_errors("run")
def run(app: str, boot: str | None, loader: str | None, app_address: int | None,
        timeout_s: float, quiet: bool, as_json: bool, **kw: Any) -> int:
    """Boot BOOT, program APP into the external flash and run it from the window.

    Ends with the application's SYS_EXIT status, 124 on --timeout, 1 on a fault.
    """
    from extflash import api, xip
    from extflash.report import record

    rec = recording("run", kw)
    board = api.resolve_board(kw.pop("board_name"), mcu=kw.pop("mcu"), chip=kw.pop("chip"),
                              bank=kw.pop("bank"), pins=kw.pop("pins"), hse=kw.pop("hse"))

    def show(source: str, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    outcome = xip.run_application(board, app, boot=boot, loader=loader, app_address=app_address,
                                  timeout_s=timeout_s, on_output=None if as_json else show,
                                  timing=kw.pop("timing"),
                                  on_prepared=rec.attach_run if rec else None)
    write_recording(rec, record.run_diagnosis(outcome),
                    f"{outcome.message} after {outcome.instructions} instructions")
    if as_json:
        data = {"reason": outcome.reason, "exit_code": outcome.exit_code,
                "pc": outcome.pc, "where": outcome.where, "seconds": outcome.seconds,
                "instructions": outcome.instructions, "window": outcome.window,
                "message": outcome.message, "details": list(outcome.details),
                "output": [{"source": s, "text": t} for s, t in outcome.output]}
        echo_json(envelope("run", data, ok=outcome.reason == "exit"))
        return outcome.exit_code
    if outcome.reason == "exit":
        if not quiet:
            click.echo(f"{outcome.message} after {outcome.instructions} instructions "
                       f"({outcome.seconds * 1e3:.3f} ms virtual)", err=True)
        return outcome.exit_code
    click.echo(f"error: {outcome.message}", err=True)
    for line in outcome.details:
        click.echo(f"  {line}", err=True)
    if outcome.window not in outcome.message:
        click.echo(f"  {outcome.window}", err=True)
    return outcome.exit_code
