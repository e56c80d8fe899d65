"""The connection walk of ``extflash doctor``: probe, power, SWD, chip, option bytes.

Each step records what it saw (:class:`Step`); what it means for the user is a
:class:`~extflash.doctor.findings.Finding`. The walk stops at the first step nothing after it
can get past (no probe, no power, no answer) and otherwise connects and reads the chip: DBGMCU
IDCODE (part and revision), flash size, the cores and their state, and the option bytes that
matter for external flash (RDP, boot address, hardware watchdog, BCM4 on dual-core parts).

When the normal connection gets no answer, the walk retries the way an experienced user would
and names the one that made the difference: a lower SWD frequency, a connection under reset
(the core stops at the reset vector, before an application can take the SWD pins or sleep), and
holding NRST while reading the debug port's DPIDR.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from extflash.doctor.findings import ERROR, Finding, finding
from extflash.errors import ExtflashError, TargetError
from extflash.mcu import PartRef
from extflash.probe import ids

log = logging.getLogger(__name__)

LOW_FREQUENCY_HZ = 400_000  # the retry's SWD clock: what long flying leads still carry
NO_VOLTAGE_V = 0.5
ST_LINK_MIN_J, ST_LINK_AP_J = 24, 28  # pyOCD's minimum; other APs than AP0 from V2J28

# (label, connect mode, low frequency, what to tell the user when this one worked)
RETRIES: tuple[tuple[str, str, bool, str], ...] = (
    ("a lower SWD frequency", "halt", True,
     "use --frequency {low} (shorter SWD wires carry more)"),
    ("connecting under reset", "under-reset", False,
     "use --connect under-reset: the application turns the SWD pins into GPIOs or enters a "
     "low-power mode without the DBGMCU debug bits; fix it so it keeps SWD (or sets "
     "DBGMCU_CR DBGSLEEP/DBGSTOP/DBGSTBY in debug builds)"),
    ("connecting under reset at a lower SWD frequency", "under-reset", True,
     "use --connect under-reset --frequency {low}"),
)


@dataclass
class Step:
    """One step of the doctor's walk and how it went."""

    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class DoctorReport:
    """What the walk saw (steps), what it means (findings), and the chip when connected."""

    steps: list[Step] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    chip: dict[str, Any] = field(default_factory=dict)
    connected_with: str = ""  # "" when no connection worked

    def step(self, name: str, ok: bool, detail: str) -> None:
        log.info("doctor: %s: %s", name, detail)
        self.steps.append(Step(name, ok, detail))

    def add(self, item: Finding) -> None:
        self.findings.append(item)

    @property
    def ok(self) -> bool:
        return bool(self.connected_with) and not any(f.severity == ERROR for f in self.findings)

    @property
    def exit_code(self) -> int:
        """0: connected and nothing in the way; 1: connected, but an error finding (read
        protection...); 3: the board could not be reached (TargetError's code)."""
        if not self.connected_with:
            return TargetError.exit_code
        return 0 if self.ok else 1

    @property
    def first_error(self) -> Finding | None:
        return next((f for f in self.findings if f.severity == ERROR), None)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "connected_with": self.connected_with or None, "chip": self.chip,
                "steps": [s.as_dict() for s in self.steps],
                "findings": [f.as_dict() for f in self.findings]}

    def render(self) -> list[str]:
        lines = [f"{'ok ' if s.ok else 'FAIL'} {s.name}: {s.detail}" for s in self.steps]
        for f in self.findings:
            lines.append(f"{f.severity}: {f.text}")
            if f.recovery:
                lines.append(f"  recovery: {f.recovery}")
        if self.ok:
            lines.append("the board is ready for extflash")
        return lines


def walk(part: PartRef, *, probe: str | None = None, frequency: int = 4_000_000,
         target_type: str | None = None, supply: str | None = None,
         pyocd_options: dict[str, Any] | None = None) -> DoctorReport:
    """Walk the connection to ``part`` through the probe ``probe`` (see the module docs).
    ``supply`` is the board's supply scheme when known (for the H7 supply lock-up text)."""
    with _quiet_pyocd():
        return _walk(part, probe, frequency, target_type, supply, pyocd_options or {})


