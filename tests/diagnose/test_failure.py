"""Failure returns: the call, its arguments and result, and the flash commands the chip received
during it, with what the chip rejected and why."""

from __future__ import annotations

import pytest

from extflash import diagnose
from extflash.runner import LoaderCallError


def _explain(watched, path, action):
    session, watch = watched(path)
    with pytest.raises(LoaderCallError) as info:
        action(session.driver)
    assert info.value.result == 0
    return diagnose.explain(info.value, watch)


def _write(d):
    d.begin("program")
    d.write(d.geometry.start + 0xF0, bytes(range(32)))


def test_opcode_on_the_wrong_lines(watched, faulty):
    diag = _explain(watched, faulty("ID_QUAD_LINES"), lambda d: d.begin("program"))
    assert diag.kind == "failure" and diag.certain
    assert diag.cause.startswith("Init(0x1) returned 0x0 (failure; success is 1)")
    assert "0x9F 4-0-4 read 3B" in diag.cause
    assert "opcode sent on 4 line(s) while the chip is in SPI (1-line opcodes)" in diag.cause
    # the whole exchange is listed, accepted commands too
    assert any(line.startswith("bank 1: 0x66 1-0-0") for line in diag.details)
    assert "IMODE" in (diag.fix or "")


def test_program_without_write_enable(watched, faulty):
    diag = _explain(watched, faulty("NO_WREN"), _write)
    assert diag.function == "Write"
    assert "Write(0x900000F0, 0x20, 0x" in diag.cause
    assert "0x02 1-1-1 addr=0x0000F0(3B) write 16B" in diag.cause
    assert "page program without WREN (WEL=0)" in diag.cause
    assert "WRITE ENABLE (0x06)" in (diag.fix or "")


def test_page_program_across_a_page_boundary(watched, faulty):
    """Every command is accepted; the chip wraps inside the page and the loader's read-back
    fails. The diagnosis finds the command that crossed the boundary."""
    diag = _explain(watched, faulty("NO_PAGE_SPLIT"), _write)
    assert "0x02 1-1-1 addr=0x0000F0(3B) write 32B" in diag.cause
    assert "cross the 256-byte page boundary" in diag.cause
    assert "page boundaries" in (diag.fix or "")


def test_chip_select_on_the_wrong_pin(watched, faulty):
    diag = _explain(watched, faulty("WRONG_NCS"), lambda d: d.begin("program"))
    assert diag.kind == "wiring"
    assert "none of its 3 flash commands reached the chip" in diag.cause
    assert any("loader routes BK1_NCS to PB10 (AF9)" in line for line in diag.details)
    assert any("0x9F 1-0-1 read 3B -> never reached the chip" in line for line in diag.details)


def test_next_command_while_the_chip_is_busy(watched, faulty):
    """Write does not wait for WIP after a page program: the read-back finds the chip busy."""
    session, watch = watched(faulty("NO_WAIT"), timing="typical")
    with pytest.raises(LoaderCallError) as info:
        _write(session.driver)
    diag = diagnose.explain(info.value, watch)
    assert "0x0B 1-1-1 addr=0x0000F0(3B) dummy=8 read 16B" in diag.cause
    assert "busy with program for another" in diag.cause and "(WIP=1)" in diag.cause
    assert "WIP=0" in (diag.fix or "")


def test_read_with_the_wrong_dummy_cycles(watched, faulty):
    diag = _explain(watched, faulty("READ_DUMMY"), _write)
    assert "0x0B 1-1-1 addr=0x0000F0(3B) dummy=6 read 16B reads garbled data" in diag.cause
    assert "6 clocks between address and data, chip expects 8" in diag.cause
    assert "dummy clocks" in (diag.fix or "")
