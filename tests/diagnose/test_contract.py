"""The host contract after each call: the flash readable through the memory-mapped window, and
no writes outside the loader's own RAM."""

from __future__ import annotations


def test_window_after_each_call(watched, faulty):
    session, watch = watched(faulty())
    d = session.driver
    d.begin("program")
    d.write(d.geometry.start, bytes(range(16)))
    assert [c.window.readable for c in watch.calls] == [True, True]
    assert session.target.read_memory(d.geometry.start, 16) == bytes(range(16))


def test_never_mapped(watched, faulty):
    session, watch = watched(faulty("NOT_MAPPED"))
    session.driver.begin("program")
    state = watch.last.window
    assert not state.mapped and not state.readable
    assert state.describe() == ("not memory-mapped: QUADSPI is in indirect read mode "
                                "(CCR.FMODE=1)")


def test_mapped_with_the_wrong_dummy_cycles(watched, faulty):
    session, watch = watched(faulty("WRONG_DUMMY"))
    session.driver.begin("program")
    state = watch.last.window
    assert state.mapped and not state.readable
    assert "8 clocks between address and data, chip expects 6" in state.detail


def test_write_outside_its_ram(watched, faulty):
    session, watch = watched(faulty("STRAY_WRITE"))
    d = session.driver
    d.begin("program")
    d.write(d.geometry.start, bytes(4))
    init, write = watch.calls
    assert init.stray == []
    (stray,) = write.stray
    assert stray.address == 0x24070000 and stray.size == 4 and stray.region == "AXI_SRAM"
    assert watch.symbols.function_at(stray.pc) == "Write"


def test_a_store_into_the_chunk_a_call_was_given_changes_the_data_not_stray(watched, faulty):
    """The data buffer is watched: FAULT_STRAY_WRITE's counter at 0x24070000 lies inside it.
    Beyond the chunk the host staged, the store is a stray write (above); inside a chunk that
    reaches that address, it changes the call's own data: no stray write, the buffer's bytes
    counted as changed (conformance's warning)."""
    session, watch = watched(faulty("STRAY_WRITE"))
    d = session.driver
    lay = d.layout
    assert lay.buffer < 0x24070000 < lay.buffer + lay.buffer_size
    d.begin("program")
    d.write(d.geometry.start, bytes(4))
    d.write(d.geometry.start + 0x1000, b"\xa5" * (0x24070000 + 0x100 - lay.buffer))
    beyond, inside = (c for c in watch.calls if c.function == "Write")
    assert [s.address for s in beyond.stray] == [0x24070000]
    assert inside.stray == [] and 0 < inside.buffer_writes <= 4
