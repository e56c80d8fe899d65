"""What the generated NOR driver needs from a chip record (:mod:`extflash.chips`): the commands
to use, the quad-enable and protection recipe, 4-byte addressing and the timeouts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from extflash.chips import ChipSpec, ReadCommand
from extflash.errors import ConfigError

# Read commands the controller can map, best first: quad I/O, quad output, fast read.
READ_PREFERENCE = ("1-4-4", "1-1-4", "1-2-2", "1-1-2", "1-1-1")
PROGRAM_PREFERENCE = ("1-1-4", "1-4-4", "1-1-1")  # 1-line instruction in all

# QE rule -> (register holding QE: 0 none / 1 SR1 / 2 SR2-or-CR1, how the registers are written)
# Write styles match nor.c: 1 = 0x01 <sr1>, 2 = 0x01 <sr1> <sr2>, 3 = 0x01 <sr1> then 0x31 <sr2>.
QE_RECIPES: dict[str, tuple[int, int]] = {
    "none": (0, 1),
    "sr1-bit6": (1, 1),
    "sr2-bit1-via-01-2byte": (2, 2),
    "sr2-bit1-01-clears": (2, 2),
    "cr1-bit1": (2, 2),
    "sr2-bit1-via-31": (2, 3),
}

# SR2 bits that must be 0 for the array to be writable once BP = 0. Winbond's CMP (SR2 bit 6)
# inverts the protected area, so CMP = 1 with BP = 0 protects everything.
SR2_CLEAR_BY_VENDOR: dict[str, int] = {"Winbond": 0x40}

FOUR_BYTE_ENTER_METHODS = ("en4b", "wren-en4b")


@dataclass(frozen=True)
class Command:
    """One command as the controller issues it: opcode and line counts per phase."""

    opcode: int
    instruction_lines: int
    address_lines: int
    data_lines: int
    mode_bytes: int = 0  # mode (alternate) bytes sent on the address lines; 0xFF: no XIP
    dummy: int = 0


@dataclass(frozen=True)
class NorParams:
    """The chip commands and times a generated loader uses."""

    chip: ChipSpec
    read: Command
    read_max_hz: int
    program: Command
    erase_sector: int  # opcodes
    erase_block: int
    erase_chip: int
    sector_size: int  # per chip
    block_size: int
    address_bytes: int
    enter_4byte: bool
    qe_register: int
    qe_bit: int
    status_write: int
    sr1_protect: int
    sr2_clear: int
    timeout_page_ms: int
    timeout_sector_ms: int
    timeout_block_ms: int
    timeout_chip_ms: int
    timeout_wrsr_ms: int
    reset_us: int


def _lines(protocol: str) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in protocol.split("-"))
    return a, b, c


def _read_command(chip: ChipSpec, use_4b: bool) -> ReadCommand:
    for protocol in READ_PREFERENCE:
        for cmd in chip.reads:
            if cmd.protocol != protocol or (use_4b and cmd.opcode_4b is None):
                continue
            _, addr_lines, _ = cmd.lines
            if (cmd.mode_clocks * addr_lines) % 8 == 0 and (cmd.dummy_clocks or cmd.mode_clocks
                                                             or protocol == "1-1-1"):
                return cmd
    raise ConfigError(f"{chip.name}: no read command the QUADSPI can use in memory-mapped mode")


def nor_params(chip: ChipSpec) -> NorParams:
    big = chip.needs_4byte
    methods = chip.addressing.methods
    use_opcodes = big and "opcodes" in methods
    enter_4b = big and not use_opcodes and any(m in methods for m in FOUR_BYTE_ENTER_METHODS)
    if big and not (use_opcodes or enter_4b):
        raise ConfigError(f"{chip.name}: 4-byte addressing by {', '.join(methods) or 'nothing'} "
                          f"is not supported by the generator (it uses 4-byte opcodes or EN4B)")

    rd = _read_command(chip, use_opcodes)
    i, a, d = rd.lines
    mode_bytes = rd.mode_clocks * a // 8
    read = Command(rd.opcode_4b if use_opcodes and rd.opcode_4b else rd.opcode, i, a, d,
                   mode_bytes, rd.dummy_clocks)

    prog = next((p for proto in PROGRAM_PREFERENCE for p in chip.programs
                 if p.protocol == proto and (not use_opcodes or p.opcode_4b is not None)), None)
    if prog is None:
        raise ConfigError(f"{chip.name}: no page-program command usable with this addressing")
    pi, pa, pd = prog.lines
    program = Command(prog.opcode_4b if use_opcodes and prog.opcode_4b else prog.opcode,
                      pi, pa, pd)

    erases = sorted(chip.erases, key=lambda e: e.size)
    sector = erases[0]
    block = next((e for e in erases if e.size == 0x10000), erases[-1])
    for e in (sector, block):
        if use_opcodes and e.opcode_4b is None:
            raise ConfigError(f"{chip.name}: erase 0x{e.opcode:02X} has no 4-byte opcode")

    qe_name = chip.status.qe.name
    if qe_name not in QE_RECIPES:
        raise ConfigError(f"{chip.name}: quad-enable rule '{qe_name}' is not supported by the "
                          f"generator (supported: {', '.join(QE_RECIPES)})")
    qe_register, status_write = QE_RECIPES[qe_name]
    protect = chip.status.protect
    t = chip.timing

    def ms(value: float) -> int:
        return max(1, math.ceil(value))

    return NorParams(
        chip=chip,
        read=read,
        read_max_hz=int(rd.max_mhz * 1_000_000),
        program=program,
        erase_sector=sector.opcode_4b if use_opcodes and sector.opcode_4b else sector.opcode,
        erase_block=block.opcode_4b if use_opcodes and block.opcode_4b else block.opcode,
        erase_chip=chip.chip_erase.opcodes[0],
        sector_size=sector.size,
        block_size=block.size,
        address_bytes=4 if big else 3,
        enter_4byte=enter_4b,
        qe_register=qe_register,
        qe_bit=(1 << chip.status.qe.bit) if qe_register else 0,
        status_write=status_write,
        sr1_protect=protect.bp_mask if protect else 0,
        sr2_clear=SR2_CLEAR_BY_VENDOR.get(chip.vendor, 0) if status_write != 1 else 0,
        timeout_page_ms=ms(t.page_program_us[1] / 1000),
        timeout_sector_ms=ms(sector.max_ms),
        timeout_block_ms=ms(block.max_ms),
        timeout_chip_ms=ms(chip.chip_erase.max_ms),
        timeout_wrsr_ms=ms(t.write_status_ms[1]),
        reset_us=ms(t.reset_us),
    )


@dataclass(frozen=True)
class OctalParams:
    """How the generated driver brings an octal chip into 8S-8S-8S or 8D-8D-8D and talks to it
    there, all from the chip's ``[octal]`` data (the vendor's configuration-register write)."""

    state: str  # "8S" or "8D"
    dqs: bool  # data strobe on reads (8D with a DQS pin)
    inverted: bool  # second instruction byte: opcode ^ 0xFF (else the opcode repeated)
    macronix_order: bool  # 8D byte pairs leave D1 first (OCTOSPI/XSPI MTYP "Macronix")
    read_opcode: int
    read_dummy: int
    program_opcode: int
    config_write: int
    config_address_bytes: int  # in SPI, before the switch
    dummy_address: int
    dummy_code: int
    mode_address: int
    mode_value: int
    register_address_bytes: int  # status/ID reads in octal
    register_dummy: int


def octal_top_hz(chip: ChipSpec) -> int:
    """The fastest bus clock any of the chip's octal reads allows."""
    if chip.octal is None:
        raise ConfigError(f"{chip.name} is not an octal chip")
    return int(max(r.max_mhz for r in chip.octal.reads) * 1_000_000)