@contextmanager
def _quiet_pyocd() -> Iterator[None]:
    """The failed attempts are the walk's evidence, not errors: pyOCD's own log stays quiet."""
    logger = logging.getLogger("pyocd")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _walk(part: PartRef, probe: str | None, frequency: int, target_type: str | None,
          supply: str | None, pyocd_options: dict[str, Any]) -> DoctorReport:
    from extflash.target import pyocd_target as pt

    report = DoctorReport()
    options = pt.ProbeOptions(probe=probe, target_type=target_type, frequency=frequency,
                              on_close="halt", pyocd_options=pyocd_options)
    found = _find_probe(report, probe)
    if found is None:
        return report
    if not _check_probe(report, found, part):
        return report
    target = _connect(report, part, options, supply)
    if target is None:
        return report
    try:
        _read_chip(report, target, part)
    finally:
        target.close()
    return report


# -- probe ----------------------------------------------------------------------------------------

def _find_probe(report: DoctorReport, probe: str | None) -> Any:
    from extflash.target.pyocd_target import list_probes

    try:
        probes = list_probes(probe)
    except TargetError as exc:
        report.step("probe", False, exc.message)
        report.add(finding("no-probe", detail=f" ({exc.message})"))
        return None
    if not probes:
        report.step("probe", False, "none connected" + (f" with ID '{probe}'" if probe else ""))
        report.add(finding("no-probe", detail=f" with ID '{probe}'" if probe else ""))
        return None
    if len(probes) > 1:
        listing = ", ".join(f"{p.unique_id} ({p.description})" for p in probes)
        report.step("probe", False, listing)
        report.add(finding("several-probes", count=len(probes), probes=listing))
        return None
    found = probes[0]
    report.step("probe", True, f"{found.description} ({found.unique_id})")
    return found


def _firmware(probe: Any) -> str | None:
    version = getattr(probe, "firmware_version", None)
    if version is None:  # pyOCD's ST-LINK keeps it on its link object
        version = getattr(getattr(probe, "_link", None), "_version_str", None)
    return None if version is None else str(version)


def _voltage(probe: Any) -> float | None:
    try:
        volts = getattr(probe, "target_voltage", None)
        if volts is None and hasattr(getattr(probe, "_link", None), "get_target_voltage"):
            volts = probe._link.get_target_voltage()
    except Exception:  # a probe that cannot measure it
        log.debug("reading the target voltage failed", exc_info=True)
        return None
    return None if volts is None else float(volts)


def _check_probe(report: DoctorReport, probe: Any, part: PartRef) -> bool:
    """Firmware, opening (busy?) and target voltage; False when the walk cannot go on."""
    from pyocd.core import exceptions

    try:
        probe.open()
    except exceptions.Error as exc:
        report.step("open the probe", False, str(exc))
        report.add(finding("probe-busy", probe=probe.unique_id, detail=exc))
        return False
    try:
        version = _firmware(probe)
        volts = _voltage(probe)
    finally:
        probe.close()
    if version is not None:
        ok = _check_firmware(report, version, part)
        report.step("probe firmware", ok, version)
        if not ok:
            return False
    if volts is None:
        report.step("target voltage", True, "not measured by this probe")
        return True
    from extflash.probe.faults import VDD_MIN_V

    ok = volts >= VDD_MIN_V
    report.step("target voltage", ok, f"{volts:.2f} V")
    if volts < NO_VOLTAGE_V:
        report.add(finding("no-target-voltage", volts=volts))
    elif not ok:
        report.add(finding("low-target-voltage", volts=volts, vmin=VDD_MIN_V))
    return ok


def _check_firmware(report: DoctorReport, version: str, part: PartRef) -> bool:
    m = re.match(r"V(\d)J(\d+)", version)
    if m is None or int(m.group(1)) >= 3:
        return True
    jtag = int(m.group(2))
    if jtag < ST_LINK_MIN_J:
        report.add(finding("probe-firmware-refused", version=version))
        return False
    debug = part.family.debug
    core_ap = debug.core_ap if debug is not None else 0
    if jtag < ST_LINK_AP_J and core_ap:
        report.add(finding("probe-firmware-ap", version=version, part=part.part.name,
                           ap=core_ap))
        return False
    if jtag < ST_LINK_AP_J and part.part.second_core is not None:
        report.add(finding("probe-firmware-m4", version=version, part=part.part.name))
    return True


# -- connection -----------------------------------------------------------------------------------

