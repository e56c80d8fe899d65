"""Boards: an MCU part, the external memories on it and how they are wired.

A board is data (``extflash/data/boards/*.toml``, or a user's TOML file, or inline options). The
wiring matters as on hardware: every controller signal (CLK, BKn_NCS, BKn_IO0..3) is tied to one
MCU pin, and each pin is checked against the part's alternate-function table
(:func:`extflash.mcu.pin_functions`) so a board that could not work on silicon is rejected with
one precise :class:`~extflash.errors.ConfigError`.

File format (see ``docs/boards.md``)::

    name = "STM32F746G-DISCO"
    mcu = "STM32F746NGH6"
    hse_hz = 25_000_000
    description = "..."
    source = "UM1907 schematic MB1191, BSP stm32746g_discovery_qspi.h"
    notes = ["what the virtual board does not model"]   # optional: Board.caveats

    [[memory]]
    chip = "N25Q128A"
    controller = "QUADSPI"          # default
    bank = 1                        # 1, 2 or "dual"

    [memory.pins]
    clk = "PB2"
    bk1_ncs = "PB6"
    bk1_io0 = "PD11"                # ... bk1_io1..3 (and bk2_* for bank 2 / dual)

In dual-flash mode both chips usually share one chip select (the BK1_NCS net); ``bk2_ncs`` is then
left out and the bank-2 chip is wired to the BK1_NCS pin.

Memories on OCTOSPI/XSPI name their signals relative to the port: ``clk``, ``nclk``, ``ncs``,
``ncs2``, ``dqs``, ``io0``..``io7`` (at least ``clk``, ``ncs``, ``io0..io3``). The pins decide the
IO-manager port (``OCTOSPIM_P2_IO0`` -> port 2) and, on families without an IO manager, the
controller. A port is driven by its reset controller (OCTOSPIM/XSPIM: port n <- OCTOSPIn/XSPIn)
unless the memory names another ``controller`` (a swap)::

    [[memory]]
    chip = "MX25LM51245G"
    [memory.pins]
    clk = "PN6"
    ncs = "PN1"
    dqs = "PN0"
    io0 = "PN2"                     # ... io1..io7
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from extflash import cache, mcu
from extflash.errors import ConfigError

Bank = Literal[1, 2, "dual"]

IO_SIGNALS = tuple(f"bk{b}_io{i}" for b in (1, 2) for i in range(4))
SIGNALS = ("clk", "bk1_ncs", "bk2_ncs", *IO_SIGNALS)

# Signals each bank choice must wire. Dual-flash may share BK1_NCS for both chips.
REQUIRED: dict[Bank, tuple[str, ...]] = {
    1: ("clk", "bk1_ncs", "bk1_io0", "bk1_io1", "bk1_io2", "bk1_io3"),
    2: ("clk", "bk2_ncs", "bk2_io0", "bk2_io1", "bk2_io2", "bk2_io3"),
    "dual": ("clk", "bk1_ncs", *IO_SIGNALS),
}
OPTIONAL: dict[Bank, tuple[str, ...]] = {1: (), 2: (), "dual": ("bk2_ncs",)}

# Positional order of inline pin lists (``--pins PB2,PB6,...``) per bank choice.
POSITIONAL: dict[Bank, tuple[str, ...]] = {
    1: REQUIRED[1],
    2: REQUIRED[2],
    "dual": ("clk", "bk1_ncs", "bk1_io0", "bk1_io1", "bk1_io2", "bk1_io3",
             "bk2_ncs", "bk2_io0", "bk2_io1", "bk2_io2", "bk2_io3"),
}

# OCTOSPI/XSPI memories: port-relative signals, the ones every memory needs, and the octal half.
OCTAL_SIGNALS = ("clk", "nclk", "ncs", "ncs2", "dqs", *(f"io{i}" for i in range(8)))
OCTAL_REQUIRED = ("clk", "ncs", "io0", "io1", "io2", "io3")
OCTAL_UPPER = ("io4", "io5", "io6", "io7")
# Positional ``--pins`` forms for OCTOSPI/XSPI by item count.
OCTAL_POSITIONAL = {6: OCTAL_REQUIRED, 10: (*OCTAL_REQUIRED, *OCTAL_UPPER),
                    11: (*OCTAL_REQUIRED, *OCTAL_UPPER, "dqs")}
# Pin-table signal tails -> ours (XSPIM numbers NCS1/NCS2 and DQS0; DQS1, IO8..15 are x16 only).
_OCTAL_TAILS = {"CLK": "clk", "NCLK": "nclk", "NCS": "ncs", "NCS1": "ncs", "NCS2": "ncs2",
                "DQS": "dqs", "DQS0": "dqs", **{f"IO{i}": f"io{i}" for i in range(8)}}
_OCTAL_ROW_RE = re.compile(r"^(OCTOSPIM|XSPIM)_P(\d)_(\w+)$|^(OCTOSPI\d|XSPI\d)_(\w+)$")
# Other common positional orders of a one-bank QUADSPI list (ST's pin lists: CLK, IO0..3, NCS).
QUAD_ORDERS = (("CLK,NCS,IO0..IO3", ("clk", "ncs", "io0", "io1", "io2", "io3")),
               ("CLK,IO0..IO3,NCS", ("clk", "io0", "io1", "io2", "io3", "ncs")))

_PIN_RE = re.compile(r"^P([A-P])(\d{1,2})$")
# How a board powers the core domain (H7 PWR_CR3 supply configurations: LDO, direct SMPS,
# SMPS feeding the LDO, external supply with the LDO bypassed).
SUPPLIES = ("ldo", "smps", "smps-ldo", "bypass")


@dataclass(frozen=True)
class Wire:
    """One controller signal tied to one MCU pin, with the AF number that routes it."""

    signal: str  # "clk", "bk1_io0", ...
    pin: str  # "PB2"
    af: int

    @property
    def port(self) -> str:
        return self.pin[1]

    @property
    def index(self) -> int:
        return int(self.pin[2:])


@dataclass(frozen=True)
class Memory:
    """An external memory: a chip (or two, in dual-flash) on one controller instance."""

    chip: str
    bank: Bank
    wires: tuple[Wire, ...]
    controller: str = "QUADSPI"
    io_pull_up: bool = True  # floating IO lines read 1 (the boards' pull-ups / chip HOLD/WP)
    port: int | None = None  # IO-manager port (OCTOSPIM/XSPIM) carrying the signals, if any

    def wire(self, signal: str) -> Wire | None:
        return next((w for w in self.wires if w.signal == signal), None)

    def pin(self, signal: str) -> str | None:
        w = self.wire(signal)
        return w.pin if w else None

    @property
    def banks(self) -> tuple[int, ...]:
        return (1, 2) if self.bank == "dual" else (int(self.bank),)

    def ncs_wire(self, bank: int) -> Wire:
        """The wire the chip of ``bank`` has its chip select on (bank 2 may share BK1_NCS)."""
        w = self.wire(f"bk{bank}_ncs") or self.wire("bk1_ncs")
        assert w is not None  # guaranteed by validation
        return w


@dataclass(frozen=True)
class Board:
    """A board: its MCU part, crystal and the external memories wired to it."""

    name: str
    part: mcu.PartRef
    hse_hz: int | None  # None: not said (the family's usual crystal); 0: no crystal fitted
    memories: tuple[Memory, ...]
    description: str = ""
    source: str = ""
    notes: tuple[str, ...] = ()  # how an inline description was understood (for the CLI)
    supply: str | None = None  # how the PCB powers VCORE (H7: "ldo", "smps"...); None: not said
    faults: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # virtual
    caveats: tuple[str, ...] = ()  # the board file's ``notes = [...]``: what is not modelled

    @property
    def controllers(self) -> tuple[str, ...]:
        """The controllers the board's memories are on, in file order."""
        return tuple(m.controller for m in self.memories)

    @property
    def mcu_name(self) -> str:
        return self.part.part.name + self.part.suffix

    def memory(self, controller: str = "QUADSPI") -> Memory:
        for m in self.memories:
            if m.controller == controller:
                return m
        raise ConfigError(f"board {self.name} has no memory on {controller}")

    def memory_at(self, address: int) -> Memory:
        """The memory a loader addressing ``address`` drives: the one on the controller whose
        window holds the address; the board's first memory when no window does."""
        window = next((w for w in self.part.family.windows if w.contains(address)), None)
        return next((m for m in self.memories if window and m.controller == window.controller),
                    self.memories[0])

    def memory_on_port(self, port: int) -> Memory | None:
        """The memory wired to IO-manager port ``port`` (OCTOSPIM/XSPIM), if any."""
        return next((m for m in self.memories if m.port == port), None)


