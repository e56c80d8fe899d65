"""``extflash info``: describe a loader."""

from __future__ import annotations

import click

from extflash.cli.common import emit, handle_errors


@click.command()
@click.argument("loader_path", metavar="LOADER", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (extflash.info/1).")
@handle_errors("info")
def info(loader_path: str, as_json: bool) -> None:
    """Describe a .stldr or FLM loader: device, sectors, entry points, RAM use, family."""
    from extflash import loader

    data = loader.info_dict(loader.open(loader_path))
    emit("info", as_json, data, "" if as_json else "\n".join(loader.render_info(data)))
