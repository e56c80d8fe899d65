"""``extflash doctor``: walk the connection to a board through a debug probe."""

from __future__ import annotations

import sys

import click

from extflash.cli.common import HZ, echo_json, envelope, handle_errors


@click.command()
@click.option("--probe", "probe_uid", metavar="UID",
              help="Probe unique ID (or part of it); default: the only probe connected. "
              "virtual:<board> is the virtual probe on a board (or board file).")
@click.option("--mcu", metavar="PART", help="The MCU on the board, e.g. STM32H743ZI.")
@click.option("--board", "board_name", metavar="BOARD",
              help="The board (shipped name or TOML file): its MCU and supply scheme.")
@click.option("--frequency", type=HZ, metavar="HZ", default="4M", show_default=True,
              help="SWD clock of the first attempt.")
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output (extflash.doctor/1).")
@handle_errors("doctor")
def doctor(probe_uid: str | None, mcu: str | None, board_name: str | None, frequency: int,
           as_json: bool) -> None:
    """Find out why a board will not connect, and how to recover: probe, firmware, target
    voltage, SWD (retrying slower, under reset, with NRST held), chip, option bytes.
    Exit code 0: ready; 1: connected but blocked (read protection...); 3: not reachable."""
    from extflash import doctor as doc
    from extflash.cli.session import probe_part
    from extflash.target.pyocd_target import ProbeOptions

    ProbeOptions(frequency=frequency)  # checks the value
    part, supply = probe_part(board_name, mcu, probe_uid, "extflash doctor")
    report = doc.walk(part, probe=probe_uid, frequency=frequency, supply=supply)
    if as_json:
        echo_json(envelope("doctor", report.as_dict(), ok=report.ok))
    else:
        click.echo("\n".join(report.render()))
    sys.exit(report.exit_code)
