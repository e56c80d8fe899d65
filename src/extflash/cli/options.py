"""Options shared by the operation commands: the target, the loader, output and trace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from extflash.cli.common import HZ, INTEGER, SIZE, F


def _with_options(func: F, options: Sequence[Callable[[Any], Any]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def board_options(func: F, *, flash_file: bool = True) -> F:
    """--board, or --mcu/--chip/--bank/--pins/--hse, plus --flash-file and --timing."""
    options = [
        click.option(
            "--board",
            "board_name",
            metavar="NAME|FILE",
            help="Shipped board name (see 'extflash boards') or a board TOML file.",
        ),
        click.option("--mcu", metavar="PART", help="MCU part, e.g. STM32H743ZI (inline board)."),
        click.option("--chip", metavar="CHIP", help="Flash chip, e.g. W25Q128JV (inline board)."),
        click.option("--bank", metavar="1|2|dual", help="QUADSPI bank of the chip (default 1)."),
        click.option(
            "--pins",
            metavar="LIST",
            help="CLK,NCS,IO0,IO1,IO2,IO3 or clk=PB2,ncs=PB6,... (inline board).",
        ),
        click.option(
            "--hse", type=HZ, metavar="HZ",
            help="HSE crystal frequency, e.g. 25MHz; 0 = no crystal (HSERDY never sets).",
        ),
        click.option(
            "--timing",
            type=click.Choice(["typical", "max", "instant"]),
            default="typical",
            show_default=True,
            help="Virtual chip program/erase times (datasheet typical or maximum).",
        ),
    ]
    if flash_file:
        options.insert(
            -1,
            click.option(
                "--flash-file",
                type=click.Path(dir_okay=False),
                metavar="FILE",
                help="Keep the virtual chip's contents in FILE between commands (created blank "
                "when missing; locked while a command uses it).",
            ),
        )
    return _with_options(func, options)


def fresh_board_options(func: F) -> F:
    """The board options of commands that run on fresh virtual boards (no --flash-file)."""
    return board_options(func, flash_file=False)


def loader_options(func: F) -> F:
    options = [
        click.option(
            "--loader",
            "-l",
            "loader_path",
            required=True,
            type=click.Path(exists=True, dir_okay=False),
            metavar="LOADER",
            help="The external loader (.stldr) or flash algorithm (.FLM).",
        ),
        click.option(
            "--target",
            "target_kind",
            type=click.Choice(["emu", "probe"]),
            default="emu",
            show_default=True,
            help="Where to run the loader: the virtual board, or a real board through a debug "
            "probe (pyOCD: ST-LINK, CMSIS-DAP, J-Link).",
        ),
        click.option(
            "--probe",
            "probe_uid",
            metavar="UID",
            help="Probe unique ID (or part of it); default: the only probe connected.",
        ),
        click.option(
            "--target-type",
            metavar="NAME",
            help="pyOCD target type (default: derived from the MCU part).",
        ),
        click.option(
            "--frequency",
            type=HZ,
            metavar="HZ",
            default="4M",
            show_default=True,
            help="SWD clock.",
        ),
        click.option(
            "--connect",
            type=click.Choice(["halt", "under-reset", "pre-reset", "attach"]),
            default="halt",
            show_default=True,
            help="How to connect to the core.",
        ),
        click.option(
            "--on-close",
            type=click.Choice(["reset", "halt", "restore"]),
            default="reset",
            show_default=True,
            help="Afterwards: reset (run the application), stay halted, or restore "
            "the RAM and registers the loader used.",
        ),
        click.option(
            "--halt-other-cores/--no-halt-other-cores",
            default=True,
            show_default=True,
            help="Probe, dual-core parts: halt every core (the Cortex-M4 of an H745/H747 too) "
            "before running the loader, so its application cannot touch QUADSPI, RCC or GPIO.",
        ),
        click.option(
            "--no-double-buffer",
            is_flag=True,
            help="Probe: one RAM buffer (no overlap of transfer and programming).",
        ),
        click.option(
            "--buffer-size", type=SIZE, metavar="BYTES",
            help="RAM buffer per Write and Read call (default: the RAM left, but for 16 KiB "
                 "beyond a buffer over 256 KiB).",
        ),
        click.option("--stack-size", type=SIZE, metavar="BYTES", help="Stack given to the loader."),
        click.option(
            "--init-arg",
            type=INTEGER,
            metavar="VALUE",
            default="1",
            show_default=True,
            help="R0 passed to Init (legacy Init(uint8_t) loaders: 0 maps the flash).",
        ),
        click.option(
            "--init-sequence",
            type=click.Choice(["every-call", "per-operation"]),  # runner.INIT_SEQUENCES
            default="every-call",
            show_default=True,
            help=".stldr: reload the loader and run Init before every erase/write/read call (as "
            "CubeProgrammer), or once per operation.",
        ),
        click.option(
            "--r9",
            "r9",
            type=INTEGER,
            metavar="VALUE",
            default="0",
            show_default=True,
            help="R9 for .stldr calls (CubeProgrammer passes 0).",
        ),
    ]
    return trace_options(_with_options(func, options))


def output_options(func: F) -> F:
    func = click.option("--json", "as_json", is_flag=True, help="Print a JSON result.")(func)
    func = click.option("--quiet", "-q", is_flag=True, help="No progress output.")(func)
    return func


REPORT_HELP = ("Write a self-contained HTML page of the run: timeline, flash map, pins, clocks "
               "and the diagnosis of a failure.")


def trace_options(func: F) -> F:
    """--trace FILE, --trace-filter LIST and --report FILE.html (virtual board only)."""
    options = [
        click.option(
            "--trace",
            "trace_path",
            type=click.Path(dir_okay=False),
            metavar="FILE",
            help="Write a timeline of calls, register accesses and flash commands to FILE "
            "(JSON when it ends in .json, text otherwise).",
        ),
        click.option(
            "--trace-filter",
            metavar="LIST",
            help="Only these peripherals in the trace, e.g. QUADSPI,RCC,GPIO,flash.",
        ),
        click.option(
            "--report",
            "report_path",
            type=click.Path(dir_okay=False),
            metavar="FILE.html",
            help=REPORT_HELP,
        ),
    ]
    return _with_options(func, options)
