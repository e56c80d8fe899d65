"""The memory-mapped window on the virtual board: open only in memory-mapped mode.

Leaving memory-mapped mode parks the window (made inaccessible rather than unmapped, which
costs unicorn ~2 ms per 16 MiB on every loader call); parked, it must behave exactly as if
nothing were mapped, and entering the mode again must show the current flash contents.
"""

from __future__ import annotations

import pytest
from test_virtual_board import DST, config, make_rig, round_trip

from extflash import board as boards
from extflash.errors import TargetError

WINDOW = 0x90000000


def test_window_closes_outside_memory_mapped_mode_and_reopens_current(build_elf):
    b = boards.load("weact-h743")
    rig = make_rig(build_elf, b, timing="instant")
    m = rig.vb.machine
    cfg = config(rig)
    rig.call("qspi_init", cfg)
    round_trip(rig, cfg, b"first contents", 0x40)
    rig.call("qspi_mapped", cfg)
    assert m.mem_read(WINDOW + 0x40, 14) == b"first contents"
    assert rig.call("sum_window", WINDOW + 0x40, 1) == int.from_bytes(b"firs", "little")

    round_trip(rig, cfg, b"later contents", 0x40)  # leaves memory-mapped mode
    assert not rig.vb.qspi.mapped
    with pytest.raises(TargetError, match="no memory at 0x90000040"):
        m.mem_read(WINDOW + 0x40, 4)
    with pytest.raises(TargetError, match="no memory"):
        m.mem_read(WINDOW - 0x10, 0x20)  # a read running into the closed window
    with pytest.raises(TargetError, match="no memory"):
        m.mem_write(WINDOW, b"\x00")
    result = rig.call("sum_window", WINDOW + 0x40, 1, check=False)
    assert result.reason == "fault"
    assert result.fault.address == WINDOW + 0x40
    assert "nothing behind it" in result.fault.description

    rig.call("qspi_mapped", cfg)
    assert m.mem_read(WINDOW + 0x40, 14) == b"later contents"
    assert rig.call("sum_window", WINDOW + 0x40, 1) == int.from_bytes(b"late", "little")


def test_debugger_reads_span_memory_and_peripherals(build_elf):
    """One read across RAM keeps its bytes; a read reaching a peripheral reads its registers."""
    b = boards.load("weact-h743")
    rig = make_rig(build_elf, b, timing="instant")
    m = rig.vb.machine
    rig.call("qspi_init", config(rig))  # QUADSPI clock on
    data = bytes(range(256)) * 300  # 75 KiB: many 1 KiB pages in one read
    m.mem_write(rig.ram + DST, data)
    assert m.mem_read(rig.ram + DST, len(data)) == data
    q = rig.vb.qspi
    q.write(0x24, 4, 0x12345678)  # PSMKR
    assert m.mem_read(q.base + 0x24, 4) == (0x12345678).to_bytes(4, "little")
