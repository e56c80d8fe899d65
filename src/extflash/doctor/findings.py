"""What ``extflash doctor`` can find, and how to recover: one table, one row per finding.

Each row is a code (stable, for ``--json`` and scripts), a severity, the text of what was found
and the recovery, both ``str.format`` templates over the values the walk measured. Severity
``error`` means extflash cannot program the board as it is; ``warning`` that it can, but
something will bite (a watchdog, a boot address); ``info`` is what the walk learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"

# Recovery of the H7 supply lock-up (ST FAQ "Unable to connect to STM32H7 devices").
SUPPLY_RECOVERY = (
    "set BOOT0 high (the system bootloader starts instead of the application), remove all power "
    "from the board (unplug it: a reset is not enough) and power it again, connect under reset "
    "and erase the internal flash (STM32_Programmer_CLI -c port=SWD mode=UR -e all, or pyocd "
    "erase --chip -O connect_mode=under-reset), then set BOOT0 low; fix the application's "
    "HAL_PWREx_ConfigSupply() to the board's supply ({supply})")

TABLE: dict[str, tuple[str, str, str]] = {
    "no-probe": (
        ERROR, "no debug probe found{detail}",
        "plug the probe in; on Linux install its udev rules (pyOCD's udev/ folder); 'pyocd list' "
        "shows what is seen"),
    "several-probes": (
        ERROR, "{count} debug probes are connected: {probes}",
        "choose one with --probe ID (a unique part of its ID is enough)"),
    "probe-busy": (
        ERROR, "the probe {probe} cannot be opened: another program holds it ({detail})",
        "close STM32CubeProgrammer, the IDE's debug session, OpenOCD or another pyOCD/extflash"),
    "probe-firmware-refused": (
        ERROR, "the probe firmware {version} is too old: pyOCD needs ST-LINK V2J24 or later",
        "update the probe firmware with STM32CubeProgrammer (Firmware upgrade)"),
    "probe-firmware-ap": (
        ERROR, "the probe firmware {version} reaches access port 0 only (ST-LINK before V2J28); "
        "{part} needs AP{ap}",
        "update the probe firmware with STM32CubeProgrammer (Firmware upgrade)"),
    "probe-firmware-m4": (
        WARNING, "the probe firmware {version} reaches access port 0 only (ST-LINK before "
        "V2J28): the Cortex-M4 of the {part} (AP3) cannot be halted, and its application may "
        "disturb the loader",
        "update the probe firmware with STM32CubeProgrammer (Firmware upgrade)"),
    "no-target-voltage": (
        ERROR, "no target voltage: the probe measures {volts:.2f} V on VDD",
        "power the board (USB or its supply) and check the probe's VDD/VREF wire"),
    "low-target-voltage": (
        ERROR, "target voltage too low: {volts:.2f} V on VDD (the part needs at least {vmin} V)",
        "check the board's supply and the probe's VDD/VREF wire"),
    "connected-after-retry": (
        WARNING, "the normal connection got no answer; {strategy} made the difference",
        "{remedy}"),
    "no-ack": (
        ERROR, "no answer on SWD in any mode (normal, lower frequency, under reset{held})",
        "check power, SWDIO, SWCLK, GND and NRST wiring{more}"),
    "product-state": (
        ERROR, "the debug port answers but no access port lets the debugger reach the core "
        "({detail}): the {part} product state is not Open (Closed: debug only after "
        "authentication)",
        "open debug with the OEM debug authentication (STM32CubeProgrammer -dbgauth / "
        "'Regression'), or keep the part Open while developing"),
    "no-core": (
        ERROR, "the debug port answers but the core cannot be reached ({detail})",
        "try --connect under-reset; check that --mcu/--board names the right part"),
    "supply-lockup": (
        ERROR, "{part} with a correct target voltage never answers, not even under reset: the "
        "H7 supply lock-up (an application that set a supply scheme other than the board's "
        "{supply} locks the part from the next power-on on), or RDP level 2",
        SUPPLY_RECOVERY),
    "wrong-chip": (
        ERROR, "the probe is connected to {found_name} (DBGMCU DEV_ID 0x{found:03X}), not to "
        "{part} (DEV_ID 0x{expected:03X})",
        "check --mcu/--board, or that the probe is plugged into the right board"),
    "read-protected": (
        ERROR, "{part} is read-protected: RDP level {level} (option byte 0x{byte:02X}); the "
        "debugger cannot reach its RAM or flash",
        "{remedy}"),
    "core-ap": (
        INFO, "the Cortex core is behind access port AP{ap}, not AP0 (a connection to AP0 "
        "fails); extflash uses AP{ap}",
        "with other tools select it (STM32_Programmer_CLI -c port=SWD ap={ap})"),
    "boot-empty": (
        WARNING, "the boot address option byte BOOT_ADD0 = 0x{address:08X} points at erased "
        "memory: after a reset the core fetches vector 0xFFFFFFFF and locks up",
        "set BOOT_ADD0 back to internal flash (STM32_Programmer_CLI -c port=SWD -ob "
        "BOOT_ADD0=0x0800; BOOT_CM7_ADD0 on dual-core parts), or program an application there"),
    "flash-empty": (
        INFO, "the internal flash at the boot address 0x{address:08X} is erased: no application "
        "runs after a reset (no harm to extflash)", ""),
    "boot-unmapped": (
        WARNING, "the boot address option byte BOOT_ADD0 = 0x{address:08X} points into the "
        "external-memory window, which nothing maps at reset: the core cannot boot from it",
        "boot from internal flash with code that maps the external memory, or set BOOT_ADD0 "
        "back to 0x0800 (internal flash)"),
    "iwdg-hardware": (
        WARNING, "the independent watchdog starts at reset (option byte IWDG1_SW = 0, hardware "
        "watchdog): a loader call longer than its timeout (0.5 s at reset settings) is reset, "
        "a chip or block erase most of all",
        "set the option byte IWDG1_SW = 1 (STM32_Programmer_CLI -c port=SWD -ob IWDG1_SW=1), or "
        "use a loader that reloads the IWDG (IWDG_KR = 0xAAAA) while it waits"),
    "m4-not-booted": (
        INFO, "the Cortex-M4 does not boot (option byte BCM4 = 0): it cannot disturb a loader",
        ""),
    "m4-boots": (
        INFO, "the Cortex-M4 boots (BCM4 = 1): extflash halts it before running a loader "
        "(--halt-other-cores)", ""),
}


@dataclass(frozen=True)
class Finding:
    """One finding of ``extflash doctor``, with what to do about it."""

    code: str
    severity: str
    text: str
    recovery: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "text": self.text,
                "recovery": self.recovery}


def finding(code: str, **values: Any) -> Finding:
    """The finding ``code`` with its texts filled in from ``values``."""
    severity, text, recovery = TABLE[code]
    return Finding(code, severity, text.format(**values), recovery.format(**values))
