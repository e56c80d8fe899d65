"""``extflash test``: the conformance test of a loader on virtual boards."""

from __future__ import annotations

from typing import Any

import click

from extflash.cli.common import (
    SIZE,
    board_from_options,
    emit,
    error_object,
    fail,
    handle_errors,
)
from extflash.cli.options import fresh_board_options, output_options, trace_options
from extflash.cli.session import recording, write_recording


@click.command(name="test")
@click.argument("loader_path", metavar="LOADER", type=click.Path(exists=True, dir_okay=False))
@fresh_board_options
@click.option(
    "--stack-size", type=SIZE, metavar="BYTES", help="Stack given to the loader (default 1 KiB)."
)
@click.option("--buffer-size", type=SIZE, metavar="BYTES", help="RAM buffer per Write call.")
@trace_options
@output_options
@handle_errors("test")
def conformance_test(
    loader_path: str,
    stack_size: int | None,
    buffer_size: int | None,
    quiet: bool,
    as_json: bool,
    **kw: Any,
) -> None:
    """Run LOADER through the situations hosts put it in, on a virtual board; exit 1 on failure."""
    from extflash import conformance
    from extflash.report import record
    from extflash.runner import DriverOptions

    rec = recording("test", kw)
    board = board_from_options(kw)
    options = DriverOptions(buffer_size=buffer_size, stack_size=stack_size)

    def progress(line: str) -> None:
        click.echo(line, err=True)

    report = conformance.run(
        loader_path,
        board,
        timing=kw.pop("timing"),
        options=options,
        progress=None if quiet or as_json else progress,
        on_rig=rec.attach if rec else None,
    )
    write_recording(rec, record.conformance_diagnosis(report), report.verdict())
    data = report.as_dict()
    text = "" if as_json else "\n".join(report.render())
    if report.passed:
        emit("test", as_json, data, text)
        return
    fail("test", as_json, data, text, error_object("conformance", "the loader failed checks"))
