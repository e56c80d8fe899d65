"""Clock-tree plans for the generated loaders: a PLL setting within the family's limits and the
register steps (from the ``[generator]`` table of ``data/families/<family>.toml``) that apply it.

The loader replays the steps as a table of read-modify-write and wait operations, so a family's
bring-up is data: a new family is a new section in the data file, not new C.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
import operator
from dataclasses import dataclass
from typing import Any

from extflash import mcu
from extflash.errors import ConfigError


@dataclass(frozen=True)
class RegOp:
    """One loader step: write ``(reg & ~mask) | value`` or wait until ``(reg & mask) == value``."""

    addr: int
    mask: int
    value: int
    wait: bool
    comment: str


@dataclass(frozen=True)
class Field:
    """A register field the clock plan writes."""

    addr: int
    shift: int
    width: int

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.shift


@dataclass(frozen=True)
class PllLimits:
    """A family's PLL limits: dividers, multipliers, reference and VCO ranges."""

    m: tuple[int, int]
    ref_hz: tuple[int, int]
    n: tuple[int, int]
    vco_hz: tuple[int, int]
    div: tuple[int, ...]
    src_hsi: int
    src_hse: int
    rge: tuple[tuple[int, int], ...]  # (lowest input Hz, range code), ascending


@dataclass(frozen=True)
class FamilyClock:
    """The generator's facts about one family (see the data file for their sources)."""

    family_id: str
    interface: str  # "quadspi" or "ospi" (OCTOSPI and XSPI)
    sysclk_hz: int
    hclk_div: int
    hsi_hz: int
    gpio_enable: Field
    fields: dict[str, Field]
    steps: tuple[str, ...]
    hse_range_hz: tuple[int, int] | None = None
    flash_ws_max_hz: tuple[int, ...] = ()
    qspi_enable: Field | None = None
    pll: PllLimits | None = None  # None: the loader runs from HSI, no PLL plan
    controller_enable: dict[str, Field] = dataclasses.field(default_factory=dict)
    io_manager_enable: Field | None = None
    # bits set to 1 before the pins are driven: "vddio2" (a pin on port G), "port<n>" (the
    # IO-manager port's supply), "low_voltage_port<n>" (1.8 V high-speed I/O for a memory below 2 V)
    supplies: dict[str, tuple[Field, ...]] = dataclasses.field(default_factory=dict)
    delay_block_bypass: bool = False  # OCTOSPI DCR1.DLYBYP exists and is set

    def enable(self, controller: str) -> Field:
        if self.qspi_enable is not None and controller == "QUADSPI":
            return self.qspi_enable
        if controller not in self.controller_enable:
            raise ConfigError(f"{self.family_id}: no clock-enable bit for {controller} in the "
                              "family's generator data")
        return self.controller_enable[controller]


@dataclass(frozen=True)
class PllSetting:
    """The PLL setting a clock plan chose."""

    source: str  # "hsi" or "hse"
    input_hz: int
    m: int
    n: int
    div: int

    @property
    def output_hz(self) -> int:
        return self.input_hz * self.n // (self.m * self.div)


@dataclass(frozen=True)
class ClockPlan:
    """The clock tree a generated loader sets up, and the register steps that do it."""

    pll: PllSetting | None  # None: SYSCLK is HSI
    sysclk_hz: int
    hclk_hz: int
    latency: int
    ops: tuple[RegOp, ...]

    @property
    def qspi_kernel_hz(self) -> int:
        return self.hclk_hz  # every QUADSPI family here clocks the kernel from HCLK


def _field(text: str) -> Field:
    addr, shift, width = text.split()
    return Field(int(addr, 0), int(shift), int(width))


@functools.cache
def _data() -> dict[str, Any]:
    """The ``[generator]`` table of every family file that has one, by family id."""
    return {fam.id: fam.raw["generator"] for fam in mcu.families().values()
            if "generator" in fam.raw}


def supported_families() -> tuple[str, ...]:
    return tuple(sorted(_data()))


