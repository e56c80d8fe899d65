"""Thumb instructions decoded with their semantics, for the turn summaries of turns.py.

:func:`decode` places the ARMv7-M Thumb instructions a compiled loader's data loop runs: data
processing with immediates, registers and shifted registers, moves, extends and bit-field
extracts, multiplies, loads and stores of every size with their addressing modes, LDM/STM and
PUSH/POP, branches, calls and returns (ARMv7-M Architecture Reference Manual, A5.2 16-bit and
A5.3 32-bit encodings; A7.4.2 ThumbExpandImm_C for the carry of a modified immediate), and the
few forms besides that a wait loop may run (ADC/SBC, REV/REV16, the PC as an operand: the idle
look's classifier, thumb.py, reads them from here; turns.py leaves them to the core). Anything
else (IT, system instructions, hints but NOP, LDRD/STRD, divisions, exclusive accesses, writes
of the PC by data processing) is None. ``tests/emu/test_thumbsem.py`` checks the decoding against
capstone.
"""

from __future__ import annotations

from dataclasses import dataclass

SP, LR, PC = 13, 14, 15
AL = 14  # condition: always
IT_BITS = 0x0600FC00  # xPSR.ICI/IT: inside an IT block
EXC_RETURN_MIN = 0xF0000000  # a branch to an address from here returns from an exception


@dataclass(frozen=True)
class Op:
    """One instruction. ``kind``: alu, ext, bfx, movt, ld, st, ldm, stm, b, bl, bx, cbz, nop."""

    kind: str
    size: int
    name: str = ""  # alu: add sub rsb and orr eor bic orn mov mvn mul lsl lsr asr ror
    rd: int = -1  # destination (-1: a compare)
    rn: int = -1  # first operand (-1: none; PC: the aligned PC of a literal or ADR)
    rm: int = -1  # second operand register (-1: imm)
    imm: int = 0
    shift: str = "lsl"  # applied to rm (or, for lsl/lsr/asr/ror by immediate, to rn)
    amount: int = 0
    setflags: bool = False
    carry: int = -1  # flags from a modified immediate with rotation: C becomes this
    cond: int = AL
    target: int = 0
    width: int = 4
    signed: bool = False
    index: bool = True  # P: offset applied before the access
    up: bool = True  # U: offset added
    wback: bool = False
    regs: tuple[int, ...] = ()
    nonzero: bool = False  # CBNZ


def halfwords(code: bytes) -> tuple[int, int] | None:
    """The first halfword of the instruction at the start of ``code`` (little-endian halfwords)
    and, when it is a 32-bit one, its second (else -1); None when ``code`` is too short."""
    if len(code) < 2:
        return None
    hw = code[0] | code[1] << 8
    if hw >> 11 in (0b11101, 0b11110, 0b11111):
        return (hw, code[2] | code[3] << 8) if len(code) >= 4 else None
    return hw, -1


def decode(code: bytes, pc: int) -> Op | None:
    """The instruction at ``pc`` whose bytes start ``code``, or None."""
    hws = halfwords(code)
    if hws is None:
        return None
    return _decode32(hws[0], hws[1], pc) if hws[1] >= 0 else _decode16(hws[0], pc)


_DP16 = ("and", "eor", "lsl", "lsr", "asr", "adc", "sbc", "ror", "tst", "rsb", "cmp", "cmn",
         "orr", "mul", "bic", "mvn")
_SHIFTS = ("lsl", "lsr", "asr", "ror")


def _alu(size: int, name: str, rd: int, rn: int, *, rm: int = -1, imm: int = 0,
         shift: str = "lsl", amount: int = 0, s: bool = False, carry: int = -1) -> Op:
    return Op("alu", size, name, rd=rd, rn=rn, rm=rm, imm=imm, shift=shift, amount=amount,
              setflags=s, carry=carry)


