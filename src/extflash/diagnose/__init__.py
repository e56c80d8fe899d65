"""Why a loader fails, told from what the virtual board saw.

Typical use::

    from extflash import diagnose

    session, watch = diagnose.open_session("my.stldr", board="nucleo-h743zi-w25q128")
    try:
        session.program(image)
    except LoaderCallError as err:
        print(diagnose.explain(err, watch).render())

:class:`Watch` wraps the virtual board's target and records every call
(:class:`~extflash.diagnose.evidence.CallEvidence`); :func:`explain` turns a failed call into a
:class:`Diagnosis`: a hang (the loop, the bits it waits for, why they never change), a fault
(status bits, instruction, what lies at the address), a failure return (the flash commands and
what the chip rejected), a stack overflow (the depth reached), or wiring (the loader's pins
against the board's). :func:`wiring.compare` and :func:`evidence.window_state` are usable on
their own.
"""

from __future__ import annotations

import os
from typing import Any

from extflash import board as boards
from extflash.diagnose import protocol, wiring
from extflash.diagnose.evidence import CallEvidence, FlashCommand, WindowState, window_state
from extflash.diagnose.failure import explain_failure
from extflash.diagnose.fault import explain_fault
from extflash.diagnose.model import Diagnosis
from extflash.diagnose.symbols import Symbolizer
from extflash.diagnose.watch import Watch
from extflash.errors import ExtflashError, OperationError
from extflash.loader.model import Loader, open_loader
from extflash.programmer import Progress, VerifyError
from extflash.runner import DriverOptions, LoaderCallError

__all__ = [
    "CallEvidence",
    "DiagnosedError",
    "Diagnosis",
    "FlashCommand",
    "Symbolizer",
    "Watch",
    "WindowState",
    "explain",
    "explain_call",
    "explained",
    "open_session",
    "protocol",
    "window_state",
    "wiring",
]


# The calls that read the flash back (stldr-abi.md 3, 4.3): their commands explain a verify
# failure.
READ_FUNCTIONS = ("Read", "Verify", "CheckSum", "BlankCheck")


class DiagnosedError(OperationError):
    """A failed operation with the explanation of the loader call that failed it.

    The message is the operation's own (what failed, the chip's state) followed by the
    diagnosis; the generic hint of the call error gives way to the diagnosis's fix.
    """

    def __init__(self, error: ExtflashError, call_error: LoaderCallError,
                 diagnosis: Diagnosis) -> None:
        hint = None if diagnosis.certain else call_error.hint
        body = diagnosis.render()
        first = error.message.splitlines()[0]
        if diagnosis.cause in error.message:  # the call error already tells the cause
            body = "\n".join(body.splitlines()[1:])
        elif diagnosis.cause.startswith(first):  # ... or how the call ended
            body = diagnosis.cause[len(first):].lstrip(":; ") + body[len(diagnosis.cause):]
        body = "\n".join(f"  {line}" for line in body.splitlines() if line.strip())
        super().__init__(f"{error.message}\n{body}".rstrip(), hint=hint)
        self.error = error
        self.call_error = call_error
        self.diagnosis = diagnosis


