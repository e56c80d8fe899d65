"""Vendor behaviour of the NOR model: QE, QPI, 4-byte addressing, reset, power-down, suspend,
Micron registers, status-register writes, block protection and SFDP."""

from __future__ import annotations

import pytest
from test_nor import addr_cmd, last, make, op, program, rd_reg, read, wait_idle, wr

from extflash import chips
from extflash.emu.flash import sfdp
from extflash.emu.flash.nor import NorFlash
from extflash.emu.spi import SpiCommand

# -- quad enable ---------------------------------------------------------------------------------


def quad_read(chip: NorFlash, address: int, n: int, **kw: int) -> bytes:
    return chip.transfer(addr_cmd(0xEB, address, width=kw.get("width", 3), lines=4,
                                  dummy=kw.get("dummy", 6), read=n))


@pytest.mark.parametrize(("name", "clear_qe"), [
    ("W25Q128JV", b"\x00\x00"),  # QE = SR2 bit 1, written as the 2nd byte of 0x01
    ("GD25Q128", b"\x00\x00"),
    ("MX25L12835F", b"\x00"),  # QE = SR bit 6
    ("IS25LP128", b"\x00"),
])
def test_quad_commands_ignored_when_qe_is_clear(name: str, clear_qe: bytes) -> None:
    chip = make(name, timing="instant")
    program(chip, 0x40, b"\x12\x34")
    chip.transfer(op(0x06))
    chip.transfer(wr(0x01, clear_qe))
    assert not chip.quad_enabled
    assert quad_read(chip, 0x40, 2) == b"\xff\xff"
    assert last(chip) == ("rejected", "quad read 0xEB ignored: QE=0")
    assert chip.read_check(addr_cmd(0xEB, 0, lines=4, dummy=6, read=1)) is not None
    rule = chip.spec.qe
    chip.transfer(op(0x06))
    assert rule.write_opcode is not None
    set_qe = bytearray(rule.write_bytes)
    set_qe[-1] = 1 << rule.bit
    chip.transfer(wr(rule.write_opcode, bytes(set_qe)))
    assert chip.quad_enabled
    assert rule.read_opcode is not None
    assert chip.transfer(rd_reg(rule.read_opcode))[0] >> rule.bit & 1
    assert quad_read(chip, 0x40, 2) == b"\x12\x34"


def test_micron_has_no_qe_gate() -> None:
    chip = make("MT25QL128", timing="instant")
    program(chip, 0, b"\xa5")
    assert chip.transfer(addr_cmd(0xEB, 0, lines=4, dummy=10, read=1)) == b"\xa5"


def test_winbond_one_byte_wrsr_leaves_sr2() -> None:
    chip = make(timing="instant")
    chip.transfer(op(0x06))
    chip.transfer(wr(0x01, b"\x00"))
    assert chip.transfer(rd_reg(0x35)) == b"\x02"  # QER 100: SR2 untouched


def test_quad_page_program_needs_qe() -> None:
    chip = make(timing="instant")
    chip.transfer(op(0x06))
    chip.transfer(wr(0x31, b"\x00"))  # clear QE through the SR2-only write
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x32, 0, data=b"\x00", data_lines=4))
    assert last(chip)[0] == "rejected" and "QE=0" in last(chip)[1]
    assert read(chip, 0, 1) == b"\xff"


def test_volatile_status_write_is_not_kept(tmp_path) -> None:
    chip = make(timing="instant")
    chip.transfer(op(0x50))
    chip.transfer(wr(0x31, b"\x00"))
    assert chip.transfer(rd_reg(0x35)) == b"\x00" and not chip.wel
    chip.transfer(op(0x66))
    chip.transfer(op(0x99))
    assert chip.transfer(rd_reg(0x35)) == b"\x02"  # reset restores the non-volatile value


def test_status_write_takes_tw() -> None:
    chip = make()
    chip.transfer(op(0x06))
    chip.transfer(wr(0x01, b"\x00\x02"))
    assert chip.busy
    assert chip.clock.next_event_fs() == int(chip.spec.timing.write_status_ms[0] * 10**12)


# -- QPI -----------------------------------------------------------------------------------------


