"""The IO managers in front of GPIO: OCTOSPIM (L4+, U5, H7A/B, H72x/H73x) and XSPIM (H7R/S).

An IO manager decides which controller's signals reach which port; the pins of a port then
carry them through their GPIO alternate function. :meth:`IoManager.route` answers, for one
port signal a controller needs, whether that controller drives it (None) or why not.

OCTOSPIM (RM0455/RM0468/RM0456 "OCTOSPI I/O manager", ``peripherals.md`` §5): one PCRn per
port with CLKEN/CLKSRC, DQSEN/DQSSRC, NCSEN/NCSSRC, IOLEN/IOLSRC (IO[3:0]) and IOHEN/IOHSRC
(IO[7:4]); xSRC picks OCTOSPI1 or OCTOSPI2, IOxSRC also which nibble of its bus. Reset values
map port 1 to OCTOSPI1 and port 2 to OCTOSPI2 with every signal enabled (P1CR 0x0301_0111,
P2CR 0x0705_0333). CR.MUXEN (not on L4+) multiplexes both controllers onto one port; the model
accepts it and routes by the PCRs as written.

XSPIM (RM0477 "XSPI I/O manager", ``peripherals.md`` §6.2): only a CR. MODE=1 swaps the ports
(XSPI1 on port 2, XSPI2 on port 1); MUXEN=1 puts both controllers on the port MODE selects.
CSSEL_OVR_EN with CSSEL_OVR_O1/O2 overrides which chip-select output of the port a controller
drives.

The registers need the IO manager's RCC clock to be written (as every peripheral here); the
routing itself follows the register values whatever the clock.
"""

from __future__ import annotations

from collections.abc import Callable

from extflash.emu.regmodel import Peripheral, Reg, fields

P1CR_RESET = 0x0301_0111
P2CR_RESET = 0x0705_0333


class IoManager(Peripheral):
    """Common part: change listeners (the controllers re-check their wiring)."""

    def __init__(self, name: str, base: int, registers: tuple[Reg, ...]) -> None:
        super().__init__(name, base, registers)
        self.listeners: list[Callable[[], None]] = []

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()

    def write(self, offset: int, size: int, value: int) -> None:
        """A write that changes the register re-checks the controllers' wiring (a HAL
        ``Init`` writes the same routing again at every call)."""
        before = dict(self.values)
        super().write(offset, size, value)
        if self.values != before:
            self._changed()

    def reset(self) -> None:
        super().reset()
        self._changed()

    def route(self, controller: int, port: int, signal: str) -> str | None:
        """None when controller ``controller`` (1 or 2) drives ``signal`` of ``port``."""
        raise NotImplementedError


class Octospim(IoManager):
    def __init__(self, base: int, *, ports: int = 2, has_cr: bool = True,
                 name: str = "OCTOSPIM") -> None:
        pcr_fields = fields(("CLKEN", 0), ("CLKSRC", 1), ("DQSEN", 4), ("DQSSRC", 5),
                            ("NCSEN", 8), ("NCSSRC", 9), ("IOLEN", 16), ("IOLSRC", 17, 2),
                            ("IOHEN", 24), ("IOHSRC", 25, 2))
        resets = (P1CR_RESET, P2CR_RESET)
        regs = [Reg(f"P{n + 1}CR", 4 + 4 * n, resets[n] if n < 2 else 0, pcr_fields)
                for n in range(ports)]
        if has_cr:
            regs.insert(0, Reg("CR", 0, fields=fields(("MUXEN", 0), ("REQ2ACK_TIME", 16, 8))))
        super().__init__(name, base, tuple(regs))
        self.ports = ports

    def route(self, controller: int, port: int, signal: str) -> str | None:
        if not 1 <= port <= self.ports:
            return f"{self.name} has no port {port}"
        pcr = self.values[4 * port]
        src = controller - 1  # CLKSRC/DQSSRC/NCSSRC: 0 = OCTOSPI1, 1 = OCTOSPI2
        if signal in ("clk", "nclk"):
            enabled, given = pcr & 1, (pcr >> 1) & 1 == src
        elif signal == "dqs":
            enabled, given = pcr >> 4 & 1, (pcr >> 5) & 1 == src
        elif signal in ("ncs", "ncs2"):
            enabled, given = pcr >> 8 & 1, (pcr >> 9) & 1 == src
        else:
            line = int(signal[2:])
            en_bit, src_lsb = (16, 17) if line < 4 else (24, 25)
            nibble = (pcr >> src_lsb) & 3  # 00 OSPI1 IO[3:0], 01 OSPI1 IO[7:4], 10/11 OSPI2
            enabled = pcr >> en_bit & 1
            # the port's IO[3:0] (or IO[7:4]) carry the nibble of the controller's bus that
            # IOxSRC names; the controller's line `line` must be that nibble's
            given = nibble >> 1 == src and (nibble & 1) == (line >= 4)
            if enabled and nibble >> 1 == src and not given:
                return (f"{self.name} P{port}CR routes OCTOSPI{controller} IO"
                        f"{'7:4' if nibble & 1 else '3:0'} to the port's "
                        f"IO{'7:4' if line >= 4 else '3:0'}")
        if not enabled:
            return f"{self.name} P{port}CR has the port's {signal.upper()} disabled"
        if not given:
            return (f"{self.name} P{port}CR gives the port's {signal.upper()} to "
                    f"OCTOSPI{2 - src}")
        return None


class Xspim(IoManager):
    def __init__(self, base: int, *, name: str = "XSPIM") -> None:
        super().__init__(name, base, (Reg("CR", 0, fields=fields(
            ("MUXEN", 0), ("MODE", 1), ("CSSEL_OVR_EN", 4), ("CSSEL_OVR_O1", 5),
            ("CSSEL_OVR_O2", 6), ("REQ2ACK_TIME", 16, 8))),))

    def port_of(self, controller: int) -> int:
        """The port XSPI``controller`` drives (MODE swaps; MUXEN shares the MODE port)."""
        cr = self.values[0]
        swap = cr >> 1 & 1
        if cr & 1:
            return 2 if swap else 1
        return (2 if controller == 1 else 1) if swap else controller

    def route(self, controller: int, port: int, signal: str) -> str | None:
        drives = self.port_of(controller)
        if drives != port:
            return (f"XSPIM CR (MODE={self.values[0] >> 1 & 1}, MUXEN={self.values[0] & 1}) "
                    f"puts XSPI{controller} on port {drives}")
        return None