def _decode16(hw: int, pc: int) -> Op | None:
    rd, rn = hw & 7, (hw >> 3) & 7
    if hw >> 13 == 0 and hw >> 11 != 0b00011:  # LSL/LSR/ASR (immediate), A5.2.1
        kind, imm5 = _SHIFTS[(hw >> 11) & 3], (hw >> 6) & 31
        if kind == "lsl" and imm5 == 0:
            return _alu(2, "mov", rd, -1, rm=rn, s=True)  # MOVS Rd, Rm
        return _alu(2, kind, rd, rn, imm=imm5 or 32, s=True)
    if hw >> 11 == 0b00011:  # ADD/SUB register or 3-bit immediate
        name = "sub" if hw & 0x200 else "add"
        if hw & 0x400:
            return _alu(2, name, rd, rn, imm=(hw >> 6) & 7, s=True)
        return _alu(2, name, rd, rn, rm=(hw >> 6) & 7, s=True)
    if hw >> 13 == 0b001:  # MOV/CMP/ADD/SUB 8-bit immediate
        op, rdn, imm = (hw >> 11) & 3, (hw >> 8) & 7, hw & 0xFF
        if op == 0:
            return _alu(2, "mov", rdn, -1, imm=imm, s=True)
        if op == 1:
            return _alu(2, "sub", -1, rdn, imm=imm, s=True)
        return _alu(2, "add" if op == 2 else "sub", rdn, rdn, imm=imm, s=True)
    if hw >> 10 == 0b010000:  # data processing (register), A5.2.2
        name = _DP16[(hw >> 6) & 15]
        if name in ("tst", "cmp", "cmn"):
            return _alu(2, "and" if name == "tst" else "sub" if name == "cmp" else "add", -1,
                        rd, rm=rn, s=True)
        if name == "rsb":  # NEGS Rd, Rn: 0 - Rn
            return _alu(2, "rsb", rd, rn, imm=0, s=True)
        if name == "mvn":
            return _alu(2, "mvn", rd, -1, rm=rn, s=True)
        return _alu(2, name, rd, rd, rm=rn, s=True)  # a shift by register too: Rdn shift Rm
    if hw >> 10 == 0b010001:  # special data, BX/BLX, A5.2.3
        op = (hw >> 8) & 3
        rdn = (hw >> 4 & 8) | (hw & 7)
        rm = (hw >> 3) & 15
        if op == 3:
            if hw & 7 or rm == PC:
                return None
            return Op("bx", 2, rm=rm, name="blx" if hw & 0x80 else "bx")
        if rdn == PC and op != 1:
            return None  # a write of the PC: a branch
        if op == 0:
            return _alu(2, "add", rdn, rdn, rm=rm)
        if op == 1:
            return _alu(2, "sub", -1, rdn, rm=rm, s=True)
        return _alu(2, "mov", rdn, -1, rm=rm)
    if hw >> 11 == 0b01001:  # LDR (literal)
        return Op("ld", 2, rd=(hw >> 8) & 7, rn=PC, imm=(hw & 0xFF) * 4)
    if hw >> 12 == 0b0101:  # load/store register offset, A5.2.4
        opb = (hw >> 9) & 7
        width, signed, load = ((4, False, False), (2, False, False), (1, False, False),
                               (1, True, True), (4, False, True), (2, False, True),
                               (1, False, True), (2, True, True))[opb]
        return Op("ld" if load else "st", 2, rd=rd, rn=rn, rm=(hw >> 6) & 7, width=width,
                  signed=signed)
    if hw >> 13 == 0b011:  # LDR/STR/LDRB/STRB (immediate)
        width = 1 if (hw >> 12) & 1 else 4
        return Op("ld" if (hw >> 11) & 1 else "st", 2, rd=rd, rn=rn, imm=((hw >> 6) & 31) * width,
                  width=width)
    if hw >> 12 == 0b1000:  # LDRH/STRH (immediate)
        return Op("ld" if hw & 0x800 else "st", 2, rd=rd, rn=rn, imm=((hw >> 6) & 31) * 2,
                  width=2)
    if hw >> 12 == 0b1001:  # LDR/STR (SP plus immediate)
        return Op("ld" if hw & 0x800 else "st", 2, rd=(hw >> 8) & 7, rn=SP,
                  imm=(hw & 0xFF) * 4)
    if hw >> 12 == 0b1010:  # ADR, ADD (SP plus immediate)
        return _alu(2, "add", (hw >> 8) & 7, SP if hw & 0x800 else PC, imm=(hw & 0xFF) * 4)
    if hw >> 12 == 0b1011:
        return _misc16(hw, pc)
    if hw >> 12 == 0b1100:  # STM/LDM (increment after, writeback unless Rn is loaded)
        rn8, regs = (hw >> 8) & 7, tuple(i for i in range(8) if hw >> i & 1)
        if not regs:
            return None
        load = bool(hw & 0x800)
        if not load and rn8 in regs:
            return None  # the base stored as well: UNPREDICTABLE unless the lowest
        return Op("ldm" if load else "stm", 2, rn=rn8, regs=regs,
                  wback=not (load and rn8 in regs))
    if hw >> 12 == 0b1101:  # B<c>
        cond = (hw >> 8) & 15
        if cond >= 14:
            return None  # UDF, SVC
        offset = (hw & 0xFF) - ((hw & 0x80) << 1)
        return Op("b", 2, cond=cond, target=pc + 4 + 2 * offset)
    if hw >> 11 == 0b11100:  # B
        offset = (hw & 0x7FF) - ((hw & 0x400) << 1)
        return Op("b", 2, target=pc + 4 + 2 * offset)
    return None


