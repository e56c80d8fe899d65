"""A data loop's turn run on paper: concrete values and their expressions (turns.py).

:class:`Simulator` runs Thumb instructions (thumbsem.py) on a :class:`Paper` state without
touching the machine: each register and memory value is a pair, its concrete value and an
expression of the registers at the turn's head (``("reg", r)``), of what the turn loaded
(``("load", m)``) and of what it read from a command lane (``("mmio", i)``). Flags are kept as
the setter that computed them (:class:`Setter`), a conditional branch as a :class:`Condition`
on it. Loads and stores of plain memory are recorded by address expression (a store then a load
of the same expression forwards the value; any other overlap is refused); accesses to a command
lane's register page are recorded in order, SR reads with the value the lane would serve.
:func:`check` asks the two sides to agree: every expression evaluated on the concrete values at
the head gives the concrete value the simulator computed (tests/emu/test_thumbsem.py holds the
concrete side against unicorn).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from extflash.emu.thumbsem import AL, EXC_RETURN_MIN, LR, PC, Op, decode

MASK = 0xFFFFFFFF
MAX_STEPS = 200  # instructions run on paper to find a loop head (two turns of the longest)
# how a setter computed the flags (turns_fast.c: K_*)
K_SUB, K_ADD, K_ZERO, K_CONSTC, K_LSLC, K_LSRC = range(1, 7)


class Unsupported(Exception):
    """The loop is not one this module summarises (the message says why, for the log)."""


# -- expressions ------------------------------------------------------------------------------
# Tuples: ("reg", r) a register at the turn's head; ("load", m) what load m read; ("const", k);
# ("mmio", i) what lane access i read; (op, a, b) for add sub and orr eor bic mul lsl lsr asr
# ror; ("mulk", a, k); ("not", a); ("lsrk"/"asrk"/"rork", a, k); ("ubfx"/"sbfx", a, lsb, width).
Expr = tuple[Any, ...]


def const(k: int) -> Expr:
    return ("const", k & MASK)


def linear(e: Expr) -> tuple[int, dict[Expr, int]] | None:
    """e as k + sum(c * leaf) over registers and loads, or None when it is not linear."""
    kind = e[0]
    if kind == "const":
        return e[1], {}
    if kind in ("reg", "load"):
        return 0, {e: 1}
    if kind in ("add", "sub"):
        a, b = linear(e[1]), linear(e[2])
        if a is None or b is None:
            return None
        sign = 1 if kind == "add" else -1
        terms = dict(a[1])
        for leaf, c in b[1].items():
            terms[leaf] = (terms.get(leaf, 0) + sign * c) & MASK
        return (a[0] + sign * b[0]) & MASK, {k: c for k, c in terms.items() if c}
    if kind == "mulk":
        a = linear(e[1])
        if a is None:
            return None
        return (a[0] * e[2]) & MASK, {k: (c * e[2]) & MASK for k, c in a[1].items()
                                       if (c * e[2]) & MASK}
    if kind == "not":
        a = linear(e[1])
        if a is None:
            return None
        return (~a[0]) & MASK, {k: (-c) & MASK for k, c in a[1].items()}
    return None


def key_of(e: Expr) -> tuple[int, tuple[tuple[Expr, int], ...]] | None:
    form = linear(e)
    if form is None:
        return None
    return form[0], tuple(sorted(form[1].items()))


def add(a: Expr, b: Expr) -> Expr:
    if a[0] == "const" and b[0] == "const":
        return const(a[1] + b[1])
    if b == ("const", 0):
        return a
    if a == ("const", 0):
        return b
    return ("add", a, b)


def sub(a: Expr, b: Expr) -> Expr:
    if a[0] == "const" and b[0] == "const":
        return const(a[1] - b[1])
    if b == ("const", 0):
        return a
    return ("sub", a, b)


def mulk(a: Expr, k: int) -> Expr:
    k &= MASK
    if a[0] == "const":
        return const(a[1] * k)
    return a if k == 1 else ("mulk", a, k)


def leaves(e: Expr) -> list[Expr]:
    if e[0] in ("reg", "load", "mmio"):
        return [e]
    out: list[Expr] = []
    for part in e[1:]:
        if isinstance(part, tuple):
            out.extend(leaves(part))
    return out


def evaluate(e: Expr, leaf: Callable[[Expr], int]) -> int:
    """e's value (as turns_fast.c computes it) with leaf giving registers, loads and reads."""
    kind = e[0]
    if kind == "const":
        return int(e[1])
    if kind in ("reg", "load", "mmio"):
        return leaf(e) & MASK
    x = evaluate(e[1], leaf)
    if kind == "mulk":
        return (x * e[2]) & MASK
    if kind == "not":
        return ~x & MASK
    if kind in ("lsrk", "asrk", "rork"):
        return _shift(kind[:3], x, e[2])
    if kind in ("ubfx", "sbfx"):
        r = (x >> e[2]) & ((1 << e[3]) - 1)
        if kind == "sbfx" and r >> (e[3] - 1) & 1:
            r |= MASK << e[3] & MASK
        return r
    y = evaluate(e[2], leaf)
    if kind in ("lsl", "lsr", "asr", "ror"):
        return _shift(kind, x, y & 0xFF if kind != "ror" else y & 31)
    return {"add": x + y, "sub": x - y, "and": x & y, "orr": x | y, "eor": x ^ y,
            "bic": x & ~y, "mul": x * y}[kind] & MASK


