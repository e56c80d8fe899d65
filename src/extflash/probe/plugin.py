"""The virtual debug probe as a pyOCD probe plugin.

:class:`VirtualProbe` implements pyOCD's ``DebugProbe`` at the level of DAP transfers, like a
CMSIS-DAP probe: pyOCD sends SWJ sequences, reads DPIDR, powers up the debug port, scans the
APs, walks the ROM tables, finds the cores and drives them through their debug registers, and
every transfer is answered by the :class:`~extflash.probe.system.VirtualSystem`. Nothing in
pyOCD is bypassed, so its commands, its flash algorithms and extflash's pyOCD backend all run
on the virtual board exactly as they would on a board behind a real probe.

Probes are found by unique ID ``virtual:<name>``:

* systems handed to :func:`plug_in` (tests and scripts keep a handle on the board);
* otherwise ``<name>`` is a shipped board (or board file) and a virtual board is created when
  the probe is opened, with the flash file and timing taken from the session options
  ``extflash.flash_file`` and ``extflash.timing``; the flash file is saved when it is closed.

Registration: the ``pyocd.probe`` entry point ``virtual = extflash.probe.entry:VirtualProbePlugin``
or, at run time, :func:`register`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any, ClassVar

from pyocd.core import exceptions
from pyocd.core.options import OptionInfo, add_option_set
from pyocd.probe.debug_probe import DebugProbe

from extflash.emu.clock import FS_PER_S
from extflash.errors import ExtflashError
from extflash.probe.dap import DP_RDBUFF, Ack
from extflash.probe.entry import PLUGIN_NAME
from extflash.probe.system import VirtualSystem

log = logging.getLogger(__name__)

UID_PREFIX = f"{PLUGIN_NAME}:"

_plugged: dict[str, VirtualSystem] = {}

OPTIONS = [
    OptionInfo("extflash.flash_file", str, None,
               "Flash contents file of the virtual board opened by a virtual:<board> probe."),
    OptionInfo("extflash.timing", str, "typical",
               "NOR timing of the virtual board: typical, max or fast."),
]


def plug_in(system: VirtualSystem) -> str:
    """Make ``system`` visible as a connected probe; returns its unique ID."""
    _plugged[system.name] = system
    return UID_PREFIX + system.name


def unplug(system: VirtualSystem) -> None:
    _plugged.pop(system.name, None)


def register() -> None:
    """Make the plugin known to pyOCD without the entry point (idempotent)."""
    from pyocd.probe import aggregator

    if PLUGIN_NAME not in aggregator.PROBE_CLASSES:
        aggregator.PROBE_CLASSES[PLUGIN_NAME] = VirtualProbe
        add_option_set(OPTIONS)


def _is_board(name: str) -> bool:
    """A shipped board name or a board file: a virtual board can be made for it."""
    from pathlib import Path

    from extflash import board as boards

    shipped = {b.lower() for b in boards.list_boards()}
    return name.lower() in shipped or (name.endswith(".toml") and Path(name).is_file())


def _board_faults(name: str) -> dict[str, Any]:
    """The ``[faults]`` table of the board a ``virtual:<board>`` probe stands for."""
    from extflash import board as boards

    try:
        return boards.load(name).faults
    except ExtflashError:
        return {}


def _raise_for(ack: Ack) -> None:
    if ack is Ack.OK:
        return
    if ack is Ack.FAULT:
        raise exceptions.TransferFaultError("SWD FAULT response (sticky error)")
    if ack is Ack.WAIT:
        raise exceptions.TransferTimeoutError("SWD WAIT response")
    raise exceptions.TransferError("no ACK from the target: SWDIO was not driven")


class VirtualProbe(DebugProbe):
    """A debug probe wired to a virtual board."""

    @classmethod
    def get_all_connected_probes(cls, unique_id: str | None = None,
                                 is_explicit: bool = False) -> Sequence[DebugProbe]:
        return [cls(name) for name in sorted(_plugged) if not _plugged[name].faults.no_probe]

    @classmethod
    def get_probe_with_id(cls, unique_id: str, is_explicit: bool = False) -> DebugProbe | None:
        name = unique_id.removeprefix(UID_PREFIX)
        if name.lower() in _plugged:
            return None if _plugged[name.lower()].faults.no_probe else cls(name.lower())
        if is_explicit and _is_board(name) and not _board_faults(name).get("no_probe"):
            return cls(name)
        return None

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.system: VirtualSystem | None = _plugged.get(name)
        self._owns_system = False
        self._is_open = False
        self._queued = False  # commands sent whose USB round trip is not paid yet
        self._protocol: DebugProbe.Protocol | None = None

    # -- description ---------------------------------------------------------------------------
    @property
    def vendor_name(self) -> str:
        return "extflash"

    @property
    def product_name(self) -> str:
        return f"virtual probe ({self.name})"

    @property
    def firmware_version(self) -> str:
        """The probe firmware, as an ST-LINK reports it (``V3J15M6``-style)."""
        system = self.system
        injected = system.faults.probe_firmware if system is not None else None
        return injected or "V3J15M6"

    @property
    def target_voltage(self) -> float:
        """What the probe measures on its VDD sense pin (volts)."""
        system = self._system()
        measured = system.faults.target_voltage
        return 3.3 if measured is None else measured

    @property
    def unique_id(self) -> str:
        return UID_PREFIX + self.name

    @property
    def supported_wire_protocols(self) -> Collection[DebugProbe.Protocol]:
        return [DebugProbe.Protocol.DEFAULT, DebugProbe.Protocol.SWD]

    @property
    def wire_protocol(self) -> DebugProbe.Protocol | None:
        return self._protocol

    @property
    def is_open(self) -> bool:
        return self._is_open

    @property
    def capabilities(self) -> set[DebugProbe.Capability]:
        return {DebugProbe.Capability.SWJ_SEQUENCE}

    @property
    def clock_s(self) -> float:
        """The virtual time (seconds): what extflash's pyOCD backend measures timeouts with."""
        return self._system().now_s

    def other_cores_activity(self, *, clear: bool = False) -> str:
        """What the board's other cores did to its peripherals (see VirtualSystem)."""
        return self._system().other_cores_activity(clear=clear)

    def idle(self, seconds: float) -> None:
        """The host waits ``seconds`` without traffic (the virtual core keeps running)."""
        self._system().elapse(int(seconds * FS_PER_S), transaction=False)

    # pyOCD sleeps between reset steps for real silicon; the virtual one needs no wall-clock waits.
    session_option_defaults: ClassVar[dict[str, float]] = {"reset.hold_time": 0.0,
                                                          "reset.post_delay": 0.0}

    # -- lifecycle -----------------------------------------------------------------------------
    def _system(self) -> VirtualSystem:
        if self.system is None:
            raise exceptions.ProbeError(f"virtual probe {self.unique_id} is not open")
        return self.system

    def open(self) -> None:
        if self.system is None:
            options = self.session.options if self.session is not None else None
            flash_file = options.get("extflash.flash_file") if options else None
            timing = (options.get("extflash.timing") if options else None) or "typical"
            try:
                self.system = VirtualSystem.for_board(self.name, flash_file=flash_file,
                                                      timing=timing)
            except ExtflashError as exc:
                raise exceptions.ProbeError(f"virtual probe {self.unique_id}: {exc}") from exc
            self._owns_system = True
        if self.system.faults.probe_busy:
            raise exceptions.ProbeError(f"virtual probe {self.unique_id} is in use by another "
                                        "program (it could not be opened)")
        self._is_open = True

    def close(self) -> None:
        if self.system is not None:
            self.system.flush()
            if self._owns_system:
                self.system = None
        self._is_open = False

    def connect(self, protocol: DebugProbe.Protocol | None = None) -> None:
        if protocol not in (None, DebugProbe.Protocol.DEFAULT, DebugProbe.Protocol.SWD):
            raise exceptions.ProbeError("the virtual probe speaks SWD only")
        self._protocol = DebugProbe.Protocol.SWD

    def disconnect(self) -> None:
        self._protocol = None

    def set_clock(self, frequency: float) -> None:
        if self.system is not None and frequency > 0:
            self.system.timing.swd_hz = int(frequency)
            self.system.update_wire()  # the wiring may not carry this clock

    # -- time on the wire ----------------------------------------------------------------------
    def _send(self, transfers: int) -> VirtualSystem:
        """Queue a command of ``transfers`` SWD transfers: it costs their wire time now; like
        CMSIS-DAP's queued transfers, the USB round trip is paid when the host needs a reply."""
        system = self._system()
        system.elapse(system.timing.transfers_fs(transfers))
        self._queued = True
        return system

    def _reply(self) -> None:
        if self._queued:
            system = self._system()
            system.elapse(system.timing.round_trip_fs, transaction=False)
            self._queued = False

    def _result(self, value: Any, now: bool) -> Any:
        if now:
            self._reply()
            return value

        def deferred() -> Any:
            self._reply()
            return value

        return deferred

    def flush(self) -> None:
        self._reply()

    # -- reset pin -----------------------------------------------------------------------------
    def reset(self) -> None:
        self.assert_reset(True)
        self.assert_reset(False)

    def assert_reset(self, asserted: bool) -> None:
        system = self._send(0)
        self._reply()
        system.set_reset_line(asserted)

    def is_reset_asserted(self) -> bool:
        return self._system().nreset

    # -- SWD -----------------------------------------------------------------------------------
    def swj_sequence(self, length: int, bits: int) -> None:
        system = self._send(0)
        self._reply()
        system.dp.swj_sequence(length, bits)

    def _transfer(self, ap: bool, read: bool, addr: int, value: int = 0) -> int:
        if read and ap:  # posted: the AP read, then RDBUFF for its data
            system = self._send(2)
            ack, _ = system.dp.transfer(True, True, addr & 0xC)
            _raise_for(ack)
            ack, data = system.dp.transfer(False, True, DP_RDBUFF)
        else:
            system = self._send(1)
            ack, data = system.dp.transfer(ap, read, addr & 0xC, value)
        _raise_for(ack)
        return data

    def read_dp(self, addr: int, now: bool = True) -> Any:
        return self._result(self._transfer(False, True, addr), now)

    def write_dp(self, addr: int, data: int) -> None:
        self._transfer(False, False, addr, data)

    def read_ap(self, addr: int, now: bool = True) -> Any:
        return self._result(self._transfer(True, True, addr), now)

    def write_ap(self, addr: int, data: int) -> None:
        self._transfer(True, False, addr, data)

    def read_ap_multiple(self, addr: int, count: int = 1, now: bool = True) -> Any:
        system = self._send(count + 1)
        if addr & 0xC == 0xC:
            ack, values = system.dp.read_drw_block(count)
            _raise_for(ack)
        else:
            values = []
            for _ in range(count):
                ack, _ = system.dp.transfer(True, True, addr & 0xC)
                _raise_for(ack)
                values.append(system.dp.rdbuff)
        return self._result(values, now)

    def write_ap_multiple(self, addr: int, values: Sequence[int]) -> None:
        system = self._system()
        if system.cores[0].running and not system.nreset:
            system.overlapped_bytes += 4 * len(values)
        self._send(len(values))
        if addr & 0xC == 0xC:
            _raise_for(system.dp.write_drw_block(list(values)))
            return
        for v in values:
            ack, _ = system.dp.transfer(True, False, addr & 0xC, v)
            _raise_for(ack)
