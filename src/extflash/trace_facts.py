"""The facts a trace holds beside its events, for the HTML report (:mod:`extflash.report`) to
draw and for anyone reading the JSON: the state of the pins the board wires and the loader
routed (mode, AF, speed, pull), the clock tree with the memory interface clock against the
chip's limit, the operation's flash plan (sectors planned, skipped unchanged, verified),
exception entries and returns (the CPU's interrupt rows) and the memory-mapped window's traffic
(instruction fetches and data reads of an application running from it).

A :class:`Recorder` rides on a :class:`~extflash.trace.Timeline`: it starts and stops with it
and adds its facts to ``Timeline.as_dict()``. Nothing here changes what the board does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import unicorn

from extflash.diagnose import memhooks
from extflash.emu.clock import FS_PER_S

# GPIOx_OSPEEDR encodings (RM0433 §11.4.3: 00 low, 01 medium, 10 high, 11 very high speed)
SPEEDS = ("low", "medium", "high", "very high")
# Cortex-M exception numbers below 16 (ARMv7-M ARM B1.5.2); 16 + n is external interrupt n.
EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault",
              11: "SVCall", 12: "DebugMonitor", 14: "PendSV", 15: "SysTick"}
# A compact timeline keeps the first KEEP and last KEEP_LAST flash commands and interrupt
# handler runs as events; the rest become one summary per loader call (anomalies stay events).
KEEP = 1000
KEEP_LAST = 200
SPIN_READS = 16  # the same register read this many times in a row is a loop waiting on it
MAPPED_BUCKETS = 400  # the window's traffic is kept as at most this many time buckets
FIRST_BUCKET_FS = 1_000_000_000  # 1 us; doubled whenever the buckets would exceed the limit


def exception_name(number: int) -> str:
    return EXCEPTIONS.get(number, f"IRQ{number - 16}" if number >= 16 else f"exception {number}")


def pin_state(machine: Any, pin: str) -> dict[str, Any]:
    """A pin's configuration as the GPIO registers hold it now."""
    state = machine.gpio.pin(pin)
    return {"mode": state.mode, "af": state.af, "speed": SPEEDS[state.speed],
            "pull": state.pull, "otype": state.otype,
            "clocked": bool(machine.rcc.is_enabled(f"GPIO{pin[1]}"))}


