"""``extflash blank-check``: check that a range holds only the erase value."""

from __future__ import annotations

from typing import Any

import click

from extflash.cli.common import ADDRESS, SIZE, emit, error_object, fail, handle_errors
from extflash.cli.options import board_options, loader_options, output_options


@click.command(name="blank-check")
@loader_options
@board_options
@click.option("--address", type=ADDRESS, metavar="ADDR", help="Start (default: the device start).")
@click.option("--size", type=SIZE, metavar="BYTES", help="Size (default: to the device end).")
@output_options
@handle_errors("blank-check")
def blank_check(
    address: int | None, size: int | None, quiet: bool, as_json: bool, **kw: Any
) -> None:
    """Check that a range holds only the erase value; exit 1 when it does not."""
    from extflash.cli.session import open_operation, renderer

    with renderer(quiet, as_json) as progress, open_operation(kw, progress) as s:
        start = s.geometry.start if address is None else address
        n = s.geometry.end - start if size is None else size
        first = s.blank_check(start, n)
    data = {"address": start, "size": n, "blank": first is None, "first_non_blank": first}
    if first is None:
        emit("blank-check", as_json, data, "blank")
        return
    message = f"not blank: first programmed byte at 0x{first:08X}"
    fail("blank-check", as_json, data, message, error_object("not-blank", message))