# -- pins and validation --------------------------------------------------------------------


def _norm_pin(text: str, where: str) -> str:
    pin = text.strip().upper()
    m = _PIN_RE.match(pin)
    if not m or int(m.group(2)) > 15:
        raise ConfigError(f"{where}: '{text}' is not a GPIO pin name (expected e.g. PB2)")
    return f"P{m.group(1)}{int(m.group(2))}"


def _signal_of(row_signal: str) -> str | None:
    """Map a pin-table signal (``QUADSPI_BK1_IO0``, ``QUADSPI1_CLK``, ``QUADSPI_NCS``) to ours."""
    for prefix in ("QUADSPI_", "QUADSPI1_"):
        if row_signal.startswith(prefix):
            name = row_signal[len(prefix):].lower()
            return "bk1_ncs" if name == "ncs" else name
    return None


def signal_pins(part: mcu.PartRef, controller: str = "QUADSPI") -> dict[str, dict[str, int]]:
    """``{signal: {pin: af}}`` for the part's package, from the package's AF table."""
    if controller != "QUADSPI":
        raise ConfigError(f"controller {controller} is not supported on boards yet (QUADSPI only)")
    table: dict[str, dict[str, int]] = {}
    for row in mcu.pin_functions(part):
        sig = _signal_of(row.signal)
        if sig is not None and _PIN_RE.match(row.pin):  # skip PA1_C-style analog-switch pads
            table.setdefault(sig, {})[row.pin] = row.af
    return table


