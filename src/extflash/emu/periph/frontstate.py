"""What a memory controller is doing, in terms every front-end shares (QUADSPI, OCTOSPI, XSPI).

The diagnostics, the trace and the XIP runner ask a controller for its :class:`ControllerState`
(``ctrl.state()``) and name its registers through its :class:`FieldNames`; they never read a
front-end's registers or private state. The three controllers share the functional modes
(FMODE 00 indirect write, 01 indirect read, 10 automatic polling, 11 memory-mapped: RM0433
QUADSPI_CCR.FMODE, RM0455/RM0477 OCTOSPI_CR/XSPI_CR.FMODE) and the SR flags TEF, TCF, FTF, SMF,
TOF, BUSY and FLEVEL (the same bits in the three SRs); where the fields sit differs, and that
is what :class:`FieldNames` says.

:func:`describe_frame` writes a command frame the way datasheets do: ``0xEE11 8D-8D-8D``
(lines and transfer rate per phase: instruction, address, data), ``0x0B 1-1-1`` when every
phase is STR (single transfer rate), plus address, alternate bytes, dummy cycles and DQS.
"""

from __future__ import annotations

from dataclasses import dataclass

from extflash.emu.spi import SpiCommand

FMODES = ("indirect write", "indirect read", "automatic polling", "memory-mapped")
FMODE_WRITE, FMODE_READ, FMODE_POLL, FMODE_MAPPED = range(4)
TEF, TCF, FTF, SMF, TOF, BUSY = (1 << i for i in range(6))
FLAG_NAMES = ((TEF, "TEF"), (TCF, "TCF"), (FTF, "FTF"), (SMF, "SMF"), (TOF, "TOF"),
              (BUSY, "BUSY"))


@dataclass(frozen=True)
class FieldNames:
    """Where a front-end keeps what users are told to change (``register.FIELD``)."""

    fmode: str  # "CCR.FMODE" (QUADSPI) / "CR.FMODE" (OCTOSPI, XSPI)
    dummy: str  # "CCR.DCYC" / "TCR.DCYC"
    size: str  # "DCR.FSIZE" / "DCR1.DEVSIZE"
    # what starts memory-mapped mode (RM0433: a CCR write with FMODE=11; RM0455: FMODE=11 in
    # CR with EN=1)
    mapped_start: str
    # the register write order that starts a command (the start triggers of each front-end)
    start_order: str
    dqs: str | None = None  # "CCR.DQSE" where the controller samples on DQS
    dtr: str = "CCR.DDRM"  # the per-phase DTR bits, as named to users
    instruction_register: str = "CCR.INSTRUCTION"


QUADSPI_FIELDS = FieldNames(
    fmode="CCR.FMODE", dummy="CCR.DCYC", size="DCR.FSIZE",
    mapped_start="a write to CCR with FMODE=3",
    start_order="write DLR, then CCR, then AR (a command with an address starts on the AR "
                "write; an indirect write with data starts on the first DR write)")
OCTOSPI_FIELDS = FieldNames(
    fmode="CR.FMODE", dummy="TCR.DCYC", size="DCR1.DEVSIZE",
    mapped_start="a write to CR with FMODE=3 and EN=1",
    start_order="write DLR, CCR, TCR, then IR (a command without an address starts on the IR "
                "write, one with an address on the AR write; an indirect write with data starts "
                "on the first DR write)",
    dqs="CCR.DQSE", dtr="CCR.IDTR/ADDTR/ABDTR/DDTR", instruction_register="IR")


