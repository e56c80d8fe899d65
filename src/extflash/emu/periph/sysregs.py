"""Register tables of the system peripherals, loaded from ``extflash/data/regs/<family>.toml``.

Those files are generated at development time from ST's SVDs by ``scripts/gen_regs.py``; they
give every register's offset, reset value and fields, and every peripheral's base address.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any

from extflash.emu.regmodel import Access, Field, Reg


@functools.cache
def _data(family_id: str) -> dict[str, Any]:
    path = resources.files("extflash") / "data" / "regs" / f"{family_id}.toml"
    if not path.is_file():
        return {}
    return tomllib.loads(path.read_text(encoding="utf-8"))


def registers(family_id: str, periph: str) -> tuple[Reg, ...]:
    """The register table of ``periph`` (``RCC``, ``PWR``, ``FLASH``, ``SYSCFG``)."""
    out = []
    for r in _data(family_id).get(periph, []):
        fields = tuple(Field(n, lsb, w, Access(a)) for n, lsb, w, a in r["fields"])
        out.append(Reg(r["name"], r["offset"], r["reset"], fields, Access(r["access"])))
    return tuple(out)


def bases(family_id: str) -> dict[str, tuple[int, int]]:
    """Every peripheral of the family: name -> (base address, size of its register block)."""
    return {name: (int(v[0]), int(v[1])) for name, v in _data(family_id).get("bases", {}).items()}