def _connect(report: DoctorReport, part: PartRef, options: Any, supply: str | None) -> Any:
    from extflash.target import pyocd_target as pt

    low = min(LOW_FREQUENCY_HZ, options.frequency)
    attempts: list[tuple[str, Any, str]] = [("normal connection", options, "")]
    attempts += [(label, replace(options, connect=mode,
                                 frequency=low if slow else options.frequency), remedy)
                 for label, mode, slow, remedy in RETRIES]
    refused = ""  # an attempt that reached the debug port but not the core
    for label, opts, remedy in attempts:
        try:
            target = pt.open_probe_target(part, opts)
        except pt.NoAnswerError:
            report.step(label, False, f"no answer at {opts.frequency / 1e6:g} MHz "
                        f"(--connect {opts.connect})")
            continue
        except pt.WrongChipError as exc:
            report.step(label, False, "another chip answers")
            expected = ids.dev_id(part.part)
            report.add(finding("wrong-chip", found_name=ids.dev_id_names(exc.found),
                               found=exc.found, part=part.part.name, expected=expected))
            report.connected_with = label
            return None
        except pt.ReadProtectedError as exc:
            report.step(label, True, f"connected; {exc.message}")
            report.connected_with = label
            if exc.level is None:
                report.add(finding("no-core", detail=exc.message))
            else:
                report.add(finding("read-protected", part=part.part.name, level=exc.level,
                                   byte=ids.rdp_byte(exc.level), remedy=exc.hint or ""))
            return None
        except TargetError as exc:
            report.step(label, False, exc.message)
            refused = exc.message
            continue
        report.step(label, True, f"connected at {opts.frequency / 1e6:g} MHz "
                    f"(--connect {opts.connect})")
        report.connected_with = label
        if remedy:
            report.add(finding("connected-after-retry", strategy=label,
                               remedy=remedy.format(low=low)))
        return target
    _no_answer(report, part, options, supply, refused)
    return None


def _no_answer(report: DoctorReport, part: PartRef, options: Any, supply: str | None,
               refused: str) -> None:
    """Nothing connected: does the debug port answer with NRST held? Then say what it is."""
    held = _dpidr_under_reset(options)
    if held is not None:
        report.step("hold NRST", held != 0, f"DPIDR 0x{held:08X} with NRST held" if held
                    else "no DPIDR with NRST held either")
    debug = part.family.debug
    if refused:
        states = debug is not None and bool(debug.states)
        report.add(finding("product-state" if states else "no-core", part=part.part.name,
                           detail=refused))
        return
    if debug is not None and debug.supply_lockup and not held:
        report.add(finding("supply-lockup", part=part.part.name,
                           supply=supply or "LDO or SMPS, as wired"))
        return
    more = ("; the debug port answers while NRST is held, so the chip is alive: an application "
            "that stops SWD at once, or a boot that locks the core" if held else "")
    report.add(finding("no-ack", held=", NRST held" if held is not None else "", more=more))


def _dpidr_under_reset(options: Any) -> int | None:
    """Hold NRST and read DPIDR through raw SWD sequences (probes that offer them); 0 when
    nothing answers, None when the probe cannot do it."""
    from pyocd.core import exceptions
    from pyocd.probe.debug_probe import DebugProbe

    from extflash.target.pyocd_target import choose_probe

    try:
        probe = choose_probe(options.probe)
    except ExtflashError:
        return None
    if DebugProbe.Capability.SWJ_SEQUENCE not in probe.capabilities:
        return None
    try:
        probe.open()
    except exceptions.Error:
        return None
    try:
        probe.connect(DebugProbe.Protocol.SWD)
        probe.set_clock(min(LOW_FREQUENCY_HZ, options.frequency))
        probe.assert_reset(True)
        ones = (1 << 56) - 1
        for length, bits in ((56, ones), (16, 0xE79E), (56, ones), (8, 0)):
            probe.swj_sequence(length, bits)  # line reset, JTAG-to-SWD, line reset, idle
        try:
            return int(probe.read_dp(0))
        except exceptions.TransferError:
            return 0
        finally:
            probe.assert_reset(False)
    except exceptions.Error:
        return 0
    finally:
        probe.disconnect()
        probe.close()


# -- the chip ------------------------------------------------------------------------------------

