"""The ``extflash`` command line: one small function per command over the Python API.

Commands parse options, call the API and render the result. Errors are ``ExtflashError``s:
printed as one message (no traceback) with the error's exit code.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from extflash import __version__
from extflash.errors import ExtflashError

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
@click.option("--mcu", "mcu_name", metavar="PART",
              help="Check against this part (e.g. STM32H743ZI).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (extflash.lint/1).")
@handle_errors
def lint(loader_path: str, mcu_name: str | None, as_json: bool) -> None:
    """Check a loader for defects; exit 1 when any finding is an error."""
    from extflash.loader import lint as rules
    from extflash.loader import open as open_loader

    report = rules.lint(open_loader(loader_path), mcu_name)
    text = json.dumps(rules.lint_dict(report), indent=2) if as_json else "\n".join(
        rules.render_lint(report))
    click.echo(text)
    sys.exit(report.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
