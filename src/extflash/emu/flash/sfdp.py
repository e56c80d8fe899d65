"""JESD216 SFDP tables synthesized from a :class:`~extflash.chips.ChipSpec`, and a decoder.

:func:`build` lays out the SFDP header, the Basic Flash Parameter Table and, for chips with
dedicated 4-byte opcodes, the 4-byte Address Instruction Table. Quad chips get the JESD216B
layout (v1.6, 16 DWORDs) their parts report. Octal chips get what the External Memory Manager's
SFDP driver parses (JESD216D, v1.8): the BFPT to 20 DWORDs (DWORD 18: opcode extension and 8D
byte order; DWORD 20: highest octal clocks), the xSPI Profile 1.0 table (8D read opcode, status
read address and dummy, read latency per clock), the status/control/configuration register map
(octal DTR enable is a volatile bit), a sector map (one uniform region) and the command
sequence that enters 8D-8D-8D. ``omit`` and ``corrupt`` leave tables out or break them, for
tests of hosts that must cope (an MX25LM51245G on the STM32L562E-DK does not answer SFDP).
:func:`parse` decodes the same fields back (used by the tests and by ``extflash`` diagnostics to
read what a chip claims about itself).

Timings are quantised the JESD216 way (a 5-bit count and a unit), so a decoded value is the
datasheet value rounded up to the next representable step.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from extflash.chips import QE_RULES, ChipSpec, OctalSpec

BFPT_ID = 0xFF00
FOUR_BAIT_ID = 0xFF84
XSPI_PROFILE_ID = 0xFF05
SCCR_ID = 0xFF87
SECTOR_MAP_ID = 0xFF81
OCTAL_DDR_SEQUENCE_ID = 0xFF0A
TABLES = {"bfpt": BFPT_ID, "4bait": FOUR_BAIT_ID, "xspi": XSPI_PROFILE_ID, "sccr": SCCR_ID,
          "sector-map": SECTOR_MAP_ID, "8d-sequence": OCTAL_DDR_SEQUENCE_ID}
CORRUPTIONS = ("signature", *TABLES)  # a table name: its header points past the image
BFPT_DWORDS = 16
OCTAL_BFPT_DWORDS = 20
SCCR_DWORDS = 22
SIGNATURE = b"SFDP"
# BFPT DWORD 18 (JESD216D): 8D byte order and the opcode extension (Linux sfdp.h agrees)
DW18_BYTE_ORDER_SWAPPED = 1 << 31
DW18_EXTENSION_SHIFT = 29  # 0: repeated opcode, 1: inverted opcode
# BFPT DWORD 20 nibble codes for the highest clock of a mode (0xF: not supported)
_SPEED_CODES = ((33, 1), (50, 2), (66, 3), (80, 4), (100, 5), (133, 6), (166, 7), (200, 8),
                (250, 9), (266, 10), (333, 11), (400, 12))
_SPEED_SHIFTS = {("8D", True): 28, ("8D", False): 24, ("8S", True): 20, ("8S", False): 16}
# xSPI Profile 1.0 (JESD251, fields as Linux spi_nor_parse_profile1 reads them)
PROFILE1_RDSR_ADDR_BYTES = 1 << 29  # status reads in 8D carry 4 address bytes
PROFILE1_RDSR_DUMMY_8 = 1 << 28  # ... and wait 8 clocks (clear: 4)
_PROFILE1_DUMMY_FIELDS = ((200, 3, 7), (166, 4, 27), (133, 4, 17), (100, 4, 7))  # MHz, DW, shift
SCCR_DW22_OCTAL_DTR_VOLATILE = 1 << 31

# BFPT DWORD 3/4/6/7 fast-read slots: protocol -> (dword index 1-based, shift of the 16-bit half)
_READ_SLOTS = {"1-4-4": (3, 0), "1-1-4": (3, 16), "1-1-2": (4, 0), "1-2-2": (4, 16),
               "4-4-4": (7, 16)}
# DWORD 1 support bits per protocol
_READ_SUPPORT_BITS = {"1-1-2": 16, "1-2-2": 20, "1-4-4": 21, "1-1-4": 22}
# 4BAIT DWORD 1: opcode -> bit
_FOUR_BAIT_BITS = {0x13: 0, 0x0C: 1, 0x3C: 2, 0xBC: 3, 0x6C: 4, 0xEC: 5, 0x12: 6, 0x34: 7,
                   0x3E: 8}
# DWORD 16 4-byte entry method bits (31:24) and exit method bits (23:14)
_ENTER_BITS = {"en4b": 0, "wren-en4b": 1, "ear": 2, "bank": 3, "nvcr": 4, "opcodes": 5,
               "always": 6}
_EXIT_BITS = {"en4b": 0, "wren-en4b": 1, "ear": 2, "bank": 3}
_ERASE_UNITS_MS = (1, 16, 128, 1000)
_CHIP_ERASE_UNITS_MS = (16, 256, 4000, 64000)


def _quantise(value: float, units: tuple[float, ...], bits: int) -> tuple[int, int]:
    """(count, unit index) with (count + 1) * unit >= value, smallest unit that fits."""
    top = 1 << bits
    for index, unit in enumerate(units):
        count = max(1, math.ceil(value / unit))
        if count <= top:
            return count - 1, index
    return top - 1, len(units) - 1


def _multiplier(typ: float, worst: float) -> int:
    """JESD216 max = 2 * (m + 1) * typical, m in 0..15."""
    if typ <= 0:
        return 0
    return min(15, max(0, math.ceil(worst / (2 * typ)) - 1))


def _bfpt(spec: ChipSpec) -> list[int]:
    dw = [0xFFFFFFFF] * BFPT_DWORDS
    four_k = next((e for e in spec.erases if e.size == 4096), None)
    d1 = 0xFF800000 | (0b111 << 5)
    d1 |= 0b01 if four_k else 0b11
    d1 |= 1 << 2  # write granularity >= 64 bytes (page buffer)
    if spec.status.volatile_wren is None:
        d1 |= 1 << 4  # volatile SR writes use 0x06 (or do not exist)
    d1 |= (four_k.opcode if four_k else 0xFF) << 8
    methods = spec.addressing.methods
    address_mode = 0b10 if "always" in methods else 0b01 if methods else 0b00
    d1 |= address_mode << 17
    for rc in spec.reads:
        if rc.protocol in _READ_SUPPORT_BITS:
            d1 |= 1 << _READ_SUPPORT_BITS[rc.protocol]
    dw[0] = d1

    bits = spec.size * 8
    dw[1] = bits - 1 if bits <= 1 << 31 else (1 << 31) | (bits.bit_length() - 1)

    dw[2] = dw[3] = 0
    dw[4] = 0xFFFFFFEE  # 2-2-2 unsupported, 4-4-4 bit set below
    dw[5] = dw[6] = 0x0000FFFF
    seen: set[str] = set()
    for rc in spec.reads:  # the first entry per protocol is the one advertised
        slot = _READ_SLOTS.get(rc.protocol)
        if slot is None or rc.protocol in seen:
            continue
        seen.add(rc.protocol)
        index, shift = slot
        if rc.protocol == "4-4-4":
            dw[4] |= 1 << 4
        half = (rc.opcode << 8) | (min(rc.mode_clocks, 7) << 5) | min(rc.dummy_clocks, 31)
        dw[index - 1] = (dw[index - 1] & ~(0xFFFF << shift)) | (half << shift)

    erases = sorted(spec.erases, key=lambda e: e.size)[:4]
    types = [(e.size.bit_length() - 1, e.opcode) for e in erases]
    types += [(0, 0)] * (4 - len(types))
    dw[7] = types[0][0] | types[0][1] << 8 | types[1][0] << 16 | types[1][1] << 24
    dw[8] = types[2][0] | types[2][1] << 8 | types[3][0] << 16 | types[3][1] << 24

    d10 = _multiplier(max(e.typ_ms for e in erases), max(e.max_ms for e in erases))
    for i, e in enumerate(erases):
        count, unit = _quantise(e.typ_ms, _ERASE_UNITS_MS, 5)
        d10 |= (count | unit << 5) << (4 + 7 * i)
    dw[9] = d10

    pp_typ, pp_max = spec.timing.page_program_us
    count, unit = _quantise(pp_typ, (8, 64), 5)
    d11 = _multiplier(pp_typ, pp_max) | (spec.page_size.bit_length() - 1) << 4
    d11 |= (count | unit << 5) << 8
    d11 |= (0b1_0111 << 14) | (0b0_0001 << 19)  # byte program: 24 us first, 2 us more (nominal)
    ce_count, ce_unit = _quantise(spec.chip_erase.typ_ms, _CHIP_ERASE_UNITS_MS, 5)
    d11 |= (ce_count | ce_unit << 5) << 24
    d11 |= 1 << 31
    dw[10] = d11

    if spec.suspend:
        dw[11] = 0x7FFFFFFF & 0x0000_00EC  # suspend supported; nominal interval fields
        dw[12] = (spec.suspend[1] | spec.suspend[0] << 8 | spec.suspend[1] << 16
                  | spec.suspend[0] << 24)
    else:
        dw[11] = 0xFFFFFFFF
        dw[12] = 0xFFFFFFFF

    d14 = 0b11
    d14 |= (1 << 3) if spec.micron else (1 << 2)  # bit 3: flag status 0x70; bit 2: legacy 0x05
    if spec.deep_power_down:
        enter, leave = spec.deep_power_down
        d14 |= leave << 15 | enter << 23 | 0b0_0011 << 8
    else:
        d14 |= 1 << 31
    dw[13] = d14

    d15 = spec.status.qe.qer << 20
    qpi = spec.qpi
    if qpi is not None:
        enable = 0b00010 if 0x38 in qpi.enter else 0b00100 if 0x35 in qpi.enter else 0
        if qpi.needs_qe and 0x38 in qpi.enter:
            enable = 0b00001
        disable = 0b0001 if 0xFF in qpi.exit else 0b0010 if 0xF5 in qpi.exit else 0
        d15 |= enable << 4 | disable
    dw[14] = d15

    enter_bits = exit_bits = 0
    for m in methods:
        enter_bits |= 1 << _ENTER_BITS[m] if m in _ENTER_BITS else 0
        exit_bits |= 1 << _EXIT_BITS[m] if m in _EXIT_BITS else 0
    if methods:
        exit_bits |= 1 << 5  # soft reset leaves 4-byte mode
    reset_bits = 1 << 4 if spec.reset == (0x66, 0x99) else 0
    dw[15] = enter_bits << 24 | exit_bits << 14 | reset_bits << 8
    if spec.octal is not None:
        dw += _bfpt_octal(spec.octal)
    return dw


def _speed_code(mhz: float) -> int:
    """The DWORD 20 code of the fastest listed clock not above ``mhz``."""
    return max((code for top, code in _SPEED_CODES if top <= mhz), default=0xF)


def _bfpt_octal(octal: OctalSpec) -> list[int]:
    """BFPT DWORDs 17-20: no 1-1-8/1-8-8 reads, the 8D command form, no octal QE bit and the
    highest 8S/8D clock with and without data strobe."""
    d18 = DW18_BYTE_ORDER_SWAPPED if octal.dtr_byte_order == "d1d0" else 0
    d18 |= (1 if octal.extension == "inverted" else 0) << DW18_EXTENSION_SHIFT
    d20 = 0xFFFFFFFF
    for read in octal.reads:
        shift = _SPEED_SHIFTS[(read.state, True)]
        d20 = (d20 & ~(0xF << shift)) | (_speed_code(read.max_mhz) << shift)
    return [0, d18, 0, d20]


def _xspi_profile(spec: ChipSpec, octal: OctalSpec) -> list[int] | None:
    read_8d = next((r for r in octal.reads if r.state == "8D"), None)
    if read_8d is None:
        return None
    dw = [0] * 5
    dw[0] = read_8d.opcode << 8
    dw[0] |= PROFILE1_RDSR_ADDR_BYTES if octal.register_address_bytes == 4 else 0
    dw[0] |= PROFILE1_RDSR_DUMMY_8 if octal.register_dummy.get("8D", 4) >= 8 else 0
    for mhz, index, shift in _PROFILE1_DUMMY_FIELDS:
        dummy = octal.least_dummy(mhz)
        dw[index] |= min(dummy if dummy is not None else 0, 31) << shift
    return dw


def _sccr(octal: OctalSpec) -> list[int]:
    dw = [0] * SCCR_DWORDS
    dw[0] = octal.volatile_base  # DW1: where the volatile configuration registers start
    if "8D" in octal.modes.values():
        dw[21] = SCCR_DW22_OCTAL_DTR_VOLATILE  # CR2 / VCR / CFR5V are volatile on every part
    return dw


def _sector_map(spec: ChipSpec) -> list[int]:
    """One configuration, one region: the whole array, every erase type usable."""
    header = 0b11  # map descriptor (bit 1), the last one (bit 0); config 0, one region
    erase_types = (1 << min(4, len(spec.erases))) - 1
    return [header, ((spec.size // 256 - 1) << 8) | erase_types]


def _octal_ddr_sequence(spec: ChipSpec, octal: OctalSpec) -> list[int]:
    """The SPI commands that enter 8D-8D-8D: WREN, set the latency, WREN, set the mode. Each
    command takes two DWORDs: its length, then up to seven bytes (JESD216D §6.10 layout)."""
    enter = next((v for v, state in octal.modes.items() if state == "8D"), None)
    if enter is None:
        return []
    width = octal.config_address_bytes or (4 if spec.addressing.power_on_4byte else 3)
    fastest = max(r.max_mhz for r in octal.reads if r.state == "8D")
    dummy = octal.least_dummy(fastest)
    code = next((c for c, n in sorted(octal.dummy_codes.items()) if n == dummy), dummy)
    keep = octal.config_reset.get(octal.mode_address, 0) & ~octal.mode_mask
    commands = [bytes([0x06])]
    if code is not None:
        commands += [bytes([octal.config_write]) + octal.dummy_address.to_bytes(width, "big")
                     + bytes([code]), bytes([0x06])]
    commands.append(bytes([octal.config_write]) + octal.mode_address.to_bytes(width, "big")
                    + bytes([keep | enter]))
    dwords = []
    for command in commands:
        raw = (bytes([len(command)]) + command).ljust(8, b"\0")
        dwords += [int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:], "big")]
    return dwords


def _four_bait(spec: ChipSpec) -> list[int] | None:
    ops = [r.opcode_4b for r in spec.reads] + [p.opcode_4b for p in spec.programs]
    erase4 = [e.opcode_4b for e in sorted(spec.erases, key=lambda e: e.size)[:4]]
    if not any(op is not None for op in ops + erase4):
        return None
    d1 = 0
    for op in ops:
        if op in _FOUR_BAIT_BITS:
            d1 |= 1 << _FOUR_BAIT_BITS[op]
    d2 = 0
    for i, op in enumerate(erase4 + [None] * (4 - len(erase4))):
        if op is not None:
            d1 |= 1 << (9 + i)
        d2 |= (op if op is not None else 0xFF) << (8 * i)
    return [d1, d2]


def build(spec: ChipSpec, *, omit: tuple[str, ...] = (), corrupt: tuple[str, ...] = ()) -> bytes:
    """The SFDP address space of ``spec`` (header, parameter headers, tables).

    ``omit`` leaves tables out by name (:data:`TABLES`); ``corrupt`` breaks the signature or
    makes a table's header point past the end of the image."""
    unknown = [t for t in (*omit, *corrupt) if t not in CORRUPTIONS]
    if unknown:
        raise ValueError(f"unknown SFDP tables {unknown} (known: {', '.join(CORRUPTIONS)})")
    octal = spec.octal
    candidates: list[tuple[int, int, int, list[int] | None]] = [
        (BFPT_ID, 1, 8 if octal else 6, _bfpt(spec)),
        (FOUR_BAIT_ID, 1, 0, _four_bait(spec)),
    ]
    if octal is not None:
        candidates += [
            (XSPI_PROFILE_ID, 1, 0, _xspi_profile(spec, octal)),
            (SCCR_ID, 1, 0, _sccr(octal)),
            (SECTOR_MAP_ID, 1, 0, _sector_map(spec)),
            (OCTAL_DDR_SEQUENCE_ID, 1, 0, _octal_ddr_sequence(spec, octal) or None),
        ]
    names = {v: k for k, v in TABLES.items()}
    tables = [(tid, major, minor, dwords) for tid, major, minor, dwords in candidates
              if dwords is not None and names[tid] not in omit]
    offset = 8 + 8 * len(tables)
    headers = b""
    body = b""
    for table_id, major, minor, dwords in tables:
        pointer = offset + len(body)
        if names[table_id] in corrupt:
            pointer = 0xFFFF00
        headers += bytes([table_id & 0xFF, minor, major, len(dwords)])
        headers += pointer.to_bytes(3, "little") + bytes([table_id >> 8])
        body += struct.pack(f"<{len(dwords)}I", *dwords)
    signature = b"SFDQ" if "signature" in corrupt else SIGNATURE
    header = signature + bytes([8 if octal else 6, 1, max(0, len(tables) - 1), 0xFF])
    return header + headers + body