def _read_chip(report: DoctorReport, target: Any, part: PartRef) -> None:
    read = _reader(target)
    debug = part.family.debug
    chip: dict[str, Any] = {"part": part.part.name}
    idcode = read(ids.dbgmcu_address(part.part))
    if idcode is not None:
        dev, rev = idcode & 0xFFF, idcode >> 16
        names = ids.dev_id_names(dev)
        revision = debug.revisions.get(rev, f"0x{rev:04X}") if debug else f"0x{rev:04X}"
        chip.update(dev_id=f"0x{dev:03X}", device=names, revision=revision)
        report.step("chip", True, f"{names} (DEV_ID 0x{dev:03X}), revision {revision}")
    size_reg = part.family.flash_size_register
    if size_reg is not None:
        word = read(size_reg & ~3)
        if word is not None:
            kib = (word >> 8 * (size_reg & 2)) & 0xFFFF
            chip["flash_kib"] = kib
            report.step("flash size", True, f"{kib} KiB")
    cores = [{"name": getattr(c, "name", "core"), "state": c.get_state().name.lower()}
             for c in target.cores]
    chip["cores"] = cores
    report.step("cores", True, ", ".join(f"{c['name']} {c['state']}" for c in cores))
    if debug is not None:
        _option_bytes(report, chip, read, debug, part, target)
    report.chip = chip


def _reader(target: Any) -> Callable[[int], int | None]:
    def read(address: int) -> int | None:
        try:
            return int(target.core.read32(address))
        except Exception:
            log.debug("reading 0x%08X failed", address, exc_info=True)
            return None

    return read


def _option_bytes(report: DoctorReport, chip: dict[str, Any], read: Callable[[int], int | None],
                  debug: Any, part: PartRef, target: Any) -> None:
    if debug.core_ap:
        report.add(finding("core-ap", ap=debug.core_ap))
    options: dict[str, Any] = {}
    if debug.state_register is not None:
        state = read(debug.state_register)
        if state is not None:
            byte = state & 0xFF
            options["product_state"] = f"{debug.states.get(byte, 'closed')} (0x{byte:02X})"
    optsr = read(debug.rdp_register) if debug.rdp_register is not None else None
    if optsr is not None:
        rdp = optsr >> debug.rdp_lsb & 0xFF
        options["rdp"] = f"0x{rdp:02X} (level {ids.rdp_level(rdp)})"
    if optsr is not None and debug.iwdg_sw_bit is not None:
        hardware = not optsr >> debug.iwdg_sw_bit & 1
        options["iwdg"] = "hardware" if hardware else "software"
        if hardware:
            report.add(finding("iwdg-hardware"))
    if optsr is not None and debug.bcm4_bit is not None and part.part.second_core is not None:
        bcm4 = bool(optsr >> debug.bcm4_bit & 1)
        options["bcm4"] = int(bcm4)
        report.add(finding("m4-boots" if bcm4 else "m4-not-booted"))
    if debug.boot_register is not None:
        boot = read(debug.boot_register)
        if boot is not None:
            address = (boot & 0xFFFF) << 16
            options["boot_add0"] = f"0x{address:08X}"
            _check_boot(report, target, part, address)
    if options:
        chip["option_bytes"] = options
        report.step("option bytes", True, ", ".join(f"{k} {v}" for k, v in options.items()))


def _check_boot(report: DoctorReport, target: Any, part: PartRef, address: int) -> None:
    """Is there a vector table where the core boots?"""
    if any(w.start <= address < w.start + w.size for w in part.family.windows):
        try:
            target.core.read32(address)
        except Exception:
            report.add(finding("boot-unmapped", address=address))
            return
    try:
        sp = int(target.core.read32(address))
    except Exception:
        report.add(finding("boot-unmapped", address=address))
        return
    if sp == 0xFFFFFFFF:
        flash = next((m.start for m in part.part.memory if m.kind == "flash"), None)
        report.add(finding("flash-empty" if address == flash else "boot-empty",
                           address=address))


def explain(part: PartRef, *, probe: str | None, frequency: int,
            target_type: str | None = None, supply: str | None = None) -> str:
    """One line for a failed ``--target probe`` connection: what the walk found and the
    recovery (empty when the walk found nothing more); ``supply`` as for :func:`walk`."""
    try:
        result = walk(part, probe=probe, frequency=frequency, target_type=target_type,
                      supply=supply)
    except ExtflashError as exc:
        log.debug("the connection walk failed: %s", exc)
        return ""
    relevant = result.first_error or next(iter(result.findings), None)
    if relevant is None:
        return ""
    text = f"extflash doctor: {relevant.text}"
    return text + (f"; {relevant.recovery}" if relevant.recovery else "")
