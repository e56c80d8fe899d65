"""The generated loader reads the memory-mapped window a word at a time (Read, CheckSum): every
alignment of the flash address, of the host's buffer and of the length gives the chip's bytes,
and the window sees 32-bit reads for the aligned middle."""

from __future__ import annotations

import random
from typing import Any

import unicorn

from extflash import api, board
from extflash.image import Chunk, from_chunks

BOARD = "nucleo-h743zi-w25q128"


def test_read_and_checksum_at_every_alignment(gen_loader: Any) -> None:
    brd = board.load(BOARD)
    data = random.Random(7).randbytes(4096)
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        base = s.geometry.start
        s.program(from_chunks([Chunk(base, data, "pattern")], source="pattern"))
        driver: Any = s.driver
        target = s.target
        buffer = driver.layout.buffer
        timeout = driver.timeouts.call_min
        for head in range(4):
            for out_skew in range(4):
                for size in (1, 3, 4, 7, 64 + out_skew, 301):
                    offset = 0x100 + head
                    target.write_memory(buffer, bytes(size + 8))
                    driver.prepare_call()
                    driver.expect_ok("Read", base + offset, size, buffer + out_skew,
                                     timeout_s=timeout)
                    got = target.read_memory(buffer + out_skew, size)
                    assert got == data[offset:offset + size], (head, out_skew, size)
                    # nothing written around the destination
                    assert target.read_memory(buffer + out_skew + size, 4) == bytes(4)
                    if out_skew:
                        assert target.read_memory(buffer, out_skew) == bytes(out_skew)
                    driver.prepare_call()
                    total, _ = driver.call("CheckSum", base + offset, size, 0x1234,
                                           timeout_s=timeout)
                    assert total == (0x1234 + sum(data[offset:offset + size])) & 0xFFFFFFFF


def test_read_uses_word_accesses_for_the_aligned_middle(gen_loader: Any) -> None:
    brd = board.load(BOARD)
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        base = s.geometry.start
        driver: Any = s.driver
        machine = s.target.machine  # type: ignore[attr-defined]
        driver.begin("read")
        driver.prepare_call()
        widths: list[int] = []
        window = s.geometry.start

        def on_read(_uc: Any, _access: int, address: int, size: int, _value: int,
                    _data: Any) -> None:
            if window <= address < window + s.geometry.size:
                widths.append(size)

        hook = machine.uc.hook_add(unicorn.UC_HOOK_MEM_READ, on_read)
        try:
            driver.expect_ok("Read", base + 2, 2 + 4 * 16 + 2, driver.layout.buffer + 3,
                             timeout_s=driver.timeouts.call_min)
        finally:
            machine.uc.hook_del(hook)
        assert widths == [1, 1] + [4] * 16 + [1, 1]
