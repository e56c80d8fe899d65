"""Fixtures for the diagnostics tests: the purpose-built faulty loaders (tests/firmware/faulty),
built with the real toolchain, and watched sessions on the NUCLEO-H743ZI board they target."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from extflash import diagnose
from extflash.board import Board
from extflash.board import load as load_board
from extflash.runner import DriverOptions

BOARD = "nucleo-h743zi-w25q128"  # the wiring loader.c is written for

BuildFaulty = Callable[..., Path]


@pytest.fixture(scope="session")
def board() -> Board:
    return load_board(BOARD)


@pytest.fixture(scope="session")
def faulty(build_elf: Callable[..., Path]) -> BuildFaulty:
    """``faulty("PLL_NOT_ENABLED", ...)``: loader.c built with -DFAULT_<name> for each name
    (none: the working loader; "WITH_FAULT_HANDLER" is passed as is)."""

    def build(*faults: str) -> Path:
        flags = [f if f.startswith("WITH_") else f"FAULT_{f}" for f in faults]
        name = "faulty-" + ("-".join(faults).lower() or "none")
        return build_elf(name, ["faulty/loader.c"], "faulty/h7.ld",
                         cflags=[f"-D{f}" for f in flags])

    return build


Open = Callable[..., tuple[object, diagnose.Watch]]


@pytest.fixture
def watched(board: Board) -> Iterator[Open]:
    """``session, watch = watched(path, timing="instant")``; sessions closed afterwards."""
    opened: list[object] = []

    def open_(path: Path, *, timing: str = "instant",
              options: DriverOptions | None = None) -> tuple[object, diagnose.Watch]:
        session, watch = diagnose.open_session(path, board=board, timing=timing,
                                               options=options)
        opened.append(session)
        return session, watch

    yield open_
    for s in opened:
        s.close()  # type: ignore[attr-defined]