@dataclass(frozen=True)
class ControllerState:
    """A controller as the diagnostics see it: mode, flags, FIFO and the frames it would send."""

    name: str  # "QUADSPI", "OCTOSPI1", "XSPI2"
    kind: str  # "quadspi", "octospi", "xspi"
    fields: FieldNames
    clocked: bool  # its RCC enable bit is set (else registers read 0)
    enabled: bool  # CR.EN
    fmode: int
    mapped: bool  # memory-mapped mode is in effect (entered, not aborted)
    sr: int  # the status register as software reads it now
    fifo_level: int
    fifo_bytes: int
    frame: SpiCommand  # the command the registers describe now (address AR, no data)
    mapped_write: SpiCommand | None  # the frame of memory-mapped writes (WCCR...), if set
    address: int  # AR
    data_length: int  # DLR
    poll_mask: int
    poll_match: int
    poll_status: int  # the last status automatic polling read (DR)
    stop_on_match: bool  # CR.APMS
    flash_bytes: int  # the size the controller was told (FSIZE / DEVSIZE)
    bank: int  # the chip select the next command drives
    write_bytes_missing: int | None  # an indirect write still waits for this many DR bytes

    @property
    def mode(self) -> str:
        return FMODES[self.fmode]

    @property
    def busy(self) -> bool:
        return bool(self.sr & BUSY)

    def flags(self) -> list[str]:
        """The SR flags set, by name."""
        return [name for bit, name in FLAG_NAMES if self.sr & bit]

    def describe(self) -> str:
        """``OCTOSPI1: memory-mapped (CR.FMODE=3), EN=1, BUSY; frame 0xEE11 8D-8D-8D ...``."""
        if not self.clocked:
            return f"{self.name}: clock off (registers read 0)"
        flags = ", ".join(self.flags()) or "no flags"
        text = (f"{self.name}: {self.mode} ({self.fields.fmode}={self.fmode}), "
                f"EN={int(self.enabled)}, {flags}")
        if self.fifo_level:
            text += f", FIFO {self.fifo_level}/{self.fifo_bytes} bytes"
        return f"{text}; frame {describe_frame(self.frame)}"


def rate(lines: int, dtr: bool, octal_style: bool) -> str:
    """``8D``, ``8S``, ``1``: lines and, in the JEDEC octal notation, the rate."""
    if not lines:
        return "0"
    return f"{lines}{'D' if dtr else 'S'}" if octal_style else str(lines)


def protocol(cmd: SpiCommand) -> str:
    """``1-4-4``, ``8D-8D-8D``, ``8S-8D-8D``: the phases' lines (and rates when any is DTR)."""
    dtr = cmd.instruction_dtr or cmd.address_dtr or cmd.ddr
    return "-".join((rate(cmd.instruction_lines, cmd.instruction_dtr, dtr),
                     rate(cmd.address_lines, cmd.address_dtr, dtr),
                     rate(cmd.data_lines, cmd.ddr, dtr)))


def describe_setup(cmd: SpiCommand, *, once: bool = False) -> str:
    """A command being set up (no address or data yet): ``0xEB 1-4-4, 3-byte address, 1
    alternate byte(s) on 4 line(s), 4 dummy``; ``once``: the instruction goes out only with
    the first command (SIOO)."""
    width = 2 * max(cmd.instruction_bytes, 1)
    parts = [f"0x{cmd.instruction:0{width}X} {protocol(cmd)}" if cmd.instruction is not None
             else f"no instruction, {protocol(cmd)}"]
    if cmd.address is not None:
        parts.append(f"{cmd.address_bytes}-byte address")
    if cmd.alternate_bytes and cmd.alternate_lines:
        parts.append(f"{cmd.alternate_bytes} alternate byte(s) on {cmd.alternate_lines} "
                     f"line(s)")
    if cmd.dummy_cycles:
        parts.append(f"{cmd.dummy_cycles} dummy")
    if cmd.dqs:
        parts.append("DQS")
    if once:
        parts.append("instruction once (SIOO)")
    return ", ".join(parts)


def describe_frame(cmd: SpiCommand) -> str:
    """One line: ``0xEE11 8D-8D-8D addr=0x00001000(4B) dummy=20 DQS read 256B`` (a command
    being set up: :func:`describe_setup`)."""
    width = 2 * max(cmd.instruction_bytes, 1)
    opcode = "(no opcode)" if cmd.instruction is None else f"0x{cmd.instruction:0{width}X}"
    text = f"{opcode} {protocol(cmd)}"
    if cmd.address is not None:
        text += f" addr=0x{cmd.address:0{cmd.address_bytes * 2}X}({cmd.address_bytes}B)"
    if cmd.alternate is not None and cmd.alternate_bytes:
        text += f" alt=0x{cmd.alternate:0{cmd.alternate_bytes * 2}X}"
    if cmd.dummy_cycles:
        text += f" dummy={cmd.dummy_cycles}"
    if cmd.dqs:
        text += " DQS"
    if cmd.write_data:
        text += f" write {len(cmd.write_data)}B"
    if cmd.read_length:
        text += f" read {cmd.read_length}B"
    return text
