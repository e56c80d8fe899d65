"""What a loader's machine code touches, found by disassembling it (capstone, Thumb, M-profile).

Linear sweep per function (symbol ranges; one block per executable section when the symbol table
is stripped). For each function it records the 32-bit literals it loads, the addresses it
reaches as ``literal + displacement`` through a register, its direct calls, whether it uses
Thumb-2 / VFP (single or double precision) instructions, and whether it addresses memory
through R9 without ever setting R9 (RWPI static-base code).

This is a heuristic view of the code, not an emulation: data reached through computed
pointers is invisible, and a literal pool decoded as instructions may add stray facts.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

import capstone
from capstone import arm

from extflash.loader.elf import Section, Symbol

MAX_CODE_BYTES = 4 << 20  # larger executable sections are not disassembled
_STORE_MULTI_OR_PUSH = {arm.ARM_INS_PUSH, arm.ARM_INS_STMDB, arm.ARM_INS_STM,
                        arm.ARM_INS_VPUSH}
_RESTORES = {arm.ARM_INS_POP, arm.ARM_INS_LDM, arm.ARM_INS_LDMDB, arm.ARM_INS_VPOP}
_CALLS = {arm.ARM_INS_BL, arm.ARM_INS_B}
# The only 32-bit instructions ARMv6-M (Cortex-M0/M0+) has; any other means Thumb-2.
_V6M_WIDE = {arm.ARM_INS_BL, arm.ARM_INS_DMB, arm.ARM_INS_DSB, arm.ARM_INS_ISB, arm.ARM_INS_MRS,
             arm.ARM_INS_MSR}


@dataclass(frozen=True)
class FunctionFacts:
    """What a function's code refers to: constants, addresses, calls."""

    name: str
    start: int
    end: int
    literals: frozenset[int]  # 32-bit constants loaded PC-relative
    addresses: frozenset[int]  # literal + displacement reached through a register
    calls: frozenset[int]  # direct call / tail-call targets (without the Thumb bit)
    thumb2: bool
    vfp: bool
    vfp_double: bool
    r9_relative: bool  # reads memory through R9 / adds R9, never sets R9

    @property
    def references(self) -> frozenset[int]:
        return self.literals | self.addresses


@dataclass(frozen=True)
class CodeFacts:
    """The facts of all of a loader's functions."""

    functions: tuple[FunctionFacts, ...]
    words: frozenset[int]  # every aligned 32-bit word of the code and data sections

    @property
    def references(self) -> frozenset[int]:
        out: set[int] = set()
        for f in self.functions:
            out |= f.references
        return frozenset(out)

    @property
    def thumb2(self) -> bool:
        return any(f.thumb2 for f in self.functions)

    @property
    def vfp(self) -> bool:
        return any(f.vfp for f in self.functions)

    @property
    def vfp_double(self) -> bool:
        return any(f.vfp_double for f in self.functions)

    @property
    def r9_functions(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.functions if f.r9_relative)

    def function_at(self, address: int) -> FunctionFacts | None:
        address &= ~1
        return next((f for f in self.functions if f.start <= address < f.end), None)

    def call_tree(self, root: int) -> tuple[FunctionFacts, ...]:
        """The function at ``root`` and every function it reaches by direct calls."""
        seen: dict[int, FunctionFacts] = {}
        todo = [root & ~1]
        while todo:
            fn = self.function_at(todo.pop())
            if fn is None or fn.start in seen:
                continue
            seen[fn.start] = fn
            todo.extend(fn.calls)
        return tuple(seen.values())

    def uses(self, address: int, span: int = 4) -> bool:
        """Does any code reference an address in [address, address + span)?"""
        return any(address <= a < address + span for a in self.references | self.words)


def _disassembler() -> capstone.Cs:
    cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    cs.detail = True
    cs.skipdata = True
    return cs


def _function_ranges(code_sections: list[tuple[Section, bytes]],
                     symbols: Iterable[Symbol]) -> list[tuple[str, int, int, bytes, int]]:
    """(name, start, end, section bytes, section address) per function to disassemble."""
    ranges = []
    for sec, blob in code_sections:
        funcs = sorted({(s.value & ~1, s.size, s.name) for s in symbols
                        if s.is_function and sec.contains(s.value & ~1)})
        covered = [(a, a + size, name) for a, size, name in funcs if size]
        if not covered:
            # Stripped symbols: cut the section at every known function start.
            starts = sorted({a for a, _s, _n in funcs} | {sec.addr})
            names = {a: n for a, _s, n in funcs}
            covered = [(a, b, names.get(a, sec.name))
                       for a, b in zip(starts, [*starts[1:], sec.end], strict=True)]
        for start, end, name in covered:
            ranges.append((name, start, min(end, sec.end), blob, sec.addr))
    return ranges


