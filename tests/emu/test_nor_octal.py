"""Octal chips: protocol states, the two-byte opcode, read latency, DQS and the DTR byte order,
driven through SpiCommand frames the way an OCTOSPI/XSPI controller sends them."""

from __future__ import annotations

import random

import pytest
from test_nor import addr_cmd, last, make, op

from extflash import chips
from extflash.emu.flash.nor import NorFlash
from extflash.emu.flash.octal import swap_pairs
from extflash.emu.spi import SpiCommand

PATTERN = bytes(range(0x10, 0x30))


def frame(chip: NorFlash, opcode: int, *, dtr: bool, address: int | None = None,
          dummy: int = 0, read: int = 0, data: bytes = b"", dqs: bool | None = None,
          instruction_dtr: bool | None = None) -> SpiCommand:
    """An octal frame as a host in 8S (dtr False) or 8D (dtr True) sends it."""
    octal = chip.spec.octal
    assert octal is not None
    return SpiCommand(octal.opcode_pair(opcode), instruction_lines=8, instruction_bytes=2,
                      address=address, address_bytes=4 if address is not None else 0,
                      address_lines=8 if address is not None else 0, dummy_cycles=dummy,
                      data_lines=8 if (read or data) else 0, ddr=dtr, write_data=data,
                      read_length=read, dqs=dtr if dqs is None else dqs,
                      instruction_dtr=dtr if instruction_dtr is None else instruction_dtr,
                      address_dtr=dtr)


def config_write_spi(chip: NorFlash, address: int, value: int) -> None:
    octal = chip.spec.octal
    assert octal is not None
    width = octal.config_address_bytes or 3
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(octal.config_write, address, width=width, data=bytes([value])))
    assert last(chip) == ("ok", "")


def macronix_in(state: str, dc_code: int = 7) -> NorFlash:
    """MX25LM51245G switched the way ST's BSP does: DC first, then CR2 0x0 (SOPI/DOPI)."""
    chip = make("MX25LM51245G", timing="instant")
    chip.memory[0x1000 : 0x1000 + len(PATTERN)] = PATTERN
    config_write_spi(chip, 0x300, dc_code)
    config_write_spi(chip, 0x0, {"8S": 0x01, "8D": 0x02}[state])
    assert chip.protocol == state
    return chip


def test_macronix_enters_octal_dtr_and_reads_in_d1d0_beat_order() -> None:
    chip = macronix_in("8D")  # DC = 7: 6 clocks
    bus = chip.transfer(frame(chip, 0xEE, dtr=True, address=0x1000, dummy=6, read=16))
    assert bus != PATTERN[:16]
    assert swap_pairs(bus) == PATTERN[:16]  # what MTYP "Macronix" (D1/D0) hands the CPU
    # the native lane decodes no octal opcode itself: it runs only frames the model proved
    facts = chip.lane_facts()
    assert facts is not None and facts.octal_mode is not None
    assert (facts.sr1_opcode, facts.programs, facts.reads) == (0, (), ())
    # zero-copy safe in bus order; not with another latency, without DQS or in STR
    assert chip.read_check(frame(chip, 0xEE, dtr=True, address=0, dummy=6, read=4)) is None
    for wrong in (frame(chip, 0xEE, dtr=True, address=0, dummy=5, read=4),
                  frame(chip, 0xEE, dtr=True, address=0, dummy=6, read=4, dqs=False),
                  frame(chip, 0xEC, dtr=True, address=0, dummy=6, read=4),
                  frame(chip, 0x05, dtr=True, address=0, dummy=5, read=2)):
        assert chip.read_check(wrong) is not None
    events = len(chip.events)
    assert chip.events[-1].outcome == "ok" and len(chip.events) == events  # no side effects


@pytest.mark.parametrize("dummy", [4, 5, 7, 8])
def test_wrong_read_latency_never_returns_the_data(dummy: int) -> None:
    chip = macronix_in("8D")
    bus = chip.transfer(frame(chip, 0xEE, dtr=True, address=0x1000, dummy=dummy, read=16))
    assert swap_pairs(bus) != PATTERN[:16]
    assert bus != PATTERN[:16]


def test_latency_follows_the_dc_field() -> None:
    chip = macronix_in("8D", dc_code=0)  # 20 clocks
    assert chip.octal is not None and chip.octal.read_latency == 20
    bus = chip.transfer(frame(chip, 0xEE, dtr=True, address=0x1000, dummy=20, read=8))
    assert swap_pairs(bus) == PATTERN[:8]


def test_dtr_read_without_dqs_is_one_beat_off() -> None:
    chip = macronix_in("8D")
    bus = chip.transfer(frame(chip, 0xEE, dtr=True, address=0x1000, dummy=6, read=8, dqs=False))
    assert bus == b"\xff" + swap_pairs(PATTERN[:8])[:7]


