"""A timeline of what a loader does on the virtual board: function calls, peripheral register
accesses with register and field names, and the flash commands the chip received (with what it
made of them), readable by someone who has never seen the loader's source.

::

    session, watch = diagnose.open_session("my.stldr", board="nucleo-h743zi-w25q128")
    timeline = trace.Timeline.attach(watch, peripherals=["QUADSPI", "RCC"])
    session.erase(0x90000000, 4096)
    print("\\n".join(timeline.render()))
    timeline.write("erase.json")          # or .txt: text

Register accesses are taken from unicorn's memory hooks (the value a read returned comes from
the read-after hook), so every access is seen whatever model or native code serves it.
Identical consecutive accesses (a polling loop) are folded into one line with a repeat count;
reads of time sources (SysTick CVR, DWT CYCCNT) fold whatever their value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from extflash import trace_facts
from extflash.diagnose import memhooks, wiring
from extflash.diagnose.evidence import CallEvidence, FlashCommand, FlashLog
from extflash.diagnose.symbols import Symbolizer
from extflash.emu.clock import FS_PER_S
from extflash.emu.mmio import UnmodelledBlock
from extflash.errors import InputError

SCHEMA = "extflash.trace/1"
KINDS = ("call", "return", "read", "write", "flash", "interrupt")
# Peripheral register space of the supported parts: APB/AHB (OCTOSPI/XSPI included), the
# F4/F7/L4/G4 QUADSPI and L4+/L5/U5 OCTOSPI registers at 0xA0001000, and the Cortex-M private
# peripheral bus.
REGISTER_SPACE = ((0x40000000, 0x5FFFFFFF), (0xA0000000, 0xBFFFFFFF), (0xE0000000, 0xE00FFFFF))
DEFAULT_LIMIT = 200_000


@dataclass
class Event:
    """One line of the timeline."""

    time_fs: int
    kind: str  # "call", "return", "read", "write", "flash"
    source: str  # peripheral ("QUADSPI", "GPIOB"), chip name, or the called function
    text: str
    pc: int | None = None
    where: str | None = None  # symbolised pc
    count: int = 1  # identical consecutive accesses folded into this one
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        t = f"{self.time_fs / 1e12:14.6f} ms"
        loc = f"{self.where or ''}"
        repeat = f"  (x{self.count})" if self.count > 1 else ""
        if self.kind in ("call", "return"):
            return f"{t}  {'':<28} {self.text}"
        return f"{t}  {loc:<28} {self.text}{repeat}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"time_s": self.time_fs / FS_PER_S, "kind": self.kind,
                               "source": self.source, "text": self.text}
        if self.pc is not None:
            out["pc"] = self.pc
            out["where"] = self.where
        if self.count > 1:
            out["count"] = self.count
        out.update(self.data)
        return out


def _gpio_pins(p: Any, offset: int, value: int) -> str:
    """``PB6 -> af`` for the pins a MODER/AFR write changes (the register before the write)."""
    word = offset & ~3
    name = p.regs.get(word).name if p.regs.get(word) is not None else ""
    old = p.values.get(word, 0)
    letter = p.name[-1]
    changes = []
    if name == "MODER":
        modes = ("input", "output", "af", "analog")
        for pin in range(16):
            a, b = old >> 2 * pin & 3, value >> 2 * pin & 3
            if a != b:
                changes.append(f"P{letter}{pin} -> {modes[b]}")
    elif name in ("AFRL", "AFRH"):
        first = 8 if name == "AFRH" else 0
        for i in range(8):
            a, b = old >> 4 * i & 0xF, value >> 4 * i & 0xF
            if a != b:
                changes.append(f"P{letter}{first + i} -> AF{b}")
    return ", ".join(changes)


def _decode(p: Any, kind: str, offset: int, size: int, value: int) -> str:
    reg = p.regs.get(offset & ~3)
    if reg is None:
        return ""
    word = value << (8 * (offset & 3))
    command = getattr(p, "describe_command", None)  # a memory controller's command set-up
    if kind == "write" and command is not None and size == 4 and (
            text := command(reg.offset, word)):
        return str(text)
    if kind == "write" and p.name.startswith("GPIO") and size == 4 and reg.name in (
            "MODER", "AFRL", "AFRH"):
        return _gpio_pins(p, offset, word)
    sent = getattr(p, "describe_data", None)  # a USART's transmitted byte
    if kind == "write" and sent is not None and (text := sent(reg.offset, word)):
        return str(text)
    if not reg.fields:
        return ""  # a plain value: the hex says it all
    return str(reg.decode(word))


def _matches(source: str, kind: str, wanted: tuple[str, ...] | None) -> bool:
    if wanted is None or kind in ("call", "return"):
        return True
    key = source.upper()
    return any(key.startswith(w) or (kind == "flash" and w in ("FLASH", "CHIP"))
               for w in wanted)


def _normalise(names: Iterable[str] | None) -> tuple[str, ...] | None:
    if names is None:
        return None
    out = tuple(n.strip().upper() for n in names if n.strip())
    return out or None


class Timeline:
    """Records a board's activity while attached (see the module documentation)."""

    def __init__(self, board: Any, *, symbols: Symbolizer | None = None,
                 peripherals: Iterable[str] | None = None, limit: int = DEFAULT_LIMIT,
                 compact: bool = False) -> None:
        self.board = board
        # compact: only what the HTML report draws (extflash.trace_facts.Recorder): register
        # reads only as the loops that spin on them, and flash commands and interrupts past the
        # first and last few as one summary per loader call. Large runs stay fast and small.
        self.compact = compact
        self.machine = board.machine
        self.symbols = symbols or Symbolizer()
        self.wanted = _normalise(peripherals)
        self.limit = limit
        self.events: list[Event] = []
        self.dropped = 0
        self._hooks: list[memhooks.MemHook] = []
        self._flash_log: FlashLog | None = None
        self._last: dict[str, Event] = {}  # per source: the last access, for folding
        # What the HTML report shows beside the events (extflash.report): the board's wiring
        # against the loader's routing, taken when recording stops, and the failed call's
        # diagnosis (``Diagnosis.as_dict()`` plus the error message) when there is one.
        self.wiring: list[dict[str, Any]] = []
        self.diagnosis: dict[str, Any] | None = None
        # pins, clocks, flash plan, interrupts and window traffic (extflash.trace_facts)
        self.facts = trace_facts.Recorder(self)
        self.operation = ""  # "program", "run", ... (the report's title)

    # -- attaching ------------------------------------------------------------------------------
    @classmethod
    def attach(cls, watch: Any, *, peripherals: Iterable[str] | None = None,
               limit: int = DEFAULT_LIMIT, compact: bool = False) -> Timeline:
        """Record everything ``watch`` (a :class:`~extflash.diagnose.Watch`) runs from now on."""
        timeline = cls(watch.board, symbols=watch.symbols, peripherals=peripherals, limit=limit,
                       compact=compact)
        timeline.start()
        watch.timeline = timeline
        return timeline

    def start(self) -> None:
        uc = self.machine.uc
        if not self.machine.write_hooks_exact:
            raise RuntimeError("a trace needs a board opened with write_hooks=True")
        for lo, hi in REGISTER_SPACE:
            if self.compact:
                self._hooks.append(memhooks.on_read(uc, self.facts.on_register_read, lo, hi))
                continue
            self._hooks.append(memhooks.on_read(uc, self._on_read, lo, hi))
            self._hooks.append(memhooks.on_write(uc, self._on_write, lo, hi))
        self._flash_log = FlashLog.of(self.board)
        self._flash_log.listeners.append(self._on_flash)
        self.facts.start()
        for region in self.machine.part.part.memory:
            if region.kind == "ram":  # rebuild translated code with the new hooks in it
                self.machine.invalidate_code(region.start, region.end)

    def stop(self) -> None:
        self.wiring = [asdict(row) for row in wiring.compare(self.board)]
        self.facts.stop(self.wiring)
        for h in self._hooks:
            h.remove()
        self._hooks = []
        if self._flash_log is not None:
            self._flash_log.flush()
            if self._on_flash in self._flash_log.listeners:
                self._flash_log.listeners.remove(self._on_flash)
            self._flash_log = None

    # -- recording ------------------------------------------------------------------------------
    def _now(self) -> int:
        self.machine.sync_time()
        now: int = self.machine.clock.now_fs
        return now

    def _add(self, event: Event) -> None:
        if not _matches(event.source, event.kind, self.wanted):
            return
        if self.compact and self.facts.absorb(event):
            return
        if len(self.events) >= self.limit:
            self.dropped += 1
            return
        self.events.append(event)

    def _access(self, kind: str, address: int, size: int, value: int) -> None:
        found = self.machine.bus.find(address)
        if found is None:
            return
        p, offset = found.periph, address - found.base
        if p.name.endswith("_WINDOW"):
            return  # memory-mapped flash reads: data, not register traffic
        if isinstance(p, UnmodelledBlock):
            name, rel = p.name_at(offset)
            if not _matches(name, kind, self.wanted):
                return
            periph, register, decoded = name, f"{name}+0x{rel:X}", "not modelled"
        else:
            if not _matches(p.name, kind, self.wanted):
                return
            periph, register = p.name, p.describe(offset)
            decoded = _decode(p, kind, offset, size, value)
        timed = offset & ~3 in getattr(p, "time_sources", frozenset())
        pc = self.machine.reg_read("pc") & ~1
        last = self._last.get(periph)
        if (last is not None and last.kind == kind and last.pc == pc
                and last.data["address"] == address and (timed or last.data["value"] == value)):
            last.count += 1
            last.data["value"] = value
            return
        arrow = "->" if kind == "read" else "<-"
        digits = 2 * size
        text = f"{register} {arrow} 0x{value:0{digits}X}" + (f" ({decoded})" if decoded else "")
        event = Event(self._now(), kind, periph, text, pc, self.symbols.name(pc) or f"0x{pc:08X}",
                      data={"register": register, "address": address, "size": size,
                            "value": value, "fields": decoded})
        self._last[periph] = event
        self._add(event)

    def _on_read(self, address: int, size: int, value: int) -> None:
        self._access("read", address, size, value)

    def _on_write(self, address: int, size: int, value: int) -> None:
        self._access("write", address, size, value)

    def _on_flash(self, cmd: FlashCommand) -> None:
        chips = self.board.chips
        chip = chips.get(cmd.bank) or next(iter(chips.values()))
        source = chip.spec.name
        last = self._last.get(source)
        text = cmd.describe()
        if last is not None and last.text == f"bank {cmd.bank}: {text}":
            last.count += 1
            return
        # the chip's protocol state once it took the command (SPI, QPI, 8S, 8D)
        data = {**cmd.as_dict(), "chip_protocol": str(getattr(chip, "protocol", "spi"))}
        event = Event(cmd.time_fs, "flash", source, f"bank {cmd.bank}: {text}", cmd.pc,
                      self.symbols.name(cmd.pc) or f"0x{cmd.pc:08X}", data=data)
        self._last[source] = event
        self._add(event)

    def call_started(self, ev: CallEvidence) -> None:
        self._last.clear()
        self._add(Event(ev.start_fs, "call", ev.function, f"{ev.signature()}",
                        data={"function": ev.function, "args": list(ev.args)}))

    def call_ended(self, ev: CallEvidence) -> None:
        if self._flash_log is not None:
            self._flash_log.flush()
        self._last.clear()
        outcome = f"returned 0x{ev.r0:X}" if ev.reason == "returned" and ev.r0 is not None \
            else ev.reason
        self._add(Event(ev.end_fs, "return", ev.function,
                        f"{ev.function} {outcome} after {ev.elapsed_s * 1e3:.3f} ms",
                        data={"function": ev.function, "reason": ev.reason, "r0": ev.r0,
                              "elapsed_s": ev.elapsed_s}))

    # -- output ---------------------------------------------------------------------------------
    def select(self, peripherals: Iterable[str] | None = None,
               kinds: Iterable[str] | None = None) -> list[Event]:
        """Events of the given peripherals (name prefixes; "flash" for chip commands) and kinds.
        Calls and returns are always kept: they frame the rest."""
        wanted = _normalise(peripherals)
        kind_set = set(kinds) if kinds is not None else None
        return [e for e in self.ordered() if _matches(e.source, e.kind, wanted)
                and (kind_set is None or e.kind in kind_set or e.kind in ("call", "return"))]

    def ordered(self) -> list[Event]:
        """The events in time order (a flash command's verdict is known only after it)."""
        return sorted(self.events, key=lambda e: e.time_fs)

    def render(self, events: list[Event] | None = None) -> list[str]:
        rows = self.ordered() if events is None else events
        lines = [e.line() for e in rows]
        if self.dropped:
            lines.append(f"... {self.dropped} more events not recorded (limit {self.limit})")
        return lines

    def as_dict(self, events: list[Event] | None = None) -> dict[str, Any]:
        rows = self.ordered() if events is None else events
        out: dict[str, Any] = {"schema": SCHEMA, "board": self.board.board.name,
                               "dropped": self.dropped, "events": [e.as_dict() for e in rows]}
        if self.operation:
            out["operation"] = self.operation
        if self.wiring:
            out["wiring"] = self.wiring
        out.update(self.facts.as_dict())
        if self.diagnosis is not None:
            out["diagnosis"] = self.diagnosis
        return out

    def write(self, path: str | os.PathLike[str], *, fmt: str | None = None) -> None:
        """Write the timeline to ``path``: JSON for ``.json`` (or ``fmt="json"``), else text."""
        p = Path(path)
        kind = fmt or ("json" if p.suffix.lower() == ".json" else "text")
        text = (json.dumps(self.as_dict(), indent=1) if kind == "json"
                else "\n".join(self.render()) + "\n")
        try:
            p.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the trace to {p}: {exc.strerror or exc}") from None
