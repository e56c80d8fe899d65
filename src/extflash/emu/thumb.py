"""Which Thumb instructions a wait loop may run while the machine steps it (idleloop.py).

A look at a loop runs it one instruction at a time, and only instructions that write nothing but
core registers may run: data processing, compares, branches, and single-register loads whose
address the look checks before the step. :func:`decode` classifies one instruction from its
encoding (ARMv7-M Architecture Reference Manual, A5.2 16-bit and A5.3 32-bit Thumb encodings);
anything it does not place (stores, load/store multiple, writeback, exception returns, system
instructions, IT, hints, and MOVS Rd, Rm as capstone named it) is refused, which only means the
loop is not skipped.
``tests/emu/test_thumb.py`` checks every 16-bit encoding, and the 32-bit families decoded here,
against capstone's disassembly.

It replaces capstone on this path: importing capstone costs the command line about 22 ms, once
per process, at a HAL-style loader's first ``HAL_Delay``.
"""

from __future__ import annotations

from dataclasses import dataclass

PC, SP = 15, 13


@dataclass(frozen=True)
class Load:
    base: int  # register index, or -1: the PC (literal pool)
    index: int  # register index, or -1: none
    shift: int
    disp: int
    width: int


@dataclass(frozen=True)
class Insn:
    load: Load | None = None
    target: int = -1  # BX/BLX: the register holding the branch target
    jump: bool = False  # B, CBZ, CBNZ: a loop's closing branch is one


_DATA = Insn()


def halfwords(code: bytes) -> tuple[int, int] | None:
    """The first halfword of the instruction at the start of ``code`` (little-endian halfwords)
    and, when it is a 32-bit one, its second (else -1); None when ``code`` is too short."""
    if len(code) < 2:
        return None
    hw = code[0] | code[1] << 8
    if hw >> 11 in (0b11101, 0b11110, 0b11111):
        return (hw, code[2] | code[3] << 8) if len(code) >= 4 else None
    return hw, -1


def decode(code: bytes) -> Insn | None:
    """The instruction at the start of ``code`` (2 or 4 bytes) if it may run in a look, else
    None."""
    hws = halfwords(code)
    if hws is None:
        return None
    return _decode32(*hws) if hws[1] >= 0 else _decode16(hws[0])


# opB of a 16-bit load/store with a register offset -> load width (A5.2.4; the rest store)
_REGISTER_LOAD_WIDTHS = {0b011: 1, 0b100: 4, 0b101: 2, 0b110: 1, 0b111: 2}


def _decode16(hw: int) -> Insn | None:
    top = hw >> 10
    if hw >> 14 == 0:  # shift (immediate), add, subtract, move, compare (A5.2.1)
        return _DATA if hw & 0xF800 or hw & 0x07C0 else None  # not MOVS Rd, Rm (LSL #0)
    if top == 0b010000:  # data processing (A5.2.2)
        return _DATA
    if top == 0b010001:  # special data instructions and branch and exchange (A5.2.3)
        op = (hw >> 8) & 3
        rd = (hw >> 4 & 8) | (hw & 7)
        rm = (hw >> 3) & 15
        if op == 3:  # BX, BLX
            if hw & 7:
                return None
            return Insn(target=rm) if rm != PC else None
        if op in (0, 2) and rd == PC:
            return None  # ADD/MOV into the PC: a branch this does not follow
        return _DATA
    if hw >> 11 == 0b01001:  # LDR (literal)
        return Insn(load=Load(-1, -1, 0, (hw & 0xFF) * 4, 4))
    if hw >> 12 == 0b0101:  # load/store single data item, register offset (A5.2.4)
        width = _REGISTER_LOAD_WIDTHS.get((hw >> 9) & 7)
        if width is None:
            return None  # STR, STRH, STRB
        return Insn(load=Load((hw >> 3) & 7, (hw >> 6) & 7, 0, 0, width))
    if hw >> 11 == 0b01101:  # LDR (immediate)
        return Insn(load=Load((hw >> 3) & 7, -1, 0, ((hw >> 6) & 31) * 4, 4))
    if hw >> 11 == 0b01111:  # LDRB (immediate)
        return Insn(load=Load((hw >> 3) & 7, -1, 0, (hw >> 6) & 31, 1))
    if hw >> 11 == 0b10001:  # LDRH (immediate)
        return Insn(load=Load((hw >> 3) & 7, -1, 0, ((hw >> 6) & 31) * 2, 2))
    if hw >> 11 == 0b10011:  # LDR (SP plus immediate)
        return Insn(load=Load(SP, -1, 0, (hw & 0xFF) * 4, 4))
    if hw >> 11 == 0b10101:  # ADD (SP plus immediate)
        return _DATA
    if hw >> 12 == 0b1011:  # miscellaneous 16-bit instructions (A5.2.5)
        return _misc16(hw)
    if hw >> 12 == 0b1101:  # conditional branch, UDF, SVC
        return Insn(jump=True) if (hw >> 9) & 7 != 7 else None
    if hw >> 11 == 0b11100:  # B (unconditional)
        return Insn(jump=True)
    return None  # ADR, STR/STRB/STRH, STR (SP), LDM/STM


