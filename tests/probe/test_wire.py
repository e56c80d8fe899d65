"""The SWD debug port and MEM-AP models at transfer level (what a probe puts on the wire)."""

from __future__ import annotations

import pytest

from extflash.probe.dap import (
    CDBGPWRUPACK,
    CDBGPWRUPREQ,
    CSW,
    CSYSPWRUPACK,
    CSYSPWRUPREQ,
    DP_ABORT,
    DP_CTRL_STAT,
    DP_IDR,
    DP_RDBUFF,
    DP_SELECT,
    DRW,
    IDR,
    STICKYERR,
    TAR,
    Ack,
    BusError,
    DebugPort,
    MemAp,
)


class RamBus:
    """4 KiB of memory at 0x1000 with sized accesses; anything else is a bus error."""

    def __init__(self) -> None:
        self.mem = bytearray(0x1000)

    def _off(self, address: int, size: int) -> int:
        if not (address >= 0x1000 and address + size <= 0x2000):
            raise BusError(address)
        return address - 0x1000

    def read(self, address: int, size: int) -> int:
        o = self._off(address, size)
        return int.from_bytes(self.mem[o:o + size], "little")

    def write(self, address: int, size: int, value: int) -> None:
        o = self._off(address, size)
        self.mem[o:o + size] = value.to_bytes(size, "little")

    def read_words(self, address: int, count: int) -> list[int]:
        return [self.read(address + 4 * i, 4) for i in range(count)]

    def write_words(self, address: int, words) -> None:
        for i, w in enumerate(words):
            self.write(address + 4 * i, 4, w)


def swd(dp: DebugPort) -> None:
    """What a probe does to connect: line reset, JTAG-to-SWD, line reset, DPIDR read."""
    dp.swj_sequence(51, (1 << 51) - 1)
    dp.swj_sequence(16, 0xE79E)
    dp.swj_sequence(51, (1 << 51) - 1)
    dp.swj_sequence(8, 0)
    assert dp.transfer(False, True, DP_IDR) == (Ack.OK, 0x6BA02477)


def powered(dp: DebugPort) -> None:
    swd(dp)
    dp.transfer(False, False, DP_CTRL_STAT, CSYSPWRUPREQ | CDBGPWRUPREQ)


@pytest.fixture
def port():
    bus = RamBus()
    ap = MemAp(bus, 0x24770011, base=0xE00FF003)
    return DebugPort(0x6BA02477, {0: ap}), ap, bus


def test_jtag_mode_until_switch_sequence(port):
    dp, _, _ = port
    assert dp.transfer(False, True, DP_IDR) == (Ack.NONE, 0)
    swd(dp)


def test_line_reset_accepts_only_dpidr(port):
    dp, _, _ = port
    swd(dp)
    dp.swj_sequence(51, (1 << 51) - 1)
    assert dp.transfer(False, True, DP_CTRL_STAT)[0] is Ack.NONE
    assert dp.transfer(False, True, DP_IDR)[0] is Ack.OK
    assert dp.transfer(False, True, DP_CTRL_STAT)[0] is Ack.OK


def test_power_up_handshake_and_ap_access_before_it_faults(port):
    dp, _, _ = port
    swd(dp)
    assert dp.transfer(True, True, IDR & 0xC)[0] is Ack.FAULT  # debug domain still off
    _ack, status = dp.transfer(False, True, DP_CTRL_STAT)
    assert status & STICKYERR
    dp.transfer(False, False, DP_ABORT, 1 << 2)  # STKERRCLR
    dp.transfer(False, False, DP_CTRL_STAT, CSYSPWRUPREQ | CDBGPWRUPREQ)
    _, status = dp.transfer(False, True, DP_CTRL_STAT)
    assert status & (CDBGPWRUPACK | CSYSPWRUPACK) == CDBGPWRUPACK | CSYSPWRUPACK
    assert not status & STICKYERR


def test_ap_reads_are_posted(port):
    dp, _, bus = port
    powered(dp)
    bus.mem[0:8] = (0x11111111).to_bytes(4, "little") + (0x22222222).to_bytes(4, "little")
    dp.transfer(False, False, DP_SELECT, 0xF0)  # APSEL 0, bank 0xF
    dp.transfer(True, True, IDR & 0xC)
    assert dp.transfer(False, True, DP_RDBUFF) == (Ack.OK, 0x24770011)
    dp.transfer(False, False, DP_SELECT, 0)
    dp.transfer(True, False, CSW, 0x23000012)  # 32-bit, auto-increment
    dp.transfer(True, False, TAR, 0x1000)
    dp.transfer(True, True, DRW)  # returns the stale value
    ack, first = dp.transfer(True, True, DRW)
    assert (ack, first) == (Ack.OK, 0x11111111)
    assert dp.transfer(False, True, DP_RDBUFF)[1] == 0x22222222


def test_csw_sizes_lanes_and_increment(port):
    _dp, ap, bus = port
    ap.write_reg(CSW, 0x23000010)  # byte transfers, increment
    ap.write_reg(TAR, 0x1001)
    ap.write_reg(DRW, 0x0000AB00)  # byte lane 1 carries the data for address ...1
    ap.write_reg(DRW, 0x00CD0000)
    assert bus.mem[1:3] == b"\xab\xcd"
    assert ap.read_reg(TAR) == 0x1003
    ap.write_reg(CSW, 0x23000011)  # halfword
    ap.write_reg(TAR, 0x1002)
    assert ap.read_reg(DRW) == 0x00CD0000  # bytes 2-3 on the upper lanes
    ap.write_reg(CSW, 0x23000013)  # 64-bit is not implemented: reads back as 32-bit
    assert ap.read_reg(CSW) & 7 == 2


def test_auto_increment_wraps_within_1k(port):
    _, ap, bus = port
    ap.write_reg(CSW, 0x23000012)
    ap.write_reg(TAR, 0x13FC)
    ap.write_drw_block([1, 2])
    assert bus.read(0x13FC, 4) == 1
    assert bus.read(0x1000, 4) == 2  # TAR[9:0] wrapped; the upper bits did not move
    assert ap.read_reg(TAR) == 0x1004


def test_bus_error_sets_sticky_and_faults_until_cleared(port):
    dp, _, _ = port
    powered(dp)
    dp.transfer(True, False, CSW, 0x23000012)
    dp.transfer(True, False, TAR, 0x8000)
    assert dp.transfer(True, True, DRW)[0] is Ack.FAULT
    assert dp.transfer(True, False, TAR, 0x1000)[0] is Ack.FAULT  # sticky
    dp.transfer(False, False, DP_ABORT, 1 << 2)
    assert dp.transfer(True, False, TAR, 0x1000)[0] is Ack.OK


def test_silent_target_gives_no_ack(port):
    dp, _, _ = port
    powered(dp)
    dp.answering = False
    assert dp.transfer(False, True, DP_IDR) == (Ack.NONE, 0)
    assert dp.read_drw_block(4)[0] is Ack.NONE


def test_cortex_m_ahb_ap_wraps_at_4k():
    bus = RamBus()
    ap = MemAp(bus, 0x24770011, wrap=0x1000)
    ap.write_reg(CSW, 0x23000012)
    ap.write_reg(TAR, 0x13FC)
    ap.write_drw_block([1, 2])
    assert bus.read(0x1400, 4) == 2  # crossed the 1 KiB line, no wrap below 4 KiB
    ap.write_reg(TAR, 0x1FFC)
    ap.write_reg(DRW, 3)
    assert ap.read_reg(TAR) == 0x1000
