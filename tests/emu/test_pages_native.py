"""Stores to every 256-byte RAM page at full speed (native/pages_fast.c, Machine "Pages").

unicorn fills the TLB again on every store to a RAM page whose address has bit 8 clear; the
machine clears that flag in the entries of writable RAM pages. What the core computes must not
change: stores land where they did, read-only and peripheral pages keep their entries, and a
HAL-style loader's job gives the same chip, results, cycles and virtual time with the tending on
and off."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import pytest
import unicorn
from test_ospi_halstyle_run import _pattern, built, kit_board  # noqa: F401 (the fixture)
from unicorn import arm_const

from extflash import api, image
from extflash.emu import cortexm
from extflash.emu.machine import Machine
from extflash.emu.native import pages_fast

pytestmark = pytest.mark.usefixtures("native_required")

CODE, RAM, ROM = 0x08000000, 0x24000000, 0x08100000
# r0 turns of: str r1, [r2] ; str r1, [r3] ; adds r1, #1 ; ldr r4, [r5] ; subs r0, #1 ; bne
LOOP = bytes.fromhex("1160" "1960" "0131" "2c68" "0138" "f9d1" "fee7")


def engine() -> tuple[unicorn.Uc, pages_fast.TlbView]:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB)
    uc.ctl_set_cpu_model(arm_const.UC_CPU_ARM_CORTEX_M7)
    uc.ctl_set_page_size(256)
    view = pages_fast.attach(uc, cortexm.handle(uc))
    assert view is not None, "the TLB of the pinned unicorn was not found"
    uc.mem_map(CODE, 0x1000, unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
    uc.mem_map(ROM, 0x1000, unicorn.UC_PROT_READ)
    uc.mem_map(RAM, 0x4000)
    uc.mem_write(CODE, LOOP)
    uc.mem_write(ROM, b"\x5a" * 0x1000)
    return uc, view


def run(uc: unicorn.Uc, turns: int, first: int) -> None:
    values = {"R0": turns, "R1": first, "R2": RAM + 0x2200, "R3": RAM + 0x2304,
              "R5": ROM + 0x200, "SP": RAM + 0x2280}
    for name, value in values.items():
        uc.reg_write(getattr(arm_const, f"UC_ARM_REG_{name}"), value)
    uc.emu_start(CODE | 1, CODE + len(LOOP) - 2)


def entry(view: pages_fast.TlbView, address: int) -> tuple[int, int]:
    """(read address, write address) of ``address``'s entry in the mode the core ran in."""
    st = view.state
    fast = st.fast + 16 * st.mode
    mask, table = (ctypes.c_uint64 * 2).from_address(fast)
    at = table + (((address >> st.page_bits) << st.entry_bits) & mask)
    read, write = (ctypes.c_uint32 * 2).from_address(at)
    return int(read), int(write)


def test_the_probe_finds_the_layout_the_machine_assumes() -> None:
    """The probe (run when the pinned unicorn's layout does not hold) finds that layout by
    scanning the engine for the registers and the TLB for its store; a layout one descriptor
    off does not hold."""
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB)
    uc.ctl_set_cpu_model(arm_const.UC_CPU_ARM_CORTEX_M7)
    uc.ctl_set_page_size(256)
    uc.reg_read(arm_const.UC_ARM_REG_SP)
    handle = cortexm.handle(uc)
    assert pages_fast._layout(uc, handle) == pages_fast._KNOWN
    spans = pages_fast._Readable()
    assert pages_fast._holds(uc, handle, pages_fast._KNOWN, spans)
    assert not pages_fast._holds(uc, handle, pages_fast._KNOWN._replace(fast=-0x40), spans)


def test_a_sweep_clears_only_the_flag_of_writable_ram_pages() -> None:
    uc, view = engine()
    run(uc, 10, 1)
    ram = RAM + 0x2200  # bit 8 clear: the flag sets the write address apart
    assert view.sweep() >= 1
    assert entry(view, ram) == (ram, ram)
    rom_read, rom_write = entry(view, ROM + 0x200)
    assert rom_read == ROM + 0x200 and rom_write != rom_read  # read-only: its flag stays
    assert view.sweep() == 0  # nothing left to fix
    assert view.fixed >= 1


def test_stores_land_where_they_did_before_the_sweep() -> None:
    uc, view = engine()
    run(uc, 5, 100)
    view.sweep()
    run(uc, 7, 200)  # now on the inline path
    assert int.from_bytes(uc.mem_read(RAM + 0x2200, 4), "little") == 206
    assert int.from_bytes(uc.mem_read(RAM + 0x2304, 4), "little") == 206
    assert uc.reg_read(arm_const.UC_ARM_REG_R4) == 0x5A5A5A5A
    uc.mem_write(RAM + 0x2200, b"\0" * 4)  # the host's writes and the core's meet
    run(uc, 1, 7)
    assert int.from_bytes(uc.mem_read(RAM + 0x2200, 4), "little") == 7


def _job(elf: Path, b: Any, name: str, monkeypatch: pytest.MonkeyPatch, tend: bool
         ) -> tuple[Any, ...]:
    monkeypatch.setattr(Machine, "tend_tlb", tend)
    data = _pattern(0x9000)
    with api.open_session(elf, board=kit_board(name, b)) as s:
        result = s.program(image.from_chunks([image.Chunk(b.window + 0x1000, data)]))
        machine = s.target.machine  # type: ignore[attr-defined]
        chip = s.target.board.chips[1]  # type: ignore[attr-defined]
        fixed = machine.tlb.fixed if machine.tlb is not None else None
        calls = tuple((c.function, c.args, c.result, c.elapsed_s) for c in s.driver.calls)
        return (result.report.verified, calls, machine.clock.now_fs, machine.clock.cycles,
                bytes(chip.memory[:0x10000])), fixed


def test_a_hal_style_job_is_the_same_with_the_tending_on_and_off(
        built: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811 (the fixture)
    name = "h735-w25q128"
    elf, b = built(name)
    tended, fixed = _job(elf, b, name, monkeypatch, True)
    plain, none = _job(elf, b, name, monkeypatch, False)
    assert tended == plain
    assert tended[0] is True
    assert none is None and fixed