def test_octal_str_read_and_register_reads() -> None:
    chip = macronix_in("8S")
    assert chip.transfer(frame(chip, 0xEC, dtr=False, address=0x1000, dummy=6, read=8)) == (
        PATTERN[:8])
    ident = chip.transfer(frame(chip, 0x9F, dtr=False, address=0, dummy=4, read=3))
    assert ident == chip.spec.jedec_id


def test_macronix_id_in_8d_arrives_doubled() -> None:
    chip = macronix_in("8D")
    ident = chip.transfer(frame(chip, 0x9F, dtr=True, address=0, dummy=5, read=6))
    assert ident == bytes.fromhex("C2C285853A3A")


@pytest.mark.parametrize("bad", ["spi-opcode", "str-opcode", "one-byte-opcode", "wrong-ext"])
def test_commands_in_the_wrong_form_are_ignored(bad: str) -> None:
    chip = macronix_in("8D")
    cmd = {
        "spi-opcode": op(0x06),
        "str-opcode": frame(chip, 0x06, dtr=True, instruction_dtr=False),
        "one-byte-opcode": SpiCommand(0x06, instruction_lines=8, instruction_dtr=True),
        "wrong-ext": SpiCommand(0x0606, instruction_lines=8, instruction_bytes=2,
                                instruction_dtr=True),
    }[bad]
    chip.transfer(cmd)
    assert last(chip)[0] == "rejected"
    assert not chip.wel


def test_program_in_8d_lands_in_memory_order_and_reads_back_in_spi() -> None:
    chip = macronix_in("8D")
    chip.transfer(frame(chip, 0x06, dtr=True))
    bus_order = swap_pairs(b"\x01\x02\x03\x04")  # the controller (MTYP Macronix) swaps
    chip.transfer(frame(chip, 0x12, dtr=True, address=0x2000, data=bus_order))
    assert last(chip) == ("ok", "")
    assert bytes(chip.memory[0x2000:0x2004]) == b"\x01\x02\x03\x04"
    # back to SPI: 1-byte writes are not allowed in 8D, the 2-byte form is
    chip.transfer(frame(chip, 0x06, dtr=True))
    chip.transfer(frame(chip, 0x72, dtr=True, address=0, data=b"\x00"))
    assert last(chip)[0] == "rejected" and chip.protocol == "8D"
    chip.transfer(frame(chip, 0x06, dtr=True))
    chip.transfer(frame(chip, 0x72, dtr=True, address=0, data=b"\x00\x00"))
    assert chip.protocol == "spi"
    assert chip.transfer(addr_cmd(0x13, 0x2000, width=4, read=4)) == b"\x01\x02\x03\x04"


def test_reset_only_in_the_current_protocol() -> None:
    chip = macronix_in("8D")
    chip.transfer(op(0x66))
    chip.transfer(op(0x99))
    assert chip.protocol == "8D"  # SPI-form reset is not seen by an 8D chip
    chip.transfer(frame(chip, 0x66, dtr=True))
    chip.transfer(frame(chip, 0x99, dtr=True))
    assert chip.protocol == "spi"
    assert chip.lane_facts() is not None


def test_erase_and_status_in_8d() -> None:
    chip = macronix_in("8D")
    chip.timing = "typical"
    chip.transfer(frame(chip, 0x06, dtr=True))
    chip.transfer(frame(chip, 0x21, dtr=True, address=0x1000))
    assert last(chip) == ("ok", "")
    status = chip.transfer(frame(chip, 0x05, dtr=True, address=0, dummy=5, read=2))
    assert status[0] & 1 and status[0] == status[1]
    chip.clock.advance_to(chip.busy_until)
    assert bytes(chip.memory[0x1000:0x1010]) == b"\xff" * 16


def micron_in(mode: int, name: str = "MT35XU512ABA") -> NorFlash:
    chip = make(name, timing="instant")
    chip.memory[0x1000 : 0x1000 + len(PATTERN)] = PATTERN
    config_write_spi(chip, 0x1, 20)
    config_write_spi(chip, 0x0, mode)
    return chip


def test_micron_octal_dtr_with_dqs_keeps_d0d1_order() -> None:
    chip = micron_in(0xE7)
    assert chip.protocol == "8D"
    assert chip.transfer(frame(chip, 0xFD, dtr=True, address=0x1000, dummy=20, read=8)) == (
        PATTERN[:8])
    assert chip.transfer(frame(chip, 0xFD, dtr=True, address=0x1000, dummy=16, read=8)) != (
        PATTERN[:8])


