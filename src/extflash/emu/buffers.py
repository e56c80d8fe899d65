"""Large byte arrays filled with one value, written once.

``bytearray([v]) * n`` copies its way up through doublings, and ``bytearray(n)`` writes its zeroes
itself: for the 64 MiB of an MX25LM51245G that is 40 ms of a command's start-up, almost all of
it the page faults of the first touch. A buffer for another value is therefore made without
touching it (``PyByteArray_Resize`` of an empty one: the allocator maps fresh pages) and filled
by one ``memset``.

:func:`prepare_blank_chips` starts that ``memset`` on a thread as soon as the board is known and
:func:`filled` hands the buffer out when the chip is made. ``memset`` is a foreign call, which
releases the interpreter's lock, so the page faults are taken on another core while the command
line imports the emulator and builds the machine.
"""

from __future__ import annotations

import ctypes
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from extflash.board import Board

# (size, value) -> buffers being filled, each with the thread that fills it
_pending: dict[tuple[int, int], list[tuple[bytearray, threading.Thread]]] = {}

_resize = ctypes.pythonapi.PyByteArray_Resize
_resize.argtypes = (ctypes.py_object, ctypes.c_ssize_t)
_resize.restype = ctypes.c_int


def _untouched(size: int) -> bytearray:
    """``size`` bytes whose contents are undefined, not yet touched (no page faults yet)."""
    memory = bytearray()
    if _resize(memory, size):
        raise MemoryError(f"cannot allocate {size} bytes")
    return memory


def fill(memory: bytearray, value: int) -> None:
    """Every byte of ``memory`` set to ``value``, in place."""
    if memory:
        ctypes.memset((ctypes.c_char * len(memory)).from_buffer(memory), value, len(memory))


def filled(size: int, value: int) -> bytearray:
    """``size`` bytes of ``value`` (a prepared buffer when one is waiting: :func:`prepare`)."""
    waiting = _pending.get((size, value))
    if waiting:
        memory, thread = waiting.pop(0)
        thread.join()
        return memory
    if not value:
        return bytearray(size)
    memory = _untouched(size)
    fill(memory, value)
    return memory


def prepare(size: int, value: int, count: int = 1) -> None:
    """Have ``count`` buffers of ``size`` bytes of ``value`` filled on threads, for the next
    :func:`filled` calls with that size and value. Nothing touches a buffer until
    :func:`filled` has joined its thread."""
    if not value or size <= 0:
        return  # only erased values are prepared (a zeroed buffer: bytearray(size))
    waiting = _pending.setdefault((size, value), [])
    while len(waiting) < count:
        memory = _untouched(size)
        view = (ctypes.c_char * size).from_buffer(memory)  # released when the thread ends
        thread = threading.Thread(target=ctypes.memset, args=(view, value, size),
                                  name="extflash-blank-fill", daemon=True)
        thread.start()
        waiting.append((memory, thread))


def prepare_blank_chips(board: Board) -> None:
    """Start filling the arrays of ``board``'s NOR chips with their erased value (0xFF), one per
    chip select, for the chips the virtual board is about to make."""
    from extflash import chips

    counts: dict[int, int] = {}
    for memory in board.memories:
        size = chips.find(memory.chip).size
        counts[size] = counts.get(size, 0) + len(memory.banks)
    for size, count in counts.items():
        prepare(size, 0xFF, count)


def drop_prepared() -> None:
    """Forget the prepared buffers nobody took (a chip read whole from its file needs none)."""
    for waiting in _pending.values():
        for _memory, thread in waiting:
            thread.join()
    _pending.clear()
