"""Python side of ``ticks_fast.c``: SysTick ticks handled in C while the core waits.

The struct is mirrored here; :class:`NativeTicks` fills in unicorn's functions, the exception
unit, the command lanes' functions and the machine's interrupt hook, and holds what the C side
reads and moves (the machine sets the per-call fields and takes the moved ones over)."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from unicorn import arm_const as A

from extflash.emu import native
from extflash.emu.native import quadspi_fast

MAX_LANES = 8
NEVER = (1 << 64) - 1
REGISTERS = (A.UC_ARM_REG_PC, A.UC_ARM_REG_PRIMASK, A.UC_ARM_REG_BASEPRI,
             A.UC_ARM_REG_FAULTMASK)

_P, _U64, _U32 = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32


class TickLoopState(ctypes.Structure):
    """``struct tick_loop``."""

    _fields_ = [
        ("uc", _P),
        ("emu_start", _P),
        ("reg_read_batch", _P),
        ("mem_read", _P),
        ("exc_enter", _P),
        ("exc_leave", _P),
        ("exc_unit", _P),
        ("python_interrupt", _P),
        ("reg_id", ctypes.c_int32 * len(REGISTERS)),
        ("n_lanes", _U32),
        ("counter", _P),
        ("limit", _P),
        ("ts_base", _P),
        ("ts_timed", _P),
        ("lane", _P * MAX_LANES),
        ("lane_state", _P),
        ("lane_ended", _P),
        ("lane_start", _P),
        ("fs_per_cycle", _U64),
        ("deadline_fs", _U64),
        ("checkpoint_fs", _U64),
        ("limit_fs", _U64),
        ("other_fs", _U64),
        ("other2_fs", _U64),
        ("tick_unit_fs", _U64),
        ("tick_period_fs", _U64),
        ("max_slice", _U64),
        ("systick_priority", _U32),
        ("vector", _U32),
        ("stop_at", _U32),
        ("active", _U32),
        ("now_fs", _U64),
        ("cycles", _U64),
        ("tick_fs", _U64),
        ("last_tick_fs", _U64),
        ("budget", _U64),
        ("slice_end_fs", _U64),
        ("capped", _U32),
        ("ticks", _U64),
        ("ticks_in_call", _U64),
        ("ticks_total", _U64),
        ("in_handler", _U32),
        ("python_ran", _U32),
        ("idle_verdicts", _P),
        ("idle_armed", _P),
        ("idle_stop", _U32),
        ("turns", _P),
        ("turns_active", _P),
        ("sample", _U32),
        ("sample_count", _U32),
        ("sample_known", _P),
        ("ticks_mid_command", _U64),
    ]


class NativeTicks:
    """One machine's tick loop. ``functions`` maps unicorn's and the exception unit's C function
    names to their addresses; ``interrupt`` is the machine's raw interrupt hook."""

    def __init__(self, lib: ctypes.CDLL, *, uc_handle: int, functions: dict[str, int],
                 exc_unit: int, interrupt: Any, counter: int, limit: int) -> None:
        if lib.tick_loop_size() != ctypes.sizeof(TickLoopState):
            raise native.NativeUnavailable("ticks_fast.c and its ctypes mirror disagree")
        st = self.state = TickLoopState()
        st.uc = uc_handle
        for name in ("emu_start", "reg_read_batch", "mem_read", "exc_enter", "exc_leave"):
            setattr(st, name, functions[name])
        st.exc_unit = exc_unit
        self._interrupt = interrupt  # kept alive: C calls it
        st.python_interrupt = ctypes.cast(interrupt, _P).value
        st.reg_id[:] = REGISTERS
        st.counter, st.limit = counter, limit
        self._run = lib.tick_run
        self._run.argtypes = (_P, _U32, _U64)
        self._run.restype = ctypes.c_int
        self.address = ctypes.addressof(st)
        self.interrupt_hook = ctypes.cast(lib.tick_interrupt, _P).value

    def use_lanes(self, lanes: Sequence[int]) -> bool:
        """The command lanes (addresses of their ``struct qspi_fast``); False: too many."""
        lib = quadspi_fast.load()
        if len(lanes) > MAX_LANES or (lanes and lib is None):
            return False
        st = self.state
        if lib is None:
            st.n_lanes = 0
            return True
        st.lane_state = ctypes.cast(lib.lane_tick_state, _P).value
        st.lane_ended = ctypes.cast(lib.lane_tick_ended, _P).value
        st.lane_start = ctypes.cast(lib.lane_tick_start, _P).value
        for i, lane in enumerate(lanes):
            st.lane[i] = lane
        st.n_lanes = len(lanes)
        return True

    def use_time_source(self, base: int, timed: int) -> None:
        """Addresses of the DWT time source's ``base`` and ``timed``."""
        self.state.ts_base, self.state.ts_timed = base, timed

    def use_idle_verdicts(self, table: int, armed: int) -> None:
        """Addresses of the machine's verdicts on return addresses and of its flag that arms
        the loop-head stops (idleloop.IdleLoops)."""
        self.state.idle_verdicts, self.state.idle_armed = table, armed

    def use_turns(self, turns: int, active: int, known: int) -> None:
        """The data-loop turns (turns_fast.c): its ``struct turns``, the address of its
        ``active`` flag and of the places a sampled tick need not show it."""
        st = self.state
        st.turns, st.turns_active = turns, active
        st.sample_known = known

    def run(self, pc: int, budget: int) -> int:
        """``tick_run``: unicorn's status of the last slice."""
        return int(self._run(self.address, pc, budget))


class HeadWatch(ctypes.Structure):
    """``struct head_watch``: what ``head_hook`` checks before it calls the machine's
    ``_on_head``."""

    _fields_ = [("armed", _P), ("counter", _P), ("limit", _P), ("min_look", _U64),
                ("python", _P)]


def head_filter(lib: ctypes.CDLL, *, armed: int, counter: int, limit: int, min_look: int,
                python: Any) -> tuple[int, HeadWatch]:
    """The C block hook that calls ``python`` (a HOOK_CODE_CFUNC, kept alive by the caller)
    only when the look is armed and the running slice has ``min_look`` instructions left:
    (the hook's address, its user data)."""
    if lib.head_watch_size() != ctypes.sizeof(HeadWatch):
        raise native.NativeUnavailable("ticks_fast.c and its ctypes mirror disagree")
    watch = HeadWatch(armed, counter, limit, min_look, ctypes.cast(python, _P).value)
    hook = ctypes.cast(lib.head_hook, _P).value
    assert hook is not None
    return hook, watch


def load() -> ctypes.CDLL | None:
    return native.load("ticks_fast")
