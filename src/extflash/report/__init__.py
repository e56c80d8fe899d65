"""A self-contained HTML page of one run: the timeline of loader calls, controller commands,
chip busy time and CPU loops, the flash map, the wiring and, for a failure, the diagnosis.

The page is a view of the trace (:mod:`extflash.trace`, schema ``extflash.trace/1``)::

    timeline.stop()
    report.write_html(timeline.as_dict(), "run.html")
    report.write_html(report.load_trace("run.json"), "run.html")   # a saved trace
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from extflash.errors import InputError
from extflash.report import html
from extflash.report.model import Report, build, load_trace

__all__ = ["Report", "build", "load_trace", "render_html", "write_html"]


def render_html(trace: dict[str, Any]) -> str:
    """The page for a trace dictionary (``Timeline.as_dict()`` or a loaded JSON trace)."""
    return html.render(build(trace))


def write_html(trace: dict[str, Any], path: str | os.PathLike[str]) -> None:
    p = Path(path)
    try:
        p.write_text(render_html(trace), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report to {p}: {exc.strerror or exc}") from None