def octal_params(chip: ChipSpec, bus_hz: int, *, has_dqs: bool) -> OctalParams:
    """The fastest octal state the board allows: 8D with DQS, else 8S (or 8D without strobe
    where the chip has such a mode)."""
    o = chip.octal
    if o is None:
        raise ConfigError(f"{chip.name} is not an octal chip")
    states = {state: mode for mode, state in o.modes.items() if state != "spi"}
    no_dqs = {mode for mode in o.no_dqs_modes if o.modes.get(mode) == "8D"}
    with_dqs = {mode for mode, state in o.modes.items() if state == "8D" and mode not in no_dqs}
    if has_dqs and with_dqs:
        state, mode, dqs = "8D", min(with_dqs), True
    elif "8S" in states:
        state, mode, dqs = "8S", states["8S"], False
    elif no_dqs:
        state, mode, dqs = "8D", min(no_dqs), False
    else:
        raise ConfigError(f"{chip.name}: its octal DTR mode needs the data strobe, and the board "
                          "wires no DQS pin", hint="wire the chip's DQS and name its pin (dqs)")
    read = next((r for r in o.reads if r.state == state), None)
    if read is None:
        raise ConfigError(f"{chip.name}: no {state} read command in the chip data")
    mhz = bus_hz / 1e6
    dummy = o.least_dummy(mhz) if o.dummy_for_mhz else None
    if dummy is None:
        dummy = o.read_latency(o.config_reset)
    codes = {clocks: code for code, clocks in o.dummy_codes.items()}
    # a code that gives at least the latency the clock needs (more clocks are always safe)
    fitting = sorted((clocks, code) for clocks, code in codes.items() if clocks >= dummy)
    if codes and fitting:
        dummy, code = fitting[0]
    else:
        code = dummy
    if code & ~o.dummy_mask & 0xFF:
        raise ConfigError(f"{chip.name}: read latency {dummy} does not fit its configuration")
    reg_dummy = o.register_dummy.get(state, 0)
    return OctalParams(
        state=state, dqs=dqs, inverted=o.extension == "inverted",
        macronix_order=o.dtr_byte_order == "d1d0",
        read_opcode=read.opcode, read_dummy=dummy, program_opcode=o.program,
        config_write=o.config_write, config_address_bytes=o.config_address_bytes or 3,
        # the other bits of each configuration byte keep their power-on values
        dummy_address=o.dummy_address,
        dummy_code=(o.config_reset.get(o.dummy_address, 0) & ~o.dummy_mask & 0xFF) | code,
        mode_address=o.mode_address,
        mode_value=(o.config_reset.get(o.mode_address, 0) & ~o.mode_mask & 0xFF) | mode,
        register_address_bytes=o.register_address_bytes, register_dummy=reg_dummy,
    )
