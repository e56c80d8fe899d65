"""What the report draws, taken from a trace (``extflash.trace/1`` JSON): spans and marks on the
timeline's rows, the flash map, the wiring and the diagnosis. The page is a view of the trace;
nothing here adds facts the trace does not hold."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extflash.errors import InputError

SCHEMA = "extflash.trace/1"
# The timeline's rows, top to bottom; "window" only when the trace holds window traffic.
ROWS = ("calls", "controller", "chip", "protocol", "cpu", "interrupts", "window")
ALWAYS = ("calls", "controller", "chip", "cpu")
# Above this many marks on a row the middle ones are drawn as one span per loader call;
# the first KEEP and last KEEP_LAST marks and every anomaly keep their own.
DETAIL_LIMIT = 1500
KEEP = 1000
KEEP_LAST = 200
SPIN_READS = 16  # a register read folded this many times is a loop waiting on it
PROTOCOLS = {"spi": "SPI (1-line opcodes)", "qpi": "QPI (4-4-4)", "8S": "octal STR (8S-8S-8S)",
             "8D": "octal DTR (8D-8D-8D)"}


@dataclass
class Item:
    """A span (``end_s`` set) or a mark on one row of the timeline."""

    row: str
    start_s: float
    end_s: float | None
    label: str
    detail: str
    css: str
    anchor: str = ""


@dataclass
class Report:
    """What the HTML report shows: the timeline, the flash map, the wiring."""

    board: str
    start_s: float
    end_s: float
    items: list[Item]
    flash: dict[str, list[tuple[int, int]]]  # flash map row -> merged [start, end) ranges
    wiring: list[dict[str, Any]]
    diagnosis: dict[str, Any] | None
    diagnosis_anchor: str = ""
    dropped: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    rows: tuple[str, ...] = ALWAYS
    operation: str = ""
    pins: dict[str, dict[str, Any]] = field(default_factory=dict)
    clocks: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


def load_trace(path: str | Path) -> dict[str, Any]:
    """A trace JSON file written by ``--trace FILE.json``, checked to be one."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the trace {p}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p} is not a JSON trace: {exc}",
                         hint="write one with --trace FILE.json") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(f"{p} is not an extflash trace (schema {SCHEMA})",
                         hint="write one with --trace FILE.json") from None
    if not isinstance(data.get("events"), list):
        raise InputError(f"{p}: the trace has no event list")
    return data


def _lines(e: dict[str, Any]) -> str:
    lines = e.get("lines") or []
    text = "-".join(str(n) for n in lines)
    if e.get("ddr"):
        text += " DTR"
    if e.get("dqs"):
        text += " DQS"
    return text


def _command_css(e: dict[str, Any]) -> str:
    if e.get("outcome") not in (None, "ok"):
        return "anomaly"
    mode = str(e.get("mode") or ("automatic polling" if e.get("polling") else ""))
    return {"indirect write": "m-write", "indirect read": "m-read",
            "automatic polling": "m-poll", "memory-mapped": "m-mapped"}.get(mode, "m-write")


def _calls(events: list[dict[str, Any]], end_s: float) -> list[Item]:
    items: list[Item] = []
    open_call: dict[str, Any] | None = None
    for e in events:
        if e["kind"] == "call":
            open_call = e
        elif e["kind"] == "return" and open_call is not None:
            reason = e.get("reason", "returned")
            r0 = e.get("r0")
            outcome = f"returned 0x{r0:X}" if reason == "returned" and r0 is not None else reason
            items.append(Item("calls", open_call["time_s"], e["time_s"], open_call["source"],
                              f"{open_call['text']}: {outcome} after "
                              f"{(e['time_s'] - open_call['time_s']) * 1e3:.3f} ms",
                              "call" if reason == "returned" else "call failed",
                              anchor=f"call-{len(items)}"))
            open_call = None
    if open_call is not None:  # recording stopped inside the call
        items.append(Item("calls", open_call["time_s"], end_s, open_call["source"],
                          f"{open_call['text']}: did not return", "call failed",
                          anchor=f"call-{len(items)}"))
    return items


