"""The session behind an operation command: the virtual board (watched) or a real board."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from extflash.cli.common import board_from_options, check_writable, settle_heap
from extflash.cli.interrupt import InterruptGuard
from extflash.errors import ExtflashError, InputError, Interrupted
from extflash.progress import ProgressRenderer

if TYPE_CHECKING:
    from extflash import api
    from extflash.runner import DriverOptions

log = logging.getLogger("extflash.cli")


def check_outputs(kw: dict[str, Any]) -> None:
    """The files the session will write (--trace, --flash-file), checked before any work."""
    if kw.get("trace_path"):
        check_writable(kw["trace_path"], "--trace")
    if kw.get("report_path"):
        check_writable(kw["report_path"], "--report")
    flash_file = kw.get("flash_file")
    if flash_file:
        check_writable(flash_file, "--flash-file")
        if Path(flash_file).exists() and not os.access(flash_file, os.R_OK):
            raise InputError(f"--flash-file {flash_file}: the file is not readable")


@contextlib.contextmanager
def open_operation(kw: dict[str, Any], renderer: ProgressRenderer) -> Iterator[api.Session]:
    """The operation's session. On the virtual board every call is watched: a failed call is
    reported with its diagnosis, and --trace writes the timeline (also when the call fails).
    Ctrl-C stops at the next safe point; the error then says which sectors were done."""
    from extflash.runner import DriverOptions

    check_outputs(kw)
    trace_path, trace_filter = kw.pop("trace_path"), kw.pop("trace_filter")
    report_path = kw.pop("report_path", None)
    options = DriverOptions(
        buffer_size=kw.pop("buffer_size"),
        stack_size=kw.pop("stack_size"),
        r9=kw.pop("r9"),
        init_arg=kw.pop("init_arg"),
        init_sequence=kw.pop("init_sequence"),
    )
    with InterruptGuard() as guard:
        progress = guard.watching(renderer)
        if kw.pop("target_kind") == "probe":
            if trace_path or report_path:
                option = "--trace" if trace_path else "--report"
                raise InputError(f"{option} needs the virtual board (--target emu)")
            with (
                _probe_session(kw, options, progress) as probe_session,
                _report_stop(probe_session),
            ):
                settle_heap()
                yield probe_session
            return
        with _virtual_session(
            kw, options, progress, trace_path, trace_filter, report_path
        ) as session:
            settle_heap()
            yield session


@contextlib.contextmanager
def _virtual_session(
    kw: dict[str, Any],
    options: DriverOptions,
    progress: Any,
    trace_path: str | None,
    trace_filter: str | None,
    report_path: str | None = None,
) -> Iterator[api.Session]:
    from extflash.emu import buffers

    board = board_from_options(kw)
    buffers.prepare_blank_chips(board)  # filled on other threads while the emulator loads
    from extflash import diagnose, trace, trace_facts

    session, watch = diagnose.open_session(
        kw.pop("loader_path"),
        board=board,
        flash_file=kw.pop("flash_file"),
        timing=kw.pop("timing"),
        options=options,
        progress=progress,
        replay_on_failure=not (trace_path or report_path),
    )
    watch.machine.console.listeners.append(  # a loader's debug text over a USART
        lambda port, line: click.echo(f"{port}: {line}", err=True))
    timeline = None
    if trace_path or report_path:
        wanted = trace_filter.split(",") if trace_filter else None
        # --report alone: only what the page draws (large runs stay fast)
        timeline = trace.Timeline.attach(watch, peripherals=wanted, compact=not trace_path)
    try:
        with session, _report_stop(session):
            try:
                yield session
            except Interrupted:
                raise
            except ExtflashError as exc:
                error = diagnose.explained(exc, watch)
                if timeline is not None:
                    timeline.diagnosis = _diagnosis_of(error)
                raise error from None
    finally:
        watch.machine.console.flush()
        if timeline is not None:
            timeline.facts.plan = trace_facts.plan(session.programmer)
            timeline.operation = click.get_current_context().info_name or ""
            timeline.stop()
            _write_outputs(timeline, trace_path, report_path)


def _diagnosis_of(error: ExtflashError) -> dict[str, Any]:
    """The trace's record of a failure: the diagnosis when there is one, and the operation's
    own message (without the diagnosis the message appends)."""
    diagnosis = getattr(error, "diagnosis", None)
    out: dict[str, Any] = diagnosis.as_dict() if diagnosis is not None else {"kind": "failure"}
    out["error"] = getattr(error, "error", error).message
    return out


def _write_outputs(timeline: Any, trace_path: str | None, report_path: str | None,
                   extra: list[tuple[str | None, Any, str]] | None = None) -> None:
    """--trace and --report; the operation's result stands when one cannot be written."""
    outputs = [] if timeline is None else [(trace_path, timeline.write, "trace"),
                                           (report_path, _report_writer(timeline), "report")]
    outputs += extra or []
    for path, write, what in outputs:
        if not path:
            continue
        try:
            write(path)
        except OSError as exc:
            log.warning("the %s could not be written to %s: %s", what, path, exc.strerror)
        except ExtflashError as exc:
            log.warning("%s", exc.message)


