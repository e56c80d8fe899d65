"""The SPI NOR chip database, loaded from one TOML file per chip in ``extflash/data/chips``.

Both the emulator's NOR model and the loader generator read these records, so a chip is
described once: identity, geometry, command set (protocol, mode and dummy clocks per read),
register layout and quad-enable rule, 4-byte addressing scheme, QPI, Micron configuration
registers, octal protocol states and datasheet timings, each file citing its sources.
``docs/chips.md`` describes the file format; adding a chip is adding one file.

The quad-enable rule names follow JESD216 QER codes (BFPT DWORD 15 bits 22:20) so the SFDP
generator and the loader generator agree on what they mean (see :data:`QE_RULES`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from extflash import cache
from extflash.errors import ConfigError

MIB = 1 << 20
PROTOCOLS = ("1-1-1", "1-1-2", "1-2-2", "1-1-4", "1-4-4", "4-4-4")
FOUR_BYTE_METHODS = ("en4b", "wren-en4b", "opcodes", "ear", "bank", "nvcr", "always")
OCTAL_STATES = ("8S", "8D")  # 8S-8S-8S (octal STR) and 8D-8D-8D (octal DTR)
OPCODE_EXTENSIONS = ("inverted", "repeated")
DTR_BYTE_ORDERS = ("d0d1", "d1d0")


@dataclass(frozen=True)
class QeRule:
    """How to find and set the quad-enable bit (JESD216 QER semantics)."""

    name: str
    qer: int  # JESD216 BFPT DW15[22:20]
    register: str | None  # register holding QE: "sr1", "sr2", "cr" ...
    bit: int
    read_opcode: int | None  # how to read the register holding QE
    write_opcode: int | None  # how to set it
    write_bytes: int  # bytes written with write_opcode (QE lands in the last one)
    note: str


QE_RULES: dict[str, QeRule] = {
    r.name: r
    for r in (
        QeRule("none", 0b000, None, 0, None, None, 0,
               "no QE bit: quad commands are always available (Micron)"),
        QeRule("sr2-bit1-01-clears", 0b001, "sr2", 1, None, 0x01, 2,
               "SR2 bit 1 via a 2-byte 0x01; a 1-byte 0x01 clears SR2"),
        QeRule("sr1-bit6", 0b010, "sr1", 6, 0x05, 0x01, 1,
               "SR1 bit 6 via a 1-byte 0x01 (Macronix, ISSI)"),
        QeRule("sr2-bit7-3e", 0b011, "sr2", 7, 0x3F, 0x3E, 1, "SR2 bit 7, read 0x3F, write 0x3E"),
        QeRule("sr2-bit1-via-01-2byte", 0b100, "sr2", 1, 0x35, 0x01, 2,
               "SR2 bit 1 via a 2-byte 0x01; a 1-byte 0x01 leaves SR2 alone (Winbond)"),
        QeRule("cr1-bit1", 0b101, "cr1", 1, 0x35, 0x01, 2,
               "CR1 bit 1, read 0x35, written as the 2nd byte of 0x01 (Spansion/Infineon)"),
        QeRule("sr2-bit1-via-31", 0b110, "sr2", 1, 0x35, 0x31, 1,
               "SR2 bit 1, read 0x35, written alone with 0x31"),
    )
}


@dataclass(frozen=True)
class ReadCommand:
    """One read command of a chip: opcode, lines, mode and wait clocks, top clock."""

    opcode: int
    protocol: str  # "1-1-1" ... "4-4-4": instruction-address-data lines
    mode_clocks: int  # clocks carrying mode bits (M7-0) right after the address
    dummy_clocks: int  # wait clocks after the mode clocks
    max_mhz: float
    needs_qe: bool
    opcode_4b: int | None = None  # the dedicated 4-byte-address opcode, if any

    @property
    def lines(self) -> tuple[int, int, int]:
        a, b, c = (int(p) for p in self.protocol.split("-"))
        return a, b, c

    @property
    def wait_clocks(self) -> int:
        """Clocks between the end of the address and the first data bit."""
        return self.mode_clocks + self.dummy_clocks


@dataclass(frozen=True)
class ProgramCommand:
    """One page-program command of a chip."""

    opcode: int
    protocol: str
    needs_qe: bool
    opcode_4b: int | None = None

    @property
    def lines(self) -> tuple[int, int, int]:
        a, b, c = (int(p) for p in self.protocol.split("-"))
        return a, b, c


@dataclass(frozen=True)
class EraseType:
    """One erase command of a chip: the size it erases and its typical and maximum time."""

    opcode: int
    size: int
    typ_ms: float
    max_ms: float
    opcode_4b: int | None = None


@dataclass(frozen=True)
class ChipErase:
    """The chip-erase opcodes and their typical and maximum time."""

    opcodes: tuple[int, ...]
    typ_ms: float
    max_ms: float


@dataclass(frozen=True)
class Register:
    """One status/configuration register byte.

    ``read``/``write`` are the dedicated opcodes; ``wrsr_index`` the byte position the chip's
    WRSR (0x01) command writes it at; ``writable`` the bits a write can change.
    """

    name: str
    read: int | None
    write: int | None
    wrsr_index: int | None
    writable: int
    reset: int  # factory / power-on value


@dataclass(frozen=True)
class ProtectSpec:
    """Block protection: BP bits in SR1 protect ``unit * 2**(BP-1)`` bytes from the top
    (or the bottom when the TB bit is set); all BP bits set protects the whole array."""

    bp_mask: int
    tb_bit: int | None
    unit: int


@dataclass(frozen=True)
class StatusSpec:
    """A chip's status and configuration registers: how they are written, where QE is."""

    registers: tuple[Register, ...]
    qe: QeRule
    wrsr_opcode: int = 0x01
    one_byte_wrsr_clears_rest: bool = False  # QER 001: a 1-byte WRSR zeroes the later bytes
    volatile_wren: int | None = None  # 0x50 on Winbond: the next SR write is volatile
    protect: ProtectSpec | None = None

    def register(self, name: str) -> Register:
        for reg in self.registers:
            if reg.name == name:
                return reg
        raise KeyError(name)

    @property
    def wrsr_layout(self) -> tuple[Register, ...]:
        """Registers in the order WRSR writes them."""
        regs = [r for r in self.registers if r.wrsr_index is not None]
        return tuple(sorted(regs, key=lambda r: r.wrsr_index or 0))


