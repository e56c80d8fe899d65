"""STM32 families and parts, loaded from the data files in ``extflash/data/families``.

A *family* groups parts that share a core, a memory map, peripheral base addresses and the
RAM base external loaders are linked at. A *part* is a family member (``STM32H743``); part
names given by users may carry package and flash letters (``STM32H743ZIT6``), which select the
pin table of that package.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from extflash import cache
from extflash.errors import ConfigError

CORES_WITHOUT_DWT = frozenset({"cortex-m0", "cortex-m0plus"})


@dataclass(frozen=True)
class MemoryRegion:
    """A memory region of a part: RAM, flash or ROM."""

    name: str
    start: int
    size: int
    kind: str  # "ram", "flash", "rom"

    @property
    def end(self) -> int:
        return self.start + self.size

    def contains(self, address: int, length: int = 1) -> bool:
        return self.start <= address and address + length <= self.end


@dataclass(frozen=True)
class Window:
    """A memory-mapped window of an external-memory controller (e.g. QUADSPI at 0x90000000)."""

    name: str
    controller: str
    start: int
    size: int

    def contains(self, address: int) -> bool:
        return self.start <= address < self.start + self.size


@dataclass(frozen=True)
class Controller:
    """One external-memory controller instance of a family (``[[controller]]`` in its file).

    ``kind`` picks the register front-end (``quadspi``, ``octospi``, ``xspi``); the rest are the
    instance's facts from the family's reference manual and SVD: register base, memory-mapped
    window, FIFO depth, FLEVEL/FTHRES widths, interrupt number, and the IO manager (if any) whose
    ports carry its signals to the pins.
    """

    name: str
    kind: str
    base: int
    window: int
    fifo_bytes: int
    flevel_width: int
    fthres_width: int
    irq: int
    io_manager: str | None = None


@dataclass(frozen=True)
class IoManager:
    """OCTOSPIM / XSPIM: routes controller signals to ports (``[io_manager]``)."""

    name: str
    kind: str  # "octospim" (PCRn per port), "octospim-nocr" (L4+: no CR), "xspim" (CR only)
    base: int
    ports: int


@dataclass(frozen=True)
class DebugIds:
    """``[debug]``: the SW-DP DPIDR and where the option bytes show the RDP level."""

    dpidr: int
    rdp_register: int | None  # None: the part has product states instead (state_register)
    rdp_lsb: int
    rdp_mirrors: tuple[int, ...]
    core_ap: int = 0  # the access port of the primary core's AHB-AP
    revisions: dict[int, str] = field(default_factory=dict, compare=False, hash=False)
    boot_register: int | None = None  # option bytes: BOOT_ADD0 in bits [15:0] = address[31:16]
    iwdg_sw_bit: int | None = None  # option bytes (rdp_register): IWDG started by software
    bcm4_bit: int | None = None  # option bytes (rdp_register): dual-core, the Cortex-M4 boots
    supply_lockup: bool = False  # a wrong PWR supply configuration locks the part (H7)
    supply_register: int | None = None  # PWR_CR3, written once after power-on
    state_register: int | None = None  # product state byte (bits [7:0]) of H7R/S-like parts
    swd_pins: tuple[str, ...] = ("PA13", "PA14")  # SWDIO, SWCLK: AF0 from reset
    low_power_debug: int = 0  # DBGMCU_CR bits that keep the debug port alive in Stop/Standby
    supply_schemes: dict[int, str] = field(default_factory=dict, compare=False, hash=False)
    states: dict[int, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Family:
    """An MCU family as data (``data/families``)."""

    id: str
    name: str
    core: str
    fpu: str
    loader_ram_base: int
    alt_loader_ram_bases: tuple[int, ...]
    reset_clock_hz: int
    interfaces: tuple[str, ...]
    memory: tuple[MemoryRegion, ...]
    windows: tuple[Window, ...]
    peripherals: dict[str, int]
    parts: tuple[Part, ...]
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)
    controllers: tuple[Controller, ...] = ()
    io_manager: IoManager | None = None
    clock_tree: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    rcc_enable_stems: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False,
                                                         hash=False)
    gpio_reset: str = "analog-reset"  # or "input-reset" (F4/F7)
    flash_size_register: int | None = None
    debug: DebugIds | None = None

    def enable_stems(self, peripheral: str) -> tuple[str, ...]:
        """Stems of ``peripheral``'s RCC enable/reset fields (``QSPI`` for QUADSPI on F7)."""
        return self.rcc_enable_stems.get(peripheral, (peripheral,))

    def controller(self, name: str) -> Controller | None:
        return next((c for c in self.controllers if c.name == name), None)

    @property
    def has_dwt_cyccnt(self) -> bool:
        return self.core not in CORES_WITHOUT_DWT

    @property
    def has_fpu(self) -> bool:
        return self.fpu != "none"

    def region_at(self, address: int) -> MemoryRegion | None:
        return next((m for m in self.memory if m.contains(address)), None)

    def peripheral_at(self, address: int) -> str | None:
        """The peripheral whose base is closest at or below ``address`` (within 4 KiB)."""
        best: tuple[int, str] | None = None
        for name, base in self.peripherals.items():
            if base <= address < base + 0x1000 and (best is None or base > best[0]):
                best = (base, name)
        return best[1] if best else None


