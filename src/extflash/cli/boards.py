"""``extflash boards``: list the shipped board descriptions."""

from __future__ import annotations

from typing import Any

import click

from extflash.cli.common import emit, handle_errors


def _where(mem: Any) -> str:
    """Where a memory sits: ``QUADSPI bank 1``, ``OCTOSPI1 port 2``, ``OCTOSPI1`` (no IOM)."""
    if mem.controller == "QUADSPI":
        return f"QUADSPI {'dual-flash' if mem.bank == 'dual' else f'bank {mem.bank}'}"
    return mem.controller if mem.port is None else f"{mem.controller} port {mem.port}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors("boards")
def boards(as_json: bool) -> None:
    """List the shipped board descriptions: MCU, memory, controller and port."""
    from extflash import board as board_mod

    rows = []
    for name in board_mod.list_boards():
        b = board_mod.load(name)
        memories = [
            {"chip": m.chip, "controller": m.controller, "port": m.port, "bank": str(m.bank),
             "where": _where(m)}
            for m in b.memories
        ]
        rows.append({"name": name, "mcu": b.mcu_name, **memories[0], "memories": memories,
                     "description": b.description, "notes": list(b.caveats)})
    text = "\n".join(
        f"{r['name']:<24} {r['mcu']:<16} {r['chip']:<14} {r['where']:<18} {r['description']}"
        for r in rows
    )
    emit("boards", as_json, {"boards": rows}, text)
