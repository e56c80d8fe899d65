"""The timeline: calls, decoded register accesses and the chip's view of each flash command,
filterable by peripheral, as text and JSON."""

from __future__ import annotations

import json

import pytest

from extflash import trace
from extflash.runner import LoaderCallError


def _erase_with_trace(watched, path, **kw):
    session, watch = watched(path, timing="typical")
    timeline = trace.Timeline.attach(watch, **kw)
    d = session.driver
    d.begin("erase")
    d.erase_sectors([d.geometry.sectors[0]])
    timeline.stop()
    return timeline


def test_timeline_reads_like_the_loader(watched, faulty):
    timeline = _erase_with_trace(watched, faulty())
    lines = timeline.render()
    text = "\n".join(lines)
    assert lines[0].strip().endswith("Init(0x1)")
    # register names, field names, symbolised code addresses
    assert "RCC_CR <- 0x0100C1A7" in text and "PLL1ON=1" in text
    assert "clock_init+0x" in text
    assert "RCC_AHB3ENR <- 0x00004000 (QSPIEN=1)" in text
    assert "GPIOB_AFRL <- 0x0A000900 (PB6 -> AF10)" in text  # pins as a person reads them
    # controller commands as commands
    assert ("QUADSPI_CCR <- 0x0F10EDEB (memory-mapped: 0xEB 1-4-4, 3-byte address, "
            "1 alternate byte(s) on 4 line(s), 4 dummy)") in text
    # the flash commands as the chip saw them, in order with the register writes
    erase = next(i for i, line in enumerate(lines) if "bank 1: 0x20 1-1-0 addr=0x000000(3B)"
                 in line)
    assert "QUADSPI_AR <- 0x00000000" in lines[erase - 1]
    assert lines[-1].strip().endswith("SectorErase returned 0x1 after 45.001 ms")
    # the status polling loop is folded into one line with its count
    polls = [line for line in lines if "QUADSPI_SR -> 0x00000024 (FTF=1 BUSY=1)" in line]
    assert len(polls) == 1 and "(x" in polls[0]
    times = [e.time_fs for e in timeline.ordered()]
    assert times == sorted(times)


def test_filter_and_json(watched, faulty, tmp_path):
    timeline = _erase_with_trace(watched, faulty(), peripherals=["QUADSPI", "flash"])
    sources = {e.source for e in timeline.events}
    assert sources <= {"Init", "SectorErase", "QUADSPI", "W25Q128JV"}
    assert {"QUADSPI", "W25Q128JV"} <= sources
    only_chip = timeline.select(peripherals=["flash"])
    assert all(e.kind in ("call", "return", "flash") for e in only_chip)
    path = tmp_path / "trace.json"
    timeline.write(path)
    data = json.loads(path.read_text())
    assert data["schema"] == "extflash.trace/1"
    erase = next(e for e in data["events"] if e.get("opcode") == 0x20)
    assert erase["lines"] == [1, 1, 0] and erase["address"] == 0 and erase["outcome"] == "ok"
    assert erase["where"].startswith("command+0x")
    text_path = tmp_path / "trace.txt"
    timeline.write(text_path)
    assert text_path.read_text().splitlines() == timeline.render()


def test_rejected_commands_in_the_trace(watched, faulty):
    session, watch = watched(faulty("NO_WREN"))
    timeline = trace.Timeline.attach(watch, peripherals=["flash"])
    d = session.driver
    d.begin("program")
    with pytest.raises(LoaderCallError):
        d.write(d.geometry.start, bytes(16))
    assert any("rejected: page program without WREN (WEL=0)" in line
               for line in timeline.render())