def _shift(kind: str, x: int, amount: int) -> int:
    if kind == "lsl":
        return (x << amount) & MASK if amount < 32 else 0
    if kind == "lsr":
        return x >> amount if amount < 32 else 0
    if kind == "asr":
        signed = x - (1 << 32) if x >> 31 else x
        return (signed >> min(amount, 31)) & MASK
    amount &= 31
    return (x >> amount | x << (32 - amount)) & MASK if amount else x


def add_sub(kind: int, a: int, b: int) -> tuple[int, int, int]:
    """(result, C, V) of a + b (K_ADD) or a - b (K_SUB)."""
    if kind == K_ADD:
        r = (a + b) & MASK
        return r, int(a + b > MASK), ((~(a ^ b)) & (a ^ r)) >> 31 & 1
    r = (a - b) & MASK
    return r, int(a >= b), ((a ^ b) & (a ^ r)) >> 31 & 1


def passed(cond: int, n: int, z: int, c: int, v: int) -> bool:
    """Condition cond (A7.3) on these flags."""
    base = cond >> 1
    value = (z, c, n, v, c and not z, n == v, not z and n == v)[base] if base < 7 else 1
    return bool(value) != bool(cond & 1)


def condition_holds(cond: int, setter_kind: int, a: int, b: int) -> bool:
    """The value of condition cond on the flags setter_kind computes from a and b (the N and Z
    flags only for K_ZERO, which is all turns.py lets a condition take of such a setter)."""
    r, c, v = add_sub(setter_kind, a, b) if setter_kind in (K_ADD, K_SUB) else (a, 0, 0)
    return passed(cond, r >> 31, int(r == 0), c, v)


def check(st: Paper, head: list[int]) -> None:
    """The turn's expressions give the values it computed on paper (the two sides of the
    simulator agree), or Unsupported."""
    def leaf(e: Expr) -> int:
        if e[0] == "reg":
            return head[e[1]]
        if e[0] == "load":
            return st.loads[e[1]].value
        return st.accesses[e[1]].concrete

    wrong = [f"R{r}" for r, (c, e) in enumerate(st.regs) if evaluate(e, leaf) != c]
    wrong += [f"store 0x{s.at:08X}" for s in st.stores.values()
              if evaluate(s.address, leaf) != s.at
              or evaluate(s.value, leaf) & ((1 << 8 * s.width) - 1) != s.concrete]
    wrong += [f"access 0x{a.at:08X}" for a in st.accesses if evaluate(a.address, leaf) != a.at
              or (a.value is not None and evaluate(a.value, leaf) & ((1 << 8 * a.size) - 1)
                  != a.concrete)]
    wrong += [f"load 0x{load.at:08X}" for load in st.loads
              if evaluate(load.address, leaf) != load.at]
    wrong += [f"condition {c.cond}" for c in st.conditions
              if condition_holds(c.cond, c.setter.kind, evaluate(c.setter.a, leaf),
                                 evaluate(c.setter.b, leaf)) != c.taken]
    if wrong:
        raise Unsupported(f"the turn on paper disagrees with itself: {', '.join(wrong)}")


# -- the turn on paper ----------------------------------------------------------------------------
@dataclass
class Load:
    """A load of the turn on paper: its address expression, width and concrete value."""

    address: Expr
    width: int
    signed: bool
    at: int  # the concrete address
    value: int  # and value
    lane_access: int = -1  # a DR read: its lane access