def test_gigadevice_qpi_enter_exit_and_read_parameters() -> None:
    chip = make("GD25Q128", timing="instant")
    program(chip, 0x80, b"\x11\x22\x33\x44")
    chip.transfer(op(0x38))
    assert last(chip)[0] == "rejected"  # QE=0 from the factory on this part: 0x38 ignored
    chip.transfer(op(0x06))
    chip.transfer(wr(0x31, b"\x02"))
    chip.transfer(op(0x38))
    assert chip.qpi
    # 1-line opcodes are no longer understood...
    assert chip.transfer(rd_reg(0x9F, 3)) == b"\xff" * 3
    assert "QPI" in last(chip)[1]
    # ...4-line ones are; QPI 0xEB waits 2 clocks by default (0xC0 P5:4 = 00).
    assert chip.transfer(rd_reg(0x9F, 3, lines=4)) == bytes.fromhex("C84018")
    qread = addr_cmd(0xEB, 0x80, lines=4, instr_lines=4, dummy=2, read=4)
    assert chip.transfer(qread) == b"\x11\x22\x33\x44"
    chip.transfer(wr(0xC0, b"\x20", lines=4))  # P5:4 = 10: six wait clocks
    assert chip.transfer(qread) != b"\x11\x22\x33\x44"
    six = addr_cmd(0xEB, 0x80, lines=4, instr_lines=4, dummy=6, read=4)
    assert chip.transfer(six) == b"\x11\x22\x33\x44"
    chip.transfer(op(0xFF))  # a 1-line 0xFF reads as 0xFF on four lines: leaves QPI
    assert not chip.qpi
    assert chip.transfer(rd_reg(0x9F, 3)) == bytes.fromhex("C84018")


def test_macronix_qpi_program_and_read() -> None:
    chip = make("MX25L12835F", timing="instant")
    chip.transfer(op(0x35))
    assert chip.qpi
    chip.transfer(op(0x06, lines=4))
    chip.transfer(addr_cmd(0x02, 0x100, lines=4, instr_lines=4, data=b"\x5a"))
    assert last(chip)[0] == "ok"
    got = chip.transfer(addr_cmd(0xEB, 0x100, lines=4, instr_lines=4, dummy=6, read=1))
    assert got == b"\x5a"
    chip.transfer(op(0xF5, lines=4))
    assert not chip.qpi


def test_winbond_jv_has_no_qpi() -> None:
    chip = make()
    chip.transfer(op(0x38))
    assert not chip.qpi and last(chip)[0] == "rejected"


# -- 4-byte addressing ---------------------------------------------------------------------------


def test_winbond_en4b_and_dedicated_opcodes() -> None:
    chip = make("W25Q256JV", timing="instant")
    top = 0x01_23_45_60
    chip.memory[top : top + 2] = b"\xbe\xef"
    chip.memory[0x23_45_60 : 0x23_45_62] = b"\x01\x02"
    assert read(chip, 0x23_45_60, 2) == b"\x01\x02"  # 3-byte mode: the low 16 MiB
    assert chip.transfer(addr_cmd(0x13, top, width=4, read=2)) == b"\xbe\xef"
    chip.transfer(op(0xB7))
    assert chip.four_byte and chip.transfer(rd_reg(0x15))[0] & 1  # SR3.ADS mirrors it
    assert read(chip, top, 2, width=4) == b"\xbe\xef"
    # A 3-byte address in 4-byte mode: the chip takes 8 more address bits from the
    # (pulled-up) following clocks and reads from (addr << 8) | 0xFF.
    chip.memory[0x45_60_FF] = 0x77
    assert read(chip, 0x00_45_60, 1) != b"\x77"
    chip.transfer(op(0xE9))
    assert not chip.four_byte


def test_three_byte_address_in_four_byte_mode_is_shifted() -> None:
    chip = make("W25Q256JV")
    chip.transfer(op(0xB7))
    base = 0x01_23_45_00
    chip.memory[base + 0xFF : base + 0x104] = bytes([0x80, 0x01, 0x02, 0x03, 0x04])
    # 0x0B with a 3-byte address 0x012345 and 8 dummy clocks: the chip takes the 8
    # pulled-up dummy clocks as its last address byte (0x012345FF) and then waits its own
    # 8 dummy clocks while the host is already sampling: one byte of 1s, then the data.
    got = chip.transfer(addr_cmd(0x0B, 0x01_23_45, dummy=8, read=3))
    assert got == bytes([0xFF, 0x80, 0x01])


def test_extended_address_register() -> None:
    chip = make("W25Q256JV", timing="instant")
    chip.memory[0x01_00_00_10] = 0x42
    chip.transfer(wr(0xC5, b"\x01"))
    assert last(chip)[0] == "rejected"  # needs WREN
    chip.transfer(op(0x06))
    chip.transfer(wr(0xC5, b"\x01"))
    assert chip.transfer(rd_reg(0xC8)) == b"\x01"
    assert read(chip, 0x10, 1) == b"\x42"


def test_spansion_bank_register_and_4byte_opcodes() -> None:
    chip = make("S25FL256S", timing="instant")
    chip.memory[0x01_80_00_00] = 0x99
    chip.transfer(wr(0x17, b"\x81"))  # EXTADD + bank 1, no WREN needed on FL-S
    assert chip.four_byte and chip.transfer(rd_reg(0x16)) == b"\x81"
    assert read(chip, 0x01_80_00_00, 1, width=4) == b"\x99"
    program(chip, 0x01_80_00_01, b"\x00", opcode=0x12, width=4)
    assert chip.memory[0x01_80_00_01] == 0


