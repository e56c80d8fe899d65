"""Real boards through a debug probe, with pyOCD: the :class:`PyocdTarget` backend.

:func:`open_probe_target` picks the probe (the only one connected, or the one whose unique ID
contains ``probe``), the pyOCD target type (given, or derived from the MCU part: a built-in
target or an installed CMSIS pack, else the generic ``cortex_m``), connects (normally, or under
reset), halts *every* core — the Cortex-M4 of a dual-core H7 too, so it cannot touch QUADSPI or
the clocks while a loader runs (``halt_other_cores``, on by default; when off, a failed call
says what the other cores did) — and checks that the chip is the one expected (DBGMCU DEV_ID)
and that its RAM can be reached (read protection). Connection failures are
:class:`ConnectError` (:class:`NoAnswerError` when nothing answers on SWD),
:class:`WrongChipError` and :class:`ReadProtectedError`, so ``extflash doctor`` can tell them
apart.

:meth:`PyocdTarget.wait` polls DHCSR: S_HALT and S_LOCKUP end a call, and the sticky
S_RESET_ST says the chip was reset under it (a watchdog).

A loader call (:meth:`PyocdTarget.run`) writes the registers, resumes the core and polls it
until it halts at the return breakpoint (the BKPT the runner plants, plus an FPB breakpoint when
the core can break there), reporting where it stopped otherwise: the PC, DFSR, and the fault
status (CFSR, HFSR, BFAR/MMFAR) caught by vector catch. :meth:`~PyocdTarget.start` and
:meth:`~PyocdTarget.wait` split a call so memory can be written while the loader runs — the
asynchronous capability (:class:`AsyncTarget`) that :class:`DoubleBufferedDriver` uses to
program one buffer while the next chunk travels into the other.

Probe problems become :class:`~extflash.errors.TargetError` with the usual remedies. Timeouts
are measured with the probe's clock when it has one (the virtual probe's virtual time),
otherwise with the host's; between polls the host waits a little (through the probe's ``idle``
when it has one, so the virtual core runs while the host "sleeps").
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from extflash.emu.cortexm import CFSR_BITS, HFSR_BITS, decode_bits
from extflash.errors import ConfigError, TargetError
from extflash.image import Chunk
from extflash.mcu import PartRef, find_part
from extflash.probe import ids
from extflash.target.base import CORE_REGISTERS, RunOutcome

log = logging.getLogger(__name__)

RESULT_REGISTERS = ("r0", "r1", "sp", "lr", "pc", "xpsr")
CONNECT_MODES = ("halt", "under-reset", "pre-reset", "attach")
ON_CLOSE = ("reset", "halt", "restore")
DHCSR = 0xE000EDF0
S_HALT, S_LOCKUP, S_RESET_ST = 1 << 17, 1 << 19, 1 << 25  # DHCSR status (Armv7-M C1.6.2)
DFSR, CFSR, HFSR, MMFAR, BFAR = 0xE000ED30, 0xE000ED28, 0xE000ED2C, 0xE000ED34, 0xE000ED38
DFSR_BITS = {0: "HALTED", 1: "BKPT", 2: "DWTTRAP", 3: "VCATCH", 4: "EXTERNAL"}
DFSR_BKPT, DFSR_VCATCH = 1 << 1, 1 << 3
# Between DHCSR polls the host waits 1/16 of the time the call has taken so far, within these
# bounds: short calls are seen promptly, long erases cost few polls.
POLL_MIN_S, POLL_MAX_S = 0.0002, 0.01
REMEDY_CONNECT = ("check that the board is powered, that SWDIO, SWCLK and GND (and NRST for "
                  "--connect under-reset) are wired, lower --frequency, or use --connect "
                  "under-reset if the firmware turns the debug pins off or sleeps")


class ConnectError(TargetError):
    """The connection to the chip failed (``extflash doctor`` tells why)."""


class NoAnswerError(ConnectError):
    """No target answered on the probe's SWD port."""


