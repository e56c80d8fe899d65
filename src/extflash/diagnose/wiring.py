"""The pins a loader routed to the memory controller against the board's wiring and valid pins.

The loader's routing is read back from the GPIO registers (mode AF plus the AF number of each
pin, looked up in the part's alternate-function table), so it works on any loader, whatever
its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from extflash import board as boards
from extflash import mcu

# Signals a loader may leave unrouted when it never uses them: DQS is sampled only by reads
# with CCR.DQSE=1 (RM0455 OCTOSPI "DQS"), NCLK only in differential-clock mode, NCS2 only for
# a second chip select. A loader that does need one fails its reads there (the controller
# model samples nothing valid without the strobe), which the call checks report.
UNUSED_OK = ("dqs", "nclk", "ncs2")


@dataclass(frozen=True)
class SignalWiring:
    """One controller signal: where the board has it, where the loader put it."""

    signal: str  # "clk", "bk1_ncs", "bk1_io0", ...
    board_pin: str | None  # None: the board does not use this signal
    board_af: int | None
    board_pin_state: str  # "AF10", "analog", "AF9 (GPIOB clock off)"
    loader_pins: tuple[str, ...]  # "PB10 (AF9)" for every pin the loader routed it to
    valid: tuple[str, ...]  # the part's pins for this signal: "PB6 (AF10)", ...

    @property
    def ok(self) -> bool:
        return self.board_pin is None or self.board_pin_state == f"AF{self.board_af}"

    def problem(self) -> str | None:
        """One sentence when the chip cannot get this signal, else None."""
        name = self.signal.upper()
        if self.board_pin is None:
            if self.loader_pins:
                return (f"{name}: the loader routes it to {', '.join(self.loader_pins)}, but "
                        f"this board has nothing on {name}")
            return None
        if self.ok or (self.signal in UNUSED_OK and not self.loader_pins):
            return None
        elsewhere = [p for p in self.loader_pins if not p.startswith(self.board_pin + " ")]
        text = (f"{name}: the board wires it to {self.board_pin} (needs AF{self.board_af}), "
                f"but {self.board_pin} is {self.board_pin_state}")
        if elsewhere:
            text += f"; the loader routes {name} to {', '.join(elsewhere)} instead"
        else:
            text += f"; the loader never routes {name} to any pin"
        return text + f" (valid pins for {name}: {', '.join(self.valid) or 'none'})"


def _pin_state(vb: Any, pin: str) -> str:
    state = vb.machine.gpio.pin(pin)
    text = f"AF{state.af}" if state.mode == "af" else f"in {state.mode} mode"
    if not vb.machine.rcc.is_enabled(f"GPIO{pin[1]}"):
        text += f" (GPIO{pin[1]} clock off)"
    return text


def _routed(vb: Any, table: dict[str, dict[str, int]]) -> dict[str, list[str]]:
    """signal -> pins the GPIO currently routes it to (AF mode, matching AF, port clocked)."""
    by_pin: dict[tuple[str, int], list[str]] = {}
    for signal, pins in table.items():
        for pin, af in pins.items():
            by_pin.setdefault((pin, af), []).append(signal)
    out: dict[str, list[str]] = {}
    for letter, port in vb.machine.gpio.ports.items():
        clocked = vb.machine.rcc.is_enabled(f"GPIO{letter}")
        for number in range(16):
            state = port.pin(number)
            if state.mode != "af":
                continue
            for signal in by_pin.get((state.name, state.af), []):
                note = "" if clocked else f", GPIO{letter} clock off"
                out.setdefault(signal, []).append(f"{state.name} (AF{state.af}{note})")
    return out


def port_signal_pins(part: mcu.PartRef, controller: str, port: int | None
                     ) -> dict[str, dict[str, int]]:
    """``{signal: {pin: af}}`` for an OCTOSPI/XSPI memory: the pin table's signals of the
    IO-manager port (``OCTOSPIM_P2_IO5``, ``XSPIM_P1_NCS1``) or of the controller itself
    (``OCTOSPI1_IO5`` on parts without a manager), named port-relative (``io5``, ``ncs``)."""
    prefixes = ((f"OCTOSPIM_P{port}_", f"XSPIM_P{port}_") if port is not None
                else (f"{controller}_",))
    rename = {"ncs1": "ncs", "dqs0": "dqs"}
    table: dict[str, dict[str, int]] = {}
    for row in mcu.pin_functions(part):
        prefix = next((p for p in prefixes if row.signal.startswith(p)), None)
        if prefix is None or "_" in row.pin:  # PC2_C-style analog-switch pads
            continue
        name = row.signal[len(prefix):].lower()
        table.setdefault(rename.get(name, name), {})[row.pin] = row.af
    return table


def compare(vb: Any) -> list[SignalWiring]:
    """Every signal of the board's first memory's controller that the board wires or the
    loader routes, board order first."""
    memory = vb.board.memories[0]
    if memory.controller == "QUADSPI":
        table = boards.signal_pins(vb.board.part)
    else:
        port = next(iter(vb.qspi.banks.values())).port if vb.qspi.banks else None
        table = port_signal_pins(vb.board.part, memory.controller, port)
    routed = _routed(vb, table)
    order = [w.signal for w in memory.wires]
    order += sorted(s for s in routed if s not in order)
    rows = []
    for signal in order:
        wire = memory.wire(signal)
        valid = tuple(f"{p} (AF{af})" for p, af in sorted(
            table.get(signal, {}).items(), key=lambda kv: (kv[0][1], int(kv[0][2:]))))
        rows.append(SignalWiring(
            signal=signal,
            board_pin=wire.pin if wire else None,
            board_af=wire.af if wire else None,
            board_pin_state=_pin_state(vb, wire.pin) if wire else "",
            loader_pins=tuple(routed.get(signal, [])),
            valid=valid,
        ))
    return rows


def _port(vb: Any) -> int | None:
    """The IO-manager port the board's first memory is wired to (None: no IO manager)."""
    bank = next(iter(vb.qspi.banks.values()), None)
    return bank.port if bank is not None else None


