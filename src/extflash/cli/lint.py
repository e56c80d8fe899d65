"""``extflash lint``: check a loader for defects."""

from __future__ import annotations

import click

from extflash.cli.common import emit, error_object, fail, handle_errors


@click.command()
@click.argument("loader_path", metavar="LOADER", type=click.Path(dir_okay=False))
@click.option(
    "--mcu", "mcu_name", metavar="PART", help="Check against this part (e.g. STM32H743ZI)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (extflash.lint/1).")
@handle_errors("lint")
def lint(loader_path: str, mcu_name: str | None, as_json: bool) -> None:
    """Check a loader for defects; exit 1 when any finding is an error."""
    from extflash.loader import lint as rules
    from extflash.loader import open as open_loader

    report = rules.lint(open_loader(loader_path), mcu_name)
    data = rules.lint_dict(report)
    text = "" if as_json else "\n".join(rules.render_lint(report))
    if report.exit_code == 0:
        emit("lint", as_json, data, text)
        return
    fail("lint", as_json, data, text, error_object("lint-errors", "the loader has lint errors"))
