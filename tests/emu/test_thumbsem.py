"""The turn summaries' Thumb semantics (extflash.emu.thumbsem, paper.Simulator) against unicorn.

Random 16- and 32-bit encodings with random registers, flags and memory: every instruction
``thumbsem.decode`` places and the simulator runs must leave exactly what unicorn's one step
leaves (registers R0-R14, the next PC, NZCV, every byte of memory; a CMP before it sets the
flags a condition reads), and its expressions must
give the values it computed (``paper.check``). An instruction unicorn refuses as undefined must
not be placed at all (the summary would run what the core faults on)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
import unicorn
from unicorn import arm_const as A

from extflash.emu import paper, thumbsem

BASE, SIZE = 0x20000000, 0x10000
CODE, DATA, STACK = BASE, BASE + 0x1000, BASE + 0xC000
REGS = [getattr(A, f"UC_ARM_REG_R{i}") for i in range(13)] + [A.UC_ARM_REG_SP, A.UC_ARM_REG_LR]


def random_encoding(rnd: random.Random) -> bytes:
    if rnd.random() < 0.4:
        while True:
            hw = rnd.getrandbits(16)
            if hw >> 11 not in (0b11101, 0b11110, 0b11111):
                return hw.to_bytes(2, "little")
    hw1 = rnd.choice((0b11101, 0b11110, 0b11111)) << 11 | rnd.getrandbits(11)
    return hw1.to_bytes(2, "little") + rnd.getrandbits(16).to_bytes(2, "little")


def random_value(rnd: random.Random) -> int:
    pick = rnd.random()
    if pick < 0.3:
        return rnd.randrange(0, 40)
    if pick < 0.8:
        return DATA + rnd.randrange(0, 0x2000) * rnd.choice((1, 2, 4))
    return rnd.getrandbits(32)


@pytest.fixture(scope="module")
def uc() -> unicorn.Uc:
    core = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    core.ctl_set_cpu_model(A.UC_CPU_ARM_CORTEX_M7)
    core.mem_map(BASE, SIZE)
    return core


def run_one(uc: unicorn.Uc, rnd: random.Random, seen: Counter[str]) -> None:
    code = random_encoding(rnd)
    op = thumbsem.decode(code, CODE + 2)
    if op is None:
        seen["not placed"] += 1
        return
    memory = bytearray(rnd.randbytes(SIZE))
    # CMP Rn, Rm first: the flags a conditional instruction reads come from a setter on paper
    cmp = 0x4280 | rnd.randrange(8) << 3 | rnd.randrange(8)
    memory[:2 + len(code)] = cmp.to_bytes(2, "little") + code
    regs = [random_value(rnd) for _ in range(13)] + [STACK + 8 * rnd.randrange(64),
                                                     CODE + 0x101]
    nzcv = rnd.getrandbits(4) << 28
    uc.mem_write(BASE, bytes(memory))
    uc.ctl_remove_cache(CODE, CODE + 6)  # the last trial's instructions are translated there
    for reg, value in zip(REGS, regs, strict=True):
        uc.reg_write(reg, value)
    uc.reg_write(A.UC_ARM_REG_APSR_NZCV, nzcv)
    def read(at: int, size: int) -> bytes | None:
        if at >= BASE and at + size <= BASE + SIZE:
            return bytes(memory[at - BASE:at - BASE + size])
        return None

    sim = paper.Simulator(read, lambda at, size: read(at, size) is not None,
                           lambda at: None, lambda lane, offset, size: None, lambda lane: 0)
    st = paper.Paper([(v, ("reg", r)) for r, v in enumerate(regs)], [None] * 4, nzcv)
    try:
        nxt = sim.step(st, sim.step(st, CODE))
    except paper.Unsupported as why:
        seen[f"left to the core: {why}"] += 1
        return
    paper.check(st, regs)
    try:
        uc.emu_start(CODE | 1, 0, count=2)
    except unicorn.UcError as exc:
        if exc.errno == unicorn.UC_ERR_INSN_INVALID:
            pytest.fail(f"{code.hex()} ({op}) runs on paper but unicorn finds it undefined")
        seen["faults on the core"] += 1
        return
    after = [uc.reg_read(reg) for reg in REGS]
    simulated = [c for c, _e in st.regs]
    what = f"{code.hex()} {op}"
    assert simulated == after, (what, regs, simulated, after)
    assert nxt == uc.reg_read(A.UC_ARM_REG_PC) & ~1, what
    assert st.nzcv >> 28 == uc.reg_read(A.UC_ARM_REG_XPSR) >> 28, what
    for at, byte in st.memory.items():
        memory[at - BASE] = byte
    assert bytes(uc.mem_read(BASE, SIZE)) == bytes(memory), what
    seen[op.kind] += 1


def test_placed_instructions_do_what_unicorn_does(uc: Any) -> None:
    rnd = random.Random(2026)
    seen: Counter[str] = Counter()
    for _ in range(60_000):
        run_one(uc, rnd, seen)
    compared = sum(n for kind, n in seen.items() if kind in (
        "alu", "ext", "bfx", "movt", "ld", "st", "ldm", "stm", "b", "bl", "bx", "cbz", "nop"))
    # every kind of instruction a loop runs came up, and most of what is placed was compared
    for kind in ("alu", "ext", "bfx", "movt", "ld", "st", "ldm", "stm", "b", "cbz"):
        assert seen[kind] >= 10, (kind, seen)
    assert compared > 15_000, seen


def test_branch_targets_are_capstones() -> None:
    """Calls and branches jump far (the core faults on the random ones above): their targets
    against capstone's."""
    import capstone

    cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    rnd = random.Random(7)
    checked = Counter[str]()
    for _ in range(20_000):
        code = random_encoding(rnd)
        op = thumbsem.decode(code, 0x08001000)
        if op is None or op.kind not in ("b", "bl", "cbz"):
            continue
        insn = next(cs.disasm(code, 0x08001000, 1), None)
        assert insn is not None, code.hex()
        assert int(insn.op_str.split("#")[-1], 0) == op.target, (code.hex(), insn.op_str, op)
        checked[f"{op.kind}{op.size}"] += 1
    assert min(checked.values()) >= 20 and len(checked) == 4, checked