class WrongChipError(TargetError):
    """Another chip than the expected part answered (its DBGMCU DEV_ID is ``found``)."""

    def __init__(self, message: str, *, hint: str | None = None, found: int = 0) -> None:
        super().__init__(message, hint=hint)
        self.found = found


class ReadProtectedError(TargetError):
    """The debugger cannot reach RAM; ``level`` is the RDP level (None: protection is not
    the reason found)."""

    def __init__(self, message: str, *, hint: str | None = None,
                 level: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.level = level


@dataclass(frozen=True)
class ProbeOptions:
    """How to reach the board. ``pyocd_options`` are passed to pyOCD's session as they are."""

    probe: str | None = None  # unique ID or a part of it; None: the only probe connected
    target_type: str | None = None  # pyOCD target type; None: derived from the part
    frequency: int = 4_000_000  # SWD clock, Hz
    connect: str = "halt"  # "halt", "under-reset", "pre-reset" or "attach"
    on_close: str = "reset"  # "reset" (run the application), "halt", "restore" (RAM, registers)
    halt_other_cores: bool = True  # halt every core, not only the one running the loader
    pyocd_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.connect not in CONNECT_MODES:
            raise ConfigError(f"--connect must be one of {', '.join(CONNECT_MODES)}, "
                              f"not '{self.connect}'")
        if self.on_close not in ON_CLOSE:
            raise ConfigError(f"on_close must be one of {', '.join(ON_CLOSE)}, "
                              f"not '{self.on_close}'")
        if self.frequency <= 0:
            raise ConfigError(f"--frequency must be positive, not {self.frequency}")


@dataclass(frozen=True)
class HaltReport:
    """Evidence gathered when a call did not return: debug and fault status registers."""

    dfsr: int
    cfsr: int
    hfsr: int
    fault_address: int | None
    lockup: bool = False

    def describe(self) -> str:
        parts = []
        if self.cfsr or self.hfsr:
            parts.append(f"CFSR=0x{self.cfsr:08X} [{' '.join(decode_bits(self.cfsr, CFSR_BITS))}]"
                         f" HFSR=0x{self.hfsr:08X} [{' '.join(decode_bits(self.hfsr, HFSR_BITS))}]")
        if self.fault_address is not None:
            parts.append(f"fault address 0x{self.fault_address:08X}")
        if self.dfsr:
            parts.append(f"DFSR [{' '.join(decode_bits(self.dfsr, DFSR_BITS))}]")
        return "; ".join(parts)


# -- errors ------------------------------------------------------------------------------------

def _pyocd() -> Any:
    try:
        import pyocd  # noqa: F401
        from pyocd.core import exceptions
    except ImportError as exc:  # pragma: no cover - pyOCD is a dependency
        raise TargetError("pyOCD is not installed", hint="pip install pyocd") from exc
    return exceptions


@contextmanager
def probe_errors(what: str, hint: str | None = None) -> Iterator[None]:
    """pyOCD failures during ``what`` become one TargetError."""
    exceptions = _pyocd()
    try:
        yield
    except TargetError:
        raise
    except exceptions.TransferFaultError as exc:
        raise TargetError(f"{what} failed: the target refused a debug access ({exc})",
                          hint=hint or "the chip may be read-protected or in a low-power mode; "
                          "try --connect under-reset") from exc
    except exceptions.TransferError as exc:
        raise TargetError(f"{what} failed: the target stopped answering ({exc})",
                          hint=hint or REMEDY_CONNECT) from exc
    except exceptions.Error as exc:
        raise TargetError(f"{what} failed: {exc}", hint=hint) from exc


# -- probe and target-type selection -----------------------------------------------------------

def list_probes(probe: str | None = None) -> list[Any]:
    """The connected probes (pyOCD objects) whose unique ID contains ``probe``."""
    _pyocd()
    from pyocd.probe.aggregator import DebugProbeAggregator

    with probe_errors("listing debug probes"):
        return list(DebugProbeAggregator.get_all_connected_probes(unique_id=probe))


def choose_probe(probe: str | None) -> Any:
    probes = list_probes(probe)
    if not probes:
        if probe:
            raise TargetError(f"no debug probe with ID '{probe}' is connected",
                              hint="list probes with 'pyocd list'")
        raise TargetError("no debug probe found",
                          hint="connect an ST-LINK, CMSIS-DAP or J-Link probe; on Linux install "
                          "the probe's udev rules so it can be opened without root")
    if len(probes) > 1:
        listing = ", ".join(f"{p.unique_id} ({p.description})" for p in probes)
        raise TargetError(f"{len(probes)} debug probes are connected: {listing}",
                          hint="choose one with --probe ID (a unique part of its ID is enough)")
    return probes[0]


def target_type_candidates(part: PartRef) -> list[str]:
    """pyOCD target names that may describe ``part``: pack-style full names, built-in names."""
    base = part.part.name.lower()
    suffix = part.suffix.lower()
    names = []
    if len(suffix) >= 3:
        names.append(base + suffix[:-1] + "x")  # CMSIS-pack Dname: STM32H747XIHx
    if len(suffix) >= 2:
        names += [base + suffix[:2], base + "x" + suffix[1]]
    names.append(base + "xx")
    return list(dict.fromkeys(names))


def derive_target_type(part: PartRef) -> str:
    """A built-in or installed-pack pyOCD target for ``part``, else ``cortex_m``."""
    from pyocd.target import TARGET

    candidates = target_type_candidates(part)
    for name in candidates:
        if name in TARGET:
            return name
    try:
        from pyocd.target.pack.pack_target import ManagedPacks

        installed = {d.part_number.lower() for d in ManagedPacks.get_installed_targets()}
    except Exception:
        installed = set()
    for name in candidates:
        if name in installed:
            return name
    log.info("pyOCD knows no target for %s (tried %s); using the generic cortex_m target, "
             "without internal-flash support", part.part.name, ", ".join(candidates))
    return "cortex_m"


# -- the target --------------------------------------------------------------------------------

def open_probe_target(part: PartRef | str, options: ProbeOptions | None = None) -> PyocdTarget:
    """Connect to the board with ``part`` through a debug probe; see the module docs."""
    ref = find_part(part) if isinstance(part, str) else part
    opts = options or ProbeOptions()
    exceptions = _pyocd()
    from pyocd.core.session import Session

    probe = choose_probe(opts.probe)
    target_type = opts.target_type or derive_target_type(ref)
    pyocd_options: dict[str, Any] = {
        "target_override": target_type,
        "frequency": opts.frequency,
        "connect_mode": opts.connect,
        "resume_on_disconnect": False,
        "warning.cortex_m_default": False,
        **opts.pyocd_options,
    }
    defaults = dict(getattr(probe, "session_option_defaults", {}))
    session = Session(probe, options=pyocd_options, option_defaults=defaults,
                      project_dir=os.getcwd())
    where = f"connecting to {ref.part.name} through {probe.description} ({probe.unique_id})"
    try:
        try:
            session.open()
        except AssertionError as exc:  # pyOCD's STM32 targets assert on DBGMCU DEV_ID
            found = re.search(r"0x([0-9a-fA-F]+) did not match", str(exc))
            if found:
                raise _wrong_chip(ref, int(found.group(1), 16)) from exc
            raise ConnectError(f"{where} failed: {exc}") from exc
        except exceptions.Error as exc:
            if "not detected" in str(exc) or isinstance(exc, exceptions.TransferError):
                raise NoAnswerError(f"{where} failed: no target answers on the probe's SWD port",
                                    hint=REMEDY_CONNECT) from exc
            raise ConnectError(f"{where} failed: {exc}", hint=REMEDY_CONNECT) from exc
        target = PyocdTarget(session, ref, opts, target_type)
        target.check_identity()
        target.halt()
        target.resume_other_cores()
        target.check_access()
        return target
    except BaseException:
        _close_quietly(session)
        raise


def _wrong_chip(part: PartRef, found: int) -> TargetError:
    expected = ids.dev_id(part.part)
    return WrongChipError(
        f"the probe is connected to {ids.dev_id_names(found)} (DBGMCU DEV_ID 0x{found:03X}), "
        f"not to an {part.part.name} (DEV_ID 0x{expected:03X})",
        hint="check --mcu/--board, or that the probe is plugged into the right board",
        found=found)


def _close_quietly(session: Any) -> None:
    try:
        session.close()
    except Exception:
        log.debug("closing the pyOCD session failed", exc_info=True)


class PyocdTarget:
    """A board behind a debug probe, driven through a pyOCD session."""

    cheap_reads = False  # every byte crosses the wire: compare with on-target CRC

    def __init__(self, session: Any, part: PartRef, options: ProbeOptions,
                 target_type: str) -> None:
        self.session = session
        self.part = part
        self.options = options
        self.target_type = target_type
        self.soc = session.target
        cores = dict(self.soc.cores)
        if not cores:
            raise ConnectError(f"pyOCD found no CPU core behind {session.probe.unique_id}",
                               hint=REMEDY_CONNECT)
        self.cores = [cores[k] for k in sorted(cores)]
        self.core = self.cores[0]
        clock = getattr(session.probe, "clock_s", None)
        self._virtual_clock = clock is not None
        self._idle: Callable[[float], None] = getattr(session.probe, "idle", time.sleep)
        self._started: tuple[int, float] | None = None
        self._vector_catch_set = False
        self._breakpoints: set[int] = set()
        self._saved_ram: list[tuple[int, bytes]] = []
        self._pending_registers: dict[str, int] = {}
        self._saved_registers: dict[str, int] | None = None
        self.other_cores_note = ""  # what cores left running did during the last call
        self.closed = False

    # -- description ----------------------------------------------------------------------------
    @property
    def description(self) -> str:
        probe = self.session.probe
        cores = ", ".join(getattr(c, "name", "core") for c in self.cores)
        return f"{self.part.part.name} via {probe.description} {probe.unique_id} ({cores})"

    def now(self) -> float:
        if self._virtual_clock:
            return float(self.session.probe.clock_s)
        return time.monotonic()

    # -- connection checks ------------------------------------------------------------------------
    def check_identity(self) -> None:
        """The DBGMCU DEV_ID must be the part's (another chip answers on the wire otherwise)."""
        try:
            expected = ids.dev_id(self.part.part)
        except ConfigError:
            return  # no table entry: nothing to compare with
        with probe_errors("reading DBGMCU_IDCODE"):
            found = self.core.read32(ids.dbgmcu_address(self.part.part)) & 0xFFF
        if found != expected:
            raise _wrong_chip(self.part, found)

    def check_access(self) -> None:
        """Reading the loader RAM must work; if not, say whether read protection is on."""
        exceptions = _pyocd()
        address = self.part.family.loader_ram_base
        try:
            self.core.read32(address)
            return
        except exceptions.TransferError as exc:
            error = exc
        rdp = self._rdp_level()
        if rdp is not None and (level := ids.rdp_level(rdp)):
            raise ReadProtectedError(
                f"{self.part.part.name} is read-protected (RDP level {level}, option byte "
                f"0x{rdp:02X}): the debugger cannot reach its RAM or flash",
                hint="setting RDP back to 0xAA (level 0) mass-erases the internal flash: "
                "STM32_Programmer_CLI -c port=SWD -ob RDP=0xAA" if level == 1 else
                "level 2 is permanent: this chip cannot be debugged any more",
                level=level) from error
        raise ReadProtectedError(f"the debugger cannot read {self.part.part.name} RAM at "
                                 f"0x{address:08X} ({error})",
                                 hint="try --connect under-reset") from error

    def _rdp_level(self) -> int | None:
        reg = ids.rdp_register(self.part.family)
        if reg is None:
            return None
        address, shift, _mirrors = reg
        try:
            return int(self.core.read32(address) >> shift & 0xFF)
        except Exception:
            return None

    # -- memory and registers ---------------------------------------------------------------------
    def read_memory(self, address: int, size: int) -> bytes:
        with probe_errors(f"reading {size} bytes at 0x{address:08X}"):
            return bytes(self.core.read_memory_block8(address, size))

    def write_memory(self, address: int, data: bytes) -> None:
        if self.options.on_close == "restore" and self._saved_registers is not None:
            self._save_ram(address, len(data))
        with probe_errors(f"writing {len(data)} bytes at 0x{address:08X}"):
            self.core.write_memory_block8(address, bytes(data))

    def read_registers(self, names: tuple[str, ...] = CORE_REGISTERS) -> dict[str, int]:
        self._write_pending_registers()
        with probe_errors("reading core registers"):
            values = self.core.read_core_registers_raw(list(names))
        return dict(zip(names, (int(v) for v in values), strict=True))

    def write_registers(self, values: Mapping[str, int]) -> None:
        """Registers are sent with the next read or call start (one batch of probe commands)."""
        self._pending_registers.update({k: v & 0xFFFFFFFF for k, v in values.items()})

    def _write_pending_registers(self) -> None:
        if self._pending_registers:
            pending, self._pending_registers = self._pending_registers, {}
            with probe_errors("writing core registers"):
                self.core.write_core_registers_raw(list(pending), list(pending.values()))

    # -- run control ------------------------------------------------------------------------------
    @property
    def halted_cores(self) -> list[Any]:
        """The cores halted around loader calls: all of them, or the loader's core alone when
        ``halt_other_cores`` is off."""
        return self.cores if self.options.halt_other_cores else [self.core]

    def halt(self) -> None:
        """Halt the cores (every core by default); a core that does not halt is an error (it
        could disturb the loader)."""
        from pyocd.core.target import Target as PyocdTargetApi

        halted = PyocdTargetApi.State.HALTED
        with probe_errors("halting the cores"):
            for core in self.halted_cores:
                state = core.get_state()
                if state != halted:
                    core.halt()
                    state = core.get_state()
                if state != halted:
                    raise TargetError(f"core #{core.core_number} ({core.name}) does not halt "
                                      f"(state {state.name})",
                                      hint="try --connect under-reset")
        if self.options.on_close == "restore" and self._saved_registers is None:
            self._saved_registers = self.read_registers()

    def resume_other_cores(self) -> None:
        """With ``halt_other_cores`` off, the cores pyOCD halted on connecting run again, as
        they did before (the loader's core stays halted)."""
        from pyocd.core.target import Target as PyocdTargetApi

        with probe_errors("resuming the other cores"):
            for core in self.cores:
                if core not in self.halted_cores and (
                        core.get_state() == PyocdTargetApi.State.HALTED):
                    core.resume()

    def _prepare(self, stop_at: int) -> None:
        from pyocd.core.target import Target as PyocdTargetApi

        vc = PyocdTargetApi.VectorCatch
        if not self._vector_catch_set:
            with probe_errors("setting vector catch"):
                self.core.set_vector_catch(vc.HARD_FAULT | vc.BUS_FAULT | vc.MEM_FAULT
                                           | vc.INTERRUPT_ERR | vc.STATE_ERR | vc.CHECK_ERR
                                           | vc.COPROCESSOR_ERR)
            self._vector_catch_set = True
        if stop_at not in self._breakpoints:
            fpb = getattr(self.core, "fpb", None)
            if fpb is not None and fpb.can_support_address(stop_at):
                with probe_errors("setting the return breakpoint"):
                    if self.core.set_breakpoint(stop_at, PyocdTargetApi.BreakpointType.HW):
                        self._breakpoints.add(stop_at)

    def start(self, pc: int, *, stop_at: int) -> None:
        """Resume at ``pc`` (Thumb); the call runs until :meth:`wait` sees it halt."""
        if self._started is not None:
            raise RuntimeError("a call is already running on this target")
        self.halt()
        self._prepare(stop_at)
        self._pending_registers["pc"] = pc & ~1
        self._write_pending_registers()
        self._other_cores(clear=True)
        with probe_errors("starting a loader call"):
            self.core.read32(DHCSR)  # clears the sticky S_RESET_ST of earlier resets
            self.core.resume()
        self._started = (stop_at & ~1, self.now())

    def wait(self, timeout_s: float) -> RunOutcome:
        """Poll DHCSR until the running call halts, locks up, or the chip resets under it
        (S_RESET_ST, sticky until read), or ``timeout_s``; the core is halted after."""
        if self._started is None:
            raise RuntimeError("no call is running on this target")
        stop_at, start = self._started
        self._started = None
        with probe_errors("waiting for a loader call"):
            while True:
                dhcsr = self.core.read32(DHCSR)
                now = self.now()
                if dhcsr & (S_HALT | S_LOCKUP | S_RESET_ST) or now - start > timeout_s:
                    break
                self._idle(min(POLL_MAX_S, max(POLL_MIN_S, (now - start) / 16),
                               max(0.0, start + timeout_s - now)))
            elapsed = now - start
            halted = bool(dhcsr & S_HALT) and not dhcsr & S_RESET_ST
            if not halted:
                self.core.halt()
            registers = self.read_registers(RESULT_REGISTERS)
            pc = registers["pc"] & ~1
            self.other_cores_note = self._other_cores()
            if halted and pc == stop_at:
                return RunOutcome("returned", pc, elapsed, registers)
            report = self._halt_report(lockup=bool(dhcsr & S_LOCKUP))
        if dhcsr & S_RESET_ST:
            reason = "reset"
        elif dhcsr & S_LOCKUP:
            reason = "lockup"
        elif not halted:
            reason = "timeout"
        elif report.dfsr & DFSR_VCATCH:
            reason = "fault"
        elif report.dfsr & DFSR_BKPT:
            reason = "breakpoint"
        else:
            reason = "halted"
        summary = report.describe()
        if reason == "timeout":
            summary = f"still running, halted by the host at 0x{pc:08X}" + (
                f"; {summary}" if summary else "")
        if reason == "reset":
            summary = (f"the chip was reset while the call ran (DHCSR.S_RESET_ST after "
                       f"{elapsed:.3g} s): an independent watchdog started by hardware (IWDG "
                       "option byte), a brown-out or the NRST pin; 'extflash doctor' reads the "
                       "option bytes")
        others = self.other_cores_note
        if others:
            summary = f"{summary}; meanwhile {others}" if summary else f"meanwhile {others}"
        return RunOutcome(reason, pc, elapsed, registers, detail=report, summary=summary)

    def _other_cores(self, *, clear: bool = False) -> str:
        """What the cores left running did during the call: the virtual probe names their
        peripheral accesses; on a real board only that they ran is known."""
        running = [c for c in self.cores if c not in self.halted_cores]
        if not running:
            return ""
        activity = getattr(self.session.probe, "other_cores_activity", None)
        if activity is not None:
            text = str(activity(clear=clear))
            return text + " (halt it with --halt-other-cores)" if text else ""
        names = ", ".join(f"core #{c.core_number} ({c.name})" for c in running)
        return f"{names} kept running (--no-halt-other-cores) and may have disturbed the loader"

    def run(self, pc: int, *, stop_at: int, timeout_s: float) -> RunOutcome:
        self.start(pc, stop_at=stop_at)
        return self.wait(timeout_s)

    def _halt_report(self, *, lockup: bool) -> HaltReport:
        dfsr, cfsr, hfsr, mmfar, bfar = (self.core.read32(a) for a in (DFSR, CFSR, HFSR, MMFAR,
                                                                        BFAR))
        address = bfar if cfsr & (1 << 15) else mmfar if cfsr & (1 << 7) else None
        return HaltReport(dfsr, cfsr, hfsr, address, lockup)

    # -- reset and close --------------------------------------------------------------------------
    def reset(self, *, halt: bool = True) -> None:
        self._pending_registers.clear()
        with probe_errors("resetting the target"):
            if halt:
                self.core.reset_and_halt()
                for core in self.halted_cores[1:]:
                    core.halt()
            else:
                self.core.reset()
        self._vector_catch_set = False
        self._breakpoints.clear()

    def _save_ram(self, address: int, size: int) -> None:
        for start, data in self._saved_ram:
            if start <= address and address + size <= start + len(data):
                return
        with probe_errors("saving RAM before overwriting it"):
            self._saved_ram.append((address, bytes(self.core.read_memory_block8(address, size))))

    def close(self) -> None:
        """Leave the board as asked (reset and run, halted, or restored), then disconnect.

        Best effort: a board that cannot be reset or restored any more (it stopped answering,
        which the operation in progress has usually reported already) is logged, not raised.
        """
        if self.closed:
            return
        self.closed = True
        try:
            with probe_errors("leaving the target"):
                for address in self._breakpoints:
                    self.core.remove_breakpoint(address)
                if self.options.on_close == "reset":
                    self.core.reset()
                elif self.options.on_close == "restore":
                    self._restore()
        except TargetError as exc:
            log.warning("%s", exc)
        finally:
            _close_quietly(self.session)

    def _restore(self) -> None:
        for address, data in reversed(self._saved_ram):
            self.core.write_memory_block8(address, data)
        if self._saved_registers is not None:
            self.write_registers(self._saved_registers)
            self._write_pending_registers()
        self.core.set_vector_catch(0)
        for core in self.cores:
            core.resume()

    # -- internal flash ---------------------------------------------------------------------------
    def program_internal(self, chunks: Sequence[Chunk],
                         progress: Callable[[str, int, int], None] | None = None) -> int:
        """Program ``chunks`` into the MCU's internal flash with pyOCD's own flash algorithm."""
        from pyocd.core.memory_map import MemoryType
        from pyocd.flash.loader import FlashLoader

        total = sum(len(c.data) for c in chunks)
        flash = list(self.soc.memory_map.iter_matching_regions(type=MemoryType.FLASH))
        outside = [c for c in chunks if not any(r.contains_range(c.address, length=len(c.data))
                                                for r in flash)]
        if outside:
            raise TargetError(
                f"pyOCD target '{self.target_type}' has no flash algorithm for "
                + ", ".join(f"0x{c.address:08X}..0x{c.end - 1:08X}" for c in outside),
                hint="install the part's CMSIS pack ('pyocd pack install "
                f"{target_type_candidates(self.part)[0]}') or give --target-type")

        def report(fraction: float) -> None:
            if progress is not None:
                progress("internal", int(fraction * total), total)

        with probe_errors("programming the internal flash"):
            loader = FlashLoader(self.session, progress=report, smart_flash=True)
            for c in chunks:
                loader.add_data(c.address, c.data)
            loader.commit()
        self._vector_catch_set = False
        self._breakpoints.clear()
        return total


# -- a session on a real board -------------------------------------------------------------------


def open_probe_session(loader: Any, part: PartRef | str, *, probe: ProbeOptions | None = None,
                       options: Any = None, progress: Any = None,
                       double_buffer: bool = True) -> Any:
    """An :class:`extflash.api.Session` for ``loader`` (path or Loader) on the board behind the
    probe. ``part`` is the MCU (a board's ``.part``); ``options`` are the runner's DriverOptions.
    Writes are double-buffered when the loader's RAM allows it; ``program`` also programs the
    image's internal-flash segments with pyOCD's flash algorithm for the part."""
    from extflash import api
    from extflash.loader.model import Loader, open_loader

    ldr = loader if isinstance(loader, Loader) else open_loader(loader)
    target = open_probe_target(part, probe)
    try:
        return api.Session(ldr, target, options=options, progress=progress,
                           double_buffer=double_buffer)
    except BaseException:
        target.close()
        raise
