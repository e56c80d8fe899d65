"""Memory-access hooks on the unicorn engine, including ``UC_HOOK_MEM_READ_AFTER``.

Unicorn calls memory hooks for every access, MMIO regions included, whatever serves them (the
Python register models or native fast paths), and the *read-after* hook carries the value the
core got. The Python binding does not offer that hook type, so it is registered here through the
C API. Tracing and loop probing are built on these hooks, never on the peripheral models.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass

import unicorn
from unicorn.unicorn_py3.unicorn import HOOK_MEM_ACCESS_CFUNC, uc_hook_h, uclib

# (address, size, value)
AccessCallback = Callable[[int, int, int], None]


@dataclass
class MemHook:
    """A unicorn memory hook and the ctypes callback it needs kept alive."""

    uc: unicorn.Uc
    handle: uc_hook_h
    cfunc: object  # keeps the ctypes callback alive while the hook exists

    def remove(self) -> None:
        if self.cfunc is not None:
            uclib.uc_hook_del(self.uc._uch, self.handle)
            self.uc._callbacks.pop(self.handle.value, None)
            self.cfunc = None


def _add(uc: unicorn.Uc, kind: int, callback: AccessCallback, begin: int, end: int) -> MemHook:
    def trampoline(_uch: int, _access: int, address: int, size: int, value: int,
                   _ud: object) -> None:
        callback(address, size, value & ((1 << (8 * size)) - 1))

    cfunc = HOOK_MEM_ACCESS_CFUNC(trampoline)
    handle = uc_hook_h()
    status = uclib.uc_hook_add(uc._uch, ctypes.byref(handle), kind,
                               ctypes.cast(cfunc, ctypes.c_void_p), None,
                               ctypes.c_uint64(begin), ctypes.c_uint64(end))
    if status != unicorn.UC_ERR_OK:
        raise unicorn.UcError(status)
    # listed with the binding's own hooks: the machine sees that someone hooks the core (its
    # C tick loop then leaves every tick to Python)
    uc._callbacks[handle.value] = cfunc
    return MemHook(uc, handle, cfunc)


def on_read(uc: unicorn.Uc, callback: AccessCallback, begin: int = 1, end: int = 0) -> MemHook:
    """``callback(address, size, value)`` after every read in ``[begin, end]`` (1, 0: all)."""
    return _add(uc, unicorn.UC_HOOK_MEM_READ_AFTER, callback, begin, end)


def on_write(uc: unicorn.Uc, callback: AccessCallback, begin: int = 1, end: int = 0) -> MemHook:
    """``callback(address, size, value)`` before every write in ``[begin, end]``."""
    return _add(uc, unicorn.UC_HOOK_MEM_WRITE, callback, begin, end)