def _misc16(hw: int, pc: int) -> Op | None:
    if hw & 0xFF00 == 0xB000:  # ADD/SUB SP, SP, #imm7
        return _alu(2, "sub" if hw & 0x80 else "add", SP, SP, imm=(hw & 0x7F) * 4)
    if hw & 0xF500 == 0xB100:  # CBZ, CBNZ
        offset = ((hw >> 9) & 1) << 6 | ((hw >> 3) & 31) << 1
        return Op("cbz", 2, rn=hw & 7, target=pc + 4 + offset, nonzero=bool(hw & 0x800))
    if hw & 0xFF00 == 0xB200:  # SXTH SXTB UXTH UXTB
        name = ("sxth", "sxtb", "uxth", "uxtb")[(hw >> 6) & 3]
        return Op("ext", 2, name, rd=hw & 7, rm=(hw >> 3) & 7)
    if hw & 0xFF80 == 0xBA00:  # REV, REV16
        return Op("ext", 2, "rev16" if hw & 0x40 else "rev", rd=hw & 7, rm=(hw >> 3) & 7)
    if hw & 0xFE00 == 0xB400:  # PUSH
        regs = tuple(i for i in range(8) if hw >> i & 1) + ((LR,) if hw & 0x100 else ())
        return Op("stm", 2, rn=SP, regs=regs, wback=True, index=True, up=False) if regs else None
    if hw & 0xFE00 == 0xBC00:  # POP
        regs = tuple(i for i in range(8) if hw >> i & 1) + ((PC,) if hw & 0x100 else ())
        return Op("ldm", 2, rn=SP, regs=regs, wback=True) if regs else None
    if hw == 0xBF00:  # NOP
        return Op("nop", 2)
    return None


_DP32 = {0b0000: "and", 0b0001: "bic", 0b0010: "orr", 0b0011: "orn", 0b0100: "eor",
         0b1000: "add", 0b1010: "adc", 0b1011: "sbc", 0b1101: "sub", 0b1110: "rsb"}


def _expand_imm(i: int, imm3: int, imm8: int) -> tuple[int, int]:
    """ThumbExpandImm_C: the constant and the carry it sets (-1: the carry is unchanged)."""
    imm12 = i << 11 | imm3 << 8 | imm8
    if imm12 >> 10 == 0:
        kind = (imm12 >> 8) & 3
        value = (imm8, imm8 << 16 | imm8, imm8 << 24 | imm8 << 8,
                 imm8 << 24 | imm8 << 16 | imm8 << 8 | imm8)[kind]
        return value, -1
    unrotated, rot = 0x80 | (imm12 & 0x7F), imm12 >> 7
    value = (unrotated >> rot | unrotated << (32 - rot)) & 0xFFFFFFFF
    return value, value >> 31


