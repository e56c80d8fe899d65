"""The octal side of a NOR chip: protocol states 8S-8S-8S and 8D-8D-8D, as the chip samples them.

A chip in an octal state reads every phase on IO7..IO0. The model works in *beats*: one byte on
the eight lines, two beats a clock. A host phase sent STR holds its byte for both beats of a
clock; a phase sent DTR puts a new byte on each edge. The chip samples the beats its state says:
in 8D both edges, in 8S the rising edge only. So a frame sent in the wrong rate is decoded the
way silicon would decode it (an STR opcode reaches an 8D chip as ``op op``, which only a chip
with the repeated-opcode extension takes for a command), and the data of a read leaves the chip
after the latency *it* is configured for: a host waiting another number of clocks samples
shifted data or the pulled-up lines, never the right data by luck.

Facts (``docs/chips.md`` and each chip file cite them):

* the instruction is two bytes, the opcode and its extension: the inverted opcode on Macronix
  (MX25LM51245G command table: RDSR 05FAh, PP 12EDh), the repeated opcode on Micron MT35X and
  Winbond W35T (FDFDh, 0505h) and on Infineon S28Hx-T in the model [?];
* array commands carry a 4-byte address in both octal states (Macronix: "OPI uses 4-byte
  address"; the Micron, Winbond and Infineon octal commands are their 4-byte forms);
* register reads wait the chip's register latency (Macronix 4 clocks in 8S, 4 or 5 in 8D) and
  each register byte is driven on both edges of a clock (the JEDEC ID of a Macronix part in 8D
  reads ``C2 C2 85 85 3A 3A``);
* in 8D the chip drives a data strobe (DQS) with read data; a host that samples on its own
  clock instead samples one beat before the data is valid (reported on the H735G-DK: "data
  comes back misaligned"), a
  host that waits for a strobe the chip does not drive (Micron C7h / Winbond C7h: DQS off) gets
  the pulled-up lines;
* 8D transfers move whole clocks: register writes need an even byte count ("1-byte transfers
  are not allowed in 8D"), and the lowest address bit of an 8D read or program is ignored [?];
* the byte order of the two beats of a data clock is the chip's: D0 (even address) first on
  Micron, Winbond and Infineon; D1 first on Macronix, which is why ST's OCTOSPI/XSPI has MTYP
  "Macronix mode" (D1/D0 ordering in 8D). :meth:`OctalPort.transfer` returns read data in beat
  order, as it appears on the bus; the controller's MTYP decides whether to swap each pair.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from extflash.chips import OctalSpec
from extflash.emu.flash.rejected import Rejected
from extflash.emu.spi import SpiCommand

if TYPE_CHECKING:
    from extflash.emu.flash.nor import NorFlash

DECODED_FRAMES = 256  # distinct frames without data remembered per chip (a loader sends a few)
IDLE = 0xFF  # lines nobody drives read high (pull-ups / bus keepers as left by the host)
STATE_NAMES = {"spi": "SPI (1S-1S-1S)", "8S": "octal STR (8S-8S-8S)", "8D": "octal DTR (8D-8D-8D)"}


def phase_beats(data: bytes, dtr: bool) -> bytes:
    """The beats a host puts on the bus for one phase: STR holds a byte for a whole clock."""
    if dtr:
        return data + bytes([IDLE]) * (len(data) & 1)
    doubled = bytearray(2 * len(data))
    doubled[0::2] = data
    doubled[1::2] = data
    return bytes(doubled)


def _field(value: int | None, nbytes: int) -> bytes:
    """The ``nbytes`` a phase puts on the bus (the low bytes of ``value``, as a register)."""
    return ((value or 0) & ((1 << 8 * nbytes) - 1)).to_bytes(nbytes, "big")


def chip_sees(beats: bytes, chip_dtr: bool) -> bytes:
    """The bytes a chip samples from ``beats``: both edges in 8D, the rising edge in 8S."""
    return beats if chip_dtr else beats[0::2]


def swap_pairs(data: bytes) -> bytes:
    """Swap the two bytes of every clock (D0/D1 <-> D1/D0); an odd last byte stays where it is
    (an OCTOSPI/XSPI MTYP swap of an odd-length transfer)."""
    even = len(data) & ~1
    pairs = array("H", data if even == len(data) else data[:even])
    pairs.byteswap()
    return pairs.tobytes() + bytes(data[even:])


def host_samples(chip_beats: Callable[[int], bytes], skip: int, host_dtr: bool, n: int) -> bytes:
    """``n`` bytes a host reads when it starts sampling ``skip`` beats after the chip starts
    driving (negative: before, where it reads idle lines); an STR host samples rising edges."""
    step = 1 if host_dtr else 2
    end = skip + step * n
    if skip == 0 and host_dtr:  # the everyday case: the host samples what the chip drives
        return chip_beats(n)[:n]
    driven = chip_beats(end) if end > 0 else b""
    line = bytes([IDLE]) * max(0, -skip) + driven[max(0, skip) : end]
    return (line[::step] + bytes([IDLE]) * n)[:n]


@dataclass(frozen=True, slots=True)
class _Frame:
    """An octal frame decoded: its command, address, data and clocks."""

    opcode: int
    kind: str  # "read" | "register" | "config-read" | "config-write" | "program" | "erase" | ...
    address: int
    written: bytes  # write data as the chip sampled it
    host_clocks: int  # clocks the host spends before its data phase
    chip_clocks: int  # clocks the chip takes for instruction and address


class OctalPort:
    """The protocol state and volatile configuration space of one octal chip."""

    def __init__(self, chip: NorFlash, spec: OctalSpec) -> None:
        self.chip = chip
        self.spec = spec
        self.config: dict[int, int] = {}
        self.state = "spi"
        self._reads = {r.opcode: r for r in spec.reads}
        self.swapped = spec.dtr_byte_order == "d1d0"
        # the chip's own 4-byte page program does the array work of the octal one
        self._array_program = next(p.opcode_4b for p in chip.spec.programs
                                   if p.protocol == "1-1-1" and p.opcode_4b is not None)
        self._commands = self._build_commands()
        # frames without write data, decoded once per state (automatic polling sends the same
        # status read every poll interval): the frame, or why the chip ignores it
        self._decoded: dict[tuple[Any, ...], _Frame | str] = {}

    def power_on(self) -> None:
        """Every octal part powers up (and resets) in SPI with its volatile defaults."""
        self.config = dict(self.spec.config_reset)
        self.state = self._state_of(self.config.get(self.spec.mode_address, 0))

    def _state_of(self, mode: int) -> str:
        return self.spec.modes.get(mode & self.spec.mode_mask, self.state)

    @property
    def strobe(self) -> bool:
        """Does the chip drive DQS with read data now?"""
        return self.state == "8D" and self.config.get(self.spec.mode_address, 0) not in (
            self.spec.no_dqs_modes)

    @property
    def read_latency(self) -> int:
        return self.spec.read_latency(self.config)

    def mode_key(self) -> tuple[Any, ...]:
        """What the meaning and timing of a frame follow from in the present state, besides
        the status registers: the state, the configuration space and the clock told."""
        return (self.state, tuple(sorted(self.config.items())), self.chip.sck_mhz)

    def decoded(self, cmd: SpiCommand) -> tuple[int, str] | None:
        """(opcode, kind) of a frame as the chip samples it now; None when it ignores the
        frame. No side effects."""
        try:
            frame = self._decode(cmd)
        except Rejected:
            return None
        return frame.opcode, frame.kind

    # -- commands ---------------------------------------------------------------------------

    def _build_commands(self) -> dict[int, str]:
        """Opcode -> what it is in an octal state. Reads, program, erase and the configuration
        space carry a 4-byte address; register reads carry what the chip's register reads do."""
        spec, chip = self.spec, self.chip.spec
        kinds: dict[int, str] = {op: "register" for op in (
            *(r.read for r in chip.status.registers if r.read is not None), spec.id_opcode)}
        if chip.micron:
            kinds[0x70] = "register"
        for op in (0x06, 0x04, *(chip.reset or ()), *(chip.suspend or ()),
                   *(chip.deep_power_down or ()), *chip.chip_erase.opcodes):
            kinds[op] = "plain"
        kinds.update({e.opcode_4b: "erase" for e in chip.erases if e.opcode_4b is not None})
        kinds.update({r.opcode: "read" for r in spec.reads})
        kinds[spec.program] = "program"
        kinds[spec.config_read] = "config-read"
        kinds[spec.config_write] = "config-write"
        return kinds

    def _address_bytes(self, kind: str) -> int:
        if kind == "register":
            return self.spec.register_address_bytes
        return 0 if kind == "plain" else 4

    def transfer(self, cmd: SpiCommand) -> bytes:
        """One frame in the current octal state: decoded as the chip samples it, admitted by
        :meth:`NorFlash._admit` (busy, power-down, reset enable) once the opcode is known."""
        frame = self._decode(cmd)
        self.chip._admit(frame.opcode)
        kind, opcode, address = frame.kind, frame.opcode, frame.address
        dtr = self.state == "8D"
        if kind in ("program", "config-write"):
            return self._write(cmd, kind, opcode, address, frame.written, dtr)
        if kind == "erase":
            return self.chip._handlers[opcode](self._spi_form(opcode, address), opcode)
        if kind == "plain":
            return self.chip._handlers[opcode](self._spi_form(opcode, None), opcode)
        if not cmd.read_length:
            return b""
        if kind == "read":
            stream = self._array_beats(address & ~1 if dtr else address, dtr)
        else:
            stream = self._register_beats(kind, opcode, address)
        skip = self._read_skip(cmd, frame)
        if skip is None:  # waits for a strobe that never toggles: nothing is sampled
            return bytes([IDLE]) * cmd.read_length
        return host_samples(stream, skip, cmd.ddr, cmd.read_length)

    def read_mismatch(self, cmd: SpiCommand) -> str | None:
        """None when an array read like ``cmd`` returns the array's bytes in bus order (the
        8D pairs as :attr:`OctalSpec.dtr_byte_order` says); else why not. No side effects."""
        try:
            frame = self._decode(cmd)
        except Rejected as why:
            return str(why)
        if frame.kind != "read":
            return f"opcode 0x{frame.opcode:02X} is not an octal read"
        skip = self._read_skip(cmd, frame)
        if self.too_fast():
            return (f"{self.read_latency} latency clocks are too few at {self.chip.sck_mhz} MHz "
                    f"(datasheet: {self.spec.least_dummy(self.chip.sck_mhz or 0)})")
        if skip != 0 or cmd.ddr != (self.state == "8D"):
            return (f"{cmd.dummy_cycles} dummy clocks, DTR data {cmd.ddr}, DQS {cmd.dqs}: the "
                    f"chip waits {self.read_latency} clocks in {STATE_NAMES[self.state]}"
                    + (" and drives DQS" if self.strobe else ""))
        return None

    def _decode(self, cmd: SpiCommand) -> _Frame:
        """The command as the chip samples the host's instruction, address, alternate, dummy
        and write phases at its own rate; raises :class:`Rejected` for what it ignores."""
        if cmd.write_data:
            return self._decode_frame(cmd)
        key = (self.state, cmd.instruction, cmd.instruction_lines, cmd.instruction_bytes,
               cmd.instruction_dtr, cmd.address, cmd.address_bytes, cmd.address_lines,
               cmd.address_dtr, cmd.alternate, cmd.alternate_bytes, cmd.alternate_lines,
               cmd.alternate_dtr, cmd.dummy_cycles)
        found = self._decoded.get(key)
        if found is None:
            try:
                found = self._decode_frame(cmd)
            except Rejected as why:
                found = str(why)
            if len(self._decoded) >= DECODED_FRAMES:
                self._decoded.clear()  # array reads each have their own address: start over
            self._decoded[key] = found
        if isinstance(found, str):
            raise Rejected(found)
        return found

    def _decode_frame(self, cmd: SpiCommand) -> _Frame:
        if cmd.instruction is None or cmd.instruction_lines != 8:
            raise Rejected(f"opcode on {cmd.instruction_lines} line(s) while the chip is in "
                           f"{STATE_NAMES[self.state]}: it samples 8 lines")
        for what, n, lines in (("address", cmd.address_bytes, cmd.address_lines),
                               ("alternate", cmd.alternate_bytes, cmd.alternate_lines)):
            if n and lines != 8:
                raise Rejected(f"{what} on {lines} line(s) in {STATE_NAMES[self.state]}")
        beats = (phase_beats(_field(cmd.instruction, max(1, cmd.instruction_bytes)),
                             cmd.instruction_dtr)
                 + phase_beats(_field(cmd.address, cmd.address_bytes), cmd.address_dtr)
                 + phase_beats(_field(cmd.alternate, cmd.alternate_bytes), cmd.alternate_dtr))
        host_clocks = len(beats) // 2 + cmd.dummy_cycles
        beats += bytes([IDLE]) * (2 * cmd.dummy_cycles)
        if cmd.write_data:
            if cmd.data_lines != 8:
                raise Rejected(f"data on {cmd.data_lines} line(s) in {STATE_NAMES[self.state]}")
            beats += phase_beats(bytes(cmd.write_data), cmd.ddr)
        dtr = self.state == "8D"
        seen = chip_sees(beats, dtr)
        seen += bytes([IDLE]) * max(0, 6 - len(seen))
        opcode, second = seen[0], seen[1]
        expected = self.spec.opcode_pair(opcode) & 0xFF
        if second != expected:
            raise Rejected(f"instruction 0x{opcode:02X}{second:02X} in "
                           f"{STATE_NAMES[self.state]}: the second byte must be "
                           f"0x{expected:02X} ({self.spec.extension} opcode)")
        kind = self._commands.get(opcode)
        if kind == "read" and self._reads[opcode].state != self.state:
            kind = None  # each octal read belongs to one state (8READ EC13h, 8DTRD EE11h)
        if kind is None:
            raise Rejected(f"opcode 0x{opcode:02X} is not a {self.chip.spec.name} command in "
                           f"{STATE_NAMES[self.state]}")
        abytes = self._address_bytes(kind)
        taken = 2 + abytes  # bytes the chip takes before data or latency
        return _Frame(opcode=opcode, kind=kind,
                      address=int.from_bytes(seen[2 : 2 + abytes], "big"),
                      written=seen[taken:] if cmd.write_data else b"",
                      host_clocks=host_clocks, chip_clocks=taken // 2 if dtr else taken)

    def _read_skip(self, cmd: SpiCommand, frame: _Frame) -> int | None:
        """Beats between the chip's first data beat and the host's first sample (None: the
        host waits for a data strobe the chip does not drive)."""
        latency = (self.read_latency if frame.kind == "read"
                   else self.spec.register_dummy[self.state])
        skip = 2 * (frame.host_clocks - frame.chip_clocks - latency)
        if self.state == "8D" and cmd.ddr and cmd.dqs != self.strobe:
            if cmd.dqs:
                return None
            skip -= 1  # sampled on the host clock: one beat before the chip's data is valid
        elif frame.kind == "read" and self.too_fast():
            skip -= 1  # the array has not delivered when the chip starts driving: stale beat
        return skip

    def too_fast(self) -> bool:
        """Is the 8D read latency below what the datasheet needs at the clock the controller
        told the chip (:attr:`NorFlash.sck_mhz`; None: not checked)?"""
        mhz = self.chip.sck_mhz
        if mhz is None or self.state != "8D" or not self.spec.dummy_for_mhz:
            return False
        least = self.spec.least_dummy(mhz)
        return least is None or self.read_latency < least

    def _spi_form(self, opcode: int, address: int | None, data: bytes = b"",
                  read: int = 0) -> SpiCommand:
        """The same command as the chip's SPI handlers take it (1 line, 4-byte address)."""
        return SpiCommand(opcode, address=address, address_bytes=4 if address is not None else 0,
                          address_lines=1 if address is not None else 0,
                          data_lines=1 if (data or read) else 0, write_data=data,
                          read_length=read)

    def _write(self, cmd: SpiCommand, kind: str, opcode: int, address: int, data: bytes,
               dtr: bool) -> bytes:
        if dtr and len(cmd.write_data) % 2:
            raise Rejected("odd number of data bytes in octal DTR (whole clocks only; 1-byte "
                           "transfers are not allowed in 8D)")
        if kind == "config-write":
            return self.write_config(address, data)
        if dtr:
            address &= ~1
            if self.swapped:
                data = swap_pairs(data)
        return self.chip._program(self._spi_form(self._array_program, address, data),
                                  self._array_program)

    def _array_beats(self, address: int, dtr: bool) -> Callable[[int], bytes]:
        def beats(k: int) -> bytes:
            if dtr:
                data = self.chip._array(address, k + (k & 1))
                return swap_pairs(data) if self.swapped else data
            return phase_beats(self.chip._array(address, (k + 1) // 2), False)
        return beats

    def _register_beats(self, kind: str, opcode: int, address: int) -> Callable[[int], bytes]:
        if kind == "config-read":
            value = bytes([self.config.get(address, 0)])
        elif opcode == self.spec.id_opcode:
            value = self.chip.spec.jedec_id
        else:
            value = self.chip._handlers[opcode](self._spi_form(opcode, None, read=1), opcode)
        return lambda k: phase_beats((value * (k // 2 // len(value) + 1))[: (k + 1) // 2], False)

    # -- the configuration space (SPI and octal) -------------------------------------------

    def write_config(self, address: int, data: bytes) -> bytes:
        chip = self.chip
        if not chip.wel:
            raise Rejected("configuration write without WREN (WEL=0)")
        if not data:
            raise Rejected("configuration write without data")
        for offset, value in enumerate(data):
            self.config[address + offset] = value
        chip.wel = False
        if address <= self.spec.mode_address < address + len(data):
            self.state = self._state_of(self.config[self.spec.mode_address])
        return b""

    def spi_config_address(self, cmd: SpiCommand) -> int:
        width = self.spec.config_address_bytes or self.chip._address_width(0)
        if cmd.address is None or cmd.address_bytes != width or cmd.address_lines != 1:
            raise Rejected(f"configuration access expects a {width}-byte address on 1 line")
        return cmd.address

    def spi_config_write(self, cmd: SpiCommand, opcode: int) -> bytes:
        return self.write_config(self.spi_config_address(cmd), bytes(cmd.write_data))

    def spi_config_read(self, cmd: SpiCommand, opcode: int) -> bytes:
        value = bytes([self.config.get(self.spi_config_address(cmd), 0)])
        skip = cmd.dummy_cycles - self.spec.config_read_dummy  # 1 line: a bit per clock
        repeated = (value * (cmd.read_length + 2))
        if skip == 0:
            return repeated[: cmd.read_length]
        bits = int.from_bytes(repeated, "big")
        total = len(repeated) * 8
        if skip > 0:
            bits = (bits << skip) & ((1 << total) - 1)
        else:
            bits = (bits >> -skip) | (((1 << -skip) - 1) << (total + skip))
        return bits.to_bytes(len(repeated), "big")[: cmd.read_length]
