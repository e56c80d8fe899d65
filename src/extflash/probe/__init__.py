"""A virtual debug probe: pyOCD drives extflash's emulated STM32 as if it were a real board.

* :mod:`extflash.probe.dap` — the SWD debug port and MEM-APs (transfer level);
* :mod:`extflash.probe.core` — halting debug of a core (DHCSR/DCRSR/DCRDR/DEMCR/DFSR, FPB);
* :mod:`extflash.probe.ids` — the identification values (DPIDR, DEV_ID, CoreSight IDs);
* :mod:`extflash.probe.system` — the chip's debug view: APs, cores, reset, virtual time;
* :mod:`extflash.probe.plugin` — the pyOCD ``DebugProbe`` plugin (UID ``virtual:<board>``).

Typical use in a test::

    system = VirtualSystem(machine)             # or VirtualSystem.for_board("stm32h747i-disco")
    register()                                  # unless installed with the entry point
    uid = plug_in(system)                       # "virtual:stm32h743"
    target = open_probe_target(part, probe=uid) # extflash.target.pyocd_target
"""

# pyOCD loads its probe plugins (this one too, through extflash.probe.entry) while it is being
# imported; importing it before this package's modules keeps that from running into them.
import pyocd  # noqa: F401

from extflash.probe.entry import VirtualProbePlugin
from extflash.probe.faults import Faults
from extflash.probe.plugin import VirtualProbe, plug_in, register, unplug
from extflash.probe.system import VirtualSystem, WireTiming

__all__ = [
    "Faults",
    "VirtualProbe",
    "VirtualProbePlugin",
    "VirtualSystem",
    "WireTiming",
    "plug_in",
    "register",
    "unplug",
]
