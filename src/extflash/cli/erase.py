"""``extflash erase``: erase a range of sectors or the whole chip."""

from __future__ import annotations

from typing import Any

import click

from extflash.cli.common import ADDRESS, SIZE, emit, handle_errors
from extflash.cli.options import board_options, loader_options, output_options
from extflash.errors import InputError


@click.command()
@loader_options
@board_options
@click.option("--address", type=ADDRESS, metavar="ADDR", help="Start of the range to erase.")
@click.option("--size", type=SIZE, metavar="BYTES", help="Size of the range to erase.")
@click.option("--all", "whole_chip", is_flag=True, help="Erase the whole chip (MassErase).")
@click.option("--force", is_flag=True, help="Erase past the end of a smaller wired chip.")
@output_options
@handle_errors("erase")
def erase(
    address: int | None, size: int | None, whole_chip: bool, force: bool, quiet: bool,
    as_json: bool, **kw: Any
) -> None:
    """Erase a range (whole sectors, --address and --size) or, with --all, the whole device."""
    from extflash.cli.session import open_operation, renderer

    if whole_chip and (address is not None or size is not None):
        raise InputError("give either --address and --size, or --all")
    if not whole_chip and (address is None or size is None):
        raise InputError(
            "erase needs the range: --address and --size (nothing was erased)",
            hint="--all erases the whole chip",
        )
    with renderer(quiet, as_json) as progress, open_operation(kw, progress) as s:
        sectors = s.erase(address, size, force=force)
    first, last = sectors[0], sectors[-1]
    emit(
        "erase",
        as_json,
        {"sectors": len(sectors), "address": first.address, "size": last.end - first.address},
        f"erased {len(sectors)} sector(s): 0x{first.address:08X}..0x{last.end - 1:08X}",
    )
