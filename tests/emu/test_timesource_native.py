"""DWT CYCCNT reads served in C (native/timesource_fast.c) against the Python path: the
generated loader times out on CYCCNT at every flag wait; programming and reading back through
it gives the same flash, data, cycle count and virtual time either way, and the C side served
the reads, also those made while a command lane held time Python had not taken over."""

from __future__ import annotations

import random
from typing import Any

import pytest

from extflash import api, board, gen
from extflash.image import Chunk, from_chunks

# the C path must be there: its absence fails these tests (conftest.native_required)
pytestmark = pytest.mark.usefixtures("native_required")
BOARD = "nucleo-h743zi-w25q128"


@pytest.fixture(scope="module")
def loader(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(gen.build(gen.plan_loader(board.load(BOARD)), tmp_path_factory.mktemp("g")).stldr)


def run(loader: str) -> tuple[Any, ...]:
    data = random.Random(5).randbytes(96 * 1024 + 13)
    with api.open_session(loader, board=BOARD) as s:
        base = s.geometry.start
        report = s.program(from_chunks([Chunk(base + 0x3000, data, "t")], source="t"),
                           verify=True).report
        s.driver.begin("read")
        back = s.driver.read_through_loader(base + 0x3000, len(data))
        machine: Any = s.target.machine
        source = machine.dwt.native
        served = (source.state.served, source.state.served_untaken) if source else None
        return (report.target_time_s, machine.clock.cycles, machine.clock.now_fs, back == data,
                machine.mem_read(0xE0001004, 4)), served


def test_native_cyccnt_reads_equal_the_python_path(loader: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    native_result, served = run(loader)
    monkeypatch.setenv("EXTFLASH_NATIVE", "0")
    python_result, none = run(loader)
    assert none is None
    assert served and served[0] > 1000  # the reads did not all go to Python
    # a page's timeout starts right after the lane waited out the previous page program: those
    # reads add the lane's untaken time instead of handing the lane over to Python
    pages = (96 * 1024 + 13) // 256
    assert served[1] >= pages
    assert native_result == python_result
    assert native_result[3]
