"""Data loops' turns run at once (extflash/emu/turns.py, native/turns_fast.c) against the same
runs with every turn run by the core.

The summaries must be invisible: HAL-style and register-level loaders on QUADSPI, OCTOSPI and
XSPI boards (byte and word loops, SR polled between DR accesses, words split into
bytes, registers stacked by a call in the loop) program, read through ``Read()`` and erase with
the same flash contents, loader calls and their durations, cycle count, virtual time, core and
controller registers and chip command logs as with the summaries off; and the turns must run
at once where they may. On paper: a register-level write loop is summarised with its register
accesses and bounds, a memset with none, a compare loop with a bound on the bytes it reads, and
a loop whose branch depends on what the controller's DR returns is not."""

from __future__ import annotations

import random
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
from test_native_quadspi import exercise, register_level_loader
from test_ospi_halstyle_run import built, kit_board  # noqa: F401 (the fixture)
from test_reference_loaders import halstyle_loader

from extflash import api, board
from extflash.emu import paper, turns
from extflash.emu.machine import Machine
from extflash.emu.native.ticks_fast import NativeTicks
from extflash.image import Chunk, from_chunks
from extflash.loader.model import open_loader
from extflash.runner import LoaderCallError

pytestmark = pytest.mark.usefixtures("native_required")

CORE = ("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "sp",
        "lr", "pc", "xpsr")


def observed(loader: Path, brd: board.Board, summaries: bool,
                     monkeypatch: pytest.MonkeyPatch) -> tuple[tuple[Any, ...], int]:
    """test_native_quadspi's exercise (program aligned and unaligned pieces, read back through
    Read(), erase) with the core's registers and RAM after it: everything observable, and the
    turns run at once."""
    monkeypatch.setattr(Machine, "turn_summaries", summaries)
    made: list[Machine] = []
    init = Machine.__init__

    def recording(self: Machine, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Machine, "__init__", recording)
    outcome = exercise(loader, brd)
    m = made[-1]
    ram = next(r for r in m.part.part.memory if r.kind == "ram")
    return (outcome, [m.reg_read(r) for r in CORE], m.mem_read(ram.start, 0x2000)), m.turns_run


def both(loader: Path, brd: board.Board, monkeypatch: pytest.MonkeyPatch) -> int:
    """The turns run at once, once the same outcome with and without the summaries is seen."""
    on, run = observed(loader, brd, True, monkeypatch)
    off, none = observed(loader, brd, False, monkeypatch)
    assert none == 0
    assert on == off
    return run


@pytest.mark.parametrize("name", ["nucleo-h743zi-w25q128", "stm32h743i-eval"])
def test_hal_style_quadspi_loader_runs_the_same(name, build_elf, monkeypatch):
    brd = board.load(name)
    # two sectors and a piece programmed a byte at a time, 12 KiB read: most of them at once
    assert both(halstyle_loader(brd, build_elf), brd, monkeypatch) > 40_000


def test_register_level_loader_runs_the_same(build_elf, monkeypatch):
    brd = board.load("nucleo-h743zi-w25q128")
    assert both(register_level_loader(build_elf), brd, monkeypatch) > 8_000


def test_a_read_loop_that_logs_every_sr_value_runs_the_same(build_elf, monkeypatch):
    """In the last FIFO's worth of an indirect read SR's level falls a turn at a time. The
    register-level loader tests only FTF and TCF there, and those turns run at once; built to
    keep each SR value it reads (all of it, level included, in RAM), the turns whose level
    differs from the first's run one by one: the same RAM and registers either way."""
    brd = board.load("nucleo-h743zi-w25q128")
    loader = build_elf("register-level-log-sr", ["faulty/loader.c"], "faulty/h7.ld",
                       cflags=["-DLOG_SR"])
    found = open_loader(loader).symbol("sr_log")
    assert found is not None
    data = random.Random(6).randbytes(0x10100)

    def run(summaries: bool) -> tuple[tuple[Any, ...], int]:
        monkeypatch.setattr(Machine, "turn_summaries", summaries)
        with api.open_session(loader, board=brd) as s:
            base = s.geometry.start
            s.erase(base, 0x20000)
            s.driver.begin("program")
            s.driver.write(base, data[:0x10000])  # the looks find the data loops
            s.driver.write(base + 0x10000, data[0x10000:])  # its read-back's SR values stay
            vb: Any = s.target.board  # type: ignore[attr-defined]
            m = vb.machine
            return (m.mem_read(found.value, 4 * 256), [m.reg_read(r) for r in CORE],
                    m.clock.now_fs, m.clock.cycles, vb.flash_contents()), m.turns_run

    (on, turns_run), (off, none) = run(True), run(False)
    assert none == 0 and turns_run > 10_000
    assert on == off
    levels = {int.from_bytes(on[0][i:i + 4], "little") >> 8 & 0x3F for i in range(0, 1024, 4)}
    assert len(levels) > 16  # the last FIFO's worth read at every level