def pins(vb: Any, wiring: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pin of the wiring rows (board pins and the pins the loader routed)."""
    names = set()
    for row in wiring:
        if row.get("board_pin"):
            names.add(row["board_pin"])
        names.update(p.split()[0] for p in row.get("loader_pins", ()))
    out = {}
    for name in sorted(names, key=lambda n: (n[1], int(n[2:]) if n[2:].isdigit() else 0)):
        try:
            out[name] = pin_state(vb.machine, name)
        except ValueError:
            continue
    return out


def _chip_limit_hz(spec: Any, protocol: str) -> tuple[float, str]:
    """The chip's highest clock for reads in its current protocol state (datasheet
    ``max_mhz`` per read command in the chip's data file), with what it applies to."""
    if protocol in ("8S", "8D") and spec.octal is not None:
        reads = [r.max_mhz for r in spec.octal.reads if r.state == protocol]
        what = f"{protocol} reads"
    elif protocol == "qpi":
        reads = [r.max_mhz for r in spec.reads if r.protocol == "4-4-4"]
        what = "4-4-4 reads"
    else:
        reads = [r.max_mhz for r in spec.reads if not r.protocol.startswith("4-4")]
        what = "fast reads"
    if not reads:
        reads = [r.max_mhz for r in spec.reads] or [0.0]
        what = "any read"
    return max(reads) * 1e6, what


def clocks(vb: Any) -> dict[str, Any]:
    """The clock tree as the RCC registers set it, and the memory interface clock (kernel clock
    / prescaler, RM0433 §23.5.1 QUADSPI_CR, RM0455 OCTOSPI_DCR2) against the chip's limit."""
    ctrl = vb.qspi
    tree = vb.machine.rcc.clocks
    chip = next(iter(vb.chips.values()))
    protocol = str(getattr(chip, "protocol", "spi"))
    limit, what = _chip_limit_hz(chip.spec, protocol)
    kernel = int(ctrl.kernel_hz())
    interface = int(ctrl.clk_hz)
    return {"controller": ctrl.name, "hse_hz": vb.board.hse_hz, "sysclk_hz": tree.sysclk_hz,
            "core_hz": tree.core_hz, "hclk_hz": tree.hclk_hz,
            "pll_input_hz": tree.pll_input_hz, "vco_hz": tree.vco_hz, "kernel_hz": kernel,
            "prescaler": kernel // interface if interface else 0, "interface_hz": interface,
            "chip": chip.spec.name, "chip_protocol": protocol, "chip_limit_hz": limit,
            "chip_limit_for": what, "over_limit": interface > limit > 0,
            "problems": list(getattr(vb, "flash_clock_problems", []))}


def plan(programmer: Any) -> dict[str, Any] | None:
    """The last program/erase of ``programmer``: its sectors and what became of them, as byte
    offsets in the device (the chip's addresses on a single-chip board)."""
    sectors = getattr(programmer, "planned", None)
    if not sectors:
        return None
    geometry = programmer.geometry
    report = programmer.last_report
    by_index = {s.index: s for s in geometry.sectors}

    def ranges(indices: list[int]) -> list[list[int]]:
        return [[by_index[i].address - geometry.start, by_index[i].end - geometry.start]
                for i in sorted(set(indices)) if i in by_index]

    return {"device": geometry.name, "start": geometry.start,
            "sectors": [[s.address - geometry.start, s.end - geometry.start] for s in sectors],
            "skipped": ranges(report.sectors_skipped if report else []),
            "verified": bool(report and report.verified),
            "image_bytes": report.image_bytes if report else 0}


@dataclass
class _Bucket:
    """Fetches and reads through the window in one stretch of time."""

    start_fs: int
    fetches: int = 0  # translation blocks executed from the window
    fetch_bytes: int = 0
    reads: int = 0  # data reads (literal pools, constants)
    read_bytes: int = 0


@dataclass
class _Thinning:
    """One row of a compact timeline: how many seen, the last few held back."""

    tail: deque[tuple[int, Any]]
    seen: int = 0
    held: int = 0  # flash commands / handler entries in the tail


@dataclass
class Recorder:
    """Exception entries/returns and window traffic while a timeline records, and the board's
    pins and clocks when it stops (see the module documentation)."""

    timeline: Any
    pins: dict[str, dict[str, Any]] = field(default_factory=dict)
    clocks: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    buckets: list[_Bucket] = field(default_factory=list)
    bucket_fs: int = FIRST_BUCKET_FS
    _hooks: list[Any] = field(default_factory=list)
    # compact timelines: what the summaries stand for
    aggregates: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    ranges: dict[str, list[list[int]]] = field(default_factory=dict)
    _thin: dict[str, _Thinning] = field(default_factory=dict)
    _handlers: list[bool] = field(default_factory=list)  # absorbed? per active handler
    _call: int = 0
    _read_key: tuple[int, int] = (0, 0)
    _read_count: int = 0
    _spin: Any = None

    @property
    def machine(self) -> Any:
        return self.timeline.machine

    def start(self) -> None:
        self.machine.exceptions.listeners.append(self._on_exception)
        window = self.timeline.board.window
        lo = window.base
        hi = lo + sum(c.spec.size for c in self.timeline.board.chips.values()) - 1
        uc = self.machine.uc
        self._hooks.append(memhooks.on_read(uc, self._on_read, lo, hi))
        self._hooks.append(_BlockHook(uc, self._on_block, lo, hi))

    def stop(self, wiring: list[dict[str, Any]]) -> None:
        self._end_spin()
        for thin in self._thin.values():  # the last few stay events
            self.timeline.events.extend(ev for _, ev in thin.tail)
            thin.tail.clear()
        if self._on_exception in self.machine.exceptions.listeners:
            self.machine.exceptions.listeners.remove(self._on_exception)
        for h in self._hooks:
            h.remove()
        self._hooks = []
        vb = self.timeline.board
        self.pins = pins(vb, wiring)
        self.clocks = clocks(vb)

    # -- compact timelines ------------------------------------------------------------------------
    def on_register_read(self, address: int, size: int, value: int) -> None:
        """A register read: only the loops that repeat one (the same register and value many
        times in a row) become events, with their repeat count and end. Kept lean: it runs on
        every register read of a compact timeline."""
        key = (address, value)
        if key == self._read_key:
            self._read_count += 1
            if self._read_count == SPIN_READS:
                before = len(self.timeline.events)
                self.timeline._access("read", address, size, value)
                if len(self.timeline.events) > before:
                    self._spin = self.timeline.events[-1]
                    self._spin.count = SPIN_READS
            elif self._spin is not None:
                self._spin.count += 1
            return
        if self._spin is not None:
            self._end_spin()
        self._read_key, self._read_count = key, 1

    def _end_spin(self) -> None:
        if self._spin is not None:
            self._spin.data["end_s"] = self.timeline._now() / FS_PER_S
            self._spin = None

    def absorb(self, event: Any) -> bool:
        """Whether a compact timeline summarises ``event`` instead of keeping it."""
        if event.kind == "call":
            self._call += 1
            return False
        if event.kind == "interrupt":
            if not event.data.get("entered"):  # a return goes where its entry went
                taken = self._handlers.pop() if self._handlers else False
                if taken:  # held back beside its entry, not counted
                    self._thinning("interrupts").tail.append((self._call, event))
                return taken
            taken = self._take("interrupts", event)
            self._handlers.append(taken)
            return taken
        if event.kind == "flash" and event.data.get("outcome") in (None, "ok"):
            # window reads have a budget of their own, as in the page (report.model._commands)
            mapped = event.data.get("mode") == "memory-mapped"
            return self._take("controller", event, budget="mapped" if mapped else None)
        return False

    def _thinning(self, row: str) -> _Thinning:
        if row not in self._thin:
            self._thin[row] = _Thinning(deque())
        return self._thin[row]

    def _take(self, row: str, event: Any, budget: str | None = None) -> bool:
        thin = self._thinning(budget or row)
        thin.seen += 1
        if thin.seen <= KEEP:
            return False
        thin.tail.append((self._call, event))
        thin.held += 1
        while thin.held > KEEP_LAST:
            call, old = thin.tail.popleft()
            thin.held -= old.kind != "interrupt" or old.data["entered"]
            self._summarise(row, call, old)
        return True

    def _summarise(self, row: str, call: int, event: Any) -> None:
        time_s = event.time_fs / FS_PER_S
        if event.kind == "interrupt":
            if event.data.get("entered"):
                self._count(row, call, time_s, time_s, event.source)
            elif (row, call) in self.aggregates:
                self.aggregates[(row, call)]["end_s"] = time_s
            return
        d = event.data
        opcode = d.get("opcode")
        self._count(row, call, time_s, time_s, f"0x{opcode:02X}" if opcode is not None else "cmd")
        if "busy_until_s" in d:
            self._count("chip", call, time_s, d["busy_until_s"], f"busy {d['busy_kind']}")
            if "busy_start" in d and d["busy_kind"] in ("erase", "program"):
                self._range(d["busy_kind"], d["busy_start"], d["busy_end"])
        elif (d.get("mode") in ("indirect read", "memory-mapped") and d.get("address") is not None
              and not d.get("polling") and (d.get("length") or 0) > 8):
            self._range("read", d["address"], d["address"] + d["length"])

    def _count(self, row: str, call: int, start_s: float, end_s: float, label: str) -> None:
        agg = self.aggregates.setdefault((row, call), {"row": row, "time_s": start_s,
                                                       "end_s": end_s, "count": 0,
                                                       "labels": set()})
        agg["count"] += 1  # events, as the full trace counts them (a folded repeat is one)
        agg["end_s"] = max(agg["end_s"], end_s)
        agg["labels"].add(label)

    def _range(self, kind: str, start: int, end: int) -> None:
        ranges = self.ranges.setdefault(kind, [])
        if ranges and ranges[-1][1] == start:
            ranges[-1][1] = end
        else:
            ranges.append([start, end])

    def _on_exception(self, number: int, entered: bool) -> None:
        from extflash.trace import Event

        name = exception_name(number)
        pc = self.machine.reg_read("pc") & ~1
        self.timeline._add(Event(self.timeline._now(), "interrupt", name,
                                 f"{name} {'entered' if entered else 'returned'}", pc,
                                 self.timeline.symbols.name(pc) or f"0x{pc:08X}",
                                 data={"number": number, "entered": entered}))

    def _bucket(self) -> _Bucket:
        self.machine.sync_time()
        now = self.machine.clock.now_fs
        start = now - now % self.bucket_fs
        if self.buckets and self.buckets[-1].start_fs == start:
            return self.buckets[-1]
        if len(self.buckets) >= MAPPED_BUCKETS:
            self._coarsen()
            return self._bucket()
        self.buckets.append(_Bucket(start))
        return self.buckets[-1]

    def _coarsen(self) -> None:
        """Double the bucket width, merging neighbours."""
        self.bucket_fs *= 2
        merged: list[_Bucket] = []
        for b in self.buckets:
            start = b.start_fs - b.start_fs % self.bucket_fs
            if merged and merged[-1].start_fs == start:
                m = merged[-1]
                m.fetches += b.fetches
                m.fetch_bytes += b.fetch_bytes
                m.reads += b.reads
                m.read_bytes += b.read_bytes
            else:
                merged.append(_Bucket(start, b.fetches, b.fetch_bytes, b.reads, b.read_bytes))
        self.buckets = merged

    def _on_read(self, address: int, size: int, value: int) -> None:
        b = self._bucket()
        b.reads += 1
        b.read_bytes += size

    def _on_block(self, address: int, size: int) -> None:
        b = self._bucket()
        b.fetches += 1
        b.fetch_bytes += size

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.pins:
            out["pins"] = self.pins
        if self.clocks:
            out["clocks"] = self.clocks
        if self.plan:
            out["plan"] = self.plan
        if self.aggregates:
            out["aggregates"] = [{**a, "labels": sorted(a["labels"])}
                                 for a in self.aggregates.values()]
        if self.ranges:
            out["flash_ranges"] = self.ranges
        if self.buckets:
            out["mapped"] = [
                {"time_s": b.start_fs / FS_PER_S, "end_s": (b.start_fs + self.bucket_fs)
                 / FS_PER_S, "fetches": b.fetches, "fetch_bytes": b.fetch_bytes,
                 "reads": b.reads, "read_bytes": b.read_bytes} for b in self.buckets]
        return out


class _BlockHook:
    """``callback(address, size)`` for every translation block run in ``[begin, end]``: the
    code the core fetches from the window."""

    def __init__(self, uc: unicorn.Uc, callback: Any, begin: int, end: int) -> None:
        self.uc = uc
        self.handle: Any = uc.hook_add(unicorn.UC_HOOK_BLOCK,
                                       lambda _uc, address, size, _ud: callback(address, size),
                                       begin=begin, end=end)

    def remove(self) -> None:
        if self.handle is not None:
            self.uc.hook_del(self.handle)
            self.handle = None
