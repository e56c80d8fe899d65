"""Protocol mismatches: what the chip expected against what the controller sent.

An octal NOR chip listens in one protocol state at a time: SPI (1S-1S-1S) after power-on or
reset, octal STR (8S-8S-8S) or octal DTR (8D-8D-8D) once its configuration register says so
(Macronix CR2 at 0x0, Micron/Winbond volatile configuration, Infineon CFR5V: the chip file's
``[octal] modes``). In an octal state every instruction is two bytes (the opcode and its
extension: inverted on Macronix, repeated on Micron/Winbond: ``[octal] extension``), sampled
on both clock edges in 8D and on the rising edge in 8S; array reads wait the latency the chip
was configured for (``[octal] dummy_address``/``dummy_codes``), and in 8D the chip drives a
data strobe (DQS) the controller must sample read data on (OCTOSPI/XSPI CCR.DQSE, RM0455/RM0477
"DQS": "DQSE must be set for octal DTR reads of memories with a data strobe").

:func:`explain` compares the commands of a call with the state the chip is in and says, in a
user's words, which of these the loader got wrong:

* an STR command (IDTR=0) while the chip is in 8D, or a DTR one while it is in 8S;
* an SPI command (1 line) while the chip is in an octal state (a WRITE ENABLE sent as in SPI);
* an array read with another dummy count than the chip's read latency, a status or ID read
  with another than its register latency (``[octal] register_dummy``);
* an 8D read without DQS;
* memory-mapped reads with a frame the chip does not answer with its data (wrong opcode,
  state, latency or strobe).

Commands a driver sends on purpose in every protocol (RESET ENABLE/RESET, to bring the chip
back to SPI from whatever state it is in) are not held against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from extflash.diagnose.evidence import FlashCommand
from extflash.emu.flash.octal import STATE_NAMES
from extflash.emu.periph.frontstate import describe_frame, protocol
from extflash.emu.spi import SpiCommand

# JEDEC opcodes every octal part shares (JESD216 / JESD251 command set), for naming them
OPCODE_NAMES = {0x06: "WRITE ENABLE", 0x04: "WRITE DISABLE", 0x05: "READ STATUS",
                0x9F: "READ ID", 0x66: "RESET ENABLE", 0x99: "RESET"}
RESETS = (0x66, 0x99)


@dataclass(frozen=True)
class Finding:
    """One protocol mismatch, told for a user."""

    kind: str  # "rate", "spi-in-opi", "dummy", "dqs", "mapped"
    cause: str
    fix: str
    details: tuple[str, ...] = ()


def _named(cmd: SpiCommand) -> str:
    op = cmd.opcode
    name = OPCODE_NAMES.get(op) if op is not None else None
    word = f"0x{cmd.instruction:0{2 * max(cmd.instruction_bytes, 1)}X}" if op is not None else ""
    return f"{name} ({word})" if name else word or "a command without an instruction"


def _state(chip: Any) -> str:
    return STATE_NAMES.get(chip.protocol, chip.protocol)


def _octal_instruction(chip: Any, opcode: int) -> str:
    return f"0x{chip.octal.spec.opcode_pair(opcode):04X}"


def _dtr_fix(controller: Any) -> str:
    return (f"once the chip is in octal DTR, send every command with DTR on every phase "
            f"({controller.FIELDS.dtr}), as the chip's configuration says")


def _rejected(chip: Any, controller: Any, c: FlashCommand) -> Finding | None:
    cmd, state = c.command, chip.protocol
    op = cmd.opcode
    if op is None or op in RESETS:
        return None
    where = (f"{chip.spec.name} is in {_state(chip)} ({chip.octal.spec.extension} two-byte "
             f"opcodes, chip file [octal])")
    if cmd.instruction_lines != 8:
        pair = _octal_instruction(chip, op)
        return Finding(
            "spi-in-opi",
            f"the loader sent {_named(cmd)} as an SPI command ({protocol(cmd)}, "
            f"{cmd.instruction_lines} line) while {where}: in OPI the chip decodes only "
            f"8-line instructions, so it ignored it",
            f"once the chip is in OPI send {OPCODE_NAMES.get(op, 'the command')} on 8 lines as "
            f"the two-byte instruction {pair}",
            (f"bank {c.bank}: {c.describe()}",))
    if state == "8D" and not cmd.instruction_dtr:
        seen = op << 8 | op
        return Finding(
            "rate",
            f"the loader sent {_named(cmd)} in octal STR (instruction phase "
            f"{protocol(cmd).split('-')[0]}, IDTR=0) while {where}: the chip samples both "
            f"clock edges, read the instruction as 0x{seen:04X} and ignored it",
            _dtr_fix(controller), (f"bank {c.bank}: {c.describe()}",))
    if state == "8S" and cmd.instruction_dtr:
        return Finding(
            "rate",
            f"the loader sent {_named(cmd)} in octal DTR while {where}: the chip samples the "
            f"rising edge only, saw every other byte of the instruction and ignored it",
            "once the chip is in octal STR, send every command with all DTR bits clear",
            (f"bank {c.bank}: {c.describe()}",))
    return None


def _read_latency(chip: Any) -> str:
    spec = chip.octal.spec
    code = chip.octal.config.get(spec.dummy_address, 0) & spec.dummy_mask
    return (f"{chip.octal.read_latency} clocks (configuration byte 0x{spec.dummy_address:X} "
            f"= code {code}, chip file [octal] dummy_codes)")


def _register_read(chip: Any, cmd: SpiCommand) -> Finding | None:
    """A status/ID read waiting another number of clocks than the chip's register latency."""
    spec, state = chip.octal.spec, chip.protocol
    want = spec.register_dummy.get(state)
    if want is None or cmd.dummy_cycles == want:
        return None
    return Finding(
        "dummy",
        f"register reads ({_named(cmd)}) wait {cmd.dummy_cycles} dummy cycles while "
        f"{chip.spec.name} answers them after {want} in {_state(chip)} (chip file [octal] "
        f"register_dummy): the status and ID bytes come back shifted",
        f"use {want} dummy cycles for status, ID and configuration reads in {state}",
        (describe_frame(cmd),))