def _choices(pins: dict[str, int]) -> str:
    ordered = sorted(pins.items(), key=lambda kv: _pin_key(kv[0]))
    return ", ".join(f"{p} (AF{af})" for p, af in ordered)


def _pin_key(pin: str) -> tuple[str, int]:
    return pin[1], int(pin[2:])


def make_memory(part: mcu.PartRef, chip: str, bank: Any, pins: dict[str, str], *,
                controller: str = "QUADSPI", io_pull_up: bool = True,
                where: str = "board") -> Memory:
    """Validate one memory's wiring against the part's AF table and build it."""
    bank_v = _norm_bank(bank, where)
    if "quadspi" not in part.family.interfaces:
        raise ConfigError(f"{where}: {part.part.name} has no QUADSPI controller")
    table = signal_pins(part, controller)
    if not table:
        raise ConfigError(f"{where}: no QUADSPI pin table for {part.part.name}{part.suffix}")
    unknown = sorted(set(pins) - set(SIGNALS))
    if unknown:
        raise ConfigError(f"{where}: unknown signal(s) {', '.join(unknown)}",
                          hint=f"signals: {', '.join(SIGNALS)}")
    allowed = set(REQUIRED[bank_v]) | set(OPTIONAL[bank_v])
    extra = sorted(set(pins) - allowed)
    if extra:
        raise ConfigError(f"{where}: signal(s) {', '.join(extra)} not used with bank={bank_v}")
    missing = [s for s in REQUIRED[bank_v] if s not in pins]
    if missing:
        raise ConfigError(f"{where}: bank={bank_v} needs pins for {', '.join(missing)}")
    wires: list[Wire] = []
    used: dict[str, str] = {}
    for signal in (*REQUIRED[bank_v], *OPTIONAL[bank_v]):
        if signal not in pins:
            continue
        pin = _norm_pin(pins[signal], f"{where}: {signal}")
        if pin in used:
            raise ConfigError(f"{where}: pin {pin} is given for both {used[pin]} and {signal}")
        used[pin] = signal
        candidates = table.get(signal, {})
        label = f"QUADSPI {signal.upper()}"
        if not candidates:
            raise ConfigError(f"{where}: {part.part.name}{part.suffix} has no {label} "
                              f"(bank 2 / dual-flash not available on this part or package)")
        if pin not in candidates:
            mcu_name = part.part.name + part.suffix
            raise ConfigError(f"{where}: {pin} cannot carry {label} on {mcu_name}",
                              hint=f"pins that can: {_choices(candidates)}")
        wires.append(Wire(signal, pin, candidates[pin]))
    return Memory(chip=chip, bank=bank_v, wires=tuple(wires), controller=controller,
                  io_pull_up=io_pull_up)


