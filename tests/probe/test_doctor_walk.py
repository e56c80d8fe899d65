"""The connection walk (extflash.doctor) through the API, on virtual systems plugged in by tests."""

from __future__ import annotations


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