def test_micron_en4b_needs_wren_and_sets_flag_status() -> None:
    chip = make("MT25QL512", timing="instant")
    chip.transfer(op(0xB7))
    assert not chip.four_byte and last(chip)[0] == "rejected"
    chip.transfer(op(0x06))
    chip.transfer(op(0xB7))
    assert chip.four_byte and chip.transfer(rd_reg(0x70))[0] & 0x01


def test_macronix_4byte_erase_opcode() -> None:
    chip = make("MX25L51245G", timing="instant")
    far = 0x03_F0_10_00
    program(chip, far, b"\x00", opcode=0x12, width=4)
    assert chip.memory[far] == 0
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x21, far + 5, width=4))
    assert chip.memory[far] == 0xFF


# -- reset, power-down, suspend ------------------------------------------------------------------


def test_reset_enable_arms_only_the_next_command() -> None:
    chip = make("MX25L51245G")
    chip.transfer(op(0xB7))
    chip.transfer(op(0x66))
    chip.transfer(op(0x05))
    chip.transfer(op(0x99))
    assert last(chip)[0] == "rejected" and chip.four_byte
    chip.transfer(op(0x66))
    chip.transfer(op(0x99))
    assert not chip.four_byte


def test_reset_clears_wel_and_qpi() -> None:
    chip = make("MX25L12835F")
    chip.transfer(op(0x35))
    chip.transfer(op(0x06, lines=4))
    chip.transfer(op(0x66, lines=4))
    chip.transfer(op(0x99, lines=4))
    assert not chip.qpi and not chip.wel


def test_deep_power_down() -> None:
    chip = make()
    chip.transfer(op(0xB9))
    assert chip.transfer(rd_reg(0x9F, 3)) == b"\xff" * 3
    assert "deep power-down" in last(chip)[1]
    # RES: the opcode, 3 dummy bytes, then the device ID.
    res = SpiCommand(0xAB, dummy_cycles=24, data_lines=1, read_length=1)
    assert chip.transfer(res) == b"\x17"
    assert chip.transfer(rd_reg(0x9F, 3)) == bytes.fromhex("EF4018")


def test_erase_suspend_allows_reads_then_resumes() -> None:
    chip = make()
    program(chip, 0x5000, b"\x00")
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0xD8, 0x10000))
    chip.clock.advance_fs(10 * 10**12)  # 10 ms into a 150 ms erase
    chip.transfer(op(0x75))
    assert not chip.busy and chip.transfer(rd_reg(0x35))[0] & 0x80  # SUS
    assert read(chip, 0x5000, 1) == b"\x00"
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x20, 0x5000))
    assert last(chip)[0] == "rejected"  # no second erase while one is suspended
    chip.transfer(op(0x7A))
    assert chip.busy and not chip.transfer(rd_reg(0x35))[0] & 0x80
    remaining = chip.busy_until - chip.clock.now_fs
    assert remaining == 140 * 10**12
    wait_idle(chip)


# -- Micron registers ----------------------------------------------------------------------------


def test_micron_flag_status_tracks_busy() -> None:
    chip = make("MT25QL512")
    assert chip.transfer(rd_reg(0x70)) == b"\x80"
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x20, 0))
    assert chip.transfer(rd_reg(0x70))[0] & 0x80 == 0
    wait_idle(chip)
    assert chip.transfer(rd_reg(0x70))[0] & 0x80


def test_micron_vcr_sets_dummy_cycles() -> None:
    chip = make("MT25QL128", timing="instant")
    program(chip, 0x10, b"\x3c\xc3")
    assert chip.transfer(addr_cmd(0xEB, 0x10, lines=4, dummy=10, read=2)) == b"\x3c\xc3"
    chip.transfer(op(0x06))
    chip.transfer(wr(0x81, b"\x6b"))  # VCR: 6 dummy clocks, XIP off, wrap default
    assert chip.transfer(rd_reg(0x85)) == b"\x6b"
    assert chip.transfer(addr_cmd(0xEB, 0x10, lines=4, dummy=6, read=2)) == b"\x3c\xc3"
    assert chip.transfer(addr_cmd(0x0B, 0x10, dummy=6, read=2)) == b"\x3c\xc3"
    assert chip.transfer(addr_cmd(0xEB, 0x10, lines=4, dummy=10, read=2)) != b"\x3c\xc3"