@pytest.mark.parametrize("name", ["h735-w25q128", "h735-w25q128-ll", "h7b3-mx25lm-dtr",
                                  "h573-mx25lm-dtr", "h7s7-mx66uw-dtr-xspi2"])
def test_octospi_and_xspi_loaders_run_the_same(name, built, monkeypatch):  # noqa: F811
    elf, b = built(name)
    assert both(elf, kit_board(name, b), monkeypatch) > 5_000


@pytest.mark.parametrize("variant", ["", "COMPARE_HIGH_BITS"])
def test_a_read_back_that_differs_mid_page_ends_the_turns_at_that_byte(variant, build_elf,
                                                                       monkeypatch):
    """The register-level loader compares each page it read back with its buffer: a page
    programmed over one already programmed reads back the AND of both, so its compare finds
    the first byte where they differ (byte 100 here) and Write fails. With the compare loop's
    turns run at once up to that byte the failure, the registers and the time are those of
    running every turn: bytes compared as bytes, and (COMPARE_HIGH_BITS, each byte shifted
    right once before the compare) turn by turn in C."""
    brd = board.load("nucleo-h743zi-w25q128")
    loader = build_elf(f"register-level-compare-{variant or 'bytes'}", ["faulty/loader.c"],
                       "faulty/h7.ld", cflags=[f"-D{variant}"] if variant else [])
    first = bytearray(random.Random(4).randbytes(0x200000))  # the compare loop is looked at
    first[0x180000 + 100] &= 0x7F
    second = bytearray(first[0x180000:0x180100])
    second[100] |= 0x80

    def run(summaries: bool) -> tuple[tuple[Any, ...], int]:
        monkeypatch.setattr(Machine, "turn_summaries", summaries)
        with api.open_session(loader, board=brd) as s:
            base = s.geometry.start
            img = from_chunks([Chunk(base, bytes(first), "first")])
            assert s.program(img).report.verified  # the summaries are made on the way
            s.driver.begin("program")
            vb: Any = s.target.board  # type: ignore[attr-defined]
            m = vb.machine
            compares = [t for t in (m._turns.summaries if summaries else ())
                        if any(op[0] == turns.T_DCOND for op in t.ops)]
            assert len(compares) == int(summaries)
            with pytest.raises(LoaderCallError) as failed:
                s.driver.write(base + 0x180000, bytes(second))
            ram = next(r for r in m.part.part.memory if r.kind == "ram")
            outcome = (str(failed.value), [m.reg_read(r) for r in CORE], m.clock.now_fs,
                       m.clock.cycles, m.mem_read(ram.start, 0x2000), vb.flash_contents())
            return outcome, m.turns_run

    (on, turns_run), (off, none) = run(True), run(False)
    assert none == 0 and turns_run > 100_000
    assert on == off
    assert "Write(" in on[0]


def test_ticks_sampled_where_a_look_found_nothing_stay_in_c(build_elf, monkeypatch):
    """While the turns' looks go on, the C tick loop leaves every 64th tick to Python so that
    looks find where the core spends its time (a memset). A tick that finds the core where a
    look was made already, or on a summarised loop, stays in C: the same run (flash, calls and
    their times, clock) with a small part of the returns to Python."""
    brd = board.load("nucleo-h743zi-w25q128")
    loader = halstyle_loader(brd, build_elf)
    img = from_chunks([Chunk(0x90000000, random.Random(9).randbytes(2 << 20), "app")])

    def run(known: bool) -> tuple[tuple[Any, ...], int]:
        returns = 0
        ticking, use_turns = Machine._run_ticking, NativeTicks.use_turns

        def counted(self: Machine, pc: int, budget: int) -> int:
            nonlocal returns
            returns += 1
            return ticking(self, pc, budget)

        def without(self: NativeTicks, turns: int, active: int, _: int) -> None:
            use_turns(self, turns, active, 0)

        monkeypatch.setattr(Machine, "_run_ticking", counted)
        monkeypatch.setattr(NativeTicks, "use_turns", use_turns if known else without)
        with api.open_session(loader, board=brd) as s:
            assert s.program(img).report.verified
            vb: Any = s.target.board  # type: ignore[attr-defined]
            outcome = (vb.flash_contents(), [astuple(c) for c in s.driver.calls],
                       vb.machine.clock.now_fs, vb.machine.clock.cycles)
        return outcome, returns

    (filtered, fewer), (unfiltered, more) = run(True), run(False)
    assert filtered == unfiltered
    assert more > 200 and fewer < more * 0.6, (fewer, more)


