"""Python side of ``timesource_fast.c``: DWT CYCCNT word reads served in C.

The struct is mirrored here; :class:`NativeTimeSource` builds it for one DWT mapping and
holds what the C side reads (the clock base, the counter's anchors, the deferred flags)."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from extflash.emu import native

MAX_FLAGS = 16


class TimeSourceState(ctypes.Structure):
    """``struct time_source``."""

    _fields_ = [
        ("counter", ctypes.c_void_p),
        ("base", ctypes.c_uint64),
        ("anchor_cycles", ctypes.c_uint64),
        ("anchor_value", ctypes.c_uint32),
        ("counting", ctypes.c_uint32),
        ("running", ctypes.c_uint32),
        ("timed", ctypes.c_uint32),
        ("n_flags", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("served", ctypes.c_uint64),
        ("served_untaken", ctypes.c_uint64),
        ("flags", ctypes.c_void_p * MAX_FLAGS),
        ("untaken", ctypes.c_void_p * MAX_FLAGS),
        ("forward", ctypes.c_void_p),
    ]


class NativeTimeSource:
    """One DWT page read through ``dwt_read``; every other access goes to ``python_read``."""

    def __init__(self, lib: ctypes.CDLL, counter_address: int, python_read: Any) -> None:
        self.state = TimeSourceState()
        self.state.counter = counter_address
        self._python_read = python_read  # kept alive: C calls it
        self.state.forward = ctypes.cast(python_read, ctypes.c_void_p).value
        self._read = ctypes.cast(lib.dwt_read, ctypes.c_void_p).value
        self._flags: tuple[tuple[int, int | None], ...] = ()

    @property
    def read_function(self) -> int:
        assert self._read is not None
        return self._read

    @property
    def user_data(self) -> int:
        return ctypes.addressof(self.state)

    def watch_flags(self, flags: Sequence[tuple[ctypes.c_uint32, ctypes.c_uint64 | None]]
                    ) -> None:
        """The native lanes' deferred flags, each with the cycles Python adds when it takes the
        flag over (None: unknown): while a flag without them is raised, reads go to Python."""
        addresses = tuple((ctypes.addressof(f), ctypes.addressof(c) if c is not None else None)
                          for f, c in flags)
        if addresses == self._flags:
            return
        if len(addresses) > MAX_FLAGS:
            self.state.n_flags = 0
            self.state.running = 0
            raise ValueError("too many native lanes for the DWT time source")
        self._flags = addresses
        for i, (flag, untaken) in enumerate(addresses):
            self.state.flags[i] = flag
            self.state.untaken[i] = untaken
        self.state.n_flags = len(addresses)


def load() -> ctypes.CDLL | None:
    return native.load("timesource_fast")
