"""``extflash boards``: list the shipped board descriptions."""

from __future__ import annotations

import click

from extflash.cli.common import emit, handle_errors


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors("boards")
def boards(as_json: bool) -> None:
    """List the shipped board descriptions."""
    from extflash import board as board_mod

    rows = []
    for name in board_mod.list_boards():
        b = board_mod.load(name)
        mem = b.memories[0]
        rows.append(
            {
                "name": name,
                "mcu": b.mcu_name,
                "chip": mem.chip,
                "bank": str(mem.bank),
                "description": b.description,
            }
        )
    text = "\n".join(
        f"{r['name']:<24} {r['mcu']:<14} {r['chip']:<14} bank {r['bank']:<5} {r['description']}"
        for r in rows
    )
    emit("boards", as_json, {"boards": rows}, text)
