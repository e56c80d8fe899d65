"""The ``extflash`` command line: one small function per command over the Python API.

Commands parse options, call the API and render the result. Errors are ``ExtflashError``s:
printed as one message (no traceback) with the error's exit code.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from extflash import __version__, api
from extflash.errors import ExtflashError, InputError
from extflash.progress import ProgressRenderer
from extflash.runner import DriverOptions

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn ExtflashError into a one-line message and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ExtflashError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="extflash")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Read, lint, run and generate STM32 external-flash loaders."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("loader_path", metavar="LOADER", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (extflash.info/1).")
@handle_errors
def info(loader_path: str, as_json: bool) -> None:
    """Describe a .stldr or FLM loader: device, sectors, entry points, RAM use, family."""
    from extflash import loader

    data = loader.info_dict(loader.open(loader_path))
    click.echo(json.dumps(data, indent=2) if as_json else "\n".join(loader.render_info(data)))


@main.command()
@click.argument("loader_path", metavar="LOADER", type=click.Path(dir_okay=False))
@click.option(
    "--mcu", "mcu_name", metavar="PART", help="Check against this part (e.g. STM32H743ZI)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (extflash.lint/1).")
@handle_errors
def lint(loader_path: str, mcu_name: str | None, as_json: bool) -> None:
    """Check a loader for defects; exit 1 when any finding is an error."""
    from extflash.loader import lint as rules
    from extflash.loader import open as open_loader

    report = rules.lint(open_loader(loader_path), mcu_name)
    text = (
        json.dumps(rules.lint_dict(report), indent=2)
        if as_json
        else "\n".join(rules.render_lint(report))
    )
    click.echo(text)
    sys.exit(report.exit_code)


# -- target and loader options shared by the operation commands ---------------------------------


def _with_options(func: F, options: Sequence[Callable[[Any], Any]]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def board_options(func: F) -> F:
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
            "--hse", metavar="HZ", help="HSE crystal frequency, e.g. 25MHz (inline board)."
        ),
        click.option(
            "--flash-file",
            type=click.Path(dir_okay=False),
            metavar="FILE",
            help="Keep the virtual chip's contents in FILE between commands.",
        ),
        click.option(
            "--timing",
            type=click.Choice(["typical", "max", "instant"]),
            default="typical",
            show_default=True,
            help="Virtual chip program/erase times (datasheet typical or maximum).",
        ),
    ]
    return _with_options(func, options)


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
            "--frequency", metavar="HZ", default="4M", show_default=True, help="SWD clock."
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
            "--no-double-buffer",
            is_flag=True,
            help="Probe: one RAM buffer (no overlap of transfer and programming).",
        ),
        click.option("--buffer-size", metavar="BYTES", help="RAM buffer per Write call."),
        click.option("--stack-size", metavar="BYTES", help="Stack given to the loader."),
        click.option(
            "--init-arg",
            type=int,
            default=1,
            show_default=True,
            help="R0 passed to Init (legacy Init(uint8_t) loaders: 0 maps the flash).",
        ),
        click.option(
            "--r9",
            "r9",
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


def trace_options(func: F) -> F:
    """--trace FILE and --trace-filter LIST (virtual board only)."""
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
    ]
    return _with_options(func, options)


def _echo_notes(board: Any) -> None:
    """How an inline board was understood (the pins chose the bank, order or port)."""
    for note in board.notes:
        click.echo(f"note: {note}", err=True)


@contextlib.contextmanager
def _session(kw: dict[str, Any], renderer: ProgressRenderer | None) -> Iterator[api.Session]:
    """The operation's session. On the virtual board every call is watched: a failed call is
    reported with its diagnosis, and --trace writes the timeline (also when the call fails)."""
    from extflash import diagnose, trace

    trace_path, trace_filter = kw.pop("trace_path"), kw.pop("trace_filter")
    options = DriverOptions(
        buffer_size=_opt_int(kw.pop("buffer_size"), "--buffer-size"),
        stack_size=_opt_int(kw.pop("stack_size"), "--stack-size"),
        r9=api.parse_int(kw.pop("r9"), "--r9"),
        init_arg=kw.pop("init_arg"),
    )
    if kw.pop("target_kind") == "probe":
        if trace_path:
            raise InputError("--trace needs the virtual board (--target emu)")
        with _probe_session(kw, options, renderer) as probe_session:
            yield probe_session
        return
    board = api.resolve_board(
        kw.pop("board_name"),
        mcu=kw.pop("mcu"),
        chip=kw.pop("chip"),
        bank=kw.pop("bank"),
        pins=kw.pop("pins"),
        hse=kw.pop("hse"),
    )
    _echo_notes(board)
    session, watch = diagnose.open_session(
        kw.pop("loader_path"),
        board=board,
        flash_file=kw.pop("flash_file"),
        timing=kw.pop("timing"),
        options=options,
        progress=renderer,
    )
    timeline = None
    if trace_path:
        wanted = trace_filter.split(",") if trace_filter else None
        timeline = trace.Timeline.attach(watch, peripherals=wanted)
    try:
        with session:
            try:
                yield session
            except ExtflashError as exc:
                raise diagnose.explained(exc, watch) from None
    finally:
        if timeline is not None:
            timeline.stop()
            timeline.write(trace_path)


def _probe_session(
    kw: dict[str, Any], options: DriverOptions, renderer: ProgressRenderer | None
) -> api.Session:
    """A real board: only the MCU matters (--board or --mcu); the loader knows the chip."""
    from extflash import board as boards
    from extflash import mcu
    from extflash.target.pyocd_target import ProbeOptions, open_probe_session

    if kw.get("board_name"):
        part = boards.load(kw["board_name"]).part
    elif kw.get("mcu"):
        part = mcu.find_part(kw["mcu"])
    else:
        raise InputError("--target probe needs the MCU: --mcu PART or --board NAME")
    probe = ProbeOptions(
        probe=kw.pop("probe_uid"),
        target_type=kw.pop("target_type"),
        frequency=api.parse_hz(kw.pop("frequency"), "--frequency"),
        connect=kw.pop("connect"),
        on_close=kw.pop("on_close"),
        # The virtual probe (probe UID virtual:<board>) keeps its chip in the flash file.
        pyocd_options={"extflash.flash_file": kw["flash_file"]} if kw.get("flash_file") else {},
    )
    return open_probe_session(
        kw.pop("loader_path"),
        part,
        probe=probe,
        options=options,
        progress=renderer,
        double_buffer=not kw.pop("no_double_buffer"),
    )


def _opt_int(text: str | None, what: str) -> int | None:
    return None if text is None else api.parse_int(text, what)


def _renderer(quiet: bool, as_json: bool) -> ProgressRenderer:
    return ProgressRenderer(mode="off" if quiet or as_json else "auto")


def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(text)


@main.command()
@click.argument("image_path", metavar="IMAGE", type=click.Path(exists=True, dir_okay=False))
@loader_options
@board_options
@click.option("--address", metavar="ADDR", help="Load address of a raw binary image.")
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Read back and compare after programming.",
)
@click.option(
    "--skip-unchanged",
    is_flag=True,
    help="Compare each sector's CRC-32 first; reprogram only sectors that differ.",
)
@click.option(
    "--no-preserve",
    is_flag=True,
    help="Do not keep the bytes of partly covered sectors that the image leaves out.",
)
@output_options
@handle_errors
def program(
    image_path: str,
    address: str | None,
    verify: bool,
    skip_unchanged: bool,
    no_preserve: bool,
    quiet: bool,
    as_json: bool,
    **kw: Any,
) -> None:
    """Program IMAGE (ELF, Intel HEX, S-record, or binary with --address) into external flash."""
    img = api.load_image(image_path, address=_opt_int(address, "--address"))
    with _renderer(quiet, as_json) as renderer, _session(kw, renderer) as s:
        result = s.program(
            img, verify=verify, skip_unchanged=skip_unchanged, preserve=not no_preserve
        )
    r = result.report
    data = {
        "schema": "extflash.program/1",
        "image": image_path,
        **r.as_dict(),
        "skipped_internal": [
            {"address": c.address, "size": len(c.data)} for c in result.skipped_outside
        ],
    }
    text = (
        f"programmed {r.image_bytes} bytes into {r.device}: {len(r.sectors_written)} sectors "
        f"written, {len(r.sectors_skipped)} unchanged, "
        f"{'verified' if r.verified else 'not verified'} "
        f"({r.loader_calls} loader calls, {r.target_time_s:.3f} s target time)"
    )
    for c in result.skipped_outside:
        text += f"\nnot programmed (internal flash): 0x{c.address:08X}..0x{c.end - 1:08X}"
    _emit(as_json, data, text)


@main.command()
@loader_options
@board_options
@click.option("--address", metavar="ADDR", help="Start of the range to erase.")
@click.option("--size", metavar="BYTES", help="Size of the range to erase.")
@click.option("--all", "whole_chip", is_flag=True, help="Erase the whole chip (MassErase).")
@output_options
@handle_errors
def erase(
    address: str | None, size: str | None, whole_chip: bool, quiet: bool, as_json: bool, **kw: Any
) -> None:
    """Erase a range (whole sectors) or, with --all, the whole device."""
    if whole_chip == (address is not None):
        raise InputError("give either --address (and --size) or --all")
    with _renderer(quiet, as_json) as renderer, _session(kw, renderer) as s:
        sectors = s.erase(_opt_int(address, "--address"), _opt_int(size, "--size") or 1)
    first, last = sectors[0], sectors[-1]
    _emit(
        as_json,
        {
            "schema": "extflash.erase/1",
            "sectors": len(sectors),
            "start": first.address,
            "end": last.end,
        },
        f"erased {len(sectors)} sector(s): 0x{first.address:08X}..0x{last.end - 1:08X}",
    )


@main.command()
@loader_options
@board_options
@click.option("--address", required=True, metavar="ADDR", help="Start address.")
@click.option("--size", required=True, metavar="BYTES", help="Number of bytes.")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="File to write."
)
@output_options
@handle_errors
def read(address: str, size: str, output: str, quiet: bool, as_json: bool, **kw: Any) -> None:
    """Read a range of the external flash into a file."""
    addr, n = api.parse_int(address, "--address"), api.parse_int(size, "--size")
    with _renderer(quiet, as_json) as renderer, _session(kw, renderer) as s:
        data = s.read(addr, n)
    Path(output).write_bytes(data)
    _emit(
        as_json,
        {
            "schema": "extflash.read/1",
            "address": addr,
            "size": n,
            "output": output,
            "crc32": zlib.crc32(data),
        },
        f"read {n} bytes from 0x{addr:08X} into {output} (CRC-32 0x{zlib.crc32(data):08X})",
    )


@main.command()
@click.argument("image_path", metavar="IMAGE", type=click.Path(exists=True, dir_okay=False))
@loader_options
@board_options
@click.option("--address", metavar="ADDR", help="Load address of a raw binary image.")
@output_options
@handle_errors
def verify(image_path: str, address: str | None, quiet: bool, as_json: bool, **kw: Any) -> None:
    """Compare the external flash with IMAGE."""
    img = api.load_image(image_path, address=_opt_int(address, "--address"))
    with _renderer(quiet, as_json) as renderer, _session(kw, renderer) as s:
        mismatches = s.verify(img)
    data = {
        "schema": "extflash.verify/1",
        "match": not mismatches,
        "mismatches": [
            {"first_address": m.first_address, "bytes": m.differing_bytes} for _, m in mismatches
        ],
    }
    if not mismatches:
        _emit(as_json, data, f"{image_path}: flash matches ({img.size} bytes)")
        return
    _emit(as_json, data, "\n".join(f"mismatch: {m.describe()}" for _, m in mismatches))
    sys.exit(1)


@main.command()
@loader_options
@board_options
@click.option("--address", metavar="ADDR", help="Start (default: the device start).")
@click.option("--size", metavar="BYTES", help="Size (default: to the device end).")
@output_options
@handle_errors
def checksum(address: str | None, size: str | None, quiet: bool, as_json: bool, **kw: Any) -> None:
    """CRC-32 (IEEE) of a range of the external flash."""
    with _renderer(quiet, as_json) as renderer, _session(kw, renderer) as s:
        addr = _opt_int(address, "--address")
        start = s.geometry.start if addr is None else addr
        n = _opt_int(size, "--size") or s.geometry.end - start
        crc = s.checksum(start, n)
    _emit(
        as_json,
        {"schema": "extflash.checksum/1", "address": start, "size": n, "crc32": crc},
        f"CRC-32 of 0x{start:08X}..0x{start + n - 1:08X}: 0x{crc:08X}",
    )


@main.command(name="blank-check")
@loader_options
@board_options
@click.option("--address", metavar="ADDR", help="Start (default: the device start).")
@click.option("--size", metavar="BYTES", help="Size (default: to the device end).")
@output_options
@handle_errors
def blank_check(
    address: str | None, size: str | None, quiet: bool, as_json: bool, **kw: Any
) -> None:
    """Check that a range holds only the erase value."""
    with _renderer(quiet, as_json) as renderer, _session(kw, renderer) as s:
        first = s.blank_check(_opt_int(address, "--address"), _opt_int(size, "--size"))
    _emit(
        as_json,
        {"schema": "extflash.blank-check/1", "blank": first is None, "first_non_blank": first},
        "blank" if first is None else f"not blank: first programmed byte at 0x{first:08X}",
    )
    if first is not None:
        sys.exit(1)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def boards(as_json: bool) -> None:
    """List the shipped board descriptions."""
    from extflash import board as board_mod

    rows = []
    for name in board_mod.list_boards():
        b = board_mod.load(name)
        mem = b.memories[0]
        rows.append(
            {
                "name": name,
                "mcu": b.mcu_name,
                "chip": mem.chip,
                "bank": str(mem.bank),
                "description": b.description,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['name']:<24} {r['mcu']:<14} {r['chip']:<14} bank {r['bank']:<5} {r['description']}"
        )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def chips(as_json: bool) -> None:
    """List the flash chips the virtual board and the generator know."""
    from extflash import chips as chip_db

    specs = chip_db.all()
    if as_json:
        rows = [
            {
                "name": c.name,
                "vendor": c.vendor,
                "jedec_id": c.jedec_id.hex().upper(),
                "size": c.size,
            }
            for c in specs
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for c in specs:
        click.echo(
            f"{c.name:<14} {c.vendor:<10} {c.jedec_id.hex().upper():<8} {c.size >> 20:>5} MiB"
        )


@main.command(name="test")
@click.argument("loader_path", metavar="LOADER", type=click.Path(exists=True, dir_okay=False))
@board_options
@click.option("--stack-size", metavar="BYTES", help="Stack given to the loader (default 1 KiB).")
@click.option("--buffer-size", metavar="BYTES", help="RAM buffer per Write call.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report (extflash.test/1).")
@handle_errors
def conformance_test(
    loader_path: str, stack_size: str | None, buffer_size: str | None, as_json: bool, **kw: Any
) -> None:
    """Run LOADER through the situations hosts put it in, on a virtual board; exit 1 on failure."""
    from extflash import conformance

    if kw.pop("flash_file"):
        raise InputError("extflash test runs on fresh virtual boards: --flash-file is not used")
    board = api.resolve_board(
        kw.pop("board_name"),
        mcu=kw.pop("mcu"),
        chip=kw.pop("chip"),
        bank=kw.pop("bank"),
        pins=kw.pop("pins"),
        hse=kw.pop("hse"),
    )
    _echo_notes(board)
    options = DriverOptions(
        buffer_size=_opt_int(buffer_size, "--buffer-size"),
        stack_size=_opt_int(stack_size, "--stack-size"),
    )
    report = conformance.run(loader_path, board, timing=kw.pop("timing"), options=options)
    _emit(as_json, report.as_dict(), "\n".join(report.render()))
    sys.exit(0 if report.passed else 1)


@main.command()
@board_options
@click.option("--name", metavar="NAME", help="Device name in StorageInfo (default: board name).")
@click.option("-o", "--output", required=True, type=click.Path(), metavar="PATH",
              help="The .stldr file to write, or a folder.")
@click.option("--flm", is_flag=True, help="Also build a CMSIS FLM from the same sources.")
@click.option("--no-self-test", is_flag=True,
              help="Skip the conformance test on the virtual board (not recommended).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON result.")
@handle_errors
def new(name: str | None, output: str, flm: bool, no_self_test: bool, as_json: bool,
        **kw: Any) -> None:
    """Generate, build and self-test a loader for a board (from --board or --mcu/--chip/--pins)."""
    from extflash import gen

    if kw.pop("flash_file"):
        raise InputError("extflash new tests on a fresh virtual board: --flash-file is not used")
    board = api.resolve_board(kw.pop("board_name"), mcu=kw.pop("mcu"), chip=kw.pop("chip"),
                              bank=kw.pop("bank"), pins=kw.pop("pins"), hse=kw.pop("hse"))
    _echo_notes(board)
    made = gen.new_loader(board, Path(output), name=name, flm=flm,
                          self_test=not no_self_test, timing=kw.pop("timing"))
    b = made.build
    data = {"schema": "extflash.new/1", "stldr": str(b.stldr),
            "flm": str(b.flm) if b.flm else None, "project": str(b.project),
            "code_bytes": b.size.code, "data_bytes": b.size.data + b.size.bss,
            "self_test": None if made.report is None else "passed"}
    text = [f"wrote {b.stldr} ({b.size.code} bytes code, {b.size.data + b.size.bss} bytes data)"]
    if b.flm:
        text.append(f"wrote {b.flm}")
    text.append(f"C project: {b.project}")
    text.append("self-test: skipped" if made.report is None else
                f"self-test: passed on the virtual {board.name}")
    _emit(as_json, data, "\n".join(text))


if __name__ == "__main__":  # pragma: no cover
    main()