def test_slices_of_a_few_thousand_instructions_find_a_memset_in_the_first_write(
        built, monkeypatch):  # noqa: F811
    """Ticks find the core where it spends virtual time (waiting for the chip); the memset
    of HAL's command structure before each command takes over half a HAL-style page's
    instructions and almost none of its time. While looks are wanted the machine caps its
    slices at a few thousand instructions: the first Write call finds the memset and runs its
    turns at once, and the run is the one without those stops (flash, calls and their times,
    clock, registers)."""
    elf, b = built("h735-w25q128")
    brd = kit_board("h735-w25q128", b)
    memset = open_loader(elf).symbol("memset")
    assert memset is not None
    data = random.Random(12).randbytes(0x40000)  # one Write call

    def run(samples: int) -> tuple[tuple[Any, ...], list[int]]:
        monkeypatch.setattr(turns, "TURN_SAMPLES", samples)
        with api.open_session(elf, board=brd) as s:
            img = from_chunks([Chunk(s.geometry.start, data, "app")])
            assert s.program(img).report.verified
            vb: Any = s.target.board  # type: ignore[attr-defined]
            m = vb.machine
            outcome = (vb.flash_contents(), [astuple(c) for c in s.driver.calls],
                       m.clock.now_fs, m.clock.cycles, [m.reg_read(r) for r in CORE])
            heads = [t.head for t in m._turns.summaries if t.lane == turns.NO_LANE]
            return outcome, heads

    def in_memset(heads: list[int]) -> bool:
        return any(memset.value <= h < memset.value + memset.size for h in heads)

    (sampled, found), (unsampled, not_found) = run(turns.TURN_SAMPLES), run(0)
    assert sampled == unsampled
    assert in_memset(found) and not in_memset(not_found)  # ticks alone find it later


# -- on paper ------------------------------------------------------------------------------------
LANE, SR, DR = 0x52005000, 0x08, 0x20
CODE = 0x24000000


def simulator(code: bytes) -> paper.Simulator:
    """A simulator over RAM holding code at CODE and a controller at LANE whose SR reads FTF."""
    memory = bytearray(b"\x5a" * 0x10000)  # data: not zero
    memory[:len(code)] = code

    def read(at: int, size: int) -> bytes | None:
        if at >= CODE and at + size <= CODE + len(memory):
            return bytes(memory[at - CODE:at - CODE + size])
        return None

    return paper.Simulator(
        read, lambda at, size: read(at, size) is not None,
        lambda at: (0, at - LANE) if LANE <= at < LANE + 0x400 else None,
        lambda lane, offset, size: 0x24 if offset == SR else None, lambda lane: DR)


def summarise(code: bytes, regs: dict[int, int]) -> turns.Summary:
    sim = simulator(code)
    values = [regs.get(r, 0) for r in range(15)]
    st = paper.Paper([(v, ("reg", r)) for r, v in enumerate(values)], [None] * 4, 0)
    return turns.summarise(sim, st, CODE, lambda at: 0)


# head: ldr r3, [r0, #8]; lsls r3, r3, #29; bpl head; ldrb.w r3, [r1], #1; strb.w r3, [r0, #32];
# subs r2, #1; bne head
WRITE_LOOP = bytes.fromhex("8368" "5b07" "fcd5" "11f8013b" "80f82030" "013a" "f6d1")
# head: ldr r4, [r1, #8]; tst.w r4, #6; beq head; ldrb.w r4, [r1, #32]; strb.w r4, [r2], #1;
# subs r3, #1; bne head (an indirect read's bytes, FTF or TCF tested before each)
READ_LOOP = bytes.fromhex("8c68" "14f0060f" "fbd0" "91f82040" "02f8014b" "013b" "f5d1" "7047")
# head: cmp r3, r2; bne store; bx lr; store: strb.w r1, [r3], #1; b head (a byte-wise memset)
MEMSET = bytes.fromhex("9342" "00d1" "7047" "03f8011b" "f9e7")
# head: ldrb.w r3, [r1], #1; cbz r3, out; strb.w r3, [r0, #32]; b head; out: (bx lr)
COPY_UNTIL_ZERO = bytes.fromhex("11f8013b" "13b1" "80f82030" "f9e7" "7047")
# head: cmp r2, r0; bne next; (bx lr); next: ldrb.w lr, [r1], #1; ldrb.w ip, [r2], #1;
# cmp lr, ip; beq head; (bx lr): a read-back compared with the buffer it was written from
COMPARE = bytes.fromhex("8242" "00d1" "7047" "11f801eb" "12f801cb" "e645" "f6d0" "7047")
# head: ldrb.w r3, [r0, #32]; cbnz r3, out; b head; out: (bx lr): reads DR until a byte is not 0
READ_UNTIL_DATA = bytes.fromhex("90f82030" "03b9" "fbe7" "7047")