def _aggregate(items: list[Item], calls: list[Item], noun: str) -> list[Item]:
    """``items`` (one row, in time order) as they are when few; else the first KEEP and last
    KEEP_LAST, every anomaly, and one span per loader call for the rest."""
    if len(items) <= DETAIL_LIMIT:
        return items
    keep_last = min(KEEP_LAST, KEEP)
    out = [*items[:KEEP], *items[len(items) - keep_last:]]
    groups: dict[int, list[Item]] = {}
    call_ends = [c.end_s or c.start_s for c in calls]
    for item in items[KEEP:len(items) - keep_last]:
        if item.css == "anomaly":
            out.append(item)
            continue
        index = bisect.bisect_left(call_ends, item.start_s)
        groups.setdefault(index, []).append(item)
    for group in groups.values():
        labels = sorted({i.label for i in group})
        shown = ", ".join(labels[:12]) + (", ..." if len(labels) > 12 else "")
        out.append(Item(group[0].row, group[0].start_s, group[-1].end_s or group[-1].start_s,
                        f"{len(group)} {noun}", f"{len(group)} {noun} ({shown}) aggregated",
                        "aggregate"))
    return out


def _commands(flash: list[dict[str, Any]], calls: list[Item]) -> list[Item]:
    """Controller commands coloured by mode, with opcode, lines, STR/DTR, address and length
    on hover."""
    def mark(e: dict[str, Any]) -> Item:
        count = f" (x{e['count']})" if e.get("count", 1) > 1 else ""
        where = f" at {e['where']}" if e.get("where") else ""
        outcome = ("" if e.get("outcome") == "ok"
                   else f" -> {e.get('outcome')} {e.get('reason', '')}".rstrip())
        rate = "DTR" if e.get("ddr") else "STR"
        address = f", address 0x{e['address']:X}" if e.get("address") is not None else ""
        length = f", {e['length']} bytes" if e.get("length") else ""
        return Item("controller", e["time_s"], None, f"0x{e['opcode']:02X}"
                    if e.get("opcode") is not None else "cmd",
                    f"{e.get('mode') or 'command'} {_lines(e)} ({rate}{address}{length}): "
                    f"{e['command']}{count}{where}{outcome}", _command_css(e))

    # window reads decoded one frame per access (a host reading a sector through an 8D
    # window) have a detail budget of their own: they must not push the first erases and page
    # programs into an aggregated span
    mapped = [mark(e) for e in flash if e.get("mode") == "memory-mapped"]
    direct = [mark(e) for e in flash if e.get("mode") != "memory-mapped"]
    return sorted(_aggregate(direct, calls, "commands") + _aggregate(mapped, calls, "commands"),
                  key=lambda i: i.start_s)


def _chip(flash: list[dict[str, Any]]) -> list[Item]:
    items = []
    for e in flash:
        if "busy_until_s" in e:
            kind = e["busy_kind"]
            where = (f" 0x{e['busy_start']:X}..0x{e['busy_end'] - 1:X}" if "busy_start" in e
                     else "")
            items.append(Item("chip", e["time_s"], e["busy_until_s"], f"busy {kind}",
                              f"busy {kind}{where} for "
                              f"{(e['busy_until_s'] - e['time_s']) * 1e3:.3f} ms",
                              f"busy-{kind.split('-')[0]}"))
    return items


def _protocol(flash: list[dict[str, Any]], end_s: float) -> list[Item]:
    """The chip's protocol state from one command to the command that changed it."""
    items: list[Item] = []
    for e in flash:
        state = e.get("chip_protocol")
        if state is None or (items and items[-1].label == state):
            continue
        if items:
            items[-1].end_s = e["time_s"]
        items.append(Item("protocol", e["time_s"], end_s, state,
                          f"chip in {PROTOCOLS.get(state, state)}", f"p-{state.lower()}"))
    for item in items:
        item.detail += f" for {((item.end_s or item.start_s) - item.start_s) * 1e3:.3f} ms"
    return items