# -- OCTOSPI / XSPI memories ----------------------------------------------------------------


def octal_routes(part: mcu.PartRef) -> dict[str, dict[str, dict[str, int]]]:
    """``{route: {signal: {pin: af}}}`` of the part's package for OCTOSPI/XSPI.

    A route is an IO-manager port (``"P1"``, from ``OCTOSPIM_P1_IO0`` / ``XSPIM_P1_NCS1``) or,
    on families without an IO manager (L5, H5), the controller (``"OCTOSPI1"``).
    """
    has_manager = part.family.io_manager is not None
    out: dict[str, dict[str, dict[str, int]]] = {}
    for row in mcu.pin_functions(part):
        m = _OCTAL_ROW_RE.match(row.signal)
        if m is None or not _PIN_RE.match(row.pin):
            continue
        route, tail = (f"P{m.group(2)}", m.group(3)) if m.group(1) else (m.group(4), m.group(5))
        sig = _OCTAL_TAILS.get(tail)
        if sig is not None and route.startswith("P") == has_manager:
            out.setdefault(route, {}).setdefault(sig, {})[row.pin] = row.af
    return out


def _route_label(part: mcu.PartRef, route: str) -> str:
    manager = part.family.io_manager
    return f"{manager.name} port {route[1:]}" if manager and route.startswith("P") else route