def test_micron_nvcr_persists_and_selects_power_on_mode(tmp_path) -> None:
    chip = make("MT25QL512", timing="instant")
    chip.transfer(op(0x06))
    chip.transfer(wr(0xB1, b"\xfe\xff"))  # NVCR bit 0 = 0: power up in 4-byte mode
    assert chip.transfer(rd_reg(0xB5, 2)) == b"\xfe\xff"
    assert not chip.four_byte  # non-volatile: takes effect at the next power-up
    path = tmp_path / "mt.bin"
    chip.save(path)
    again = NorFlash.load(chip.spec, chip.clock, path)
    assert again.four_byte and again.transfer(rd_reg(0x70))[0] & 1


def test_micron_evcr_quad_protocol() -> None:
    chip = make("N25Q128A", timing="instant")
    chip.transfer(op(0x06))
    chip.transfer(wr(0x61, b"\x5f"))  # EVCR bit 7 = 0: quad I/O protocol
    assert chip.qpi
    assert chip.transfer(rd_reg(0x9F, 3, lines=4)) == bytes.fromhex("20BA18")


# -- block protection ----------------------------------------------------------------------------


def test_block_protection_rejects_program_and_erase() -> None:
    chip = make(timing="instant")
    chip.transfer(op(0x06))
    chip.transfer(wr(0x01, b"\x04"))  # BP0: the top 256 KiB
    assert chip.protected_range() == (chip.spec.size - 0x40000, chip.spec.size)
    program(chip, chip.spec.size - 0x100, b"\x00")
    assert last(chip)[0] == "rejected" and "protected" in last(chip)[1]
    program(chip, 0, b"\x00")
    assert chip.memory[0] == 0
    chip.transfer(op(0x06))
    chip.transfer(op(0xC7))
    assert last(chip)[0] == "rejected"


# -- SFDP ----------------------------------------------------------------------------------------


def read_sfdp(chip: NorFlash, n: int = 512) -> bytes:
    return chip.transfer(addr_cmd(0x5A, 0, dummy=8, read=n))


@pytest.mark.parametrize("chip_spec", [c for c in chips.all() if c.sfdp], ids=lambda c: c.name)
def test_sfdp_parses_back_to_the_chip_data(chip_spec: chips.ChipSpec) -> None:
    chip = NorFlash(chip_spec, make().clock)
    info = sfdp.parse(read_sfdp(chip))
    assert info.size == chip_spec.size
    assert info.page_size == chip_spec.page_size
    assert info.qe_rule == chip_spec.qe.name
    assert [(e.size, e.opcode) for e in info.erases] == sorted(
        (e.size, e.opcode) for e in chip_spec.erases)
    for e, spec_e in zip(info.erases, sorted(chip_spec.erases, key=lambda e: e.size),
                         strict=True):
        assert spec_e.typ_ms <= e.typ_ms <= spec_e.typ_ms * 1.2 + 16  # quantised upwards
    by_protocol = {r.protocol: r for r in info.reads}
    for protocol in ("1-1-2", "1-2-2", "1-1-4", "1-4-4"):
        rc = next((r for r in chip_spec.reads if r.protocol == protocol), None)
        if rc is None:
            assert protocol not in by_protocol
            continue
        got = by_protocol[protocol]
        assert (got.opcode, got.mode_clocks, got.dummy_clocks) == (
            rc.opcode, rc.mode_clocks, rc.dummy_clocks)
    assert info.address_bytes == ("3or4" if chip_spec.addressing.methods else "3")
    if "opcodes" in chip_spec.addressing.methods:
        assert set(info.four_byte_erase_opcodes) == {
            e.opcode_4b for e in chip_spec.erases if e.opcode_4b is not None}
        assert 0x12 in info.four_byte_opcodes


def test_w25q128jv_sfdp_header_bytes() -> None:
    image = read_sfdp(make(), 16)
    assert image[:8] == b"SFDP\x06\x01\x00\xff"  # v1.6, one parameter header (BFPT only)
    assert image[8:12] == bytes([0x00, 0x06, 0x01, 16])  # BFPT id LSB, v1.6, 16 DWORDs


def test_sfdp_needs_eight_dummy_clocks_and_can_be_omitted() -> None:
    chip = make()
    chip.transfer(addr_cmd(0x5A, 0, dummy=0, read=4))
    assert last(chip)[0] == "rejected"
    spec = chips.find("W25Q64JV")
    import dataclasses
    bare = NorFlash(dataclasses.replace(spec, sfdp=False), make().clock)
    assert read_sfdp(bare, 4) == b"\xff" * 4 and last(bare)[0] == "rejected"


# -- events --------------------------------------------------------------------------------------


def test_events_are_bounded_and_describe_commands() -> None:
    chip = make()
    for _ in range(600):
        chip.transfer(rd_reg(0x05))
    assert len(chip.events) == 512
    assert chip.events[-1].command.startswith("0x05 1-0-1")
