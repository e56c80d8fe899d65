"""The generated loader's commands as the QUADSPI sees them: 32-bit DR beats, each after a status
read that shows FTF (room for a word), as HAL's loop makes one per byte; each command clearing
the flags before it starts, the polling interval set once, the poll's mask and match written only
when they change; the write-enable latch checked at a call's first page; a transfer error failing
the call at once."""

from __future__ import annotations

import random
from typing import Any

import pytest

from extflash import api, board
from extflash.emu.periph.quadspi import CCR, DR, FCR, PIR, PSMAR, PSMKR, SR, Quadspi
from extflash.image import Chunk, from_chunks

PAGE = 256


@pytest.mark.parametrize("name", ["nucleo-h743zi-w25q128", "stm32l476g-disco"])
def test_page_program_reads_status_before_each_word(name: str, gen_loader: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTFLASH_NATIVE", "0")  # every access reaches the Python model
    accesses: list[tuple[str, int, int, int]] = []
    read, write = Quadspi.bus_read, Quadspi.bus_write

    def logged_read(self: Quadspi, offset: int, size: int) -> int:
        value = read(self, offset, size)
        accesses.append(("r", offset & ~3, size, value))
        return value

    def logged_write(self: Quadspi, offset: int, size: int, value: int) -> None:
        accesses.append(("w", offset & ~3, size, value))
        write(self, offset, size, value)

    brd = board.load(name)
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        base = s.geometry.start
        data = random.Random(3).randbytes(PAGE)
        monkeypatch.setattr(Quadspi, "bus_read", logged_read)
        monkeypatch.setattr(Quadspi, "bus_write", logged_write)
        s.program(from_chunks([Chunk(base + 7 * PAGE, data, "one page")], source="page"))
        monkeypatch.undo()
        assert s.read(base + 7 * PAGE, PAGE) == data

    beats = [i for i, (kind, reg, _, _) in enumerate(accesses) if kind == "w" and reg == DR]
    # the programmer rewrites the whole 4 KiB sector: 16 page programs, word by word
    assert len(beats) == 4096 // 4 and all(accesses[i][2] == 4 for i in beats)
    first_page = beats[:PAGE // 4]
    phase = [a[:3] for a in accesses[first_page[0] - 1:first_page[-1] + 1]]
    assert phase == [("r", SR, 4), ("w", DR, 4)] * (PAGE // 4)

    def writes(part: list[tuple[str, int, int, int]], reg: int) -> list[int]:
        return [value for kind, r, _, value in part if kind == "w" and r == reg]

    def polls(part: list[tuple[str, int, int, int]]) -> int:
        return sum(1 for ccr in writes(part, CCR) if (ccr >> 26) & 3 == 2)  # FMODE 10

    # between the second and the third page: the second's busy poll, the third's write enable
    # (its latch is not polled again) and program; three flag clears, one per command and none
    # after it; the poll's mask and match are the first busy poll's, and PIR is the Init's
    # (qspi_setup), so none is written
    words = PAGE // 4
    between = accesses[beats[2 * words - 1] + 1:beats[2 * words]]
    assert len(writes(between, FCR)) == 3 and polls(between) == 1
    assert not writes(between, PSMKR) and not writes(between, PSMAR) and not writes(between, PIR)
    # the call's first page checks the latch: after the sector erase's busy poll (match 0) the
    # match becomes WEL (bit 1), for the one poll before the first page's data
    before = accesses[:first_page[0]]
    assert writes(before, PSMAR)[-2:] == [0, 0x02]
    last_busy_poll = max(i for i, (kind, r, _, v) in enumerate(before)
                         if kind == "w" and r == PSMAR and v == 0)
    assert polls(before[last_busy_poll:]) == 2  # the erase's busy poll, the latch check


def test_a_transfer_error_fails_the_call_at_once(gen_loader: Any) -> None:
    """A command to an address beyond the device size sets TEF and never TCF (RM0433 QUADSPI
    SR): the loader fails at the flag, not after its 10 ms flag timeout."""
    brd = board.load("weact-h743")
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        end = s.geometry.start + s.geometry.size
        driver: Any = s.driver
        driver.begin("program")
        r0, _ = driver.call("Write", end, PAGE, driver.layout.buffer, timeout_s=1)
        assert r0 == 0 and driver.calls[-1].elapsed_s < 1e-4
