"""The pyOCD Target backend on the virtual probe: connecting, calls, halts elsewhere, and the
probe errors a user meets (no probe, several probes, no answer, wrong chip, read protection)."""

from __future__ import annotations

import pytest
from probe_support import FAST_RESET, machine_system

from extflash.errors import TargetError
from extflash.mcu import find_part
from extflash.target.base import AsyncTarget, Target
from extflash.target.pyocd_target import (
    ProbeOptions,
    PyocdTarget,
    choose_probe,
    derive_target_type,
    open_probe_target,
    target_type_candidates,
)

BKPT_BASE = 0x24000000
STACK = 0x24040000


def connect(uid: str, part: str = "STM32H743ZI", **kwargs) -> PyocdTarget:
    return open_probe_target(part, ProbeOptions(probe=uid, pyocd_options=FAST_RESET, **kwargs))


@pytest.fixture
def target(h743):
    _, uid = h743
    t = connect(uid)
    yield t
    t.close()


def load(t: PyocdTarget, fw) -> None:
    for address, data in fw.segments:
        t.write_memory(address, data)
    t.write_memory(BKPT_BASE, b"\x00\xbe\x00\x00")


def call(t: PyocdTarget, fw, name: str, *args: int, timeout_s: float = 1.0):
    regs = {f"r{i}": a for i, a in enumerate(args)}
    regs.update(sp=STACK, msp=STACK, lr=BKPT_BASE | 1, xpsr=1 << 24)
    t.write_registers(regs)
    return t.run(fw[name], stop_at=BKPT_BASE, timeout_s=timeout_s)


def test_connects_halts_and_is_a_target(target, h743):
    system, uid = h743
    assert isinstance(target, Target) and isinstance(target, AsyncTarget)
    assert target.target_type == "stm32h743xx"
    assert uid in target.description and "Cortex-M7" in target.description
    assert all(c.halted for c in system.cores)
    target.write_memory(0x24001000, b"hello, probe")
    assert target.read_memory(0x24001002, 6) == b"llo, p"
    assert system.machine.mem_read(0x24001000, 12) == b"hello, probe"


def test_call_returns_with_result_in_virtual_time(target, calls_h7):
    load(target, calls_h7)
    outcome = call(target, calls_h7, "add3", 40, 2, 0xFFFFFFFF)
    assert outcome.returned and outcome.pc == BKPT_BASE
    assert outcome.registers["r0"] == 41
    assert 0 < outcome.elapsed_s < 0.01  # virtual: a few USB round trips


def test_fault_is_reported_with_fault_status(target, calls_h7):
    load(target, calls_h7)
    outcome = call(target, calls_h7, "read_word", 0x60000000)
    assert outcome.reason == "fault"
    assert "PRECISERR" in outcome.summary and "BFARVALID" in outcome.summary
    assert "fault address 0x60000000" in outcome.summary
    assert calls_h7["read_word"] & ~1 <= outcome.pc < calls_h7["read_word"] + 8


def test_hung_call_times_out_and_is_halted_where_it_spins(target, calls_h7):
    load(target, calls_h7)
    outcome = call(target, calls_h7, "spin", timeout_s=0.02)
    assert outcome.reason == "timeout"
    assert outcome.elapsed_s >= 0.02
    spin = calls_h7["spin"] & ~1
    assert spin <= outcome.pc < spin + 8
    assert "still running" in outcome.summary
    assert call(target, calls_h7, "add3", 1, 1, 1).registers["r0"] == 3  # still usable


def test_stray_bkpt_is_a_breakpoint_stop(target, calls_h7):
    load(target, calls_h7)
    outcome = call(target, calls_h7, "stray_bkpt", 5)
    assert outcome.reason == "breakpoint"
    assert outcome.pc != BKPT_BASE


def test_memory_written_while_a_call_runs_is_seen_by_the_next(target, calls_h7):
    load(target, calls_h7)
    buf = 0x24010000
    target.write_memory(buf, (1).to_bytes(4, "little") * 256)
    target.write_registers({"r0": buf, "r1": 256, "sp": STACK, "lr": BKPT_BASE | 1,
                            "xpsr": 1 << 24})
    target.start(calls_h7["sum_words"], stop_at=BKPT_BASE)
    target.write_memory(buf + 0x1000, (2).to_bytes(4, "little") * 256)  # the other buffer
    assert target.wait(1.0).registers["r0"] == 256
    assert call(target, calls_h7, "sum_words", buf + 0x1000, 256).registers["r0"] == 512


def test_dual_core_both_cores_halted_and_kept_halted(plugged, calls_h7):
    system = machine_system("STM32H747XI")
    uid = plugged(system)
    system.cores[1].halted = False  # the Cortex-M4 runs its own firmware at connect
    t = open_probe_target("STM32H747XIH6", ProbeOptions(probe=uid, connect="attach",
                                                        pyocd_options=FAST_RESET))
    try:
        assert t.target_type == "cortex_m"  # no built-in pyOCD target for the H747
        assert len(t.cores) == 2
        assert all(c.halted for c in system.cores)
        load(t, calls_h7)
        system.cores[1].halted = False  # something resumed the M4 between calls
        assert call(t, calls_h7, "add3", 1, 2, 3).returned
        assert system.cores[1].halted
    finally:
        t.close()


