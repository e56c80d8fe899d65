"""Recording the trace of the runs that are not one watched session: the conformance test
(``extflash test``, the self-test of ``extflash new``), which uses a fresh virtual board for
each situation, and an application running from the window (``extflash run``).

::

    rec = record.Recording("test")
    result = conformance.run(loader, board, on_rig=rec.attach)
    trace = rec.trace(diagnosis=record.conformance_diagnosis(result))
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from extflash.errors import InputError
from extflash.trace import Timeline

GAP_S = 1e-4  # between two boards' recordings on the merged timeline


class _ElfNames:
    """``name(pc)`` over an application's and boot image's symbols (``xip.ElfSymbols``)."""

    def __init__(self, symbols: Any) -> None:
        self.symbols = symbols

    def name(self, address: int) -> str | None:
        found: str | None = self.symbols.function_at(address & ~1)
        return found


class Recording:
    """One timeline per virtual board, merged into one trace (each board's virtual time
    follows the previous one's)."""

    def __init__(self, operation: str, *, peripherals: list[str] | None = None,
                 compact: bool = True) -> None:
        """``compact``: only what the page draws (see :class:`~extflash.trace.Timeline`);
        ``peripherals``: as ``--trace-filter``."""
        self.operation = operation
        self.peripherals = peripherals
        self.compact = compact
        self.timelines: list[Timeline] = []
        self.paths: tuple[str | None, str | None] = (None, None)  # --trace, --report

    def attach(self, watch: Any) -> None:
        """``on_rig`` of :func:`extflash.conformance.run`: record this board."""
        self.timelines.append(Timeline.attach(watch, peripherals=self.peripherals,
                                              compact=self.compact))

    def attach_run(self, prepared: Any) -> None:
        """``on_prepared`` of :func:`extflash.xip.run_application`: record the application."""
        names: Any = _ElfNames(prepared.symbols)
        timeline = Timeline(prepared.vboard, symbols=names, peripherals=self.peripherals,
                            compact=self.compact)
        timeline.start()
        self.timelines.append(timeline)

    def write(self, trace: dict[str, Any], path: str | os.PathLike[str]) -> None:
        """``trace`` (from :meth:`trace`) as JSON for a ``.json`` path, else as text: each
        board's timeline after the other."""
        p = Path(path)
        if p.suffix.lower() == ".json":
            text = json.dumps(trace, indent=1)
        else:
            text = "\n".join(f"-- virtual board {i + 1} of {len(self.timelines)} --\n"
                             + "\n".join(t.render()) for i, t in enumerate(self.timelines))
        try:
            p.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the trace to {p}: {exc.strerror or exc}") from None

    def trace(self, diagnosis: dict[str, Any] | None = None, summary: str = ""
              ) -> dict[str, Any]:
        """The merged trace; ``summary``: one line on how the operation ended."""
        parts = []
        for timeline in self.timelines:
            if timeline._hooks or timeline._flash_log is not None:  # still recording
                timeline.stop()
            timeline.operation = self.operation
            parts.append(timeline.as_dict())
        merged = merge(parts) if parts else {"schema": "extflash.trace/1", "board": "",
                                             "dropped": 0, "events": []}
        merged["operation"] = self.operation
        if diagnosis is not None:
            merged["diagnosis"] = diagnosis
        if summary:
            merged["summary"] = summary
        return merged


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Traces of successive boards as one: events, window traffic and a compact trace's
    summaries shifted in time, its flash ranges joined, the board facts (wiring, pins, clocks,
    plan) of the last board that has them."""
    out = {**parts[-1], "events": [], "dropped": 0}
    for key in ("mapped", "aggregates", "flash_ranges"):
        out.pop(key, None)
    shift = 0.0
    for part in parts:
        events = part["events"]
        out["events"] += [{**e, "time_s": e["time_s"] + shift,
                           **({"busy_until_s": e["busy_until_s"] + shift}
                              if "busy_until_s" in e else {})} for e in events]
        for key in ("mapped", "aggregates"):  # spans: time_s to end_s
            spans = [{**b, "time_s": b["time_s"] + shift, "end_s": b["end_s"] + shift}
                     for b in part.get(key, [])]
            if spans:
                out.setdefault(key, []).extend(spans)
        for kind, ranges in part.get("flash_ranges", {}).items():
            out.setdefault("flash_ranges", {}).setdefault(kind, []).extend(ranges)
        out["dropped"] += part.get("dropped", 0)
        for key in ("wiring", "pins", "clocks", "plan"):
            if part.get(key):
                out[key] = part[key]
        ends = [e.get("busy_until_s", e["time_s"]) for e in events]
        ends += [b["end_s"] for key in ("mapped", "aggregates") for b in part.get(key, [])]
        shift += max(ends, default=0.0) + GAP_S
    return out


def conformance_diagnosis(result: Any) -> dict[str, Any] | None:
    """The first failed check of a conformance report (``conformance.Report``), as the trace's
    diagnosis."""
    failed = next((c for c in result.checks if c.status == "fail"), None)
    if failed is None:
        return None
    out: dict[str, Any] = (failed.diagnosis.as_dict() if failed.diagnosis is not None
                           else {"kind": "conformance"})
    out["error"] = f"{failed.title}: {failed.detail}"
    return out


def run_diagnosis(outcome: Any) -> dict[str, Any] | None:
    """How an application's run ended (``xip.RunOutcome``) when it did not exit."""
    if outcome.reason == "exit":
        return None
    return {"kind": outcome.reason, "function": "the application", "error": outcome.message,
            "cause": f"stopped at {outcome.where}", "details": list(outcome.details)}
