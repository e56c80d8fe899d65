"""A memory-mapped OCTOSPI window with a write set (WCCR/WTCR/WIR, as HAL-style loaders
configure it) still shows the chip array zero-copy to the core's loads, and still decodes each
of the core's stores into a write frame sent to the chip (RM0455 "memory-mapped mode": writes
use the write set). The chip decides what a store does: a NOR flash ignores a page program
without WEL, so the array (and what the core reads back) keeps its bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ospi_hal.build as ob
import pytest

from extflash.emu.virtual_board import VirtualBoard

KIT = "h735-w25q128"


@dataclass
class Core:
    """The loader's own functions called on the virtual board's core."""

    vb: VirtualBoard
    firmware: Any
    window: int
    scratch: int

    def call(self, name: str, *args: int) -> int:
        result = self.firmware.call(self.vb.machine, name, *args)
        assert result.ok, (result.reason, result.fault)
        return int(result.r0)


@pytest.fixture
def core(build_elf, load):
    b = ob.loader_build(ob.KITS[KIT], KIT)
    elf = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                    cpu=b.cpu)
    vb = VirtualBoard(ob.kit_board(KIT, b), timing="instant")
    vb.chips[1].memory[0x2000:0x2100] = bytes(range(256))  # type: ignore[attr-defined]
    m = vb.machine
    region = m.part.part.ram_at(m.family.loader_ram_base)
    assert region is not None
    c = Core(vb, load(m, elf), b.window, region.end - 0x4000)  # scratch: far from the stack
    assert c.call("Init") == 1  # leaves the controller memory-mapped, write set included
    yield c
    vb.close()


def test_mapped_window_with_a_write_set_serves_loads_zero_copy(core):
    ctl = core.vb.qspi
    assert ctl.mapped and ctl._mapped_write_ccr() is not None
    assert core.vb.window.zero_copy
    assert core.call("CheckSum", core.window + 0x2000, 256, 0) == sum(range(256))


def test_a_store_without_wel_reaches_the_chip_which_ignores_it(core):
    chip = core.vb.chips[1]
    m = core.vb.machine
    m.mem_write(core.scratch, b"\x12\x34\x56\x78")
    assert not chip.wel
    core.call("memcpy", core.window + 0x3000, core.scratch, 4)
    assert chip.memory[0x3000:0x3004] == b"\xff" * 4  # type: ignore[attr-defined]
    # the core reads the array back, not what it stored
    assert core.call("CheckSum", core.window + 0x3000, 4, 0) == 4 * 0xFF
    assert core.vb.window.zero_copy


def test_a_store_with_wel_programs_the_chip_and_the_window_shows_it(core):
    chip = core.vb.chips[1]
    m = core.vb.machine
    m.mem_write(core.scratch, b"\x12\x34\x56\x78")
    chip.wel = True  # set as a WREN before memory-mapped mode would
    core.call("memcpy", core.window + 0x3100, core.scratch, 4)
    # byte stores: the first is a page program (WEL then clears), the others are ignored
    assert chip.memory[0x3100:0x3104] == b"\x12\xff\xff\xff"  # type: ignore[attr-defined]
    assert core.call("CheckSum", core.window + 0x3100, 4, 0) == 0x12 + 3 * 0xFF
    assert core.vb.window.zero_copy


def test_a_debugger_write_to_the_window_is_a_store_too(core):
    chip = core.vb.chips[1]
    m = core.vb.machine
    m.mem_write(core.window + 0x3200, b"\x00\x11\x22\x33")  # no WEL: the chip ignores it
    assert chip.memory[0x3200:0x3204] == b"\xff" * 4  # type: ignore[attr-defined]
    chip.wel = True
    m.mem_write(core.window + 0x3200, b"\x00\x11\x22\x33")  # one word: one page program
    assert chip.memory[0x3200:0x3204] == b"\x00\x11\x22\x33"  # type: ignore[attr-defined]
    assert m.mem_read(core.window + 0x3200, 4) == b"\x00\x11\x22\x33"
