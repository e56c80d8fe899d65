"""Idle fast-forward: polling a busy flag, DWT-timeout polls, WFI — correct virtual time."""

from __future__ import annotations

import pytest

from extflash import mcu
from extflash.emu.clock import FS_PER_S, FS_PER_US
from extflash.emu.machine import Machine
from extflash.emu.regmodel import Access, Peripheral, Reg

DEV_BASE = 0x40000000  # TIM2's block on H7, free for this test device
OP_FS = 400 * FS_PER_US  # like a NOR page program


class BusyDevice(Peripheral):
    """CR.START sets SR.BUSY; the operation completes OP_FS later (a scheduled clock event)."""

    REGISTERS = (Reg("CR", 0x0), Reg("SR", 0x4, access=Access.RO))

    def __init__(self, machine: Machine, *, completes: bool = True) -> None:
        super().__init__("BUSYDEV", DEV_BASE)
        self.machine = machine
        self.completes = completes
        self.started: list[int] = []
        self.finished: list[int] = []

    def on_write_CR(self, old: int, new: int) -> None:
        clock = self.machine.clock
        self["SR"] = 1
        self.started.append(clock.now_fs)
        if self.completes:
            clock.schedule(clock.now_fs + OP_FS, self._done)

    def _done(self) -> None:
        self["SR"] = 0
        self.finished.append(self.machine.clock.now_fs)


@pytest.fixture(scope="module")
def basic_h7(build_elf):
    return build_elf("emu-basic-h7", ["emu/basic.c"], "emu/h7.ld", cpu="cortex-m7")


def test_polling_fast_forwards_to_completion_events(basic_h7, load):
    m = Machine(mcu.find_part("STM32H743ZI"))
    fw = load(m, basic_h7)
    dev = BusyDevice(m)
    m.add_peripheral(dev)
    r = fw.call(m, "run_ops", DEV_BASE, 2000, timeout_s=5)
    assert (r.reason, r.r0) == ("returned", 2000)
    assert len(dev.finished) == 2000
    # each operation starts a few instructions after the previous one finished
    gaps = [s - f for f, s in zip(dev.finished, dev.started[1:], strict=False)]
    assert max(gaps) < 100 * m.clock.fs_per_cycle
    assert 2000 * OP_FS <= r.time_fs < 2000 * (OP_FS + 100 * m.clock.fs_per_cycle)
    # time is continuous: cycles follow time at the core frequency
    assert r.cycles == pytest.approx(r.time_fs / m.clock.fs_per_cycle, rel=1e-6)


def test_dwt_timeout_expires_near_its_deadline_while_polling(basic_h7, load):
    m = Machine(mcu.find_part("STM32H743ZI"))
    fw = load(m, basic_h7)
    m.add_peripheral(BusyDevice(m, completes=False))
    limit = 64_000_000  # 1 s at 64 MHz
    r = fw.call(m, "poll_with_dwt_timeout", DEV_BASE, limit, timeout_s=5)
    assert (r.reason, r.r0) == ("returned", 2)
    assert limit <= r.cycles <= limit * 1.13  # fast-forward overshoot stays under 1/8


def test_dwt_timeout_not_taken_when_device_completes(basic_h7, load):
    m = Machine(mcu.find_part("STM32H743ZI"))
    fw = load(m, basic_h7)
    m.add_peripheral(BusyDevice(m))
    r = fw.call(m, "poll_with_dwt_timeout", DEV_BASE, 64_000_000, timeout_s=5)
    assert (r.reason, r.r0) == ("returned", 1)
    assert OP_FS <= r.time_fs < OP_FS + 200 * m.clock.fs_per_cycle


def test_wfi_sleeps_until_the_next_tick(build_elf, load):
    elf = build_elf("emu-clock-h7", ["emu/clock.c"], "emu/h7.ld", cpu="cortex-m7",
                    cflags=["-DFAM_H7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"])
    m = Machine(mcu.find_part("STM32H743ZI"))
    fw = load(m, elf)
    r = fw.call(m, "wfi_ticks", 63_999, 50)
    assert (r.reason, r.r0) == ("returned", 50)
    assert 50 * FS_PER_S // 1000 <= r.time_fs < 51 * FS_PER_S // 1000
    assert r.exceptions_taken == 50
    assert r.cycles < 50 * 64_000 + 5_000  # slept cycles still count as time passing


def test_wait_with_nothing_scheduled_times_out_quickly_in_wall_time(basic_h7, load):
    m = Machine(mcu.find_part("STM32H743ZI"))
    fw = load(m, basic_h7)
    m.add_peripheral(BusyDevice(m, completes=False))
    r = fw.call(m, "run_ops", DEV_BASE, 1, timeout_s=30)
    assert r.reason == "timeout" and r.time_fs >= 30 * FS_PER_S
    assert r.spin is not None
    assert [(reg.name, reg.value) for reg in r.spin.registers] == [("BUSYDEV_SR", 1)]
