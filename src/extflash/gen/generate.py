"""Rendering a planned loader into a small C project: generic sources from
``templates/<interface>/`` plus the generated ``config.h`` and ``board_config.c`` that carry the
part-, chip- and board-specific facts."""

from __future__ import annotations

import logging
import string
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from extflash.gen.clock import RegOp
from extflash.gen.config import LoaderConfig
from extflash.gen.nor import Command, OctalParams

log = logging.getLogger(__name__)

COMMON_SOURCES = ("tick.c", "board.c", "xfer.c", "nor.c", "common.c")
CONTROLLER_SOURCE = {"quadspi": "qspi.c", "ospi": "ospi.c"}  # by family generator interface
HEADERS = ("regs.h", "loader.h")
LINKER_SCRIPTS = ("stldr.ld", "flm.ld")


def sources(cfg: LoaderConfig) -> tuple[str, ...]:
    """The C files shared by the .stldr, FLM and boot builds of ``cfg``."""
    return (*COMMON_SOURCES, CONTROLLER_SOURCE[cfg.interface])


def stldr_sources(cfg: LoaderConfig) -> tuple[str, ...]:
    return (*sources(cfg), "stldr.c")


def flm_sources(cfg: LoaderConfig) -> tuple[str, ...]:
    return (*sources(cfg), "flm.c")


def _octal_read(o: OctalParams) -> str:
    dtr = o.state == "8D"  # every phase of an 8D read is DTR
    parts = ["CCR_IMODE(8)", *(["CCR_IDTR"] if dtr else []), "CCR_ADMODE(8)", "CCR_ADSIZE(4)",
             *(["CCR_ADDTR"] if dtr else []), f"CCR_DCYC({o.read_dummy})", "CCR_DMODE(8)",
             *(["CCR_DDTR"] if dtr else []), *(["CCR_DQSE"] if o.dqs else []),
             f"CCR_OPCODE16(0x{o.read_opcode:02X}u)"]
    return "(" + " | ".join(parts) + ")"


def _ccr(cmd: Command, address_bytes: int) -> str:
    parts = [f"CCR_IMODE({cmd.instruction_lines})"]
    if cmd.address_lines:
        parts += [f"CCR_ADMODE({cmd.address_lines})", f"CCR_ADSIZE({address_bytes})"]
    if cmd.mode_bytes:
        parts += [f"CCR_ABMODE({cmd.address_lines})", f"CCR_ABSIZE({cmd.mode_bytes})"]
    if cmd.dummy:
        parts.append(f"CCR_DCYC({cmd.dummy})")
    parts += [f"CCR_DMODE({cmd.data_lines})", f"CCR_OPCODE(0x{cmd.opcode:02X}u)"]
    return "(" + " | ".join(parts) + ")"


def _c_string(text: str) -> str:
    safe = "".join(c for c in text if c.isprintable() and c not in '"\\')
    return f'"{safe[:99]}"'


