"""Large byte arrays filled with one value, written once.

``bytearray([v]) * n`` copies its way up through doublings: for a 16 MiB NOR array that is about
30 ms of a command's start-up; ``bytearray(n)`` (pages the system zeroes on first touch) and one
``memset`` take a quarter of it, and nothing at all for zeroes.
"""

from __future__ import annotations

import ctypes


def fill(memory: bytearray, value: int) -> None:
    """Every byte of ``memory`` set to ``value``, in place."""
    if memory:
        ctypes.memset((ctypes.c_char * len(memory)).from_buffer(memory), value, len(memory))


def filled(size: int, value: int) -> bytearray:
    """``size`` bytes of ``value``."""
    memory = bytearray(size)
    if value:
        fill(memory, value)
    return memory
