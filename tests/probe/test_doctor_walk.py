"""The connection walk (extflash.doctor) through the API, on virtual systems plugged in by tests."""

from __future__ import annotations

import pytest
from probe_support import Firmware


def test_h7rs_core_behind_ap1_and_product_states(plugged):
    """STM32H7R/S: the core's AHB-AP is AP1 (no AP0); a Closed part answers on the debug port
    but refuses its access ports."""
    from extflash import mcu
    from extflash.doctor import walk
    from extflash.emu.machine import Machine
    from extflash.probe import VirtualSystem

    system = VirtualSystem(Machine(mcu.find_part("STM32H7S7")))
    uid = plugged(system)
    report = walk(system.part, probe=uid)
    assert report.exit_code == 0, report.render()
    assert report.chip["device"] == "STM32H7R3/R7/S3/S7"
    assert report.chip["option_bytes"]["product_state"] == "open (0xB4)"
    assert "core-ap" in [f.code for f in report.findings]
    system.inject(product_state="closed")
    report = walk(system.part, probe=uid)
    assert report.exit_code == 3
    assert report.first_error is not None and report.first_error.code == "product-state"
    assert "product state is not Open" in report.first_error.text
    assert "DPIDR 0x6BA02477 with NRST held" in "\n".join(report.render())


DISCO = "stm32h747i-disco"  # no pyOCD built-in target: cortex_m connects as it is asked


@pytest.fixture(scope="module")
def misbehave(build_elf):
    """``misbehave(*variants)``: the disco board powered on with misbehave.c built with
    ``-D<variant>`` each in its internal flash (the application has not run yet)."""
    from extflash.probe import VirtualSystem

    def boot(*variants: str) -> VirtualSystem:
        flags = [f"-D{v}" for v in variants]
        app = Firmware.read(build_elf("probe-misbehave-" + "-".join(variants),
                                      ["../probe/firmware/misbehave.c"],
                                      "../probe/firmware/app_h7.ld", cflags=flags))
        system = VirtualSystem.for_board(DISCO)
        system.load_internal_flash(app.segments)
        system.power_cycle()
        return system

    return boot


def test_firmware_taking_the_swd_pins(plugged, misbehave):
    """Real firmware in internal flash turns PA13/PA14 into outputs: the normal connection gets
    no answer, connecting under reset halts the core before it runs."""
    from extflash.doctor import walk

    system = misbehave("TAKE_SWD_PINS")
    system.elapse(10_000_000_000)  # 10 us: the application runs
    assert "reconfigured PA13 (output, AF0)" in system.silent_reason
    report = walk(system.part, probe=plugged(system), target_type="cortex_m")
    assert report.connected_with == "connecting under reset", report.render()
    assert report.findings[0].code == "connected-after-retry"


def test_firmware_with_the_wrong_supply_locks_up_after_the_next_power_on(plugged, misbehave):
    from extflash.doctor import walk

    system = misbehave("DIRECT_SMPS")
    system.supply = "ldo"
    system.elapse(10_000_000_000)  # the application writes PWR_CR3 = direct SMPS ...
    assert system.programmed_supply == "smps" and system.dp.answering  # ... this session lives
    system.power_cycle()
    assert system.silent_reason == "supply lock-up"
    report = walk(system.part, probe=plugged(system), target_type="cortex_m", supply="ldo")
    assert report.exit_code == 3 and report.first_error is not None
    assert report.first_error.code == "supply-lockup" and "board's ldo" in report.first_error.text
    system.inject(boot0=True)  # the recovery: BOOT0 high and a full power cycle
    system.power_cycle()
    assert walk(system.part, probe=plugged(system), target_type="cortex_m").exit_code == 0


@pytest.mark.parametrize(("variants", "connected_with"),
                         [(("STOP_MODE",), "connecting under reset"),
                          (("STOP_MODE", "KEEP_DEBUG"), "normal connection")])
def test_firmware_in_stop_mode(plugged, misbehave, variants, connected_with):
    """Stop mode (SLEEPDEEP + WFI) switches the debug port off unless DBGMCU_CR keeps it."""
    from extflash.doctor import walk

    system = misbehave(*variants)
    system.elapse(10_000_000_000)
    assert ("Stop mode" in system.silent_reason) == ("KEEP_DEBUG" not in variants)
    report = walk(system.part, probe=plugged(system), target_type="cortex_m")
    assert report.connected_with == connected_with, report.render()


@pytest.mark.parametrize(("variants", "boots"), [(("IWDG_START",), 4),
                                                 (("IWDG_START", "IWDG_RELOAD"), 1)])
def test_firmware_started_watchdog(misbehave, variants, boots):
    """IWDG started by firmware (KR 0xCCCC, RLR 100: 12.6 ms): unreloaded, it resets the part
    again and again; reloaded (KR 0xAAAA), never."""
    system = misbehave(*variants)
    system.machine.mem_write(0x20010000, bytes(4))
    for _ in range(45):  # 45 ms, in the 1 ms waits of a polling host
        system.elapse(10**12)
    assert int.from_bytes(system.machine.mem_read(0x20010000, 4), "little") == boots