def test_close_resets_and_runs_the_application(h743, app_h7):
    system, uid = h743
    for address, data in app_h7.segments:
        system.machine.mem_write(address, data)
    t = connect(uid)
    t.close()
    assert not system.cores[0].halted and system.cores[0].running
    for _ in range(5):
        system.elapse(10**9)  # 1 µs slices
    assert system.machine.mem_read(app_h7["counter"], 4) != bytes(4)


def test_restore_puts_back_ram_and_registers(h743):
    system, uid = h743
    system.machine.mem_write(0x24000100, b"APPDATA!")
    t = connect(uid, on_close="restore")
    r7 = t.read_registers(("r7",))["r7"]
    t.write_memory(0x24000100, b"LOADER..")
    t.write_registers({"r7": r7 ^ 0xFFFF})
    t.close()
    assert system.machine.mem_read(0x24000100, 8) == b"APPDATA!"
    assert system.machine.reg_read("r7") == r7


# -- target types ---------------------------------------------------------------------------------

def test_target_type_from_the_part_name():
    assert derive_target_type(find_part("STM32H743ZIT6")) == "stm32h743xx"
    assert derive_target_type(find_part("STM32F767ZIT6")) == "stm32f767zi"
    assert target_type_candidates(find_part("STM32H747XIH6"))[0] == "stm32h747xihx"


# -- errors ---------------------------------------------------------------------------------------

def test_no_probe_with_that_id():
    with pytest.raises(TargetError, match="no debug probe with ID 'no-such-probe-42'"):
        choose_probe("no-such-probe-42")


def test_several_probes_need_a_choice(plugged):
    plugged(machine_system("STM32H743ZI", name="board-a"))
    plugged(machine_system("STM32H743ZI", name="board-b"))
    with pytest.raises(TargetError) as err:
        choose_probe("virtual:board")
    assert "virtual:board-a" in str(err.value) and "virtual:board-b" in str(err.value)
    assert "--probe" in str(err.value)


def test_target_not_answering(h743):
    system, uid = h743
    system.inject(silent=True)
    with pytest.raises(TargetError) as err:
        connect(uid, target_type="cortex_m")
    assert "no target answers" in str(err.value)
    assert "powered" in str(err.value) and "under-reset" in str(err.value)


def test_target_stops_answering_during_a_call(target, h743, calls_h7):
    system, _ = h743
    load(target, calls_h7)
    target.write_registers({"sp": STACK, "lr": BKPT_BASE | 1, "xpsr": 1 << 24})
    target.start(calls_h7["spin"], stop_at=BKPT_BASE)
    system.inject(silent=True)
    with pytest.raises(TargetError, match="stopped answering"):
        target.wait(1.0)
    system.inject(silent=False)


def test_hardware_watchdog_resets_a_long_call(target, h743, calls_h7):
    """IWDG started by hardware: a call spinning past the timeout is cut by a chip reset, which
    the DHCSR poll sees (S_RESET_ST) instead of waiting for the call's timeout."""
    system, _ = h743
    system.inject(iwdg_hardware=True, iwdg_timeout_s=0.05)
    load(target, calls_h7)
    target.write_registers({"sp": STACK, "lr": BKPT_BASE | 1, "xpsr": 1 << 24})
    target.start(calls_h7["spin"], stop_at=BKPT_BASE)
    outcome = target.wait(1.0)
    assert outcome.reason == "reset" and 0.05 <= outcome.elapsed_s < 0.2
    assert "S_RESET_ST" in outcome.summary and "IWDG" in outcome.summary


@pytest.mark.parametrize("target_type", ["stm32h743xx", "cortex_m"])
def test_wrong_chip_on_the_wire(h743, target_type):
    system, uid = h743
    system.inject(dpidr=0x2BA01477, dev_id=0x413)  # an STM32F407 answers
    with pytest.raises(TargetError) as err:
        connect(uid, target_type=target_type)
    text = str(err.value)
    assert "STM32F405/407/415/417 (DBGMCU DEV_ID 0x413)" in text
    assert "not to an STM32H743 (DEV_ID 0x450)" in text


def test_read_protected_chip(h743):
    system, uid = h743
    system.inject(read_protected=True)
    with pytest.raises(TargetError) as err:
        connect(uid, target_type="cortex_m")
    assert "read-protected (RDP level 1, option byte 0xBB)" in str(err.value)
    assert "RDP=0xAA" in str(err.value) and "mass-erases" in str(err.value)


def test_virtual_time_follows_the_wire_model(target, h743):
    """64 KiB into RAM: 16384 DRW transfers of 46 SWD clocks at 4 MHz, plus a few replies."""
    system, _ = h743
    before = system.now_s
    target.write_memory(0x24010000, bytes(0x10000))
    wire = 0x10000 // 4 * 46 / 4e6
    assert wire <= system.now_s - before < wire * 1.05


def test_connect_under_reset_halts_at_the_reset_vector(h743, app_h7):
    system, uid = h743
    for address, data in app_h7.segments:
        system.machine.mem_write(address, data)
    t = connect(uid, target_type="cortex_m", connect="under-reset", on_close="halt")
    try:
        assert t.read_registers(("pc",))["pc"] == app_h7["reset_handler"] & ~1
        assert system.machine.mem_read(app_h7["counter"], 4) == bytes(4)  # never ran
        t.write_memory(app_h7["counter"], (7).to_bytes(4, "little"))
        t.reset(halt=True)
        assert t.read_registers(("pc",))["pc"] == app_h7["reset_handler"] & ~1
    finally:
        t.close()
    assert system.cores[0].halted  # on_close="halt" leaves it so
