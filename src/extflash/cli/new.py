"""``extflash new``: generate, build and self-test a loader for a board."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from extflash.cli.common import (
    ADDRESS,
    board_from_options,
    check_writable,
    emit,
    handle_errors,
)
from extflash.cli.options import fresh_board_options, output_options, trace_options
from extflash.cli.session import recording, write_recording
from extflash.errors import InputError


def check_new_output(output: str) -> None:
    """``-o`` is the .stldr (or .FLM) to write, or a folder (created when its parent exists)."""
    path = Path(output)
    if path.suffix.lower() in (".stldr", ".flm") or not path.is_dir():
        check_writable(path, "-o")
    else:
        check_writable(path, "-o", folder_ok=True)


@click.command()
@fresh_board_options
@click.option("--name", metavar="NAME", help="Device name in StorageInfo (default: board name).")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    metavar="PATH",
    help="The .stldr (or .FLM, which also builds the FLM) file to write, or a folder.",
)
@click.option("--flm", is_flag=True, help="Also build a CMSIS FLM from the same sources.")
@click.option("--kind", type=click.Choice(["loader", "flm", "boot", "emm-driver"]),
              default="loader", show_default=True,
              help="loader: the external loader (.stldr); flm: the CMSIS FLM too (as --flm); "
              "boot: a boot image for the internal flash that "
              "maps the window and starts the application there; emm-driver: the External "
              "Memory Manager's USER driver for an XSPI board, into the folder -o "
              "(docs/running.md).")
@click.option("--app-address", type=ADDRESS, metavar="ADDR",
              help="--kind boot: the application's vector table (default: the window base).")
@click.option(
    "--no-self-test",
    is_flag=True,
    help="Skip the conformance test on the virtual board (not recommended).",
)
@trace_options
@output_options
@handle_errors("new")
def new(
    name: str | None,
    output: str,
    flm: bool,
    kind: str,
    app_address: int | None,
    no_self_test: bool,
    quiet: bool,
    as_json: bool,
    **kw: Any,
) -> None:
    """Generate, build and self-test a loader for a board (from --board or --mcu/--chip/--pins)."""
    from extflash import gen
    from extflash.report import record

    rec = recording("new", kw)
    if rec is not None and (no_self_test or kind not in ("loader", "flm")):
        raise InputError("--trace and --report record the self-test of a loader: drop "
                         "--no-self-test and --kind boot/emm-driver to have one")
    if kind == "boot":
        check_writable(Path(output), "-o")
    elif kind == "emm-driver":
        check_writable(Path(output), "-o", folder_ok=True)
    else:
        check_new_output(output)
    board = board_from_options(kw)
    if kind == "boot":
        _new_boot(board, Path(output), app_address, as_json)
        return
    if kind == "emm-driver":
        from extflash.gen.emm import write_emm_driver

        files = write_emm_driver(board, Path(output))
        emit("new", as_json, {"files": [str(f) for f in files]},
             "\n".join(f"wrote {f}" for f in files))
        return
    if not (quiet or as_json):
        steps = "building" if no_self_test else "building and self-testing"
        click.echo(f"{steps} a loader for {board.name} ...", err=True)
    try:
        made = gen.new_loader(
            board,
            Path(output),
            name=name,
            flm=flm or kind == "flm",
            self_test=not no_self_test,
            timing=kw.pop("timing"),
            on_rig=rec.attach if rec else None,
        )
    except gen.SelfTestFailed as exc:
        write_recording(rec, record.conformance_diagnosis(exc.report))
        raise
    write_recording(rec, summary=f"self-test passed on the virtual {board.name}")
    b = made.build
    data = {
        "stldr": str(b.stldr),
        "flm": str(b.flm) if b.flm else None,
        "project": str(b.project),
        "code_bytes": b.size.code,
        "data_bytes": b.size.data + b.size.bss,
        "self_test": None if made.report is None else "passed",
        "speed": None if made.speed is None else {
            "bytes": made.speed.size, "virtual_s": round(made.speed.virtual_s, 6),
            "chip_min_s": round(made.speed.chip_min_s, 6), "ratio": round(made.speed.ratio, 3),
            "write_ratio": round(made.speed.write_ratio, 3)},
    }
    text = [f"wrote {b.stldr} ({b.size.code} bytes code, {b.size.data + b.size.bss} bytes data)"]
    if b.flm:
        text.append(f"wrote {b.flm}")
    text.append(f"C project: {b.project}")
    text.append(
        "self-test: skipped"
        if made.report is None
        else f"self-test: passed on the virtual {board.name}"
    )
    if made.speed is not None:
        text.append(f"speed: {made.speed.describe()}")
    emit("new", as_json, data, "\n".join(text))


def _new_boot(board: Any, output: Path, app_address: int | None, as_json: bool) -> None:
    from extflash.gen.boot import build_boot

    boot = build_boot(board, output, app_address=app_address)
    data = {"boot": str(boot.elf), "project": str(boot.project), "code_bytes": boot.size.code,
            "app_address": boot.app_address}
    emit("new", as_json, data,
         f"wrote {boot.elf} ({boot.size.code} bytes code in {boot.flash.name} at "
         f"0x{boot.flash.start:08X}; jumps to the application at 0x{boot.app_address:08X})\n"
         f"C project: {boot.project}")
