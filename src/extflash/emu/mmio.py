"""The peripheral bus: register-model blocks mapped into unicorn with raw ctypes callbacks.

Every block is a :class:`~extflash.emu.regmodel.Peripheral` mapped with ``uc_mmio_map`` through
raw ``CFUNCTYPE`` callbacks (0.17 us per access against 0.45 us through the binding's wrapper).
A peripheral may instead supply its own callbacks (for example native code) by defining
``raw_mmio(bus) -> (read_cfunc, write_cfunc, user_data)``; it then keeps the clock in step itself
by calling :meth:`Bus.sync` before acting on time, reports reads that may be polling through
:meth:`Bus.observe_read`, hands exceptions to :meth:`Bus.fail`, and adds a counter of the data
it moves to :attr:`Bus.activity_sources` (so a transfer is never taken for idle polling).

The bus also watches for *polling*: the same registers read again and again with unchanged
values and no write in between. After :data:`SPIN_THRESHOLD` such reads it asks the machine to
stop, so the run loop can fast-forward virtual time to the next scheduled event (or, for a loop
that counts, let it run on with a higher :attr:`Bus.spin_threshold`). Registers whose
value is time itself (SysTick CVR, DWT CYCCNT) are listed in a peripheral's ``time_sources``
(word offsets) and never break a streak. Before a streak is declared a spin, the activity
counters of self-serving peripherals are checked: data moved since the streak began ends it.
"""

from __future__ import annotations

import bisect
import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import unicorn
from unicorn.unicorn_py3.unicorn import MMIO_READ_CFUNC, MMIO_WRITE_CFUNC, uclib

from extflash.emu.regmodel import Peripheral

__all__ = ["MMIO_READ_CFUNC", "MMIO_WRITE_CFUNC", "PAGE", "Bus", "BusAccess", "UnmodelledAccess",
           "UnmodelledBlock", "c_buffer"]

SPIN_THRESHOLD = 6
MAX_POLLED_REGISTERS = 4
PAGE = 0x400


@dataclass(frozen=True)
class BusAccess:
    """One peripheral register access, as the tracer sees it."""

    time_fs: int
    pc: int
    periph: str
    register: str
    kind: str  # "r" or "w"
    offset: int
    size: int
    value: int
    decoded: str

    def __str__(self) -> str:
        arrow = "->" if self.kind == "r" else "<-"
        return f"pc=0x{self.pc:08X} {self.register} {arrow} 0x{self.value:08X} ({self.decoded})"


@dataclass(frozen=True)
class UnmodelledAccess:
    """An access the models do not implement: unmodelled block/register, reserved bits, ..."""

    periph: str
    kind: str  # "read", "write", "write-reserved", "clock-disabled"
    offset: int
    size: int
    value: int
    pc: int
    address: int

    def __str__(self) -> str:
        return (f"{self.kind} of {self.periph}+0x{self.offset:X} (0x{self.address:08X}, "
                f"{self.size} bytes, value 0x{self.value:X}) at pc=0x{self.pc:08X}")


class UnmodelledBlock(Peripheral):
    """A peripheral that exists on the part but has no model: reads 0, every access reported."""

    def __init__(self, name: str, base: int, size: int, names: list[tuple[int, str]]) -> None:
        super().__init__(name, base, ())
        self.size = size
        self._names = names  # (base, name) sorted, for blocks merged from neighbours

    def name_at(self, offset: int) -> tuple[str, int]:
        address = self.base + offset
        i = bisect.bisect_right(self._names, (address, "\xff")) - 1
        base, name = self._names[max(i, 0)]
        return name, address - base


@dataclass
class _Mapping:
    """A peripheral mapped on the bus and its unicorn callbacks."""

    periph: Peripheral
    base: int
    size: int
    callbacks: tuple[object, object]


@dataclass
class PollState:
    """Registers read during the current polling streak (address -> value) and where."""

    reads: dict[int, int]
    pcs: set[int]
    streak: int = 0
    timed: bool = False  # a time source (SysTick CVR, DWT CYCCNT) was read meanwhile


