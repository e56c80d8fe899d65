"""Checkpoints: a watcher looks at a long run between slices without ending it, so the run and
its virtual time are those of a run nobody looked at; or it ends the run there."""

from __future__ import annotations

import itertools

import pytest

from extflash import mcu
from extflash.emu.clock import FS_PER_S
from extflash.emu.machine import Machine

MS = FS_PER_S // 1000
PART = "STM32H743ZI"


@pytest.fixture(scope="module")
def clock_elf(build_elf):
    return build_elf("emu-clock-h7", ["emu/clock.c"], "emu/h7.ld", cpu="cortex-m7",
                     cflags=["-DFAM_H7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"])


def ticks(clock_elf, load, on_checkpoint=None, first_ms: int = 1):
    """wait_ticks for 20 SysTick interrupts at 1 kHz, with looks every ``first_ms`` ms."""
    m = Machine(mcu.find_part(PART))
    fw = load(m, clock_elf)
    looks: list[int] = []
    if on_checkpoint is not None:
        def look() -> bool:
            looks.append(m.clock.now_fs)
            m.checkpoint_fs = m.clock.now_fs + first_ms * MS
            return bool(on_checkpoint(len(looks)))
        m.checkpoint_fs = m.clock.now_fs + first_ms * MS
        m.on_checkpoint = look
    ok_addr = 0x24010000
    return m, fw, fw.call(m, "wait_ticks", 63_999, 20, ok_addr), looks


def test_looks_that_go_on_leave_the_run_as_it_was(clock_elf, load):
    _m, _fw, plain, _ = ticks(clock_elf, load)
    _m, _fw, looked, looks = ticks(clock_elf, load, on_checkpoint=lambda n: False)
    assert (plain.reason, plain.r0) == ("returned", 20)
    assert (looked.reason, looked.r0) == ("returned", 20)
    assert (looked.time_fs, looked.cycles, looked.exceptions_taken) == (
        plain.time_fs, plain.cycles, plain.exceptions_taken)
    assert 15 <= len(looks) <= 20  # about one a millisecond, each at or after its checkpoint
    assert all(b - a >= MS for a, b in itertools.pairwise(looks))


def test_a_look_can_end_the_run_there(clock_elf, load):
    m, _fw, stopped, looks = ticks(clock_elf, load, on_checkpoint=lambda n: n == 3, first_ms=2)
    assert stopped.reason == "checkpoint" and len(looks) == 3
    assert 6 * MS <= stopped.time_fs < 8 * MS
    m.checkpoint_fs = None
    base = m.family.loader_ram_base
    rest = m.run(m.reg_read("pc"), stop_at=base, timeout_fs=FS_PER_S)
    assert (rest.reason, rest.r0) == ("returned", 20)  # it goes on from where it stood
