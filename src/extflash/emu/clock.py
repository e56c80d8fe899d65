"""Virtual time.

Time is derived from executed core cycles, never from the host's wall clock, so the same run
gives the same result every time. The core frequency changes when the loader reprograms the
clock tree (the RCC model calls :meth:`VirtualClock.set_core_hz`); time already elapsed is kept.

Time is kept in femtoseconds (an integer): a cycle at 400 MHz is exactly 2 500 000 fs.
Peripherals and flash chips schedule events (end of a page program, SysTick expiry) with
:meth:`schedule`; the machine asks :meth:`next_event_fs` to fast-forward idle polling loops.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

FS_PER_S = 10**15
FS_PER_US = 10**9
FS_PER_NS = 10**6


class VirtualClock:
    def __init__(self, core_hz: int) -> None:
        self.core_hz = core_hz
        self._fs_per_cycle = FS_PER_S // core_hz
        self.now_fs = 0
        self.cycles = 0
        self._events: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        # The deadline of the run in progress: speculative skips (a polling loop jumped ahead to
        # what it waits for) stop there, so a call times out when its time is up.
        self.limit_fs: int | None = None
        # called after time or the cycle count moved (every path that moves them ends in
        # advance_to): the machine keeps its native time source's base current with it
        self.on_moved: Callable[[], None] | None = None

    def set_core_hz(self, hz: int) -> None:
        if hz <= 0:
            raise ValueError("core frequency must be positive")
        self.core_hz = hz
        self._fs_per_cycle = FS_PER_S // hz

    @property
    def fs_per_cycle(self) -> int:
        return self._fs_per_cycle

    def advance_cycles(self, cycles: int) -> None:
        self.cycles += cycles
        self.advance_to(self.now_fs + cycles * self._fs_per_cycle)

    def advance_fs(self, fs: int) -> None:
        """Let ``fs`` of time pass; the cycle counter moves with it at the current frequency."""
        self.cycles += fs // self._fs_per_cycle
        self.advance_to(self.now_fs + fs)

    def advance_to(self, t_fs: int) -> None:
        """Move time forward to ``t_fs``, firing due events in order."""
        while self._events and self._events[0][0] <= t_fs:
            when, _, callback = heapq.heappop(self._events)
            self.now_fs = max(self.now_fs, when)
            callback()
        self.now_fs = max(self.now_fs, t_fs)
        if self.on_moved is not None:
            self.on_moved()

    def skip_to(self, t_fs: int) -> None:
        """Let time pass up to ``t_fs``, but never beyond :attr:`limit_fs`."""
        if self.limit_fs is not None:
            t_fs = min(t_fs, self.limit_fs)
        if t_fs > self.now_fs:
            self.advance_fs(t_fs - self.now_fs)

    def schedule(self, at_fs: int, callback: Callable[[], None]) -> None:
        heapq.heappush(self._events, (at_fs, next(self._seq), callback))

    def drop(self, claimed: Callable[[Callable[[], None]], bool]) -> None:
        """Forget the scheduled events whose callback ``claimed`` says is stale."""
        self._events = [e for e in self._events if not claimed(e[2])]
        heapq.heapify(self._events)

    def upcoming(self) -> list[tuple[int, Callable[[], None]]]:
        """Every scheduled event (time, callback), in firing order."""
        return [(when, callback) for when, _, callback in sorted(self._events)]

    def next_event_fs(self) -> int | None:
        return self._events[0][0] if self._events else None

    def next_events_except(self, ignore: Callable[[Callable[[], None]], bool],
                           n: int) -> list[tuple[int, Callable[[], None]]]:
        """The next ``n`` events (time, callback), in firing order, that ``ignore`` does not
        claim."""
        # asked at every run slice; the queue holds a handful of events: sort it whole (entries
        # are unique by sequence number, so the order is the firing order)
        kept: list[tuple[int, Callable[[], None]]] = []
        for when, _, callback in sorted(self._events):
            if not ignore(callback):
                kept.append((when, callback))
                if len(kept) == n:
                    break
        return kept

    @property
    def now_us(self) -> float:
        return self.now_fs / FS_PER_US

    def cycles_for_fs(self, fs: int) -> int:
        return -(-fs // self._fs_per_cycle)
