"""The ``extflash`` command line: one small module per command over the Python API.

Commands load on demand and import the API inside their function, so ``extflash --version``,
``--help`` and ``info`` never load the emulator, the diagnostics or pyOCD. Every error, click's
usage errors included, is printed one way: ``error: message`` (and ``hint:``) on stderr, or the
JSON envelope with ``--json``; see :mod:`extflash.cli.common`.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from extflash import __version__
from extflash.cli.common import report_error
from extflash.errors import ExtflashError, InputError, Interrupted

# command name -> module (in extflash.cli) and function
COMMANDS = {
    "info": ("info", "info"),
    "lint": ("lint", "lint"),
    "program": ("program", "program"),
    "erase": ("erase", "erase"),
    "read": ("read", "read"),
    "verify": ("verify", "verify"),
    "checksum": ("checksum", "checksum"),
    "blank-check": ("blank_check", "blank_check"),
    "boards": ("boards", "boards"),
    "chips": ("chips", "chips"),
    "test": ("test", "conformance_test"),
    "new": ("new", "new"),
    "run": ("run", "run"),
    "gdbserver": ("gdbserver", "gdbserver"),
    "report": ("report", "report"),
    "doctor": ("doctor", "doctor"),
}


STARTUP_GC_THRESHOLD = 100_000  # allocations between young-generation collections at start-up


class UsageError(InputError):
    code = "usage"


class _Formatter(logging.Formatter):
    """Warnings read like errors do (``warning: ...``); -v/-vv add the logger's name."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.WARNING and not record.name.startswith("extflash.debug"):
            return f"{record.levelname.lower()}: {record.getMessage()}"
        return f"{record.levelname} {record.name}: {record.getMessage()}"


def _leave(code: str | int | None) -> NoReturn:
    """End the process without the interpreter's teardown, which frees the virtual board and
    every module: 30-40 ms, a tenth of a short command's run. What the command wrote is out
    first: the exit handlers run, logging is shut down and the standard streams are flushed.
    With another thread still running, or a profiler or tracer attached (``python -m cProfile``
    writes its report after the script returns), the interpreter ends the process as usual."""
    if code is None:
        code = 0
    if (not isinstance(code, int) or threading.active_count() > 1
            or sys.getprofile() is not None or sys.gettrace() is not None):
        sys.exit(code)
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to say
            stream.flush()
    os._exit(code)


class ExtflashGroup(click.Group):
    """Loads each command's module when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(f"extflash.cli.{module}"), attr)
        assert isinstance(command, click.Command)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if args and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, COMMANDS, n=1)
            ctx.fail(
                f"no command '{name}'"
                + (f" (did you mean '{close[0]}'?)" if close else "")
                + f"; commands: {', '.join(COMMANDS)}"
            )
        return super().resolve_command(ctx, args)

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        extra.pop("standalone_mode", None)
        command = next((a for a in argv if a in COMMANDS), None)
        as_json = "--json" in argv
        try:
            result = super().main(argv, prog_name or "extflash", standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = f"extflash {command}" if command else "extflash"
            error = UsageError(exc.format_message(), hint=f"see '{where} --help'")
            report_error(command, as_json, error)
            sys.exit(error.exit_code)
        except click.ClickException as exc:
            report_error(command, as_json, InputError(exc.format_message()))
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            report_error(command, as_json, Interrupted("interrupted"))
            sys.exit(Interrupted.exit_code)
        except ExtflashError as exc:  # raised outside a command's own handler
            report_error(command, as_json, exc)
            sys.exit(exc.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=ExtflashGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="extflash")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Read, lint, run and generate STM32 external-flash loaders."""
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING - 10 * min(verbose, 2))


def run() -> NoReturn:
    """The ``extflash`` console script: :func:`main`, then :func:`_leave` (code that calls
    ``main`` itself gets click's ``SystemExit`` and keeps its process).

    Start-up (the imports, the virtual board) makes objects that live as long as the process,
    so the cyclic collector runs rarely until :func:`extflash.cli.common.settle_heap` says the
    start-up is over. A 16 MiB ``program`` spent 22 ms in the collector (131 collections, one
    over the whole heap); 3.4 ms so (60, none over the whole heap)."""
    gc.set_threshold(STARTUP_GC_THRESHOLD)
    try:
        main()
    except SystemExit as done:
        _leave(done.code)
    _leave(0)


if __name__ == "__main__":  # pragma: no cover
    run()
