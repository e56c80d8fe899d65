"""The loop-test reader on real compiled code: the polling loops of the faulty loader's clock
and QUADSPI code, found by disassembly, decoded into the bits and value that end them."""

from __future__ import annotations

import capstone
import pytest

from extflash import loader as loaders
from extflash.diagnose import loops
from extflash.diagnose.hang import describe_condition
from extflash.emu.machine import Machine
from extflash.emu.periph.quadspi import registers, variant_for


def _polling_loops(ld: loaders.Loader, function: str) -> list[tuple[int, int]]:
    """(load pc, branch pc) of each loop that loads then branches back to the load."""
    sym = ld.symbol(function)
    assert sym is not None
    start = sym.value & ~1
    seg = ld.segment_at(start)
    assert seg is not None
    code = seg.data[start - seg.address:start - seg.address + sym.size]
    cs = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    cs.detail = True
    insns = list(cs.disasm(code, start))
    found = []
    for i, insn in enumerate(insns):
        if insn.group(capstone.CS_GRP_JUMP) and insn.operands:
            target = insn.operands[0].imm
            head = next((x for x in insns[:i + 1] if x.address == target), None)
            if head is not None and head.mnemonic.startswith("ldr") and target < insn.address:
                found.append((target, insn.address))
    return found


@pytest.fixture(scope="module")
def machine_and_loader(faulty, board):
    ld = loaders.open(faulty())
    m = Machine(board.part)
    for seg in ld.image_segments:
        m.mem_write(seg.address, seg.data)
    return m, ld


def _read(pc, name, offset, value):
    return loops.Read(pc, 0, name, "RCC", offset, 4, (value,))


def test_clock_loops(machine_and_loader):
    m, ld = machine_and_loader
    (pll, sws) = _polling_loops(ld, "clock_init")
    rcc_cr = m.rcc.by_name["CR"]
    cond = loops.wait_condition(m, _read(pll[0], "RCC_CR", 0, 0x0000C187), range(*pll))
    assert cond == loops.WaitCondition(1 << 25, 1 << 25, negate=False)
    assert describe_condition(rcc_cr, cond) == "PLL1RDY=1"
    cfgr = m.rcc.by_name["CFGR"]
    cond = loops.wait_condition(m, _read(sws[0], "RCC_CFGR", 0x10, 3), range(*sws))
    assert cond == loops.WaitCondition(0x38, 0x18, negate=False)
    assert describe_condition(cfgr, cond) == "SWS=0x3"
    assert not cond.met(0x3) and cond.met(0x1B)


def test_quadspi_flag_loops(machine_and_loader, board):
    m, ld = machine_and_loader
    sr = {r.name: r for r in registers(variant_for(board.part.family.id))}["SR"]
    waits = {}
    for head, branch in _polling_loops(ld, "command"):
        read = loops.Read(head, 0, "QUADSPI_SR", "QUADSPI", 8, 4, (0x20,))
        cond = loops.wait_condition(m, read, range(head, branch + 2))
        assert cond is not None
        waits[head] = describe_condition(sr, cond)
    # `while (!(SR & (FTF | TCF)))` and `while (!(SR & TCF))`
    assert sorted(waits.values()) == ["TCF=1", "any of TCF, FTF set"]
