"""A register model driven by the SVD table plus small *status rules*.

Most bring-up status bits on STM32 simply follow a control bit (``HSEON`` -> ``HSERDY``,
``ODEN`` -> ``ODRDY``) or are always set once the hardware is stable (``VOSRDY``). Instead of a
hook per bit, a model lists :class:`Follow` and :class:`Always` rules and re-applies them after
every write. The status bits become true at once (no start-up delay is modelled: loaders poll
them with timeouts far longer than the real few microseconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from extflash.emu.regmodel import Peripheral, Reg


@dataclass(frozen=True)
class Follow:
    """``dst_reg.dst_field`` mirrors ``src_reg.src_field``."""

    src_reg: str
    src_field: str
    dst_reg: str
    dst_field: str


@dataclass(frozen=True)
class Always:
    reg: str
    field: str
    value: int = 1


def on_ready_pairs(registers: Iterable[Reg]) -> tuple[Follow, ...]:
    """``<X>ON`` -> ``<X>RDY`` (and ``<X>EN`` -> ``<X>RDY``/``READY``) pairs within one register."""
    rules = []
    for r in registers:
        names = {f.name for f in r.fields}
        for f in r.fields:
            for suffix in ("ON", "EN"):
                if f.name.endswith(suffix):
                    stem = f.name[: -len(suffix)]
                    for ready in (f"{stem}RDY", f"{stem}READY", "READY" if stem == "" else ""):
                        if ready and ready in names:
                            rules.append(Follow(r.name, f.name, r.name, ready))
    return tuple(rules)


class TableModel(Peripheral):
    """Registers from a table; ``rules`` keep the derived status bits consistent."""

    def __init__(self, name: str, base: int, registers: tuple[Reg, ...],
                 rules: Iterable[Follow | Always] = ()) -> None:
        super().__init__(name, base, registers)
        self.rules = tuple(r for r in rules if self._applicable(r))
        self.apply_rules()

    def _has(self, reg: str, field: str) -> bool:
        r = self.by_name.get(reg)
        return r is not None and any(f.name == field for f in r.fields)

    def _applicable(self, rule: Follow | Always) -> bool:
        if isinstance(rule, Always):
            return self._has(rule.reg, rule.field)
        return self._has(rule.src_reg, rule.src_field) and self._has(rule.dst_reg, rule.dst_field)

    def reset(self) -> None:
        super().reset()
        self.apply_rules()

    def apply_rules(self) -> None:
        for rule in self.rules:
            if isinstance(rule, Always):
                self.set_field(rule.reg, rule.field, rule.value)
            else:
                self.set_field(rule.dst_reg, rule.dst_field,
                               self.get_field(rule.src_reg, rule.src_field))

    def write(self, offset: int, size: int, value: int) -> None:
        super().write(offset, size, value)
        self.apply_rules()