def test_a_write_loop_is_summarised_with_its_accesses_and_bounds():
    s = summarise(WRITE_LOOP, {0: LANE, 1: CODE + 0x1000, 2: 200})
    # SR's bit 2 shifted to the sign: a use of the whole value as the turn sees it
    assert (s.head, s.length, s.accesses) == (CODE, 7, [(SR, 4, False, 0xFFFFFFFF),
                                                        (DR, 1, True, 0xFFFFFFFF)])
    codes = [op[0] for op in s.ops]
    assert codes.count(turns.T_COND) == 2  # FTF, the count
    assert turns.T_MMIOW in codes and turns.T_DLOAD in codes
    # R1 moves by one a turn, R2 by minus one: both are registers of the turn's head
    steps = {op[2]: op[4] for op in s.ops if op[0] == turns.T_REG}
    assert steps[1] == 1 and steps[2] == 0xFFFFFFFF


def test_a_read_loop_uses_only_the_flags_it_tests():
    """An indirect read's byte loop tests FTF and TCF (tst with 6): the bits of SR it uses,
    which in the last FIFO's worth stay while the level falls (lane_turn_room)."""
    s = summarise(READ_LOOP, {1: LANE, 2: CODE + 0x1000, 3: 100})
    assert (s.head, s.length) == (CODE, 7)
    assert s.accesses == [(SR, 4, False, 0x6), (DR, 1, False, 0xFFFFFFFF)]


def test_a_loop_that_fills_memory_is_summarised_without_a_lane():
    s = summarise(MEMSET, {1: 0, 2: CODE + 0x1000 + 100, 3: CODE + 0x1000})
    assert (s.head, s.length, s.accesses, s.lane) == (CODE, 4, [], turns.NO_LANE)
    assert [op[0] for op in s.ops].count(turns.T_DSTORE) == 1


def test_a_branch_on_data_from_memory_is_bounded_by_that_data():
    """A compare loop (a page read back against its buffer) and a copy up to a zero byte: the
    branch on the bytes becomes a bound turns_fast.c finds by reading them (T_DCOND)."""
    s = summarise(COMPARE, {0: CODE + 0x1100, 1: CODE + 0x2000, 2: CODE + 0x1000})
    assert (s.head, s.length, s.accesses, s.lane) == (CODE, 6, [], turns.NO_LANE)
    codes = [op[0] for op in s.ops]
    assert codes.count(turns.T_COND) == 1 and codes.count(turns.T_DCOND) == 1
    dcond = next(op for op in s.ops if op[0] == turns.T_DCOND)
    assert dcond[4] & 0x600 == 0x600  # both operands are data the turn loads
    s = summarise(COPY_UNTIL_ZERO, {0: LANE, 1: CODE + 0x1000})
    assert [op[0] for op in s.ops].count(turns.T_DCOND) == 1


def test_a_branch_on_data_the_controller_returns_is_not_summarised():
    with pytest.raises(paper.Unsupported, match="DR returns"):
        summarise(READ_UNTIL_DATA, {0: LANE})


@pytest.mark.parametrize("name", ["nucleo-h743zi-w25q128", "stm32h743i-eval", "stm32h735g-dk",
                                  "stm32h7b3i-dk", "stm32h7s78-dk"])
def test_generated_loaders_without_systick_run_the_same(name, gen_loader, monkeypatch):
    """The generator's loaders time their waits with DWT and run without SysTick: a lane stops
    the core right after the first beat of a long indirect write for the look at its data loop,
    and the C loop runs without ticks for the turns (QUADSPI, dual-flash, OCTOSPI quad and 8D,
    XSPI 8D)."""
    brd = board.load(name)
    assert both(gen_loader(brd).stldr, brd, monkeypatch) > 1_500