def analyse(code_sections: list[tuple[Section, bytes]], data_blobs: Iterable[bytes],
            symbols: Iterable[Symbol]) -> CodeFacts:
    """Disassemble ``code_sections`` ((section, bytes) pairs) and summarise what they touch."""
    symbols = tuple(symbols)
    code_sections = [(s, b) for s, b in code_sections if len(b) <= MAX_CODE_BYTES]
    cs = _disassembler()
    functions = []
    for name, start, end, blob, base in _function_ranges(code_sections, symbols):
        functions.append(_analyse_function(cs, name, start, blob[start - base : end - base], blob,
                                           base))
    words: set[int] = set()
    for blob in [b for _s, b in code_sections] + list(data_blobs):
        usable = len(blob) & ~3
        words.update(struct.unpack_from(f"<{usable // 4}I", blob, 0))
    return CodeFacts(tuple(functions), frozenset(words))


def _analyse_function(cs: capstone.Cs, name: str, start: int, code: bytes, section: bytes,
                      section_base: int) -> FunctionFacts:
    literals: set[int] = set()
    addresses: set[int] = set()
    calls: set[int] = set()
    known: dict[int, int] = {}  # register -> value loaded from a literal
    thumb2 = vfp = double = r9_read = r9_written = False
    insns = list(cs.disasm(code, start))
    # Literal pools decode as (bogus) instructions too: skip every word a PC-relative load reads.
    pool = {_pc_literal_address(i) for i in insns} - {None}
    for insn in insns:
        if insn.id == 0 or insn.address & ~3 in pool or (insn.address + 2) & ~3 in pool:
            known.clear()
            continue
        thumb2 |= insn.size == 4 and insn.id not in _V6M_WIDE
        mnem = insn.mnemonic
        if mnem.startswith("v"):
            vfp = True
            double |= ".f64" in mnem or ".f64" in insn.op_str
        try:
            reads, writes = insn.regs_access()
        except capstone.CsError:
            reads, writes = [], []
        if arm.ARM_REG_R9 in writes and insn.id not in _RESTORES:
            r9_written = True
        if arm.ARM_REG_R9 in reads and insn.id not in _STORE_MULTI_OR_PUSH:
            r9_read |= _addresses_through_r9(insn)
        value = _pc_literal(insn, section, section_base)
        if value is None:
            value = _immediate(insn, known)
        for op in insn.operands:
            if op.type == arm.ARM_OP_MEM and op.mem.base in known and value is None:
                addresses.add((known[op.mem.base] + op.mem.disp) & 0xFFFFFFFF)
        if insn.id in _CALLS and insn.operands and insn.operands[0].type == arm.ARM_OP_IMM:
            target = insn.operands[0].imm & 0xFFFFFFFF
            if insn.id == arm.ARM_INS_BL or not start <= target < start + len(code):
                calls.add(target & ~1)
        for reg in writes:
            known.pop(reg, None)
        if value is not None and insn.operands:
            literals.add(value)
            known[insn.operands[0].reg] = value
    return FunctionFacts(name, start, start + len(code), frozenset(literals), frozenset(addresses),
                         frozenset(calls), thumb2, vfp, double, r9_read and not r9_written)


def _pc_literal_address(insn: capstone.CsInsn) -> int | None:
    """The address an ``ldr rX, [pc, #imm]`` reads (None for any other instruction)."""
    if insn.id != arm.ARM_INS_LDR or len(insn.operands) != 2:
        return None
    mem = insn.operands[1]
    if mem.type != arm.ARM_OP_MEM or mem.mem.base != arm.ARM_REG_PC:
        return None
    return int(((insn.address + 4) & ~3) + mem.mem.disp)


def _pc_literal(insn: capstone.CsInsn, section: bytes, base: int) -> int | None:
    """The word an ``ldr rX, [pc, #imm]`` loads, when it lies in the same section."""
    address = _pc_literal_address(insn)
    if address is None:
        return None
    where = address - base
    if not 0 <= where <= len(section) - 4:
        return None
    return int.from_bytes(section[where : where + 4], "little")


def _immediate(insn: capstone.CsInsn, known: dict[int, int]) -> int | None:
    """A constant built by ``movw``/``movt`` or an address-sized ``mov rX, #imm``."""
    ops = insn.operands
    if len(ops) != 2 or ops[0].type != arm.ARM_OP_REG or ops[1].type != arm.ARM_OP_IMM:
        return None
    imm = ops[1].imm & 0xFFFFFFFF
    if insn.id == arm.ARM_INS_MOVT:
        low = known.get(ops[0].reg)
        return None if low is None else ((imm & 0xFFFF) << 16) | (low & 0xFFFF)
    if insn.id == arm.ARM_INS_MOVW or (insn.id == arm.ARM_INS_MOV and imm >= 0x10000):
        return int(imm)
    return None


def _addresses_through_r9(insn: capstone.CsInsn) -> bool:
    """R9 used as an address: a memory operand's base/index, or ``add rX, r9``."""
    for op in insn.operands:
        if op.type == arm.ARM_OP_MEM and arm.ARM_REG_R9 in (op.mem.base, op.mem.index):
            return True
    return insn.id == arm.ARM_INS_ADD and any(
        op.type == arm.ARM_OP_REG and op.reg == arm.ARM_REG_R9 for op in insn.operands[1:])
