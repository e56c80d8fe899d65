"""SysTick ticks handled in C (native/ticks_fast.c) against the Python run loop.

The same run with ``Machine.native_ticks`` on and off must leave the same virtual time, cycle
count, registers, memory, exception count and SysTick state; the C loop must actually have
handled the ticks. Covered: a loop waiting in RAM (HAL_Delay), a handler or a loop that touches a
register Python models (the tick goes back to Python), ticks masked by PRIMASK, a run that times
out and one a watcher looks at between slices (checkpoints) in the middle of ticks, and the
loaders users run: a HAL-style QUADSPI loader and a HAL-style OCTOSPI loader waiting for the chip
through the command lane across ticks, the lane keeping what it ran and served across the ticks C
takes (the chip's log of commands and their times is compared too)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import ospi_hal.build as ob
import pytest
from test_reference_loaders import halstyle_loader

from extflash import api, board, mcu
from extflash.emu.clock import FS_PER_S
from extflash.emu.machine import Machine
from extflash.image import Chunk, from_chunks

# the C path must be there: its absence fails these tests (conftest.native_required)
pytestmark = pytest.mark.usefixtures("native_required")

HANDLER_READS_RCC, MASKED_A_WHILE, LOOP_READS_GPIO = 1, 2, 4


@pytest.fixture(scope="module")
def ticks_fw(build_elf: Any) -> Path:
    return build_elf("emu-ticks-h7", ["emu/ticks.c"], "emu/h7.ld", cpu="cortex-m7")


def machine_state(m: Machine) -> tuple[Any, ...]:
    regs = tuple(m.reg_read(r) for r in ("r0", "r1", "r2", "r3", "r12", "sp", "lr", "pc",
                                         "xpsr", "primask"))
    scs = m.scs
    return (m.clock.now_fs, m.clock.cycles, regs, m.mem_read(0x24000000, 0x3000),
            m.mem_read(0x2407F000, 0x1000), tuple(m.exceptions.active), sorted(scs.pending),
            scs.values[0x010], scs._current(), m.clock.next_event_fs())


def watch_every(m: Machine, checkpoint_s: float | None) -> list[int]:
    """A watcher that looks every ``checkpoint_s`` (None: none) and lets the run go on; the
    list of the virtual times it looked at."""
    looks: list[int] = []
    if checkpoint_s is not None:
        step = int(checkpoint_s * FS_PER_S)
        m.checkpoint_fs = step

        def look() -> bool:
            looks.append(m.clock.now_fs)
            m.checkpoint_fs = m.clock.now_fs + step
            return False

        m.on_checkpoint = look
    return looks


def run_wait(fw: Path, load: Any, monkeypatch: pytest.MonkeyPatch, native: bool, *, n: int,
             mode: int, timeout_s: float = 1.0, checkpoint_s: float | None = None
             ) -> tuple[Any, ...]:
    monkeypatch.setattr(Machine, "native_ticks", native)
    # the waits' turns count (turns++): no loop here is skipped, but the looks at it would split
    # slices, and with them which ticks C handles (test_idle_loops.py covers both together)
    monkeypatch.setattr(Machine, "idle_loops", False)
    m = Machine(mcu.find_part("STM32H743ZI"))
    assert (m._ticks is not None) == native
    looks = watch_every(m, checkpoint_s)
    firmware = load(m, fw)
    result = firmware.call(m, "wait_ticks", n, mode, timeout_s=timeout_s)
    handled = m._ticks.state.ticks_total if m._ticks is not None else 0
    return (result.reason, result.r0, result.cycles, result.time_fs, result.exceptions_taken,
            tuple(looks), machine_state(m)), handled


@pytest.mark.parametrize(("mode", "in_c"), [
    (0, 45),                    # every tick but the first few in C
    (HANDLER_READS_RCC, 0),     # each handler hands its tick back to Python
    (MASKED_A_WHILE, 40),
    (LOOP_READS_GPIO, 0),       # so does the loop, before the tick
])
def test_ticks_in_c_equal_the_python_run_loop(ticks_fw: Path, load: Any,
                                              monkeypatch: pytest.MonkeyPatch, mode: int,
                                              in_c: int) -> None:
    native, handled = run_wait(ticks_fw, load, monkeypatch, True, n=50, mode=mode)
    python, _ = run_wait(ticks_fw, load, monkeypatch, False, n=50, mode=mode)
    assert native == python
    assert native[0] == "returned" and native[4] >= 50
    assert handled >= in_c if in_c else handled == 0


def test_a_deadline_and_checkpoints_among_ticks_fall_as_in_python(
        ticks_fw: Path, load: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for kwargs in ({"timeout_s": 0.0305}, {"checkpoint_s": 0.0071}):
        native, handled = run_wait(ticks_fw, load, monkeypatch, True, n=60, mode=0, **kwargs)
        python, _ = run_wait(ticks_fw, load, monkeypatch, False, n=60, mode=0, **kwargs)
        assert native == python
        assert handled > 10
    assert native[5], "the watcher looked"


def program_and_read(path: Path, brd: board.Board, monkeypatch: pytest.MonkeyPatch,
                     native: bool, size: int) -> tuple[Any, ...]:
    monkeypatch.setattr(Machine, "native_ticks", native)
    data = random.Random(3).randbytes(size)
    with api.open_session(path, board=brd) as s:
        base = s.geometry.start
        report = s.program(from_chunks([Chunk(base + 0x1000, data, "t")], source="t"),
                           verify=True).report
        back = s.read(base + 0x1000, size)
        m: Any = s.target.machine
        st = m._ticks.state if m._ticks is not None else None
        chip = s.target.board.chips[1]  # type: ignore[attr-defined]
        return (report.target_time_s, m.clock.cycles, m.clock.now_fs, back == data,
                bytes(chip.memory[:size + 0x2000]), list(chip.events)), (
            (st.ticks_total, st.ticks_mid_command) if st is not None else (0, 0))


def assert_c_ticks_equal_python(path: Path, brd: board.Board, monkeypatch: pytest.MonkeyPatch,
                                size: int, *, handled: int, mid_command: int) -> None:
    """The run with ticks in C equals the Python run loop's (the chip's log of commands and
    their times too), and C took more than ``handled`` ticks, more than ``mid_command`` of them
    while the lane held a command in progress."""
    native, (in_c, in_c_mid) = program_and_read(path, brd, monkeypatch, True, size)
    python, _ = program_and_read(path, brd, monkeypatch, False, size)
    assert native == python
    assert native[3]
    assert in_c > handled
    assert in_c_mid > mid_command


def test_a_hal_style_quadspi_loader_waits_for_the_chip_in_c(
        build_elf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    brd = board.load("nucleo-h743zi-w25q128")
    # the erase and page-program waits' ticks, and ticks that came mid-command
    assert_c_ticks_equal_python(halstyle_loader(brd, build_elf), brd, monkeypatch,
                                80 * 1024 + 5, handled=200, mid_command=10)


def test_a_tick_handler_that_reads_the_controller_mid_command_sees_what_python_would(
        build_elf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The HAL-style loader with a SysTick handler that reads QUADSPI SR: ticks taken in C in
    the middle of a command serve that read from the state the lane kept."""
    brd = board.load("nucleo-h743zi-w25q128")
    path = halstyle_loader(brd, build_elf, variant="-tick-reads-sr",
                           cflags=("-DHS_TICK_READS_QSPI_SR",))
    assert_c_ticks_equal_python(path, brd, monkeypatch, 24 * 1024 + 3, handled=50,
                                mid_command=0)


def test_a_hal_style_octospi_loader_waits_for_the_chip_in_c(
        build_elf: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "h735-w25q128"
    b = ob.loader_build(ob.KITS[name], name)
    path = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                     cpu=b.cpu)
    assert_c_ticks_equal_python(path, ob.kit_board(name, b), monkeypatch, 40 * 1024 + 9,
                                handled=100, mid_command=10)