def _controller_lines(cfg: LoaderConfig) -> list[str]:
    q = cfg.qspi
    name = cfg.memory.controller
    speed = (f"/* {name}: kernel {cfg.clock.qspi_kernel_hz / 1e6:g} MHz / {q.prescaler + 1} = "
             f"{q.clk_hz / 1e6:g} MHz. */")
    if cfg.controller is None:
        bank = "QSPI_CR_DFM" if q.dual_flash else ("QSPI_CR_FSEL" if q.bank2 else "0u")
        return [
            "#define LOADER_OSPI        0",
            f"#define QSPI_BASE          0x{cfg.family.peripherals['QUADSPI']:08X}u",
            speed,
            f"#define QSPI_PRESCALER     {q.prescaler}u",
            f"#define QSPI_FSIZE         {q.fsize}u",
            f"#define QSPI_CSHT          {q.csht}u",
            f"#define QSPI_CR_BANK       {bank}",
        ]
    ctl, fam, o = cfg.controller, cfg.family, cfg.octal
    iom = fam.io_manager if cfg.port is not None else None
    kind = {None: 0, "octospim": 1, "octospim-nocr": 1, "xspim": 2}[iom.kind if iom else None]
    peer = next((c.base for c in fam.controllers if c.name != ctl.name), ctl.base)
    instance = int(ctl.name[-1])
    return [
        "#define LOADER_OSPI        1",
        f"#define CTL_BASE           0x{ctl.base:08X}u   /* {ctl.name} */",
        f"#define CTL_DLYBYP         {int(cfg.family_clock.delay_block_bypass)}"
        "       /* DCR1.DLYBYP: the family has it and bypasses the delay block */",
        speed,
        f"#define CTL_PRESCALER      {q.prescaler}u",
        f"#define CTL_DEVSIZE        {q.fsize}u",
        f"#define CTL_CSHT           {q.csht}u",
        "/* MTYP 1: Macronix D1/D0 byte order in 8D; 0: Micron D0/D1 (the only one quad uses) */",
        f"#define CTL_MTYP           {int(bool(o and o.state == '8D' and o.macronix_order))}u",
        "",
        f"/* IO manager: {iom.name + ' port ' + str(cfg.port) if iom else 'none'} */",
        f"#define IOM_KIND           {kind}       /* 0 none, 1 OCTOSPIM, 2 XSPIM */",
        f"#define IOM_BASE           0x{iom.base if iom else 0:08X}u",
        f"#define IOM_PORTS          {iom.ports if iom else 1}u",
        f"#define IOM_PORT           {cfg.port or instance}u",
        f"#define IOM_SRC            {instance - 1}u",
        f"#define IOM_SWAP           {int(cfg.port is not None and cfg.port != instance)}",
        f"#define IOM_PEER_BASE      0x{peer:08X}u",
        f"#define IOM_OCTAL          {int(cfg.memory.wire('io7') is not None)}",
        f"#define IOM_DQS            {int(cfg.memory.wire('dqs') is not None)}",
    ]


def _octal_lines(o: OctalParams | None) -> list[str]:
    if o is None:
        return ["#define NOR_OCTAL          0", "#define OCTAL_DTR          0",
                "#define OCTAL_DQS          0", "#define OCTAL_EXT_INVERTED 0"]
    return [
        f"/* Octal: {o.state}-{o.state}-{o.state}{' with DQS' if o.dqs else ''}, entered by "
        f"0x{o.config_write:02X} writes (latency, then mode). */",
        "#define NOR_OCTAL          1",
        f"#define OCTAL_DTR          {int(o.state == '8D')}",
        f"#define OCTAL_DQS          {int(o.dqs)}",
        f"#define OCTAL_EXT_INVERTED {int(o.inverted)}",
        f"#define CONFIG_WRITE       0x{o.config_write:02X}u",
        f"#define CONFIG_ADDR_BYTES  {o.config_address_bytes}",
        f"#define DUMMY_ADDRESS      0x{o.dummy_address:08X}u",
        f"#define DUMMY_CODE         0x{o.dummy_code:02X}u   /* {o.read_dummy} dummy cycles */",
        f"#define MODE_ADDRESS       0x{o.mode_address:08X}u",
        f"#define MODE_VALUE         0x{o.mode_value:02X}u",
        f"#define REG_ADDR_BYTES     {o.register_address_bytes}",
        f"#define REG_DUMMY          {o.register_dummy}",
    ]


