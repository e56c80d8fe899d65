"""Failure returns: the flash commands the chip received during the call, what it rejected and
why, and commands a chip accepts but that cannot do what the loader meant."""

from __future__ import annotations

from typing import Any

from extflash.diagnose import protocol, wiring
from extflash.diagnose.context import Context
from extflash.diagnose.evidence import FlashCommand
from extflash.diagnose.model import Diagnosis

SHOWN_COMMANDS = 16

# Substring of the chip model's rejection reason -> what to change in the loader.
REJECTION_FIXES: tuple[tuple[str, str], ...] = (
    ("without WREN", "send WRITE ENABLE (0x06) right before every program, erase and "
                     "status-register write"),
    ("busy with", "wait until the status register shows WIP=0 before the next command"),
    ("line(s) while the chip is in", "send the opcode on the lines the chip listens on "
                                     "(IMODE: 1 line unless the chip was put in QPI mode)"),
    ("is not a", "check the opcode against the chip's datasheet"),
    ("-byte address", "use the address width the chip is in (ADSIZE; 4-byte commands or "
                      "4-byte mode for chips above 16 MiB)"),
    ("QE=0", "set the chip's Quad Enable bit before quad commands"),
    ("block-protected", "clear the block-protect (BP) bits in the status register first"),
    ("reset-enable", "send RESET ENABLE (0x66) immediately before RESET (0x99)"),
    ("deep power-down", "release the chip from deep power-down (0xAB) first"),
    ("data sent on", "send the data phase on the lines the program command uses (DMODE)"),
    ("no instruction phase", "give every command an instruction phase (IMODE != 0) unless "
                             "the chip is in continuous-read mode"),
)


def fix_for(reason: str) -> str | None:
    return next((fix for key, fix in REJECTION_FIXES if key in reason), None)


def suspicious(cmd: FlashCommand, page_size: int, chip: Any = None) -> str | None:
    """A command the chip accepts that does not do what a loader means by it: a page program
    crossing a page boundary, a read whose address, dummy clocks or lines differ from the
    chip's (it returns shifted or garbled data)."""
    c = cmd.command
    if chip is not None and c.read_length and c.address is not None and cmd.outcome == "ok":
        why = chip.read_check(c)
        if why and "is not a read command" not in why and "is not an octal read" not in why:
            return f"{c.describe()} reads garbled data: {why}"
    n = len(c.write_data)
    if n and c.address is not None and page_size:
        offset = c.address % page_size
        if offset + n > page_size:
            return (f"{cmd.command.describe()}: {n} bytes from page offset 0x{offset:X} cross the "
                    f"{page_size}-byte page boundary, and the chip wraps around inside the "
                    f"page (split writes at page boundaries)")
    return None


def command_lines(commands: list[FlashCommand], limit: int = SHOWN_COMMANDS) -> list[str]:
    """The last ``limit`` commands, one line each; identical ones in a row (a status read
    polled until the timeout) are folded into one line with a count."""
    shown = commands[-limit:]
    lines: list[str] = []
    repeats: list[int] = []
    for c in shown:
        line = f"bank {c.bank}: {c.describe()}"
        if lines and lines[-1] == line:
            repeats[-1] += 1
        else:
            lines.append(line)
            repeats.append(1)
    lines = [line if n == 1 else f"{line}  (x{n})" for line, n in zip(lines, repeats, strict=True)]
    if len(commands) > len(shown):
        lines.insert(0, f"... {len(commands) - len(shown)} earlier command(s)")
    return lines


def explain_failure(ctx: Context, result: int, ok_value: int) -> Diagnosis:
    """``function`` returned ``result`` instead of ``ok_value``."""
    call = ctx.call
    fn = ctx.function
    head = f"{call.signature()} returned 0x{result:X} (failure; success is {ok_value})"
    chips = getattr(ctx.board, "chips", {})
    page = next(iter(chips.values())).spec.page_size if chips else 256
    commands = call.flash
    received = [c for c in commands if c.outcome != "not received"]
    rejected = call.rejected()
    details: list[str] = []
    if not commands:
        cause = f"{head}: the flash controller sent no command at all during the call"
        return Diagnosis("failure", fn, cause, tuple(details),
                         f"check that the loader reaches its {ctx.board.qspi.name} code (clock "
                         "enables, early returns)", certain=True)
    if not received:
        problems = wiring.problems(ctx.board)
        cause = (f"{head}: none of its {len(commands)} flash commands reached the chip")
        details += problems or [e.describe() for e in call.wiring[:3]]
        details += command_lines(commands, 6)
        return Diagnosis("wiring", fn, cause, tuple(details), wiring.fix(ctx.board),
                         certain=True)
    told = protocol.explain(ctx.board, commands)
    if told is not None:
        details += told.details
        details += command_lines(commands, 6)
        return Diagnosis("failure", fn, f"{head}: {told.cause}", tuple(details), told.fix,
                         certain=True)
    if rejected:
        first = rejected[0]
        cause = (f"{head}: the chip rejected {len(rejected)} of {len(commands)} commands, "
                 f"first {first.command.describe()}: {first.reason}")
        details += command_lines(commands)
        return Diagnosis("failure", fn, cause, tuple(details), fix_for(first.reason),
                         certain=True)
    odd = [s for c in commands
           if (s := suspicious(c, page, chips.get(c.bank))) is not None]
    if odd:
        cause = f"{head}: {odd[0]}"
        details += command_lines(commands)
        fix = ("split each Write at page boundaries (one page program per page)"
               if "page boundary" in odd[0] else
               "use the chip's read command with its address width, dummy clocks and lines")
        return Diagnosis("failure", fn, cause, tuple(details), fix, certain=True)
    lost = [c for c in commands if c.outcome == "not received"]
    if lost:
        cause = (f"{head}: {len(lost)} of its {len(commands)} flash commands never reached "
                 f"the chip")
        details += wiring.problems(ctx.board) or [e.describe() for e in call.wiring[:3]]
        details += command_lines(commands)
        return Diagnosis("wiring", fn, cause, tuple(details), wiring.fix(ctx.board))
    cause = (f"{head}; the chip accepted all {len(commands)} commands, so the loader decided "
             f"to fail on what it read back")
    details += command_lines(commands)
    return Diagnosis("failure", fn, cause, tuple(details),
                     "compare what the loader expects (IDs, status bits, read-back data) with "
                     "the commands above", certain=False)