def _misc16(hw: int) -> Insn | None:
    op = (hw >> 5) & 0x7F
    if op >> 2 == 0b00000 or op >> 2 == 0b00001:  # ADD/SUB (SP minus immediate)
        return _DATA
    if op & 0b0101000 == 0b0001000:  # CBZ, CBNZ (op o0i1xxx)
        return Insn(jump=True)
    if op >> 3 == 0b0010:  # SXTH, SXTB, UXTH, UXTB (op 0010xxx)
        return _DATA
    if op >> 1 in (0b101000, 0b101001):  # REV, REV16
        return _DATA
    return None  # PUSH, POP, CPS, REVSH, BKPT, IT, hints


def _decode32(hw1: int, hw2: int) -> Insn | None:
    if hw1 >> 11 == 0b11110 and hw2 & 0x8000:  # branches and miscellaneous control (A5.3.4)
        op1 = (hw2 >> 12) & 5
        if op1 == 5:  # BL
            return _DATA
        if op1 == 1:  # B (T4)
            return Insn(jump=True)
        if op1 == 0 and (hw1 >> 7) & 7 != 7:  # B<c> (T3)
            return Insn(jump=True)
        return None
    if hw1 & 0xFA00 == 0xF000 and not hw2 & 0x8000:  # data processing, modified immediate
        return _modified_immediate(hw1, hw2)
    if hw1 & 0xFA00 == 0xF200 and not hw2 & 0x8000:  # data processing, plain binary immediate
        return _plain_immediate(hw1, hw2)
    if hw1 & 0xFE00 == 0xEA00:  # data processing, shifted register
        return _shifted_register(hw1, hw2)
    if hw1 & 0xFE00 == 0xF800:  # load/store single data item
        return _load32(hw1, hw2)
    return None


# op -> compare form (Rd 1111, S 1) of the data processing instructions both immediate and
# shifted-register encodings share (A5.3.1, A5.3.11)
_DP_OPS = {0b0000: True, 0b0001: False, 0b0010: False, 0b0011: False, 0b0100: True,
           0b1000: True, 0b1010: False, 0b1011: False, 0b1101: True, 0b1110: False}


def _data_op(op: int, s: int, rd: int) -> Insn | None:
    compare = _DP_OPS.get(op)
    if compare is None:
        return None
    if rd == PC:
        return _DATA if compare and s else None  # TST/TEQ/CMN/CMP, else a write of the PC
    return _DATA


def _modified_immediate(hw1: int, hw2: int) -> Insn | None:
    return _data_op((hw1 >> 5) & 15, (hw1 >> 4) & 1, (hw2 >> 8) & 15)


def _plain_immediate(hw1: int, hw2: int) -> Insn | None:
    op, rn, rd = (hw1 >> 4) & 31, hw1 & 15, (hw2 >> 8) & 15
    if rd in (SP, PC):
        return None
    if op in (0b00000, 0b01010):  # ADDW, SUBW (Rn = PC: ADR, refused)
        return _DATA if rn != PC else None
    if op in (0b00100, 0b01100):  # MOVW, MOVT
        return _DATA
    return None  # SSAT, SBFX, BFI, BFC, USAT, UBFX: not decoded here


def _shifted_register(hw1: int, hw2: int) -> Insn | None:
    op, rn, rd = (hw1 >> 5) & 15, hw1 & 15, (hw2 >> 8) & 15
    if hw2 & 0x8000:
        return None
    if op == 0b0010 and rn == PC and (hw2 >> 4) & 3 == 3 and not (hw2 >> 6 & 3 | hw2 >> 12 & 7):
        return None  # RRX
    if rd == SP or hw2 & 15 in (SP, PC):
        return None  # SP or PC as a shifted operand: not decoded here
    return _data_op(op, (hw1 >> 4) & 1, rd)


_LOAD_WIDTHS = {0b00: 1, 0b01: 2, 0b10: 4}  # size bits of a load (A5.3.7-A5.3.9)


def _load32(hw1: int, hw2: int) -> Insn | None:
    if not hw1 & 0x10:
        return None  # a store
    signed, up, size = (hw1 >> 8) & 1, (hw1 >> 7) & 1, (hw1 >> 5) & 3
    width = _LOAD_WIDTHS.get(size)
    rn, rt = hw1 & 15, (hw2 >> 12) & 15
    if width is None or (signed and width == 4) or rt in (SP, PC):
        return None  # LDRD/undefined; a load into the PC; preload hints (Rt = PC)
    if rn == PC:  # literal: [PC, #+/-imm12]
        imm = hw2 & 0xFFF
        return Insn(load=Load(-1, -1, 0, imm if up else -imm, width))
    if up:  # [Rn, #imm12]
        return Insn(load=Load(rn, -1, 0, hw2 & 0xFFF, width))
    if hw2 & 0xFC0 == 0:  # [Rn, Rm, LSL #imm2]
        rm = hw2 & 15
        if rm in (SP, PC):
            return None
        return Insn(load=Load(rn, rm, (hw2 >> 4) & 3, 0, width))
    return None  # negative, unprivileged and writeback forms