def config_header(cfg: LoaderConfig) -> str:
    nor, q, chip, o = cfg.nor, cfg.qspi, cfg.chip, cfg.octal
    pll = cfg.clock.pll
    if pll is None:
        clock = (f"/* Clock: HSI, SYSCLK {cfg.clock.sysclk_hz / 1e6:g} MHz, HCLK "
                 f"{cfg.clock.hclk_hz / 1e6:g} MHz (no PLL). */")
    else:
        clock = (f"/* Clock: {pll.source.upper()} {pll.input_hz / 1e6:g} MHz / M {pll.m} * N "
                 f"{pll.n} / {pll.div} = SYSCLK {cfg.clock.sysclk_hz / 1e6:g} MHz, HCLK "
                 f"{cfg.clock.hclk_hz / 1e6:g} MHz, {cfg.clock.latency} flash wait states. */")
    where = cfg.memory.controller + (f" port {cfg.port}" if cfg.port else "")
    if cfg.controller is None:
        where = f"QUADSPI bank {cfg.memory.bank}"
    lines = [
        f"/* Generated by extflash for {cfg.part.part.name}{cfg.part.suffix} with "
        f"{chip.name}{' x2 (dual-flash)' if q.dual_flash else ''} on {where}. */",
        "#ifndef CONFIG_H",
        "#define CONFIG_H",
        "",
        f"#define LOADER_NAME        {_c_string(cfg.name)}",
        f"#define WINDOW_BASE        0x{cfg.window_base:08X}u",
        "",
        clock,
        f"#define CPU_HZ             {cfg.clock.sysclk_hz}u",
        "#define CYCLES_PER_MS      (CPU_HZ / 1000u)",
        f"#define LOADER_TICK_DWT    {1 if cfg.family.has_dwt_cyccnt else 0}",
        "",
        *_controller_lines(cfg),
        "",
        "/* Geometry as the host sees it (both chips together in dual-flash mode). */",
        f"#define NOR_CHIPS          {cfg.chips_count}u",
        f"#define FLASH_SIZE         0x{cfg.flash_size:08X}u",
        f"#define PAGE_SIZE          0x{cfg.page_size:X}u",
        f"#define SECTOR_SIZE        0x{cfg.sector_size:X}u",
        f"#define BLOCK_SIZE         0x{cfg.block_size:X}u",
        "",
        f"/* {chip.describe()} */",
        f"#define NOR_MANUFACTURER   0x{chip.manufacturer_id:02X}u",
        f"#define NOR_ADDR_BYTES     {4 if o else nor.address_bytes}",
        f"#define NOR_ENTER_4B       {1 if nor.enter_4byte and not o else 0}",
        f"#define READ_CCR           {_octal_read(o) if o else _ccr(nor.read, nor.address_bytes)}",
        "#define READ_MODE_BYTE     0xFFu   /* mode bits that never enter continuous-read mode */",
        f"#define OP_PROGRAM         0x{o.program_opcode if o else nor.program.opcode:02X}u",
        f"#define PROGRAM_ADDR_LINES {nor.program.address_lines}",
        f"#define PROGRAM_LINES      {nor.program.data_lines}",
        f"#define OP_ERASE_SECTOR    0x{nor.erase_sector:02X}u",
        f"#define OP_ERASE_BLOCK     0x{nor.erase_block:02X}u",
        f"#define OP_ERASE_CHIP      0x{nor.erase_chip:02X}u",
        f"#define QE_REG             {nor.qe_register}       /* 0 none, 1 SR1, 2 SR2/CR1 */",
        f"#define QE_BIT             0x{nor.qe_bit:02X}u",
        f"#define SR_WRITE           {nor.status_write}       "
        "/* 1: 01 sr1; 2: 01 sr1 sr2; 3: 01 sr1, 31 sr2 */",
        f"#define SR1_PROTECT        0x{nor.sr1_protect:02X}u",
        f"#define SR2_CLEAR          0x{nor.sr2_clear:02X}u",
        *_octal_lines(o),
        "",
        "/* Timeouts: the chip's maximum times (never the typical ones). */",
        f"#define TIMEOUT_PAGE_MS    {nor.timeout_page_ms}u",
        f"#define TIMEOUT_SECTOR_MS  {nor.timeout_sector_ms}u",
        f"#define TIMEOUT_BLOCK_MS   {nor.timeout_block_ms}u",
        f"#define TIMEOUT_CHIP_MS    {nor.timeout_chip_ms}u",
        f"#define TIMEOUT_WRSR_MS    {nor.timeout_wrsr_ms}u",
        f"#define RESET_US           {nor.reset_us}u",
        f"#define NOR_HAS_RESET      {int(nor.chip.reset == (0x66, 0x99))}       "
        "/* the 66h/99h software reset */",
        f"#define NOR_HAS_QPI        {int(nor.chip.qpi is not None or not o)}       "
        "/* a QPI mode firmware may have left on (every quad chip, to be safe) */",
        f"#define NOR_HAS_BLOCKS     {int(nor.block_size > nor.sector_size)}       "
        "/* a larger block erase than the sector erase */",
        "",
        "#endif",
        "",
    ]
    if nor.program.instruction_lines != 1:
        raise AssertionError("nor.c issues page programs with a 1-line instruction")
    return "\n".join(lines)