# ---------------------------------------------------------------------------------------------
# Decoding


@dataclass(frozen=True)
class SfdpRead:
    """A fast read the SFDP tables declare."""

    protocol: str
    opcode: int
    mode_clocks: int
    dummy_clocks: int


@dataclass(frozen=True)
class SfdpErase:
    """An erase type the SFDP tables declare."""

    size: int
    opcode: int
    typ_ms: float


@dataclass(frozen=True)
class SfdpInfo:
    """What a chip's SFDP tables say (JESD216), decoded."""

    version: tuple[int, int]
    size: int
    address_bytes: str  # "3", "3or4", "4"
    erases: tuple[SfdpErase, ...]
    reads: tuple[SfdpRead, ...]
    qe_rule: str
    page_size: int
    page_program_typ_us: float
    four_byte_entry: tuple[str, ...]
    four_byte_erase_opcodes: tuple[int, ...]
    four_byte_opcodes: tuple[int, ...]
    octal: SfdpOctal | None = None  # BFPT DWORDs 17-20 and the octal tables, when present
    problems: tuple[str, ...] = ()  # broken optional tables, skipped


@dataclass(frozen=True)
class SfdpOctal:
    """The octal facts of the SFDP tables: DTR byte order, opcode extension, clocks."""

    dtr_byte_swapped: bool  # BFPT DW18 bit 31
    opcode_extension: str  # "repeated" | "inverted" | "reserved" | "16-bit"
    max_mhz: dict[str, int]  # "8D" / "8S" with data strobe -> highest clock (0: unsupported)
    read_8d_opcode: int | None = None  # xSPI profile 1.0
    status_address_bytes: int | None = None
    status_dummy: int | None = None
    dummy_by_mhz: dict[int, int] = field(default_factory=dict)
    octal_dtr_volatile: bool | None = None  # SCCR DW22 bit 31
    volatile_register_offset: int | None = None  # SCCR DW1: base of the volatile registers
    sector_regions: tuple[tuple[int, int], ...] = ()  # (bytes, erase-type mask) per region
    enter_8d: tuple[bytes, ...] = ()  # SPI commands that enter 8D-8D-8D