def family_clock(family_id: str) -> FamilyClock:
    data = _data()
    if family_id not in data:
        raise ConfigError(f"the loader generator does not support family {family_id} yet",
                          hint=f"supported: {', '.join(supported_families())}")
    d = data[family_id]
    p = d.get("pll")
    hse = d.get("hse_range_hz")
    return FamilyClock(
        family_id=family_id,
        interface=d["interface"],
        sysclk_hz=int(d["sysclk_hz"]),
        hclk_div=int(d["hclk_div"]),
        hsi_hz=int(d["hsi_hz"]),
        hse_range_hz=(int(hse[0]), int(hse[1])) if hse else None,
        flash_ws_max_hz=tuple(int(x) for x in d.get("flash_ws_max_hz", ())),
        gpio_enable=_field(d["gpio_enable"]),
        qspi_enable=_field(d["qspi_enable"]) if "qspi_enable" in d else None,
        pll=None if p is None else PllLimits(
            m=(p["m"][0], p["m"][1]),
            ref_hz=(p["ref_hz"][0], p["ref_hz"][1]),
            n=(p["n"][0], p["n"][1]),
            vco_hz=(p["vco_hz"][0], p["vco_hz"][1]),
            div=tuple(p["div"]),
            src_hsi=int(p["src_hsi"]),
            src_hse=int(p["src_hse"]),
            rge=tuple((int(lo), int(code)) for lo, code in p.get("rge", [])),
        ),
        fields={name: _field(spec) for name, spec in d["fields"].items()},
        steps=tuple(d["clock"]["steps"]),
        controller_enable={name: _field(spec)
                           for name, spec in d.get("controller_enable", {}).items()},
        io_manager_enable=_field(d["io_manager_enable"]) if "io_manager_enable" in d else None,
        supplies={name: tuple(_field(spec) for spec in specs)
                  for name, specs in d.get("supplies", {}).items()},
        delay_block_bypass=bool(d.get("delay_block_bypass", False)),
    )


def solve_pll(limits: PllLimits, source: str, input_hz: int, target_hz: int) -> PllSetting | None:
    """The exact PLL setting with the highest reference frequency (least jitter), if any."""
    best: PllSetting | None = None
    for m in range(limits.m[0], limits.m[1] + 1):
        if input_hz % m or not limits.ref_hz[0] <= input_hz // m <= limits.ref_hz[1]:
            continue
        ref = input_hz // m
        for div in limits.div:
            vco = target_hz * div
            if vco % ref or not limits.vco_hz[0] <= vco <= limits.vco_hz[1]:
                continue
            n = vco // ref
            if limits.n[0] <= n <= limits.n[1]:
                candidate = PllSetting(source, input_hz, m, n, div)
                if best is None or ref > best.input_hz // best.m:
                    best = candidate
                break
    return best


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.floordiv}


