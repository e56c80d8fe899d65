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
    """A register field that always reads a fixed value."""

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
        # the rules as bit operations on ``values`` (they run after every write: an RCC write
        # of a clock bring-up applies a dozen of them)
        self._compiled = tuple(self._compile(r) for r in self.rules)
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

    def _compile(self, rule: Follow | Always) -> tuple[int, int, int, int, int, int]:
        """(source offset, source lsb, source width mask, destination offset, destination
        lsb, destination mask); an Always rule has no source (offset -1, the value as mask)."""
        if isinstance(rule, Always):
            reg = self.by_name[rule.reg]
            f = reg.field(rule.field)
            return -1, 0, rule.value, reg.offset, f.lsb, f.mask
        src, dst = self.by_name[rule.src_reg], self.by_name[rule.dst_reg]
        sf, df = src.field(rule.src_field), dst.field(rule.dst_field)
        return src.offset, sf.lsb, (1 << sf.width) - 1, dst.offset, df.lsb, df.mask

    def apply_rules(self) -> None:
        """Set every rule's destination field (in rule order, so a rule sees what an earlier
        one set)."""
        values = self.values
        for src, src_lsb, src_mask, dst, dst_lsb, dst_mask in self._compiled:
            bits = src_mask if src < 0 else (values[src] >> src_lsb) & src_mask
            values[dst] = (values[dst] & ~dst_mask) | ((bits << dst_lsb) & dst_mask)

    def write(self, offset: int, size: int, value: int) -> None:
        super().write(offset, size, value)
        self.apply_rules()
