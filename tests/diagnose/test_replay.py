"""The watch as the command line uses it: calls run without the flash-command log and without
memory hooks, and a failed call is explained from a replay under the full watch, with the same
diagnosis the full watch gives. And the loader's own RAM is never hooked, so a memset with its
stores in an IT block runs as on silicon."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from extflash import diagnose
from extflash.board import Board
from extflash.loader.elf import parse
from extflash.runner import LoaderCallError

Driver = Any


def _write(d: Driver) -> None:
    d.begin("program")
    d.write(d.geometry.start + 0xF0, bytes(range(32)))


def _init(d: Driver) -> None:
    d.begin("program")


@pytest.fixture
def open_watched(board: Board) -> Iterator[Callable[..., tuple[Any, diagnose.Watch]]]:
    opened: list[Any] = []

    def open_(path: Any, *, replay: bool, timing: str = "instant") -> tuple[Any, diagnose.Watch]:
        session, watch = diagnose.open_session(path, board=board, timing=timing,
                                               replay_on_failure=replay)
        opened.append(session)
        return session, watch

    yield open_
    for s in opened:
        s.close()


@pytest.mark.parametrize(("fault", "action", "timing"), [
    ("NO_WREN", _write, "instant"),           # a command the chip rejected
    ("WRONG_NCS", _init, "instant"),          # commands that never reached the chip
    ("NO_WAIT", _write, "typical"),           # a command while the chip is busy
    ("STACK_HOG", _write, "instant"),         # an overflow, its depth and what it overwrote
    ("PLL_NOT_ENABLED", _init, "instant"),    # a hang stopped early
])
def test_a_replayed_failure_is_explained_as_under_the_full_watch(
    open_watched: Any, faulty: Any, fault: str, action: Callable[[Driver], None], timing: str
) -> None:
    diagnoses = []
    for replay in (False, True):
        session, watch = open_watched(faulty(fault), replay=replay, timing=timing)
        with pytest.raises(LoaderCallError) as info:
            action(session.driver)
        diagnoses.append(diagnose.explain(info.value, watch))
    full, replayed = diagnoses
    assert replayed.kind == full.kind and replayed.certain == full.certain
    assert replayed.cause == full.cause
    assert replayed.details == full.details
    assert replayed.fix == full.fix


def test_calls_that_pass_leave_the_flash_command_lane_on(open_watched: Any, faulty: Any) -> None:
    session, watch = open_watched(faulty(), replay=True)
    _write(session.driver)
    assert watch.flash_log is None and watch.board.qspi.trace is None
    assert [c.function for c in watch.calls] == ["Init", "Write"]
    assert all(c.reason == "returned" for c in watch.calls)


def test_stray_writes_are_found_in_the_replay(open_watched: Any, faulty: Any) -> None:
    session, watch = open_watched(faulty("STRAY_WRITE"), replay=True)
    _write(session.driver)
    assert watch.last is not None and watch.last.stray == []  # not hooked while running
    full = watch.diagnosable()
    (stray,) = full.calls[-1].stray
    assert stray.address == 0x24070000 and full.symbols.function_at(stray.pc) == "Write"


@pytest.mark.parametrize("replay", [False, True])
def test_memset_with_its_stores_in_an_it_block(open_watched: Any, faulty: Any,
                                               replay: bool) -> None:
    """unicorn 2.1.4 loses the IT state after a hooked store: a hooked `stmdbcs` let the loop
    run on below its buffer and zero the loader's code. Nothing of the loader's is hooked."""
    path = faulty("WITH_IT_MEMSET")
    session, watch = open_watched(path, replay=replay)
    d = session.driver
    _write(d)
    assert [c.reason for c in watch.calls] == ["returned", "returned"]
    assert session.read(d.geometry.start + 0xF0, 32) == bytes(range(32))
    elf = parse(path.read_bytes(), str(path))
    text = elf.section_named(".text")
    assert text is not None and text.size
    assert watch.read_memory(text.addr, text.size) == elf.section_bytes(text)  # code intact
