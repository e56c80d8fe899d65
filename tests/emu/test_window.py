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


def test_debugger_writes_span_memory_and_stop_at_the_first_missing_page(build_elf):
    """A write across RAM lands in one piece; one running past the end of RAM writes up to it
    and names the first address with nothing behind it; one reaching a peripheral writes its
    registers."""
    b = boards.load("weact-h743")
    rig = make_rig(build_elf, b, timing="instant")
    m = rig.vb.machine
    data = bytes(range(256)) * 1100  # 275 KiB: more than one loader buffer's worth of pages
    m.mem_write(rig.ram + DST, data)
    assert m.mem_read(rig.ram + DST, len(data)) == data
    end = 0x24080000  # AXI SRAM's end on the H743
    with pytest.raises(TargetError, match="no memory at 0x24080000"):
        m.mem_write(end - 0x500, bytes(range(256)) * 6)
    assert m.mem_read(end - 0x500, 0x500) == (bytes(range(256)) * 6)[:0x500]
    rig.call("qspi_init", config(rig))  # QUADSPI clock on
    q = rig.vb.qspi
    m.mem_write(q.base + 0x24, (0x12345678).to_bytes(4, "little"))  # PSMKR
    assert q.read(0x24, 4) == 0x12345678