@dataclass
class Access:
    """A register access of the turn on paper."""

    offset: int
    size: int
    write: bool
    value: Expr | None  # what a write writes
    address: Expr
    at: int
    concrete: int  # what a read read, a write wrote


@dataclass
class Setter:
    """The operation that set the flags a conditional branch reads."""

    kind: int
    a: Expr
    b: Expr
    shift: int = 0


@dataclass
class Condition:
    """A conditional branch of the turn: its condition, flags and direction."""

    cond: int
    setter: Setter
    taken: bool


@dataclass
class Store:
    """A store of the turn on paper."""

    address: Expr
    width: int
    value: Expr
    at: int
    concrete: int


@dataclass
class Paper:
    """The machine state a turn runs on, on paper."""

    regs: list[tuple[int, Expr]]  # (concrete, expression) of R0-R14
    flags: list[Setter | None]  # N Z C V: the setter of each (None: from before the turn)
    nzcv: int
    memory: dict[int, int] = field(default_factory=dict)  # bytes stored on paper
    loads: list[Load] = field(default_factory=list)
    accesses: list[Access] = field(default_factory=list)
    stores: dict[Any, Store] = field(default_factory=dict)  # cells and data, by address key
    conditions: list[Condition] = field(default_factory=list)
    literals: list[tuple[int, int]] = field(default_factory=list)  # code read as data
    path: list[tuple[int, int]] = field(default_factory=list)  # (pc, size)
    # the turn being summarised (else the run to its head: a branch on flags from before it
    # just goes where they say)
    strict: bool = True


