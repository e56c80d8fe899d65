"""The controllers' native fast path: ``quadspi_fast.c`` as the bus callbacks of the register page.

The C code serves the timeless accesses (see the C source) from a :class:`QuadspiFastState` the
Python model publishes after every access it handles itself, and calls back into Python for
everything else. It knows no register map: the front-end (QUADSPI, OCTOSPI, XSPI) describes its
own in a :class:`NativeLayout`. This module only moves state across: *what* may be served
natively is decided by the model (:meth:`extflash.emu.periph.engine.CommandEngine.fast_state`).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from extflash.emu import native
from extflash.emu.flash.nor import LaneFacts
from extflash.emu.mmio import MMIO_READ_CFUNC, MMIO_WRITE_CFUNC

(MODE_FORWARD, MODE_IDLE, MODE_TX, MODE_RX, MODE_CMD, MODE_POLL, MODE_RXT, MODE_OFF,
 MODE_MAPPED) = range(9)
FLAG_IRQ = 4
FLAG_MAPPED_BUSY = 8  # MODE_MAPPED: a window access set BUSY
# The slots of reg[] (values the C side reads, and may write with the restrictions in
# quadspi_fast.c); a front-end without TCR and IR (QUADSPI) leaves them out
SLOTS = ("CR", "DCR", "DLR", "CCR", "AR", "ABR", "PSMKR", "PSMAR", "PIR", "TCR", "IR",
         # configuration the C side only reads back (a HAL Init reads them at every call)
         "DCR2", "DCR3", "DCR4", "WCCR", "WTCR", "WIR", "WABR", "HLCR")
# the command fields the C side decodes (enum F_* in quadspi_fast.c)
FIELDS = ("FMODE", "IMODE", "INSTRUCTION", "ADMODE", "ADSIZE", "ABMODE", "DCYC", "DMODE", "CSHT",
          "FTHRES")
NO_REGISTER = 0xFFFFFFFF
SLOT_TABLE = 256  # register words find_reg looks up (offsets 0x000-0x3FC)
QUIET_SR_READS = 3  # identical SR reads in a row served before the machine sees them
TX_CAPACITY = 64 * 1024  # bytes captured before Python takes them over (any transfer length works)
LOG_SIZE, LOG_RING, LOG_PAGE = 512, 520, 512  # lane records taken at most, slots, bytes kept each
MAX_PROGRAMS = 8
MAX_READS = 16
MAX_FRAMES = 12
MAX_ERASES = 8
MAX_REG_READS = 8
REG_RX = 64  # the longest register read the lane answers (DLR + 1)
READ_ARRAY, READ_REGISTER = 1, 2  # read_started: the indirect read the lane started
OP_PROGRAM, OP_ERASE = 1, 2  # what an operation the lane started is (op_started)
FRAME_WREN, FRAME_POLL, FRAME_PROGRAM, FRAME_ERASE, FRAME_WRDI, FRAME_RSTEN = 1, 2, 3, 4, 5, 6
FRAME_REFUSED = 7
SWAP_BUS, SWAP_ARRAY = 1, 2  # a learned program's byte-pair swaps (struct lane_frame)
NEVER = 2**64 - 1
REC_WREN, REC_POLL, REC_PROGRAM, REC_READ, REC_ERASE, REC_WRDI, REC_RSTEN = 1, 2, 3, 4, 5, 6, 7
REC_REFUSED = 8
_RECORD = struct.Struct("<Q8I")  # struct lane_record, these fields:
_RECORD_FIELDS = ("time_fs", "kind", "ccr", "address", "length", "status", "tcr", "ir", "data_at")
# a record as 32-bit words: time_fs takes the first two, each other field one
_RECORD_WORDS = _RECORD.size // 4
_KIND_WORD, _DATA_AT_WORD = (_RECORD_FIELDS.index(name) + 1 for name in ("kind", "data_at"))


def _ring_copy(ring: ctypes.Array[ctypes.c_uint8], slot_size: int, first: int, end: int
               ) -> bytes:
    """Entries ``first`` to ``end`` of a ring of :data:`LOG_RING` slots, copied out in at most
    two runs (one copy each instead of one per entry: a take follows every access Python
    serves)."""
    runs, k = [], first
    while k < end:
        slot = k % LOG_RING
        n = min(end - k, LOG_RING - slot)
        runs.append(ctypes.string_at(ctypes.addressof(ring) + slot * slot_size, n * slot_size))
        k += n
    return b"".join(runs)


def _slots_since_first_program(records: bytes, data_count: int) -> int:
    """How many data slots the first program among ``records`` and those after it take (0:
    no program among them): the ring's count now less that program's ``data_at`` (its low 32
    bits)."""
    words = memoryview(records).cast("I")
    try:
        i = words[_KIND_WORD::_RECORD_WORDS].tolist().index(REC_PROGRAM)
    except ValueError:
        return 0
    return (data_count - words[i * _RECORD_WORDS + _DATA_AT_WORD]) & 0xFFFFFFFF


class LaneFrame(NamedTuple):
    """A frame the model proved (``struct lane_frame``): the registers that describe it, to
    the bit, and its bus time (the whole command's; a poll's: one status read's)."""

    kind: int  # FRAME_WREN, FRAME_POLL, FRAME_PROGRAM, FRAME_ERASE
    ccr: int
    tcr: int
    ir: int
    dcr: int
    dlr: int  # polls and programs: the data bytes less one
    ar: int  # polls with an address phase: the address
    swaps: int  # programs: SWAP_BUS | SWAP_ARRAY
    bus_fs: int
    size: int = 0  # erases: the bytes erased
    op_fs: int = 0  # erases: the chip's erase time


class _Erase(ctypes.Structure):
    _fields_ = [("opcode", ctypes.c_uint8), ("address_bytes", ctypes.c_uint8),
                ("address_lines", ctypes.c_uint8), ("pad", ctypes.c_uint8),
                ("size", ctypes.c_uint32), ("erase_fs", ctypes.c_uint64)]


class _RegRead(ctypes.Structure):
    _fields_ = [("opcode", ctypes.c_uint8), ("length", ctypes.c_uint8), ("sr1", ctypes.c_uint8),
                ("pad", ctypes.c_uint8), ("value", ctypes.c_uint8 * 4)]


class _Frame(ctypes.Structure):
    _fields_ = [*((name, ctypes.c_uint32) for name in LaneFrame._fields[:8]),
                ("bus_fs", ctypes.c_uint64), ("size", ctypes.c_uint32), ("pad", ctypes.c_uint32),
                ("op_fs", ctypes.c_uint64)]


@dataclass(frozen=True)
class NativeLayout:
    """A front-end's registers as the native side needs them (``struct lane_layout``).

    Offsets are byte offsets in the register page; ``fields`` places each of :data:`FIELDS`
    as (register offset, shift, width).
    """

    registers: Mapping[str, int]  # slot name (SLOTS) -> offset; a missing slot: no register
    sr: int
    fcr: int
    dr: int
    start: str  # the slot whose write starts a command without an address: "CCR" or "IR"
    locked: tuple[str, ...]  # slots whose writes are ignored while BUSY
    cr_active: int  # CR bits whose change has an immediate effect (enable, abort, bank, IRQs)
    ccr_unplain: int  # CCR bits the lane never runs (SIOO, DTR, DQS, multi-byte instruction)
    dual_bit: int  # CR bit of dual-flash (DFM/DQM/DMM)
    dlr_dual_odd: bool  # a DLR write in dual-flash mode sets bit 0
    lines: tuple[int, ...]  # phase-mode encoding -> lines
    fields: Mapping[str, tuple[int, int, int]]


class _FieldAt(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_uint8), ("shift", ctypes.c_uint8), ("width", ctypes.c_uint8),
                ("pad", ctypes.c_uint8)]