def _op_line(op: RegOp) -> str:
    kind = "1" if op.wait else "0"
    return (f"    {{0x{op.addr:08X}u, 0x{op.mask:08X}u, 0x{op.value:08X}u, {kind}}},"
            f"  /* {op.comment} */")


# GPIO port registers, at the same offsets on every family extflash generates for (RM0433
# §11.4, RM0090 §8.4, RM0351 §8.5 ...): mode, output type, speed, pull, alternate function low/high
GPIO_MODER, GPIO_OTYPER, GPIO_OSPEEDR, GPIO_PUPDR, GPIO_AFRL = 0x00, 0x04, 0x08, 0x0C, 0x20


def pin_ops(cfg: LoaderConfig) -> list[RegOp]:
    """Each pin's set-up as register writes: the AF number before the mode switch, so the pin
    never drives another function; very high speed, push-pull, the pull-up where the board
    needs it."""
    ops: list[RegOp] = []
    for p in cfg.pins:
        n, base, a = p.index, p.gpio_base, 4 * (p.index & 7)
        what = f"{p.pin} ({cfg.memory.controller} {p.signal.upper()})"
        ops += [RegOp(base + GPIO_AFRL + 4 * (n >> 3), 0xF << a, p.af << a, False,
                      f"{what}: AF{p.af}"),
                RegOp(base + GPIO_OSPEEDR, 3 << 2 * n, 3 << 2 * n, False,
                      f"{what}: very high speed"),
                RegOp(base + GPIO_OTYPER, 1 << n, 0, False, f"{what}: push-pull"),
                RegOp(base + GPIO_PUPDR, 3 << 2 * n, (1 if p.pull_up else 0) << 2 * n, False,
                      f"{what}: {'pull-up' if p.pull_up else 'no pull'}"),
                RegOp(base + GPIO_MODER, 3 << 2 * n, 2 << 2 * n, False,
                      f"{what}: alternate function")]
    return ops


def left_behind(ops: Sequence[RegOp]) -> list[tuple[int, int, int]]:
    """(register, mask, value): what ``ops`` leave in the registers, merged per register in
    their order (a later step's bits replace an earlier one's; a wait's bits are its value)."""
    final: dict[int, tuple[int, int]] = {}
    for op in ops:
        old_mask, old_value = final.get(op.addr, (0, 0))
        final[op.addr] = (old_mask | op.mask, (old_value & ~op.mask) | (op.value & op.mask))
    return [(addr, mask, value) for addr, (mask, value) in final.items()]


def _table(name: str, lines: Sequence[str]) -> list[str]:
    return [f"const reg_op_t {name}[] = {{", *lines, "};",
            f"const uint32_t {name}_count = sizeof {name} / sizeof {name}[0];", ""]


