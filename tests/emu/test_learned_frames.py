"""Learning octal frames for the native lane (extflash.emu.periph.learned): a status read
is taught only after it returned SR1 in every byte for two different SR1 values, never after
one that did not, and unlearned when it stops doing so; frames belong to their context."""

from __future__ import annotations

from extflash.emu.flash.octal import swap_pairs
from extflash.emu.native.quadspi_fast import (
    FRAME_ERASE,
    FRAME_POLL,
    FRAME_PROGRAM,
    FRAME_WREN,
    SWAP_ARRAY,
    SWAP_BUS,
)
from extflash.emu.periph.learned import LearnedFrames, program_swaps

POLL = (0x0B002B1B, 4, 0x05FA, 0x02000000, 1, 0)
WREN = (0x0B, 0, 0x06F9, 0x02000000, 0, 0)
CONTEXT, OTHER = ("8D", 100e6), ("8D", 50e6)


def test_a_status_read_needs_two_sr1_values_returned_as_sr1() -> None:
    learned = LearnedFrames()
    learned.status_read(CONTEXT, POLL, 80, b"\x02\x02", 0x02)
    learned.status_read(CONTEXT, POLL, 80, b"\x02\x02", 0x02)
    assert learned.frames(CONTEXT) == ()
    learned.status_read(CONTEXT, POLL, 80, b"\x03\x03", 0x03)
    (frame,) = learned.frames(CONTEXT)
    assert (frame.kind, frame[1:7], frame.bus_fs) == (FRAME_POLL, POLL, 80)
    assert learned.frames(OTHER) == ()


def test_a_status_read_that_returned_anything_else_is_never_taught() -> None:
    learned = LearnedFrames()
    learned.status_read(CONTEXT, POLL, 80, b"\xff\x02", 0x02)  # a beat early: not SR1
    for sr1 in (0x00, 0x01, 0x03):
        learned.status_read(CONTEXT, POLL, 80, bytes([sr1]) * 2, sr1)
    assert learned.frames(CONTEXT) == ()


def test_a_taught_status_read_is_dropped_when_it_stops_returning_sr1() -> None:
    learned = LearnedFrames()
    for sr1 in (0x02, 0x00):
        learned.status_read(CONTEXT, POLL, 80, bytes([sr1]) * 2, sr1)
    learned.instruction(CONTEXT, FRAME_WREN, WREN, 40)
    assert {f.kind for f in learned.frames(CONTEXT)} == {FRAME_POLL, FRAME_WREN}
    learned.status_read(CONTEXT, POLL, 80, b"\x00\x02", 0x02)
    assert [f.kind for f in learned.frames(CONTEXT)] == [FRAME_WREN]


def test_the_published_tuple_stays_the_same_until_something_is_learned() -> None:
    learned = LearnedFrames()
    learned.instruction(CONTEXT, FRAME_WREN, WREN, 40)
    first = learned.frames(CONTEXT)
    learned.instruction(CONTEXT, FRAME_WREN, WREN, 40)
    assert learned.frames(CONTEXT) is first
    # another bus time (cannot happen in one context)
    learned.instruction(CONTEXT, FRAME_WREN, WREN, 41)
    assert learned.frames(CONTEXT) is not first and learned.frames(CONTEXT)[0].bus_fs == 41


def test_a_page_program_keeps_its_length_and_swaps() -> None:
    learned = LearnedFrames()
    program = (0x0B002B1B, 0, 0x12ED, 0x02000000, 255, 0)
    learned.page_program(CONTEXT, program, SWAP_BUS | SWAP_ARRAY, 2_000_000)
    (frame,) = learned.frames(CONTEXT)
    assert (frame.kind, frame.dlr, frame.ar, frame.swaps) == (FRAME_PROGRAM, 255, 0,
                                                              SWAP_BUS | SWAP_ARRAY)


def test_programs_come_last_and_the_longest_first() -> None:
    learned = LearnedFrames()
    for dlr in (15, 255, 99):
        learned.page_program(CONTEXT, (1, 2, 3, 4, dlr, 0), 0, dlr)
    learned.instruction(CONTEXT, FRAME_WREN, WREN, 40)
    assert [(f.kind, f.dlr) for f in learned.frames(CONTEXT)] == [
        (FRAME_WREN, 0), (FRAME_PROGRAM, 255), (FRAME_PROGRAM, 99), (FRAME_PROGRAM, 15)]


def test_an_erase_keeps_its_size_and_time_and_comes_before_the_programs() -> None:
    learned = LearnedFrames()
    learned.page_program(CONTEXT, (1, 2, 3, 4, 255, 0), 0, 9)
    erase = (0x0B002B1B, 0, 0xDC23, 0x02000000, 0, 0)
    learned.erase(CONTEXT, erase, 0x10000, 224_000_000_000_000, 156_250_000)
    first, program = learned.frames(CONTEXT)
    assert (first.kind, first[1:7], first.size, first.op_fs, first.bus_fs) == (
        FRAME_ERASE, erase, 0x10000, 224_000_000_000_000, 156_250_000)
    assert program.kind == FRAME_PROGRAM and learned.knows(CONTEXT, FRAME_ERASE, erase)


def test_knows_a_learned_frame_by_its_registers() -> None:
    learned = LearnedFrames()
    program = (1, 2, 3, 4, 255, 0)
    assert not learned.knows(CONTEXT, FRAME_PROGRAM, program)
    learned.page_program(CONTEXT, program, 0, 9)
    assert learned.knows(CONTEXT, FRAME_PROGRAM, program)
    assert not learned.knows(OTHER, FRAME_PROGRAM, program)


def test_program_swaps_are_read_off_the_page_the_model_programmed() -> None:
    data = bytes(range(1, 9))
    before = b"\xff" * 16
    swapped = swap_pairs(data)

    def page(array_data: bytes, offset: int = 4) -> bytes:
        out = bytearray(before)
        for i, byte in enumerate(array_data):
            out[(offset + i) % 16] &= byte
        return bytes(out)

    assert program_swaps(data, data, before, 4, page(data)) == 0
    assert program_swaps(data, swapped, before, 4, page(swapped)) == SWAP_BUS
    assert program_swaps(data, data, before, 4, page(swapped)) == SWAP_ARRAY
    assert program_swaps(data, swapped, before, 4, page(data)) == SWAP_BUS | SWAP_ARRAY
    assert program_swaps(data, data, before, 12, page(data, 12)) == 0  # wraps in the page
    assert program_swaps(data, data, before, 4, page(data, 6)) is None  # elsewhere: not as
    assert program_swaps(b"\x11\x11\x22\x22", b"\x11\x11\x22\x22", before, 0,
                         page(b"\x11\x11\x22\x22", 0)) is None  # cannot show the swaps
