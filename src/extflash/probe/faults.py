"""Failures the virtual probe and board can be given, to prove the connection doctor on them.

A :class:`Faults` value comes from the API (``VirtualSystem.inject(...)``, or ``faults=``) or
from a board file's ``[faults]`` table (:func:`faults_from_table`); the board's ``supply``
(the way VCORE is powered on the PCB) is the other half of the H7 supply lock-up.

What each one does, and the silicon fact behind it:

* ``no_probe`` / ``probe_busy`` / ``probe_firmware``: the probe is absent, held by another
  program (opening it fails), or runs old firmware (ST-LINK firmware before V2J24 is refused by
  pyOCD; before V2J28 it reaches AP0 only, so not the Cortex-M4 of a dual-core H7 nor the core
  of an H7R/S, which sits behind AP1);
* ``target_voltage``: what the probe measures on its VDD sense pin (None: 3.3 V). Below the
  parts' 1.62 V minimum (VDD operating range in the H7 datasheets) the chip does not answer;
* ``swd_remapped`` / ``low_power`` (+ ``dbgmcu_low_power``): the application in flash turns
  PA13/PA14 into GPIOs, or enters Stop/Standby without the DBGMCU_CR DBGSTOP/DBGSTBY bits, which
  switches the debug port's clock off (RM0433 DBGMCU "Low-power mode emulation"). Either holds
  only while the application runs: under NRST the pins are in their reset state (SWD, AF0) and
  a connection under reset halts the core at the reset vector, before the application;
* ``max_swd_hz``: the wiring does not carry a faster SWD clock (long flying leads);
* ``app_supply``: the supply scheme the application programs into PWR_CR3 (LDO, SMPS...).
  On an H7 the supply configuration must match the PCB; a wrong one stops the part, and since
  the application does it again right after every power-on, the part locks up *from the next
  power-on* on: no debug connection, under reset or not (ST FAQ "Unable to connect to STM32H7
  devices"). ``boot0`` high runs the system bootloader instead of the application (the recovery);
* ``rdp`` (0, 1, 2; ``read_protected`` is level 1) and ``product_state`` (H7R/S: "open",
  "closed"...), ``boot_address`` (BOOT_ADD0 option byte: where the core starts with BOOT0 low),
  ``iwdg_hardware`` (IWDG1_SW option cleared: the watchdog starts at reset and resets the part
  when not reloaded in time — 4096 x 4 / 32 kHz = 0.512 s with the reset prescaler and reload,
  RM0433 IWDG; ``iwdg_timeout_s`` overrides it), ``bcm4`` (dual-core: the option byte that
  boots the Cortex-M4).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from extflash.board import SUPPLIES
from extflash.errors import ConfigError

LOW_POWER_MODES = ("stop", "standby")
VDD_MIN_V = 1.62  # lowest VDD of the STM32H7 (and F7/L4) operating conditions
PRODUCT_STATES = ("open", "closed")  # H7R/S FLASH_NVSR.NVSTATE (RM0477)
# the faults that take one of a few names
CHOICES = (("app_supply", SUPPLIES), ("low_power", LOW_POWER_MODES),
           ("product_state", PRODUCT_STATES))


@dataclass
class Faults:
    """Problems a test (or a board file's ``[faults]`` table) can inject."""

    # the wire
    silent: bool = False  # the target stopped answering (no ACK on any transfer)
    silent_after: int | None = None  # ... from this many probe transactions on
    dpidr: int | None = None  # another chip on the wire: this DPIDR ...
    dev_id: int | None = None  # ... and this DBGMCU DEV_ID
    max_swd_hz: int | None = None  # no ACK when the SWD clock is faster
    # the probe
    no_probe: bool = False
    probe_busy: bool = False
    probe_firmware: str | None = None  # e.g. "V2J20S4"; None: a current firmware
    target_voltage: float | None = None  # volts on the probe's VDD sense; None: 3.3 V
    # what the application in flash does once it runs
    swd_remapped: bool = False
    low_power: str | None = None  # "stop" or "standby"
    dbgmcu_low_power: bool = False  # ... with DBGMCU_CR DBGSTOP/DBGSTBY set
    app_supply: str | None = None  # supply scheme written to PWR_CR3
    boot0: bool = False  # BOOT0 pin high: the system bootloader runs, not the application
    # option bytes
    read_protected: bool = False  # RDP level 1 (kept for the API: same as rdp=1)
    rdp: int = 0
    product_state: str | None = None
    boot_address: int | None = None
    iwdg_hardware: bool = False
    iwdg_timeout_s: float | None = None  # None: from the IWDG's PR and RLR
    bcm4: bool | None = None  # None: the part's default

    @property
    def rdp_level(self) -> int:
        return max(self.rdp, 1 if self.read_protected else 0)

    @property
    def blocks_swd(self) -> str:
        """What the running application does that silences SWD ("" when nothing)."""
        if self.swd_remapped:
            return "the application reconfigures the SWD pins (PA13/PA14)"
        if self.low_power and not self.dbgmcu_low_power:
            return (f"the application enters {self.low_power.capitalize()} mode without the "
                    "DBGMCU debug bits")
        return ""

    def check(self, where: str = "faults") -> None:
        """Refuse values the model does not know, with where they came from."""
        for name, allowed in CHOICES:
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ConfigError(f"{where}: {name} '{value}' is not one of {', '.join(allowed)}")
        if self.rdp not in (0, 1, 2):
            raise ConfigError(f"{where}: rdp must be 0, 1 or 2, not {self.rdp}")


FAULT_NAMES = tuple(f.name for f in fields(Faults))


def faults_from_table(table: dict[str, Any], where: str) -> Faults:
    """A board file's ``[faults]`` table as :class:`Faults` (unknown keys are refused)."""
    unknown = sorted(set(table) - set(FAULT_NAMES))
    if unknown:
        raise ConfigError(f"{where}: unknown fault {', '.join(map(repr, unknown))}",
                          hint=f"known faults: {', '.join(FAULT_NAMES)}")
    faults = Faults(**table)
    faults.check(where)
    return faults