def _eval(expr: str, variables: dict[str, int]) -> int:
    """Evaluate a step value: integers, plan variables and + - * / (integer division)."""

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in variables:
            return variables[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        raise ConfigError(f"clock step value '{expr}' is not understood")

    return walk(ast.parse(expr, mode="eval"))


def _steps_to_ops(fam: FamilyClock, source: str, variables: dict[str, int]) -> list[RegOp]:
    ops: list[RegOp] = []
    for step in fam.steps:
        text = step
        if ":" in text:
            only, _, text = text.partition(":")
            if only.strip() != source:
                continue
        verb, name, expr = text.split()
        fld = fam.fields[name]
        value = _eval(expr, variables)
        if not 0 <= value < (1 << fld.width):
            raise ConfigError(f"{fam.family_id}: clock step '{step}' gives {value}, "
                              f"which does not fit {name}")
        ops.append(RegOp(fld.addr, fld.mask, value << fld.shift, verb == "wait",
                         f"{verb} {name} = {value}"))
    return ops


def merge_writes(ops: list[RegOp]) -> tuple[RegOp, ...]:
    """Fold consecutive writes to one register into a single read-modify-write."""
    merged: list[RegOp] = []
    for op in ops:
        prev = merged[-1] if merged else None
        if prev and not op.wait and not prev.wait and prev.addr == op.addr:
            merged[-1] = RegOp(op.addr, prev.mask | op.mask, (prev.value & ~op.mask) | op.value,
                               False, f"{prev.comment}, {op.comment.removeprefix('set ')}")
        else:
            merged.append(op)
    return tuple(merged)


def _plan_hsi(fam: FamilyClock) -> ClockPlan:
    """No PLL: SYSCLK from HSI, the steps only select it and the prescalers (the HSE, if any,
    is not used)."""
    hclk = fam.sysclk_hz // fam.hclk_div
    ops = merge_writes(_steps_to_ops(fam, "hsi", {"latency": 0}))
    return ClockPlan(pll=None, sysclk_hz=fam.sysclk_hz, hclk_hz=hclk, latency=0, ops=ops)


def plan_clock(fam: FamilyClock, hse_hz: int | None) -> ClockPlan:
    """The PLL setting and register steps bringing the family to its target clock."""
    if fam.pll is None:
        return _plan_hsi(fam)
    if hse_hz:
        assert fam.hse_range_hz is not None
        lo, hi = fam.hse_range_hz
        if not lo <= hse_hz <= hi:
            raise ConfigError(f"HSE {hse_hz / 1e6:g} MHz is outside the {fam.family_id} "
                              f"oscillator range {lo / 1e6:g}-{hi / 1e6:g} MHz")
        source, input_hz, src = "hse", hse_hz, fam.pll.src_hse
    else:
        source, input_hz, src = "hsi", fam.hsi_hz, fam.pll.src_hsi
    pll = solve_pll(fam.pll, source, input_hz, fam.sysclk_hz)
    if pll is None:
        raise ConfigError(f"no PLL setting reaches {fam.sysclk_hz / 1e6:g} MHz from "
                          f"{source.upper()} {input_hz / 1e6:g} MHz on {fam.family_id}",
                          hint="use an HSE frequency that divides to an integer MHz reference, "
                               "or leave hse_hz out to run from HSI")
    hclk = fam.sysclk_hz // fam.hclk_div
    latency = next((ws for ws, top in enumerate(fam.flash_ws_max_hz) if hclk <= top), None)
    if latency is None:
        raise ConfigError(f"{fam.family_id}: no flash wait-state setting for {hclk} Hz")
    ref = input_hz // pll.m
    rge = max((code for lo, code in fam.pll.rge if ref >= lo), default=0)
    variables = {"m": pll.m, "n": pll.n, "div": pll.div, "src": src, "rge": rge,
                 "latency": latency}
    ops = merge_writes(_steps_to_ops(fam, source, variables))
    return ClockPlan(pll=pll, sysclk_hz=fam.sysclk_hz, hclk_hz=hclk, latency=latency, ops=ops)


def enable_ops(fam: FamilyClock, ports: list[int], controller: str = "QUADSPI", *,
               io_manager: bool = False, supplies: tuple[str, ...] = ()) -> tuple[RegOp, ...]:
    """The supply switches named in ``supplies`` (keys of the family's ``supplies`` table),
    clock enables for the GPIO ports used, the IO manager and the controller; the final wait
    doubles as the read-back the reference manuals ask for before touching a freshly clocked
    peripheral."""
    g, q = fam.gpio_enable, fam.enable(controller)
    ops = [RegOp(f.addr, f.mask, f.mask, False, f"set supply bit ({name})")
           for name in supplies for f in fam.supplies.get(name, ())]
    gpio_mask = sum(1 << (g.shift + p) for p in sorted(set(ports)))
    names = ", ".join(f"GPIO{chr(ord('A') + p)}" for p in sorted(set(ports)))
    ops.append(RegOp(g.addr, gpio_mask, gpio_mask, False, f"enable {names} clocks"))
    if io_manager and fam.io_manager_enable is not None:
        m = fam.io_manager_enable
        ops.append(RegOp(m.addr, m.mask, m.mask, False, "enable the IO manager clock"))
    ops += [RegOp(q.addr, q.mask, q.mask, False, f"enable the {controller} clock"),
            RegOp(q.addr, q.mask, q.mask, True, f"read back the {controller} clock enable")]
    return merge_writes(ops)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def log2_exact(value: int) -> int:
    exp = int(math.log2(value))
    return exp if 1 << exp == value else exp + 1