class SfdpError(ValueError):
    pass


def parse(image: bytes) -> SfdpInfo:
    """Decode an SFDP image (as read with 0x5A from address 0)."""
    if image[:4] != SIGNATURE:
        raise SfdpError("no SFDP signature")
    minor, major, nph = image[4], image[5], image[6]
    tables: dict[int, list[int]] = {}
    problems: list[str] = []  # optional tables that are broken are skipped, as hosts do
    for i in range(nph + 1):
        h = image[8 + 8 * i : 16 + 8 * i]
        if len(h) < 8:
            raise SfdpError("parameter headers run past the image")
        table_id = h[7] << 8 | h[0]
        length = h[3]
        pointer = int.from_bytes(h[4:7], "little")
        raw = image[pointer : pointer + 4 * length]
        if len(raw) != 4 * length:
            if table_id == BFPT_ID:
                raise SfdpError(f"table 0x{table_id:04X} runs past the image")
            problems.append(f"table 0x{table_id:04X} runs past the image (skipped)")
            continue
        tables[table_id] = list(struct.unpack(f"<{length}I", raw))
    if BFPT_ID not in tables:
        raise SfdpError("no basic flash parameter table")
    dw = tables[BFPT_ID]
    d2 = dw[1]
    bits = 1 << (d2 & 0x7FFFFFFF) if d2 >> 31 else d2 + 1
    address_bytes = {0b00: "3", 0b01: "3or4", 0b10: "4"}.get(dw[0] >> 17 & 3, "?")
    reads = []
    for protocol, bit in _READ_SUPPORT_BITS.items():
        if dw[0] >> bit & 1:
            index, shift = _READ_SLOTS[protocol]
            half = dw[index - 1] >> shift & 0xFFFF
            reads.append(SfdpRead(protocol, half >> 8, half >> 5 & 7, half & 31))
    if dw[4] >> 4 & 1:
        half = dw[6] >> 16
        reads.append(SfdpRead("4-4-4", half >> 8, half >> 5 & 7, half & 31))
    erases = []
    for i in range(4):
        word = dw[7 + i // 2] >> (16 * (i % 2))
        exponent, opcode = word & 0xFF, word >> 8 & 0xFF
        if exponent:
            field = dw[9] >> (4 + 7 * i) & 0x7F
            typ = ((field & 31) + 1) * _ERASE_UNITS_MS[field >> 5]
            erases.append(SfdpErase(1 << exponent, opcode, typ))
    qer = dw[14] >> 20 & 7
    qe_rule = next(r.name for r in QE_RULES.values() if r.qer == qer)
    pp_field = dw[10] >> 8 & 0x3F
    pp_typ = ((pp_field & 31) + 1) * (64 if pp_field >> 5 else 8)
    entry = tuple(m for m, b in _ENTER_BITS.items() if dw[15] >> (24 + b) & 1)
    four = tables.get(FOUR_BAIT_ID)
    erase4: tuple[int, ...] = ()
    ops4: tuple[int, ...] = ()
    if four is not None:
        erase4 = tuple(four[1] >> (8 * i) & 0xFF for i in range(4) if four[0] >> (9 + i) & 1)
        ops4 = tuple(op for op, b in _FOUR_BAIT_BITS.items() if four[0] >> b & 1)
    octal = _parse_octal(dw, tables, problems) if len(dw) >= OCTAL_BFPT_DWORDS else None
    return SfdpInfo(
        version=(major, minor),
        size=bits // 8,
        address_bytes=address_bytes,
        erases=tuple(erases),
        reads=tuple(reads),
        qe_rule=qe_rule,
        page_size=1 << (dw[10] >> 4 & 0xF),
        page_program_typ_us=pp_typ,
        four_byte_entry=entry,
        four_byte_erase_opcodes=erase4,
        four_byte_opcodes=ops4,
        octal=octal,
        problems=tuple(problems),
    )


def _parse_octal(dw: list[int], tables: dict[int, list[int]],
                 problems: list[str]) -> SfdpOctal:
    speeds = {code: top for top, code in _SPEED_CODES}
    extension = ("repeated", "inverted", "reserved", "16-bit")[dw[17] >> DW18_EXTENSION_SHIFT & 3]
    max_mhz = {state: speeds.get(dw[19] >> _SPEED_SHIFTS[(state, True)] & 0xF, 0)
               for state in ("8D", "8S")}
    octal = SfdpOctal(dtr_byte_swapped=bool(dw[17] & DW18_BYTE_ORDER_SWAPPED),
                      opcode_extension=extension, max_mhz=max_mhz)
    for table_id, parse_table in ((XSPI_PROFILE_ID, _parse_profile1), (SCCR_ID, _parse_sccr),
                                  (SECTOR_MAP_ID, _parse_sector_map),
                                  (OCTAL_DDR_SEQUENCE_ID, _parse_sequence)):
        if table_id in tables:
            try:
                octal = dataclasses.replace(octal, **parse_table(tables[table_id]))
            except SfdpError as why:
                problems.append(f"table 0x{table_id:04X}: {why} (skipped)")
    return octal


def _parse_profile1(dwords: list[int]) -> dict[str, Any]:
    if len(dwords) < 5:
        raise SfdpError("xSPI profile 1.0 table is shorter than 5 DWORDs")
    return {"read_8d_opcode": dwords[0] >> 8 & 0xFF,
            "status_address_bytes": 4 if dwords[0] & PROFILE1_RDSR_ADDR_BYTES else 0,
            "status_dummy": 8 if dwords[0] & PROFILE1_RDSR_DUMMY_8 else 4,
            "dummy_by_mhz": {mhz: dwords[index] >> shift & 31
                             for mhz, index, shift in _PROFILE1_DUMMY_FIELDS}}


def _parse_sccr(dwords: list[int]) -> dict[str, Any]:
    if len(dwords) < SCCR_DWORDS:
        raise SfdpError(f"register map is shorter than {SCCR_DWORDS} DWORDs")
    return {"volatile_register_offset": dwords[0],
            "octal_dtr_volatile": bool(dwords[21] & SCCR_DW22_OCTAL_DTR_VOLATILE)}


def _parse_sector_map(dwords: list[int]) -> dict[str, Any]:
    if len(dwords) < 2 or not dwords[0] & 0b10:
        raise SfdpError("sector map does not start with a map descriptor")
    count = (dwords[0] >> 16 & 0xFF) + 1
    if len(dwords) < 1 + count:
        raise SfdpError("sector map lists more regions than it holds")
    return {"sector_regions": tuple((((r >> 8) + 1) * 256, r & 0xF)
                                    for r in dwords[1 : 1 + count])}


def _parse_sequence(dwords: list[int]) -> dict[str, Any]:
    enter: list[bytes] = []
    for first, second in zip(dwords[0::2], dwords[1::2], strict=False):
        raw = first.to_bytes(4, "big") + second.to_bytes(4, "big")
        if raw[0] == 0:
            break
        if raw[0] > 7:
            raise SfdpError(f"octal DDR command sequence: command of {raw[0]} bytes")
        enter.append(raw[1 : 1 + raw[0]])
    return {"enter_8d": tuple(enter)}
