"""The pyOCD entry point of the virtual probe (``pyocd.probe`` group, name ``virtual``).

pyOCD loads its probe plugins while ``import pyocd`` is still running, so this module imports
nothing of extflash's at module level: the probe implementation is imported only when pyOCD
asks for it (:meth:`VirtualProbePlugin.load`), by which time pyOCD's own modules exist.
"""

from __future__ import annotations

from typing import Any

from pyocd.core.plugin import Plugin

PLUGIN_NAME = "virtual"


class VirtualProbePlugin(Plugin):
    """pyOCD plugin entry: ``virtual:<board>`` probes backed by extflash's virtual board."""

    def load(self) -> Any:
        from extflash.probe.plugin import VirtualProbe

        return VirtualProbe

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def description(self) -> str:
        return "extflash virtual probe (emulated STM32 board)"

    @property
    def options(self) -> list[Any]:
        from extflash.probe.plugin import OPTIONS

        return OPTIONS
