"""Reading through a loader with Read(): the runner compares the first 4 KiB of a read through
Read() with the window, and reads the rest through the window only when both agree on data that
is not all erased (a window mapped with the wrong dummy cycles shows other bytes)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from extflash import api
from extflash.board import Board
from extflash.image import Chunk, from_chunks


def read_with_calls(loader: Path, board: Board, data: bytes,
                    offset: int) -> tuple[bytes, list[tuple[int, int]], Any]:
    with api.open_session(loader, board=board) as s:
        base = s.geometry.start
        s.program(from_chunks([Chunk(base + offset, data, "data")], source="test"), verify=False)
        s.driver.begin("read")
        reads: list[tuple[int, int]] = []
        s.driver.on_call = lambda r: (  # type: ignore[attr-defined]
            reads.append((r.args[0] - base, r.args[1])) if r.function == "Read" else None)
        got = s.driver.read(base, offset + len(data))
        return got, reads, s.driver._window_agrees  # type: ignore[attr-defined]


def test_a_window_that_disagrees_is_not_used(faulty: Any, board: Board) -> None:
    data = random.Random(3).randbytes(0x6000)
    got, reads, agrees = read_with_calls(faulty("WRONG_DUMMY"), board, data, 0)
    assert got == data and agrees is False
    assert reads == [(0, 0x1000), (0x1000, 0x5000)]  # the probe, then the rest through Read()


def test_a_window_that_agrees_reads_the_rest(faulty: Any, board: Board) -> None:
    data = random.Random(4).randbytes(0x6000)
    got, reads, agrees = read_with_calls(faulty(), board, data, 0)
    assert got == data and agrees is True
    assert reads == [(0, 0x1000)]


def test_an_erased_probe_decides_nothing(faulty: Any, board: Board) -> None:
    data = random.Random(5).randbytes(0x2000)
    got, reads, agrees = read_with_calls(faulty(), board, data, 0x3000)
    assert got[:0x3000] == b"\xff" * 0x3000 and got[0x3000:] == data
    assert agrees is None
    assert reads == [(0, 0x1000), (0x1000, 0x4000)]
