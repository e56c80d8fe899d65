"""Stack: the canary below the loader's stack, and the depth the overflow really reached."""

from __future__ import annotations

import pytest

from extflash import diagnose
from extflash.runner import LoaderCallError


def test_overflow_depth(watched, faulty):
    session, watch = watched(faulty("STACK_HOG"))
    d = session.driver
    d.begin("program")
    with pytest.raises(LoaderCallError) as info:
        d.write(d.geometry.start, bytes(64))
    diag = diagnose.explain(info.value, watch)
    assert diag.kind == "stack"
    ev = watch.last
    assert ev is not None and ev.function == "Write"
    # Write keeps a 1536-byte array on a 1028-byte stack: well over 500 bytes too deep
    assert 1536 < ev.stack_used < 1536 + 128
    assert ev.overflow == ev.stack_used - ev.stack_size
    assert f"needs at least {ev.stack_used} bytes, {ev.overflow} more than the 1028" in diag.cause
    assert any("inside verify_copy" in line for line in diag.details)  # what it overwrote


def test_depth_measured_without_overflow(watched, faulty):
    session, watch = watched(faulty())
    d = session.driver
    d.begin("program")
    d.write(d.geometry.start, bytes(8))
    for ev in watch.calls:
        assert ev.overflow == 0
        assert 8 <= ev.stack_used < 256  # a few frames of small functions


def test_more_stack_makes_it_pass(watched, faulty):
    from extflash.runner import DriverOptions

    session, watch = watched(faulty("STACK_HOG"), options=DriverOptions(stack_size=0x800))
    d = session.driver
    d.begin("program")
    d.write(d.geometry.start, bytes(64))
    assert watch.last is not None and watch.last.overflow == 0
