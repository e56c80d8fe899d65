"""Loops waiting on memory only an interrupt changes (HAL_Delay), skipped to the next event
(extflash/emu/idleloop.py), against the same runs with the skip off.

The skip must be invisible: the same virtual time, cycle count, registers, memory, exception
count and SysTick state, with the C tick loop and with the Python run loop; and it must happen
where it may (a HAL_Delay-shaped wait, two in a row, a one-tick wait called again, a HAL-style
loader's waits, an application's wait running from the memory-mapped window) and nowhere else
(a loop that stores, one that reads a peripheral)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_ospi_halstyle_run import built, kit_board  # noqa: F401 (the fixture)
from test_reference_loaders import halstyle_loader
from test_ticks_native import machine_state, watch_every

from extflash import api, board, mcu
from extflash.emu import idleloop, machine
from extflash.emu.machine import Machine
from extflash.image import Chunk, from_chunks
from extflash.loader.model import open_loader
from extflash.xip import run_application

pytestmark = pytest.mark.usefixtures("native_required")

WAIT, STORING, READING_GPIO, TWICE = 0, 1, 2, 3


@pytest.fixture(scope="module")
def ticks_fw(build_elf: Any) -> Path:
    return build_elf("emu-ticks-h7", ["emu/ticks.c"], "emu/h7.ld", cpu="cortex-m7")


def run_delay(fw: Path, load: Any, monkeypatch: pytest.MonkeyPatch, *, idle: bool,
              native: bool, n: int, how: int, timeout_s: float = 1.0,
              checkpoint_s: float | None = None) -> tuple[tuple[Any, ...], int]:
    monkeypatch.setattr(Machine, "idle_loops", idle)
    monkeypatch.setattr(Machine, "native_ticks", native)
    m = Machine(mcu.find_part("STM32H743ZI"))
    looks = watch_every(m, checkpoint_s)
    result = load(m, fw).call(m, "delay_ticks", n, how, timeout_s=timeout_s)
    skipped = m.idle.skipped_cycles if m.idle is not None else 0
    return (result.reason, result.r0, result.cycles, result.time_fs, result.exceptions_taken,
            tuple(looks), machine_state(m)), skipped


@pytest.mark.parametrize("native", [True, False], ids=["C tick loop", "Python run loop"])
@pytest.mark.parametrize("how", [WAIT, TWICE])
def test_a_wait_in_ram_is_skipped_and_nothing_shows_it(
        ticks_fw: Path, load: Any, monkeypatch: pytest.MonkeyPatch, native: bool,
        how: int) -> None:
    skipped_run, skipped = run_delay(ticks_fw, load, monkeypatch, idle=True, native=native,
                                     n=30, how=how)
    plain_run, _ = run_delay(ticks_fw, load, monkeypatch, idle=False, native=native, n=30,
                             how=how)
    assert skipped_run == plain_run
    assert skipped_run[0] == "returned" and skipped_run[1] == 30
    # all but the first tick's wait of each delay (its loop is not known yet) and the turns
    # looked at: 64,000 cycles a tick
    assert skipped > (28 if how == WAIT else 57) * 63_000


@pytest.mark.parametrize("native", [True, False], ids=["C tick loop", "Python run loop"])
def test_a_wait_that_always_ends_at_its_first_tick_is_skipped_from_its_second_call(
        ticks_fw: Path, load: Any, monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    """``while (get_tick() - start < 1)``, the one-tick reset delay of a register-level
    loader's Init: the look after the tick's return finds the loop left, never an idle turn.
    The loop's head is watched from that look on, so each later call's wait is looked at
    where it starts and skipped to its tick; all else as without the skip."""
    runs = []
    for idle in (True, False):
        monkeypatch.setattr(Machine, "idle_loops", idle)
        monkeypatch.setattr(Machine, "native_ticks", native)
        m = Machine(mcu.find_part("STM32H743ZI"))
        fw = load(m, ticks_fw)
        results = [fw.call(m, "delay_ticks", 1, WAIT) for _ in range(4)]
        runs.append(([(r.reason, r.r0, r.cycles, r.time_fs, r.exceptions_taken)
                      for r in results], machine_state(m),
                     m.idle.skipped_cycles if m.idle is not None else 0))
    (skipping, state, skipped), (plain, plain_state, _) = runs
    assert (skipping, state) == (plain, plain_state)
    assert all(r[:2] == ("returned", 1) for r in skipping)
    # the first call's wait runs up to its tick (64,000 cycles); the three after it are skipped
    assert skipped > 3 * 63_000, skipped


def test_a_register_level_loader_runs_the_same_and_keeps_watching_only_its_wait(
        build_elf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/firmware/faulty waits one tick in every Init (HAL_Delay(1), ``<``). Its Inits'
    waits are skipped from the second on; the loops its looks leave that poll QUADSPI's SR
    are watched on trial and dropped after their first look (a head there would call Python
    at each pass). The chip, the virtual time and the cycle count are those without skips."""
    brd = board.load("nucleo-h743zi-w25q128")
    path = build_elf("register-level-none", ["faulty/loader.c"], "faulty/h7.ld")
    data = random.Random(8).randbytes(40 * 1024)
    heads = Counter[int]()
    on_head = Machine._on_head

    def counting(self: Machine, *args: Any) -> None:
        heads[self._pc() & ~1] += 1
        on_head(self, *args)

    monkeypatch.setattr(Machine, "_on_head", counting)
    runs = []
    for idle in (True, False):
        monkeypatch.setattr(Machine, "idle_loops", idle)
        with api.open_session(path, board=brd) as s:
            base = s.geometry.start
            report = s.program(from_chunks([Chunk(base, data, "t")], source="t"),
                               verify=True).report
            m: Any = s.target.machine
            runs.append((report.target_time_s, m.clock.cycles, m.clock.now_fs,
                         s.read(base, len(data)) == data,
                         m.idle.skipped_cycles if m.idle is not None else 0,
                         list(m.idle.heads) if m.idle is not None else []))
    (skipping, plain) = runs
    assert skipping[:4] == plain[:4] and skipping[3]
    delay = open_loader(path).symbol("HAL_Delay")
    assert delay is not None
    watched = skipping[5]
    start = delay.value & ~1
    assert len(watched) == 1 and start <= watched[0] < start + delay.size, watched
    assert skipping[4] > 5 * 190_000  # the Inits' waits after the first, 200,000 cycles each
    assert all(n == 1 for pc, n in heads.items() if pc not in watched), heads


