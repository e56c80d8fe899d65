"""Progress rendering for the command line: a rich progress bar with throughput on a terminal,
plain throttled lines otherwise (CI logs), nothing in quiet or JSON mode.

The library reports progress through ``(phase, done, total)`` callbacks; this module turns them
into output. Throughput is computed from the host's wall clock; the virtual board's own time is
reported separately by the commands.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # rich.progress is imported only when a bar is drawn (start-up time)
    from rich.progress import Progress, TaskID

PHASE_NAMES = {
    "compare": "comparing",
    "read": "reading",
    "erase": "erasing",
    "write": "writing",
    "verify": "verifying",
    "checksum": "checksum",
}


class ProgressRenderer:
    """A context manager whose instance is a progress callback."""

    def __init__(self, *, mode: str = "auto", stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode = mode  # "bar" | "lines" | "off"
        self._bar: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._last_line: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def __enter__(self) -> ProgressRenderer:
        if self.mode == "bar":
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description:>10}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)

    def __call__(self, phase: str, done: int, total: int) -> None:
        name = PHASE_NAMES.get(phase, phase)
        if self.mode == "off":
            return
        if self._bar is not None:
            task = self._tasks.get(name)
            if task is None:
                task = self._bar.add_task(name, total=total)
                self._tasks[name] = task
            self._bar.update(task, completed=done, total=total)
            return
        now = time.monotonic()
        start = self._started.setdefault(name, now)
        if done < total and now - self._last_line.get(name, 0.0) < 2.0:
            return
        self._last_line[name] = now
        pct = 100 * done // total if total else 100
        line = f"{name}: {done}/{total} bytes ({pct}%)"
        if now - start > 0.05:
            line += f", {done / (now - start) / 1e6:.2f} MB/s"
        self.stream.write(line + "\n")
        self.stream.flush()
