"""Faults: the type and status registers decoded, the faulting instruction with its symbol, the
address and what lies there on this part (and on which other parts it means something)."""

from __future__ import annotations

import pytest

from extflash import diagnose
from extflash.runner import LoaderCallError


def test_peripheral_of_another_h7(watched, faulty):
    session, watch = watched(faulty("OTHER_H7"))
    with pytest.raises(LoaderCallError) as info:
        session.driver.begin("program")
    diag = diagnose.explain(info.value, watch)
    assert diag.kind == "fault" and diag.certain
    assert "bus fault: write of an address with nothing behind it at 0x5200B400" in diag.cause
    text = diag.render()
    assert "CFSR=0x00008200 [PRECISERR BFARVALID]" in text
    assert "BFAR=0x5200B400" in text
    assert "(Init+0x" in diag.where  # symbolised faulting instruction
    assert "`str" in text  # the instruction itself (capstone)
    # the address means something on the OCTOSPI H7s: the loader was built for another part
    assert "STM32H72x/H73x/H7Ax/H7Bx" in text
    assert "built for another part than STM32H743" in text


def test_window_read_outside_memory_mapped_mode(watched, faulty):
    """Init never maps the flash; Verify reads the window and faults on the unmapped region."""
    session, watch = watched(faulty("NOT_MAPPED"))
    d = session.driver
    d.begin("verify")
    with pytest.raises(LoaderCallError) as info:
        d.verify_call(d.geometry.start, bytes(16))
    diag = diagnose.explain(info.value, watch)
    assert diag.kind == "fault"
    assert "read of an address with nothing behind it at 0x90000000" in diag.cause
    assert "in CheckSum" in diag.cause
    text = diag.render()
    assert "QUADSPI memory-mapped window" in text
    assert "only in memory-mapped mode" in text and "CCR.FMODE=1" in text
    assert "FMODE=3" in (diag.fix or "")
