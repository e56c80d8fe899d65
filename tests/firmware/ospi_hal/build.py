"""Build recipes for the OCTOSPI/XSPI test loaders in this folder.

:func:`loader_build` turns a board description into the sources, linker script and flags to
hand to the ``build_elf`` test fixture::

    b = loader_build({"mcu": "STM32H7B3LI", "chip": "MX25LM51245G", "mode": "dtr",
                      "controller": "OCTOSPI1", "port": 1, "pins": {"clk": "PB2", ...}})
    elf = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                    cpu=b.cpu)

Board keys: ``mcu``; ``chip`` (a name from :data:`OCTAL_CHIPS` or the QUADSPI reference
loader's quad table, or a chip-facts object); ``mode`` (``"quad"`` for quad chips, ``"str"``
or ``"dtr"`` for octal ones; default ``"quad"`` / ``"dtr"``); ``controller`` (default the
family's first); ``port`` (IO-manager port, default the controller's number); ``pins``
(signal -> ``"PB2"`` or ``("PB2", af)``; signals ``clk``, ``ncs``, ``dqs``, ``io0``..``io7``;
the AF comes from extflash's pin table when omitted); ``max_clock_hz`` (bus clock ceiling,
default 50 MHz as the kits' Zephyr boards run them) and ``register_level`` (the word-wise
non-HAL driver variant, for the benchmark); ``faults`` (names from :data:`FAULTS`: the
loader is built with that mistake, for the diagnostics tests). :data:`KITS` holds the boards the
tests build.

Register addresses come from extflash's family data (controllers, IO manager, peripherals);
the RCC/PWR/SBS offsets and bits a loader needs beyond that are the per-family facts below,
each taken from the family's reference manual and checked against its SVD file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from halstyle.build import CHIPS as QUAD_CHIPS
from halstyle.build import QE_METHODS, ChipFacts

from extflash.board import Board, Memory, Wire
from extflash.errors import ConfigError
from extflash.mcu import Controller, Family, find_part, pin_functions

HERE = Path(__file__).parent
SOURCES = ("ospi_hal/hal_core.c", "ospi_hal/clock.c", "ospi_hal/hal_ospi.c",
           "ospi_hal/ospi_ll.c", "ospi_hal/hal_ospim.c", "ospi_hal/nor.c", "ospi_hal/loader.c",
           "halstyle/libc_min.c")
MHZ = 1_000_000
GPIO_STRIDE = 0x400
IOM_KINDS = {None: 0, "octospim": 1, "octospim-nocr": 1, "xspim": 2}
MODES = {"quad": 0, "str": 1, "dtr": 2}
# Mistakes a loader can be built with: the protocol ones are switches in nor.c (OH_FAULT_*),
# the bring-up ones leave out what this file would otherwise give the loader.
PROTOCOL_FAULTS = ("STR_IN_DTR", "SPI_WREN", "READ_DUMMY", "REG_DUMMY", "NO_DQS",
                   "MAPPED_OPCODE", "NO_TIMEOUT")
FAULTS = (*PROTOCOL_FAULTS,
          "NO_PORT_SUPPLY",  # the XSPIM port supply (PWR_CSR2.EN_XSPIMn) left off
          "OTHER_PORT",  # the IO manager gives the controller the other port than its pins'
          "NO_IO_SPEED")  # the 1.8 V I/O speed optimisation (SBS_CCCSR.XSPIn_IOHSLV) left off

Reg = tuple[str, int]  # (peripheral name in the family data, register offset)


@dataclass(frozen=True)
class FamilyRecipe:
    """RCC/PWR/SBS facts of one family (offsets from the peripheral's base in the family data).

    The clock recipe runs SYSCLK from HSI: ``hsi_on``/``hsi_ready`` bits in RCC_CR, optional
    ``hsi_divider`` (offset, mask, value, ready bit), the SYSCLK switch and status fields, then
    ``after_switch`` fields (AHB prescalers /1, the memory controller's kernel-clock mux back
    to its reset choice, HCLK or SYSCLK).
    """

    manual: str
    sysclk_hz: int
    hsi_on: tuple[int, int]
    hsi_ready: tuple[int, int]
    sysclk_switch: tuple[int, int, int]
    sysclk_status: tuple[int, int, int]
    after_switch: tuple[tuple[int, int, int], ...]
    gpio_enable: int  # RCC offset; bit n enables port n (A = 0)
    controller_enable: Mapping[str, tuple[int, int]]
    controller_reset: Mapping[str, tuple[int, int]]
    io_manager_enable: tuple[int, int] | None = None
    hsi_divider: tuple[int, int, int, int] | None = None
    flash_latency: int | None = None  # minimum wait states at sysclk_hz, FLASH_ACR[3:0]
    # bits (peripheral, offset, bit) that power the pins: VDDIO2 for port G on parts that
    # have it, the XSPIM port supply per port, and the 1.8 V high-speed I/O per port
    vddio2: tuple[tuple[str, int, int], ...] = ()
    port_supply: Mapping[int, tuple[tuple[str, int, int], ...]] = field(default_factory=dict)
    low_voltage_io: Mapping[int, tuple[tuple[str, int, int], ...]] = field(default_factory=dict)


FAMILIES: dict[str, FamilyRecipe] = {
    # RM0455 (H7A3/B3) and RM0468 (H72x/73x): reset on HSI 64 MHz; CDCFGR1/D1CFGR at 0x18
    # (HPRE[3:0], CPRE[11:8]); OCTOSPISEL at CDCCIPR/D1CCIPR[5:4] (00 = HCLK3); AHB3ENR 0xD4
    # OCTOSPI1EN 14, OCTOSPI2EN 19, IOMNGREN 21; AHB3RSTR 0x7C; AHB4ENR 0xE0 GPIOs.
    "stm32h7-ospi": FamilyRecipe(
        "RM0455/RM0468", 64 * MHZ, (0x00, 0), (0x00, 2), (0x10, 0x7, 0), (0x10, 0x38, 0),
        ((0x18, 0xF0F, 0), (0x4C, 0x30, 0)), 0xE0,
        {"OCTOSPI1": (0xD4, 14), "OCTOSPI2": (0xD4, 19)},
        {"OCTOSPI1": (0x7C, 14), "OCTOSPI2": (0x7C, 19)},
        io_manager_enable=(0xD4, 21), hsi_divider=(0x00, 0x18, 0, 5)),
    # RM0477 (H7R/S): HSI 64 MHz; CDCFGR 0x18 CPRE, BMCFGR 0x1C BMPRE; CCIPR1 0x4C XSPI1SEL[5:4],
    # XSPI2SEL[7:6] (00 = HCLK5); AHB5ENR 0x134 XSPI1EN 5, XSPI2EN 12, XSPIMEN 14; AHB5RSTR
    # 0x7C; AHB4ENR 0x140 GPIOs (M..P = 12..15). PWR_CSR2 EN_XSPIM1/2 (14/15) power the ports;
    # SBS_CCCSR XSPI1/2_IOHSLV (17/18, SBSEN = APB4ENR 0x154 bit 1) only for 1.8 V memories.
    "stm32h7rs": FamilyRecipe(
        "RM0477", 64 * MHZ, (0x00, 0), (0x00, 2), (0x10, 0x7, 0), (0x10, 0x38, 0),
        ((0x18, 0xF, 0), (0x1C, 0xF, 0), (0x4C, 0xF0, 0)), 0x140,
        {"XSPI1": (0x134, 5), "XSPI2": (0x134, 12)},
        {"XSPI1": (0x7C, 5), "XSPI2": (0x7C, 12)},
        io_manager_enable=(0x134, 14), hsi_divider=(0x00, 0x18, 0, 5),
        port_supply={1: (("PWR", 0x0C, 14),), 2: (("PWR", 0x0C, 15),)},
        low_voltage_io={1: (("RCC", 0x154, 1), ("SBS", 0x110, 17)),
                        2: (("RCC", 0x154, 1), ("SBS", 0x110, 18))}),
    # RM0456 (U5): reset on MSIS 4 MHz, range 4; HSI16 via CR HSION 8 / HSIRDY 10; CFGR1 0x1C
    # SW = 01; CFGR2 0x20 HPRE; CCIPR2 0xE4 OCTOSPISEL[21:20] (00 = SYSCLK); 1 wait state at
    # 16 MHz in range 4; AHB2ENR1 0x8C GPIOs and OCTOSPIMEN 21; AHB2ENR2 0x90 OCTOSPI1EN 4,
    # OCTOSPI2EN 8; AHB2RSTR2 0x68; VDDIO2: AHB3ENR PWREN 2, PWR_SVMCR IO2SV 29.
    "stm32u5": FamilyRecipe(
        "RM0456", 16 * MHZ, (0x00, 8), (0x00, 10), (0x1C, 0x3, 1), (0x1C, 0xC, 1 << 2),
        ((0x20, 0xF, 0), (0xE4, 0x3 << 20, 0)), 0x8C,
        {"OCTOSPI1": (0x90, 4), "OCTOSPI2": (0x90, 8)},
        {"OCTOSPI1": (0x68, 4), "OCTOSPI2": (0x68, 8)},
        io_manager_enable=(0x8C, 21), flash_latency=1,
        vddio2=(("RCC", 0x94, 2), ("PWR", 0x10, 29))),
    # RM0438 (L5): MSI 4 MHz, range 2 at reset (1 wait state at 16 MHz); CFGR 0x08 SW = 01,
    # HPRE[7:4]; CCIPR2 0x9C OSPISEL[21:20]; AHB2ENR 0x4C GPIOs; AHB3ENR 0x50 OSPI1EN 8;
    # AHB3RSTR 0x30; VDDIO2: APB1ENR1 0x58 PWREN 28, PWR_CR2 IOSV 9.
    "stm32l5": FamilyRecipe(
        "RM0438", 16 * MHZ, (0x00, 8), (0x00, 10), (0x08, 0x3, 1), (0x08, 0xC, 1 << 2),
        ((0x08, 0xF0, 0), (0x9C, 0x3 << 20, 0)), 0x4C,
        {"OCTOSPI1": (0x50, 8)}, {"OCTOSPI1": (0x30, 8)}, flash_latency=1,
        vddio2=(("RCC", 0x58, 28), ("PWR", 0x04, 9))),
    # RM0432 (L4R/L4S): as L5 for the clock (range 1: 0 wait states at 16 MHz); OSPI1EN 8,
    # OSPI2EN 9 in AHB3ENR 0x50; OSPIMEN 20 in AHB2ENR 0x4C; VDDIO2 as L5.
    "stm32l4plus": FamilyRecipe(
        "RM0432", 16 * MHZ, (0x00, 8), (0x00, 10), (0x08, 0x3, 1), (0x08, 0xC, 1 << 2),
        ((0x08, 0xF0, 0), (0x9C, 0x3 << 20, 0)), 0x4C,
        {"OCTOSPI1": (0x50, 8), "OCTOSPI2": (0x50, 9)},
        {"OCTOSPI1": (0x30, 8), "OCTOSPI2": (0x30, 9)}, io_manager_enable=(0x4C, 20),
        vddio2=(("RCC", 0x58, 28), ("PWR", 0x04, 9))),
    # RM0481 (H5): HSI 64 MHz / HSIDIV, reset /2 = 32 MHz (kept: the reset flash latency
    # covers it); CR HSION 0, HSIRDY 1, HSIDIVF 5; CFGR1 0x1C SW = 000; CFGR2 0x20 HPRE;
    # CCIPR4 0xE4 OCTOSPI1SEL[1:0] (00 = HCLK4); AHB2ENR 0x8C GPIOs; AHB4ENR 0x94 OCTOSPI1EN
    # 20; AHB4RSTR 0x6C.
    "stm32h5": FamilyRecipe(
        "RM0481", 32 * MHZ, (0x00, 0), (0x00, 1), (0x1C, 0x7, 0), (0x1C, 0x38, 0),
        ((0x20, 0xF, 0), (0xE4, 0x3, 0)), 0x8C,
        {"OCTOSPI1": (0x94, 20)}, {"OCTOSPI1": (0x6C, 20)}, hsi_divider=(0x00, 0x18, 1 << 3, 5)),
}


@dataclass(frozen=True)
class OctalChip:
    """A Macronix OPI NOR part (octal-chips-and-kits.md §1, peripherals.md §7.4)."""

    name: str
    jedec_id: int
    size: int
    vcc_mv: int
    reg_dummy_dtr: int  # register reads in 8D; 4 in 8S for every part
    # (bus clock ceiling, dummy cycles) for array reads, from ST's BSP for the MX25LM51245G
    read_dummy: tuple[tuple[int, int], ...] = ((66 * MHZ, 6), (84 * MHZ, 8), (104 * MHZ, 10),
                                                (133 * MHZ, 14))
    page_size: int = 256
    sector: tuple[int, int] = (0xDC, 0x10000)  # 64 KiB erase, 4-byte address form
    chip_erase_opcode: int = 0x60
    # maxima (ms): the larger of ST's component and BSP figures; page program was found in
    # neither, so a generous bound
    program_ms: int = 10
    sector_erase_ms: int = 2000
    chip_erase_ms: int = 460_000
    wrsr_ms: int = 40

    def dummy_for(self, clock_hz: int) -> int:
        for ceiling, dummy in self.read_dummy:
            if clock_hz <= ceiling:
                return dummy
        raise ConfigError(f"{self.name}: no dummy-cycle setting for a {clock_hz} Hz clock")


OCTAL_CHIPS: dict[str, OctalChip] = {c.name: c for c in (
    OctalChip("MX25LM51245G", 0xC2853A, 64 << 20, 3000, 5),
    OctalChip("MX66UW1G45G", 0xC2813B, 128 << 20, 1800, 5),
    OctalChip("MX25UW25645G", 0xC28139, 32 << 20, 1800, 4),  # ST-UW256: 4 dummy in 8D
)}

_PIN_RE = re.compile(r"^P([A-P])(\d{1,2})$")
QUAD_SIGNALS = ("clk", "ncs", "io0", "io1", "io2", "io3")
OCTAL_SIGNALS = (*QUAD_SIGNALS, "io4", "io5", "io6", "io7")


@dataclass(frozen=True)
class LoaderBuild:
    """Arguments for the ``build_elf`` fixture (paths relative to tests/firmware)."""

    name: str
    sources: tuple[str, ...]
    linker_script: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    cpu: str
    family: str
    controller: str
    port: int
    window: int
    mode: str
    size: int
    page_size: int
    sector_size: int
    ram_base: int
    pins: tuple[tuple[int, int, int], ...]  # (port index, pin, af) in signal order


def _define(name: str, value: object) -> str:
    return f"-D{name}={value}"


def _list(items: list[str]) -> str:
    return ",".join(items) if items else "{0u,0u}"


def _bit(family: Family, peripheral: str, offset: int, bit: int) -> str:
    return f"{{{family.peripherals[peripheral] + offset:#010x}u,{bit}u}}"


def _signal_names(controller: Controller, port: int, signal: str, iom: bool) -> set[str]:
    sig = signal.upper()
    if controller.kind == "xspi":
        sig = {"NCS": "NCS1", "DQS": "DQS0"}.get(sig, sig)
        return {f"XSPIM_P{port}_{sig}"}
    if iom:
        return {f"OCTOSPIM_P{port}_{sig}"}
    return {f"{controller.name}_{sig}"}


def _pin(mcu: str, controller: Controller, port: int, iom: bool, signal: str,
         value: Any) -> tuple[int, int, int]:
    if isinstance(value, str):
        pin, af = value.upper(), None
    else:
        pin, af = str(value[0]).upper(), int(value[1])
    m = _PIN_RE.match(pin)
    if not m:
        raise ConfigError(f"pin '{pin}' for {signal} is not a port pin like PB2")
    if af is None:
        wanted = _signal_names(controller, port, signal, iom)
        afs = {f.af for f in pin_functions(find_part(mcu)) if f.pin == pin and f.signal in wanted}
        if len(afs) != 1:
            raise ConfigError(f"{mcu} has no single AF putting {'/'.join(sorted(wanted))} on "
                              f"{pin}")
        af = afs.pop()
    return ord(m.group(1)) - ord("A"), int(m.group(2)), af


def _chip(board: Mapping[str, Any]) -> ChipFacts | OctalChip:
    chip = board["chip"]
    if isinstance(chip, (ChipFacts, OctalChip)):
        return chip
    key = str(chip).upper()
    found = OCTAL_CHIPS.get(key) or QUAD_CHIPS.get(key)
    if found is None:
        known = ", ".join([*OCTAL_CHIPS, *QUAD_CHIPS])
        raise ConfigError(f"unknown chip '{chip}' (known: {known})")
    return found


def _chip_flags(chip: ChipFacts | OctalChip, mode: str, clock_hz: int) -> list[str]:
    if isinstance(chip, OctalChip):
        dummy = chip.dummy_for(clock_hz)
        read_op = 0xEE if mode == "dtr" else 0xEC
        return [
            _define("OH_CHIP_ADDR_BYTES", 4), _define("OH_CHIP_READ_OPCODE", f"{read_op:#04x}u"),
            _define("OH_CHIP_READ_ADDR_LINES", 8), _define("OH_CHIP_READ_DATA_LINES", 8),
            _define("OH_CHIP_READ_MODE_CLOCKS", 0), _define("OH_CHIP_READ_DUMMY_CLOCKS", dummy),
            _define("OH_CHIP_PROGRAM_OPCODE", "0x12u"), _define("OH_CHIP_PROGRAM_ADDR_LINES", 8),
            _define("OH_CHIP_PROGRAM_DATA_LINES", 8),
            _define("OH_CHIP_DC_CODE", f"{(20 - dummy) // 2}u"),  # CR2 0x300: (20 - n) / 2
            _define("OH_CHIP_REG_DUMMY", f"{chip.reg_dummy_dtr}u"),
            _define("OH_CHIP_QE", 0), _define("OH_CHIP_PROTECT_MASK", "0x3Cu"),
        ]
    read_op, read_proto, mode_clocks, dummy_clocks = chip.read
    _, read_addr, read_data = (int(x) for x in read_proto.split("-"))
    prog_op, prog_proto = chip.program
    _, prog_addr, prog_data = (int(x) for x in prog_proto.split("-"))
    return [
        _define("OH_CHIP_ADDR_BYTES", chip.addr_bytes),
        _define("OH_CHIP_READ_OPCODE", f"{read_op:#04x}u"),
        _define("OH_CHIP_READ_ADDR_LINES", read_addr),
        _define("OH_CHIP_READ_DATA_LINES", read_data),
        _define("OH_CHIP_READ_MODE_CLOCKS", mode_clocks),
        _define("OH_CHIP_READ_DUMMY_CLOCKS", dummy_clocks),
        _define("OH_CHIP_PROGRAM_OPCODE", f"{prog_op:#04x}u"),
        _define("OH_CHIP_PROGRAM_ADDR_LINES", prog_addr),
        _define("OH_CHIP_PROGRAM_DATA_LINES", prog_data),
        _define("OH_CHIP_QE", QE_METHODS[chip.qe].replace("HS_", "OH_")),
        _define("OH_CHIP_PROTECT_MASK", f"{chip.protect_mask:#04x}u"),
        _define("OH_CHIP_REG_DUMMY", "0u"),  # register reads in SPI have none
    ]


def loader_build(board: Mapping[str, Any], name: str | None = None) -> LoaderBuild:
    mcu = str(board["mcu"])
    family = find_part(mcu).family
    recipe = FAMILIES.get(family.id)
    if recipe is None:
        raise ConfigError(f"the OCTOSPI/XSPI test loader has no recipe for family '{family.id}'",
                          hint=f"supported: {', '.join(FAMILIES)}")
    controller_name = str(board.get("controller", family.controllers[0].name)).upper()
    controller = family.controller(controller_name)
    if controller is None or controller_name not in recipe.controller_enable:
        raise ConfigError(f"{mcu} has no controller {controller_name}")
    instance = int(controller_name[-1])
    iom = family.io_manager
    port = int(board.get("port", instance))
    if not 1 <= port <= (iom.ports if iom else 1) or (iom is None and port != instance):
        raise ConfigError(f"{controller_name} cannot drive port {port} on {mcu}")

    chip = _chip(board)
    mode = str(board.get("mode", "dtr" if isinstance(chip, OctalChip) else "quad"))
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    octal = mode != "quad"
    if octal != isinstance(chip, OctalChip):
        raise ConfigError(f"{chip.name} is {'a quad' if octal else 'an octal'} part: mode must "
                          f"be {'quad' if octal else 'str or dtr'}, not {mode}")
    uses_dqs = mode == "dtr"

    signals = OCTAL_SIGNALS if octal else QUAD_SIGNALS
    pins = board["pins"]
    required = (*signals, "dqs") if uses_dqs else signals
    missing = [s for s in required if s not in pins]
    if missing:
        raise ConfigError(f"{mode} mode needs pins for {', '.join(missing)}")
    pin_facts = tuple(_pin(mcu, controller, port, iom is not None, s, pins[s]) for s in required)

    max_clock = int(board.get("max_clock_hz", 50 * MHZ))
    divider = max(1, -(-recipe.sysclk_hz // max_clock))
    clock_hz = recipe.sysclk_hz // divider
    size, page, (sector_op, sector) = chip.size, chip.page_size, chip.sector
    if size & (size - 1):
        raise ConfigError(f"{chip.name}: size {size:#x} is not a power of two")

    register_level = bool(board.get("register_level", False))
    faults = tuple(str(f).upper() for f in board.get("faults", ()))
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise ConfigError(f"unknown fault(s) {', '.join(unknown)} (known: {', '.join(FAULTS)})")
    name = name or "-".join(["ospi", mcu, chip.name, mode, controller_name, f"p{port}"]
                            + (["ll"] if register_level else [])
                            + [f.lower() for f in faults])

    def rcc(off_bit: tuple[int, int]) -> str:
        return _bit(family, "RCC", *off_bit)

    ports_used = sorted({p for p, _, _ in pin_facts})
    enables = [rcc((recipe.gpio_enable, p)) for p in ports_used]
    if iom is not None and recipe.io_manager_enable:
        enables.append(rcc(recipe.io_manager_enable))
    enables.append(rcc(recipe.controller_enable[controller_name]))
    supplies: list[tuple[str, int, int]] = []
    if ord("G") - ord("A") in ports_used:
        supplies += recipe.vddio2
    if "NO_PORT_SUPPLY" not in faults:
        supplies += recipe.port_supply.get(port, ())
    if getattr(chip, "vcc_mv", 3300) < 2000 and "NO_IO_SPEED" not in faults:
        supplies += recipe.low_voltage_io.get(port, ())
    iom_port = port
    if "OTHER_PORT" in faults:
        if iom is None or iom.ports < 2:
            raise ConfigError(f"{mcu} has no other IO-manager port for OTHER_PORT")
        iom_port = 3 - port
    peer = next((c.base for c in family.controllers if c.name != controller_name), controller.base)

    rcc_base = family.peripherals["RCC"]
    latency = (f"{{{family.peripherals['FLASH']:#010x}u,0xFu,{recipe.flash_latency}u}}"
               if recipe.flash_latency else "{0u,0u,0u}")
    fields = [f"{{{rcc_base + o:#010x}u,{m:#x}u,{v:#x}u}}" for o, m, v in recipe.after_switch]
    cflags = [
        *([f"-mfpu={family.fpu}", "-mfloat-abi=hard"] if family.fpu != "none" else []),
        "-ffreestanding", "-fno-tree-loop-distribute-patterns",
        f"-I{HERE}",
        _define("OH_XSPI", int(controller.kind == "xspi")),
        _define("OH_REGISTER_LEVEL", int(register_level)),
        _define("OH_RESET_CLOCK_HZ", f"{family.reset_clock_hz}u"),
        _define("OH_SYSCLK_HZ", f"{recipe.sysclk_hz}u"),
        _define("OH_FLASH_LATENCY", latency),
        _define("OH_HSI_ON", rcc(recipe.hsi_on)),
        _define("OH_HSI_READY", rcc(recipe.hsi_ready)),
        _define("OH_SYSCLK_SWITCH", "{{{:#010x}u,{:#x}u,{:#x}u}}".format(
            rcc_base + recipe.sysclk_switch[0], *recipe.sysclk_switch[1:])),
        _define("OH_SYSCLK_STATUS", "{{{:#010x}u,{:#x}u,{:#x}u}}".format(
            rcc_base + recipe.sysclk_status[0], *recipe.sysclk_status[1:])),
        _define("OH_CLOCK_AFTER_SWITCH", ",".join(fields)),
        _define("OH_GPIOA_BASE", f"{family.peripherals['GPIOA']:#010x}u"),
        _define("OH_GPIO_STRIDE", f"{GPIO_STRIDE:#x}u"),
        _define("OH_CLOCK_ENABLES", _list(enables)),
        _define("OH_IO_SUPPLIES", _list([_bit(family, *s) for s in supplies])),
        _define("OH_CONTROLLER_RESET", rcc(recipe.controller_reset[controller_name])),
        _define("OH_CONTROLLER_BASE", f"{controller.base:#010x}u"),
        _define("OH_FTHRES_WIDTH", f"{controller.fthres_width}u"),
        _define("OH_WINDOW", f"{controller.window:#010x}u"),
        _define("OH_INSTANCE", instance), _define("OH_PORT", iom_port),
        *(_define(f"OH_FAULT_{f}", 1) for f in faults if f in PROTOCOL_FAULTS),
        _define("OH_IOM_KIND", IOM_KINDS[iom.kind if iom else None]),
        _define("OH_IOM_BASE", f"{iom.base if iom else 0:#010x}u"),
        _define("OH_IOM_PORTS", f"{iom.ports if iom else 1}u"),
        _define("OH_IOM_PEER_BASE", f"{peer:#010x}u"),
        _define("OH_DATA_LINES", 8 if octal else 4),
        _define("OH_USES_DQS", int(uses_dqs)),
        _define("OH_CLOCK_DIVIDER", f"{divider}u"),
        _define("OH_DEVSIZE", f"{size.bit_length() - 2}u"),  # 2^(DEVSIZE+1) bytes
        _define("OH_PINS", ",".join("{{{},{},{}}}".format(*p) for p in pin_facts)),
        _define("OH_DEVICE_NAME", f'"{name}"'),
        _define("OH_CHIP_MODE", MODES[mode]),
        _define("OH_CHIP_JEDEC_ID", f"{chip.jedec_id:#08x}u"),
        _define("OH_CHIP_SIZE", f"{size:#x}u"),
        _define("OH_CHIP_PAGE_SIZE", f"{page}u"),
        _define("OH_CHIP_SECTOR_SIZE", f"{sector:#x}u"),
        _define("OH_CHIP_SECTOR_ERASE_OPCODE", f"{sector_op:#04x}u"),
        _define("OH_CHIP_SECTOR_ERASE_MS", f"{chip.sector_erase_ms}u"),
        _define("OH_CHIP_MASS_ERASE_OPCODE", f"{chip.chip_erase_opcode:#04x}u"),
        _define("OH_CHIP_MASS_ERASE_MS", f"{chip.chip_erase_ms}u"),
        _define("OH_CHIP_PROGRAM_MS", f"{chip.program_ms}u"),
        _define("OH_CHIP_WRSR_MS", f"{chip.wrsr_ms}u"),
        *_chip_flags(chip, mode, clock_hz),
    ]
    if recipe.hsi_divider:
        off, mask, value, ready = recipe.hsi_divider
        cflags += [_define("OH_HSI_DIVIDER", f"{{{rcc_base + off:#010x}u,{mask:#x}u,{value:#x}u}}"),
                   _define("OH_HSI_DIVIDER_READY", rcc((off, ready)))]
    ram_base = family.loader_ram_base
    script = HERE / "ld" / f"ram_{ram_base:08x}.ld"
    if not script.exists():
        raise ConfigError(f"no linker script for loader RAM base {ram_base:#x}")
    return LoaderBuild(
        name=name, sources=SOURCES, linker_script=f"ospi_hal/ld/{script.name}",
        cflags=tuple(cflags), ldflags=(f"-L{HERE.parent / 'halstyle' / 'ld'}",),
        cpu=family.core, family=family.id, controller=controller_name, port=port,
        window=controller.window, mode=mode, size=size, page_size=page, sector_size=sector,
        ram_base=ram_base, pins=pin_facts,
    )


def kit_board(name: str, build: LoaderBuild, *,
              rewire: dict[str, tuple[str, int]] | None = None,
              kit: Mapping[str, Any] | None = None) -> Board:
    """The kit as a board: its memory on the loader's controller and port, the loader's pins
    (``rewire`` moves signals to other pins: a board wired differently from the loader).
    ``kit``: a variant not in :data:`KITS` (the mapping :func:`loader_build` was given)."""
    kit = kit or KITS[name]
    signals = [*(OCTAL_SIGNALS if build.mode != "quad" else QUAD_SIGNALS),
               *(("dqs",) if build.mode == "dtr" else ())]
    pins = {s: (f"P{chr(ord('A') + port)}{number}", af)
            for s, (port, number, af) in zip(signals, build.pins, strict=True)}
    pins.update(rewire or {})
    wires = tuple(Wire(s, pin, af) for s, (pin, af) in pins.items())
    memory = Memory(kit["chip"], 1, wires, controller=build.controller, port=build.port)
    return Board(name, find_part(kit["mcu"]), 0, (memory,))


# Kit wiring (signal -> pin) from octal-chips-and-kits.md §2.2: Zephyr board files and ST BSPs.
H7B3_OCTAL = {"clk": "PB2", "ncs": "PG6", "dqs": "PC5", "io0": "PD11", "io1": "PF9",
              "io2": "PF7", "io3": "PF6", "io4": "PC1", "io5": "PH3", "io6": "PG9", "io7": "PD7"}
H735_OCTAL = {"clk": "PF10", "ncs": "PG6", "dqs": "PB2", "io0": "PD11", "io1": "PD12",
              "io2": "PE2", "io3": "PD13", "io4": "PD4", "io5": "PD5", "io6": "PG9", "io7": "PD7"}
U585_OCTAL = {"clk": "PF4", "ncs": "PI5", "dqs": "PF12", "io0": "PF0", "io1": "PF1",
              "io2": "PF2", "io3": "PF3", "io4": "PH9", "io5": "PH10", "io6": "PH11",
              "io7": "PH12"}
# extflash's pin table has no STM32L562 rows: the AFs are the board's (STM32L562E-DK BSP).
L562_OCTAL = {"clk": ("PA3", 10), "ncs": ("PA2", 10), "dqs": ("PB2", 10), "io0": ("PB1", 10),
              "io1": ("PB0", 10), "io2": ("PA7", 10), "io3": ("PA6", 10), "io4": ("PC1", 10),
              "io5": ("PC2", 10), "io6": ("PC3", 10), "io7": ("PC0", 3)}
# 32L4R9IDISCOVERY: the kit notes say OCTOSPI2, but ST's BSP drives the NOR with OCTOSPI1
# routed to OCTOSPIM port 2 (window 0x90000000, which Zephyr's node also uses).
L4R9_OCTAL = {"clk": "PI6", "ncs": "PG12", "dqs": "PG15", "io0": "PI11", "io1": "PI10",
              "io2": "PI9", "io3": "PH8", "io4": "PH9", "io5": "PH10", "io6": "PG9",
              "io7": "PG10"}
H573_OCTAL = {"clk": "PF10", "ncs": "PG6", "dqs": "PB2", "io0": "PB1", "io1": "PD12",
              "io2": "PC2", "io3": "PD13", "io4": "PH2", "io5": "PH3", "io6": "PG9", "io7": "PC0"}
H7S78_OCTAL = {"clk": "PN6", "ncs": "PN1", "dqs": "PN0", "io0": "PN2", "io1": "PN3",
               "io2": "PN4", "io3": "PN5", "io4": "PN8", "io5": "PN9", "io6": "PN10",
               "io7": "PN11"}


def _quad(pins: dict[str, Any]) -> dict[str, Any]:
    return {s: pins[s] for s in QUAD_SIGNALS}


L562_QUAD = _quad(L562_OCTAL)
U585_P1_QUAD = {"clk": "PA3", "ncs": "PA2", "io0": "PB1", "io1": "PB0", "io2": "PA7",
                "io3": "PA6"}
H7R7_QUAD = {"clk": "PO4", "ncs": "PO0", "io0": "PP0", "io1": "PP1", "io2": "PP2",
             "io3": "PP3"}

# Every variant the tests build: the octal kits as their BSPs run the MX25LM51245G /
# MX66UW1G45G, quad W25Q128JV boards on OCTOSPI1/XSPI1, a 4-byte-address quad part, and the
# register-level (word-wise DR) variants the benchmark compares with the HAL-style ones.
KITS: dict[str, dict[str, Any]] = {
    "h7b3-mx25lm-dtr": {"mcu": "STM32H7B3LI", "chip": "MX25LM51245G", "pins": H7B3_OCTAL},
    "h7b3-mx25lm-dtr-ll": {"mcu": "STM32H7B3LI", "chip": "MX25LM51245G", "pins": H7B3_OCTAL,
                           "register_level": True},
    "h735-mx25lm-dtr": {"mcu": "STM32H735IG", "chip": "MX25LM51245G", "pins": H735_OCTAL},
    "u585-mx25lm-dtr-ospi2": {"mcu": "STM32U585AI", "chip": "MX25LM51245G",
                              "controller": "OCTOSPI2", "pins": U585_OCTAL},
    "l562-mx25lm-dtr": {"mcu": "STM32L562QE", "chip": "MX25LM51245G", "pins": L562_OCTAL},
    # octal STR, as Zephyr runs this kit (the other kits run 8D-8D-8D)
    "l4r9-mx25lm-str-port2": {"mcu": "STM32L4R9AI", "chip": "MX25LM51245G", "mode": "str",
                              "controller": "OCTOSPI1", "port": 2, "pins": L4R9_OCTAL},
    "h573-mx25lm-dtr": {"mcu": "STM32H573II", "chip": "MX25LM51245G", "pins": H573_OCTAL},
    "h7s7-mx66uw-dtr-xspi2": {"mcu": "STM32H7S7L8", "chip": "MX66UW1G45G",
                              "controller": "XSPI2", "pins": H7S78_OCTAL},
    # a quad chip on the XSPIM port-1 pins the H7S78-DK gives its PSRAM (CLK PO4, NCS1 PO0)
    "h7r7-w25q128-xspi1": {"mcu": "STM32H7R7L8", "chip": "W25Q128JV", "controller": "XSPI1",
                           "pins": H7R7_QUAD},
    "h7b3-w25q128": {"mcu": "STM32H7B3LI", "chip": "W25Q128JV", "pins": _quad(H7B3_OCTAL)},
    "h735-w25q128": {"mcu": "STM32H735IG", "chip": "W25Q128JV", "pins": _quad(H735_OCTAL)},
    "h735-w25q128-ll": {"mcu": "STM32H735IG", "chip": "W25Q128JV", "pins": _quad(H735_OCTAL),
                        "register_level": True},
    "u585-w25q128-ospi1": {"mcu": "STM32U585AI", "chip": "W25Q128JV", "pins": U585_P1_QUAD},
    "l562-w25q128": {"mcu": "STM32L562QE", "chip": "W25Q128JV", "pins": L562_QUAD},
    "h573-w25q128": {"mcu": "STM32H573II", "chip": "W25Q128JV", "pins": _quad(H573_OCTAL)},
    "h573-mx25l512-4byte": {"mcu": "STM32H573II", "chip": "MX25L51245G",
                            "pins": _quad(H573_OCTAL)},
}
