"""Declarative register models.

A peripheral declares its registers as a table (:class:`Reg` with :class:`Field` entries: bit
range and access mode). One dispatcher, :meth:`Peripheral.read` / :meth:`Peripheral.write`,
serves every table. Behaviour lives in small named hooks next to the table:

* ``def on_write_CR(self, old: int, new: int) -> None`` runs after a write to CR has been merged;
* ``def on_read_SR(self, value: int) -> int`` may replace the value a read returns.

Accesses to offsets with no register, and writes of 1 to reserved bits, are reported through
``Peripheral.unmodelled`` (a callback the machine points at its log/trace), never silently
dropped. Byte and halfword accesses are merged into the 32-bit register they fall in.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class Access(enum.Enum):
    RW = "rw"
    RO = "ro"  # writes ignored
    WO = "wo"  # reads return 0
    W1C = "w1c"  # writing 1 clears the bit
    SC = "sc"  # self-clearing: the hook sees the 1, then the bit reads 0


@dataclass(frozen=True)
class Field:
    """A register field: position, width and access."""

    name: str
    lsb: int
    width: int = 1
    access: Access = Access.RW

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    def get(self, value: int) -> int:
        return (value >> self.lsb) & ((1 << self.width) - 1)


@dataclass(frozen=True)
class Reg:
    """A 32-bit register: name, byte offset, reset value and fields.

    A register without fields is a plain 32-bit value with the register-wide ``access``.
    """

    name: str
    offset: int
    reset: int = 0
    fields: tuple[Field, ...] = ()
    access: Access = Access.RW

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")

    def masks(self) -> tuple[int, int, int, int, int]:
        """(writable, write-1-to-clear, self-clearing, write-only, reserved) bit masks."""
        if not self.fields:
            full = 0xFFFFFFFF
            return (
                full if self.access in (Access.RW, Access.WO, Access.SC) else 0,
                full if self.access is Access.W1C else 0,
                full if self.access is Access.SC else 0,
                full if self.access is Access.WO else 0,
                0,
            )
        writable = w1c = sc = wo = covered = 0
        for f in self.fields:
            covered |= f.mask
            if f.access in (Access.RW, Access.WO, Access.SC):
                writable |= f.mask
            if f.access is Access.W1C:
                w1c |= f.mask
            if f.access is Access.SC:
                sc |= f.mask
            if f.access is Access.WO:
                wo |= f.mask
        return writable, w1c, sc, wo, 0xFFFFFFFF & ~covered

    def decode(self, value: int) -> str:
        """``EN=1 PRESCALER=3`` style text of the non-zero fields (all fields when none set)."""
        if not self.fields:
            return f"0x{value:08X}"
        parts = [f"{f.name}={f.get(value):#x}" if f.width > 1 else f"{f.name}={f.get(value)}"
                 for f in self.fields if f.get(value)]
        return " ".join(parts) if parts else "0"


def fields(*specs: tuple) -> tuple[Field, ...]:
    """Compact field declarations.

    ``fields(("EN", 0), ("PRESCALER", 24, 8), ("TCF", 1, 1, Access.RO))``
    """
    out = []
    for spec in specs:
        name, lsb, *rest = spec
        width = rest[0] if rest else 1
        access = rest[1] if len(rest) > 1 else Access.RW
        out.append(Field(name, lsb, width, access))
    return tuple(out)


UnmodelledCallback = Callable[["Peripheral", str, int, int, int], None]


# id(table) -> (the table, its masks by offset): the instances of one model share one table
_MASKS: dict[int, tuple[Iterable[Reg], dict[int, tuple[int, int, int, int, int]]]] = {}
_MASKS_KEPT = 512  # tables made per instance (a GPIO port's resets) pass through: bounded


def _table_masks(table: Iterable[Reg]) -> dict[int, tuple[int, int, int, int, int]]:
    """offset -> :meth:`Reg.masks` for a register table, worked out once per table object (a
    tuple: a model's REGISTERS, or a family's table from sysregs); read only."""
    hit = _MASKS.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1]
    masks = {r.offset: r.masks() for r in table}
    if isinstance(table, tuple):
        if len(_MASKS) >= _MASKS_KEPT:
            _MASKS.clear()  # the shared tables come back at their next use
        _MASKS[id(table)] = (table, masks)  # kept alive here, so the id stays its own
    return masks


class Peripheral:
    """Base class of register-modelled peripherals.

    Subclasses set ``REGISTERS`` (a tuple of :class:`Reg`) and define hooks. ``size`` is the
    span of the register block in bytes (for mapping); ``name`` is the instance name.
    """

    REGISTERS: tuple[Reg, ...] = ()
    size = 0x400

    def __init__(self, name: str, base: int, registers: Iterable[Reg] | None = None) -> None:
        self.name = name
        self.base = base
        table = registers if registers is not None else self.REGISTERS
        self.regs: dict[int, Reg] = {r.offset: r for r in table}
        self.by_name: dict[str, Reg] = {r.name: r for r in self.regs.values()}
        self.values: dict[int, int] = {r.offset: r.reset for r in self.regs.values()}
        self._masks = _table_masks(table)
        self._write_hooks: dict[int, Callable[[int, int], None]] = {}
        self._read_hooks: dict[int, Callable[[int], int]] = {}
        for off, r in self.regs.items():
            wh = getattr(self, f"on_write_{r.name}", None)
            if wh is not None:
                self._write_hooks[off] = wh
            rh = getattr(self, f"on_read_{r.name}", None)
            if rh is not None:
                self._read_hooks[off] = rh
        self.unmodelled: UnmodelledCallback | None = None
        self.tracer: Callable[[Peripheral, str, int, int, int], None] | None = None

    # -- direct state access for models and diagnostics -------------------------------------
    def __getitem__(self, name: str) -> int:
        return self.values[self.by_name[name].offset]

    def __setitem__(self, name: str, value: int) -> None:
        """Set a register's raw value (model side: status flags, ready bits)."""
        self.values[self.by_name[name].offset] = value & 0xFFFFFFFF

    def get_field(self, reg: str, field_name: str) -> int:
        r = self.by_name[reg]
        return r.field(field_name).get(self.values[r.offset])

    def set_field(self, reg: str, field_name: str, value: int) -> None:
        r = self.by_name[reg]
        f = r.field(field_name)
        old = self.values[r.offset]
        self.values[r.offset] = (old & ~f.mask) | ((value << f.lsb) & f.mask)

    def reset(self) -> None:
        self.values = {r.offset: r.reset for r in self.regs.values()}

    # -- bus side ---------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        word = offset & ~3
        reg = self.regs.get(word)
        if reg is None:
            self._report("read", offset, size, 0)
            return 0
        value = self.values[word]
        hook = self._read_hooks.get(word)
        if hook is not None:
            value = hook(value)
        value &= ~self._masks[word][3]  # write-only bits read as 0
        if self.tracer is not None:
            self.tracer(self, "r", offset, size, value)
        shift = (offset & 3) * 8
        return (value >> shift) & ((1 << (size * 8)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        word = offset & ~3
        reg = self.regs.get(word)
        if reg is None:
            self._report("write", offset, size, value)
            return
        shift = (offset & 3) * 8
        lane = ((1 << (size * 8)) - 1) << shift
        value = (value << shift) & lane
        writable, w1c, sc, _wo, reserved = self._masks[word]
        if value & reserved:
            self._report("write-reserved", offset, size, value & reserved)
        old = self.values[word]
        new = (old & ~(writable & lane)) | (value & writable)
        new &= ~(value & w1c)
        self.values[word] = new
        if self.tracer is not None:
            self.tracer(self, "w", offset, size, value)
        hook = self._write_hooks.get(word)
        if hook is not None:
            hook(old, new)
        if sc:
            self.values[word] &= ~sc

    def _report(self, kind: str, offset: int, size: int, value: int) -> None:
        if self.unmodelled is not None:
            self.unmodelled(self, kind, offset, size, value)

    def describe(self, offset: int) -> str:
        """``QUADSPI_SR`` style name of the register at ``offset`` (or ``QUADSPI+0x40``)."""
        reg = self.regs.get(offset & ~3)
        return f"{self.name}_{reg.name}" if reg else f"{self.name}+0x{offset:X}"