@dataclass(frozen=True)
class AddressingSpec:
    """4-byte addressing: which methods the chip offers (empty when size <= 16 MiB)."""

    methods: tuple[str, ...]  # subset of FOUR_BYTE_METHODS
    enter: int | None = None  # 0xB7
    exit: int | None = None  # 0xE9
    ear_read: int | None = None  # 0xC8 (extended address) / 0x16 (Spansion bank register)
    ear_write: int | None = None  # 0xC5 / 0x17
    ear_needs_wel: bool = True
    power_on_4byte: bool = False  # powers up in 4-byte mode (W25Q ADP bit set, "always")
    mode_flag: tuple[str, int] | None = None  # register bit mirroring 4-byte mode (W25Q SR3.0)


@dataclass(frozen=True)
class QpiSpec:
    """4-4-4 mode: 1-line opcodes are not understood while it is on."""

    enter: tuple[int, ...]
    exit: tuple[int, ...]
    needs_qe: bool
    set_read_params: int | None = None  # 0xC0 on Winbond (dummy clocks in P5:4)
    read_param_dummies: tuple[int, ...] = ()  # dummy clocks selected by P5:4 = 0..3


@dataclass(frozen=True)
class MicronConfig:
    """Micron flag status and configuration registers (N25Q / MT25Q)."""

    nvcr_reset: int = 0xFFFF
    vcr_reset: int = 0xFB
    evcr_reset: int = 0xDF
    fsr_reset: int = 0x80
    wren_for_4byte: bool = True  # EN4B/EX4B need WREN on MT25Q (not on N25Q128)


@dataclass(frozen=True)
class DummyConfig:
    """Read dummy clocks selected by a field of a status/configuration register (Macronix DC)."""

    register: str
    shift: int
    width: int
    table: dict[int, tuple[int, ...]]  # opcode -> wait clocks (mode+dummy) per field value


@dataclass(frozen=True)
class OctalRead:
    """A read command in an octal state (8S or 8D)."""

    opcode: int  # the first instruction byte; the second follows the chip's extension rule
    state: str  # "8S" or "8D"
    max_mhz: float