def _report_writer(timeline: Any) -> Any:
    from extflash import report

    return lambda path: report.write_html(timeline.as_dict(), path)


def recording(operation: str, kw: dict[str, Any]) -> Any:
    """The recording --trace/--report ask for (``None`` without them), the files checked."""
    from extflash.report import record

    check_outputs(kw)
    trace_path, report_path, wanted = (kw.pop("trace_path"), kw.pop("report_path"),
                                       kw.pop("trace_filter"))
    if not (trace_path or report_path):
        return None
    rec = record.Recording(operation, peripherals=wanted.split(",") if wanted else None,
                           compact=not trace_path)
    rec.paths = (trace_path, report_path)
    return rec


def write_recording(rec: Any, diagnosis: dict[str, Any] | None = None, summary: str = ""
                    ) -> None:
    """--trace and --report of a recording; the operation's result stands when one cannot be
    written."""
    from extflash import report

    if rec is None:
        return
    data = rec.trace(diagnosis, summary)
    trace_path, report_path = rec.paths
    _write_outputs(None, None, None, extra=[(trace_path, lambda p: rec.write(data, p), "trace"),
                                            (report_path, lambda p: report.write_html(data, p),
                                             "report")])


@contextlib.contextmanager
def _report_stop(session: api.Session) -> Iterator[None]:
    """An interruption names the sectors erased and written before it."""
    try:
        yield
    except (Interrupted, KeyboardInterrupt) as exc:
        cut = (
            "no loader call was cut short"
            if isinstance(exc, Interrupted)
            else "the loader call in progress was cut short"
        )
        raise Interrupted(
            f"interrupted; {session.programmer._state()}",
            hint=f"{cut} (a --flash-file keeps this state); run the command again to finish",
        ) from None


def probe_part(board_name: str | None, mcu_name: str | None, probe_uid: str | None,
               command: str = "--target probe") -> tuple[Any, str | None]:
    """The MCU behind the probe and the board's supply scheme: from --board, --mcu, or the
    board a virtual probe (``virtual:<board>``) stands for."""
    from extflash import board as boards
    from extflash import mcu

    if not board_name and not mcu_name and probe_uid and probe_uid.startswith("virtual:"):
        board_name = probe_uid.removeprefix("virtual:")
    if board_name:
        brd = boards.load(board_name)
        part = mcu.find_part(mcu_name) if mcu_name else brd.part
        return part, brd.supply
    if mcu_name:
        return mcu.find_part(mcu_name), None
    raise InputError(f"{command} needs the MCU: --mcu PART or --board NAME")


def _probe_session(kw: dict[str, Any], options: DriverOptions, progress: Any) -> api.Session:
    """A real board: only the MCU matters (--board or --mcu); the loader knows the chip.
    When no target answers, the connection walk of ``extflash doctor`` says why."""
    from extflash.target.pyocd_target import ConnectError, ProbeOptions, open_probe_session

    part, supply = probe_part(kw.get("board_name"), kw.get("mcu"), None)
    probe = ProbeOptions(
        probe=kw.pop("probe_uid"),
        target_type=kw.pop("target_type"),
        frequency=kw.pop("frequency"),
        connect=kw.pop("connect"),
        on_close=kw.pop("on_close"),
        halt_other_cores=kw.pop("halt_other_cores"),
        # The virtual probe (probe UID virtual:<board>) keeps its chip in the flash file.
        pyocd_options={"extflash.flash_file": kw["flash_file"]} if kw.get("flash_file") else {},
    )
    try:
        return open_probe_session(
            kw.pop("loader_path"),
            part,
            probe=probe,
            options=options,
            progress=progress,
            double_buffer=not kw.pop("no_double_buffer"),
        )
    except ConnectError as exc:
        from extflash.doctor import explain

        found = explain(part, probe=probe.probe, frequency=probe.frequency,
                        target_type=probe.target_type, supply=supply)
        if not found:
            raise
        raise ConnectError(exc.message, hint=found) from exc


def renderer(quiet: bool, as_json: bool) -> ProgressRenderer:
    return ProgressRenderer(mode="off" if quiet or as_json else "auto")
