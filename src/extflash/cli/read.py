"""``extflash read``: read a range of the external flash into a file."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import click

from extflash.cli.common import ADDRESS, SIZE, check_writable, emit, handle_errors
from extflash.cli.options import board_options, loader_options, output_options


@click.command()
@loader_options
@board_options
@click.option("--address", type=ADDRESS, required=True, metavar="ADDR", help="Start address.")
@click.option("--size", type=SIZE, required=True, metavar="BYTES", help="Number of bytes.")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="File to write."
)
@output_options
@handle_errors("read")
def read(address: int, size: int, output: str, quiet: bool, as_json: bool, **kw: Any) -> None:
    """Read a range of the external flash into a file."""
    from extflash.cli.session import open_operation, renderer

    check_writable(output, "-o")
    with renderer(quiet, as_json) as progress, open_operation(kw, progress) as s:
        data = s.read(address, size)
    Path(output).write_bytes(data)
    crc = zlib.crc32(data)
    emit(
        "read",
        as_json,
        {"address": address, "size": size, "output": output, "crc32": crc},
        f"read {size} bytes from 0x{address:08X} into {output} (CRC-32 0x{crc:08X})",
    )
