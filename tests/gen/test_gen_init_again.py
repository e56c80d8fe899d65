"""Hosts call Init before every operation: a generated loader sets the clocks and pins up on the
first call and, while they still hold what it left, not again (no switch to HSI and PLL relock
per call); when something changed them, the next Init sets them up again."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from extflash import api, board, gen
from shipped_boards import OCTAL_BOARDS, QUADSPI_BOARDS

# a QUADSPI board, and the first OCTOSPI/XSPI ones
BOARDS = [QUADSPI_BOARDS[0], *OCTAL_BOARDS[:2]]


@pytest.mark.parametrize("name", BOARDS)
def test_init_again_leaves_clocks_and_pins_alone(name: str, build_loader: Any) -> None:
    brd = board.load(name)
    stldr = build_loader(gen.plan_loader(brd)).stldr
    with api.open_session(stldr, board=brd) as s:
        machine: Any = s.target.machine
        writes: Counter[str] = Counter()
        for p in machine.peripherals.values():
            if p.name == "RCC" or p.name.startswith("GPIO"):
                def counted(offset: int, size: int, value: int, _w: Any = p.write,
                            _n: str = p.name) -> None:
                    writes[_n] += 1
                    _w(offset, size, value)
                p.write = counted

        def init() -> Counter[str]:
            writes.clear()
            s.driver.expect_ok("Init", 1, timeout_s=1.0)
            return Counter(writes)

        first, again = init(), init()
        assert first["RCC"] and any(n.startswith("GPIO") for n in first)
        assert not again, again  # nothing rewritten
        core_hz = machine.rcc.core_hz()

        # an application moved the core back to the reset clock: the next Init sets it up again
        machine.rcc.reset()
        third = init()
        assert third["RCC"]
        assert machine.rcc.core_hz() == core_hz

        # and the loader works on
        data = bytes(range(256))
        base = s.geometry.start
        s.driver.write(base, data)
        assert s.driver.read(base, len(data)) == data


def _opcodes(chip: Any, since_fs: int) -> list[int]:
    """The first instruction byte of each command the chip received from ``since_fs`` on."""
    return [e.spi.opcode for e in chip.events
            if e.time_fs >= since_fs and e.spi.opcode is not None]


@pytest.mark.parametrize("name", BOARDS)
def test_init_again_leaves_the_chip_alone_while_the_window_stays_mapped(
        name: str, build_loader: Any) -> None:
    """Only a successful call leaves the controller memory-mapped exactly as Init does; while it
    stays so, the next Init sends the chip nothing (no reset, no mode switch). A reset of the
    controller, or a failed call, makes the next Init set the chip up again."""
    brd = board.load(name)
    stldr = build_loader(gen.plan_loader(brd)).stldr
    with api.open_session(stldr, board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        chip = next(iter(vb.chips.values()))
        clock = vb.machine.clock

        def init() -> list[int]:
            since = clock.now_fs
            s.driver.expect_ok("Init", 1, timeout_s=1.0)
            return _opcodes(chip, since)

        assert 0x99 in init()  # the first: the chip reset and set up
        assert init() == []
        base, data = s.geometry.start, bytes(range(256))
        s.driver.write(base, data)
        assert init() == []
        assert s.driver.read(base, len(data)) == data

        # an RCC reset of the controller (as a HAL MspInit does): set up again from the reset
        vb.qspi.reset()
        assert 0x99 in init()
        assert s.driver.read(base, len(data)) == data

        # a failed call (an address past the chip: the controller's transfer error) leaves the
        # controller in indirect mode
        past = base + s.geometry.size
        r0, _ = s.driver.call("Write", past, len(data), s.driver.layout.buffer, timeout_s=1.0)
        assert r0 != s.driver.ok_value
        assert 0x99 in init()
        s.driver.write(base + 0x1000, data)
        assert s.driver.read(base + 0x1000, len(data)) == data
