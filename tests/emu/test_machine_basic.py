"""Machine basics on real compiled firmware: calls, GPIO/RCC state, faults, timeouts."""

from __future__ import annotations

import pytest

from extflash import mcu
from extflash.emu.machine import Machine

H7 = "STM32H743ZI"


@pytest.fixture(scope="module")
def basic_h7(build_elf):
    return build_elf("emu-basic-h7", ["emu/basic.c"], "emu/h7.ld", cpu="cortex-m7")


@pytest.fixture
def h7(basic_h7, load):
    m = Machine(mcu.find_part(H7))
    return m, load(m, basic_h7)


def test_call_returns_value(h7):
    m, fw = h7
    r = fw.call(m, "add3", 1, 2, 0xFFFFFFF0)
    assert r.reason == "returned" and r.ok
    assert r.r0 == (1 + 2 + 0xFFFFFFF0) & 0xFFFFFFFF
    assert r.pc == m.family.loader_ram_base
    assert r.cycles > 0 and r.time_fs == r.cycles * m.clock.fs_per_cycle


def test_gpio_af_state_readable_through_pin(h7):
    m, fw = h7
    assert not m.rcc.is_enabled("GPIOB")
    r = fw.call(m, "pin_af", 0x580244E0, 1, 0x58020400, 2 | 9 << 8)  # RCC_AHB4ENR.GPIOBEN, PB2 AF9
    assert r.ok
    assert m.rcc.is_enabled("GPIOB")
    pin = m.gpio.pin("PB2")
    assert (pin.mode, pin.af, pin.speed) == ("af", 9, 3)
    assert r.r0.to_bytes(4, "little") == m.mem_read(0x58020400, 4)
    assert r.r0 & (3 << 4) == 2 << 4


def test_gpio_writes_ignored_while_clock_is_off(h7):
    m, fw = h7
    seen = []
    m.on_unmodelled.append(seen.append)
    # enables GPIOA but configures GPIOB
    r = fw.call(m, "pin_af", 0x580244E0, 0, 0x58020400, 2 | 9 << 8)
    assert r.ok
    assert m.gpio.pin("PB2").mode == "analog"  # reset state kept: the port had no clock
    assert any(e.kind == "clock-disabled" and e.periph == "GPIOB" for e in seen)


def test_unmapped_access_is_a_precise_bus_fault(h7):
    m, fw = h7
    r = fw.call(m, "read_word", 0x60000000)  # FMC bank 1: nothing behind it on this board
    assert r.reason == "fault"
    f = r.fault
    assert f is not None and f.kind == "bus" and f.address == 0x60000000
    assert "PRECISERR" in f.cfsr_bits and "BFARVALID" in f.cfsr_bits
    assert f.instruction.startswith("ldr")
    assert fw.symbols["read_word"] - 1 <= f.pc < fw.symbols["read_word"] + 8


def test_unmodelled_peripheral_reads_zero_and_is_reported(h7):
    m, fw = h7
    seen = []
    m.on_unmodelled.append(seen.append)
    r = fw.call(m, "read_word", 0x40000024)  # TIM2_CNT
    assert r.ok and r.r0 == 0
    assert [(e.periph, e.kind, e.offset) for e in seen] == [("TIM2", "read", 0x24)]
    assert fw.symbols["read_word"] - 1 <= seen[0].pc < fw.symbols["read_word"] + 8


def test_hang_times_out_with_spin_evidence(h7):
    m, fw = h7
    # wait for RCC_CR bit 30 (reserved: never set)
    r = fw.call(m, "wait_bits", 0x58024400, 1 << 30, 1 << 30, timeout_s=0.5)
    assert r.reason == "timeout"
    assert r.time_fs >= 500_000_000_000_000
    assert r.spin is not None and r.spin.idle == "poll"
    assert [reg.name for reg in r.spin.registers] == ["RCC_CR"]
    start = fw.symbols["wait_bits"] - 1
    assert all(start <= pc < start + 16 for pc in r.spin.pcs)


def test_same_run_same_cycles(basic_h7, load):
    results = []
    for _ in range(2):
        m = Machine(mcu.find_part(H7))
        fw = load(m, basic_h7)
        r = fw.call(m, "count_loop", 100_000)
        results.append((r.r0, r.cycles, r.time_fs))
    assert results[0] == results[1]
    assert results[0][1] > 100_000 * 3


def test_window_code_runs_from_its_first_fetch_and_is_retranslated_after_changes():
    """A mapped window becomes executable at the core's first fetch from it (until then no
    code was translated there and invalidation is skipped); changed bytes run once invalidated
    or after the window was parked and reopened."""
    m = Machine(mcu.find_part(H7))
    base, stop = 0x90000000, m.family.loader_ram_base
    window = bytearray(4096)
    window[0:4] = bytes.fromhex("01207047")  # movs r0, #1; bx lr

    def call() -> int:
        m.reg_write("sp", stop + 0x1000)
        m.reg_write("lr", stop | 1)
        r = m.run(base, stop_at=stop, timeout_fs=10**12)
        assert r.ok, r
        return r.r0

    m.map_buffer(base, window, writable=False)
    m.invalidate_code(base, base + len(window))  # nothing fetched yet: nothing to drop
    assert call() == 1
    window[0:2] = bytes.fromhex("0220")  # movs r0, #2
    m.invalidate_code(base, base + 2)
    assert call() == 2
    m.park_buffer(base, len(window))
    m.map_buffer(base, window, writable=False)
    window[0:2] = bytes.fromhex("0320")  # movs r0, #3
    assert call() == 3
    assert m.mem_read(base, 2) == bytes.fromhex("0320")  # the debugger reads it too
    # a window that watches for its first access, first accessed by a fetch
    m.park_buffer(base, len(window))
    m.map_buffer(base, window, writable=False)
    touched: list[bool] = []
    m.on_first_access(base, len(window), lambda: touched.append(True))
    window[0:2] = bytes.fromhex("0420")  # movs r0, #4
    assert call() == 4 and touched == [True]
