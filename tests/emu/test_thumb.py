"""The idle look's instruction classifier (extflash.emu.thumb) against capstone's disassembly.

The oracle is what the look decided from capstone before (with one fix: capstone 5 reports the
shift of an index register as the operand's shift, which the look read as no shift, so it checked
the wrong address of ``ldr r0, [r1, r2, lsl #2]``; and without the writeback forms, which
change a register every turn, so no loop with one is idle): an instruction may run when it is a
data-processing or compare instruction that does not write the PC, a direct branch, BX/BLX of a
register other than the PC, or a single load into R0-R14 whose address is a base register (or the
PC), an optional index register and a displacement. Every 16-bit encoding must classify exactly
as the oracle does; a 32-bit encoding may be refused where the oracle accepts it (the loop is then
not skipped) but must never be accepted differently.
"""

from __future__ import annotations

import random

import capstone
import pytest
from capstone import arm

from extflash.emu import thumb

_LOAD_WIDTH = {"LDR": 4, "LDRB": 1, "LDRSB": 1, "LDRH": 2, "LDRSH": 2}
_DATA = ("MOV", "MOVW", "MOVT", "MVN", "ADD", "ADDW", "ADC", "SUB", "SUBW", "SBC", "RSB", "MUL",
         "MLA", "MLS", "AND", "ORR", "ORN", "EOR", "BIC", "LSL", "LSR", "ASR", "ROR", "CMP",
         "CMN", "TST", "TEQ", "UXTB", "UXTH", "SXTB", "SXTH", "UBFX", "SBFX", "BFI", "BFC", "CLZ",
         "REV", "REV16", "UDIV", "SDIV", "UMULL", "SMULL", "NOP")
_DIRECT = ("B", "BL", "CBZ", "CBNZ")
_INDIRECT = ("BX", "BLX")

CS = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
CS.detail = True
IDS = {getattr(arm, f"ARM_INS_{n}"): n for n in {*_DATA, *_DIRECT, *_INDIRECT, *_LOAD_WIDTH}
       if hasattr(arm, f"ARM_INS_{n}")}
REGS = {getattr(arm, f"ARM_REG_{n}"): i
        for i, n in enumerate([f"R{i}" for i in range(13)] + ["SP", "LR", "PC"])}


def oracle(code: bytes) -> thumb.Insn | None:
    insn = next(CS.disasm(code, 0x1000, 1), None)
    if insn is None:
        return None
    name = IDS.get(insn.id)
    written = insn.regs_access()[1]
    if name in _DATA or name in _DIRECT:
        if arm.ARM_REG_PC in written and name not in _DIRECT:
            return None
        return thumb.Insn(jump=name in ("B", "CBZ", "CBNZ"))
    ops = insn.operands
    if name in _INDIRECT and len(ops) == 1 and ops[0].type == arm.ARM_OP_REG:
        target = REGS.get(ops[0].reg, -1)
        return thumb.Insn(target=target) if 0 <= target < 15 else None
    width = _LOAD_WIDTH.get(name or "")
    if width is None or len(ops) < 2 or ops[0].type != arm.ARM_OP_REG:
        return None
    if REGS.get(ops[0].reg, -1) not in range(15):
        return None
    mem = ops[1]
    if mem.type != arm.ARM_OP_MEM or mem.subtracted:
        return None
    base = -1 if mem.mem.base == arm.ARM_REG_PC else REGS.get(mem.mem.base, -2)
    index = REGS.get(mem.mem.index, -2) if mem.mem.index else -1
    if base == -2 or index == -2 or index == 15:
        return None
    if len(ops) > 2 or insn.writeback:
        return None  # post-indexed or writeback: the loop changes a register every turn
    # capstone 5 gives an index register's shift as the operand's shift, not mem.lshift
    shift = mem.shift.value if mem.shift.type == arm.ARM_SFT_LSL else mem.mem.lshift
    return thumb.Insn(load=thumb.Load(base, index, shift, mem.mem.disp, width))


