"""``extflash chips``: list the flash chips extflash knows."""

from __future__ import annotations

import click

from extflash.cli.common import emit, handle_errors


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors("chips")
def chips(as_json: bool) -> None:
    """List the flash chips the virtual board and the generator know."""
    from extflash import chips as chip_db

    specs = chip_db.all()
    rows = [
        {"name": c.name, "aliases": list(c.aliases), "vendor": c.vendor,
         "jedec_id": c.jedec_id.hex().upper(), "size": c.size,
         "octal": sorted(set(c.octal.modes.values()) - {"spi"}) if c.octal else []}
        for c in specs
    ]
    text = "\n".join(
        f"{c.name:<14} {c.vendor:<10} {c.jedec_id.hex().upper():<8} {c.size >> 20:>5} MiB"
        for c in specs
    )
    emit("chips", as_json, {"chips": rows}, text)