def make_octal_memory(part: mcu.PartRef, chip: str, pins: dict[str, str], *,
                      controller: str | None = None, port: int | None = None,
                      io_pull_up: bool = True,
                      where: str = "board") -> tuple[Memory, tuple[str, ...]]:
    """Validate an OCTOSPI/XSPI memory's wiring; the pins pick the port (and controller).

    Returns the memory and notes on what was inferred (a port chosen among several, a swap).
    """
    fam = part.family
    mcu_name = part.part.name + part.suffix
    octal = [c for c in fam.controllers if c.kind in ("octospi", "xspi")]
    if not octal:
        kinds = "OCTOSPI/XSPI" if "quadspi" in fam.interfaces else "QUADSPI, OCTOSPI or XSPI"
        raise ConfigError(f"{where}: {part.part.name} has no {kinds} controller")
    if controller is not None and controller not in {c.name for c in octal}:
        raise ConfigError(f"{where}: {part.part.name} has no controller {controller}",
                          hint=f"controllers: {', '.join(c.name for c in octal)}")
    unknown = sorted(set(pins) - set(OCTAL_SIGNALS))
    if unknown:
        raise ConfigError(f"{where}: unknown signal(s) {', '.join(unknown)}",
                          hint=f"signals: {', '.join(OCTAL_SIGNALS)}")
    missing = [sig for sig in OCTAL_REQUIRED if sig not in pins]
    if missing:
        raise ConfigError(f"{where}: an OCTOSPI/XSPI memory needs pins for {', '.join(missing)}")
    upper = [sig for sig in OCTAL_UPPER if sig in pins]
    if upper and len(upper) != len(OCTAL_UPPER):
        raise ConfigError(f"{where}: an octal memory wires all of io4..io7, not only "
                          f"{', '.join(upper)}")
    wanted: dict[str, str] = {}
    used: dict[str, str] = {}
    for sig in OCTAL_SIGNALS:
        if sig in pins:
            pin = _norm_pin(pins[sig], f"{where}: {sig}")
            if pin in used:
                raise ConfigError(f"{where}: pin {pin} is given for both {used[pin]} and {sig}")
            used[pin] = sig
            wanted[sig] = pin
    routes = octal_routes(part)
    if not routes:
        raise ConfigError(f"{where}: no OCTOSPI/XSPI pin table for {mcu_name}")
    candidates = sorted(routes)
    if fam.io_manager is not None and port is not None:
        candidates = [r for r in candidates if r == f"P{port}"]
    elif fam.io_manager is None and controller is not None:
        candidates = [r for r in candidates if r == controller]
    if not candidates:
        raise ConfigError(f"{where}: {mcu_name} has no pins for "
                          f"{'port ' + str(port) if port else controller}")

    def matches(route: str) -> int:
        return sum(pin in routes[route].get(sig, {}) for sig, pin in wanted.items())

    fits = [r for r in candidates if matches(r) == len(wanted)]
    if not fits:
        best = max(candidates, key=matches)
        sig, pin = next((sg, pn) for sg, pn in wanted.items()
                        if pn not in routes[best].get(sg, {}))
        label = f"{_route_label(part, best)} {sig.upper()}"
        choices = routes[best].get(sig, {})
        if not choices:
            raise ConfigError(f"{where}: {mcu_name} has no {label}")
        raise ConfigError(f"{where}: {pin} cannot carry {label} on {mcu_name}",
                          hint=f"pins that can: {_choices(choices)}")
    notes: list[str] = []
    route = fits[0]
    if len(fits) > 1:
        notes.append(f"the pins fit {' and '.join(_route_label(part, r) for r in fits)}; "
                     f"using {_route_label(part, route)}")
    if fam.io_manager is not None:
        port_n = int(route[1:])
        # Reset routing of OCTOSPIM (PCRn) and XSPIM (MODE = 0): port n <- controller n.
        reset = next((c.name for c in octal if c.name.endswith(str(port_n))), octal[0].name)
        chosen = controller or reset
        if chosen != reset:
            notes.append(f"{fam.io_manager.name} port {port_n} driven by {chosen} "
                         f"(swapped; at reset it is {reset})")
        memory_port: int | None = port_n
    else:
        chosen, memory_port = route, None
    wires = tuple(Wire(sig, pin, routes[route][sig][pin]) for sig, pin in wanted.items())
    return (Memory(chip=chip, bank=1, wires=wires, controller=chosen, io_pull_up=io_pull_up,
                   port=memory_port), tuple(notes))


def _norm_bank(bank: Any, where: str) -> Bank:
    text = str(bank).strip().lower()
    if text in ("1", "bank1"):
        return 1
    if text in ("2", "bank2"):
        return 2
    if text in ("dual", "dfm", "dual-flash"):
        return "dual"
    raise ConfigError(f"{where}: bank must be 1, 2 or \"dual\", not {bank!r}")


def _check_chip(name: str, where: str) -> str:
    """Resolve a chip name through the chip database (canonical spelling)."""
    from extflash import chips  # chip DB: imported lazily, it is large

    try:
        return str(chips.find(name).name)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}", hint=exc.hint) from None


# -- loading --------------------------------------------------------------------------------


