"""Fixtures for the probe tests: virtual systems plugged into pyOCD, test firmware, sessions."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from probe_support import FAST_RESET, Firmware, machine_system

from extflash.probe import VirtualSystem, plug_in, register, unplug


@pytest.fixture(scope="session")
def calls_h7(build_elf) -> Firmware:
    return Firmware.read(build_elf("probe-calls-h7", ["../probe/firmware/calls.c"],
                                   "../probe/firmware/h7.ld", cpu="cortex-m7"))


@pytest.fixture(scope="session")
def app_h7(build_elf) -> Firmware:
    return Firmware.read(build_elf("probe-app-h7", ["../probe/firmware/vectors.c"],
                                   "../probe/firmware/app_h7.ld", cpu="cortex-m7"))


@pytest.fixture(scope="session", autouse=True)
def pyocd_plugin() -> None:
    register()


@pytest.fixture
def plugged():
    """``plugged(system) -> uid``; every system is unplugged after the test."""
    systems: list[VirtualSystem] = []

    def plug(system: VirtualSystem) -> str:
        systems.append(system)
        return plug_in(system)

    yield plug
    for s in systems:
        unplug(s)


@pytest.fixture
def h743(plugged) -> tuple[VirtualSystem, str]:
    system = machine_system("STM32H743ZI")
    return system, plugged(system)


@pytest.fixture
def pyocd_session(h743) -> Iterator:
    """An open pyOCD session on the virtual H743 (built-in stm32h743xx target)."""
    from pyocd.core.session import Session
    from pyocd.probe.aggregator import DebugProbeAggregator

    _system, uid = h743
    (probe,) = DebugProbeAggregator.get_all_connected_probes(uid)
    session = Session(probe, options={"target_override": "stm32h743xx", **FAST_RESET},
                      project_dir=os.getcwd())
    session.open()
    try:
        yield session
    finally:
        session.close()