def board_source(cfg: LoaderConfig) -> str:
    clock, pins = (*cfg.clock.ops, *cfg.enables), pin_ops(cfg)
    ready = [f"    {{0x{a:08X}u, 0x{m:08X}u, 0x{v:08X}u, 1}},"
             for a, m, v in left_behind((*clock, *pins))]
    return "\n".join([
        f"/* Generated by extflash: clock tree, clock enables and pins for "
        f"{cfg.part.part.name}{cfg.part.suffix}. */",
        '#include "loader.h"',
        "",
        "/* {register, mask, value, wait}: write (reg & ~mask) | value, or wait for it. */",
        *_table("board_clock_ops", [_op_line(op) for op in clock]),
        *_table("board_pin_ops", [_op_line(op) for op in pins]),
        "/* What both leave behind: while every register holds it, Init runs neither (the host",
        " * calls Init before every operation). */",
        *_table("board_ready", ready),
    ])


def cflags(cfg: LoaderConfig) -> list[str]:
    """Compiler flags shared by the .stldr and FLM builds (no FPU use: soft-float ABI). -O2 with
    link-time optimisation: the command and flag-wait helpers of the four source files inline
    into each other (a page program ran 924 instructions at -Os, 684 so; the image grows 3 %)."""
    return [f"-mcpu={cfg.family.core}", "-mthumb", "-mfloat-abi=soft", "-O2", "-flto", "-std=c11",
            "-ffreestanding", "-fno-builtin", "-fno-tree-loop-distribute-patterns",
            "-ffunction-sections", "-fdata-sections", "-nostdlib", "-nostartfiles",
            "-Wall", "-Wextra", "-Werror"]


FLM_FLAGS = ["-fpie", "-fvisibility=hidden"]


def _makefile(cfg: LoaderConfig) -> str:
    flags = " ".join(cflags(cfg))
    return "\n".join([
        f"# Generated by extflash: builds {cfg.name}.stldr (and the FLM with 'make flm').",
        "# make predefines CC (cc): only a CC from the command line or the environment wins",
        "ifeq ($(origin CC),default)",
        "CC = arm-none-eabi-gcc",
        "endif",
        f"CFLAGS = {flags}",
        "LDFLAGS = -Wl,--gc-sections -lgcc",
        f"NAME = {_safe(cfg.name)}",
        f"STLDR_SRC = {' '.join(stldr_sources(cfg))} board_config.c",
        f"FLM_SRC = {' '.join(flm_sources(cfg))} board_config.c",
        "",
        "all: $(NAME).stldr",
        "",
        "$(NAME).stldr: $(STLDR_SRC) *.h stldr.ld",
        "\t$(CC) $(CFLAGS) -T stldr.ld $(STLDR_SRC) $(LDFLAGS) -o $@",
        "",
        "flm: $(NAME).FLM",
        "",
        "$(NAME).FLM: $(FLM_SRC) *.h flm.ld",
        f"\t$(CC) $(CFLAGS) {' '.join(FLM_FLAGS)} -T flm.ld $(FLM_SRC) $(LDFLAGS) -o $@",
        "",
        "clean:",
        "\trm -f $(NAME).stldr $(NAME).FLM",
        "",
        ".PHONY: all flm clean",
        "",
    ])


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def render(cfg: LoaderConfig, out_dir: Path | str) -> Path:
    """Write the loader's C project (sources, linker scripts, Makefile) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    templates = resources.files("extflash.gen") / "templates" / "loader"
    names = {"part": f"{cfg.part.part.name}{cfg.part.suffix}",
             "ram_origin": f"0x{cfg.ram_origin:08X}", "ram_length": f"0x{cfg.ram_length:X}"}
    for name in (*HEADERS, *stldr_sources(cfg), "flm.c"):
        (out / name).write_text(templates.joinpath(name).read_text(encoding="utf-8"),
                                encoding="utf-8")
    for name in LINKER_SCRIPTS:
        text = string.Template(templates.joinpath(name).read_text(encoding="utf-8"))
        (out / name).write_text(text.substitute(names), encoding="utf-8")
    (out / "config.h").write_text(config_header(cfg), encoding="utf-8")
    (out / "board_config.c").write_text(board_source(cfg), encoding="utf-8")
    (out / "Makefile").write_text(_makefile(cfg), encoding="utf-8")
    log.info("rendered loader project %s in %s", cfg.name, out)
    return out