class Simulator:
    def __init__(self, read: Callable[[int, int], bytes | None],
                 writable: Callable[[int, int], bool],
                 lane_at: Callable[[int], tuple[int, int] | None],
                 peek: Callable[[int, int, int], int | None], dr_offset: Callable[[int], int]):
        self._read, self._writable, self._lane_at, self._peek = read, writable, lane_at, peek
        self._dr = dr_offset
        self._decoded: dict[tuple[int, bytes], Op | None] = {}

    def insn(self, pc: int) -> Op:
        code = self._read(pc, 4) or self._read(pc, 2)
        if code is None:
            raise Unsupported(f"no code at 0x{pc:08X}")
        key = (pc, code)
        if key not in self._decoded:
            self._decoded[key] = decode(code, pc)
        op = self._decoded[key]
        if op is None:
            raise Unsupported(f"instruction at 0x{pc:08X} not summarised")
        return op

    # -- memory on paper
    def _concrete(self, st: Paper, at: int, width: int) -> int:
        data = self._read(at, width)
        if data is None:
            raise Unsupported(f"load from 0x{at:08X}")
        raw = bytearray(data)
        for i in range(width):
            if at + i in st.memory:
                raw[i] = st.memory[at + i]
        return int.from_bytes(raw, "little")

    def load(self, st: Paper, address: tuple[int, Expr], width: int, signed: bool,
             lane: int | None = None) -> tuple[int, Expr]:
        at, expr = address[0] & MASK, address[1]
        where = self._lane_at(at)
        if where is not None:
            lane_index, offset = where
            if offset & ~3 == self._dr(lane_index):
                st.accesses.append(Access(offset, width, False, None, expr, at, 0))
                st.loads.append(Load(expr, width, signed, at, 0, len(st.accesses) - 1))
                return 0, ("load", len(st.loads) - 1)
            value = self._peek(lane_index, offset, width)
            if value is None:
                raise Unsupported(f"register read at 0x{at:08X}")
            st.accesses.append(Access(offset, width, False, None, expr, at, value))
            return value, ("mmio", len(st.accesses) - 1)
        key = (key_of(expr), width)
        if key[0] is None:
            raise Unsupported("a load from a non-linear address")
        value = self._concrete(st, at, width)
        if signed and value >> (8 * width - 1) & 1:
            value |= MASK << (8 * width) & MASK
        stored = st.stores.get(key)
        if stored is not None:
            return value, stored.value
        for other in st.stores.values():
            if other.at < at + width and at < other.at + other.width:
                raise Unsupported("a load overlapping a store of another address")
        st.loads.append(Load(expr, width, signed, at, value))
        return value, ("load", len(st.loads) - 1)

    def store(self, st: Paper, address: tuple[int, Expr], width: int,
              value: tuple[int, Expr]) -> None:
        at, expr = address[0] & MASK, address[1]
        where = self._lane_at(at)
        if where is not None:
            lane_index, offset = where
            if offset & ~3 != self._dr(lane_index):
                raise Unsupported(f"register write at 0x{at:08X}")
            st.accesses.append(Access(offset, width, True, value[1], expr, at,
                                      value[0] & ((1 << 8 * width) - 1)))
            return
        if not self._writable(at, width):
            raise Unsupported(f"store to 0x{at:08X}")
        key = (key_of(expr), width)
        if key[0] is None:
            raise Unsupported("a store to a non-linear address")
        for other_key, other in st.stores.items():
            if other_key != key and other.at < at + width and at < other.at + other.width:
                raise Unsupported("two addresses of one store")
        for i in range(width):
            st.memory[at + i] = (value[0] >> (8 * i)) & 0xFF
        st.stores[key] = Store(expr, width, value[1], at, value[0] & ((1 << 8 * width) - 1))

    # -- one instruction
    def step(self, st: Paper, pc: int) -> int:
        """Run the instruction at pc on paper; returns the next pc."""
        op = self.insn(pc)
        st.path.append((pc, op.size))
        nxt = pc + op.size
        regs = st.regs

        def reg(r: int) -> tuple[int, Expr]:
            if r == PC:
                raise Unsupported("the PC as an operand")
            return regs[r]

        def put(r: int, v: tuple[int, Expr]) -> None:
            if r == PC:
                raise Unsupported("a write of the PC")
            regs[r] = (v[0] & MASK, v[1])

        kind = op.kind
        if kind == "nop":
            return nxt
        if kind == "alu":
            self._alu(st, op, pc, reg, put)
            return nxt
        if kind == "ext":
            if op.name.startswith("rev"):
                raise Unsupported("a byte reversal")
            c, e = reg(op.rm)
            if op.amount:
                c, e = _shift("ror", c, op.amount), ("rork", e, op.amount)
            bits = 8 if op.name.endswith("b") else 16
            c &= (1 << bits) - 1
            signed = op.name.startswith("s")
            if signed and c >> (bits - 1):
                c |= MASK << bits & MASK
            put(op.rd, (c, (("sbfx" if signed else "ubfx"), e, 0, bits)))
            return nxt
        if kind == "bfx":
            c, e = reg(op.rn)
            c = (c >> op.imm) & ((1 << op.width) - 1)
            if op.signed and c >> (op.width - 1):
                c |= MASK << op.width & MASK
            put(op.rd, (c, ("sbfx" if op.signed else "ubfx", e, op.imm, op.width)))
            return nxt
        if kind == "movt":
            c, e = reg(op.rd)
            put(op.rd, ((c & 0xFFFF) | op.imm << 16,
                        ("orr", ("ubfx", e, 0, 16), const(op.imm << 16))))
            return nxt
        if kind in ("ld", "st"):
            return self._single(st, op, pc, reg, put, nxt)
        if kind in ("ldm", "stm"):
            return self._multiple(st, op, reg, put, nxt)
        if kind == "b":
            if op.cond == AL:
                return op.target
            taken = self._condition(st, op.cond)
            return op.target if taken else nxt
        if kind == "cbz":
            c, e = reg(op.rn)
            taken = (c != 0) if op.nonzero else (c == 0)
            st.conditions.append(Condition(1 if op.nonzero else 0, Setter(K_ZERO, e, const(0)),
                                           taken))
            return op.target if taken else nxt
        if kind == "bl":
            put(LR, ((nxt | 1), const(nxt | 1)))
            return op.target
        if kind == "bx":
            c, e = reg(op.rm)
            if not c & 1 or c >= EXC_RETURN_MIN or linear(e) is None:
                raise Unsupported("an exception return or a branch to ARM state")
            st.conditions.append(Condition(0, Setter(K_SUB, e, const(c)), True))
            if op.name == "blx":
                put(LR, ((nxt | 1), const(nxt | 1)))
            return c & ~1
        raise Unsupported(f"{kind} at 0x{pc:08X}")

    def _condition(self, st: Paper, cond: int) -> bool:
        nzcv = st.nzcv
        taken = passed(cond, nzcv >> 31 & 1, nzcv >> 30 & 1, nzcv >> 29 & 1, nzcv >> 28 & 1)
        base = cond >> 1
        used = {0: (1,), 1: (2,), 2: (0,), 3: (3,), 4: (2, 1), 5: (0, 3), 6: (1, 0, 3)}[base]
        setters = {id(st.flags[i]) for i in used}
        setter = st.flags[used[0]]
        if setter is None or len(setters) != 1:
            if not st.strict:
                return taken
            raise Unsupported("a condition on flags from before the turn or from two setters")
        st.conditions.append(Condition(cond, setter, taken))
        return taken

    @staticmethod
    def _set_flags(st: Paper, setter: Setter, result: int,
                   carry: tuple[Setter, int] | None = None, overflow: int | None = None) -> None:
        """N and Z from result (setter); C from carry's setter and value, V from overflow
        (setter again) when given."""
        n, z = (result >> 31) & 1, int(result & MASK == 0)
        nzcv = st.nzcv & 0x3FFFFFFF | n << 31 | z << 30
        st.flags[0] = st.flags[1] = setter
        if carry is not None:
            nzcv = nzcv & ~(1 << 29) | carry[1] << 29
            st.flags[2] = carry[0]
        if overflow is not None:
            nzcv = nzcv & ~(1 << 28) | overflow << 28
            st.flags[3] = setter
        st.nzcv = nzcv

    def _operand2(self, op: Op, reg: Callable[[int], tuple[int, Expr]]
                  ) -> tuple[int, Expr, Setter | None, int | None]:
        """The second operand, and the shifter's carry (setter, value) when it sets one."""
        if op.rm < 0:
            carry = op.carry if op.carry >= 0 else None
            return op.imm, const(op.imm), (Setter(K_CONSTC, const(0), const(0), op.carry)
                                           if carry is not None else None), carry
        c, e = reg(op.rm)
        return self._shifted(c, e, op.shift, op.amount)

    @staticmethod
    def _shifted(c: int, e: Expr, shift: str, amount: int
                 ) -> tuple[int, Expr, Setter | None, int | None]:
        if amount == 0:
            return c, e, None, None
        if amount >= 32:
            raise Unsupported("a shift by 32")
        value = _shift(shift, c, amount)
        if shift == "lsl":
            return (value, mulk(e, 1 << amount), Setter(K_LSLC, e, const(0), amount),
                    (c >> (32 - amount)) & 1)
        return (value, (shift + "k", e, amount), Setter(K_LSRC, e, const(0), amount),
                (c >> (amount - 1)) & 1)

    def _alu(self, st: Paper, op: Op, pc: int, reg: Callable[[int], tuple[int, Expr]],
             put: Callable[[int, tuple[int, Expr]], None]) -> None:
        name = op.name
        if op.rn == PC:  # ADR: the aligned PC
            a: tuple[int, Expr] = ((pc + 4) & ~3, const((pc + 4) & ~3))
        elif op.rn >= 0:
            a = reg(op.rn)
        else:
            a = (0, const(0))
        bc, be, shifter, scarry = self._operand2(op, reg)
        if name in ("lsl", "lsr", "asr", "ror"):  # by an immediate (a constant) or a register
            amount = bc & 0xFF
            if be[0] == "const":
                c, e, setter, carry = self._shifted(a[0], a[1], name, amount)
            else:
                c, e, setter, carry = _shift(name, a[0], amount), (name, a[1], be), None, None
                if op.setflags:
                    raise Unsupported("flags of a shift by a register")
            if op.setflags:
                self._set_flags(st, Setter(K_ZERO, e, const(0)), c,
                                (setter, carry or 0) if setter is not None else None)
            put(op.rd, (c, e))
            return
        ac, ae = a
        if name in ("add", "sub", "rsb"):
            x, xe, y, ye = (bc, be, ac, ae) if name == "rsb" else (ac, ae, bc, be)
            kind = K_ADD if name == "add" else K_SUB
            c, carry, overflow = add_sub(kind, x, y)
            e = add(xe, ye) if kind == K_ADD else sub(xe, ye)
            setter = Setter(kind, xe, ye)
            if op.setflags:
                self._set_flags(st, setter, c, (setter, carry), overflow)
            if op.rd >= 0:
                put(op.rd, (c, e))
            return
        if name == "mul":
            c = (ac * bc) & MASK
            e = mulk(ae, bc) if be[0] == "const" else mulk(be, ac) if ae[0] == "const" else (
                "mul", ae, be)
            if op.setflags:
                self._set_flags(st, Setter(K_ZERO, e, const(0)), c)
            put(op.rd, (c, e))
            return
        if name == "mov":
            c, e = bc, be
        elif name == "mvn":
            c, e = (~bc) & MASK, ("not", be)
        elif name == "and":
            c, e = ac & bc, ("and", ae, be)
        elif name == "orr":
            c, e = ac | bc, ("orr", ae, be)
        elif name == "eor":
            c, e = ac ^ bc, ("eor", ae, be)
        elif name == "bic":
            c, e = ac & ~bc & MASK, ("bic", ae, be)
        elif name == "orn":
            c, e = (ac | ~bc) & MASK, ("orr", ae, ("not", be))
        else:
            raise Unsupported(name)
        if op.setflags:
            self._set_flags(st, Setter(K_ZERO, e, const(0)), c,
                            (shifter, scarry or 0) if shifter is not None else None)
        if op.rd >= 0:
            put(op.rd, (c, e))

    def _address(self, op: Op, pc: int, reg: Callable[[int], tuple[int, Expr]]
                 ) -> tuple[tuple[int, Expr], tuple[int, Expr]]:
        """(the address accessed, the base after writeback)."""
        if op.rn == PC:
            base = (pc + 4) & ~3
            at = base + op.imm if op.up else base - op.imm
            return (at, const(at)), (at, const(at))
        bc, be = reg(op.rn)
        if op.rm >= 0:
            oc, oe = reg(op.rm)
            offset = ((oc << op.amount) & MASK, mulk(oe, 1 << op.amount))
        else:
            offset = (op.imm, const(op.imm))
        moved = ((bc + offset[0]) & MASK, add(be, offset[1])) if op.up else (
            (bc - offset[0]) & MASK, sub(be, offset[1]))
        return (moved if op.index else (bc, be)), moved

    def _single(self, st: Paper, op: Op, pc: int, reg: Callable[[int], tuple[int, Expr]],
                put: Callable[[int, tuple[int, Expr]], None], nxt: int) -> int:
        address, moved = self._address(op, pc, reg)
        if op.kind == "ld":
            if op.rn == PC:
                st.literals.append((address[0], op.width))
                data = self._read(address[0], op.width)
                if data is None:
                    raise Unsupported("a literal outside memory")
                value = int.from_bytes(data, "little")
                if op.signed and value >> (8 * op.width - 1):
                    value |= MASK << (8 * op.width) & MASK
                loaded = (value, const(value))
            else:
                loaded = self.load(st, address, op.width, op.signed)
            if op.wback:
                put(op.rn, moved)
            put(op.rd, loaded)
            return nxt
        self.store(st, address, op.width, reg(op.rd))
        if op.wback:
            put(op.rn, moved)
        return nxt

    def _multiple(self, st: Paper, op: Op, reg: Callable[[int], tuple[int, Expr]],
                  put: Callable[[int, tuple[int, Expr]], None], nxt: int) -> int:
        bc, be = reg(op.rn)
        n = len(op.regs)
        descending = op.index and not op.up  # STMDB/PUSH, LDMDB
        first = (bc - 4 * n) & MASK if descending else bc
        first_e = sub(be, const(4 * n)) if descending else be
        end = (first, first_e) if descending else ((bc + 4 * n) & MASK, add(be, const(4 * n)))
        target = None
        loaded: list[tuple[int, tuple[int, Expr]]] = []
        for i, r in enumerate(op.regs):
            at = ((first + 4 * i) & MASK, add(first_e, const(4 * i)))
            if op.kind == "stm":
                self.store(st, at, 4, reg(r))
            else:
                loaded.append((r, self.load(st, at, 4, False)))
        if op.wback:
            put(op.rn, end)
        for r, value in loaded:
            if r == PC:
                if not value[0] & 1 or value[0] >= EXC_RETURN_MIN or linear(value[1]) is None:
                    raise Unsupported("a return to an exception or to ARM state")
                st.conditions.append(Condition(0, Setter(K_SUB, value[1], const(value[0])),
                                               True))
                target = value[0] & ~1
            else:
                put(r, value)
        return target if target is not None else nxt


def find_head(sim: Simulator, st: Paper, pc: int) -> int:
    """Run on paper from pc until a loop closes: its head, the target of the branch that goes
    back (a block starts there; a function the loop calls is called from elsewhere too)."""
    seen: dict[int, int] = {}
    order: list[int] = []
    for _ in range(MAX_STEPS):
        if pc in seen:
            loop = order[seen[pc]:]
            for i, at in enumerate(loop):
                if at < loop[i - 1] and sim.insn(loop[i - 1]).kind in ("b", "cbz"):
                    return at
            raise Unsupported("a loop closed by no branch back")
        seen[pc] = len(order)
        order.append(pc)
        pc = sim.step(st, pc)
    raise Unsupported("no loop within reach")
