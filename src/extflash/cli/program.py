"""``extflash program``: program an image into external flash."""

from __future__ import annotations

from typing import Any

import click

from extflash.cli.common import ADDRESS, emit, handle_errors, read_ahead
from extflash.cli.options import board_options, loader_options, output_options


@click.command()
@click.argument("image_path", metavar="IMAGE", type=click.Path(exists=True, dir_okay=False))
@loader_options
@board_options
@click.option("--address", type=ADDRESS, metavar="ADDR", help="Load address of a raw binary image.")
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Read back and compare after programming.",
)
@click.option(
    "--skip-unchanged",
    is_flag=True,
    help="Compare each sector's CRC-32 first; reprogram only sectors that differ.",
)
@click.option(
    "--no-preserve",
    is_flag=True,
    help="Do not keep the bytes of partly covered sectors that the image leaves out.",
)
@click.option("--force", is_flag=True, help="Write past the end of a smaller wired chip.")
@output_options
@handle_errors("program")
def program(
    image_path: str,
    address: int | None,
    verify: bool,
    skip_unchanged: bool,
    no_preserve: bool,
    force: bool,
    quiet: bool,
    as_json: bool,
    **kw: Any,
) -> None:
    """Program IMAGE (ELF, Intel HEX, S-record, or binary with --address) into external flash."""
    image_bytes = read_ahead(image_path)
    from extflash import api
    from extflash.cli.session import open_operation, renderer

    img = api.load_image(image_path, address=address, data=image_bytes())
    with renderer(quiet, as_json) as progress, open_operation(kw, progress) as s:
        result = s.program(
            img, verify=verify, skip_unchanged=skip_unchanged, preserve=not no_preserve,
            force=force,
        )
    r = result.report
    data = {
        "image": image_path,
        **r.as_dict(),
        "skipped_internal": [
            {"address": c.address, "size": len(c.data)} for c in result.skipped_outside
        ],
    }
    text = (
        f"programmed {r.image_bytes} bytes into {r.device}: {len(r.sectors_written)} sectors "
        f"written, {len(r.sectors_skipped)} unchanged, "
        f"{'verified' if r.verified else 'not verified'} "
        f"({r.loader_calls} loader calls, {r.target_time_s:.3f} s target time)"
    )
    for c in result.skipped_outside:
        text += f"\nnot programmed (internal flash): 0x{c.address:08X}..0x{c.end - 1:08X}"
    emit("program", as_json, data, text)