def test_micron_without_dqs_mode() -> None:
    chip = micron_in(0xC7)
    assert chip.octal is not None and not chip.octal.strobe
    waits = chip.transfer(frame(chip, 0xFD, dtr=True, address=0x1000, dummy=20, read=4))
    assert waits == b"\xff" * 4  # the host waits for a strobe that never comes
    assert chip.transfer(frame(chip, 0xFD, dtr=True, address=0x1000, dummy=20, read=4,
                               dqs=False)) == PATTERN[:4]


def test_micron_status_in_8d_has_no_address() -> None:
    chip = micron_in(0xE7)
    chip.transfer(frame(chip, 0x06, dtr=True))
    assert chip.transfer(frame(chip, 0x05, dtr=True, dummy=8, read=2)) == b"\x02\x02"


def test_config_reads_in_spi() -> None:
    chip = make("MT35XU512ABA")
    assert chip.transfer(addr_cmd(0x85, 0x1, dummy=8, read=1)) == b"\x1f"
    assert chip.transfer(addr_cmd(0x85, 0x0, dummy=8, read=1)) == b"\xff"
    assert chip.transfer(addr_cmd(0x85, 0x1, dummy=7, read=1)) != b"\x1f"  # a clock early


def test_config_write_needs_wren() -> None:
    chip = make("MX25LM51245G")
    chip.transfer(addr_cmd(0x72, 0, width=4, data=b"\x02"))
    assert last(chip) == ("rejected", "configuration write without WREN (WEL=0)")
    assert chip.protocol == "spi"


@pytest.mark.parametrize("name", [c.name for c in chips.all() if c.octal])
def test_every_octal_chip_switches_to_8d_and_reads(name: str) -> None:
    spec = chips.find(name)
    octal = spec.octal
    assert octal is not None
    chip = make(name, timing="instant")
    chip.memory[0x40:0x48] = PATTERN[:8]
    latency = octal.read_latency(octal.config_reset)
    enter = next(v for v, state in octal.modes.items() if state == "8D")
    config_write_spi(chip, octal.mode_address,
                     (octal.config_reset.get(octal.mode_address, 0) & ~octal.mode_mask) | enter)
    assert chip.protocol == "8D"
    read_op = next(r.opcode for r in octal.reads if r.state == "8D")
    bus = chip.transfer(frame(chip, read_op, dtr=True, address=0x40, dummy=latency, read=8,
                              dqs=chip.octal is not None and chip.octal.strobe))
    expected = swap_pairs(PATTERN[:8]) if octal.dtr_byte_order == "d1d0" else PATTERN[:8]
    assert bus == expected


def test_least_dummy_per_frequency() -> None:
    octal = chips.find("MX25LM51245G").octal
    assert octal is not None
    assert [octal.least_dummy(f) for f in (50, 84, 100, 133, 200, 250)] == [6, 8, 10, 14, 20,
                                                                                None]


def test_repeated_extension_takes_an_str_opcode_in_8d() -> None:
    """``op`` held for a clock reaches an 8D chip as ``op op``: a repeated-opcode part takes it,
    an inverted-opcode part (Macronix, see above) does not."""
    chip = micron_in(0xE7)
    chip.transfer(frame(chip, 0x06, dtr=True, instruction_dtr=False))
    assert last(chip) == ("ok", "") and chip.wel


def test_each_octal_read_belongs_to_its_state() -> None:
    chip = macronix_in("8D")
    chip.transfer(frame(chip, 0xEC, dtr=True, address=0x1000, dummy=6, read=4))
    assert last(chip)[0] == "rejected"
    chip = macronix_in("8S")
    assert chip.transfer(frame(chip, 0xEE, dtr=False, address=0x1000, dummy=6, read=4)) == (
        b"\xff" * 4)


def test_octal_str_program_keeps_byte_order_and_busy_refuses_reads() -> None:
    chip = macronix_in("8S")
    chip.timing = "typical"
    chip.transfer(frame(chip, 0x06, dtr=False))
    chip.transfer(frame(chip, 0x12, dtr=False, address=0x3001, data=b"\xa1\xb2\xc3"))
    assert bytes(chip.memory[0x3001:0x3004]) == b"\xa1\xb2\xc3"
    assert chip.transfer(frame(chip, 0xEC, dtr=False, address=0x3001, dummy=6, read=3)) == (
        b"\xff" * 3)
    assert "busy" in last(chip)[1]
    chip.clock.advance_to(chip.busy_until)
    assert chip.transfer(frame(chip, 0xEC, dtr=False, address=0x3001, dummy=6, read=3)) == (
        b"\xa1\xb2\xc3")


