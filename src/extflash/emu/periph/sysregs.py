"""Register tables of the system peripherals, loaded from ``extflash/data/regs/<family>.toml``.

Those files are generated at development time from ST's SVDs by ``scripts/gen_regs.py``; they
give every register's offset, reset value and fields, and every peripheral's base address.
"""

from __future__ import annotations

import functools

from extflash.emu.regmodel import Access, Field, Reg
from extflash.regdata import table as _data


@functools.cache
def registers(family_id: str, periph: str) -> tuple[Reg, ...]:
    """The register table of ``periph`` (``RCC``, ``PWR``, ``FLASH``, ``SYSCFG``), made once per
    process: every instance (a part has up to a dozen USARTs) shares the immutable table."""
    out = []
    for r in _data(family_id).get(periph, []):
        fields = tuple(Field(n, lsb, w, Access(a)) for n, lsb, w, a in r["fields"])
        out.append(Reg(r["name"], r["offset"], r["reset"], fields, Access(r["access"])))
    return tuple(out)


def bases(family_id: str) -> dict[str, tuple[int, int]]:
    """Every peripheral of the family: name -> (base address, size of its register block)."""
    return {name: (int(v[0]), int(v[1])) for name, v in _data(family_id).get("bases", {}).items()}
