"""The register-table data files (``extflash/data/regs/<family>.toml``) as plain data.

Generated at development time from ST's SVDs by ``scripts/gen_regs.py``. The virtual board
builds its register models from them (:mod:`extflash.emu.periph.sysregs`); loader inspection
reads them here without importing the emulator.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from extflash import cache


@functools.cache
def table(family_id: str) -> dict[str, Any]:
    """The whole data file of ``family_id`` ({} when there is none)."""
    path = resources.files("extflash") / "data" / "regs" / f"{family_id}.toml"
    if not path.is_file():
        return {}
    return cache.parse_toml(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class RegisterName:
    """A register's name, offset and field names."""

    name: str
    offset: int
    fields: tuple[str, ...]


def register_names(family_id: str, periph: str) -> tuple[RegisterName, ...]:
    return tuple(RegisterName(r["name"], int(r["offset"]), tuple(f[0] for f in r["fields"]))
                 for r in table(family_id).get(periph, []))