class Bus:
    def __init__(self, uc: unicorn.Uc, *, sync: Callable[[], None], pc: Callable[[], int],
                 stop: Callable[[], None]) -> None:
        self.uc = uc
        self.sync = sync
        self.pc = pc
        self._stop = stop
        self.mappings: dict[int, _Mapping] = {}
        self._bases: list[int] = []
        self.poll = PollState({}, set())
        self.spin_hit = False
        self.spin_threshold = SPIN_THRESHOLD  # the machine raises it for a counting loop
        self.error: BaseException | None = None
        self.on_unmodelled: list[Callable[[UnmodelledAccess], None]] = []
        self.tracer: Callable[[BusAccess], None] | None = None
        self.now_fs: Callable[[], int] = lambda: 0
        self.activity_sources: list[Callable[[], int]] = []
        self.slice_hooks: list[Callable[[], None]] = []  # after every run slice (see end_slice)
        # as a run slice starts, and when an event scheduled mid-slice shortens it
        self.slice_start_hooks: list[Callable[[], None]] = []
        self.run_end_hooks: list[Callable[[], None]] = []  # as a run returns (see end_run)
        self.exception_hooks: list[Callable[[], None]] = []  # as the core takes an exception
        # (virtual time, the slice's instruction count it was synced at) while a slice runs
        self.time_base: Callable[[], tuple[int, int, int, bool] | None] = lambda: None
        # Native callbacks may defer an access to Python (see quadspi_fast.c): (flag, drain,
        # untaken) triples; the machine drains a raised flag before it moves time; untaken (None:
        # not only time) holds the cycles the drain adds to the clock. The deferred access is
        # handled at its own instruction: counter_address is unicorn's instruction counter of
        # the slice (0: unknown, nothing is deferred), hold_time(count) syncs time up to a count
        # of it and no further until hold_time(None).
        self.deferred: list[tuple[ctypes.c_uint32, Callable[[], None],
                                  ctypes.c_uint64 | None]] = []
        self.counter_address = 0
        # unicorn's instruction limit of the slice (0: unknown), and which scheduled clock
        # events stop the running core when they fire (a pending exception): a native lane may
        # let time pass over such an event and stop the core itself (see quadspi_fast.c)
        self.limit_address = 0
        # (pages_fast.c tlb_tend, its view) of a machine with 256-byte pages, (0, 0) without:
        # native lanes call it so the loader's stores take unicorn's inline path
        self.tlb_tend: tuple[int, int] = (0, 0)
        self.event_wakes: Callable[[Callable[[], None]], bool] = lambda _callback: False
        self.hold_time: Callable[[int | None], None] = lambda _count: None
        self._activity_mark = 0
        # the DWT's native CYCCNT reads (scs.DataWatchpointTrace.raw_mmio), or None: its
        # ``timed`` counts as poll.timed
        self.native_time_source: Any = None
        # the controllers whose command lane runs in C (CommandEngine): the machine's C tick loop
        # keeps their time base at the ticks it handles (native/ticks_fast.c)
        self.native_lanes: list[Any] = []
        # while that loop runs: what a native side calls before it hands an access to Python
        # (the machine takes over the ticks handled so far)
        self.lazy: Callable[[], None] | None = None

    # -- mapping ----------------------------------------------------------------------------
    def attach(self, p: Peripheral) -> None:
        size = -(-p.size // PAGE) * PAGE
        if p.base % PAGE:
            raise ValueError(f"{p.name} base 0x{p.base:08X} is not 1 KiB aligned")
        self._make_room(p.base, size)
        p.unmodelled = self._report
        p.tracer = self._trace if self.tracer is not None else None
        raw = getattr(p, "raw_mmio", None)
        if raw is not None:
            read_cb, write_cb, user_data = raw(self)
        else:
            read_cb, write_cb, user_data = *self.python_callbacks(p), None
        status = uclib.uc_mmio_map(self.uc._uch, p.base, size, read_cb, user_data,
                                   write_cb, user_data)
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)
        self.mappings[p.base] = _Mapping(p, p.base, size, (read_cb, write_cb))
        bisect.insort(self._bases, p.base)

    def detach(self, base: int, size: int) -> None:
        for m in self._overlapping(base, size):
            self.uc.mem_unmap(m.base, m.size)
            del self.mappings[m.base]
            self._bases.remove(m.base)

    def _make_room(self, base: int, size: int) -> None:
        """Unmap unmodelled blocks overlapping [base, base+size), re-mapping what is left."""
        for m in self._overlapping(base, size):
            if not isinstance(m.periph, UnmodelledBlock):
                raise ValueError(f"0x{base:08X} overlaps {m.periph.name} at 0x{m.base:08X}")
            self.detach(m.base, m.size)
            for lo, hi in ((m.base, base), (base + size, m.base + m.size)):
                if hi > lo:
                    names = m.periph._names
                    first = max((n for n in names if n[0] <= lo), default=names[0])
                    block = UnmodelledBlock(first[1], lo, hi - lo, names)
                    self.attach(block)

    def _overlapping(self, base: int, size: int) -> list[_Mapping]:
        return [m for m in self.mappings.values()
                if m.base < base + size and base < m.base + m.size]

    def find(self, address: int) -> _Mapping | None:
        i = bisect.bisect_right(self._bases, address) - 1
        if i < 0:
            return None
        m = self.mappings[self._bases[i]]
        return m if address < m.base + m.size else None

    def set_tracer(self, tracer: Callable[[BusAccess], None] | None) -> None:
        self.tracer = tracer
        for m in self.mappings.values():
            m.periph.tracer = self._trace if tracer is not None else None

    # -- callbacks --------------------------------------------------------------------------
    def python_callbacks(self, p: Peripheral) -> tuple[object, object]:
        """The ctypes read and write callbacks that serve ``p`` through its Python model."""
        return self._read_callback(p), self._write_callback(p)

    def _read_callback(self, p: Peripheral) -> object:
        time_sources: frozenset[int] = getattr(p, "time_sources", frozenset())
        base = p.base
        sync, observe, poll = self.sync, self.observe_read, self.poll

        # Time-source registers read as a plain function of the synced clock: an aligned word
        # read skips the register table (a timeout loop reads CYCCNT or CVR once per turn).
        # The table path stays for byte/halfword reads and while a tracer watches.
        now_value: Callable[[int], Callable[[], int] | None] = getattr(
            p, "time_source_value", lambda _offset: None)
        fast = {off: f for off in time_sources if (f := now_value(off)) is not None}

        def read(_uch: int, offset: int, size: int, _ud: int) -> int:
            try:
                sync()
                value = p.read(offset, size)
                observe(base + offset, value)
                return value
            except BaseException as exc:
                self.fail(exc)
                return 0

        def read_timed(_uch: int, offset: int, size: int, _ud: int) -> int:
            try:
                sync()
                if size == 4 and p.tracer is None:
                    value_now = fast.get(offset)
                    if value_now is not None:
                        poll.timed = True  # the loop tells time: it waits, it does not count
                        return value_now()
                value = p.read(offset, size)
                if offset & ~3 not in time_sources:
                    observe(base + offset, value)
                else:
                    poll.timed = True  # the loop tells time: it waits, it does not count
                return value
            except BaseException as exc:
                self.fail(exc)
                return 0

        # every MMIO read of the core comes here: only a peripheral with time sources (SCS,
        # DWT) pays for the checks
        return MMIO_READ_CFUNC(read_timed if time_sources else read)

    def _write_callback(self, p: Peripheral) -> object:
        sync = self.sync

        def write(_uch: int, offset: int, size: int, value: int, _ud: int) -> None:
            try:
                sync()
                self.note_activity()
                p.write(offset, size, value)
            except BaseException as exc:
                self.fail(exc)

        return MMIO_WRITE_CFUNC(write)

    def observe_read(self, address: int, value: int) -> None:
        """A register read that may be part of a polling loop: extend or restart the streak."""
        poll = self.poll
        prev = poll.reads.get(address)
        if prev == value:
            poll.streak += 1
            if poll.streak >= self.spin_threshold - 2:
                if self._activity() != self._activity_mark:
                    self.note_activity()  # data moved meanwhile: not idle after all
                    poll.reads[address] = value
                    return
                poll.pcs.add(self.pc())  # sample where the loop reads
            if poll.streak >= self.spin_threshold and not self.spin_hit:
                self.spin_hit = True
                self._stop()
        else:
            if prev is not None or len(poll.reads) >= MAX_POLLED_REGISTERS:
                self.note_activity()
            if not poll.reads:  # a new streak begins: remember how much data had moved
                self._activity_mark = self._activity()
            poll.reads[address] = value

    def _activity(self) -> int:
        return sum(source() for source in self.activity_sources)

    def note_activity(self) -> None:
        """Something changed (a write, data moved): the current polling streak is over."""
        self.poll.reads.clear()
        self.poll.pcs.clear()
        self.poll.streak = 0
        self.poll.timed = False
        if self.native_time_source is not None:
            self.native_time_source.timed = 0

    def exception_entered(self) -> None:
        """The core took an exception: a polling loop it was in is interrupted."""
        self.note_activity()
        for hook in self.exception_hooks:
            hook()

    def end_slice(self) -> None:
        """The core stopped: self-serving peripherals bring their Python state up to date."""
        for hook in self.slice_hooks:
            hook()

    def end_run(self) -> None:
        """A run returns: everything a peripheral's native side holds is taken over (a slice
        end may leave some there while the run goes on)."""
        for hook in self.run_end_hooks:
            hook()

    def fail(self, exc: BaseException) -> None:
        """A callback raised: keep the error for the run loop and stop the core."""
        self.error = exc
        self._stop()

    def _report(self, p: Peripheral, kind: str, offset: int, size: int, value: int) -> None:
        if not self.on_unmodelled:
            return
        name = p.name
        if isinstance(p, UnmodelledBlock):
            name, offset = p.name_at(offset)
        event = UnmodelledAccess(name, kind, offset, size, value, self.pc(), p.base + offset)
        for callback in self.on_unmodelled:
            callback(event)

    def _trace(self, p: Peripheral, kind: str, offset: int, size: int, value: int) -> None:
        if self.tracer is None:
            return
        reg = p.regs.get(offset & ~3)
        decoded = reg.decode(value) if reg is not None else f"0x{value:X}"
        self.tracer(BusAccess(self.now_fs(), self.pc(), p.name, p.describe(offset), kind,
                              offset, size, value, decoded))


def c_buffer(buf: bytearray) -> ctypes.Array[ctypes.c_char]:
    """A ctypes view over ``buf`` (zero-copy) for ``mem_map_ptr``."""
    return (ctypes.c_char * len(buf)).from_buffer(buf)
