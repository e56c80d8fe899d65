"""The SWD debug port and MEM-APs of the virtual target, at the level of ADIv5 transfers.

:class:`DebugPort` answers the transfers a probe puts on the wire: a DP or AP register, read or
write, with an ACK (OK, WAIT, FAULT, or none at all when the target does not answer). It keeps
the state that matters to a debugger:

* the SWJ switch: the port starts in JTAG mode and only answers SWD after the JTAG-to-SWD
  sequence; after a line reset only a DPIDR read is accepted;
* CTRL/STAT with the debug and system power-up handshake (an AP access before debug power is
  up FAULTs), sticky errors cleared through ABORT;
* SELECT (APSEL, APBANKSEL, DPBANKSEL) and posted AP reads: an AP read returns the previous AP
  read's data, RDBUFF the last one.

:class:`MemAp` is a MEM-AP (AHB-AP or APB-AP) over an :class:`ApBus`: CSW (size, address
increment, HPROT), TAR, DRW with byte lanes and auto-increment that wraps as the hardware's does
(1 KiB, or 4 KiB on the Cortex-M AHB-AP), BD0-3, CFG, BASE and IDR. A bus error on an access
sets STICKYERR in the DP.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# DP registers (A[3:2] with DPBANKSEL for 0x4).
DP_IDR, DP_ABORT, DP_CTRL_STAT, DP_SELECT, DP_RDBUFF = 0x0, 0x0, 0x4, 0x8, 0xC
CDBGPWRUPREQ, CDBGPWRUPACK = 1 << 28, 1 << 29
CSYSPWRUPREQ, CSYSPWRUPACK = 1 << 30, 1 << 31
STICKYORUN, STICKYCMP, STICKYERR, WDATAERR = 1 << 1, 1 << 4, 1 << 5, 1 << 7
CTRL_WRITABLE = 0x5F000F0D  # power requests, MASKLANE, TRNMODE, TRNCNT, ORUNDETECT
ABORT_CLEARS = ((1 << 1, STICKYCMP), (1 << 2, STICKYERR), (1 << 3, WDATAERR),
                (1 << 4, STICKYORUN))

# MEM-AP registers.
CSW, TAR, DRW, BD0, CFG, BASE, IDR = 0x00, 0x04, 0x0C, 0x10, 0xF4, 0xF8, 0xFC
CSW_SIZE, CSW_ADDRINC = 0x7, 0x30
CSW_DEVICEEN, CSW_SPIDEN, CSW_DBGSWENABLE = 1 << 6, 1 << 23, 1 << 31
CSW_PROT = 0x7F000000
AUTOINC_PAGE = 0x400
SIZES = {0: 1, 1: 2, 2: 4}  # CSW.Size -> bytes

JTAG_TO_SWD = 0xE79E
LINE_RESET_BITS = 50


class Ack(enum.IntEnum):
    OK = 0b001
    WAIT = 0b010
    FAULT = 0b100
    NONE = 0b111  # nobody drove the line: the target did not answer


class BusError(Exception):
    """A MEM-AP access the bus behind it refused (an error response)."""

    def __init__(self, address: int, reason: str = "") -> None:
        super().__init__(f"bus error at 0x{address:08X}{': ' + reason if reason else ''}")
        self.address = address


class ApBus(Protocol):
    """What a MEM-AP reaches: sized accesses, and word blocks for the fast path."""

    def read(self, address: int, size: int) -> int: ...

    def write(self, address: int, size: int, value: int) -> None: ...

    def read_words(self, address: int, count: int) -> list[int]: ...

    def write_words(self, address: int, words: Sequence[int]) -> None: ...


class AccessPort(Protocol):
    idr: int

    def read_reg(self, offset: int) -> int: ...

    def write_reg(self, offset: int, value: int) -> None: ...


@dataclass
class MemAp:
    """A MEM-AP. ``base`` is the BASE register (ROM table address | 0b11, or 0x2 for none)."""

    bus: ApBus
    idr: int
    base: int = 0x00000002
    prot_mask: int = 0x23000000  # HPROT bits this AP implements (privileged/data/cacheable)
    wrap: int = AUTOINC_PAGE  # TAR auto-increment modulus: 1 KiB minimum, 4 KiB on Cortex-M APs

    def __post_init__(self) -> None:
        self.csw = CSW_DBGSWENABLE | 0x03000000 | CSW_SPIDEN | CSW_DEVICEEN | 0x2
        self.tar = 0

    # -- registers ---------------------------------------------------------------------------
    def read_reg(self, offset: int) -> int:
        if offset == CSW:
            return self.csw
        if offset == TAR:
            return self.tar
        if offset == DRW:
            return self._drw_read()
        if BD0 <= offset < BD0 + 0x10:
            return self.bus.read((self.tar & ~0xF) + offset - BD0, 4)
        return {CFG: 0, BASE: self.base, IDR: self.idr}.get(offset, 0)

    def write_reg(self, offset: int, value: int) -> None:
        if offset == CSW:
            size = value & CSW_SIZE
            size = size if size in SIZES else 2  # unsupported sizes read back as 32-bit
            inc = value & CSW_ADDRINC
            inc = inc if inc in (0x00, 0x10) else 0x10  # packed transfers are not implemented
            fixed = CSW_DBGSWENABLE | CSW_SPIDEN | CSW_DEVICEEN
            self.csw = fixed | (value & self.prot_mask) | inc | size
        elif offset == TAR:
            self.tar = value & 0xFFFFFFFF
        elif offset == DRW:
            self._drw_write(value)
        elif BD0 <= offset < BD0 + 0x10:
            self.bus.write((self.tar & ~0xF) + offset - BD0, 4, value)

    # -- data --------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return SIZES[self.csw & CSW_SIZE]

    def _advance(self, count: int = 1) -> None:
        if self.csw & CSW_ADDRINC:
            low = (self.tar + self.size * count) & (self.wrap - 1)
            self.tar = (self.tar & ~(self.wrap - 1)) | low

    def _drw_read(self) -> int:
        size, address = self.size, self.tar
        value = self.bus.read(address & ~(size - 1), size)
        self._advance()
        return (value << 8 * (address & 3 & ~(size - 1))) & 0xFFFFFFFF

    def _drw_write(self, value: int) -> None:
        size, address = self.size, self.tar
        lane = (value >> 8 * (address & 3 & ~(size - 1))) & ((1 << 8 * size) - 1)
        self.bus.write(address & ~(size - 1), size, lane)
        self._advance()

    def _word_runs(self, count: int) -> list[tuple[int, int]]:
        """(address, words) runs of a word block from TAR, split where TAR wraps."""
        runs, address, wrap = [], self.tar & ~3, self.wrap
        while count:
            n = min(count, (wrap - (address & (wrap - 1))) // 4)
            runs.append((address, n))
            count -= n
            address = (address & ~(wrap - 1)) | ((address + 4 * n) & (wrap - 1))
        return runs

    def read_drw_block(self, count: int) -> list[int]:
        """``count`` DRW reads, with a fast path for 32-bit incrementing transfers."""
        if self.size != 4 or not self.csw & CSW_ADDRINC:
            return [self._drw_read() for _ in range(count)]
        out: list[int] = []
        for address, n in self._word_runs(count):
            self.tar = address
            out += self.bus.read_words(address, n)
            self._advance(n)
        return out

    def write_drw_block(self, values: Sequence[int]) -> None:
        if self.size != 4 or not self.csw & CSW_ADDRINC:
            for v in values:
                self._drw_write(v)
            return
        done = 0
        for address, n in self._word_runs(len(values)):
            self.tar = address
            self.bus.write_words(address, values[done:done + n])
            self._advance(n)
            done += n


class DebugPort:
    """An SWJ-DP answering SWD transfers. ``aps`` maps APSEL to access ports."""

    def __init__(self, dpidr: int, aps: dict[int, AccessPort]) -> None:
        self.dpidr = dpidr
        self.aps = aps
        self.answering = True  # False: the target stopped driving SWDIO (no ACK)
        self.closed = ""  # why the access ports refuse every access ("": they do not)
        self.power_on()

    def power_on(self) -> None:
        self.mode = "jtag"  # SWJ-DP after power-on
        self.in_reset = True  # line reset state: only a DPIDR read leaves it
        self.ctrl_stat = 0
        self.select = 0
        self.rdbuff = 0
        self._ones = 0

    # -- SWJ sequences ----------------------------------------------------------------------
    def swj_sequence(self, length: int, bits: int) -> None:
        """Bits on SWDIO/TMS, LSB first: line resets and the JTAG-to-SWD switch."""
        for i in range(length):
            if bits >> i & 1:
                self._ones += 1
                continue
            if self._ones >= LINE_RESET_BITS:
                self.in_reset = True
            self._ones = 0
        if self._ones >= LINE_RESET_BITS:
            self.in_reset = True
        if length >= 16 and any((bits >> s) & 0xFFFF == JTAG_TO_SWD for s in range(length - 15)):
            self.mode = "swd"
            self.in_reset = True

    # -- transfers ---------------------------------------------------------------------------
    def transfer(self, ap: bool, read: bool, a: int, value: int = 0) -> tuple[Ack, int]:
        """One SWD transfer: A[3:2] = ``a``; returns (ack, data read or 0)."""
        if not self.answering or self.mode != "swd":
            return Ack.NONE, 0
        if self.in_reset and not (not ap and read and a == DP_IDR):
            return Ack.NONE, 0  # a protocol error until the DPIDR read
        if ap:
            return self._ap_transfer(read, a, value)
        return Ack.OK, self._dp_transfer(read, a, value)

    def _dp_transfer(self, read: bool, a: int, value: int) -> int:
        if read:
            if a == DP_IDR:
                self.in_reset = False
                return self.dpidr
            if a == DP_CTRL_STAT:
                return self.ctrl_stat if self.select & 0xF == 0 else 0
            if a == DP_RDBUFF:
                return self.rdbuff
            return 0
        if a == DP_ABORT:
            for bit, sticky in ABORT_CLEARS:
                if value & bit:
                    self.ctrl_stat &= ~sticky
        elif a == DP_CTRL_STAT and self.select & 0xF == 0:
            acks = (CDBGPWRUPACK if value & CDBGPWRUPREQ else 0) | (
                CSYSPWRUPACK if value & CSYSPWRUPREQ else 0)
            sticky = self.ctrl_stat & (STICKYERR | STICKYCMP | STICKYORUN | WDATAERR)
            self.ctrl_stat = (value & CTRL_WRITABLE) | acks | sticky
        elif a == DP_SELECT:
            self.select = value & 0xFFFFFFFF
        return 0

    def _ap_reg(self, a: int) -> tuple[AccessPort | None, int]:
        return self.aps.get(self.select >> 24), (self.select & 0xF0) | a

    def _ap_ready(self) -> Ack | None:
        if self.ctrl_stat & STICKYERR:
            return Ack.FAULT
        if self.closed:
            self.ctrl_stat |= STICKYERR
            return Ack.FAULT
        if not self.ctrl_stat & CDBGPWRUPACK:
            self.ctrl_stat |= STICKYERR
            return Ack.FAULT
        return None

    def _ap_transfer(self, read: bool, a: int, value: int) -> tuple[Ack, int]:
        refused = self._ap_ready()
        if refused is not None:
            return refused, 0
        ap, offset = self._ap_reg(a)
        try:
            if read:
                posted, self.rdbuff = self.rdbuff, ap.read_reg(offset) if ap else 0
                return Ack.OK, posted
            if ap is not None:
                ap.write_reg(offset, value)
        except BusError:
            self.ctrl_stat |= STICKYERR
            return Ack.FAULT, 0
        return Ack.OK, 0

    def read_drw_block(self, count: int) -> tuple[Ack, list[int]]:
        """``count`` posted reads of the selected AP's DRW, then RDBUFF: the ``count`` values."""
        refused = self._precheck()
        if refused is not None:
            return refused, []
        ap, offset = self._ap_reg(DRW & 0xC)
        if not isinstance(ap, MemAp) or offset != DRW:
            values: list[int] = []
            for _ in range(count):
                ack, _ = self.transfer(True, True, DRW & 0xC)
                if ack is not Ack.OK:
                    return ack, values
                values.append(self.rdbuff)
            return Ack.OK, values
        try:
            values = ap.read_drw_block(count)
        except BusError:
            self.ctrl_stat |= STICKYERR
            return Ack.FAULT, []
        if values:
            self.rdbuff = values[-1]
        return Ack.OK, values

    def write_drw_block(self, values: Sequence[int]) -> Ack:
        refused = self._precheck()
        if refused is not None:
            return refused
        ap, offset = self._ap_reg(DRW & 0xC)
        if not isinstance(ap, MemAp) or offset != DRW:
            for v in values:
                ack, _ = self.transfer(True, False, DRW & 0xC, v)
                if ack is not Ack.OK:
                    return ack
            return Ack.OK
        try:
            ap.write_drw_block(values)
        except BusError:
            self.ctrl_stat |= STICKYERR
            return Ack.FAULT
        return Ack.OK

    def _precheck(self) -> Ack | None:
        if not self.answering or self.mode != "swd" or self.in_reset:
            return Ack.NONE
        return self._ap_ready()


def words_to_bytes(words: Sequence[int]) -> bytes:
    return struct.pack(f"<{len(words)}I", *words)


def bytes_to_words(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 4}I", data))
