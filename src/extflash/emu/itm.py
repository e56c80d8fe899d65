"""The ITM's stimulus ports, as an application's printf-over-SWO uses them.

ARMv7-M ARM, appendix C1.7 "Instrumentation Trace Macrocell": 32 stimulus ports at
0xE0000000 + 4n; a write to port n is traced when TCR.ITMENA (bit 0) and TER bit n are set (and
DEMCR.TRCENA, which gates the whole ITM); a read of a stimulus port returns 1 in bit 0 when the
port can accept a write (FIFOREADY), which the virtual trace port always can. The bytes written
(1, 2 or 4 per write) go to ``on_output(port, data)``; nothing is timed (no SWO baud rate).
"""

from __future__ import annotations

from collections.abc import Callable

from extflash.emu.regmodel import Access, Peripheral, Reg

ITM_BASE = 0xE0000000
PORTS = 32
TER, TPR, TCR, LAR, LSR = 0xE00, 0xE40, 0xE80, 0xFB0, 0xFB4
TCR_ITMENA = 1


def _registers() -> tuple[Reg, ...]:
    ports = tuple(Reg(f"STIM{n}", 4 * n, 0) for n in range(PORTS))
    return (*ports, Reg("TER", TER, 0), Reg("TPR", TPR, 0), Reg("TCR", TCR, 0),
            Reg("LAR", LAR, 0, access=Access.WO), Reg("LSR", LSR, 0, access=Access.RO))


class Itm(Peripheral):
    """Stimulus ports, TER/TPR/TCR and the lock registers (writes accepted, never locked)."""

    size = 0x1000

    def __init__(self, trace_enabled: Callable[[], bool],
                 on_output: Callable[[int, bytes], None]) -> None:
        super().__init__("ITM", ITM_BASE, _registers())
        self.trace_enabled = trace_enabled
        self.on_output = on_output

    def _port_enabled(self, port: int) -> bool:
        return (self.trace_enabled() and bool(self["TCR"] & TCR_ITMENA)
                and bool(self["TER"] >> port & 1))

    def read(self, offset: int, size: int) -> int:
        if offset < 4 * PORTS:
            return 1  # FIFOREADY: the port accepts a write now
        return super().read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        if offset >= 4 * PORTS:
            super().write(offset, size, value)
            return
        port = offset // 4
        if self._port_enabled(port):
            self.on_output(port, (value & ((1 << 8 * size) - 1)).to_bytes(size, "little"))
