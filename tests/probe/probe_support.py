"""Helpers shared by the probe tests (imported by name: pytest puts this directory on the path)."""

from __future__ import annotations

from extflash import mcu
from extflash.emu.machine import Machine
from extflash.probe import VirtualSystem

FAST_RESET = {"reset.hold_time": 0.0, "reset.post_delay": 0.0}


def machine_system(part: str, **kwargs) -> VirtualSystem:
    """A virtual system on a bare machine (no board, no external flash)."""
    return VirtualSystem(Machine(mcu.find_part(part)), **kwargs)