def _data32(op: int, s: int, rn: int, rd: int, *, imm: int = 0, rm: int = -1,
            shift: str = "lsl", amount: int = 0, carry: int = -1) -> Op | None:
    name = _DP32.get(op)
    if name is None:
        return None
    if rd == PC:
        if not s or name not in ("and", "eor", "add", "sub"):
            return None
        rd = -1  # TST TEQ CMN CMP
    if name in ("orr", "orn") and rn == PC:
        name = "mov" if name == "orr" else "mvn"
        rn = -1
    if rd == SP or rm in (SP, PC) or rn == PC:
        return None
    return _alu(4, name, rd, rn, rm=rm, imm=imm, shift=shift, amount=amount, s=bool(s),
                carry=carry if s and name in ("and", "bic", "orr", "orn", "eor", "mov", "mvn")
                else -1)


def _decode32(hw1: int, hw2: int, pc: int) -> Op | None:
    if hw1 >> 11 == 0b11110 and hw2 & 0x8000:  # branches, A5.3.4
        s = (hw1 >> 10) & 1
        j1, j2 = (hw2 >> 13) & 1, (hw2 >> 11) & 1
        op1 = (hw2 >> 12) & 5
        if op1 in (5, 1):  # BL, B.W
            i1, i2 = 1 - (j1 ^ s), 1 - (j2 ^ s)
            offset = (s << 24 | i1 << 23 | i2 << 22 | (hw1 & 0x3FF) << 12 | (hw2 & 0x7FF) << 1)
            offset -= (s << 25)
            return Op("bl" if op1 == 5 else "b", 4, target=pc + 4 + offset)
        cond = (hw1 >> 6) & 15
        if op1 == 0 and cond < 14:  # B<c>.W
            offset = s << 20 | j2 << 19 | j1 << 18 | (hw1 & 0x3F) << 12 | (hw2 & 0x7FF) << 1
            offset -= (s << 21)
            return Op("b", 4, cond=cond, target=pc + 4 + offset)
        return None
    rn, rd = hw1 & 15, (hw2 >> 8) & 15
    if hw1 & 0xFA00 == 0xF000 and not hw2 & 0x8000:  # modified immediate, A5.3.1
        imm, carry = _expand_imm((hw1 >> 10) & 1, (hw2 >> 12) & 7, hw2 & 0xFF)
        return _data32((hw1 >> 5) & 15, (hw1 >> 4) & 1, rn, rd, imm=imm, carry=carry)
    if hw1 & 0xFA00 == 0xF200 and not hw2 & 0x8000:  # plain binary immediate, A5.3.3
        op = (hw1 >> 4) & 31
        imm12 = ((hw1 >> 10) & 1) << 11 | ((hw2 >> 12) & 7) << 8 | (hw2 & 0xFF)
        if rd in (SP, PC):
            return None
        if op in (0b00000, 0b01010):  # ADDW, SUBW, ADR
            if rn == SP:
                return None
            name = "add" if op == 0 else "sub"
            return _alu(4, name, rd, rn, imm=imm12)
        if op in (0b00100, 0b01100):  # MOVW, MOVT
            imm16 = (hw1 & 15) << 12 | imm12
            return _alu(4, "mov", rd, -1, imm=imm16) if op == 0b00100 else Op(
                "movt", 4, rd=rd, imm=imm16)
        if op in (0b10100, 0b11100):  # SBFX, UBFX
            lsb = ((hw2 >> 12) & 7) << 2 | (hw2 >> 6) & 3
            if rn in (SP, PC) or lsb + (hw2 & 31) + 1 > 32 or hw2 & 0x20 or hw1 & 0x400:
                return None  # UNPREDICTABLE
            return Op("bfx", 4, rd=rd, rn=rn, imm=lsb, width=(hw2 & 31) + 1,
                      signed=op == 0b10100)
        return None
    if hw1 & 0xFE00 == 0xEA00 and not hw2 & 0x8000:  # shifted register, A5.3.11
        op, s = (hw1 >> 5) & 15, (hw1 >> 4) & 1
        rm, kind = hw2 & 15, _SHIFTS[(hw2 >> 4) & 3]
        amount = ((hw2 >> 12) & 7) << 2 | (hw2 >> 6) & 3
        if kind == "ror" and amount == 0:
            return None  # RRX
        if kind in ("lsr", "asr") and amount == 0:
            amount = 32
        return _data32(op, s, rn, rd, rm=rm, shift=kind, amount=amount)
    if hw1 & 0xFF80 == 0xFA00 and hw2 & 0xF0F0 == 0xF000:  # LSL LSR ASR ROR (register)
        if rd in (SP, PC) or rn in (SP, PC) or (hw2 & 15) in (SP, PC):
            return None
        return _alu(4, _SHIFTS[(hw1 >> 5) & 3], rd, rn, rm=hw2 & 15, s=bool(hw1 & 0x10))
    if hw1 & 0xFF80 == 0xFA00 and hw1 & 15 == 15 and hw2 & 0xF080 == 0xF080:  # extends
        extend = {0: "sxth", 1: "uxth", 4: "sxtb", 5: "uxtb"}.get((hw1 >> 4) & 7)
        rm, rot = hw2 & 15, ((hw2 >> 4) & 3) * 8
        if extend is None or rd in (SP, PC) or rm in (SP, PC):
            return None
        return Op("ext", 4, extend, rd=rd, rm=rm, amount=rot)
    if hw1 & 0xFFF0 == 0xFB00 and hw2 & 0xF0F0 == 0xF000:  # MUL
        if rd in (SP, PC) or rn in (SP, PC) or (hw2 & 15) in (SP, PC):
            return None
        return _alu(4, "mul", rd, rn, rm=hw2 & 15)
    if hw1 & 0xFE40 == 0xE800 and hw1 & 0x0180 in (0x0080, 0x0100):  # LDM/STM IA, DB
        regs = tuple(i for i in range(16) if hw2 >> i & 1)
        load, wback, db = bool(hw1 & 0x10), bool(hw1 & 0x20), bool(hw1 & 0x100)
        if len(regs) < 2 or SP in regs or rn == PC or (not load and PC in regs) or (
                load and PC in regs and LR in regs) or (wback and rn in regs):
            return None  # UNDEFINED or UNPREDICTABLE
        return Op("ldm" if load else "stm", 4, rn=rn, regs=regs, wback=wback, index=db,
                  up=not db)
    if hw1 & 0xFE00 == 0xF800:  # load/store single, A5.3.7-A5.3.10
        return _single32(hw1, hw2)
    return None


