"""A generic JEDEC SPI NOR flash chip, configured entirely by a :class:`~extflash.chips.ChipSpec`.

One state machine serves every vendor (the QEMU ``m25p80`` / Renode ``GenericSpiFlash`` shape);
vendor differences are data: which opcode reads which register, where QE lives, how 4-byte
addressing is entered, whether there is QPI, Micron configuration registers.

What a controller sees is what silicon does:

* program and erase need WEL, take their datasheet time in *virtual* time and leave the chip
  busy; while busy only status reads, suspend and reset are honoured, other commands are
  rejected (and recorded in :attr:`NorFlash.events` with the reason);
* programming ANDs bits and wraps inside the page; erase sets the aligned block to 0xFF;
* a read whose address width, mode/dummy clocks or line counts differ from what the chip
  expects returns the bits the controller would sample: clock-accurate shifts of the chip's
  output, with **1s on every clock where the chip does not drive a line** (pull-ups on IO0..IO3);
* quad commands are ignored (bus reads 1s) while QE=0 on chips that have a QE bit; in QPI mode
  1-line opcodes are not understood;
* octal chips (a ``[octal]`` table) switch to 8S-8S-8S / 8D-8D-8D through their configuration
  space; frames in those states go to :class:`~extflash.emu.flash.octal.OctalPort`.

Array contents change when a program or erase command is *accepted* (the chip is busy until the
operation's end, so nothing can observe the difference except a suspend, where the model shows
the finished result early).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from extflash.chips import ChipSpec, ReadCommand
from extflash.emu import buffers
from extflash.emu.clock import FS_PER_US, VirtualClock
from extflash.emu.flash import sfdp as sfdp_mod
from extflash.emu.flash.octal import OctalPort
from extflash.emu.flash.rejected import Rejected
from extflash.emu.spi import SpiCommand
from extflash.errors import ConfigError

log = logging.getLogger(__name__)

FS_PER_MS = 1000 * FS_PER_US
TIMINGS = ("typical", "max", "instant")
EVENT_HISTORY = 512
OP_RDID = 0x9F
LANE_REGISTER_BYTES = 4  # the longest register value a command lane repeats (struct lane_reg_read)
LANE_MEMO_STATES = 64  # register-value states a chip keeps its lane's register reads for

WIP = 0x01
WEL = 0x02


@dataclass(frozen=True, slots=True)
class FlashEvent:
    """One command the chip received and whether it acted on it."""

    time_fs: int
    spi: SpiCommand  # as received (formatted on demand: most events are never read)
    outcome: str  # "ok" | "rejected"
    reason: str = ""

    @property
    def command(self) -> str:
        """The command in one line (:meth:`SpiCommand.describe`)."""
        return self.spi.describe()


@dataclass(slots=True)
class _Operation:
    """A program, erase or status write the chip is busy with."""

    kind: str  # "program" | "erase" | "write-status"
    start: int
    end: int
    remaining_fs: int = 0


class EventLog:
    """The chip's last ``maxlen`` commands (a bounded deque). Batches a native command lane
    hands over are decoded only when the log is read: most are pushed out unread."""

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self._events: deque[FlashEvent] = deque(maxlen=maxlen)
        self._batches: deque[tuple[int, Callable[[], list[FlashEvent]]]] = deque()
        self._batched = 0  # events in _batches

    def append(self, event: FlashEvent) -> None:
        self.extend_lazy(1, lambda: [event])  # keeps the order of the batches before it

    def extend_lazy(self, count: int, decode: Callable[[], list[FlashEvent]]) -> None:
        """``count`` events, the last of which (up to ``maxlen``) ``decode`` returns."""
        if not count:
            return
        self._batches.append((count, decode))
        self._batched += count
        while self._batched - self._batches[0][0] >= self.maxlen:  # pushed out unread
            self._batched -= self._batches.popleft()[0]
            self._events.clear()
        if self._batched >= self.maxlen:
            self._events.clear()

    def _decode(self) -> None:
        while self._batches:
            self._events.extend(self._batches.popleft()[1]())
        self._batched = 0

    def __len__(self) -> int:
        self._decode()
        return len(self._events)

    def __iter__(self) -> Iterator[FlashEvent]:
        self._decode()
        return iter(self._events)

    def __getitem__(self, index: int) -> FlashEvent:
        self._decode()
        return self._events[index]


# status-register-1 read opcode, programs (opcode, address bytes, address lines, data lines),
# array reads (opcode, address bytes, address lines, wait clocks, data lines), erases (LaneFacts)
_LaneOpcodes = tuple[int, tuple[tuple[int, int, int, int], ...],
                     tuple[tuple[int, int, int, int, int], ...],
                     tuple[tuple[int, int, int, int, int], ...]]


class LaneFacts(NamedTuple):
    """What a controller's native command lane needs to run the chip's everyday commands
    (write enable, page program, status register 1 reads) itself, exactly as this model would.

    Valid until the chip next handles a command (they are re-read after every one: a tuple,
    built at every hand-over between the lane and the model, where a frozen dataclass's
    ``__init__`` costs twice as much).
    """

    instruction_lines: int  # 1, or 4 in QPI
    sr1_opcode: int  # 0: status polls stay with the model
    sr1_rest: int  # SR1 without WIP and WEL
    wel: bool
    busy_until: int  # 0: idle
    page_size: int
    size: int
    ear: int
    protected: tuple[int, int]  # (0, 0): nothing protected
    program_fs: int
    programs: tuple[tuple[int, int, int, int], ...]  # (opcode, address bytes, address lines,
    #                                                   data lines) accepted as they are now
    # (opcode, address bytes, address lines, wait clocks, data lines) of the reads that return
    # the array as it is (read_check) when sent so, without alternate bytes
    reads: tuple[tuple[int, int, int, int, int], ...] = ()
    # (opcode, address bytes, address lines, bytes erased, erase time in fs) of the sector and
    # block erases the chip takes as they are now
    erases: tuple[tuple[int, int, int, int, int], ...] = ()
    # (opcode, value, is SR1) of the register reads the chip answers with the value repeated from
    # the first data clock (_register_out: RDID, the status and configuration registers); SR1's
    # one byte is the lane's own (sr1_rest, WIP, WEL)
    reg_reads: tuple[tuple[int, bytes, bool], ...] = ()
    # an octal state (a hashable of what frames mean in it): the lane runs only the frames the
    # controller's model proved in it (CommandEngine._learn_frame); None: SPI or QPI, whose
    # frames the lane decodes itself
    octal_mode: object = None
    # the reset-enable opcode the lane may send in SPI or QPI (0: the chip has no reset pair,
    # or an octal state, where the model teaches it the frame); the reset stays the model's
    rsten_opcode: int = 0


_Rejected = Rejected


# ---------------------------------------------------------------------------------------------
# Bit-level helpers for mismatched reads. IO mapping: a 1-line host drives IO0 and samples IO1
# (MOSI/MISO); 2 lines are IO1:IO0 and 4 lines IO3:IO0, high bit first.

_OUT_LINE = {1: 1, 2: 0, 4: 0}  # lowest IO the chip drives data on (IO1 = MISO in 1-line)


def _to_clocks(value: int, nbits: int, lines: int, first_io: int) -> list[int]:
    """Nibbles (IO3..IO0) for ``value`` sent MSB first on ``lines`` lines; undriven lines = 1."""
    mask = (1 << lines) - 1
    idle = 0xF & ~(mask << first_io)
    return [idle | (((value >> (nbits - lines * (i + 1))) & mask) << first_io)
            for i in range(nbits // lines)]


def _from_clocks(nibbles: list[int], lines: int, first_io: int) -> int:
    mask = (1 << lines) - 1
    value = 0
    for nib in nibbles:
        value = (value << lines) | ((nib >> first_io) & mask)
    return value


def _clocks(nbytes: int, lines: int) -> int:
    return nbytes * 8 // lines if lines else 0


def _sample(chip_stream: Callable[[int], bytes], chip_lines: int, host_lines: int,
            skip: int, n: int) -> bytes:
    """``n`` bytes as a host samples them on ``host_lines`` when the chip drives its stream on
    ``chip_lines`` and the host starts sampling ``skip`` clocks after the chip starts driving
    (negative: before it drives, where the pulled-up lines read 1)."""
    total = n * 8
    if chip_lines == host_lines:  # pure bit shift: big-int arithmetic, no per-byte loop
        shift = skip * chip_lines
        if shift >= 0:
            need = (shift + total + 7) // 8
            value = int.from_bytes(chip_stream(need), "big") >> (need * 8 - shift - total)
        else:
            pre = min(-shift, total)
            rest = total - pre
            need = (rest + 7) // 8
            tail = int.from_bytes(chip_stream(need), "big") >> (need * 8 - rest) if need else 0
            value = (((1 << pre) - 1) << rest) | tail
        return (value & ((1 << total) - 1)).to_bytes(n, "big")
    clocks = total // host_lines
    last = skip + clocks
    stream = chip_stream(max(1, (last * chip_lines + 7) // 8)) if last > 0 else b""
    nibbles = _to_clocks(int.from_bytes(stream, "big"), len(stream) * 8, chip_lines,
                         _OUT_LINE[chip_lines]) if stream else []
    sampled = [nibbles[k] if 0 <= k < len(nibbles) else 0xF for k in range(skip, last)]
    return _from_clocks(sampled, host_lines, _OUT_LINE[host_lines]).to_bytes(n, "big")


@functools.cache
def _protocol_lines(protocol: str) -> tuple[int, int, int]:
    """``"1-1-4"`` -> (1, 1, 4): instruction, address and data line counts."""
    i, a, d = (int(x) for x in protocol.split("-"))
    return i, a, d


class FileContents(NamedTuple):
    """What a chip file keeps, cheap to compare (:meth:`NorFlash.contents_key`)."""

    blocks: tuple[int, ...]  # offsets of the blocks that hold anything but 0xFF
    crc: int  # CRC-32 of those blocks
    registers: tuple[tuple[str, int], ...]  # the non-volatile ones
    nvcr: int


class NorFlash:
    """An SPI NOR chip on one chip select (implements :class:`extflash.emu.spi.SpiDevice`)."""

    def __init__(self, spec: ChipSpec, clock: VirtualClock, *, memory: bytearray | None = None,
                 timing: str = "typical") -> None:
        if timing not in TIMINGS:
            raise ConfigError(f"unknown flash timing '{timing}' (use one of {', '.join(TIMINGS)})")
        if memory is None:
            memory = buffers.filled(spec.size, 0xFF)
        elif len(memory) != spec.size:
            raise ConfigError(f"{spec.name}: memory is {len(memory)} bytes, the chip holds "
                              f"{spec.size}")
        self.spec = spec
        self.clock = clock
        self.memory = memory
        self.timing = timing
        # SCK in MHz as the controller drives it, when it says (octal reads check their latency
        # against the chip's dummy_for_mhz table); None: the clock is not checked
        self.sck_mhz: float | None = None
        self.on_change: list[Callable[[int, int], None]] = []
        self.events = EventLog(EVENT_HISTORY)
        self.sfdp_image: bytes | None = sfdp_mod.build(spec) if spec.sfdp else None
        self.unique_id = (int.from_bytes(spec.name.encode()[:8].ljust(8, b"\0"), "big")
                          ^ 0x5AA5_F00D_0000_0000).to_bytes(8, "big")
        self._nv_regs = {r.name: r.reset for r in spec.status.registers}
        micron = spec.micron
        self.nvcr = micron.nvcr_reset if micron else 0
        self._erased_block = b"\xff" * spec.block_size
        self._handlers = self._build_dispatch()
        self._read_opcodes = self._build_reads()
        self._lane_memo: dict[tuple[object, ...], _LaneOpcodes] = {}
        self._reg_read_memo: dict[tuple[object, ...], tuple[tuple[int, bytes, bool], ...]] = {}
        self._four_byte_ops = frozenset(self._four_byte_opcodes())
        # per-opcode facts looked up on every command (the spec never changes)
        self._busy_ok = self._opcodes_allowed_while_busy()
        self._register_of = {r.read: r.name for r in reversed(spec.status.registers)
                             if r.read is not None}
        self._programs = {op: pc for pc in reversed(spec.programs)
                          for op in (pc.opcode, pc.opcode_4b) if op is not None}
        self.octal = OctalPort(self, spec.octal) if spec.octal else None
        if self.octal is not None:
            self._handlers[self.octal.spec.config_write] = self.octal.spi_config_write
            self._handlers[self.octal.spec.config_read] = self.octal.spi_config_read
            self._busy_ok.add(self.octal.spec.config_read)
        self.power_on()

    # -- state -----------------------------------------------------------------------------

    def power_on(self) -> None:
        """Power cycle: volatile state from the non-volatile registers."""
        self.regs = dict(self._nv_regs)
        self.wel = False
        self._op: _Operation | None = None
        self._suspended: _Operation | None = None
        self.busy_until = 0
        self.deep_power_down = False
        self._reset_armed = False
        self._volatile_write = False
        self.ear = 0
        self.read_params = 0
        micron = self.spec.micron
        if micron:
            self.vcr = micron.vcr_reset
            self.evcr = micron.evcr_reset
            self.fsr = micron.fsr_reset
            if not self.nvcr & 0x08:  # NVCR bit 3 = 0: power up in quad-I/O (4-4-4) protocol
                self.evcr &= ~0x80
        self.qpi = bool(micron) and not self.evcr & 0x80
        nvcr_4b = bool(micron) and not self.nvcr & 0x01
        self.four_byte = self.spec.addressing.power_on_4byte or nvcr_4b
        self._sync_mode_flag()
        if self.octal is not None:
            self.octal.power_on()

    @property
    def protocol(self) -> str:
        """The protocol state: "spi", "qpi", "8S" (octal STR) or "8D" (octal DTR)."""
        if self.octal is not None and self.octal.state != "spi":
            return self.octal.state
        return "qpi" if self.qpi else "spi"

    @property
    def busy(self) -> bool:
        self._settle()
        return self._op is not None

    @property
    def status(self) -> int:
        """SR1 as a read returns it (WIP and WEL live here on every vendor)."""
        self._settle()
        sr1 = self.regs.get("sr1", 0) & ~(WIP | WEL)
        return sr1 | (WIP if self._op else 0) | (WEL if self.wel else 0)

    @property
    def quad_enabled(self) -> bool:
        qe = self.spec.status.qe
        if qe.register is None:
            return True
        return bool(self.regs.get(qe.register, 0) >> qe.bit & 1)

    def _settle(self) -> None:
        if self._op is not None and self.clock.now_fs >= self.busy_until:
            self._finish()

    def _finish(self) -> None:
        self._op = None
        self.wel = False
        if self.spec.micron:
            self.fsr |= 0x80

    def _start(self, op: _Operation, duration_fs: int) -> None:
        self.wel = False if duration_fs == 0 else self.wel
        if duration_fs == 0:
            return
        self._op = op
        self.busy_until = self.clock.now_fs + duration_fs
        if self.spec.micron:
            self.fsr &= ~0x80
        self.clock.schedule(self.busy_until, self._settle)

    def _duration(self, typ_max: tuple[float, float], unit_fs: int) -> int:
        if self.timing == "instant":
            return 0
        return int(typ_max[0 if self.timing == "typical" else 1] * unit_fs)

    def _changed(self, start: int, end: int) -> None:
        for callback in self.on_change:
            callback(start, end)

    def _record(self, cmd: SpiCommand, outcome: str, reason: str = "") -> None:
        self.events.append(FlashEvent(self.clock.now_fs, cmd, outcome, reason))
        if outcome != "ok":
            log.debug("%s: %s rejected: %s", self.spec.name, cmd.describe(), reason)

    def _sync_mode_flag(self) -> None:
        flag = self.spec.addressing.mode_flag
        if flag is not None:
            reg, bit = flag
            self.regs[reg] = (self.regs[reg] & ~(1 << bit)) | (int(self.four_byte) << bit)
        if self.spec.micron:
            self.fsr = (self.fsr & ~0x01) | int(self.four_byte)

    # -- the native command lane (see LaneFacts) ----------------------------------------------

    def lane_facts(self) -> LaneFacts | None:
        """The facts for a command lane, or None when the chip's state needs the model for
        every command (deep power-down, a suspended operation). In an octal state the lane
        runs only the frames the controller's model proved (octal_mode)."""
        if self.deep_power_down or self._suspended is not None:
            return None
        self._settle()
        octal = self.octal
        octal_mode: object = None
        if octal is not None and octal.state != "spi":
            # the lane runs no opcode of its own here (8 lines: no plain phases), only learned
            # frames; it needs SR1, the latch, the end of busy and the page program for them
            lines, ear, sr1_opcode = 8, 0, 0
            programs: tuple[tuple[int, int, int, int], ...] = ()
            reads: tuple[tuple[int, int, int, int, int], ...] = ()
            erases: tuple[tuple[int, int, int, int, int], ...] = ()
            reg_reads: tuple[tuple[int, bytes, bool], ...] = ()
            rsten = 0
            octal_mode = (octal.mode_key(), tuple(sorted(
                (name, value) for name, value in self.regs.items() if name != "sr1")))
        else:
            lines, ear = 4 if self.qpi else 1, self.ear
            sr1_opcode, programs, reads, erases = self._lane_opcodes()
            reg_reads = self._lane_register_reads()
            rsten = self.spec.reset[0] if self.spec.reset else 0
        return LaneFacts(
            instruction_lines=lines, sr1_opcode=sr1_opcode,
            sr1_rest=self.regs.get("sr1", 0) & ~(WIP | WEL) & 0xFF, wel=self.wel,
            busy_until=self.busy_until if self._op is not None else 0,
            page_size=self.spec.page_size, size=self.spec.size, ear=ear,
            protected=self.protected_range() or (0, 0),
            program_fs=self._duration(self.spec.timing.page_program_us, FS_PER_US),
            programs=programs, reads=reads, erases=erases, reg_reads=reg_reads,
            octal_mode=octal_mode, rsten_opcode=rsten)

    def _lane_opcodes(self) -> _LaneOpcodes:
        """The status-register-1 read opcode, the programs (opcode, address bytes, address and
        data lines), the array reads and the erases (LaneFacts.reads, .erases) of the chip's
        present mode; asked at every publish, so memoised per mode (they follow only from the
        spec and QPI, QE, 4-byte addressing and what sets the reads' wait clocks)."""
        dc = self.spec.dummy_config
        key = (self.qpi, self.quad_enabled, self.four_byte, getattr(self, "vcr", 0),
               self.read_params, self.regs.get(dc.register, 0) if dc is not None else 0)
        found = self._lane_memo.get(key)
        if found is None:
            sr1_opcode = next((op for op, name in self._register_of.items()
                               if name == "sr1" and (op, self.qpi) not in self._read_opcodes), 0)
            programs = []
            for op, pc in self._programs.items():
                if (pc.needs_qe and not self.quad_enabled and not self.qpi) or (
                        (op, self.qpi) in self._read_opcodes):
                    continue
                _, a_lines, d_lines = self._line_counts(pc.protocol)
                programs.append((op, self._address_width(op), a_lines, d_lines))
            reads = []
            for (op, qpi), rc in self._read_opcodes.items():
                if qpi != self.qpi or (rc.needs_qe and not self.quad_enabled):
                    continue  # not a read in this mode, or refused (NorFlash._read)
                _, a_lines, d_lines = self._line_counts(rc.protocol)
                reads.append((op, self._address_width(op), a_lines, self._wait_clocks(rc, op),
                              d_lines))
            _, e_lines, _ = self._line_counts("1-1-1")  # NorFlash._erase's address
            erases = tuple(
                (op, self._address_width(op), e_lines, et.size,
                 self._duration((et.typ_ms, et.max_ms), FS_PER_MS))
                for et in self.spec.erases for op in (et.opcode, et.opcode_4b)
                if op is not None and self._handlers.get(op) == self._erase
                and (op, self.qpi) not in self._read_opcodes)
            found = self._lane_memo[key] = (sr1_opcode, tuple(programs), tuple(reads), erases)
        return found

    def _lane_register_reads(self) -> tuple[tuple[int, bytes, bool], ...]:
        """LaneFacts.reg_reads in the present SPI or QPI mode; the same tuple while the mode and
        the register values stay (the lane's tables are written again only when one changes)."""
        key = (self.qpi, *(v for name, v in self.regs.items() if name != "sr1"))
        found = self._reg_read_memo.get(key)
        if found is None:
            reads = [(op, b"\0", True) if name == "sr1" else (op, bytes([self.regs[name]]), False)
                     for op, name in self._register_of.items()
                     if self._handlers.get(op) == self._read_register
                     and (op, self.qpi) not in self._read_opcodes]
            if self._handlers.get(OP_RDID) == self._rdid and (OP_RDID, self.qpi) not in \
                    self._read_opcodes and 0 < len(self.spec.jedec_id) <= LANE_REGISTER_BYTES:
                reads.append((OP_RDID, bytes(self.spec.jedec_id), False))
            if len(self._reg_read_memo) >= LANE_MEMO_STATES:
                self._reg_read_memo.clear()
            found = self._reg_read_memo[key] = tuple(reads)
        return found

    def lane_refusal(self, cmd: SpiCommand, qpi: bool | None = None) -> str | None:
        """In SPI or QPI (``qpi``: that mode, whatever the chip's is now), why the chip refuses
        a frame with no address and no data whatever else its state is (its instruction is not
        sampled as an opcode on the chip's lines: an octal or QPI reset sent to a chip in SPI);
        None when it does not refuse it so. No side effects."""
        if qpi is None and self.octal is not None and self.octal.state != "spi":
            return None  # an octal state (with ``qpi`` the caller names the plain mode it met)
        if cmd.instruction is None or cmd.address_lines or cmd.data_lines or cmd.alternate_lines:
            return None
        try:
            self._received_opcode(cmd, qpi)
        except _Rejected as why:
            return str(why)
        return None

    def lane_frame(self, cmd: SpiCommand) -> str | None:
        """In an octal state, what the chip takes a frame for if a command lane may run it
        again from its registers: "wren" (write enable), "wrdi" (write disable), "rsten" (reset
        enable), "sr1" (a read of status register 1), "program" (a page program) or "erase" (a
        sector or block erase); in SPI and QPI, whose frames the lane decodes itself, "refused"
        for a frame :meth:`lane_refusal` names; None for any other frame. No side effects."""
        if self.octal is None or self.octal.state == "spi":
            return "refused" if self.lane_refusal(cmd) is not None else None
        decoded = self.octal.decoded(cmd)
        if decoded is None:
            return None
        opcode, kind = decoded
        if cmd.write_data:
            return "program" if kind == "program" else None
        if kind == "plain" and not cmd.read_length:
            if opcode == 0x06:
                return "wren"
            if opcode == 0x04:
                return "wrdi"
            if self.spec.reset and opcode == self.spec.reset[0]:
                return "rsten"
        if kind == "register" and self._register_of.get(opcode) == "sr1" and cmd.read_length:
            return "sr1"
        if kind == "erase" and not cmd.read_length:
            return "erase"
        return None

    def lane_operation(self) -> tuple[str, int, int] | None:
        """The program or erase running ("program" or "erase", its first and end address)."""
        op = self._op
        return (op.kind, op.start, op.end) if op is not None else None

    def lane_take(self, *, wel: bool, busy_until: int, started: tuple[str, int, int] | None,
                  enabled: bool, commands: int, events: Callable[[], list[FlashEvent]],
                  changed: tuple[int, int] | None, armed: bool = False) -> None:
        """Take over what a command lane did since :meth:`lane_facts`: ``commands`` accepted
        (``events`` decodes the last of them), ``enabled`` when a write enable was among them, the
        operation it started last (``started``: "program" or "erase" and its range), the array
        range it changed, and the write-enable latch and end of busy as it left them
        (``busy_until`` 0: idle); ``armed`` when its last command was a reset enable."""
        if commands:
            self._reset_armed = armed
        if enabled:
            self._volatile_write = False
        if started is not None:
            self._op = _Operation(*started)
            if self.spec.micron:
                self.fsr &= ~0x80
        if busy_until:
            if started is not None:
                self.busy_until = busy_until
                self.clock.schedule(busy_until, self._settle)
        elif self._op is not None:
            self._finish()
        self.wel = wel
        self.events.extend_lazy(commands, events)
        if changed is not None:
            self._changed(*changed)

    @property
    def reset_armed(self) -> bool:
        """Did the last command the chip took enable a reset (the next may be the reset)?"""
        return self._reset_armed

    def is_settle_event(self, callback: Callable[[], None]) -> bool:
        """Is ``callback`` (a scheduled clock event) this chip's end of busy?"""
        return callback == self._settle

    # -- dispatch ----------------------------------------------------------------------------

    def _build_dispatch(self) -> dict[int, Callable[[SpiCommand, int], bytes]]:
        spec = self.spec
        h: dict[int, Callable[[SpiCommand, int], bytes]] = {
            0x06: self._wren,
            0x04: self._wrdi,
            OP_RDID: self._rdid,
            spec.status.wrsr_opcode: self._wrsr,
        }
        if spec.device_id is not None:
            h[0x90] = self._rems
        for reg in spec.status.registers:
            if reg.read is not None:
                h[reg.read] = self._read_register
            if reg.write is not None:
                h[reg.write] = self._write_register
        if spec.status.volatile_wren is not None:
            h[spec.status.volatile_wren] = self._volatile_wren
        for pc in spec.programs:
            for op in (pc.opcode, pc.opcode_4b):
                if op is not None:
                    h[op] = self._program
        for et in spec.erases:
            for op in (et.opcode, et.opcode_4b):
                if op is not None:
                    h[op] = self._erase
        for op in spec.chip_erase.opcodes:
            h[op] = self._chip_erase
        if spec.sfdp:
            h[0x5A] = self._read_sfdp
        if spec.reset:
            h[spec.reset[0]] = self._reset_enable
            h[spec.reset[1]] = self._reset
        if spec.deep_power_down:
            h[spec.deep_power_down[0]] = self._enter_dpd
            h[spec.deep_power_down[1]] = self._release_dpd
        if spec.suspend:
            h[spec.suspend[0]] = self._suspend
            h[spec.suspend[1]] = self._resume
        if spec.unique_id:
            h[spec.unique_id[0]] = self._read_unique_id
        addr = spec.addressing
        if addr.enter is not None:
            h[addr.enter] = self._enter_4byte
        if addr.exit is not None:
            h[addr.exit] = self._exit_4byte
        if addr.ear_read is not None:
            h[addr.ear_read] = self._read_ear
        if addr.ear_write is not None:
            h[addr.ear_write] = self._write_ear
        if spec.qpi:
            for op in spec.qpi.enter:
                h[op] = self._enter_qpi
            for op in spec.qpi.exit:
                h[op] = self._exit_qpi
            if spec.qpi.set_read_params is not None:
                h[spec.qpi.set_read_params] = self._set_read_params
        if spec.micron:
            h.update({0x70: self._read_fsr, 0x50: self._clear_fsr,
                      0xB5: self._micron_read, 0xB1: self._micron_write,
                      0x85: self._micron_read, 0x81: self._micron_write,
                      0x65: self._micron_read, 0x61: self._micron_write})
        return h

    def _build_reads(self) -> dict[tuple[int, bool], ReadCommand]:
        """(opcode, in QPI) -> read command; 4-byte opcodes map to their read entry too."""
        table: dict[tuple[int, bool], ReadCommand] = {}
        for rc in self.spec.reads:
            qpi = rc.protocol == "4-4-4"
            for op in (rc.opcode, rc.opcode_4b):
                if op is not None:
                    table.setdefault((op, qpi), rc)
        return table

    def _opcodes_allowed_while_busy(self) -> set[int]:
        """Status reads, suspend and reset: what a busy chip still honours."""
        spec = self.spec
        ops = {r.read for r in spec.status.registers if r.read is not None}
        if spec.micron:
            ops.add(0x70)
        if spec.suspend:
            ops.add(spec.suspend[0])
        if spec.reset:
            ops.update(spec.reset)
        return ops

    # -- the SpiDevice interface -------------------------------------------------------------

    def transfer(self, cmd: SpiCommand) -> bytes:
        self._settle()
        try:
            data = self._transfer(cmd)
        except _Rejected as why:
            self._record(cmd, "rejected", str(why))
            self._reset_armed = False
            return b"\xff" * cmd.read_length
        self._record(cmd, "ok")
        if len(data) != cmd.read_length:
            data = (data + b"\xff" * cmd.read_length)[: cmd.read_length]
        return data

    def _transfer(self, cmd: SpiCommand) -> bytes:
        if cmd.instruction is None:
            raise _Rejected("no instruction phase (continuous-read mode is not entered)")
        if self.octal is not None and self.octal.state != "spi":
            return self.octal.transfer(cmd)
        opcode = self._received_opcode(cmd)
        self._admit(opcode)
        read = self._read_opcodes.get((opcode, self.qpi))
        if read is not None and not (self._op and opcode in self._handlers):
            return self._read(cmd, read, opcode)
        handler = self._handlers.get(opcode)
        if handler is None:
            raise _Rejected(f"opcode 0x{opcode:02X} is not a {self.spec.name} command"
                            + (" in QPI mode" if self.qpi else ""))
        return handler(cmd, opcode)

    def _admit(self, opcode: int) -> None:
        """Reject what a chip in deep power-down, waiting for its reset or busy ignores."""
        if self.deep_power_down:
            allowed = {self.spec.deep_power_down[1]} if self.spec.deep_power_down else set()
            if opcode not in allowed:
                raise _Rejected("chip is in deep power-down (only release 0xAB is honoured)")
        armed, self._reset_armed = self._reset_armed, False
        if self.spec.reset and opcode == self.spec.reset[1] and not armed:
            raise _Rejected(f"reset 0x{opcode:02X} without the reset-enable command right before")
        if self._op is not None and opcode not in self._busy_ok:
            left = (self.busy_until - self.clock.now_fs) / FS_PER_US
            raise _Rejected(f"busy with {self._op.kind} for another {left:.1f} us (WIP=1)")

    def _received_opcode(self, cmd: SpiCommand, qpi: bool | None = None) -> int:
        """The opcode as the chip samples it on its current instruction lines (``qpi``: on
        those of that mode instead)."""
        assert cmd.instruction is not None
        qpi = self.qpi if qpi is None else qpi
        chip_lines = 4 if qpi else 1
        if cmd.instruction_lines == chip_lines:
            return cmd.instruction
        if cmd.instruction_lines not in (1, 2, 4):
            raise _Rejected("no instruction phase")
        nibbles = _to_clocks(cmd.instruction, 8, cmd.instruction_lines, 0)
        nibbles += [0xF] * (8 // chip_lines - len(nibbles))
        seen = _from_clocks(nibbles[: 8 // chip_lines], chip_lines, 0)
        # A 1-line 0xFF reaches a QPI chip as 0xFF: the documented way out of QPI on Winbond.
        if qpi and self.spec.qpi and seen in self.spec.qpi.exit and seen == 0xFF:
            return seen
        mode = "QPI (4-line opcodes)" if qpi else "SPI (1-line opcodes)"
        raise _Rejected(f"opcode sent on {cmd.instruction_lines} line(s) while the chip is in "
                        f"{mode}; the chip sampled 0x{seen:02X}")

    # -- addressing --------------------------------------------------------------------------

    def _address_width(self, opcode: int) -> int:
        return 4 if (self.four_byte or opcode in self._four_byte_ops) else 3

    def _four_byte_opcodes(self) -> set[int]:
        spec = self.spec
        ops = {r.opcode_4b for r in spec.reads} | {p.opcode_4b for p in spec.programs}
        ops |= {e.opcode_4b for e in spec.erases}
        return {op for op in ops if op is not None}

    def _line_counts(self, protocol: str) -> tuple[int, int, int]:
        if self.qpi:
            return 4, 4, 4
        return _protocol_lines(protocol)

    def _command_address(self, cmd: SpiCommand, opcode: int, protocol: str = "1-1-1") -> int:
        """Address of a write-type command; rejects phases that do not match the chip."""
        width = self._address_width(opcode)
        _, a_lines, _ = self._line_counts(protocol)
        if cmd.address is None or cmd.address_bytes != width or cmd.address_lines != a_lines:
            got = (f"{cmd.address_bytes}-byte address on {cmd.address_lines} line(s)"
                   if cmd.address is not None else "no address")
            raise _Rejected(f"expects a {width}-byte address on {a_lines} line(s), got {got}")
        return self._absolute(cmd.address, width)

    def _absolute(self, address: int, width: int) -> int:
        if width == 3:
            address |= self.ear << 24
        return address % self.spec.size

    # -- reads -------------------------------------------------------------------------------

    def _wait_clocks(self, rc: ReadCommand, opcode: int) -> int:
        spec = self.spec
        if spec.micron:
            n = self.vcr >> 4
            # VCR[7:4] overrides every fast read's wait clocks (0 and 15: keep the default).
            if 0 < n < 15 and rc.wait_clocks > 0:
                return n
        if self.qpi and spec.qpi and spec.qpi.read_param_dummies and rc.protocol == "4-4-4":
            # 0xC0 P5:4 sets the whole wait, mode clocks included (Winbond/GigaDevice QPI)
            return spec.qpi.read_param_dummies[(self.read_params >> 4) & 3]
        dc = spec.dummy_config
        if dc is not None and rc.opcode in dc.table:
            value = (self.regs.get(dc.register, 0) >> dc.shift) & ((1 << dc.width) - 1)
            return dc.table[rc.opcode][value]
        return rc.wait_clocks

    def read_check(self, cmd_template: SpiCommand) -> str | None:
        """None when a read like ``cmd_template`` returns the array as is (zero-copy safe).

        In an octal state "as is" means in bus order: an 8D read of a ``d1d0`` chip
        (Macronix) returns each pair swapped, as :attr:`OctalSpec.dtr_byte_order` says."""
        if cmd_template.instruction is None:
            return "no instruction phase"
        if self.octal is not None and self.octal.state != "spi":
            if self.deep_power_down or self.busy:
                return "chip is in deep power-down or busy"
            return self.octal.read_mismatch(cmd_template)
        try:
            opcode = self._received_opcode(cmd_template)
        except _Rejected as why:
            return str(why)
        if self.deep_power_down:
            return "chip is in deep power-down"
        if self.busy:
            return "chip is busy (WIP=1)"
        rc = self._read_opcodes.get((opcode, self.qpi))
        if rc is None:
            return f"opcode 0x{opcode:02X} is not a read command of {self.spec.name}"
        return self._read_mismatch(cmd_template, rc, opcode)

    def _read_mismatch(self, cmd: SpiCommand, rc: ReadCommand, opcode: int) -> str | None:
        if rc.needs_qe and not self.quad_enabled:
            return f"quad read 0x{opcode:02X} needs QE=1 ({self.spec.status.qe.note})"
        _, a_lines, d_lines = self._line_counts(rc.protocol)
        width = self._address_width(opcode)
        wait = self._wait_clocks(rc, opcode)
        host_wait = _clocks(cmd.alternate_bytes, cmd.alternate_lines) + cmd.dummy_cycles
        problems = []
        if cmd.ddr:
            problems.append("DTR (DDR) reads are not modelled")
        if cmd.address_bytes != width or cmd.address_lines != a_lines:
            problems.append(f"address {cmd.address_bytes}B on {cmd.address_lines} line(s), "
                            f"chip expects {width}B on {a_lines}")
        if host_wait != wait:
            problems.append(f"{host_wait} clocks between address and data, chip expects {wait}")
        if cmd.data_lines != d_lines:
            problems.append(f"data on {cmd.data_lines} line(s), chip drives {d_lines}")
        return "; ".join(problems) or None

    def _array(self, start: int, length: int) -> bytes:
        """``length`` bytes from ``start``, wrapping at the end of the array like the chip."""
        mem, size = self.memory, self.spec.size
        start %= size
        if start + length <= size:
            return bytes(mem[start : start + length])
        out = bytearray()
        while length > 0:
            part = mem[start : start + length]
            out += part
            length -= len(part)
            start = 0
        return bytes(out)

    def _read(self, cmd: SpiCommand, rc: ReadCommand, opcode: int) -> bytes:
        if rc.needs_qe and not self.quad_enabled:
            raise _Rejected(f"quad read 0x{opcode:02X} ignored: QE=0")
        if cmd.ddr:
            raise _Rejected("DTR (DDR) reads are not modelled")
        if cmd.address is None:
            raise _Rejected("read without an address phase")
        if self._read_mismatch(cmd, rc, opcode) is None:
            return self._array(self._absolute(cmd.address, cmd.address_bytes), cmd.read_length)
        return self._misaligned_read(cmd, rc, opcode)

    def _misaligned_read(self, cmd: SpiCommand, rc: ReadCommand, opcode: int) -> bytes:
        """What the controller samples when its phases disagree with the chip's, clock by clock."""
        assert cmd.address is not None
        _, a_lines, d_lines = self._line_counts(rc.protocol)
        width = self._address_width(opcode)
        host: list[int] = []
        if cmd.address_bytes and cmd.address_lines:
            host += _to_clocks(cmd.address, cmd.address_bytes * 8, cmd.address_lines, 0)
        if cmd.alternate_bytes and cmd.alternate_lines:
            host += _to_clocks(cmd.alternate or 0, cmd.alternate_bytes * 8,
                               cmd.alternate_lines, 0)
        host_start = len(host) + cmd.dummy_cycles
        addr_clocks = width * 8 // a_lines
        host += [0xF] * max(0, addr_clocks - len(host))  # dummy/data clocks: host drives nothing
        address = self._absolute(_from_clocks(host[:addr_clocks], a_lines, 0), width)
        chip_start = addr_clocks + self._wait_clocks(rc, opcode)
        return _sample(lambda k: self._array(address, k), d_lines, cmd.data_lines or 1,
                       host_start - chip_start, cmd.read_length)

    def _register_out(self, cmd: SpiCommand, value: bytes) -> bytes:
        """A register read: the chip repeats ``value`` from the clock after the opcode."""
        if not cmd.read_length:
            return b""
        chip_lines = 4 if self.qpi else 1
        host_lines = cmd.data_lines or 1
        skip = (_clocks(cmd.address_bytes, cmd.address_lines)
                + _clocks(cmd.alternate_bytes, cmd.alternate_lines) + cmd.dummy_cycles)
        if host_lines == chip_lines and skip == 0:
            return (value * (cmd.read_length // len(value) + 1))[: cmd.read_length]
        return _sample(lambda k: (value * (k // len(value) + 1))[:k], chip_lines, host_lines,
                       skip, cmd.read_length)

    # -- identification ----------------------------------------------------------------------

    def _rdid(self, cmd: SpiCommand, opcode: int) -> bytes:
        return self._register_out(cmd, self.spec.jedec_id)

    def _rems(self, cmd: SpiCommand, opcode: int) -> bytes:
        assert self.spec.device_id is not None
        pair = bytes([self.spec.manufacturer_id, self.spec.device_id])
        if cmd.address is not None and cmd.address & 1:
            pair = pair[::-1]
        return (pair * (cmd.read_length // 2 + 1))[: cmd.read_length]

    def _read_sfdp(self, cmd: SpiCommand, opcode: int) -> bytes:
        assert self.sfdp_image is not None
        if cmd.address is None:
            raise _Rejected("SFDP read without an address")
        if cmd.dummy_cycles + _clocks(cmd.alternate_bytes, cmd.alternate_lines) != 8:
            raise _Rejected("SFDP read needs 8 dummy clocks")
        start = cmd.address & 0xFFFFFF
        image = self.sfdp_image
        out = image[start : start + cmd.read_length]
        return out + b"\xff" * (cmd.read_length - len(out))

    def _read_unique_id(self, cmd: SpiCommand, opcode: int) -> bytes:
        assert self.spec.unique_id is not None
        _, dummy_bytes, length = self.spec.unique_id
        skip = (_clocks(cmd.address_bytes, cmd.address_lines) + cmd.dummy_cycles
                + _clocks(cmd.alternate_bytes, cmd.alternate_lines) - dummy_bytes * 8)
        ident = self.unique_id[:length]
        return _sample(lambda k: (ident + b"\xff" * k)[:k], 1, cmd.data_lines or 1, skip,
                       cmd.read_length)

    # -- write enable and registers ----------------------------------------------------------

    def _wren(self, cmd: SpiCommand, opcode: int) -> bytes:
        self.wel = True
        self._volatile_write = False
        return b""

    def _wrdi(self, cmd: SpiCommand, opcode: int) -> bytes:
        self.wel = False
        self._volatile_write = False
        return b""

    def _volatile_wren(self, cmd: SpiCommand, opcode: int) -> bytes:
        self._volatile_write = True
        return b""

    def _register_value(self, name: str) -> int:
        if name == "sr1":
            return self.status
        return self.regs[name]

    def _read_register(self, cmd: SpiCommand, opcode: int) -> bytes:
        return self._register_out(cmd, bytes([self._register_value(self._register_of[opcode])]))

    def _check_write_enable(self, what: str) -> bool:
        """True for a volatile write (0x50 armed); rejects when neither WEL nor 0x50."""
        if self._volatile_write:
            self._volatile_write = False
            return True
        if not self.wel:
            raise _Rejected(f"{what} without WREN (WEL=0)")
        return False

    def _apply_register_writes(self, writes: list[tuple[str, int]], volatile: bool,
                               cmd: SpiCommand) -> bytes:
        for name, value in writes:
            reg = self.spec.status.register(name)
            new = (self.regs[name] & ~reg.writable) | (value & reg.writable)
            self.regs[name] = new
            if not volatile:
                self._nv_regs[name] = new
        self._sync_mode_flag()
        if volatile:
            return b""
        duration = self._duration(self.spec.timing.write_status_ms, FS_PER_MS)
        self._start(_Operation("write-status", 0, 0), duration)
        return b""

    def _wrsr(self, cmd: SpiCommand, opcode: int) -> bytes:
        if self._suspended:
            raise _Rejected("status write while a program/erase is suspended")
        if not cmd.write_data:
            raise _Rejected("status-register write without data")
        volatile = self._check_write_enable("write status register")
        layout = self.spec.status.wrsr_layout
        writes = list(zip((r.name for r in layout), cmd.write_data, strict=False))
        if self.spec.status.one_byte_wrsr_clears_rest and len(cmd.write_data) == 1:
            writes += [(r.name, 0) for r in layout[1:]]
        return self._apply_register_writes(writes, volatile, cmd)

    def _write_register(self, cmd: SpiCommand, opcode: int) -> bytes:
        reg = next(r for r in self.spec.status.registers if r.write == opcode)
        if not cmd.write_data:
            raise _Rejected(f"write of {reg.name} without data")
        volatile = self._check_write_enable(f"write {reg.name}")
        return self._apply_register_writes([(reg.name, cmd.write_data[0])], volatile, cmd)

    # -- protection --------------------------------------------------------------------------

    def protected_range(self) -> tuple[int, int] | None:
        """The block-protected byte range from the BP/TB bits, or None."""
        prot = self.spec.status.protect
        if prot is None:
            return None
        sr1 = self.regs.get("sr1", 0)
        lsb = (prot.bp_mask & -prot.bp_mask).bit_length() - 1
        bp = (sr1 & prot.bp_mask) >> lsb
        if bp == 0:
            return None
        size = self.spec.size
        length = size if bp == prot.bp_mask >> lsb else min(size, prot.unit << (bp - 1))
        bottom = prot.tb_bit is not None and sr1 >> prot.tb_bit & 1
        return (0, length) if bottom else (size - length, size)

    def _check_unprotected(self, start: int, end: int) -> None:
        prot = self.protected_range()
        if prot and start < prot[1] and prot[0] < end:
            raise _Rejected(f"0x{start:X}..0x{end:X} is block-protected "
                            f"(0x{prot[0]:X}..0x{prot[1]:X} by BP bits)")

    # -- program and erase -------------------------------------------------------------------

    def _program(self, cmd: SpiCommand, opcode: int) -> bytes:
        pc = self._programs[opcode]
        if not self.wel:
            raise _Rejected("page program without WREN (WEL=0)")
        if pc.needs_qe and not self.quad_enabled and not self.qpi:
            raise _Rejected(f"quad program 0x{opcode:02X} ignored: QE=0")
        address = self._command_address(cmd, opcode, pc.protocol)
        _, _, d_lines = self._line_counts(pc.protocol)
        if cmd.data_lines != d_lines:
            raise _Rejected(f"data sent on {cmd.data_lines} line(s), chip expects {d_lines}")
        if not cmd.write_data:
            raise _Rejected("page program without data")
        ps = self.spec.page_size
        page = address - address % ps
        self._check_unprotected(page, page + ps)
        data = bytes(cmd.write_data)
        offset = address % ps
        if len(data) > ps:  # only the last page-size bytes stay latched
            offset = (offset + len(data) - ps) % ps
            data = data[-ps:]
        first = data[: ps - offset]
        self._and_into(page + offset, first)
        if len(data) > len(first):
            self._and_into(page, data[len(first) :])
        self._changed(page, page + ps)
        duration = self._duration(self.spec.timing.page_program_us, FS_PER_US)
        self._start(_Operation("program", page, page + ps), duration)
        return b""

    def _and_into(self, start: int, data: bytes) -> None:
        end = start + len(data)
        old = int.from_bytes(self.memory[start:end], "little")
        self.memory[start:end] = (old & int.from_bytes(data, "little")).to_bytes(len(data),
                                                                                "little")

    def _erase(self, cmd: SpiCommand, opcode: int) -> bytes:
        et = self.spec.erase_type(opcode)
        assert et is not None
        if self._suspended:
            raise _Rejected("erase while another program/erase is suspended")
        if not self.wel:
            raise _Rejected("erase without WREN (WEL=0)")
        address = self._command_address(cmd, opcode)
        start = address - address % et.size
        self._check_unprotected(start, start + et.size)
        self.memory[start : start + et.size] = self._erased_block[: et.size]
        self._changed(start, start + et.size)
        duration = self._duration((et.typ_ms, et.max_ms), FS_PER_MS)
        self._start(_Operation("erase", start, start + et.size), duration)
        return b""

    def _chip_erase(self, cmd: SpiCommand, opcode: int) -> bytes:
        if self._suspended:
            raise _Rejected("chip erase while a program/erase is suspended")
        if not self.wel:
            raise _Rejected("chip erase without WREN (WEL=0)")
        if self.protected_range() is not None:
            raise _Rejected("chip erase with block protection set (BP bits != 0)")
        size = self.spec.size
        buffers.fill(self.memory, 0xFF)
        self._changed(0, size)
        ce = self.spec.chip_erase
        self._start(_Operation("erase", 0, size),
                    self._duration((ce.typ_ms, ce.max_ms), FS_PER_MS))
        return b""

    def _suspend(self, cmd: SpiCommand, opcode: int) -> bytes:
        if self._op is None or self._op.kind == "write-status":
            return b""  # ignored when nothing suspendable runs, as on silicon
        op = self._op
        op.remaining_fs = self.busy_until - self.clock.now_fs
        self._suspended, self._op = op, None
        self._set_suspend_flag(op.kind, True)
        return b""

    def _resume(self, cmd: SpiCommand, opcode: int) -> bytes:
        op = self._suspended
        if op is None:
            return b""
        self._suspended = None
        self._set_suspend_flag(op.kind, False)
        self._start(op, op.remaining_fs)
        return b""

    def _set_suspend_flag(self, kind: str, on: bool) -> None:
        if self.spec.micron:
            bit = 0x40 if kind == "erase" else 0x04
            self.fsr = self.fsr | bit if on else self.fsr & ~bit
        elif "sr2" in self.regs and self.spec.vendor == "Winbond":
            self.regs["sr2"] = self.regs["sr2"] | 0x80 if on else self.regs["sr2"] & ~0x80

    # -- reset and power ---------------------------------------------------------------------

    def _reset_enable(self, cmd: SpiCommand, opcode: int) -> bytes:
        self._reset_armed = True
        return b""

    def _reset(self, cmd: SpiCommand, opcode: int) -> bytes:
        # Software reset: volatile state returns to its power-on value; an operation in
        # progress is abandoned (its array contents stay as far as they got).
        nvcr = self.nvcr
        self.power_on()
        self.nvcr = nvcr
        self.busy_until = self.clock.now_fs + int(self.spec.timing.reset_us * FS_PER_US)
        return b""

    def _enter_dpd(self, cmd: SpiCommand, opcode: int) -> bytes:
        self.deep_power_down = True
        return b""

    def _release_dpd(self, cmd: SpiCommand, opcode: int) -> bytes:
        self.deep_power_down = False
        if self.spec.device_id is None or not cmd.read_length:
            return b""
        # RES: three dummy bytes after the opcode, then the device ID, repeated.
        skip = (_clocks(cmd.address_bytes, cmd.address_lines) + cmd.dummy_cycles
                + _clocks(cmd.alternate_bytes, cmd.alternate_lines) - 24)
        ident = bytes([self.spec.device_id])
        return _sample(lambda k: ident * k, 1, cmd.data_lines or 1, skip, cmd.read_length)

    # -- 4-byte addressing -------------------------------------------------------------------

    def _enter_4byte(self, cmd: SpiCommand, opcode: int) -> bytes:
        self._four_byte_switch(True)
        return b""

    def _exit_4byte(self, cmd: SpiCommand, opcode: int) -> bytes:
        self._four_byte_switch(False)
        return b""

    def _four_byte_switch(self, on: bool) -> None:
        if "wren-en4b" in self.spec.addressing.methods:
            if not self.wel:
                raise _Rejected("EN4B/EX4B without WREN (WEL=0) on this chip")
            self.wel = False
        self.four_byte = on
        self._sync_mode_flag()

    def _read_ear(self, cmd: SpiCommand, opcode: int) -> bytes:
        value = self.ear
        if "bank" in self.spec.addressing.methods:
            value |= 0x80 if self.four_byte else 0
        return self._register_out(cmd, bytes([value]))

    def _write_ear(self, cmd: SpiCommand, opcode: int) -> bytes:
        if not cmd.write_data:
            raise _Rejected("extended-address write without data")
        if self.spec.addressing.ear_needs_wel:
            if not self.wel:
                raise _Rejected("extended-address write without WREN (WEL=0)")
            self.wel = False
        value = cmd.write_data[0]
        if "bank" in self.spec.addressing.methods:
            self.four_byte = bool(value & 0x80)
            value &= 0x7F
            self._sync_mode_flag()
        self.ear = value & max(0, (self.spec.size - 1) >> 24)
        return b""

    # -- QPI ---------------------------------------------------------------------------------

    def _enter_qpi(self, cmd: SpiCommand, opcode: int) -> bytes:
        qpi = self.spec.qpi
        assert qpi is not None
        if self.qpi:
            raise _Rejected("already in QPI mode")
        if qpi.needs_qe and not self.quad_enabled:
            raise _Rejected("enter QPI ignored: QE=0")
        self.qpi = True
        if self.spec.micron:
            self.evcr &= ~0x80
        return b""

    def _exit_qpi(self, cmd: SpiCommand, opcode: int) -> bytes:
        if not self.qpi:
            raise _Rejected(f"0x{opcode:02X} (exit QPI) outside QPI mode")
        self.qpi = False
        if self.spec.micron:
            self.evcr |= 0x80
        return b""

    def _set_read_params(self, cmd: SpiCommand, opcode: int) -> bytes:
        if not self.qpi:
            raise _Rejected("set read parameters is a QPI-mode command")
        if not cmd.write_data:
            raise _Rejected("set read parameters without data")
        self.read_params = cmd.write_data[0]
        return b""

    # -- Micron registers --------------------------------------------------------------------

    def _read_fsr(self, cmd: SpiCommand, opcode: int) -> bytes:
        self._settle()
        return self._register_out(cmd, bytes([self.fsr]))

    def _clear_fsr(self, cmd: SpiCommand, opcode: int) -> bytes:
        self.fsr &= ~0x3A  # erase/program/protection/VPP error bits
        return b""

    def _micron_read(self, cmd: SpiCommand, opcode: int) -> bytes:
        value = {0xB5: self.nvcr.to_bytes(2, "little"), 0x85: bytes([self.vcr]),
                 0x65: bytes([self.evcr])}[opcode]
        return self._register_out(cmd, value)

    def _micron_write(self, cmd: SpiCommand, opcode: int) -> bytes:
        if not self.wel:
            raise _Rejected("configuration-register write without WREN (WEL=0)")
        data = cmd.write_data
        if not data:
            raise _Rejected("configuration-register write without data")
        if opcode == 0xB1:
            self.nvcr = int.from_bytes(data[:2].ljust(2, b"\xff"), "little")
            duration = self._duration(self.spec.timing.write_status_ms, FS_PER_MS)
            self._start(_Operation("write-status", 0, 0), duration)
            return b""
        if opcode == 0x81:
            self.vcr = data[0]
        else:
            self.evcr = data[0]
            self.qpi = not self.evcr & 0x80
        self.wel = False
        return b""

    # -- persistence -------------------------------------------------------------------------

    # The chip file: a header (the magic, then name length, size, register bytes, NVCR and the
    # block size), the chip's name, its non-volatile registers, then the array by blocks: how many
    # are stored, their offsets, their bytes. A block that is all erased (0xFF) is not stored, so
    # a 1 Gbit chip with a 2 MiB image writes 2 MiB, not 128 (files of the first format, the
    # whole array after the registers, are still read).
    _MAGIC, _MAGIC_WHOLE = b"EXFNOR2\0", b"EXFNOR1\0"
    _HEADER, _HEADER_WHOLE = struct.Struct("<HIHHI"), struct.Struct("<HIHH")
    FILE_BLOCK = 64 * 1024

    def written_blocks(self) -> list[int]:
        """Offsets of the array's blocks (FILE_BLOCK bytes) that hold anything but 0xFF."""
        mem, step = self.memory, self.FILE_BLOCK
        erased = b"\xff" * step
        return [at for at in range(0, len(mem), step)
                if not mem.startswith(erased[:len(mem) - at], at)]

    def contents_key(self) -> FileContents:
        """What the chip file keeps, cheap to compare: the written blocks, a CRC-32 of their
        bytes, the non-volatile registers."""
        blocks, view, crc = self.written_blocks(), memoryview(self.memory), 0
        for at in blocks:
            crc = zlib.crc32(view[at:at + self.FILE_BLOCK], crc)
        return FileContents(tuple(blocks), crc, tuple(sorted(self._nv_regs.items())), self.nvcr)

    def save(self, path: str | os.PathLike[str], blocks: Sequence[int] | None = None) -> None:
        """Write the written blocks of the array (``blocks`` when the caller found them
        already, as :meth:`contents_key` does) and the non-volatile registers to ``path``."""
        regs = b"".join(bytes([self._nv_regs[r.name]]) for r in self.spec.status.registers)
        name = self.spec.name.encode()
        blocks = self.written_blocks() if blocks is None else blocks
        header = self._MAGIC + self._HEADER.pack(len(name), self.spec.size, len(regs), self.nvcr,
                                                 self.FILE_BLOCK) + name + regs
        view = memoryview(self.memory)
        with open(path, "wb") as f:  # the blocks written from the array (no joined copy)
            f.write(header)
            f.write(struct.pack(f"<I{len(blocks)}I", len(blocks), *blocks))
            for at in blocks:
                f.write(view[at:at + self.FILE_BLOCK])

    @classmethod
    def load(cls, spec: ChipSpec, clock: VirtualClock, path: str | os.PathLike[str], *,
             timing: str = "typical") -> NorFlash:
        try:
            with open(path, "rb") as f:
                memory, regs, nvcr = cls._read_file(f, spec, path)
        except OSError as exc:
            raise ConfigError(f"cannot read flash contents {path}: {exc.strerror}") from None
        if memory is None or len(regs) != len(spec.status.registers):
            raise ConfigError(f"{path} is truncated or does not match {spec.name}")
        chip = cls(spec, clock, memory=memory, timing=timing)
        chip._nv_regs = {r.name: regs[i] for i, r in enumerate(spec.status.registers)}
        chip.nvcr = nvcr
        chip.power_on()
        return chip

    @classmethod
    def _read_file(cls, f: io.BufferedReader, spec: ChipSpec, path: str | os.PathLike[str]
                   ) -> tuple[bytearray | None, bytes, int]:
        """(the array, None when the file is cut short or runs on; the register bytes; NVCR),
        read straight into the chip's memory."""
        magic = f.read(len(cls._MAGIC))
        header = cls._HEADER if magic == cls._MAGIC else cls._HEADER_WHOLE
        head = f.read(header.size)
        if magic not in (cls._MAGIC, cls._MAGIC_WHOLE) or len(head) < header.size:
            raise ConfigError(f"{path} is not an extflash NOR contents file")
        name_len, size, regs_len, nvcr, *block = header.unpack(head)
        name = f.read(name_len).decode(errors="replace")
        if name != spec.name or size != spec.size:
            raise ConfigError(f"{path} holds a {name} ({size} bytes), not a {spec.name}")
        regs = f.read(regs_len)
        if not block:  # the whole array
            memory = bytearray(size)
            whole = f.readinto(memory) == size
            return (memory if whole and not f.read(1) else None), regs, nvcr
        step = block[0]
        count = struct.unpack("<I", f.read(4).ljust(4, b"\xff"))[0]
        if step <= 0 or count > -(-size // step):
            return None, regs, nvcr
        offsets = f.read(4 * count)
        if len(offsets) != 4 * count:
            return None, regs, nvcr
        memory = buffers.filled(size, 0xFF)
        view = memoryview(memory)
        last = -1
        for at in struct.unpack(f"<{count}I", offsets):
            n = min(step, size - at)
            if at % step or at <= last or n <= 0 or f.readinto(view[at:at + n]) != n:
                return None, regs, nvcr
            last = at
        return (None if f.read(1) else memory), regs, nvcr