@dataclass(frozen=True)
class Part:
    """One MCU part number of a family (package letters stripped)."""

    name: str
    family_id: str
    pins: str
    fpu: str
    memory: tuple[MemoryRegion, ...]
    second_core: str | None = None

    @property
    def family(self) -> Family:
        return family(self.family_id)

    @property
    def is_dual_core(self) -> bool:
        return self.second_core is not None

    def ram_at(self, address: int) -> MemoryRegion | None:
        return next((m for m in self.memory if m.kind == "ram" and m.contains(address)), None)


def _regions(items: list[dict[str, Any]]) -> tuple[MemoryRegion, ...]:
    return tuple(MemoryRegion(i["name"], int(i["start"]), int(i["size"]), i["kind"]) for i in items)


def _merge_memory(base: tuple[MemoryRegion, ...], override: tuple[MemoryRegion, ...]):
    by_name = {m.name: m for m in base}
    by_name.update({m.name: m for m in override})
    return tuple(sorted(by_name.values(), key=lambda m: m.start))


def _load_family(data: dict[str, Any]) -> Family:
    fam_id = data["id"]
    memory = _regions(data.get("memory", []))
    parts = []
    for p in data.get("part", []):
        parts.append(
            Part(
                name=p["name"].upper(),
                family_id=fam_id,
                pins=p.get("pins", p["name"].lower()),
                fpu=p.get("fpu", data["fpu"]),
                memory=_merge_memory(memory, _regions(p.get("memory", []))),
                second_core=p.get("second_core"),
            )
        )
    return Family(
        id=fam_id,
        name=data["name"],
        core=data["core"],
        fpu=data["fpu"],
        loader_ram_base=int(data["loader_ram_base"]),
        alt_loader_ram_bases=tuple(int(x) for x in data.get("alt_loader_ram_bases", [])),
        reset_clock_hz=int(data["reset_clock_hz"]),
        interfaces=tuple(data.get("interfaces", [])),
        memory=memory,
        windows=tuple(
            Window(w["name"], w["controller"], int(w["start"]), int(w["size"]))
            for w in data.get("window", [])
        ),
        peripherals={k: int(v) for k, v in data.get("peripherals", {}).items()},
        parts=tuple(parts),
        raw=data,
        controllers=tuple(
            Controller(c["name"], c["kind"], int(c["base"]), int(c["window"]),
                       int(c["fifo_bytes"]), int(c["flevel_width"]), int(c["fthres_width"]),
                       int(c["irq"]), c.get("io_manager"))
            for c in data.get("controller", [])
        ),
        io_manager=_io_manager(data.get("io_manager")),
        clock_tree=data.get("clock_tree"),
        rcc_enable_stems={k: tuple(v) for k, v in
                          data.get("rcc", {}).get("enable_stems", {}).items()},
        gpio_reset=str(data.get("system", {}).get("gpio_reset", "analog-reset")),
        flash_size_register=data.get("system", {}).get("flash_size_register"),
        debug=_debug(data.get("debug")),
    )