def _single32(hw1: int, hw2: int) -> Op | None:
    load, signed, size = bool(hw1 & 0x10), bool(hw1 & 0x100), (hw1 >> 5) & 3
    rn, rt = hw1 & 15, (hw2 >> 12) & 15
    if size == 3 or (signed and (size == 2 or not load)) or rt == PC or (rt == SP and size < 2):
        return None
    width = 1 << size
    kind = "ld" if load else "st"
    if rn == PC:
        if not load:
            return None
        return Op(kind, 4, rd=rt, rn=PC, imm=hw2 & 0xFFF, up=bool(hw1 & 0x80), width=width,
                  signed=signed)
    if hw1 & 0x80:  # imm12
        return Op(kind, 4, rd=rt, rn=rn, imm=hw2 & 0xFFF, width=width, signed=signed)
    if hw2 & 0xFC0 == 0:  # register offset, LSL #imm2
        rm = hw2 & 15
        if rm in (SP, PC):
            return None
        return Op(kind, 4, rd=rt, rn=rn, rm=rm, amount=(hw2 >> 4) & 3, width=width,
                  signed=signed)
    if hw2 & 0x800:  # imm8 with P U W
        p, u, w = bool(hw2 & 0x400), bool(hw2 & 0x200), bool(hw2 & 0x100)
        if p and u and not w:
            return None  # unprivileged
        if not p and not w:
            return None
        if w and rn == rt:
            return None
        return Op(kind, 4, rd=rt, rn=rn, imm=hw2 & 0xFF, width=width, signed=signed, index=p,
                  up=u, wback=w)
    return None