def halfwords(*hw: int) -> bytes:
    return b"".join(h.to_bytes(2, "little") for h in hw)


def test_every_16_bit_encoding_classifies_as_capstone_does() -> None:
    """Exactly, but for BX/BLX with non-zero should-be-zero bits (UNPREDICTABLE, ARMv7-M
    A7.7.20), which capstone decodes for some values and the classifier refuses."""
    wrong = []
    for hw in range(0x10000):
        if hw >> 11 in (0b11101, 0b11110, 0b11111):
            continue  # the first halfword of a 32-bit instruction
        code = halfwords(hw, 0xBF00)
        if hw & 0xFF00 == 0x4700 and hw & 7:
            assert thumb.decode(code) is None
            continue
        if thumb.decode(code) != oracle(code):
            wrong.append(f"{hw:04X}: {thumb.decode(code)} vs capstone {oracle(code)}")
    assert not wrong, "\n".join(wrong[:20]) + f"\n({len(wrong)} in all)"


# first halfwords of the 32-bit families thumb.decode places (A5.3): branches, data processing
# (modified immediate, plain binary immediate, shifted register), single loads
FAMILIES = [*range(0xF000, 0xF800), *range(0xEA00, 0xEC00), *range(0xF800, 0xFA00)]


@pytest.mark.parametrize("seed", range(4))
def test_32_bit_encodings_are_refused_or_classified_as_capstone_does(seed: int) -> None:
    rnd = random.Random(seed)
    wrong, accepted = [], 0
    for hw1 in FAMILIES:
        for hw2 in [rnd.randrange(0x10000) for _ in range(24)]:
            code = halfwords(hw1, hw2)
            ours = thumb.decode(code)
            if ours is None:
                continue
            accepted += 1
            if ours != oracle(code):
                wrong.append(f"{hw1:04X} {hw2:04X}: {ours} vs capstone {oracle(code)}")
    assert not wrong, "\n".join(wrong[:20]) + f"\n({len(wrong)} in all)"
    assert accepted > 20000


@pytest.mark.parametrize(("hw", "expected"), [
    ((0xF7FF, 0xFFD0), thumb.Insn()),  # bl HAL_GetTick
    ((0x4B02,), thumb.Insn(load=thumb.Load(-1, -1, 0, 8, 4))),  # ldr r3, [pc, #8]
    ((0x6818,), thumb.Insn(load=thumb.Load(3, -1, 0, 0, 4))),  # ldr r0, [r3]
    ((0x4770,), thumb.Insn(target=14)),  # bx lr
    ((0x1B40,), thumb.Insn()),  # subs r0, r0, r5
    ((0x42A0,), thumb.Insn()),  # cmp r0, r4
    ((0xD3FA,), thumb.Insn(jump=True)),  # bcc.n
    ((0xF8D3, 0x0100), thumb.Insn(load=thumb.Load(3, -1, 0, 0x100, 4))),  # ldr.w
    ((0xF1B0, 0x3FFF), thumb.Insn()),  # cmp.w r0, #-1
])
def test_a_hal_delay_turn_may_run(hw: tuple[int, ...], expected: thumb.Insn) -> None:
    code = halfwords(*hw, 0xBF00)
    assert thumb.decode(code) == expected == oracle(code)


@pytest.mark.parametrize("hw", [
    (0x6018,),  # str r0, [r3]
    (0xB510,),  # push {r4, lr}
    (0xBD10,),  # pop {r4, pc}
    (0xBF18,),  # it ne
    (0x4687,),  # mov pc, r0
    (0x4778,),  # bx pc
    (0xF8C3, 0x0100),  # str.w r0, [r3, #0x100]
    (0xF853, 0x0B04),  # ldr r0, [r3], #4 (writeback)
    (0xF8D3, 0xF000),  # ldr.w pc, [r3]
    (0xBF30,),  # wfi
    (0xBF00,),  # nop (capstone did not name it NOP)
])
def test_what_may_not_run(hw: tuple[int, ...]) -> None:
    assert thumb.decode(halfwords(*hw, 0xBF00)) is None