def explained(error: ExtflashError, watch: Watch) -> ExtflashError:
    """``error`` with the diagnosis of the loader call behind it (unchanged if there is none)."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, LoaderCallError | VerifyError):
        seen = seen.__cause__ or seen.__context__
    if isinstance(seen, VerifyError):
        return _verify_wiring(error, watch)
    if seen is None:
        return error
    return DiagnosedError(error, seen, explain(seen, watch))


def _verify_wiring(error: ExtflashError, watch: Watch) -> ExtflashError:
    """A verify failure, with the pins the loader routed where they are not the board's: every
    call returned success, but the chip received 1s on the lines nobody drove (the pull-ups),
    so 0x38 went in as 0xFC on a chip whose IO2/IO3 the loader left unrouted."""
    problems = [p for row in wiring.compare(watch.board) if (p := row.problem()) is not None]
    if not problems:
        return _verify_protocol(error, watch)
    lines = ["  the loader's pins are not the board's, so the chip saw 1s on the lines it left "
             "unrouted:", *(f"    {p}" for p in problems)]
    return OperationError(
        "\n".join([error.message, *lines]),
        hint=f"route every {watch.board.qspi.name} signal to the pin the board wires, or "
        "describe the board's real wiring (--pins)",
    )


def _verify_protocol(error: ExtflashError, watch: Watch) -> ExtflashError:
    """A verify failure where the chip holds the right data but the loader reads it back in
    another protocol than the chip is in (dummy cycles, DQS, the read of the other state)."""
    full = watch.diagnosable()
    reads = [c for ev in full.calls if ev.function in READ_FUNCTIONS for c in ev.flash]
    told = protocol.explain(full.board, reads)
    if told is None:
        return error
    lines = [f"  the chip holds what was written, but {told.cause}",
             *(f"    {d}" for d in told.details)]
    return OperationError("\n".join([error.message, *lines]), hint=told.fix)


def open_session(loader: str | os.PathLike[str] | Loader, *, board: boards.Board | str,
                 flash_file: str | os.PathLike[str] | None = None, timing: str = "typical",
                 options: DriverOptions | None = None, progress: Progress | None = None,
                 early_stop: bool = True,
                 replay_on_failure: bool = False) -> tuple[Any, Watch]:
    """A :class:`~extflash.api.Session` on a watched virtual board, and the watch.

    With ``replay_on_failure`` the calls run without the flash-command log (at the speed of an
    unwatched board) and a failure is explained from a replay under the full watch (see
    :class:`Watch`); ``watch.calls`` then lacks the flash commands."""
    from extflash import api

    ldr = loader if isinstance(loader, Loader) else open_loader(loader)
    brd = board if isinstance(board, boards.Board) else boards.load(board)

    def fresh_board() -> Any:  # watched in full: its stores are hooked
        return api.open_virtual_board(brd, flash_file=flash_file, timing=timing)

    # in replay mode nothing hooks the first board's stores
    target = api.open_virtual_board(brd, flash_file=flash_file, timing=timing,
                                    write_hooks=not replay_on_failure)
    watch = Watch(target, early_stop=early_stop,
                  replay=fresh_board if replay_on_failure else None)
    try:
        session = api.Session(ldr, watch, options=options, progress=progress)
    except BaseException:
        target.close()
        raise
    watch.bind(session.driver, ldr)
    return session, watch


def _stack(ev: CallEvidence, watch: Watch) -> Diagnosis:
    lay = watch.layout
    fn = ev.function
    size = ev.stack_size
    used = ev.stack_used or size
    details = [f"stack: 0x{lay.stack_bottom + 4:08X}..0x{lay.stack_top - 1:08X} "
               f"({size} bytes), initial SP 0x{lay.stack_top:08X}"] if lay else []
    if lay is not None and ev.overflow:
        lowest = lay.stack_bottom + 4 - ev.overflow
        name = watch.symbols.name(lowest)
        details.append(f"deepest stack write at 0x{lowest:08X}"
                       + (f", inside {name}" if name else "") + " (in the loader's own image)")
    cause = (f"{ev.signature()} overflowed its stack: it needs at least {used} bytes, "
             f"{ev.overflow} more than the {size} the host gives (CubeProgrammer gives about "
             f"1 KiB above the image), and overwrote the end of its own image")
    return Diagnosis("stack", fn, cause, tuple(details),
                     "move large local arrays to static storage and avoid deep call chains "
                     "(the host gives about 1 KiB); --stack-size tests with more", certain=True)


def explain_call(ev: CallEvidence, watch: Watch, *, ok_value: int | None = None) -> Diagnosis:
    """Explain a recorded call that did not end well (timeout, fault, overflow, failure)."""
    ctx = watch.context(ev)
    if ev.overflow:
        return _stack(ev, watch)
    if ev.reason == "timeout":
        if ev.stuck is not None:
            stuck: Diagnosis = ev.stuck
            return stuck
        from extflash.diagnose.hang import explain_hang  # capstone: only when something hangs

        diagnosis = explain_hang(ctx)
        if diagnosis is not None:
            return diagnosis
        return Diagnosis("hang", ev.function, f"{ev.function}() needed more time than the "
                         f"host allows ({ev.elapsed_s:.3g} s) but finishes when given more",
                         (), "this is slow rather than broken: check clocks and timeouts",
                         certain=False)
    if ev.reason in ("fault", "lockup") and ev.fault is not None:
        return explain_fault(ctx, ev.fault)
    if ev.reason == "breakpoint":
        pc = watch.machine.reg_read("pc") & ~1
        return Diagnosis("fault", ev.function,
                         f"{ev.function}() executed a BKPT instruction {ctx.in_function(pc)} "
                         f"(a debugger breakpoint or __BKPT() left in the loader)",
                         (f"instruction: {ctx.where(pc)}",), "remove the breakpoint",
                         where=ctx.where(pc))
    result = ev.r0 if ev.r0 is not None else 0
    ok = 1 if ok_value is None else ok_value
    return explain_failure(ctx, result, ok)


def explain(error: LoaderCallError, watch: Watch) -> Diagnosis:
    """The diagnosis of a failed loader call made through ``watch``."""
    watch = watch.diagnosable()
    ev = next((c for c in reversed(watch.calls) if c.function == error.function), None)
    if ev is None:
        return Diagnosis("unknown", error.function, str(error.message), (), error.hint,
                         certain=False)
    if "overflowed its stack" in error.message and not ev.overflow:
        ev.overflow = 4  # the canary caught it even though no deeper write was seen
    return explain_call(ev, watch, ok_value=watch.ok_value)
