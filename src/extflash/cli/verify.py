"""``extflash verify``: compare the external flash with an image."""

from __future__ import annotations

from typing import Any

import click

from extflash.cli.common import ADDRESS, emit, error_object, fail, handle_errors, read_ahead
from extflash.cli.options import board_options, loader_options, output_options


@click.command()
@click.argument("image_path", metavar="IMAGE", type=click.Path(exists=True, dir_okay=False))
@loader_options
@board_options
@click.option("--address", type=ADDRESS, metavar="ADDR", help="Load address of a raw binary image.")
@output_options
@handle_errors("verify")
def verify(image_path: str, address: int | None, quiet: bool, as_json: bool, **kw: Any) -> None:
    """Compare the external flash with IMAGE; exit 1 when they differ."""
    image_bytes = read_ahead(image_path)
    from extflash import api
    from extflash.cli.session import open_operation, renderer

    img = api.load_image(image_path, address=address, data=image_bytes())
    with renderer(quiet, as_json) as progress, open_operation(kw, progress) as s:
        mismatches = s.verify(img)
    data = {
        "match": not mismatches,
        "mismatches": [
            {"address": m.first_address, "differing_bytes": m.differing_bytes}
            for _, m in mismatches
        ],
    }
    if not mismatches:
        emit("verify", as_json, data, f"{image_path}: flash matches ({img.size} bytes)")
        return
    lines = [f"mismatch: {m.describe()}" for _, m in mismatches]
    fail("verify", as_json, data, "\n".join(lines), error_object("mismatch", lines[0]))
