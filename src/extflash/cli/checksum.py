"""``extflash checksum``: CRC-32 of a range of the external flash."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import click

from extflash.cli.common import ADDRESS, SIZE, emit, handle_errors
from extflash.cli.options import board_options, loader_options, output_options
from extflash.errors import ImageError

if TYPE_CHECKING:
    from extflash.api import Session

PIECE = 1 << 20  # progress (and a chance to stop) once per MiB


def crc32_combine(first: int, second: int, second_size: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B): the CRC is affine in the message, so
    crc(A+B) = crc(A+zeros) ^ crc(B) ^ crc(zeros), with zeros as long as B."""
    zeros = bytes(second_size)
    return zlib.crc32(zeros, first) ^ second ^ zlib.crc32(zeros)


def checksum_in_pieces(s: Session, start: int, size: int) -> int:
    """The range's CRC-32, computed a piece at a time so progress (and Ctrl-C) keep up."""
    geometry = s.geometry
    if not geometry.contains(start, size):
        raise ImageError(
            f"range 0x{start:08X}+0x{size:X} is outside {geometry.name} "
            f"(0x{geometry.start:08X}..0x{geometry.end - 1:08X})"
        )
    crc, done = 0, 0
    while done < size:
        n = min(PIECE, size - done)
        crc = crc32_combine(crc, s.checksum(start + done, n), n) if done else s.checksum(start, n)
        done += n
        s.programmer.progress("checksum", done, size)
    return crc


@click.command()
@loader_options
@board_options
@click.option("--address", type=ADDRESS, metavar="ADDR", help="Start (default: the device start).")
@click.option("--size", type=SIZE, metavar="BYTES", help="Size (default: to the device end).")
@output_options
@handle_errors("checksum")
def checksum(address: int | None, size: int | None, quiet: bool, as_json: bool, **kw: Any) -> None:
    """CRC-32 (IEEE) of a range of the external flash."""
    from extflash.cli.session import open_operation, renderer

    with renderer(quiet, as_json) as progress, open_operation(kw, progress) as s:
        start = s.geometry.start if address is None else address
        n = s.geometry.end - start if size is None else size
        crc = checksum_in_pieces(s, start, n)
    emit(
        "checksum",
        as_json,
        {"address": start, "size": n, "crc32": crc},
        f"CRC-32 of 0x{start:08X}..0x{start + n - 1:08X}: 0x{crc:08X}",
    )