def _debug(item: dict[str, Any] | None) -> DebugIds | None:
    if item is None:
        return None
    def opt(key: str) -> int | None:
        return None if item.get(key) is None else int(item[key])

    return DebugIds(int(item["dpidr"]), opt("rdp_register"), int(item.get("rdp_lsb", 0)),
                    tuple(int(x) for x in item.get("rdp_mirrors", [])),
                    core_ap=int(item.get("core_ap", 0)),
                    revisions={int(k, 0): str(v) for k, v in item.get("revisions", {}).items()},
                    boot_register=opt("boot_register"), iwdg_sw_bit=opt("iwdg_sw_bit"),
                    bcm4_bit=opt("bcm4_bit"), supply_lockup=bool(item.get("supply_lockup")),
                    supply_register=opt("supply_register"),
                    state_register=opt("state_register"),
                    states={int(k, 0): str(v) for k, v in item.get("states", {}).items()},
                    swd_pins=tuple(item.get("swd_pins", ("PA13", "PA14"))),
                    low_power_debug=int(item.get("low_power_debug", 0)),
                    supply_schemes={int(k, 0): str(v)
                                    for k, v in item.get("supply_schemes", {}).items()})


def _io_manager(item: dict[str, Any] | None) -> IoManager | None:
    if item is None:
        return None
    return IoManager(item["name"], item["kind"], int(item["base"]), int(item["ports"]))


@functools.cache
def families() -> dict[str, Family]:
    """All known families by id, loaded once from the package data."""
    result: dict[str, Family] = {}
    folder = resources.files("extflash") / "data" / "families"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            fam = _load_family(cache.parse_toml(entry.read_text(encoding="utf-8")))
            result[fam.id] = fam
    return result


def family(family_id: str) -> Family:
    try:
        return families()[family_id]
    except KeyError:
        known = ", ".join(sorted(families()))
        raise ConfigError(f"unknown MCU family '{family_id}' (known: {known})") from None


_PART_RE = re.compile(r"^(STM32[A-Z]\d[0-9A-Z]\d)([A-Z0-9]*)$")


@dataclass(frozen=True)
class PartRef:
    """A part as the user named it: the part plus the package/flash suffix they gave."""

    part: Part
    suffix: str  # e.g. "ZIT6", "" when only the base part was given

    @property
    def family(self) -> Family:
        return self.part.family


def find_part(name: str) -> PartRef:
    """Resolve a user-supplied part name (``STM32H743ZI``, ``stm32h745xih6``) to a known part."""
    upper = name.strip().upper()
    m = _PART_RE.match(upper)
    if not m:
        raise ConfigError(f"'{name}' is not an STM32 part number (expected e.g. STM32H743ZI)")
    base, suffix = m.group(1), m.group(2)
    for fam in families().values():
        for part in fam.parts:
            if part.name == base:
                return PartRef(part, suffix)
    names = sorted(p.name for f in families().values() for p in f.parts)
    close = _similar(base, names)
    hint = (f"did you mean {' or '.join(close)}?" if close
            else f"known parts: {', '.join(names)}")
    raise ConfigError(f"unknown MCU part '{name}'", hint=hint)