class _Layout(ctypes.Structure):
    """Mirror of ``struct lane_layout``."""

    _fields_ = [
        ("offset", ctypes.c_uint32 * len(SLOTS)),
        ("reserved", ctypes.c_uint32 * len(SLOTS)),
        ("sr", ctypes.c_uint32),
        ("fcr", ctypes.c_uint32),
        ("dr", ctypes.c_uint32),
        ("start_slot", ctypes.c_uint32),
        ("locked", ctypes.c_uint32),
        ("cr_active", ctypes.c_uint32),
        ("ccr_unplain", ctypes.c_uint32),
        ("dual_bit", ctypes.c_uint32),
        ("dlr_dual_odd", ctypes.c_uint32),
        ("lines", ctypes.c_uint8 * 8),
        ("field", _FieldAt * len(FIELDS)),
        ("slot_at", ctypes.c_int8 * SLOT_TABLE),
    ]


class QuadspiFastState(ctypes.Structure):
    """Mirror of ``struct qspi_fast`` in quadspi_fast.c."""

    _fields_ = [
        ("mode", ctypes.c_uint32),
        ("sticky", ctypes.c_uint32),
        ("fsize", ctypes.c_uint32),
        ("fifo", ctypes.c_uint32),
        ("limit", ctypes.c_uint32),
        ("pos", ctypes.c_uint32),
        ("len", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("reg", ctypes.c_uint32 * len(SLOTS)),
        ("sr_run", ctypes.c_uint32),
        ("sr_last", ctypes.c_uint64),
        ("fill", ctypes.c_uint32),
        ("dirty", ctypes.c_uint32),
        ("written", ctypes.c_uint32),
        ("started", ctypes.c_uint32),
        ("beats", ctypes.c_uint64),
        ("buf", ctypes.c_void_p),
        ("rx", ctypes.c_void_p),
        ("slow_read", MMIO_READ_CFUNC),
        ("slow_write", MMIO_WRITE_CFUNC),
        ("counter", ctypes.c_void_p),
        ("pending", ctypes.c_uint32),
        ("pend_size", ctypes.c_uint32),
        ("pend_offset", ctypes.c_uint64),
        ("pend_value", ctypes.c_uint64),
        ("pend_count", ctypes.c_uint64),
        # the command lane: facts Python publishes
        ("lane", ctypes.c_uint32),
        ("time_valid", ctypes.c_uint32),
        ("base_fs", ctypes.c_uint64),
        ("base_count", ctypes.c_uint64),
        ("fs_per_cycle", ctypes.c_uint64),
        ("event_fs", ctypes.c_uint64),
        ("limit_fs", ctypes.c_uint64),
        ("clk_hz", ctypes.c_uint64),
        ("chip_lines", ctypes.c_uint32),
        ("sr1_opcode", ctypes.c_uint32),
        ("sr1_rest", ctypes.c_uint32),
        ("rsten_opcode", ctypes.c_uint32),
        ("page_size", ctypes.c_uint32),
        ("chip_size", ctypes.c_uint32),
        ("ear", ctypes.c_uint32),
        ("prot_lo", ctypes.c_uint32),
        ("prot_hi", ctypes.c_uint32),
        ("program_fs", ctypes.c_uint64),
        ("n_programs", ctypes.c_uint32),
        ("programs", ctypes.c_uint8 * (4 * MAX_PROGRAMS)),
        ("n_reads", ctypes.c_uint32),
        ("reads", ctypes.c_uint8 * (8 * MAX_READS)),
        ("n_frames", ctypes.c_uint32),
        ("frames", _Frame * MAX_FRAMES),
        ("n_erases", ctypes.c_uint32),
        ("erases", _Erase * MAX_ERASES),
        ("n_reg_reads", ctypes.c_uint32),
        ("reg_reads", _RegRead * MAX_REG_READS),
        ("memory", ctypes.c_void_p),
        ("log", ctypes.c_void_p),
        ("log_data", ctypes.c_void_p),
        # the lane's state: published, changed in C, taken back
        ("wel", ctypes.c_uint32),
        ("op_started", ctypes.c_uint32),
        ("busy_until", ctypes.c_uint64),
        ("done_fs", ctypes.c_uint64),
        ("stall_fs", ctypes.c_uint64),
        ("poll_next_fs", ctypes.c_uint64),
        ("poll_interval_fs", ctypes.c_uint64),
        ("poll_ftf", ctypes.c_uint32),
        ("last_status", ctypes.c_uint32),
        ("skip_fs", ctypes.c_uint64),
        ("skip_cycles", ctypes.c_uint64),
        ("log_count", ctypes.c_uint64),
        ("data_count", ctypes.c_uint64),
        ("lane_dirty", ctypes.c_uint32),
        ("commands", ctypes.c_uint32),
        ("wrens", ctypes.c_uint32),
        ("polls", ctypes.c_uint32),
        ("cmd_length", ctypes.c_uint32),
        ("op_page", ctypes.c_uint32),
        ("op_end", ctypes.c_uint32),
        ("changed_lo", ctypes.c_uint32),
        ("changed_hi", ctypes.c_uint32),
        ("read_started", ctypes.c_uint32),
        ("read_at", ctypes.c_uint32),
        # passing a SysTick tick
        ("event2_fs", ctypes.c_uint64),
        ("wakes", ctypes.c_uint32),
        ("woke", ctypes.c_uint32),
        ("insn_limit", ctypes.c_void_p),
        ("look_stop", ctypes.c_uint32),
        ("slice_end_fs", ctypes.c_uint64),
        ("capped", ctypes.c_uint32),
        ("tlb_tend", ctypes.c_void_p),
        ("tlb_view", ctypes.c_void_p),
        ("reg_rx", ctypes.c_uint8 * REG_RX),
        ("layout", _Layout),
    ]


class FastState(NamedTuple):
    """What the model publishes: the C side serves accesses from this until the next access
    it hands back to Python. The field order is the struct's."""

    mode: int
    sticky: int = 0
    fsize: int = 0
    fifo: int = 0
    limit: int = 0
    pos: int = 0
    length: int = 0
    flags: int = 0
    registers: tuple[int, ...] = (0,) * len(SLOTS)


class Served(NamedTuple):
    """The whole exchanged state as the C side left it (struct order)."""

    mode: int
    sticky: int
    fsize: int
    fifo: int
    limit: int
    pos: int
    length: int
    flags: int
    cr: int
    dcr: int
    dlr: int
    ccr: int
    ar: int
    abr: int
    psmkr: int
    psmar: int
    pir: int
    tcr: int
    ir: int
    dcr2: int
    dcr3: int
    dcr4: int
    wccr: int
    wtcr: int
    wir: int
    wabr: int
    hlcr: int
    sr_run: int
    sr_last: int
    fill: int
    dirty: int
    written: int  # bit i: slot i was written natively (its value is registers()[i])
    started: int  # the C side started an indirect write (the first DR beat)

    def registers(self) -> tuple[int, ...]:
        return self[8:8 + len(SLOTS)]


# one pack for what Python publishes, one for what the C side clears, one unpack for both
_PUBLISHED = struct.Struct(f"<{8 + len(SLOTS) + 1}IQ")
_CLEARED = struct.Struct("<4I")
_SERVED = struct.Struct(_PUBLISHED.format + "4I")
assert len(Served._fields) == 8 + len(SLOTS) + 2 + 4
# the packs are unaligned ("<"): sr_last must fall where C aligns it
assert _PUBLISHED.size == QuadspiFastState.sr_last.offset + 8


def _run(*names: str) -> tuple[int, struct.Struct]:
    """Where consecutive fields of :class:`QuadspiFastState` start, and one pack that writes
    them (C's padding between them left as zeroes): a publish packs a few runs instead of
    setting some forty ctypes attributes one by one."""
    sizes = {4: "I", 8: "Q"}
    start = pos = getattr(QuadspiFastState, names[0]).offset
    fmt = "<"
    for name in names:
        field = getattr(QuadspiFastState, name)
        if field.offset < pos or field.size not in sizes:
            raise AssertionError(f"{name} does not follow {names[0]}'s run")
        fmt += "x" * (field.offset - pos) + sizes[field.size]
        pos = field.offset + field.size
    return start, struct.Struct(fmt)


# the runs publish_lane, set_time and clear_lane write, in the struct's order
_TIME = _run("time_valid", "base_fs", "base_count", "fs_per_cycle", "event_fs", "limit_fs")
_FACTS = _run("clk_hz", "chip_lines", "sr1_opcode", "sr1_rest", "rsten_opcode", "page_size",
              "chip_size", "ear", "prot_lo", "prot_hi", "program_fs")
_STATE = _run("wel", "op_started", "busy_until", "done_fs", "stall_fs", "poll_next_fs",
              "poll_interval_fs", "poll_ftf", "last_status", "skip_fs", "skip_cycles")
_COUNTS = _run("lane_dirty", "commands", "wrens", "polls")
_CHANGED = _run("changed_lo", "changed_hi", "read_started")
# the chip's tables (n_programs .. reg_reads), restored from bytes; the sets kept
_TABLES = slice(QuadspiFastState.n_programs.offset, QuadspiFastState.memory.offset)
KEPT_TABLES = 8


class Deferred(NamedTuple):
    """A write the C side kept for Python: handled at instruction ``at`` of the slice."""

    offset: int
    size: int
    value: int
    at: int  # the instruction counter of the slice at the write


class LaneRecord(NamedTuple):
    """A command the lane sent to the chip (``struct lane_record``, with the data kept)."""

    time_fs: int
    kind: int  # REC_*
    ccr: int
    address: int
    length: int  # status bytes read (poll), data bytes (program)
    status: int
    tcr: int  # 0 where the front-end has no such register
    ir: int
    data: bytes


class LaneTime(NamedTuple):
    """The time base the lane counts from (see ``struct qspi_fast``)."""

    now_fs: int
    instruction: int  # the slice's instruction count at now_fs
    fs_per_cycle: int
    event_fs: int  # NEVER: no event
    limit_fs: int  # NEVER: no limit
    event2_fs: int = NEVER  # the event after event_fs
    wakes: bool = False  # event_fs is a SysTick tick that stops the core (the lane may pass it)
    # the slice's end in time when MAX_SLICE sets its budget (capped: the lane's time does not
    # count against it, Machine._time_skipped)
    slice_end_fs: int = NEVER
    capped: bool = False


class LaneOperation(NamedTuple):
    """The controller's operation in progress as the lane continues it."""

    done_fs: int = 0  # MODE_CMD, MODE_RXT
    cmd_length: int = 0
    poll_next_fs: int = 0  # MODE_POLL
    poll_interval_fs: int = 0
    poll_ftf: bool = False
    stall_fs: int = 0  # MODE_RXT


class NativeQuadspi:
    """The loaded library, its state block and the callbacks into Python."""

    def __init__(self, lib: ctypes.CDLL, layout: NativeLayout, reserved: Mapping[int, int],
                 slow_read: Callable[[int, int], int],
                 slow_write: Callable[[int, int, int], None],
                 on_error: Callable[[BaseException], None]) -> None:
        """``reserved``: the bits of each register (by offset) a write must leave clear."""
        lib.qspi_fast_struct_size.restype = ctypes.c_uint32
        if lib.qspi_fast_struct_size() != ctypes.sizeof(QuadspiFastState):
            raise native.NativeUnavailable("quadspi_fast.c and its ctypes mirror disagree")
        self._lib = lib
        self._read = lib.qspi_fast_read
        self._read.restype = ctypes.c_uint64
        self._read.argtypes = (ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint, ctypes.c_void_p)
        self._write = lib.qspi_fast_write
        self._write.restype = None
        self._write.argtypes = (ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint, ctypes.c_uint64,
                                ctypes.c_void_p)
        self.state = QuadspiFastState()
        _fill_layout(self.state.layout, layout, reserved)
        self._view = memoryview(self.state).cast("B")
        self._tx = (ctypes.c_uint8 * (TX_CAPACITY + 8))()
        self.state.buf = ctypes.addressof(self._tx)
        self._rx: bytes | None = None
        self._rx_at: int | None = None  # where publish pointed rx at it
        # set while a deferred write waits (the machine checks it before syncing time)
        self.pending = ctypes.c_uint32.from_buffer(self.state, QuadspiFastState.pending.offset)
        # set while the lane holds time or chip state Python has not taken (the same check)
        self.lane_dirty = ctypes.c_uint32.from_buffer(self.state,
                                                      QuadspiFastState.lane_dirty.offset)
        self.skip_cycles = ctypes.c_uint64.from_buffer(self.state,
                                                       QuadspiFastState.skip_cycles.offset)
        self._log = (ctypes.c_uint8 * (_RECORD.size * LOG_RING))()
        self._log_data = (ctypes.c_uint8 * (LOG_PAGE * LOG_RING))()
        self.state.log = ctypes.addressof(self._log)
        self.state.log_data = ctypes.addressof(self._log_data)
        self._taken = self._data_taken = 0
        self._memory: tuple[bytearray, ctypes.Array[ctypes.c_char]] | None = None
        self._tables: tuple[object, ...] = ()  # the chip's tables last published (by identity)
        # the bytes each set of tables made (by the tables' identities; the tables kept alive)
        self._table_bytes: dict[tuple[int, ...], tuple[tuple[object, ...], bytes]] = {}
        self.prefilled = 0  # bytes of the capture buffer Python put there (prefill)

        def read(_uch: int, offset: int, size: int, _ud: int) -> int:
            try:
                return slow_read(offset, size)
            except BaseException as exc:
                on_error(exc)
                return 0

        def write(_uch: int, offset: int, size: int, value: int, _ud: int) -> None:
            try:
                slow_write(offset, size, value)
            except BaseException as exc:
                on_error(exc)

        self._callbacks = (MMIO_READ_CFUNC(read), MMIO_WRITE_CFUNC(write))
        self.state.slow_read, self.state.slow_write = self._callbacks

    def read(self, offset: int, size: int) -> int:
        """A register read through the C code (what unicorn does; tests use it directly)."""
        return int(self._read(None, offset, size, ctypes.addressof(self.state)))

    def write(self, offset: int, size: int, value: int) -> None:
        self._write(None, offset, size, value, ctypes.addressof(self.state))

    def callbacks(self) -> tuple[int, int, int]:
        """(read function, write function, user data) for ``uc_mmio_map``."""
        fn = ctypes.c_void_p
        read = ctypes.cast(self._read, fn).value
        write = ctypes.cast(self._write, fn).value
        assert read is not None and write is not None
        return read, write, ctypes.addressof(self.state)

    @property
    def dirty(self) -> bool:
        return bool(self.state.dirty)

    def served(self) -> Served:
        return Served._make(_SERVED.unpack_from(self._view))

    def captured(self, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` of what DR writes left in the capture buffer."""
        return ctypes.string_at(self.state.buf + start, end - start)

    def publish(self, state: FastState, sr_run: int, sr_last: int,
                rx: bytes | None = None) -> None:
        self.prefilled = 0
        if state.mode == MODE_FORWARD:
            # C serves nothing and reads no field in this mode: the rest can wait
            self.state.mode = MODE_FORWARD
            _CLEARED.pack_into(self._view, _PUBLISHED.size, 0, 0, 0, 0)
            return
        # the lane points rx elsewhere for a read it starts (the array, its register buffer),
        # and one-byte bytes objects are shared: the same object is no proof C still reads it
        if rx is not None and (rx is not self._rx or self.state.rx != self._rx_at):
            self._rx = rx  # keeps the bytes alive while C reads them
            self._rx_at = self.state.rx = ctypes.cast(ctypes.c_char_p(rx), ctypes.c_void_p).value
        view = self._view
        _PUBLISHED.pack_into(view, 0, *state[:-1], *state.registers, sr_run, sr_last)
        _CLEARED.pack_into(view, _PUBLISHED.size, 0, 0, 0, 0)

    def prefill(self, held: bytes) -> None:
        """An indirect write whose first bytes Python holds (after :meth:`publish` in TX): they
        go into the capture buffer first, so the beat completing the transfer there sees all
        of it (the lane's page program)."""
        n = len(held)
        ctypes.memmove(self._tx, held, n)
        self.state.fill = n
        self.state.limit += n
        self.prefilled = n

    def publish_lane(self, facts: LaneFacts, memory: bytearray, clk_hz: int,
                     op: LaneOperation, last_status: int, time: LaneTime | None,
                     frames: tuple[LaneFrame, ...] = ()) -> None:
        """Let the C side run the chip's everyday commands (after :meth:`publish`), and the
        learned ``frames``."""
        st = self.state
        if self._memory is None or self._memory[0] is not memory:
            self._memory = (memory, (ctypes.c_char * len(memory)).from_buffer(memory))
        st.memory = ctypes.addressof(self._memory[1])
        self.set_time(time)
        view = self._view
        at, pack = _FACTS
        pack.pack_into(view, at, clk_hz, facts.instruction_lines, facts.sr1_opcode,
                       facts.sr1_rest, facts.rsten_opcode,
                       facts.page_size if facts.page_size <= LOG_PAGE else 0, facts.size,
                       facts.ear, *facts.protected, facts.program_fs)
        tables = (facts.programs, facts.reads, facts.erases, facts.reg_reads, frames)
        if len(tables) != len(self._tables) or any(
                new is not old for new, old in zip(tables, self._tables, strict=True)):
            # the chip memoises its tables per mode: written again only when one changed, from
            # the bytes they made the last time (an octal Init's reset and mode switch move
            # between two sets every time)
            self._tables = tables
            key = tuple(map(id, tables))
            kept = self._table_bytes.get(key)
            if kept is not None and all(a is b for a, b in zip(kept[0], tables, strict=True)):
                view[_TABLES] = kept[1]
            else:
                self._write_tables(facts, frames)
                if len(self._table_bytes) >= KEPT_TABLES:
                    self._table_bytes.clear()
                self._table_bytes[key] = (tables, bytes(view[_TABLES]))
        done_fs, cmd_length, poll_next_fs, poll_interval_fs, poll_ftf, stall_fs = op
        at, pack = _STATE
        pack.pack_into(view, at, facts.wel, 0, facts.busy_until, done_fs, stall_fs, poll_next_fs,
                       poll_interval_fs, poll_ftf, last_status, 0, 0)
        self.clear_lane()
        st.cmd_length = cmd_length
        st.lane = 1

    def _write_tables(self, facts: LaneFacts, frames: tuple[LaneFrame, ...]) -> None:
        st = self.state
        programs = facts.programs[:MAX_PROGRAMS]
        st.n_programs = len(programs)
        st.programs[:4 * len(programs)] = [b for entry in programs for b in entry]
        reads = facts.reads[:MAX_READS]
        st.n_reads = len(reads)
        st.reads[:8 * len(reads)] = [b for entry in reads for b in (*entry, 0, 0, 0)]
        erases = facts.erases[:MAX_ERASES]
        for i, (opcode, address_bytes, address_lines, size, erase_fs) in enumerate(erases):
            st.erases[i] = _Erase(opcode, address_bytes, address_lines, 0, size, erase_fs)
        st.n_erases = len(erases)
        reg_reads = facts.reg_reads[:MAX_REG_READS]
        for i, (opcode, value, sr1) in enumerate(reg_reads):
            st.reg_reads[i] = _RegRead(opcode, len(value), sr1, 0, (ctypes.c_uint8 * 4)(*value))
        st.n_reg_reads = len(reg_reads)
        for i, frame in enumerate(frames[:MAX_FRAMES]):
            st.frames[i] = _Frame(*frame[:9], frame.size, 0, frame.op_fs)
        st.n_frames = min(len(frames), MAX_FRAMES)

    def set_time(self, time: LaneTime | None) -> None:
        """The time base of the running slice (None: between slices, nothing timed runs)."""
        st = self.state
        if time is None:
            st.time_valid = 0
        else:
            at, pack = _TIME
            pack.pack_into(self._view, at, 1, *time[:5])
            st.event2_fs, st.wakes, st.slice_end_fs, st.capped = time[5:]

    def clear_lane(self) -> None:
        """Forget what the lane did (taken over, or about to be re-published)."""
        st, view = self.state, self._view
        st.skip_fs = st.skip_cycles = st.op_started = 0
        _COUNTS[1].pack_into(view, _COUNTS[0], 0, 0, 0, 0)
        _CHANGED[1].pack_into(view, _CHANGED[0], 0, 0, 0)
        self._taken, self._data_taken = st.log_count, st.data_count

    def lane_off(self) -> None:
        self.state.lane = 0

    def last_kind(self) -> int:
        """The kind (REC_*) of the last command the lane logged (0: none yet)."""
        count = int(self.state.log_count)
        if not count:
            return 0
        at = ((count - 1) % LOG_RING) * _RECORD.size
        return int(_RECORD.unpack_from(self._log, at)[1])

    def lane_records(self) -> Callable[[], list[LaneRecord]]:
        """The commands the lane sent since the last call (the last :data:`LOG_SIZE`), copied
        out of the ring now and decoded when called."""
        st = self.state
        count, data_count = int(st.log_count), int(st.data_count)
        first = max(self._taken, count - LOG_SIZE)
        records = _ring_copy(self._log, _RECORD.size, first, count)
        # the programs among those records kept their pages in the data slots from the first
        # one's on (after a Write call, about a third of the last LOG_SIZE slots: a page is a
        # write enable, a program and a poll)
        data_first = max(self._data_taken, data_count - _slots_since_first_program(records,
                                                                                  data_count))
        self._taken, self._data_taken = count, data_count
        data = _ring_copy(self._log_data, LOG_PAGE, data_first, data_count)

        def decode() -> list[LaneRecord]:
            out = []
            for fields in _RECORD.iter_unpack(records):
                time_fs, kind, ccr, address, length, status, tcr, ir, data_at = fields
                at = ((data_at - data_first) & 0xFFFFFFFF) * LOG_PAGE
                page = data[at:at + length] if kind == REC_PROGRAM else b""
                out.append(LaneRecord(time_fs, kind, ccr, address, length, status, tcr, ir,
                                      page))
            return out

        return decode

    def defer_at(self, counter_address: int) -> None:
        """Let C defer command-starting writes, stamping them with the instruction counter at
        ``counter_address`` (0: never defer)."""
        self.state.counter = counter_address or None

    def stop_at(self, limit_address: int) -> None:
        """Let the lane pass a tick that wakes the core, stopping the core after the access by
        lowering the instruction limit at ``limit_address`` (0: never pass an event)."""
        self.state.insn_limit = limit_address or None

    def tend_pages(self, tend: int, view: int) -> None:
        """Have C call ``tend(view)`` (pages_fast.c ``tlb_tend``) at every AR write (0: never)."""
        self.state.tlb_tend = tend or None
        self.state.tlb_view = view or None

    def take_woke(self) -> bool:
        """Did the lane pass a waking tick and stop the core since the last call?"""
        st = self.state
        woke = bool(st.woke)
        st.woke = 0
        return woke

    def take_deferred(self) -> Deferred | None:
        st = self.state
        if not st.pending:
            return None
        st.pending = 0
        return Deferred(st.pend_offset, st.pend_size, st.pend_value, st.pend_count)

    def beats(self) -> int:
        return int(self.state.beats)


def _fill_layout(out: _Layout, layout: NativeLayout, reserved: Mapping[int, int]) -> None:
    slot = {name: i for i, name in enumerate(SLOTS)}
    out.slot_at[:] = (-1,) * SLOT_TABLE
    for i, name in enumerate(SLOTS):
        offset = layout.registers.get(name)
        out.offset[i] = NO_REGISTER if offset is None else offset
        out.reserved[i] = 0 if offset is None else reserved.get(offset, 0)
        if offset is not None:
            assert offset < 4 * SLOT_TABLE, f"{name} at {offset:#x} is beyond the slot table"
            out.slot_at[offset >> 2] = i
    out.sr, out.fcr, out.dr = layout.sr, layout.fcr, layout.dr
    out.start_slot = slot[layout.start]
    out.locked = sum(1 << slot[name] for name in layout.locked)
    out.cr_active, out.ccr_unplain = layout.cr_active, layout.ccr_unplain
    out.dual_bit, out.dlr_dual_odd = layout.dual_bit, layout.dlr_dual_odd
    out.lines[:] = (*layout.lines, *(0,) * (8 - len(layout.lines)))
    for i, name in enumerate(FIELDS):
        offset, shift, width = layout.fields[name]
        assert out.slot_at[offset >> 2] >= 0, f"{name} lies in no register of reg[]"
        out.field[i] = _FieldAt(out.slot_at[offset >> 2], shift, width, 0)


def load() -> ctypes.CDLL | None:
    return native.load("quadspi_fast")


def require() -> ctypes.CDLL:
    return native.require("quadspi_fast")
