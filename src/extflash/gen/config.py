"""Planning a loader: from a part, a chip, a bank layout and pins to every value the C project
needs (clock plan, QUADSPI settings, NOR commands, geometry, link addresses), validated."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from extflash import board as boards
from extflash import chips, mcu
from extflash.errors import ConfigError
from extflash.gen.clock import ClockPlan, FamilyClock, RegOp, enable_ops, family_clock, plan_clock
from extflash.gen.nor import NorParams, OctalParams, nor_params, octal_params, octal_top_hz

# nCS high time between commands: 50 ns covers tSHSL of the supported chips (W25Q 10/50 ns,
# MX25L 30 ns, MT25Q 20/50 ns, IS25LP 30 ns).
NCS_HIGH_NS = 50
GPIO_STRIDE = 0x400


@dataclass(frozen=True)
class PinSetting:
    """One pin of the generated set-up: its signal, port, AF and pull."""

    signal: str  # "clk", "bk1_io0", ...
    pin: str  # "PB2"
    gpio_base: int
    index: int
    af: int
    pull_up: bool


@dataclass(frozen=True)
class QspiSetting:
    """The QUADSPI set-up a generated loader writes."""

    prescaler: int
    clk_hz: int
    fsize: int
    csht: int
    dual_flash: bool
    bank2: bool


@dataclass(frozen=True)
class LoaderConfig:
    """Everything needed to render and build one loader."""

    name: str
    part: mcu.PartRef
    family: mcu.Family
    family_clock: FamilyClock
    memory: boards.Memory
    nor: NorParams
    hse_hz: int | None
    clock: ClockPlan
    enables: tuple[RegOp, ...]
    pins: tuple[PinSetting, ...]
    qspi: QspiSetting
    window_base: int
    ram_origin: int
    ram_length: int
    # OCTOSPI/XSPI only: the controller, the IO-manager port it drives (None without an IO
    # manager) and, for an octal chip, how it runs in 8S/8D
    controller: mcu.Controller | None = None
    port: int | None = None
    octal: OctalParams | None = None

    @property
    def chip(self) -> chips.ChipSpec:
        return self.nor.chip

    @property
    def chips_count(self) -> int:
        return 2 if self.qspi.dual_flash else 1

    @property
    def flash_size(self) -> int:
        return self.chip.size * self.chips_count

    @property
    def page_size(self) -> int:
        return self.chip.page_size * self.chips_count

    @property
    def sector_size(self) -> int:
        return self.nor.sector_size * self.chips_count

    @property
    def block_size(self) -> int:
        return self.nor.block_size * self.chips_count

    @property
    def interface(self) -> str:
        return self.family_clock.interface


def _normalise_pins(pins: dict[str, str], bank: boards.Bank) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, pin in pins.items():
        k = key.strip().lower()
        k = re.sub(r"^quadspi1?_", "", k)
        if k in ("ncs", "cs", "io0", "io1", "io2", "io3") and bank != "dual":
            k = f"bk{bank}_{'ncs' if k == 'cs' else k}"
        if k in out:
            raise ConfigError(f"pins: {k} given twice")
        out[k] = pin
    return out


def _bank(value: Any) -> boards.Bank:
    text = str(value).strip().lower()
    table: dict[str, boards.Bank] = {"1": 1, "2": 2, "dual": "dual"}
    if text not in table:
        raise ConfigError(f"bank must be 1, 2 or \"dual\", not {value!r}")
    return table[text]


def _ram(part: mcu.PartRef) -> tuple[int, int]:
    base = part.family.loader_ram_base
    region = part.part.ram_at(base)
    if region is None:
        raise ConfigError(f"{part.part.name}: no RAM at the loader base 0x{base:08X}")
    return base + 4, region.end - (base + 4)


def plan_loader(part: str | boards.Board, chip: str | None = None, bank: Any = 1,
                pins: dict[str, str] | None = None, hse_hz: int | None = None,
                name: str | None = None) -> LoaderConfig:
    """Validate a loader request and work out every setting of the generated project.

    ``part`` is a part number (``"STM32H743ZI"``) or a :class:`extflash.board.Board`, whose MCU,
    HSE, chip, bank and wiring are then used (``chip``/``bank``/``pins`` must be left out). On
    OCTOSPI/XSPI parts ``pins`` names port-relative signals (``clk``, ``ncs``, ``io0``..``io7``,
    ``dqs``) and ``bank`` is ignored.
    """
    if isinstance(part, boards.Board):
        if chip is not None or pins is not None:
            raise ConfigError("give either a board or chip/pins, not both")
        memory = part.memories[0]
        ref = part.part
        hse = hse_hz if hse_hz is not None else (part.hse_hz or None)
        default_name = part.name
    else:
        if chip is None or pins is None:
            raise ConfigError("plan_loader needs a chip and a pin map (or a board)")
        ref = mcu.find_part(part)
        spec = chips.find(chip)
        if "quadspi" in ref.family.interfaces:
            bank_v = _bank(bank)
            memory = boards.make_memory(ref, spec.name, bank_v, _normalise_pins(pins, bank_v),
                                        where="pins")
        else:  # OCTOSPI/XSPI: port-relative signals (clk, ncs, io0..io7, dqs); no banks
            memory, _ = boards.make_octal_memory(ref, spec.name, pins, where="pins")
        hse = hse_hz or None
        default_name = f"{ref.part.name}{ref.suffix}_{spec.name}"
    family = ref.family
    fam_clock = family_clock(family.id)
    spec = chips.find(memory.chip)
    nor = nor_params(spec)
    dual = memory.bank == "dual"
    count = 2 if dual else 1
    ctl_name = memory.controller
    controller = family.controller(ctl_name) if ctl_name != "QUADSPI" else None
    if (controller is None) != (fam_clock.interface == "quadspi"):
        raise ConfigError(f"{family.name}: the loader generator drives "
                          f"{fam_clock.interface.upper()} on this family, not {ctl_name}")

    window = next((w for w in family.windows if w.controller == ctl_name), None)
    if window is None:
        raise ConfigError(f"{family.name} has no {ctl_name} memory window")
    total = nor.chip.size * count
    if total > window.size:
        raise ConfigError(f"{nor.chip.name}{' x2' if dual else ''} ({total >> 20} MiB) is larger "
                          f"than the {window.size >> 20} MiB {ctl_name} window")

    clock = plan_clock(fam_clock, hse)
    octal_wired = memory.wire("io7") is not None
    max_hz = nor.read_max_hz
    if spec.octal is not None and octal_wired:
        max_hz = octal_top_hz(spec)
    prescaler = max(0, math.ceil(clock.qspi_kernel_hz / max_hz) - 1)
    if prescaler > 255:
        raise ConfigError(f"{nor.chip.name}: {max_hz} Hz needs a {ctl_name} prescaler "
                          f"above 255")
    clk_hz = clock.qspi_kernel_hz // (prescaler + 1)
    octal: OctalParams | None = None
    if spec.octal is not None and octal_wired:
        octal = octal_params(spec, clk_hz, has_dqs=memory.wire("dqs") is not None)
    csht = min(7, max(0, math.ceil(NCS_HIGH_NS * clk_hz / 1e9) - 1))
    qspi = QspiSetting(prescaler=prescaler, clk_hz=clk_hz, fsize=int(math.log2(total)) - 1,
                       csht=csht, dual_flash=dual, bank2=memory.bank == 2)

    pin_settings = []
    for w in memory.wires:
        gpio = family.peripherals.get(f"GPIO{w.port}")
        if gpio is None and "GPIOA" in family.peripherals:
            # GPIO ports sit 1 KiB apart from GPIOA on every STM32 (RM memory maps)
            gpio = family.peripherals["GPIOA"] + GPIO_STRIDE * (ord(w.port) - ord("A"))
        if gpio is None:
            raise ConfigError(f"{family.name}: no GPIO{w.port} base address in the family data")
        pull = w.signal.endswith("ncs") or (memory.io_pull_up and "io" in w.signal)
        pin_settings.append(PinSetting(w.signal, w.pin, gpio, w.index, w.af, pull))
    ports = [ord(p.pin[1]) - ord("A") for p in pin_settings]
    supplies: list[str] = []
    if controller is not None:
        if ord("G") - ord("A") in ports:
            supplies.append("vddio2")
        if memory.port is not None:
            supplies.append(f"port{memory.port}")
            if spec.voltage[1] <= 2.0:  # a 1.8 V part (1.65-2.0 V), as the I/O speed check
                supplies.append(f"low_voltage_port{memory.port}")

    origin, length = _ram(ref)
    return LoaderConfig(
        name=name or default_name,
        part=ref,
        family=family,
        family_clock=fam_clock,
        memory=memory,
        nor=nor,
        hse_hz=hse,
        clock=clock,
        enables=enable_ops(fam_clock, ports, ctl_name, io_manager=memory.port is not None,
                           supplies=tuple(supplies)),
        pins=tuple(pin_settings),
        qspi=qspi,
        window_base=window.start,
        ram_origin=origin,
        ram_length=length,
        controller=controller,
        port=memory.port,
        octal=octal,
    )
