"""The native fast path on the OCTOSPI and XSPI front-ends: the same layout-driven C code that
serves QUADSPI serves them from the layout they describe, and changes nothing.

Each HAL-style loader (tests/firmware/ospi_hal) runs the same operations on its kit's virtual
board once through the pure-Python register path and once through the native one; flash
contents, every loader call's result and virtual duration, the final cycle count, the
controller's registers and the chip's command log must be identical, and the command lane must
have run the page programs.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_native_quadspi import Outcome, both_paths
from test_ospi_halstyle_run import RUNNING, built, kit_board  # noqa: F401 (the fixture)

from extflash import api, image

needs_native = pytest.mark.usefixtures("native_required")


@needs_native
@pytest.mark.parametrize("name", RUNNING)
def test_hal_style_loader_identical_on_both_paths(name, built, monkeypatch):  # noqa: F811
    elf, b = built(name)
    python, fast = both_paths(monkeypatch, elf, kit_board(name, b))
    assert python.served_natively == 0 and fast.served_natively > 1000  # DR beats went native
    assert fast == Outcome(**{**vars(python), "served_natively": fast.served_natively})


@needs_native
@pytest.mark.parametrize("name", ["h735-w25q128", "h7r7-w25q128-xspi1"])
def test_command_lane_runs_page_programs_on_octospi_and_xspi(name, built):  # noqa: F811
    """Write enable (an IR write), page program (the last DR beat) and automatic status
    polling (an IR write after CR.FMODE = 10) run in the lane: Python handles a handful of
    accesses for 64 pages, and the chip's log shows every command with its data as sent."""
    elf, b = built(name)
    data = bytes((i * 13 + (i >> 8)) & 0xFF for i in range(0x4000))
    with api.open_session(elf, board=kit_board(name, b)) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q = vb.qspi
        assert q.native is not None and q.name.startswith(("OCTOSPI", "XSPI"))
        base = b.window + 0x20000
        s.erase(base, len(data))
        handled: list[int] = []
        bus_read, bus_write = q.bus_read, q.bus_write
        q.bus_read = lambda o, n: handled.append(o) or bus_read(o, n)
        q.bus_write = lambda o, n, v: handled.append(o) or bus_write(o, n, v)
        commands = q.commands
        assert s.program(image.from_chunks([image.Chunk(base, data)]),
                         preserve=False).report.verified
        q.refresh()
        chip = vb.chips[1]
        programs = [e for e in chip.events if e.spi.write_data]
        assert q.commands - commands >= 3 * 64
        assert programs[-1].spi.address == 0x20000 + len(data) - 256
        assert programs[-1].spi.write_data == data[-256:]
        assert bytes(chip.memory[0x20000:0x20000 + len(data)]) == data
        assert len(handled) < 64 * 3, len(handled)