@dataclass(frozen=True)
class OctalSpec:
    """Octal protocol states and how the chip enters and leaves them, as data.

    Every octal part keeps its mode, its read latency and its data strobe in a volatile
    configuration space addressed by a register-address write (Macronix WRCR2 0x72 / RDCR2 0x71
    into CR2, Micron and Winbond 0x81 / 0x85 into the volatile configuration registers,
    Infineon WRAR 0x71 / RDAR 0x65 into CFRxV). ``modes`` maps the masked byte at
    ``mode_address`` to the protocol state it selects; ``dummy_codes`` turns the byte at
    ``dummy_address`` into read latency clocks (a plain count when a code is not listed).
    """

    extension: str  # second opcode byte: "inverted" (opcode ^ 0xFF) or "repeated" (opcode)
    dtr_byte_order: str  # "d1d0": the odd-address byte leaves on the rising edge (Macronix)
    config_write: int
    config_read: int
    config_address_bytes: int  # in SPI; octal states always carry 4 address bytes
    config_read_dummy: int  # clocks between address and data of a config read, in SPI
    mode_address: int
    mode_mask: int
    modes: dict[int, str]  # masked mode byte -> "spi" | "8S" | "8D"
    no_dqs_modes: tuple[int, ...]  # mode bytes whose octal DTR runs without the data strobe
    dummy_address: int
    dummy_mask: int
    dummy_codes: dict[int, int]
    config_reset: dict[int, int]  # power-on value of each configuration byte (address -> value)
    reads: tuple[OctalRead, ...]
    program: int  # octal page program (4-byte address)
    register_address_bytes: int  # status/ID/register reads in octal carry this many address bytes
    register_dummy: dict[str, int]  # and wait this many clocks, per octal state
    id_opcode: int = 0x9F
    volatile_base: int = 0  # first address of the volatile configuration registers (SFDP SCCR)
    dummy_for_mhz: tuple[tuple[float, int], ...] = ()  # (up to MHz, least 8D read latency)

    def opcode_pair(self, opcode: int) -> int:
        """The 16-bit instruction an octal host sends for ``opcode``."""
        second = opcode ^ 0xFF if self.extension == "inverted" else opcode
        return opcode << 8 | second

    def read_latency(self, config: dict[int, int]) -> int:
        code = config.get(self.dummy_address, 0) & self.dummy_mask
        return self.dummy_codes.get(code, code)

    def least_dummy(self, mhz: float) -> int | None:
        """The fewest 8D read latency clocks the datasheet allows at ``mhz`` (None: too fast)."""
        return next((n for top, n in self.dummy_for_mhz if mhz <= top), None)


@dataclass(frozen=True)
class Timing:
    """A chip's datasheet times (typical, maximum) besides its erases."""

    page_program_us: tuple[float, float]  # typ, max
    write_status_ms: tuple[float, float]
    reset_us: float
    suspend_us: float = 30.0
    release_dpd_us: float = 3.0