def _read(chip: Any, cmd: SpiCommand, what: str) -> Finding | None:
    """An array read in the chip's own state that does not return the array: dummy or DQS;
    a register read with the wrong latency."""
    octal = chip.octal
    reads = {r.opcode: r for r in octal.spec.reads}
    op = cmd.opcode
    state = chip.protocol
    if cmd.instruction_lines != 8:
        return None
    registers = {r.read for r in chip.spec.status.registers if r.read is not None}
    if op in registers | {octal.spec.id_opcode}:
        return _register_read(chip, cmd)
    if op not in reads:
        return None
    if reads[op].state != state:
        right = next((r.opcode for r in octal.spec.reads if r.state == state), None)
        use = f" ({_octal_instruction(chip, right)})" if right is not None else ""
        return Finding(
            "mapped" if what == "memory-mapped" else "rate",
            f"{what} reads use {_named(cmd)}, the {reads[op].state} read of "
            f"{chip.spec.name}, while the chip is in {_state(chip)}: it does not answer them "
            f"with its data",
            f"read with the {state} read command{use} of the state the chip is in",
            (describe_frame(cmd),))
    if state == "8D" and cmd.ddr and octal.strobe and not cmd.dqs:
        return Finding(
            "dqs",
            f"{what} reads in octal DTR run without DQS (DQSE=0): {chip.spec.name} drives "
            f"a data strobe in 8D, and without DQSE the controller "
            f"samples on its own clock, one beat before the data is valid, so every byte "
            f"comes back shifted",
            "set CCR.DQSE for every read (and WCCR.DQSE for memory-mapped writes) while the "
            "chip is in octal DTR", (describe_frame(cmd),))
    if cmd.dummy_cycles != octal.read_latency:
        return Finding(
            "dummy",
            f"{what} reads wait {cmd.dummy_cycles} dummy cycles while {chip.spec.name} was "
            f"configured for a read latency of {_read_latency(chip)}: the controller samples "
            f"{'too early' if cmd.dummy_cycles < octal.read_latency else 'too late'} and "
            f"reads shifted data",
            f"set the read dummy cycles (TCR.DCYC, and in memory-mapped mode the same in the "
            f"read configuration) to {octal.read_latency}, or program the chip's latency to "
            f"match", (describe_frame(cmd),))
    return None


def explain(board: Any, commands: list[FlashCommand]) -> Finding | None:
    """The first protocol mismatch among ``commands`` (a call's), or None.

    Only chips in an octal state are judged: quad and SPI mismatches are the chip's own
    rejection reasons (:mod:`.failure`)."""
    controller = board.qspi
    for c in commands:
        chip = board.chips.get(c.bank)
        if chip is None or chip.octal is None or chip.protocol not in ("8S", "8D"):
            continue
        if c.outcome == "rejected":
            found = _rejected(chip, controller, c)
        elif c.outcome == "ok" and c.command.read_length:
            found = _read(chip, c.command, "indirect")
        else:
            found = None
        if found is not None:
            return found
    return mapped(board)


def mapped(board: Any) -> Finding | None:
    """What is wrong with the memory-mapped read frame, for a chip in an octal state."""
    frame = board.qspi.mapped_frame
    if frame is None:
        return None
    for chip in board.chips.values():
        if chip.octal is not None and chip.protocol in ("8S", "8D"):
            return _read(chip, frame, "memory-mapped")
    return None