def _cpu(events: list[dict[str, Any]], calls: list[Item], mapped: list[dict[str, Any]]
         ) -> list[Item]:
    """The core running (a loader call, or an application from the window), loops waiting on
    a register (a read folded many times) until the next event, and faults."""
    items = [Item("cpu", c.start_s, c.end_s, "running", f"running {c.label}", "running")
             for c in calls]
    if not calls and mapped:
        items.append(Item("cpu", mapped[0]["time_s"], mapped[-1]["end_s"], "running",
                          "running the application", "running"))
    for i, e in enumerate(events):
        if e["kind"] == "read" and e.get("count", 1) >= SPIN_READS:
            end = e.get("end_s") or (events[i + 1]["time_s"] if i + 1 < len(events)
                                     else e["time_s"])
            items.append(Item("cpu", e["time_s"], end, "spin",
                              f"spinning at {e.get('where', '?')}: {e['text']} "
                              f"(x{e['count']})", "spin"))
        elif e["kind"] == "return" and e.get("reason") not in (None, "returned"):
            items.append(Item("cpu", e["time_s"], None, e["reason"],
                              f"{e['source']} {e['reason']}", "fault"))
    return items


def _interrupts(events: list[dict[str, Any]], calls: list[Item], end_s: float) -> list[Item]:
    """Exception handlers from entry to return (nested ones stack)."""
    items: list[Item] = []
    open_: list[dict[str, Any]] = []
    for e in events:
        if e["kind"] != "interrupt":
            continue
        if e.get("entered"):
            open_.append(e)
        elif open_:
            start = open_.pop()
            items.append(Item("interrupts", start["time_s"], e["time_s"], start["source"],
                              f"{start['source']} handler entered at {start.get('where', '?')}"
                              f", {(e['time_s'] - start['time_s']) * 1e6:.2f} us",
                              "fault" if start["source"].endswith("Fault") else "irq"))
    items += [Item("interrupts", e["time_s"], end_s, e["source"],
                   f"{e['source']} handler entered at {e.get('where', '?')}, never returned",
                   "fault" if e["source"].endswith("Fault") else "irq") for e in open_]
    items.sort(key=lambda i: i.start_s)
    return _aggregate(items, calls, "interrupts")


