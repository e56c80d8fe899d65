"""``extflash report``: the HTML page of a saved trace."""

from __future__ import annotations

import click

from extflash.cli.common import check_writable, emit, handle_errors


@click.command()
@click.argument("trace_path", metavar="TRACE.json", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--output",
    "-o",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False),
    metavar="FILE.html",
    help="Where to write the page.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON result.")
@handle_errors("report")
def report(trace_path: str, output_path: str, as_json: bool) -> None:
    """Render a trace written with --trace FILE.json as a self-contained HTML page."""
    from extflash import report as pages

    check_writable(output_path, "--output")
    trace = pages.load_trace(trace_path)
    pages.write_html(trace, output_path)
    events = len(trace["events"])
    emit("report", as_json, {"trace": trace_path, "output": output_path, "events": events},
         f"wrote {output_path} ({events} events)")