@dataclass(frozen=True)
class ChipSpec:
    """A NOR chip as data (``data/chips``): identity, geometry, commands, registers, timing."""

    name: str
    vendor: str
    jedec_id: bytes
    size: int
    page_size: int
    voltage: tuple[float, float]
    reads: tuple[ReadCommand, ...]
    programs: tuple[ProgramCommand, ...]
    erases: tuple[EraseType, ...]
    chip_erase: ChipErase
    status: StatusSpec
    addressing: AddressingSpec
    timing: Timing
    sources: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    device_id: int | None = None  # 0x90 REMS / 0xAB RES device byte
    qpi: QpiSpec | None = None
    micron: MicronConfig | None = None
    dummy_config: DummyConfig | None = None
    octal: OctalSpec | None = None
    reset: tuple[int, int] | None = (0x66, 0x99)
    deep_power_down: tuple[int, int] | None = (0xB9, 0xAB)
    suspend: tuple[int, int] | None = (0x75, 0x7A)
    unique_id: tuple[int, int, int] | None = None  # opcode, dummy bytes, length
    sfdp: bool = True
    dies: int = 1  # >1: one package holding several dies (modelled per die)
    uncertain: tuple[str, ...] = ()  # values not confirmed against a datasheet
    notes: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def manufacturer_id(self) -> int:
        return self.jedec_id[0]

    @property
    def needs_4byte(self) -> bool:
        return self.size > 16 * MIB

    @property
    def qe(self) -> QeRule:
        return self.status.qe

    @property
    def has_qe_bit(self) -> bool:
        return self.status.qe.register is not None

    def read_command(self, opcode: int, protocol: str | None = None) -> ReadCommand | None:
        """The read entry for ``opcode`` (3- or 4-byte form), optionally in ``protocol``."""
        for cmd in self.reads:
            if opcode in (cmd.opcode, cmd.opcode_4b) and protocol in (None, cmd.protocol):
                return cmd
        return None

    def program_command(self, opcode: int) -> ProgramCommand | None:
        return next((p for p in self.programs if opcode in (p.opcode, p.opcode_4b)), None)

    def erase_type(self, opcode: int) -> EraseType | None:
        return next((e for e in self.erases if opcode in (e.opcode, e.opcode_4b)), None)

    @property
    def sector_size(self) -> int:
        """Smallest erase size."""
        return min(e.size for e in self.erases)

    @property
    def block_size(self) -> int:
        """Largest erase size below a whole chip (64 KiB on most parts)."""
        return max(e.size for e in self.erases)

    def describe(self) -> str:
        return (f"{self.name} ({self.vendor}, {self.size // MIB} MiB, "
                f"JEDEC {self.jedec_id.hex(' ').upper()})")