def _window(mapped: list[dict[str, Any]]) -> list[Item]:
    """The application's traffic through the memory-mapped window, per time bucket."""
    peak = max((b["fetch_bytes"] + b["read_bytes"] for b in mapped), default=1) or 1
    items = []
    for b in mapped:
        level = min(4, 1 + 4 * (b["fetch_bytes"] + b["read_bytes"]) // (peak + 1))
        items.append(Item("window", b["time_s"], b["end_s"], "mapped",
                          f"window: {b['fetches']} code blocks fetched ({b['fetch_bytes']} bytes)"
                          f", {b['reads']} data reads ({b['read_bytes']} bytes)",
                          f"mapped l{level}"))
    return items


NOUNS = {"controller": "commands", "chip": "busy periods", "interrupts": "handler runs"}


def _summaries(trace: dict[str, Any]) -> list[Item]:
    """The spans a compact trace recorded instead of its middle commands and interrupts."""
    items = []
    for a in trace.get("aggregates", []):
        noun = NOUNS.get(a["row"], "events")
        shown = ", ".join(a["labels"][:12]) + (", ..." if len(a["labels"]) > 12 else "")
        items.append(Item(a["row"], a["time_s"], a["end_s"], f"{a['count']} {noun}",
                          f"{a['count']} {noun} ({shown}) aggregated", "aggregate"))
    return items


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _outside(ranges: list[tuple[int, int]], allowed: list[tuple[int, int]]
             ) -> list[tuple[int, int]]:
    """The parts of ``ranges`` no range of ``allowed`` (merged, sorted) covers."""
    out = []
    for lo, hi in ranges:
        at = lo
        for a_lo, a_hi in allowed:
            if a_hi <= at or a_lo >= hi:
                continue
            if a_lo > at:
                out.append((at, a_lo))
            at = max(at, a_hi)
        if at < hi:
            out.append((at, hi))
    return out


def _flash_map(flash: list[dict[str, Any]], plan: dict[str, Any] | None,
               summarised: dict[str, list[list[int]]]) -> dict[str, list[tuple[int, int]]]:
    """Rows of the flash map: planned, erased, written, verified/read back, skipped unchanged
    and anything erased or written outside the plan (``summarised``: the ranges of the
    commands a compact trace aggregated)."""
    erased = [(a, b) for a, b in summarised.get("erase", [])]
    written = [(a, b) for a, b in summarised.get("program", [])]
    read = [(a, b) for a, b in summarised.get("read", [])]
    for e in flash:
        if e.get("busy_kind") == "erase" and "busy_start" in e:
            erased.append((e["busy_start"], e["busy_end"]))
        elif e.get("busy_kind") == "program" and "busy_start" in e:
            written.append((e["busy_start"], e["busy_end"]))
        elif (e.get("mode") in ("indirect read", "memory-mapped") and e.get("address") is not None
              and e.get("length") and not e.get("polling") and e["length"] > 8):
            read.append((e["address"], e["address"] + e["length"]))
    rows = {"erased": _merge(erased), "written": _merge(written)}
    if plan:
        planned = _merge([(lo, hi) for lo, hi in plan.get("sectors", [])])
        rows = {"planned": planned, **rows}
        if plan.get("verified"):
            read += rows["written"]
        rows["skipped"] = _merge([(lo, hi) for lo, hi in plan.get("skipped", [])])
        rows["outside"] = _merge(_outside(rows["erased"] + rows["written"], planned))
    rows["verified"] = _merge(read)
    order = ("planned", "erased", "written", "verified", "skipped", "outside")
    return {k: rows[k] for k in order if rows.get(k) or (k == "outside" and plan)}


def build(trace: dict[str, Any]) -> Report:
    events = sorted(trace["events"], key=lambda e: e["time_s"])
    mapped = list(trace.get("mapped", []))
    start = min([*(e["time_s"] for e in events[:1]), *(b["time_s"] for b in mapped[:1])],
                default=0.0)
    end = max([*(e["time_s"] for e in events[-1:]), *(b["end_s"] for b in mapped[-1:])],
              default=0.0)
    flash = [e for e in events if e["kind"] == "flash"]
    end = max([end, *(e["busy_until_s"] for e in flash if "busy_until_s" in e)])
    calls = _calls(events, end)
    items = [*calls, *_commands(flash, calls), *_chip(flash), *_protocol(flash, end),
             *_cpu(events, calls, mapped), *_interrupts(events, calls, end), *_window(mapped),
             *_summaries(trace)]
    diagnosis = trace.get("diagnosis")
    anchor = ""
    if diagnosis:
        # The diagnosed call is the last one of its function (a call that returned a failure
        # code looks like any return in the trace: the diagnosis says it failed).
        failed = [c for c in calls if c.label == diagnosis.get("function")] or calls
        if failed:
            anchor = failed[-1].anchor
            failed[-1].css = "call failed"
    used = {i.row for i in items}
    return Report(
        board=str(trace.get("board", "")), start_s=start, end_s=max(end, start + 1e-9),
        items=items, flash=_flash_map(flash, trace.get("plan"), trace.get("flash_ranges", {})),
        wiring=list(trace.get("wiring", [])), diagnosis=diagnosis, diagnosis_anchor=anchor,
        dropped=int(trace.get("dropped", 0)),
        counts={"calls": len(calls), "commands": len(flash) + sum(
            a["count"] for a in trace.get("aggregates", []) if a["row"] == "controller")},
        rows=tuple(r for r in ROWS if r in ALWAYS or r in used),
        operation=str(trace.get("operation", "")), pins=dict(trace.get("pins", {})),
        clocks=dict(trace.get("clocks", {})), summary=str(trace.get("summary", "")),
    )