@pytest.mark.parametrize("how", [STORING, READING_GPIO])
def test_loops_that_store_or_read_a_peripheral_are_not_skipped(
        ticks_fw: Path, load: Any, monkeypatch: pytest.MonkeyPatch, how: int) -> None:
    skipped_run, skipped = run_delay(ticks_fw, load, monkeypatch, idle=True, native=True,
                                     n=12, how=how)
    plain_run, _ = run_delay(ticks_fw, load, monkeypatch, idle=False, native=True, n=12,
                             how=how)
    assert skipped_run == plain_run
    assert skipped == 0


def test_a_deadline_and_checkpoints_fall_where_they_fall_without_the_skip(
        ticks_fw: Path, load: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for kwargs in ({"timeout_s": 0.0205}, {"checkpoint_s": 0.0033}):
        for native in (True, False):
            skipped_run, skipped = run_delay(ticks_fw, load, monkeypatch, idle=True,
                                             native=native, n=40, how=WAIT, **kwargs)
            plain_run, _ = run_delay(ticks_fw, load, monkeypatch, idle=False, native=native,
                                     n=40, how=WAIT, **kwargs)
            assert skipped_run == plain_run
            assert skipped > 0
    assert skipped_run[5], "the watcher looked"
    assert skipped_run[0] == "returned"


def test_a_hal_style_loader_runs_the_same_with_its_waits_skipped(
        build_elf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    brd = board.load("nucleo-h743zi-w25q128")
    path = halstyle_loader(brd, build_elf)
    data = random.Random(5).randbytes(48 * 1024 + 3)
    runs = []
    for idle in (True, False):
        monkeypatch.setattr(Machine, "idle_loops", idle)
        with api.open_session(path, board=brd) as s:
            base = s.geometry.start
            report = s.program(from_chunks([Chunk(base + 0x800, data, "t")], source="t"),
                               verify=True).report
            m: Any = s.target.machine
            runs.append((report.target_time_s, m.clock.cycles, m.clock.now_fs,
                         s.read(base + 0x800, len(data)) == data,
                         m.idle.skipped_cycles if m.idle is not None else 0))
    assert runs[0][:4] == runs[1][:4]
    assert runs[0][3]
    assert runs[0][4] > 0  # its Init's HAL_Delay


@pytest.mark.usefixtures("native_required")
def test_a_loop_head_calls_python_only_when_a_look_may_start_there(
        build_elf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop head's block hook calls the machine's Python only when the look is armed and the
    slice has room for it (ticks_fast.c head_hook): the HAL-style loader's `Init`, whose wait
    loop spins through its head a few hundred times while the slice before a tick runs out,
    makes a handful of Python calls, and runs as without the native helpers (every turn a
    Python call, the ticks in Python too)."""
    brd = board.load("nucleo-h743zi-w25q128")
    path = halstyle_loader(brd, build_elf)
    calls = [0]
    on_head = Machine._on_head

    def counting(self: Machine, *args: Any) -> None:
        calls[0] += 1
        on_head(self, *args)

    monkeypatch.setattr(Machine, "_on_head", counting)
    outcomes = []
    for native in (True, False):
        if not native:
            monkeypatch.setattr(machine.ticks_fast, "load", lambda: None)
        calls[0] = 0
        with api.open_session(path, board=brd) as s:
            for _ in range(5):
                s.driver.call("Init", timeout_s=5)  # type: ignore[attr-defined]
            m: Any = s.target.machine
            outcomes.append((m.clock.cycles, m.clock.now_fs, calls[0]))
    (cycles, now, filtered), (cycles_python, now_python, every_turn) = outcomes
    assert (cycles, now) == (cycles_python, now_python)
    assert filtered < 50 < 500 < every_turn, (filtered, every_turn)


def test_a_wait_in_an_application_running_from_the_window_is_skipped(
        build_elf: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app = build_elf("xip-app-delay", ["xip/app.c"], "xip/app.ld", cflags=["-DTICK_DELAY=40"])
    runs = []
    machines: list[Machine] = []
    for idle in (True, False):
        monkeypatch.setattr(Machine, "idle_loops", idle)
        out = run_application(board.load("weact-h743"), app, work_dir=tmp_path / str(idle),
                              on_prepared=lambda p: machines.append(p.machine))
        idle_unit = machines[-1].idle
        runs.append(((out.reason, out.exit_code, out.seconds, out.instructions, out.output),
                     idle_unit.skipped_cycles if idle_unit is not None else 0))
    assert runs[0][0] == runs[1][0]
    assert runs[0][0][:2] == ("exit", 0)
    assert ("semihosting", "waited\n") in runs[0][0][4]
    assert runs[0][1] > 30 * 63_000  # the wait's loop runs from the window


def test_addresses_2_kib_apart_keep_their_own_slots() -> None:
    """The address tables C reads (verdicts, the turns' known places): a HAL data loop and
    memset 2 KiB apart took each other's slot when slots came from the low bits."""
    table = idleloop.PcTable()
    loops = [0x240008D0 + i for i in range(0, 12, 2)] + [0x240010D0 + i for i in range(0, 12, 2)]
    for pc in loops:
        table.add(pc)
    assert all(pc in table for pc in loops)
    assert 0x240018D0 not in table


def test_busy_places_are_looked_at_no_more_than_their_strikes(
        built: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """An H735 HAL-style loader's ticks return into its data loop and memset (busy code, 2 KiB
    apart): each return address is looked at STRIKES times, then never again (each look costs
    the C tick loop a return to Python)."""
    elf, b = built("h735-w25q128")
    looks: Counter[int] = Counter()  # per return address: looks that found no idle turn
    probe = idleloop.IdleLoops.probe

    def counted(self: idleloop.IdleLoops, m: Any, avail: int, stop_at: int) -> tuple[int, int]:
        pc = m._pc() & ~1
        ran, turn = probe(self, m, avail, stop_at)
        if not turn and not m._look_from_head and pc not in self._on_turns:
            looks[pc] += 1  # (a place on an idle turn, where a wait ends, is never busy)
        return ran, turn

    monkeypatch.setattr(idleloop.IdleLoops, "probe", counted)
    data = random.Random(6).randbytes(1 << 20)
    with api.open_session(elf, board=kit_board("h735-w25q128", b)) as s:
        assert s.program(from_chunks([Chunk(b.window, data, "app")])).report.verified
    assert looks and max(looks.values()) <= idleloop.STRIKES
