"""Ctrl-C during an operation: stop at the next safe point, keep the chip file consistent.

The first Ctrl-C asks the operation to stop: the progress callback, which the programmer calls
between loader calls, raises :class:`~extflash.errors.Interrupted` there, so no call is cut in
half; the session then closes (saving the chip file) and the command reports which sectors were
erased and written. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType

import click

from extflash.errors import Interrupted

ProgressCallback = Callable[[str, int, int], None]


class InterruptGuard:
    """While active (a context manager), Ctrl-C is a request to stop at the next safe point."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Callable[[int, FrameType | None], object] | int | None = None
        self._active = False

    def __enter__(self) -> InterruptGuard:
        # Signal handlers can only be installed from the main thread (not in embedded uses).
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_interrupt)
            self._active = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._active:
            signal.signal(signal.SIGINT, self._previous)
            self._active = False

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        click.echo(
            "stopping after the current loader call (Ctrl-C again to stop at once)", err=True
        )

    def check(self) -> None:
        if self.requested:
            raise Interrupted("interrupted")

    def watching(self, progress: ProgressCallback) -> ProgressCallback:
        """``progress``, preceded by a check for a pending stop request."""

        def callback(phase: str, done: int, total: int) -> None:
            self.check()
            progress(phase, done, total)

        return callback