def port_problems(vb: Any) -> list[str]:
    """Why the controller's signals do not reach the port the board wires the memory to, before
    any pin: the port's I/O supply (H7R/S PWR_CSR2.EN_XSPIMn, RM0477: the XSPIM_Pn I/Os stay
    isolated until it is set) and the IO manager's mapping (OCTOSPIM PnCR, XSPIM CR MODE/MUXEN:
    RM0455/RM0477 "I/O manager")."""
    port = _port(vb)
    if port is None:
        return []
    name = vb.qspi.name
    out = []
    pwr = vb.machine.peripherals.get("PWR")
    if pwr is not None and hasattr(pwr, "xspim_supply") and not pwr.xspim_supply(port):
        out.append(f"the XSPIM port {port} I/O supply is off (PWR_CSR2.EN_XSPIM{port}=0): no "
                   f"{name} signal reaches the port's pins until it is set")
    iom = vb.io_manager
    if iom is not None:
        instance = int(name[-1]) if name[-1].isdigit() else 1
        why = next((w for signal in ("clk", "ncs", "io0")
                    if (w := iom.route(instance, port, signal)) is not None), None)
        if why is not None:
            out += [f"the board wires the memory to {iom.name} port {port}, but {why}",
                    port_map(vb, iom)]
    return out


PORT_GROUPS = (("clk", "CLK"), ("ncs", "NCS"), ("dqs", "DQS"), ("io0", "IO[3:0]"),
               ("io4", "IO[7:4]"))


def port_map(vb: Any, iom: Any) -> str:
    """Which controller drives which signal group of each IO-manager port now: ``XSPIM now:
    port 1 CLK, NCS, DQS, IO[3:0], IO[7:4] from XSPI2; port 2 from no controller``."""
    family = vb.board.part.family
    controllers = [c.name for c in family.controllers if c.io_manager == iom.name]
    ports = []
    for port in range(1, getattr(iom, "ports", 2) + 1):
        groups: dict[str, list[str]] = {}
        for signal, label in PORT_GROUPS:
            for name in controllers:
                if iom.route(int(name[-1]), port, signal) is None:
                    groups.setdefault(name, []).append(label)
                    break
        ports.append(f"port {port} " + ("; ".join(f"{', '.join(g)} from {name}"
                                                 for name, g in groups.items())
                                        or "from no controller"))
    return f"{iom.name} now: " + ", ".join(ports)


def problems(vb: Any) -> list[str]:
    """The wiring problems, one sentence each (empty when the loader matches the board)."""
    return [*port_problems(vb), *(p for row in compare(vb) if (p := row.problem()) is not None)]


def fix(vb: Any) -> str:
    """What to change when the controller's signals do not reach the chip."""
    name = vb.qspi.name
    port = _port(vb)
    if port is None:
        return f"route the {name} signals to the pins the board wires the chip to"
    pwr = vb.machine.peripherals.get("PWR")
    if pwr is not None and hasattr(pwr, "xspim_supply") and not pwr.xspim_supply(port):
        return (f"switch the port's supply on before using it: PWR_CSR2.EN_XSPIM{port}=1 "
                f"(HAL_PWREx_EnableXSPIM{port}())")
    iom = vb.io_manager.name if vb.io_manager is not None else "IO manager"
    return (f"give {name} port {port} in the {iom} (the port the board wires the memory to) and "
            f"route the port's signals to the pins the board wires")


def render(rows: list[SignalWiring]) -> list[str]:
    """A small table: signal, board pin and its state, the loader's pins."""
    out = [f"{'signal':<8} {'board':<12} {'board pin is':<26} loader routes it to"]
    for r in rows:
        board_pin = f"{r.board_pin} AF{r.board_af}" if r.board_pin else "-"
        mark = "" if r.ok else "  <-"
        out.append(f"{r.signal.upper():<8} {board_pin:<12} {r.board_pin_state or '-':<26} "
                   f"{', '.join(r.loader_pins) or '-'}{mark}")
    return out
