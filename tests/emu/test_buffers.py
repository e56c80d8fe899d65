"""Blank arrays filled ahead on threads (extflash.emu.buffers.prepare)."""

from __future__ import annotations

from extflash import board, chips
from extflash.emu import buffers
from extflash.emu.virtual_board import VirtualBoard


def test_a_prepared_buffer_is_handed_out_filled_and_only_once() -> None:
    buffers.prepare(1 << 20, 0xFF, count=2)
    buffers.prepare(1 << 20, 0xFF, count=2)  # already two waiting: nothing more starts
    first, second = buffers.filled(1 << 20, 0xFF), buffers.filled(1 << 20, 0xFF)
    assert first is not second
    assert first == second == b"\xff" * (1 << 20)
    third = buffers.filled(1 << 20, 0xFF)  # none left: made on the spot
    assert third == first and third is not first


def test_zeroes_and_other_sizes_are_not_taken_from_the_pool() -> None:
    buffers.prepare(4096, 0xFF)
    assert buffers.filled(4096, 0) == bytes(4096)
    assert buffers.filled(8192, 0xFF) == b"\xff" * 8192
    buffers.drop_prepared()
    assert buffers.filled(4096, 0xFF) == b"\xff" * 4096


def test_the_virtual_board_takes_its_blank_chips_from_the_pool_and_leaves_none() -> None:
    brd = board.load("stm32h735g-dk")
    size = chips.find(brd.memories[0].chip).size
    buffers.prepare_blank_chips(brd)  # as the command line does before loading the emulator
    prepared = buffers._pending[size, 0xFF][0][0]
    vb = VirtualBoard(brd)
    chip = vb.chips[1]
    assert chip.memory is prepared
    assert chip.memory.count(0xFF) == size
    assert not any(buffers._pending.values())
