"""Data loops run a whole run of turns at once: the turn summaries native/turns_fast.c applies.

A HAL-style loader moves each byte of a page program or an indirect read through twenty to
thirty instructions: ``HAL_QSPI_Transmit`` calls the flag wait (an SR read, a compare), writes
one byte to DR, moves its pointer and counts down. Exact virtual time needs unicorn's
instruction count, so each such turn costs about 0.15 us on the host. A turn of such a loop is
a function of the turn number: its pointer moves by its stride, its count by one, the rest is
constant or a byte it copies. This module finds that out for one turn, on paper, and
summarises it for native/turns_fast.c, which then runs as many turns as keep every branch's
direction at once.

**Looking.** When the core stopped between slices while a command lane moves data in an
indirect write (TX) or read (RX) (a SysTick event stops it there, or, for a loader without
SysTick, the lane itself after the first beat of a long write:
:meth:`NativeTurns.ask_lanes_to_stop`), :meth:`NativeTurns.look` runs the code from the stop, on
paper (nothing in the machine changes, no time passes), until it comes back to a loop head:
the target of a backward branch that closes the loop. From there it runs one turn
symbolically: each core register at the head is a symbol, each value the turn computes an
expression of them, of the memory it loads (cells: a constant address each turn; data: an
address that moves) and of the controller's registers (what the lane serves: SR reads the same
in every turn while it moves data, DR accesses). A branch's direction, a store's address and
value, a register's value at the end of the turn: all of them are expressions.

**Summarising.** The turn holds when, at its end, each register and cell is itself plus a
constant (a pointer, a count), or a value that is the same every turn (reloaded, a constant),
or a byte the turn copied; every expression a branch, an address or a non-linear operation
uses is affine in the turn number over those; data is only copied (to DR, into a buffer, into a
register) or, loaded from memory, compared by a branch (a page read back and compared with its
buffer, a blank check: the branch's bound is then the first turn whose bytes turn it, which
turns_fast.c finds by reading them); and every register access goes to one command lane. The
summary is a small program (the ops of turns_fast.c): compute turn 0's values from the
registers and memory of the moment,
bound the turns by every branch (the first turn its condition changes), by the lane's room and
by the slice's end, check the memory the turn takes as distinct does not overlap and its code is
unchanged, then write what the last turn leaves. Anything this module does not place (an
instruction thumbsem.py does not decode, an IT block, arithmetic on copied data, an access to
another peripheral, a store into the loop's code) leaves the loop to run turn by turn.

**Exactness.** The turns run cost their instructions, one cycle each, in the slice's
instruction counter (turns_fast.c), and the lane's state after them is the one the accesses one
by one leave (quadspi_fast.c, lane_turn_serve), so virtual time, registers, memory and the
chip's log are those of running every turn; ``tests/emu/test_turns.py`` runs loaders with and
without the summaries and compares them.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from unicorn import arm_const as A

from extflash.emu import native
from extflash.emu.cortexm import RegisterBatch, address_of_function, uclib
from extflash.emu.idleloop import PC_INDEX, TURN_REGISTERS, XPSR_INDEX, PcTable
from extflash.emu.native import quadspi_fast
from extflash.emu.paper import (
    K_ADD,
    K_SUB,
    K_ZERO,
    MASK,
    Expr,
    Paper,
    Simulator,
    Store,
    Unsupported,
    check,
    const,
    find_head,
    key_of,
    leaves,
    linear,
)
from extflash.emu.thumbsem import IT_BITS

log = logging.getLogger(__name__)

MAX_TURN = 96  # instructions in one turn
MAX_LOOKS = 48  # looks a machine makes at all
MAX_SAMPLED = 16  # of them, looks at where an event found the core (memory-only loops)
TURN_SAMPLES = 12  # stops after a number of executed instructions (machine.SAMPLE_SLICE)
MAX_LANE_STOPS = 4  # stops a machine's lanes make for a look (LOOK_BYTES, quadspi_fast.c)
LOOK_BYTES = 17  # an indirect write long enough for a look (wanted(): more than 16 bytes left)
NO_LANE = 0xFFFFFFFF  # a summary of a loop that moves data in memory only (turns_fast.c)

MAX_TEMPLATES, MAX_OPS, MAX_SLOTS, MAX_ACC, MAX_LOADS, MAX_CODE, MAX_REGIONS = (
    8, 192, 128, 8, 16, 8, 8)
R_IDS = 18
REGISTER_IDS = (*TURN_REGISTERS, A.UC_ARM_REG_APSR_NZCV)  # R0-R12, SP, LR, PC, xPSR, NZCV

# turns_fast.c op codes
(T_REG, T_CONST, T_ADD, T_SUB, T_MULK, T_NOT, T_AND, T_ORR, T_EOR, T_BIC, T_MUL, T_LSL, T_LSR,
 T_ASR, T_ROR, T_LSRK, T_ASRK, T_RORK, T_UBFX, T_SBFX, T_CELL, T_MMIO, T_CHECK, T_COND, T_DLOAD,
 T_DSTORE, T_MMIOW, T_OUTREG, T_OUTCELL, T_FLAGS, T_DCOND) = range(1, 32)
_BINARY = {"and": T_AND, "orr": T_ORR, "eor": T_EOR, "bic": T_BIC, "mul": T_MUL, "lsl": T_LSL,
           "lsr": T_LSR, "asr": T_ASR, "ror": T_ROR}
_BY_CONSTANT = {"lsr": T_LSRK, "asr": T_ASRK, "ror": T_RORK}

_P, _U32, _U64 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64


class LaneAccess(ctypes.Structure):
    _fields_ = [("offset", _U32), ("size", ctypes.c_uint8), ("write", ctypes.c_uint8),
                ("pad", ctypes.c_uint8 * 2), ("used", _U32)]


class TurnOp(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("dst", ctypes.c_uint16), ("a", ctypes.c_uint16),
                ("b", ctypes.c_uint16), ("k", _U32), ("k2", _U32)]


class TurnTemplate(ctypes.Structure):
    _fields_ = [("head", _U32), ("length", _U32), ("lane", _U32), ("n_acc", _U32),
                ("acc", LaneAccess * MAX_ACC), ("n_ops", _U32), ("ops", TurnOp * MAX_OPS),
                ("n_code", _U32), ("code_at", _U32 * MAX_CODE), ("code_len", _U32 * MAX_CODE),
                ("code", _P), ("per_turn", _U32), ("reads", _U32),
                ("load_op", ctypes.c_uint16 * MAX_LOADS), ("enabled", _U32), ("cool", _U32),
                ("applied", _U64),
                ("turns", _U64), ("declined", _U64)]


class Region(ctypes.Structure):
    _fields_ = [("base", _U32), ("size", _U32), ("host", _P), ("writable", _U32),
                ("pad", _U32)]


class TurnsState(ctypes.Structure):
    """``struct turns`` in turns_fast.c."""

    _fields_ = [("uc", _P), ("reg_read_batch", _P), ("reg_write_batch", _P),
                ("reg_id", ctypes.c_int32 * R_IDS), ("counter", _P), ("limit", _P),
                ("lane_room", _P), ("lane_serve", _P), ("lane", _P * 8),
                ("n_regions", _U32), ("regions", Region * MAX_REGIONS),
                ("n_templates", _U32), ("templates", TurnTemplate * MAX_TEMPLATES),
                ("active", _U32)]


@dataclass
class Summary:
    """What turns_fast.c needs of one loop."""

    head: int
    length: int
    lane: int
    accesses: list[tuple[int, int, bool, int]]  # offset, size, write, the bits used of a read
    ops: list[tuple[int, int, int, int, int, int]]  # code dst a b k k2
    code: list[tuple[int, bytes]]
    path: set[int]


class _Emitter:
    """The ops of turns_fast.c for a turn on paper."""

    def __init__(self, st: Paper, deltas: dict[Expr, int], data: set[int]):
        self.st, self.deltas, self.data = st, deltas, data
        self.ops: list[tuple[int, int, int, int, int, int]] = []
        self.slots: dict[Expr, int] = {}

    def op(self, code: int, dst: int = 0, a: int = 0, b: int = 0, k: int = 0, k2: int = 0) -> None:
        if len(self.ops) >= MAX_OPS:
            raise Unsupported("a turn too long to summarise")
        self.ops.append((code, dst, a, b, k & MASK, k2 & MASK))

    def step(self, e: Expr) -> int:
        """The per-turn step of e (0 for what is the same in every turn)."""
        form = linear(e)
        if form is not None:
            total = 0
            for leaf, c in form[1].items():
                if leaf[0] == "load" and leaf[1] in self.data:
                    raise Unsupported("arithmetic on copied data")
                total += c * self.deltas.get(leaf, 0)
            return total & MASK
        for leaf in leaves(e):
            if leaf[0] == "load" and leaf[1] in self.data:
                raise Unsupported("arithmetic on copied data")
            if self.deltas.get(leaf, 0):
                raise Unsupported("a non-linear function of the turn number")
        return 0

    def slot(self, e: Expr) -> int:
        if e in self.slots:
            return self.slots[e]
        kind = e[0]
        if kind == "load" and e[1] in self.data:
            raise Unsupported("copied data used as a value")
        code: tuple[int, ...]
        if kind == "reg":
            code = (T_REG, e[1], 0, self.deltas.get(e, 0))
        elif kind == "const":
            code = (T_CONST, 0, 0, e[1])
        elif kind == "load":
            load = self.st.loads[e[1]]
            address = self.slot(load.address)
            code = (T_CELL, address, 0, load.width | (8 if load.signed else 0),
                    self.deltas.get(e, 0))
        elif kind == "mmio":
            code = (T_MMIO, e[1], 0, 0)
        elif kind in ("add", "sub"):
            code = (T_ADD if kind == "add" else T_SUB, self.slot(e[1]), self.slot(e[2]), 0)
        elif kind == "mulk":
            code = (T_MULK, self.slot(e[1]), 0, e[2])
        elif kind == "not":
            code = (T_NOT, self.slot(e[1]), 0, 0)
        elif kind in _BINARY:
            code = (_BINARY[kind], self.slot(e[1]), self.slot(e[2]), 0)
        elif kind in ("lsrk", "asrk", "rork"):
            code = (_BY_CONSTANT[kind[:3]], self.slot(e[1]), 0, e[2])
        elif kind in ("ubfx", "sbfx"):
            code = (T_UBFX if kind == "ubfx" else T_SBFX, self.slot(e[1]), 0, e[2], e[3])
        else:
            raise Unsupported(kind)
        index = len(self.slots)
        if index >= MAX_SLOTS:
            raise Unsupported("too many values in a turn")
        self.slots[e] = index
        c, a, b, k = code[:4]
        k2 = code[4] if len(code) > 4 else 0
        self.op(c, index, a, b, k, k2)
        return index


def summarise(sim: Simulator, st: Paper, head: int, lane_of: Callable[[int], int],
              ) -> Summary:
    """Run one turn from head on paper (st: the state there) and summarise it."""
    regs0 = list(st.regs)
    st.regs = [(c, ("reg", r)) for r, (c, _e) in enumerate(regs0)]
    st.flags = [None, None, None, None]
    st.loads, st.accesses, st.stores, st.conditions = [], [], {}, []
    st.literals, st.path = [], []
    pc = head
    for _ in range(MAX_TURN):
        pc = sim.step(st, pc)
        if pc == head:
            break
    else:
        raise Unsupported("no turn back to the head")
    check(st, [c for c, _e in regs0])
    lanes = {lane_of(a.at) for a in st.accesses}
    if len(lanes) > 1:
        raise Unsupported("accesses to two controllers")
    # each register and cell at the end: itself plus a constant, or a value of every turn
    deltas: dict[Expr, int] = {}
    resets: dict[Expr, Expr] = {}
    data: set[int] = {i for i, load in enumerate(st.loads) if load.lane_access >= 0}
    for r in range(15):
        end = st.regs[r][1]
        form = linear(end)
        me = ("reg", r)
        if form is not None and set(form[1]) == {me} and form[1][me] == 1:
            deltas[me] = form[0]
        elif me not in leaves(end):  # set anew each turn
            resets[me] = end
        else:
            raise Unsupported(f"R{r} is no affine function of the turn")
    # loads in order: data (the address moves) or cells (it does not)
    em = _Emitter(st, deltas, data)  # sees deltas and data as they are found
    for m, load in enumerate(st.loads):
        if m in data:
            continue
        if em.step(load.address):
            data.add(m)
            continue
        stored = st.stores.get((key_of(load.address), load.width))
        me = ("load", m)
        if stored is None:
            continue  # constant while the turns run
        form = linear(stored.value)
        if form is not None and set(form[1]) == {me} and form[1][me] == 1:
            deltas[me] = form[0]
        elif me not in leaves(stored.value):
            resets[me] = stored.value
        else:
            raise Unsupported("a cell that is no affine function of the turn")

    def copied(e: Expr) -> tuple[int, int] | None:
        """(load, shift) when e is data the turn copies (shifted right: a byte of a word)."""
        shift = 0
        if e[0] == "lsrk" and e[1][0] == "load":
            e, shift = e[1], e[2]
        if e[0] == "load" and e[1] in data:
            return e[1], shift
        return None

    # registers holding data a turn copied: at the next turn's head they hold that data, which
    # the turn may only copy again (stack it, move it) before it copies new data over it
    holding = {me: copied(end) for me, end in resets.items() if me[0] == "reg" and copied(end)}
    for me, end in resets.items():
        if me not in holding and copied(end) is None and em.step(end):
            raise Unsupported("a value set anew each turn that moves")
    # what the turn uses of the registers at its head: copies (a register stored or moved
    # whole: what a register holding data may be used for) and the rest
    copies: list[Expr] = [a.value for a in st.accesses if a.value is not None]
    copies += [s.value for s in st.stores.values()] + [e for _c, e in st.regs]
    exprs: list[Expr] = [c.setter.a for c in st.conditions] + [c.setter.b for c in st.conditions]
    exprs += [a.address for a in st.accesses] + [s.address for s in st.stores.values()]
    exprs += [load.address for load in st.loads] + [e for e in copies if e[0] != "reg"]
    computed = {leaf for e in exprs for leaf in leaves(e) if leaf[0] == "reg"}
    if computed & set(holding):
        raise Unsupported("a register holding copied data is used")
    used = computed | {e for e in copies if e[0] == "reg"}
    # turn 0's values, the checks and the bounds
    for a in st.accesses:  # every access reaches the register it reached on paper
        em.op(T_CHECK, 0, em.slot(a.address), em.slot(const(a.at)))
    for me, end in resets.items():
        # a value set anew each turn that the turn uses holds its every-turn value already
        # (a cell's load is a use)
        if me not in holding and (me[0] == "load" or me in used):
            if any(leaf in holding for leaf in leaves(end)):
                raise Unsupported("a value the turn uses holds data of two turns before")
            em.op(T_CHECK, 0, em.slot(me), em.slot(end))
    on_data = []  # conditions on data loaded from memory: bounded once the loads are numbered
    for cond in st.conditions:
        setter = cond.setter
        if setter.kind not in (K_SUB, K_ADD, K_ZERO):
            raise Unsupported("a condition on a shifter's carry")
        if copied(setter.a) is not None or copied(setter.b) is not None:
            on_data.append(cond)
            continue
        em.op(T_COND, 0, em.slot(setter.a), em.slot(setter.b),
              cond.cond | setter.kind << 4 | int(cond.taken) << 8)
    # data: loads copied, stores, the lane's writes
    numbers: dict[int, int] = {}
    for m in sorted(data):
        load = st.loads[m]
        numbers[m] = len(numbers)
        if len(numbers) > MAX_LOADS:
            raise Unsupported("too many loads")
        flags = load.width | (8 if load.signed else 0)
        if load.lane_access >= 0:
            offset = sum(a.size for a in st.accesses[:load.lane_access]
                         if a.offset & ~3 == st.accesses[load.lane_access].offset & ~3)
            em.op(T_DLOAD, numbers[m], load.lane_access, offset, flags, 1)
        else:
            em.op(T_DLOAD, numbers[m], em.slot(load.address), 0, flags, 0)

    def operand(e: Expr) -> tuple[int, int | None]:
        """A setter's operand: (data load number, its right shift) for data the turn copied,
        (slot, None) for anything else."""
        found = copied(e)
        return (em.slot(e), None) if found is None else (numbers[found[0]], found[1])

    for cond in on_data:
        # a verify loop's compare, a blank check: turns_fast.c reads the bytes to find the
        # first turn the branch turns in; the lane's data is not there before it is served
        if any((found := copied(e)) is not None and st.loads[found[0]].lane_access >= 0
               for e in (cond.setter.a, cond.setter.b)):
            raise Unsupported("a condition on data the controller's DR returns")
        (x, shift_x), (y, shift_y) = operand(cond.setter.a), operand(cond.setter.b)
        k = (cond.cond | cond.setter.kind << 4 | int(cond.taken) << 8
             | (0x200 if shift_x is not None else 0) | (0x400 if shift_y is not None else 0))
        em.op(T_DCOND, 0, x, y, k, (shift_x or 0) | (shift_y or 0) << 8)

    def source(e: Expr, output: bool = False) -> tuple[int, int, int]:
        """(b, k2, shift) of a value a store or an output takes: data copied in this turn, in
        the turn before (outputs only), or a slot."""
        found = copied(e)
        if found is not None:
            return numbers[found[0]], 0, found[1]
        if e in holding:
            if not output:
                raise Unsupported("data of the turn before copied again")
            m, shift = holding[e]  # type: ignore[misc]
            return numbers[m], 2, shift
        return em.slot(e), 1, 0

    for i, a in enumerate(st.accesses):
        if a.write:
            assert a.value is not None
            b, k2, shift = source(a.value)
            em.op(T_MMIOW, 0, i, b, shift << 8, k2)
    cells: list[Store] = []
    for store in st.stores.values():
        if em.step(store.address):
            b, k2, shift = source(store.value)
            em.op(T_DSTORE, 0, em.slot(store.address), b, store.width | shift << 8, k2)
        else:
            cells.append(store)
    if not st.accesses and len(cells) == len(st.stores) and not data:
        raise Unsupported("a loop that moves no data")  # a wait: polling and idle skips
    for store in cells:
        b, k2, shift = source(store.value, output=True)
        em.op(T_OUTCELL, 0, em.slot(store.address), b, store.width | shift << 8, k2)
    for r in range(15):
        me = ("reg", r)
        end = st.regs[r][1]
        if end == me:
            continue
        b, k2, shift = source(end, output=True)
        em.op(T_OUTREG, 0, r, b, shift << 8, k2)
    # the flags the last turn leaves
    done: set[int] = set()
    for flag_setter in st.flags:
        if flag_setter is None or id(flag_setter) in done:
            continue
        done.add(id(flag_setter))
        mask = sum(8 >> j for j, other in enumerate(st.flags) if other is flag_setter)
        # flags of copied data: the last turn's
        (x, shift_x), (y, shift_y) = operand(flag_setter.a), operand(flag_setter.b)
        k = (mask | flag_setter.kind << 4
             | (0x100 | shift_x << 9 if shift_x is not None else 0)
             | (0x4000 | shift_y << 15 if shift_y is not None else 0))
        em.op(T_FLAGS, 0, x, y, k, flag_setter.shift)
    # the code the summary stands for (instructions, literals), in ranges
    spans = sorted(st.path + st.literals)
    ranges: list[list[int]] = []
    for at, size in spans:
        if ranges and at <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], at + size)
        else:
            ranges.append([at, at + size])
    if len(ranges) > MAX_CODE:
        raise Unsupported("code in too many places")
    code = []
    for lo, hi in ranges:
        raw = sim._read(lo, hi - lo)
        if raw is None:
            raise Unsupported("code outside memory")
        code.append((lo, raw))
    if len(st.accesses) > MAX_ACC:
        raise Unsupported("too many register accesses in a turn")
    bits = _bits_used(st)
    return Summary(head, len(st.path), lanes.pop() if lanes else NO_LANE,
                   [(a.offset, a.size, a.write, bits.get(i, MASK))
                    for i, a in enumerate(st.accesses)], em.ops, code,
                   {pc for pc, _size in st.path})


def _bits_used(st: Paper) -> dict[int, int]:
    """For each register read of the turn: the bits of its value the turn uses. A flag test
    (``tst``, an AND with a constant) uses the constant's bits; any other use, all of them.
    In the last FIFO's worth of an indirect read SR's level falls a turn at a time while the
    flags a loop tests stay: the lane runs such turns at once (quadspi_fast.c, lane_turn_room)."""
    used: dict[int, int] = {}

    def walk(e: Expr, bits: int) -> None:
        kind = e[0]
        if kind == "mmio":
            used[e[1]] = used.get(e[1], 0) | bits
            return
        if kind == "and":
            for value, other in ((e[1], e[2]), (e[2], e[1])):
                if other[0] == "const":
                    walk(value, bits & other[1])
                    return
        for part in e[1:]:
            if isinstance(part, tuple):
                walk(part, MASK)

    roots = [e for _c, e in st.regs] + [load.address for load in st.loads]
    roots += [e for s in st.stores.values() for e in (s.address, s.value)]
    roots += [a.address for a in st.accesses] + [a.value for a in st.accesses if a.value]
    setters = [c.setter for c in st.conditions] + [f for f in st.flags if f is not None]
    roots += [e for setter in setters for e in (setter.a, setter.b)]
    for root in roots:
        walk(root, MASK)
    return used


# -- the native side ------------------------------------------------------------------------------
def load() -> ctypes.CDLL | None:
    return native.load("turns_fast")


class NativeTurns:
    """One machine's turn summaries (struct turns) and the looks that make them."""

    def __init__(self, lib: ctypes.CDLL, machine: Any, lanes: Sequence[Any]) -> None:
        if lib.turns_size() != ctypes.sizeof(TurnsState):
            raise native.NativeUnavailable("turns_fast.c and its ctypes mirror disagree")
        qlib = quadspi_fast.load()
        if qlib is None:
            raise native.NativeUnavailable("no command lanes")
        self._machine = machine
        self._registers = RegisterBatch(machine.uc, TURN_REGISTERS)
        self._lanes = list(lanes)
        st = self.state = TurnsState()
        st.uc = machine._handle
        st.reg_read_batch = address_of_function(uclib.uc_reg_read_batch)
        st.reg_write_batch = address_of_function(uclib.uc_reg_write_batch)
        st.reg_id[:] = REGISTER_IDS
        st.counter = ctypes.addressof(machine._counter)
        st.limit = ctypes.addressof(machine._limit)
        st.lane_room = address_of_function(qlib.lane_turn_room)
        st.lane_serve = address_of_function(qlib.lane_turn_serve)
        for i, lane in enumerate(self._lanes):
            st.lane[i] = lane.native_address
        self._peek = qlib.lane_turn_peek
        self._peek.argtypes = (_P, _P, _P)
        self._peek.restype = ctypes.c_int
        self.address = ctypes.addressof(st)
        self.hook = address_of_function(lib.turn_hook)
        self._prepare = lib.turns_prepare
        self._prepare.argtypes = (_P, _U32)
        self._prepare.restype = ctypes.c_int
        self._keep: list[Any] = []
        self._tried: set[int] = set()
        self._paths: set[int] = set()
        # where a look finds nothing new (tried, on a summarised loop): a tick the C loop
        # samples there stays in C (the sample would cost Python a take-over and nothing else)
        self.known = PcTable()
        self.looks = 0
        self.sampled = 0
        self.count_samples = 0
        self.lane_stops = 0
        self._asked = [False] * len(self._lanes)
        self.summaries: list[Summary] = []
        self._regions()

    def _regions(self) -> None:
        st = self.state
        n = 0
        for region in self._machine.part.part.memory:
            entry = self._machine._buffers.get(region.start)
            if entry is None or n == MAX_REGIONS:
                continue
            buf, cbuf = entry
            st.regions[n] = Region(region.start, len(buf), ctypes.addressof(cbuf),
                                   int(region.kind == "ram"), 0)
            n += 1
        st.n_regions = n

    @property
    def turns_run(self) -> int:
        """Turns run at once so far (tests and benchmarks)."""
        return sum(int(self.state.templates[i].turns) for i in range(self.state.n_templates))

    @property
    def sampling(self) -> bool:
        """Are looks at where events find the core still wanted?"""
        return (self.sampled < MAX_SAMPLED and self.looks < MAX_LOOKS
                and self.state.n_templates < MAX_TEMPLATES)

    @property
    def count_sampling(self) -> bool:
        """Are stops after a number of executed instructions still wanted (the machine then
        caps its slices at a few thousand, machine.SAMPLE_SLICE)? From the first data loop
        summarised on: the loader then moves data, in the calls whose instructions count (not
        Init's clock set-up)."""
        return (self.count_samples < TURN_SAMPLES and self.looks < MAX_LOOKS
                and self.state.n_templates < MAX_TEMPLATES
                and any(s.lane != NO_LANE for s in self.summaries))

    def ask_lanes_to_stop(self) -> None:
        """While looks are left, ask each lane to stop the core right after the first access of
        its next long indirect write (once): the core is then in that write's data loop, where
        a look finds its turn. A loader with SysTick is found there by the ticks the C loop
        samples; one without (the generator's, timing with DWT) has no other stop there."""
        for i, lane in enumerate(self._lanes):
            if self._asked[i] and not lane.native_state.look_stop:
                self.lane_stops += 1  # it stopped the core since
        want = (self.lane_stops < MAX_LANE_STOPS and self.looks < MAX_LOOKS
                and self.state.n_templates < MAX_TEMPLATES)
        for i, lane in enumerate(self._lanes):
            lane.native_state.look_stop = LOOK_BYTES if want else 0
            self._asked[i] = want

    def wanted(self, at_event: bool, counted: bool = False) -> bool:
        """Is a look worth it now: a lane moves data, or an event stopped the core (it is where
        the core spends its time: a memset, a memcpy), or the end of a slice that the sampling
        cap ended did (``counted``), and looks are left?"""
        if (at_event and self.sampling) or (counted and self.count_sampling):
            return True
        if self.looks >= MAX_LOOKS or self.state.n_templates >= MAX_TEMPLATES:
            return False
        for lane in self._lanes:
            s = lane.native_state
            if s.pending or s.flags & quadspi_fast.FLAG_IRQ:
                continue
            if s.mode == quadspi_fast.MODE_TX and s.limit - s.fill > 16:
                return True
            if (s.mode in (quadspi_fast.MODE_RX, quadspi_fast.MODE_RXT)
                    and s.len - s.pos > s.fifo + 64):
                return True
        return False

    def look(self, *, sampled: bool = False) -> Summary | None:
        """Run the code from where the core stopped, on paper, to a loop head, and summarise
        the turn from there; the summary is used from the core's next turn on. ``sampled``:
        an event stopped the core (else a lane moves data)."""
        machine = self._machine
        pc = machine._pc() & ~1
        if pc in self._tried or pc in self._paths:
            self.known.add(pc)  # its slot had gone to another place
            return None
        self.looks += 1
        self.sampled += sampled
        self._tried.add(pc)
        self.known.add(pc)
        regs = self._registers.read()
        values, xpsr = regs[:PC_INDEX], regs[XPSR_INDEX]
        if xpsr & IT_BITS:
            return None
        sim = Simulator(self._read, self._writable, self._lane_at, self._peek_value,
                         lambda i: int(self._lanes[i].native_state.layout.dr))
        st = Paper([(v & MASK, ("reg", r)) for r, v in enumerate(values)],
                   [None, None, None, None], xpsr & 0xF0000000, strict=False)
        try:
            head = find_head(sim, st, pc)
            # the state at the head: run again from the stop up to it
            st = Paper([(v & MASK, ("reg", r)) for r, v in enumerate(values)],
                       [None, None, None, None], xpsr & 0xF0000000, strict=False)
            at = pc
            while at != head:
                at = sim.step(st, at)
            st.strict = True
            if any(known.head == head for known in self.summaries):
                return None  # entered from before its head: summarised already
            summary = summarise(sim, st, head, self._lane_index)
        except Unsupported as why:
            log.debug("loop at 0x%08X not summarised: %s", pc, why)
            return None
        self.install(summary)
        return summary

    def install(self, summary: Summary) -> None:
        st = self.state
        tp = st.templates[st.n_templates]
        tp.head, tp.length, tp.lane = summary.head, summary.length, summary.lane
        tp.n_acc = len(summary.accesses)
        for i, (offset, size, write, used) in enumerate(summary.accesses):
            tp.acc[i] = LaneAccess(offset, size, int(write), (0, 0), used)
        tp.n_ops = len(summary.ops)
        for i, (code, dst, a, b, k, k2) in enumerate(summary.ops):
            tp.ops[i] = TurnOp(code, dst, a, b, k, k2)
        raw = b"".join(data for _at, data in summary.code)
        buf = ctypes.create_string_buffer(raw, len(raw))
        self._keep.append(buf)
        tp.code = ctypes.addressof(buf)
        tp.n_code = len(summary.code)
        for i, (at, data) in enumerate(summary.code):
            tp.code_at[i], tp.code_len[i] = at, len(data)
        if not self._prepare(self.address, st.n_templates):
            log.debug("loop at 0x%08X: turns_fast.c refused its summary", summary.head)
            return
        tp.enabled = 1
        st.n_templates += 1
        self.summaries.append(summary)
        self._paths |= summary.path
        for pc in summary.path:
            self.known.add(pc)
        self._machine.hook_blocks_at(summary.head, self.hook, self.address)
        log.debug("loop at 0x%08X summarised: %d instructions a turn", summary.head,
                  summary.length)

    # -- the machine, read on paper
    def _read(self, at: int, size: int) -> bytes | None:
        if not self._machine._plain_readable(at, size):
            return None
        return bytes(self._machine.uc.mem_read(at, size))

    def _writable(self, at: int, size: int) -> bool:
        """Does [at, at + size) lie in RAM the summaries may write (the regions published)?"""
        return any(r.writable and r.base <= at and at + size <= r.base + r.size
                   for r in self.state.regions[:self.state.n_regions])

    def _lane_at(self, at: int) -> tuple[int, int] | None:
        for i, lane in enumerate(self._lanes):
            if lane.base <= at < lane.base + lane.size:
                return i, at - lane.base
        return None

    def _lane_index(self, at: int) -> int:
        where = self._lane_at(at)
        assert where is not None
        return where[0]

    def _peek_value(self, lane: int, offset: int, size: int) -> int | None:
        acc = LaneAccess(offset, size, 0)
        value = ctypes.c_uint32()
        if not self._peek(self._lanes[lane].native_address, ctypes.byref(acc),
                          ctypes.byref(value)):
            return None
        return int(value.value)