def _similar(name: str, names: list[str]) -> list[str]:
    """Up to three known names close to ``name``, from its own series (``STM32H7``) when it has
    any; swapped digits (H734 for H743) rank first."""
    series = [n for n in names if n[:7] == name[:7]] or names
    import difflib  # only to suggest a name: not on every command's start

    ratios = {n: difflib.SequenceMatcher(None, n, name).ratio() for n in series}
    close = sorted((n for n, r in ratios.items() if r >= 0.75),
                   key=lambda n: (sorted(n) != sorted(name), -ratios[n], n))
    return close[:3]


@dataclass(frozen=True)
class PinFunction:
    """An alternate function of a pin."""

    pin: str  # "PB2"
    af: int
    signal: str  # "QUADSPI_CLK", "QUADSPI_BK1_IO0", "OCTOSPIM_P1_NCS", ...
    part_group: str


@functools.cache
def _pin_rows(prefix: str) -> tuple[PinFunction, ...]:
    """The rows whose part group starts with ``prefix`` (lower case, as in the table). The
    table has 12,000 rows and a command needs one part's: they are kept in the cache, keyed by
    the table's bytes and the prefix (reading and splitting the whole table took 9 ms of every
    command that resolves a board's pins)."""
    raw = (resources.files("extflash") / "data" / "pins" / "memory-interface-pins.csv").read_bytes()

    def select() -> list[tuple[str, int, str, str]]:
        lines = raw.decode("utf-8").splitlines()
        header = next(csv.reader(lines[:1]))
        # a cheap text test first; the CSV reader then decides on the lines that may match
        candidates = [line for line in lines[1:] if prefix in line]
        return [(r["pin"], int(r["af"]), r["signal"], r["part_group"])
                for r in csv.DictReader(candidates, fieldnames=header)
                if r["part_group"].startswith(prefix)]

    return tuple(PinFunction(*row) for row in cache.built(raw, f"pins {prefix}", select))


def pin_functions(ref: PartRef) -> tuple[PinFunction, ...]:
    """The memory-interface pin functions of a part's package.

    When the user named the package (``STM32H743ZIT6``) only that package's rows are used.
    With a bare part name, a pin/AF/signal counts when any package of the part has it.
    """
    prefix = ref.part.pins
    suffix = ref.suffix.lower()
    rows = list(_pin_rows(prefix))
    if not rows:
        return ()
    if suffix:
        # part_group = prefix + (pincount letter)(flash letter or (c-e) group)(package)... ;
        # keep the groups whose expansion matches the user's suffix.
        exact = [r for r in rows if _group_matches(r.part_group[len(prefix):], suffix)]
        if exact:
            rows = exact
    seen: dict[tuple[str, int, str], PinFunction] = {}
    for r in rows:
        seen.setdefault((r.pin, r.af, r.signal), r)
    return tuple(seen.values())


def _group_matches(group: str, suffix: str) -> bool:
    """Does a pinctrl group tail like ``z(g-i)tx`` agree with a user suffix like ``zit6`` or ``zi``?

    ST order codes read pin count, flash size, package, temperature range (``STM32H743`` ``Z`` =
    144 pins, ``I`` = 2 MiB, ``T`` = LQFP, ``6``). Each position of the group is a letter or a set
    of letters ``(g-i)``; from the temperature position on, ``x`` means any. Before it ``x`` is a
    real letter: pin count ``X`` is the 240-pin package, not a wildcard. The user's suffix is
    compared position by position for as long as both have characters.
    """
    tokens: list[str] = []
    i = 0
    while i < len(group):
        if group[i] == "(":
            j = group.index(")", i)
            tokens.append(group[i + 1 : j].replace("-", ""))
            i = j + 1
        else:
            tokens.append(group[i])
            i += 1
    return all((tok == "x" and pos >= _TEMPERATURE_POSITION) or ch in tok
               for pos, (tok, ch) in enumerate(zip(tokens, suffix, strict=False)))


_TEMPERATURE_POSITION = 3  # pin count, flash size, package, then temperature range
