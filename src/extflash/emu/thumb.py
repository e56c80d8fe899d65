"""Which Thumb instructions a wait loop may run while the machine steps it (idleloop.py).

A look at a loop runs it one instruction at a time, and only instructions that write nothing but
core registers may run: data processing, compares, branches, and single-register loads whose
address the look checks before the step. :func:`decode` classifies one instruction as
thumbsem.py decodes it (ARMv7-M Architecture Reference Manual, A5.2 16-bit and A5.3 32-bit
Thumb encodings); anything it does not place (stores, load/store multiple, writeback, exception
returns, system instructions, IT, hints, and MOVS Rd, Rm as capstone named it) is refused,
which only means the loop is not skipped.
``tests/emu/test_thumb.py`` checks every 16-bit encoding, and the 32-bit families decoded here,
against capstone's disassembly.

It replaces capstone on this path: importing capstone costs the command line about 22 ms, once
per process, at a HAL-style loader's first ``HAL_Delay``.
"""

from __future__ import annotations

from dataclasses import dataclass

from extflash.emu import thumbsem
from extflash.emu.thumbsem import PC, SP


@dataclass(frozen=True)
class Load:
    """The addressing of a load an idle-loop look may run."""

    base: int  # register index, or -1: the PC (literal pool)
    index: int  # register index, or -1: none
    shift: int
    disp: int
    width: int


@dataclass(frozen=True)
class Insn:
    """What an idle-loop look needs of an instruction: its load, branch target, jump."""

    load: Load | None = None
    target: int = -1  # BX/BLX: the register holding the branch target
    jump: bool = False  # B, CBZ, CBNZ: a loop's closing branch is one


_DATA = Insn()


def decode(code: bytes) -> Insn | None:
    """The instruction at the start of ``code`` (2 or 4 bytes) if it may run in a look, else
    None (thumbsem.py decodes it)."""
    op = thumbsem.decode(code, 0)
    if op is None:
        return None
    if op.kind in ("b", "cbz"):
        return Insn(jump=True)
    if op.kind == "bx":
        return Insn(target=op.rm)
    if op.kind in ("bl", "ext", "bfx", "movt"):
        return _DATA
    if op.kind == "alu":
        if op.rn == PC and op.rm < 0:
            return None  # ADR
        if op.size == 2 and op.name == "mov" and op.setflags and op.rm >= 0:
            return None  # MOVS Rd, Rm (LSL #0), which capstone names MOVS
        return _DATA
    if op.kind != "ld" or op.rd == SP or op.wback or not op.index:
        return None  # stores, LDM/STM, NOP, loads that move their base
    if op.rn == PC:  # literal: [PC, #+/-imm12]
        return Insn(load=Load(-1, -1, 0, op.imm if op.up else -op.imm, op.width))
    if not op.up:
        return None  # a negative offset
    return Insn(load=Load(op.rn, op.rm, op.amount, op.imm, op.width))