def test_infineon_cfr5v_enters_and_leaves_8d() -> None:
    chip = make("S28HS512T", timing="instant")
    chip.memory[0:4] = b"\x01\x02\x03\x04"
    config_write_spi(chip, 0x800003, 0x0B)  # MEMLAT: 24 clocks
    config_write_spi(chip, 0x800006, 0x43)
    assert chip.protocol == "8D"
    assert chip.transfer(frame(chip, 0xEE, dtr=True, address=0, dummy=24, read=4)) == (
        b"\x01\x02\x03\x04")
    chip.transfer(frame(chip, 0x06, dtr=True))
    assert chip.transfer(frame(chip, 0x05, dtr=True, address=0, dummy=4, read=2)) == b"\x02\x02"
    chip.transfer(frame(chip, 0x71, dtr=True, address=0x800006, data=b"\x40\x00"))
    assert last(chip) == ("ok", "") and chip.protocol == "spi"


def test_micron_leaves_8d_with_a_two_byte_vcr_write() -> None:
    chip = micron_in(0xE7)
    chip.transfer(frame(chip, 0x06, dtr=True))
    chip.transfer(frame(chip, 0x81, dtr=True, address=0, data=b"\xff\x1f"))
    assert chip.protocol == "spi"
    assert chip.octal is not None and chip.octal.config[1] == 0x1F


def test_w35t_id_in_8d_uses_9e() -> None:
    chip = micron_in(0xE7, "W35T51NW")
    assert chip.transfer(frame(chip, 0x9E, dtr=True, dummy=8, read=6)) == bytes.fromhex(
        "EFEF5A5A1A1A")
    chip.transfer(frame(chip, 0x9F, dtr=True, dummy=8, read=2))
    assert last(chip)[0] == "rejected"


@pytest.mark.parametrize("name", [c.name for c in chips.all() if c.octal])
def test_any_frame_gets_an_answer_of_the_asked_length(name: str) -> None:
    """Whatever a controller sends (wrong widths, rates, lines, oversized fields), the chip
    answers with exactly read_length bytes or ignores it; it never raises."""
    rng = random.Random(name)
    chip = make(name, timing="instant")
    octal = chip.spec.octal
    assert octal is not None
    enter = next(v for v, state in octal.modes.items() if state == "8D")
    config_write_spi(chip, octal.mode_address,
                     (octal.config_reset.get(octal.mode_address, 0) & ~octal.mode_mask) | enter)
    for _ in range(300):
        n = rng.choice([0, 1, 2, 7, 16])
        cmd = SpiCommand(
            rng.choice([octal.opcode_pair(rng.choice([0x05, 0x06, 0x12, 0x21, 0x9F, 0xEE, 0xFD])),
                        rng.getrandbits(20)]),
            instruction_lines=rng.choice([1, 4, 8]), instruction_bytes=rng.choice([1, 2]),
            instruction_dtr=rng.random() < 0.8,
            address=rng.getrandbits(36) if rng.random() < 0.7 else None,
            address_bytes=rng.choice([0, 3, 4]), address_lines=rng.choice([0, 1, 8]),
            address_dtr=rng.random() < 0.8, dummy_cycles=rng.randrange(0, 24),
            data_lines=rng.choice([0, 1, 8]), ddr=rng.random() < 0.8, dqs=rng.random() < 0.8,
            write_data=rng.randbytes(rng.choice([0, 1, 2, 5])) if rng.random() < 0.3 else b"",
            read_length=n)
        assert len(chip.transfer(cmd)) == n


def test_latency_too_short_for_the_clock_reads_stale_beats() -> None:
    chip = macronix_in("8D")  # DC = 7: 6 clocks, enough up to 66 MHz
    read = frame(chip, 0xEE, dtr=True, address=0x1000, dummy=6, read=8)
    chip.sck_mhz = 66
    assert swap_pairs(chip.transfer(read)) == PATTERN[:8] and chip.read_check(read) is None
    chip.sck_mhz = 100  # the BSP table asks 10 clocks at 104 MHz
    assert swap_pairs(chip.transfer(read)) != PATTERN[:8]
    assert "too few at 100 MHz" in str(chip.read_check(read))
    chip.sck_mhz = 250  # above the fastest listed clock
    assert swap_pairs(chip.transfer(read)) != PATTERN[:8]


def test_swap_pairs_leaves_an_odd_last_byte() -> None:
    """An MTYP swap of an odd-length transfer (the controller's) swaps the whole pairs only."""
    assert swap_pairs(b"\x01\x02\x03\x04") == b"\x02\x01\x04\x03"
    assert swap_pairs(b"\x01\x02\x03") == b"\x02\x01\x03"
    assert swap_pairs(bytearray(b"\x01")) == b"\x01"
