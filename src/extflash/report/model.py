"""What the report draws, taken from a trace (``extflash.trace/1`` JSON): spans and marks on the
timeline's rows, the flash map, the wiring and the diagnosis. The page is a view of the trace;
nothing here adds facts the trace does not hold."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extflash.errors import InputError

SCHEMA = "extflash.trace/1"
ROWS = ("calls", "controller", "chip", "cpu")
# Above this many controller commands the middle ones are drawn as one span per loader call;
# the first and last KEEP commands and every anomaly keep their own mark.
DETAIL_LIMIT = 1500
KEEP = 100
SPIN_READS = 16  # a register read folded this many times is a loop waiting on it


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
    board: str
    start_s: float
    end_s: float
    items: list[Item]
    flash: list[dict[str, Any]]  # {"kind": erase|program|read, "start", "end"} address ranges
    wiring: list[dict[str, Any]]
    diagnosis: dict[str, Any] | None
    diagnosis_anchor: str = ""
    dropped: int = 0
    counts: dict[str, int] = field(default_factory=dict)


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


def _commands(flash: list[dict[str, Any]], calls: list[Item]) -> list[Item]:
    """Controller commands: every one when few, else the first and last few, the anomalies,
    and one span per loader call for the rest."""
    def mark(e: dict[str, Any]) -> Item:
        count = f" (x{e['count']})" if e.get("count", 1) > 1 else ""
        where = f" at {e['where']}" if e.get("where") else ""
        outcome = ("" if e.get("outcome") == "ok"
                   else f" -> {e.get('outcome')} {e.get('reason', '')}".rstrip())
        return Item("controller", e["time_s"], None, f"0x{e['opcode']:02X}"
                    if e.get("opcode") is not None else "cmd",
                    f"{e.get('mode') or 'command'} {_lines(e)}: {e['command']}{count}{where}"
                    f"{outcome}", _command_css(e))

    if len(flash) <= DETAIL_LIMIT:
        return [mark(e) for e in flash]
    items = [mark(e) for e in flash[:KEEP]]
    groups: dict[int, list[dict[str, Any]]] = {}
    call_ends = [c.end_s or c.start_s for c in calls]
    for e in flash[KEEP:-KEEP]:
        if e.get("outcome") != "ok":
            items.append(mark(e))
            continue
        index = next((i for i, end in enumerate(call_ends) if e["time_s"] <= end), len(calls))
        groups.setdefault(index, []).append(e)
    for group in groups.values():
        opcodes = sorted({f"0x{e['opcode']:02X}" for e in group if e.get("opcode") is not None})
        items.append(Item("controller", group[0]["time_s"], group[-1]["time_s"],
                          f"{len(group)} commands",
                          f"{len(group)} commands ({', '.join(opcodes)}) aggregated",
                          "aggregate"))
    items += [mark(e) for e in flash[-KEEP:]]
    return items


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


def _cpu(events: list[dict[str, Any]]) -> list[Item]:
    """Loops that wait on a register (a read folded many times) until the next event; faults."""
    items = []
    for i, e in enumerate(events):
        if e["kind"] == "read" and e.get("count", 1) >= SPIN_READS:
            end = events[i + 1]["time_s"] if i + 1 < len(events) else e["time_s"]
            items.append(Item("cpu", e["time_s"], end, "spin",
                              f"spinning at {e.get('where', '?')}: {e['text']} "
                              f"(x{e['count']})", "spin"))
        elif e["kind"] == "return" and e.get("reason") not in (None, "returned"):
            items.append(Item("cpu", e["time_s"], None, e["reason"],
                              f"{e['source']} {e['reason']}", "fault"))
    return items


def _flash_map(flash: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ranges = []
    for e in flash:
        if e.get("busy_kind") in ("program", "erase") and "busy_start" in e:
            ranges.append({"kind": e["busy_kind"], "start": e["busy_start"],
                           "end": e["busy_end"]})
        elif (e.get("mode") in ("indirect read", "memory-mapped") and e.get("address") is not None
              and e.get("length") and not e.get("polling") and e["length"] > 8):
            ranges.append({"kind": "read", "start": e["address"],
                           "end": e["address"] + e["length"]})
    return ranges


def build(trace: dict[str, Any]) -> Report:
    events = sorted(trace["events"], key=lambda e: e["time_s"])
    start = events[0]["time_s"] if events else 0.0
    end = max((e["time_s"] for e in events), default=0.0)
    flash = [e for e in events if e["kind"] == "flash"]
    end = max([end, *(e["busy_until_s"] for e in flash if "busy_until_s" in e)])
    calls = _calls(events, end)
    items = [*calls, *_commands(flash, calls), *_chip(flash), *_cpu(events)]
    diagnosis = trace.get("diagnosis")
    anchor = ""
    if diagnosis:
        # The diagnosed call is the last one of its function (a call that returned a failure
        # code looks like any return in the trace: the diagnosis says it failed).
        failed = [c for c in calls if c.label == diagnosis.get("function")] or calls
        if failed:
            anchor = failed[-1].anchor
            failed[-1].css = "call failed"
    return Report(
        board=str(trace.get("board", "")), start_s=start, end_s=max(end, start + 1e-9),
        items=items, flash=_flash_map(flash), wiring=list(trace.get("wiring", [])),
        diagnosis=diagnosis, diagnosis_anchor=anchor, dropped=int(trace.get("dropped", 0)),
        counts={"calls": len(calls), "commands": len(flash)},
    )