# ---------------------------------------------------------------------------------------------
# Loading


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    return value


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _pair(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(f"{where}: expected [typical, maximum], got {value!r}")
    return _num(value[0], where), _num(value[1], where)


def _opt_int(d: dict[str, Any], key: str, where: str) -> int | None:
    return None if key not in d else _int(d[key], f"{where}.{key}")


def _protocol(value: Any, where: str) -> str:
    if value not in PROTOCOLS:
        raise ConfigError(f"{where}: protocol {value!r} is not one of {', '.join(PROTOCOLS)}")
    return str(value)


def _parse_chip(data: dict[str, Any], origin: str) -> ChipSpec:
    try:
        return _build_chip(data, origin)
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: missing or malformed field ({exc!r})") from None


def _build_chip(data: dict[str, Any], origin: str) -> ChipSpec:
    name = str(data["name"])
    where = f"{origin} ({name})"
    status_d = data["status"]
    qe_name = status_d["qe"]
    if qe_name not in QE_RULES:
        raise ConfigError(f"{where}: unknown qe rule {qe_name!r} (known: {', '.join(QE_RULES)})")
    qe = QE_RULES[qe_name]
    quad_gated = qe.register is not None

    reads = tuple(
        ReadCommand(
            opcode=_int(r["opcode"], f"{where}.read"),
            protocol=_protocol(r["protocol"], f"{where}.read"),
            mode_clocks=_int(r.get("mode", 0), f"{where}.read.mode"),
            dummy_clocks=_int(r.get("dummy", 0), f"{where}.read.dummy"),
            max_mhz=_num(r["max_mhz"], f"{where}.read.max_mhz"),
            needs_qe=bool(r.get("qe", quad_gated and r["protocol"] in ("1-1-4", "1-4-4"))),
            opcode_4b=_opt_int(r, "opcode_4b", f"{where}.read"),
        )
        for r in data["read"]
    )
    programs = tuple(
        ProgramCommand(
            opcode=_int(p["opcode"], f"{where}.program"),
            protocol=_protocol(p["protocol"], f"{where}.program"),
            needs_qe=bool(p.get("qe", quad_gated and p["protocol"] in ("1-1-4", "1-4-4"))),
            opcode_4b=_opt_int(p, "opcode_4b", f"{where}.program"),
        )
        for p in data["program"]
    )
    erases = tuple(
        EraseType(
            opcode=_int(e["opcode"], f"{where}.erase"),
            size=_int(e["size"], f"{where}.erase.size"),
            typ_ms=_num(e["typ_ms"], f"{where}.erase.typ_ms"),
            max_ms=_num(e["max_ms"], f"{where}.erase.max_ms"),
            opcode_4b=_opt_int(e, "opcode_4b", f"{where}.erase"),
        )
        for e in data["erase"]
    )
    ce = data["chip_erase"]
    chip_erase = ChipErase(
        opcodes=tuple(_int(o, f"{where}.chip_erase") for o in ce["opcodes"]),
        typ_ms=_num(ce["typ_ms"], f"{where}.chip_erase.typ_ms"),
        max_ms=_num(ce["max_ms"], f"{where}.chip_erase.max_ms"),
    )
    registers = tuple(
        Register(
            name=str(r["name"]),
            read=_opt_int(r, "read", f"{where}.status"),
            write=_opt_int(r, "write", f"{where}.status"),
            wrsr_index=_opt_int(r, "wrsr_index", f"{where}.status"),
            writable=_int(r.get("writable", 0), f"{where}.status.writable"),
            reset=_int(r.get("reset", 0), f"{where}.status.reset"),
        )
        for r in status_d["registers"]
    )
    status = StatusSpec(
        registers=registers,
        qe=qe,
        wrsr_opcode=_int(status_d.get("wrsr", 0x01), f"{where}.status.wrsr"),
        one_byte_wrsr_clears_rest=bool(status_d.get("one_byte_wrsr_clears_rest", False)),
        volatile_wren=_opt_int(status_d, "volatile_wren", f"{where}.status"),
        protect=None if "protect" not in status_d else ProtectSpec(
            bp_mask=_int(status_d["protect"]["bp_mask"], f"{where}.status.protect.bp_mask"),
            tb_bit=_opt_int(status_d["protect"], "tb_bit", f"{where}.status.protect"),
            unit=_int(status_d["protect"]["unit"], f"{where}.status.protect.unit"),
        ),
    )
    addr_d = data.get("addressing", {})
    addressing = AddressingSpec(
        methods=tuple(addr_d.get("methods", ())),
        enter=_opt_int(addr_d, "enter", f"{where}.addressing"),
        exit=_opt_int(addr_d, "exit", f"{where}.addressing"),
        ear_read=_opt_int(addr_d, "ear_read", f"{where}.addressing"),
        ear_write=_opt_int(addr_d, "ear_write", f"{where}.addressing"),
        ear_needs_wel=bool(addr_d.get("ear_needs_wel", True)),
        power_on_4byte=bool(addr_d.get("power_on_4byte", False)),
        mode_flag=None if "mode_flag" not in addr_d else (
            str(addr_d["mode_flag"][0]), _int(addr_d["mode_flag"][1], f"{where}.mode_flag")),
    )
    t = data["timing"]
    timing = Timing(
        page_program_us=_pair(t["page_program_us"], f"{where}.timing.page_program_us"),
        write_status_ms=_pair(t["write_status_ms"], f"{where}.timing.write_status_ms"),
        reset_us=_num(t["reset_us"], f"{where}.timing.reset_us"),
        suspend_us=_num(t.get("suspend_us", 30.0), f"{where}.timing.suspend_us"),
        release_dpd_us=_num(t.get("release_dpd_us", 3.0), f"{where}.timing.release_dpd_us"),
    )
    qpi = None
    if "qpi" in data:
        q = data["qpi"]
        qpi = QpiSpec(
            enter=tuple(q["enter"]),
            exit=tuple(q["exit"]),
            needs_qe=bool(q.get("needs_qe", False)),
            set_read_params=_opt_int(q, "set_read_params", f"{where}.qpi"),
            read_param_dummies=tuple(q.get("read_param_dummies", ())),
        )
    micron = None
    if "micron" in data:
        m = data["micron"]
        micron = MicronConfig(
            nvcr_reset=_int(m.get("nvcr_reset", 0xFFFF), f"{where}.micron.nvcr_reset"),
            vcr_reset=_int(m.get("vcr_reset", 0xFB), f"{where}.micron.vcr_reset"),
            evcr_reset=_int(m.get("evcr_reset", 0xDF), f"{where}.micron.evcr_reset"),
            fsr_reset=_int(m.get("fsr_reset", 0x80), f"{where}.micron.fsr_reset"),
            wren_for_4byte=bool(m.get("wren_for_4byte", True)),
        )
    dummy_config = None
    if "dummy_config" in data:
        d = data["dummy_config"]
        dummy_config = DummyConfig(
            register=str(d["register"]),
            shift=_int(d["shift"], f"{where}.dummy_config.shift"),
            width=_int(d["width"], f"{where}.dummy_config.width"),
            table={int(k, 0): tuple(v) for k, v in d["table"].items()},
        )

    octal = _build_octal(data["octal"], f"{where}.octal") if "octal" in data else None

    def opt_pair(key: str, default: tuple[int, int] | None) -> tuple[int, int] | None:
        if key not in data:
            return default
        value = data[key]
        if value is False:
            return None
        return _int(value[0], f"{where}.{key}"), _int(value[1], f"{where}.{key}")

    uid = data.get("unique_id")
    jedec_text = str(data["jedec_id"]).replace(" ", "")
    try:
        jedec = bytes.fromhex(jedec_text)
    except ValueError:
        raise ConfigError(f"{where}: jedec_id {data['jedec_id']!r} is not hex") from None
    sources = tuple(str(s) for s in data["sources"])
    if not sources:
        raise ConfigError(f"{where}: 'sources' must cite at least one datasheet")
    spec = ChipSpec(
        name=name,
        vendor=str(data["vendor"]),
        jedec_id=jedec,
        size=_int(data["size"], f"{where}.size"),
        page_size=_int(data.get("page_size", 256), f"{where}.page_size"),
        voltage=_pair(data["voltage"], f"{where}.voltage"),
        reads=reads,
        programs=programs,
        erases=erases,
        chip_erase=chip_erase,
        status=status,
        addressing=addressing,
        timing=timing,
        sources=sources,
        aliases=tuple(str(a) for a in data.get("aliases", ())),
        device_id=_opt_int(data, "device_id", where),
        qpi=qpi,
        micron=micron,
        dummy_config=dummy_config,
        octal=octal,
        reset=opt_pair("reset", (0x66, 0x99)),
        deep_power_down=opt_pair("deep_power_down", (0xB9, 0xAB)),
        suspend=opt_pair("suspend", (0x75, 0x7A)),
        unique_id=None if uid is None else (_int(uid[0], where), _int(uid[1], where),
                                            _int(uid[2], where)),
        sfdp=bool(data.get("sfdp", True)),
        dies=_int(data.get("dies", 1), f"{where}.dies"),
        uncertain=tuple(str(u) for u in data.get("uncertain", ())),
        notes=str(data.get("notes", "")),
        raw=data,
    )
    problems = check(spec)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return spec


def _int_keys(table: dict[str, Any], where: str) -> dict[int, int]:
    return {int(k, 0): _int(v, f"{where}.{k}") for k, v in table.items()}


def _build_octal(o: dict[str, Any], where: str) -> OctalSpec:
    for key, allowed in (("extension", OPCODE_EXTENSIONS), ("dtr_byte_order", DTR_BYTE_ORDERS)):
        if o[key] not in allowed:
            raise ConfigError(f"{where}.{key}: {o[key]!r} is not one of {', '.join(allowed)}")
    modes = {int(k, 0): str(v) for k, v in o["modes"].items()}
    bad = [v for v in modes.values() if v not in ("spi", *OCTAL_STATES)]
    if bad:
        raise ConfigError(f"{where}.modes: unknown states {bad} (use spi, 8S, 8D)")
    reads = tuple(OctalRead(_int(r["opcode"], f"{where}.read"), str(r["state"]),
                            _num(r["max_mhz"], f"{where}.read.max_mhz")) for r in o["read"])
    if any(r.state not in OCTAL_STATES for r in reads):
        raise ConfigError(f"{where}.read: state must be one of {', '.join(OCTAL_STATES)}")
    return OctalSpec(
        extension=str(o["extension"]),
        dtr_byte_order=str(o["dtr_byte_order"]),
        config_write=_int(o["config_write"], f"{where}.config_write"),
        config_read=_int(o["config_read"], f"{where}.config_read"),
        config_address_bytes=_int(o["config_address_bytes"], f"{where}.config_address_bytes"),
        config_read_dummy=_int(o.get("config_read_dummy", 0), f"{where}.config_read_dummy"),
        mode_address=_int(o["mode_address"], f"{where}.mode_address"),
        mode_mask=_int(o.get("mode_mask", 0xFF), f"{where}.mode_mask"),
        modes=modes,
        no_dqs_modes=tuple(_int(v, f"{where}.no_dqs_modes") for v in o.get("no_dqs_modes", ())),
        dummy_address=_int(o["dummy_address"], f"{where}.dummy_address"),
        dummy_mask=_int(o.get("dummy_mask", 0xFF), f"{where}.dummy_mask"),
        dummy_codes=_int_keys(o.get("dummy_codes", {}), f"{where}.dummy_codes"),
        config_reset=_int_keys(o.get("config_reset", {}), f"{where}.config_reset"),
        reads=reads,
        program=_int(o["program"], f"{where}.program"),
        register_address_bytes=_int(o.get("register_address_bytes", 0),
                                    f"{where}.register_address_bytes"),
        register_dummy={str(k): _int(v, f"{where}.register_dummy")
                        for k, v in o["register_dummy"].items()},
        id_opcode=_int(o.get("id_opcode", 0x9F), f"{where}.id_opcode"),
        volatile_base=_int(o.get("volatile_base", 0), f"{where}.volatile_base"),
        dummy_for_mhz=tuple((_num(mhz, where), _int(clocks, where))
                            for mhz, clocks in o.get("dummy_for_mhz", ())),
    )


def _check_octal(spec: ChipSpec, octal: OctalSpec) -> list[str]:
    problems = []
    if not any(r.state == "8D" for r in octal.reads) and "8D" in octal.modes.values():
        problems.append("octal: an 8D mode but no 8D read")
    if set(octal.register_dummy) != set(OCTAL_STATES) & set(octal.modes.values()):
        problems.append("octal.register_dummy must name every octal state the chip offers")
    if not any(p.protocol == "1-1-1" and p.opcode_4b for p in spec.programs):
        problems.append("octal: the 1-1-1 page program needs its 4-byte opcode (octal PP)")
    if any(e.opcode_4b is None for e in spec.erases):
        problems.append("octal: every erase needs its 4-byte opcode (octal commands use it)")
    return problems


def check(spec: ChipSpec) -> list[str]:
    """Consistency problems of a chip description (empty when it is usable)."""
    problems: list[str] = []
    size = spec.size
    if size <= 0 or size & (size - 1):
        problems.append(f"size {size} is not a power of two")
    if spec.page_size <= 0 or spec.page_size & (spec.page_size - 1) or spec.page_size > 4096:
        problems.append(f"page_size {spec.page_size} is not a power of two <= 4096")
    if len(spec.jedec_id) not in (2, 3, 6):
        problems.append("jedec_id must be 3 bytes (or 2/6 for extended IDs)")
    lo, hi = spec.voltage
    if not 1.0 <= lo < hi <= 5.5:
        problems.append(f"voltage range {lo}-{hi} V is implausible")
    if not spec.erases:
        problems.append("no erase commands")
    for e in spec.erases:
        if e.size <= 0 or e.size & (e.size - 1) or size % e.size:
            problems.append(f"erase 0x{e.opcode:02X} size {e.size} does not divide the chip size")
        if not 0 < e.typ_ms <= e.max_ms:
            problems.append(f"erase 0x{e.opcode:02X}: need 0 < typ <= max")
    ce = spec.chip_erase
    if not ce.opcodes or not 0 < ce.typ_ms <= ce.max_ms:
        problems.append("chip_erase needs opcodes and 0 < typ <= max")
    for pair_name, (typ, worst) in (("page_program_us", spec.timing.page_program_us),
                                    ("write_status_ms", spec.timing.write_status_ms)):
        if not 0 < typ <= worst:
            problems.append(f"timing.{pair_name}: need 0 < typ <= max")
    opcodes = [r.opcode for r in spec.reads if r.protocol != "4-4-4"]
    if len(set(opcodes)) != len(opcodes):
        problems.append("a read opcode is listed twice for the same mode")
    for r in spec.reads:
        if not 0 < r.max_mhz <= 200 or not 0 <= r.wait_clocks <= 31:
            problems.append(f"read 0x{r.opcode:02X}: max_mhz or clocks out of range")
    if not any(r.protocol == "1-1-1" for r in spec.reads):
        problems.append("no 1-1-1 read command")
    if not any(p.protocol == "1-1-1" for p in spec.programs):
        problems.append("no 1-1-1 page program command")
    names = [r.name for r in spec.status.registers]
    if "sr1" not in names:
        problems.append("status.registers must include sr1 (WIP/WEL)")
    qe = spec.status.qe
    if qe.register is not None and qe.register not in names:
        problems.append(f"qe rule {qe.name} needs register {qe.register}")
    methods = spec.addressing.methods
    unknown = [m for m in methods if m not in FOUR_BYTE_METHODS]
    if unknown:
        problems.append(f"unknown 4-byte methods {unknown} (known: {', '.join(FOUR_BYTE_METHODS)})")
    if spec.needs_4byte and not methods:
        problems.append("size > 16 MiB but no 4-byte addressing method")
    if "opcodes" in methods and (
        any(e.opcode_4b is None for e in spec.erases if e.size in (spec.sector_size,
                                                                   spec.block_size))
        or any(p.opcode_4b is None for p in spec.programs if p.protocol == "1-1-1")
    ):
        # W25Q256JV-class parts have no 4-byte 32 KiB erase; sector, block and PP must exist
        problems.append("4-byte opcodes claimed but sector/block erase or PP lacks opcode_4b")
    if {"en4b", "wren-en4b"} & set(methods) and spec.addressing.enter is None:
        problems.append("EN4B method without an 'enter' opcode")
    if spec.dies < 1:
        problems.append("dies must be >= 1")
    if spec.octal is not None:
        problems += _check_octal(spec, spec.octal)
    return problems


def _folder() -> Any:
    return resources.files("extflash") / "data" / "chips"


@functools.cache
def _load_entry(file_name: str) -> ChipSpec:
    """One shipped chip file, parsed once (a command that names its chip reads only that one)."""
    origin = f"data/chips/{file_name}"
    try:
        data = cache.parse_toml((_folder() / file_name).read_text(encoding="utf-8"))
    except cache.TomlError as exc:
        raise ConfigError(f"{origin}: not valid TOML ({exc})") from None
    return _parse_chip(data, origin)


@functools.cache
def _load_all() -> tuple[ChipSpec, ...]:
    names = sorted(e.name for e in _folder().iterdir() if e.name.endswith(".toml"))
    return tuple(_load_entry(name) for name in names)


def load_file(path: str) -> ChipSpec:
    """Load one chip file (for a user's own chip description)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = cache.parse_toml(fh.read())
    except OSError as exc:
        raise ConfigError(f"cannot read chip file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML (not UTF-8 text)") from None
    except cache.TomlError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return _parse_chip(data, path)


def all() -> tuple[ChipSpec, ...]:  # the brief names the API chips.all()
    return _load_all()


def _key(name: str) -> str:
    return name.strip().upper().replace("-", "").replace("_", "").replace(" ", "")


def find(name: str) -> ChipSpec:
    """The chip called ``name`` (case-insensitive; aliases and ordering suffixes accepted)."""
    key = _key(name)
    # A chip's file is named after it (w25q128jv.toml): try that one alone first. Names and
    # aliases are unique across the chip files (tests/test_chips.py), so a name match there is
    # the answer the full scan would give.
    own = f"{key.lower()}.toml"
    if key.isalnum() and (_folder() / own).is_file() and _key(_load_entry(own).name) == key:
        return _load_entry(own)
    chips = _load_all()
    for chip in chips:
        if key in (_key(n) for n in (chip.name, *chip.aliases)):
            return chip
    # Ordering codes carry package/temperature suffixes: W25Q128JVSIQ -> W25Q128JV.
    prefixed = [c for c in chips if key.startswith(_key(c.name))]
    if prefixed:
        return max(prefixed, key=lambda c: len(c.name))
    names = [c.name for c in chips]
    import difflib  # only to suggest a name: not on every command's start

    close = difflib.get_close_matches(name.upper(), names, n=4, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"known chips: {', '.join(names)}"
    raise ConfigError(f"unknown flash chip '{name}'", hint=hint)


def by_jedec(jedec_id: bytes) -> tuple[ChipSpec, ...]:
    """Chips answering 0x9F with ``jedec_id`` (several real parts share an ID)."""
    return tuple(c for c in _load_all() if c.jedec_id == bytes(jedec_id[: len(c.jedec_id)]))