def _boards_dir() -> Any:
    return resources.files("extflash") / "data" / "boards"


def list_boards() -> list[str]:
    """Names of the shipped boards (file stems), sorted."""
    return sorted(e.name[:-5] for e in _boards_dir().iterdir() if e.name.endswith(".toml"))


def load(name_or_path: str | Path) -> Board:
    """A shipped board by name (case-insensitive) or a board TOML file by path."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"board file {path} does not exist")
        return parse(path.read_text(encoding="utf-8"), where=str(path))
    for stem in list_boards():
        if stem.lower() == text.lower():
            entry = _boards_dir() / f"{stem}.toml"
            return parse(entry.read_text(encoding="utf-8"), where=f"board {stem}")
    raise ConfigError(f"unknown board '{text}'", hint=f"shipped boards: {', '.join(list_boards())}")


def parse(text: str, *, where: str = "board") -> Board:
    try:
        data = cache.parse_toml(text)
    except cache.TomlError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    for key in ("name", "mcu", "memory"):
        if key not in data:
            raise ConfigError(f"{where}: missing '{key}'")
    part = mcu.find_part(str(data["mcu"]))
    memories = []
    notes: list[str] = []
    for i, m in enumerate(data["memory"]):
        mwhere = f"{where} memory[{i}]"
        if "chip" not in m or "pins" not in m:
            raise ConfigError(f"{mwhere}: needs 'chip' and 'pins'")
        pins = {str(k).lower(): str(v) for k, v in m["pins"].items()}
        chip = _check_chip(str(m["chip"]), mwhere)
        controller = m.get("controller")
        pull_up = bool(m.get("io_pull_up", True))
        if controller == "QUADSPI" or (controller is None and "quadspi" in part.family.interfaces):
            memories.append(make_memory(part, chip, m.get("bank", 1), pins, io_pull_up=pull_up,
                                        where=mwhere))
        else:
            memory, memory_notes = make_octal_memory(
                part, chip, pins, controller=None if controller is None else str(controller),
                port=_port(m.get("port"), mwhere), io_pull_up=pull_up, where=mwhere)
            memories.append(memory)
            notes.extend(memory_notes)
    return Board(name=str(data["name"]), part=part, hse_hz=_opt_hz(data.get("hse_hz"), where),
                 memories=tuple(memories), description=str(data.get("description", "")),
                 source=str(data.get("source", "")), notes=tuple(notes),
                 supply=_supply(data.get("supply"), where), faults=_faults(data, where),
                 caveats=_caveats(data.get("notes", []), where))


def _supply(value: Any, where: str) -> str | None:
    if value is not None and value not in SUPPLIES:
        raise ConfigError(f"{where}: supply '{value}' is not one of {', '.join(SUPPLIES)}")
    return None if value is None else str(value)


def _faults(data: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``[faults]`` table: failures the virtual probe plays (extflash.probe.faults)."""
    table = data.get("faults", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: 'faults' must be a table")
    return dict(table)


def _caveats(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: 'notes' must be a list of strings, not {value!r}")
    return tuple(value)


def _port(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if str(value) not in ("1", "2"):
        raise ConfigError(f"{where}: port must be 1 or 2, not {value!r}")
    return int(value)


def _opt_hz(value: Any, where: str) -> int | None:
    return None if value is None else _hz(value, where)


def _hz(value: Any, where: str) -> int:
    try:
        hz = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: hse must be a frequency in Hz, not {value!r}") from None
    if hz < 0 or hz > 50_000_000:
        raise ConfigError(f"{where}: hse {hz} Hz is outside 0..50 MHz")
    return hz


def parse_pins(text: str, bank: Bank, *, where: str = "--pins") -> dict[str, str]:
    """Inline pin list: positional ``PB2,PB6,PD11,PD12,PE2,PD13`` or named ``clk=PB2,ncs=PB6,...``.

    Positional order: CLK, NCS, IO0, IO1, IO2, IO3 for one bank; for dual-flash CLK, BK1_NCS,
    BK1_IO0..3, BK2_NCS, BK2_IO0..3 (10 items: BK2_NCS left out, the chips share BK1_NCS).
    Named keys: the full signal names (``bk2_io1``) or, for one bank, ``ncs`` and ``io0``..``io3``.
    """
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError(f"{where}: empty pin list")
    named = ["=" in t for t in items]
    if any(named) and not all(named):
        raise ConfigError(f"{where}: mix of positional and name=pin items in '{text}'")
    if all(named):
        pins: dict[str, str] = {}
        for item in items:
            key, _, pin = item.partition("=")
            sig = _alias(key.strip().lower(), bank)
            if sig in pins:
                raise ConfigError(f"{where}: {sig} given twice")
            pins[sig] = pin.strip()
        return pins
    order = POSITIONAL[bank]
    if bank == "dual" and len(items) == len(order) - 1:
        order = tuple(s for s in order if s != "bk2_ncs")
    if len(items) != len(order):
        names = ", ".join(s.upper() for s in order)
        raise ConfigError(f"{where}: expected {len(order)} pins ({names}), got {len(items)}")
    return dict(zip(order, items, strict=True))


def _alias(key: str, bank: Bank) -> str:
    if key in SIGNALS:
        return key
    short = {"ncs": "ncs", "cs": "ncs", "io0": "io0", "io1": "io1", "io2": "io2", "io3": "io3"}
    if key in short:
        prefix = "bk1" if bank in (1, "dual") else "bk2"
        if bank == "dual" and key not in ("ncs", "cs"):
            raise ConfigError(f"pin key '{key}' is ambiguous in dual-flash mode: "
                              f"use bk1_{key} or bk2_{key}")
        return f"{prefix}_{short[key]}"
    raise ConfigError(f"unknown pin key '{key}'",
                      hint=f"use clk, ncs, io0..io3 or one of {', '.join(SIGNALS)}")


def from_options(*, mcu: str, chip: str, pins: str, bank: Any = None,
                 hse: int | str | None = None, name: str | None = None) -> Board:
    """A board from command-line options (``--mcu --chip --bank --pins --hse``).

    The pins decide the bank (QUADSPI) or the port and controller (OCTOSPI/XSPI): ``bank`` is
    an override. How the list was understood when that took a guess is in ``Board.notes``.
    """
    part = _find_part(mcu)
    chip_name = _check_chip(chip, "--chip")
    if "quadspi" in part.family.interfaces:
        memory, notes = _inline_quadspi(part, chip_name, pins, bank)
    else:
        if bank is not None and str(bank) != "1":
            raise ConfigError(f"--bank: {part.part.name} has OCTOSPI/XSPI, which has no bank "
                              f"{bank} (the pins choose the port)")
        memory, notes = make_octal_memory(part, chip_name, parse_octal_pins(pins), where="--pins")
    hse_hz = None if hse is None else _hz(_parse_hz(hse), "--hse")
    return Board(name=name or f"{mcu.upper()}+{memory.chip}", part=part, hse_hz=hse_hz,
                 memories=(memory,), description="from command-line options", notes=notes)


def parse_octal_pins(text: str, *, where: str = "--pins") -> dict[str, str]:
    """Inline OCTOSPI/XSPI pins: ``clk=PN6,ncs=PN1,io0=PN2,...,dqs=PN0`` or positional
    ``CLK,NCS,IO0..IO3`` (quad), ``CLK,NCS,IO0..IO7`` (octal), plus ``DQS`` last."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError(f"{where}: empty pin list")
    named = ["=" in t for t in items]
    if any(named) and not all(named):
        raise ConfigError(f"{where}: mix of positional and name=pin items in '{text}'")
    if all(named):
        pins: dict[str, str] = {}
        for item in items:
            key, _, pin = item.partition("=")
            sig = {"cs": "ncs", "ncs1": "ncs", "dqs0": "dqs"}.get(key.strip().lower(),
                                                                   key.strip().lower())
            if sig in pins:
                raise ConfigError(f"{where}: {sig} given twice")
            pins[sig] = pin.strip()
        return pins
    order = OCTAL_POSITIONAL.get(len(items))
    if order is None:
        raise ConfigError(f"{where}: expected 6 (CLK,NCS,IO0..IO3), 10 (CLK,NCS,IO0..IO7) or 11 "
                          f"(... ,DQS) pins, got {len(items)}")
    return dict(zip(order, items, strict=True))


def _inline_quadspi(part: mcu.PartRef, chip: str, text: str,
                    bank: Any) -> tuple[Memory, tuple[str, ...]]:
    """A QUADSPI memory from ``--pins``: the given bank, or the one the pins fit.

    A positional one-bank list is also tried in ST's order (CLK, IO0..IO3, NCS); when exactly one
    reading fits the AF table it is taken and a note says which.
    """
    bank_v = _norm_bank(bank, "--bank") if bank is not None else None
    items = [t.strip() for t in text.split(",") if t.strip()]
    positional = len(items) == 6 and not any("=" in t for t in items)
    if bank_v == "dual" or not (positional or bank_v is None):
        b = bank_v or 1
        return make_memory(part, chip, b, parse_pins(text, b), where="--pins"), ()
    banks: tuple[Bank, ...] = (bank_v,) if bank_v is not None else (1, 2)
    readings: list[tuple[str, Bank, dict[str, str]]] = []
    if positional:
        for label, order in QUAD_ORDERS:
            for b in banks:
                sigs = ["clk" if s == "clk" else f"bk{b}_{s}" for s in order]
                readings.append((label, b, dict(zip(sigs, items, strict=True))))
    else:  # named short keys (ncs, io0..io3): bank 1 unless the pins say bank 2
        readings = [("", b, parse_pins(text, b)) for b in banks]
    fits: list[tuple[str, Bank, Memory]] = []
    first_error: ConfigError | None = None
    for label, b, pins in readings:
        try:
            fits.append((label, b, make_memory(part, chip, b, pins, where="--pins")))
        except ConfigError as exc:
            first_error = first_error or exc
    if not fits:
        assert first_error is not None
        raise first_error
    standard = [f for f in fits if f[0] in ("", QUAD_ORDERS[0][0])]
    if not standard and len(fits) > 1:
        raise ConfigError("--pins: the list fits several orders ("
                          + "; ".join(f"{lbl} on bank {b}" for lbl, b, _ in fits) + ")",
                          hint="name the signals: clk=...,ncs=...,io0=...")
    label, b, memory = (standard or fits)[0]
    notes: list[str] = []
    if label and label != QUAD_ORDERS[0][0]:
        notes.append(f"pins read in the order {label}")
    if bank_v is None and b != 1:
        notes.append("the pins fit QUADSPI bank 2 (BK2_NCS, BK2_IO0..IO3): using bank 2")
    return memory, tuple(notes)


def with_hse(board: Board, hse: int | str) -> Board:
    """``board`` with another HSE crystal (``--hse``; 0 = none fitted)."""
    return dataclasses.replace(board, hse_hz=_hz(_parse_hz(hse), "--hse"))


def _find_part(name: str) -> mcu.PartRef:
    # from_options' ``mcu`` parameter (the CLI option name) shadows the module there.
    return mcu.find_part(name)


def _parse_hz(value: int | str) -> int | str:
    if isinstance(value, int):
        return value
    text = value.strip().lower().replace("_", "")
    for suffix, scale in (("mhz", 1_000_000), ("khz", 1_000), ("hz", 1)):
        if text.endswith(suffix):
            try:
                return round(float(text[: -len(suffix)]) * scale)
            except ValueError:
                return value
    return text
