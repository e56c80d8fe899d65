"""What every command shares: one error style, one JSON envelope, numeric options, output checks.

Kept light: importing it (as ``extflash --help`` does) loads click and nothing of the emulator.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from extflash.errors import ExtflashError, InputError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_GC_THRESHOLD = gc.get_threshold()[0]  # the interpreter's, read before run() raises it


def schema(command: str) -> str:
    return f"extflash.{command}/1"


def envelope(
    command: str, data: dict[str, Any] | None = None, *, ok: bool = True
) -> dict[str, Any]:
    """The JSON every command prints: ``schema``, ``ok``, then the command's own fields."""
    body = dict(data or {})
    return {"schema": body.pop("schema", schema(command)), "ok": ok, **body}


def error_object(code: str, message: str, hint: str | None = None) -> dict[str, str]:
    error = {"code": code, "message": message}
    if hint:
        error["hint"] = hint
    return error


def echo_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2))


def emit(command: str, as_json: bool, data: dict[str, Any], text: str) -> None:
    """A successful result: the envelope in JSON mode, ``text`` otherwise."""
    if as_json:
        echo_json(envelope(command, data))
    else:
        click.echo(text)


def fail(
    command: str, as_json: bool, data: dict[str, Any], text: str, error: dict[str, str]
) -> None:
    """A result that is a failure (mismatch, not blank, lint errors): printed, then exit 1."""
    if as_json:
        echo_json({**envelope(command, data, ok=False), "error": error})
    else:
        click.echo(text)
    sys.exit(1)


def report_error(command: str | None, as_json: bool, exc: ExtflashError) -> None:
    """One error style: ``error: message`` (+ ``hint:``) on stderr, or the JSON envelope."""
    if as_json:
        echo_json(
            {
                "schema": schema(command or "error"),
                "ok": False,
                "error": error_object(exc.code, exc.message, exc.hint),
            }
        )
    else:
        click.echo(f"error: {exc}", err=True)


def settle_heap() -> None:
    """Start-up is over (a session is open): what exists now lives as long as the process, so
    the cyclic collector stops looking at it (``gc.freeze``) and runs at its usual threshold
    again over what the operation makes (``run`` raised it for the start-up)."""
    gc.freeze()
    gc.set_threshold(DEFAULT_GC_THRESHOLD)


def handle_errors(command: str) -> Callable[[F], F]:
    """Turn an ExtflashError (or an OS error on a user's file) into one message and its code."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            as_json = bool(kwargs.get("as_json"))
            try:
                return func(*args, **kwargs)
            except ExtflashError as exc:
                report_error(command, as_json, exc)
                sys.exit(exc.exit_code)
            except OSError as exc:
                where = f" {exc.filename}" if exc.filename else ""
                error = InputError(f"cannot use{where}: {exc.strerror or exc}")
                report_error(command, as_json, error)
                sys.exit(error.exit_code)

        return wrapper  # type: ignore[return-value]

    return decorate


# -- numeric options -------------------------------------------------------------------------


class Number(click.ParamType):
    """An address or size: ``0x90000000``, ``4096``, ``64K``, ``16M``; ``minimum`` and
    ``maximum`` when given."""

    name = "number"

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            number = value
        else:
            from extflash.api import parse_int

            try:
                number = parse_int(str(value), "value")
            except InputError:
                self.fail(f"'{value}' is not a number (use e.g. 0x90000000, 4096, 64K)", param, ctx)
        if self.minimum is not None and number < self.minimum:
            what = "a size of 0 bytes means nothing to do" if number == 0 else "too small"
            self.fail(f"{value}: {what} (give at least {self.minimum})", param, ctx)
        if self.maximum is not None and number > self.maximum:
            self.fail(f"{value}: too large (give at most {self.maximum})", param, ctx)
        return number


class Frequency(click.ParamType):
    """A frequency in Hz: ``4M``, ``400k``, ``25MHz``, ``0x17D7840``."""

    name = "hz"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from extflash.api import parse_hz

        text = str(value).strip()
        if text == "0":
            return 0  # --hse 0: no crystal
        try:
            return int(text, 16) if text.lower().startswith("0x") else parse_hz(text)
        except (InputError, ValueError):
            self.fail(f"'{value}' is not a frequency (use e.g. 4M, 400k, 25MHz)", param, ctx)


ADDRESS = Number(minimum=0)
SIZE = Number(minimum=1)
INTEGER = Number()
PORT = Number(minimum=0)  # a TCP port (0: any free one; the server checks the range)
HZ = Frequency()


# -- output files ----------------------------------------------------------------------------


def read_ahead(path: str) -> Callable[[], bytes | None]:
    """Start reading file ``path`` on a thread; the function returned waits for its bytes (None
    when it could not be read: the reader then reads it again and says why). The read's system
    call runs without the interpreter's lock, so a command imports the API meanwhile: reading a
    16 MiB image and importing took 34 ms one after the other, 29-30 ms so."""
    import threading

    out: list[bytes] = []

    def read() -> None:
        with contextlib.suppress(OSError):
            out.append(Path(path).read_bytes())

    reader = threading.Thread(target=read, name="extflash-read-ahead", daemon=True)
    reader.start()

    def result() -> bytes | None:
        reader.join()
        return out[0] if out else None

    return result


def board_from_options(kw: dict[str, Any]) -> Any:
    """The board the options name (``--board`` or ``--mcu/--chip/--bank/--pins/--hse``, popped
    from ``kw``), with its notes shown."""
    from extflash import api

    board = api.resolve_board(kw.pop("board_name"), mcu=kw.pop("mcu"), chip=kw.pop("chip"),
                              bank=kw.pop("bank"), pins=kw.pop("pins"), hse=kw.pop("hse"))
    echo_notes(board)
    return board


def echo_notes(board: Any) -> None:
    """How an inline board was understood (the pins chose the bank, order or port)."""
    for note in getattr(board, "notes", ()):
        click.echo(f"note: {note}", err=True)


def check_writable(path: str | os.PathLike[str], option: str, *, folder_ok: bool = False) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    The check opens the file as the command will (an existing file for appending, which changes
    nothing; a new one is created and removed again), so it sees what permissions, read-only
    file systems and name limits will say.
    """
    target = Path(path)
    try:
        if target.is_dir():
            if folder_ok and os.access(target, os.W_OK | os.X_OK):
                return
            why = "the folder is not writable" if folder_ok else "is a folder, not a file"
            raise InputError(f"{option} {path}: {why}")
        if not target.parent.is_dir():
            raise InputError(
                f"{option} {path}: the folder {target.parent} does not exist",
                hint="create it first, or give a path in an existing folder",
            )
        if target.exists():
            with open(target, "ab"):
                pass
        else:
            with open(target, "xb"):
                pass
            target.unlink()
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write there ({exc.strerror})") from None
