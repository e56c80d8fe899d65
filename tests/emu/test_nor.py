"""The NOR model driven through SpiCommand exactly as a controller drives it."""

from __future__ import annotations

import struct

import pytest

from extflash import chips
from extflash.emu.clock import FS_PER_US, VirtualClock
from extflash.emu.flash.nor import NorFlash
from extflash.emu.spi import SpiCommand
from extflash.errors import ConfigError

MS = 1000 * FS_PER_US


def make(name: str = "W25Q128JV", timing: str = "typical") -> NorFlash:
    return NorFlash(chips.find(name), VirtualClock(100_000_000), timing=timing)


def op(opcode: int, *, lines: int = 1) -> SpiCommand:
    return SpiCommand(opcode, instruction_lines=lines)


def rd_reg(opcode: int, n: int = 1, *, lines: int = 1) -> SpiCommand:
    return SpiCommand(opcode, instruction_lines=lines, data_lines=lines, read_length=n)


def wr(opcode: int, data: bytes, *, lines: int = 1) -> SpiCommand:
    return SpiCommand(opcode, instruction_lines=lines, data_lines=lines, write_data=data)


def addr_cmd(opcode: int, address: int, *, width: int = 3, lines: int = 1,
             data: bytes = b"", data_lines: int | None = None, read: int = 0,
             dummy: int = 0, alt: int | None = None, alt_bytes: int = 0,
             instr_lines: int = 1) -> SpiCommand:
    return SpiCommand(opcode, instruction_lines=instr_lines, address=address, address_bytes=width,
                      address_lines=lines, alternate=alt, alternate_bytes=alt_bytes,
                      alternate_lines=lines if alt_bytes else 0, dummy_cycles=dummy,
                      data_lines=(data_lines or lines) if (data or read) else 0,
                      write_data=data, read_length=read)


def wait_idle(chip: NorFlash) -> None:
    nxt = chip.clock.next_event_fs()
    if nxt is not None:
        chip.clock.advance_to(nxt)
    assert not chip.busy


def program(chip: NorFlash, address: int, data: bytes, *, opcode: int = 0x02,
            width: int = 3) -> None:
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(opcode, address, width=width, data=data))
    wait_idle(chip)


def read(chip: NorFlash, address: int, n: int, *, width: int = 3) -> bytes:
    return chip.transfer(addr_cmd(0x03, address, width=width, read=n))


def last(chip: NorFlash) -> tuple[str, str]:
    ev = chip.events[-1]
    return ev.outcome, ev.reason


# -- identification ---------------------------------------------------------------------------


def test_jedec_id_and_rems() -> None:
    chip = make()
    assert chip.transfer(rd_reg(0x9F, 3)) == bytes.fromhex("EF4018")
    assert chip.transfer(addr_cmd(0x90, 0, read=2)) == bytes([0xEF, 0x17])
    mx = make("MX25L51245G")
    assert mx.transfer(rd_reg(0x9F, 3)) == bytes.fromhex("C2201A")


def test_fresh_chip_is_erased_and_idle() -> None:
    chip = make()
    assert read(chip, 0, 16) == b"\xff" * 16
    assert chip.transfer(rd_reg(0x05)) == b"\x00"
    assert not chip.busy


# -- write enable, program, erase -------------------------------------------------------------


def test_program_without_wren_is_rejected() -> None:
    chip = make()
    chip.transfer(addr_cmd(0x02, 0x100, data=b"\x00\x01"))
    assert last(chip)[0] == "rejected" and "WEL=0" in last(chip)[1]
    assert read(chip, 0x100, 2) == b"\xff\xff"


def test_wren_sets_wel_and_completion_clears_it() -> None:
    chip = make()
    chip.transfer(op(0x06))
    assert chip.transfer(rd_reg(0x05))[0] & 0x02
    chip.transfer(addr_cmd(0x02, 0, data=b"\x12"))
    assert chip.transfer(rd_reg(0x05))[0] & 0x03 == 0x03  # WIP and WEL while programming
    wait_idle(chip)
    assert chip.transfer(rd_reg(0x05))[0] & 0x03 == 0


def test_program_ands_bits() -> None:
    chip = make()
    program(chip, 0x1000, b"\xf0\x0f\xaa")
    program(chip, 0x1000, b"\x3c\x3c\xff")
    assert read(chip, 0x1000, 3) == bytes([0xF0 & 0x3C, 0x0F & 0x3C, 0xAA])


def test_program_wraps_within_page() -> None:
    chip = make()
    program(chip, 0x2000 + 250, bytes(range(10)))
    assert read(chip, 0x2000 + 250, 6) == bytes(range(6))
    assert read(chip, 0x2000, 4) == bytes(range(6, 10))
    assert read(chip, 0x2100, 1) == b"\xff"  # the next page is untouched


def test_program_more_than_a_page_keeps_the_last_page_bytes() -> None:
    chip = make()
    data = bytes(i & 0xFF for i in range(300))
    program(chip, 0x3000, data)
    # 300 bytes from offset 0: the last 256 stay, starting where byte 44 landed (offset 44).
    page = read(chip, 0x3000, 256)
    assert page[44:] == data[44:256]
    assert page[:44] == data[256:300]


def test_erase_sets_the_aligned_block() -> None:
    chip = make()
    for base in (0x0000, 0x1000, 0x2000):
        program(chip, base + 0x10, b"\x00" * 4)
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x20, 0x1234))  # unaligned address inside sector 1
    wait_idle(chip)
    assert read(chip, 0x1010, 4) == b"\xff" * 4
    assert read(chip, 0x0010, 4) == b"\x00" * 4
    assert read(chip, 0x2010, 4) == b"\x00" * 4


def test_64k_erase_and_chip_erase() -> None:
    chip = make(timing="instant")
    program(chip, 0x10000, b"\x00")
    program(chip, 0x20000, b"\x00")
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0xD8, 0x1FFFF))
    assert read(chip, 0x10000, 1) == b"\xff" and read(chip, 0x20000, 1) == b"\x00"
    chip.transfer(op(0x06))
    chip.transfer(op(0xC7))
    assert read(chip, 0x20000, 1) == b"\xff"


def test_commands_while_busy_are_rejected_but_status_polls_work() -> None:
    chip = make()
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x20, 0))
    assert read(chip, 0, 4) == b"\xff" * 4 and last(chip)[0] == "rejected"
    assert "busy" in last(chip)[1]
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x02, 0, data=b"\x00"))
    assert last(chip)[0] == "rejected"
    assert chip.transfer(rd_reg(0x05))[0] & 1
    assert chip.transfer(rd_reg(0x35)) == b"\x02"  # RDSR2 is honoured while busy on W25Q


def test_erase_takes_datasheet_time_in_virtual_time() -> None:
    chip = make()
    spec = chip.spec
    sector = spec.erase_type(0x20)
    assert sector is not None
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x20, 0))
    start = chip.clock.now_fs
    assert chip.clock.next_event_fs() == start + int(sector.typ_ms * MS)
    chip.clock.advance_fs(int(sector.typ_ms * MS) - 1)
    assert chip.busy
    chip.clock.advance_fs(1)
    assert not chip.busy
    slow = make(timing="max")
    slow.transfer(op(0x06))
    slow.transfer(addr_cmd(0x20, 0))
    assert slow.clock.next_event_fs() == int(sector.max_ms * MS)


def test_page_program_time() -> None:
    chip = make()
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x02, 0, data=b"\x00"))
    assert chip.busy_until == int(chip.spec.timing.page_program_us[0] * FS_PER_US)


def test_on_change_reports_ranges() -> None:
    chip = make(timing="instant")
    seen: list[tuple[int, int]] = []
    chip.on_change.append(lambda s, e: seen.append((s, e)))
    program(chip, 0x105, b"\x00")
    chip.transfer(op(0x06))
    chip.transfer(addr_cmd(0x52, 0x9000))
    assert seen == [(0x100, 0x200), (0x8000, 0x10000)]


# -- reads with the right and the wrong timing -------------------------------------------------


@pytest.fixture
def patterned() -> NorFlash:
    chip = make(timing="instant")
    program(chip, 0x400, bytes([0x00, 0x55, 0xA5, 0x3C, 0x0F, 0xF0, 0x81, 0x7E]))
    return chip


PATTERN = bytes([0x00, 0x55, 0xA5, 0x3C, 0x0F, 0xF0, 0x81, 0x7E])


def shift_bits(data: bytes, bits: int, n: int) -> bytes:
    """Reference: stream seen ``bits`` late (positive) or early with leading 1s (negative)."""
    stream = "".join(f"{b:08b}" for b in data)
    stream = "1" * -bits + stream if bits < 0 else stream[bits:]
    stream = (stream + "1" * 64)[: n * 8]
    return int(stream, 2).to_bytes(n, "big")


def test_fast_read_with_correct_dummy(patterned: NorFlash) -> None:
    assert patterned.transfer(addr_cmd(0x0B, 0x400, dummy=8, read=8)) == PATTERN


@pytest.mark.parametrize("dummy", [4, 6, 7, 9, 10, 12])
def test_fast_read_with_wrong_dummy_is_shifted(patterned: NorFlash, dummy: int) -> None:
    got = patterned.transfer(addr_cmd(0x0B, 0x400, dummy=dummy, read=6))
    assert got == shift_bits(PATTERN, dummy - 8, 6)


def test_wrong_dummy_exact_bytes(patterned: NorFlash) -> None:
    # 6 instead of 8 dummy clocks: two 1-bits first, then 00 55 A5 ... shifted right by two.
    assert patterned.transfer(addr_cmd(0x0B, 0x400, dummy=6, read=3)) == bytes([0xC0, 0x15, 0x69])
    # 10 instead of 8: the first two bits are lost.
    assert patterned.transfer(addr_cmd(0x0B, 0x400, dummy=10, read=3)) == bytes([0x01, 0x56, 0x94])


def test_quad_io_read_mode_and_dummy(patterned: NorFlash) -> None:
    good = addr_cmd(0xEB, 0x400, lines=4, alt=0xF0, alt_bytes=1, dummy=4, read=8)
    assert patterned.transfer(good) == PATTERN
    # The same wait expressed as 6 dummy clocks (no alternate byte) is equally right.
    assert patterned.transfer(addr_cmd(0xEB, 0x400, lines=4, dummy=6, read=8)) == PATTERN
    # 8 clocks instead of 6 on 4 lines: the first 8 bits (one byte) are gone.
    assert patterned.transfer(addr_cmd(0xEB, 0x400, lines=4, dummy=8, read=4)) == PATTERN[1:5]
    # 4 instead of 6: two clocks of pulled-up lines, one 0xFF byte first.
    assert patterned.transfer(addr_cmd(0xEB, 0x400, lines=4, dummy=4, read=4)) == (
        b"\xff" + PATTERN[:3])


def test_read_check_matches_transfer(patterned: NorFlash) -> None:
    assert patterned.read_check(addr_cmd(0xEB, 0, lines=4, dummy=6, read=1)) is None
    why = patterned.read_check(addr_cmd(0xEB, 0, lines=4, dummy=8, read=1))
    assert why is not None and "chip expects 6" in why
    why = patterned.read_check(addr_cmd(0x0B, 0, width=4, dummy=8, read=1))
    assert why is not None and "chip expects 3B" in why


def test_64k_read_is_a_slice() -> None:
    chip = make()
    chip.memory[0x10000:0x20000] = bytes(range(256)) * 256
    assert chip.transfer(addr_cmd(0x6B, 0x10000, dummy=8, data_lines=4, read=0x10000)) == bytes(
        chip.memory[0x10000:0x20000])


def test_read_wraps_at_end_of_array() -> None:
    chip = make()
    chip.memory[-2:] = b"\x01\x02"
    chip.memory[:2] = b"\x03\x04"
    assert read(chip, chip.spec.size - 2, 4) == b"\x01\x02\x03\x04"


# -- persistence -------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path) -> None:
    chip = make(timing="instant")
    program(chip, 0x1234, b"hello")
    chip.transfer(op(0x06))
    chip.transfer(wr(0x01, b"\x00\x00"))  # clear QE (non-volatile)
    path = tmp_path / "w25q.bin"
    chip.save(path)
    again = NorFlash.load(chip.spec, VirtualClock(1_000_000), path)
    assert read(again, 0x1234, 5) == b"hello"
    assert again.transfer(rd_reg(0x35)) == b"\x00"
    with pytest.raises(ConfigError, match="not a MX25L51245G"):
        NorFlash.load(chips.find("MX25L51245G"), VirtualClock(1_000_000), path)


def test_damaged_contents_files_are_refused_with_the_cause(tmp_path) -> None:
    chip = make(timing="instant")
    good = tmp_path / "good.bin"
    chip.save(good)
    blob = good.read_bytes()
    cases = {"truncated": (blob[:-1], "truncated"), "longer": (blob + b"\0", "truncated"),
             "other": (b"not a chip file", "not an extflash NOR contents file"),
             "short": (blob[:5], "not an extflash NOR contents file")}
    for name, (content, why) in cases.items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(content)
        with pytest.raises(ConfigError, match=why):
            NorFlash.load(chip.spec, VirtualClock(1), path)
    with pytest.raises(ConfigError, match="cannot read flash contents"):
        NorFlash.load(chip.spec, VirtualClock(1), tmp_path)  # a directory


def test_the_file_keeps_the_written_blocks_only(tmp_path) -> None:
    """Erased blocks are left out of the file: a 16 MiB chip with two pieces written keeps two
    64 KiB blocks; loading puts them back on an erased array. A file cut inside a block is
    refused."""
    chip = make(timing="instant")
    program(chip, 0x1234, b"hello")
    program(chip, 0xFF0000, b"world")
    path = tmp_path / "w25q.bin"
    chip.save(path)
    assert chip.written_blocks() == [0, 0xFF0000]
    assert path.stat().st_size < 2 * NorFlash.FILE_BLOCK + 256
    again = NorFlash.load(chip.spec, VirtualClock(1), path)
    assert again.memory == chip.memory
    assert again.contents_key() == chip.contents_key()
    blob = path.read_bytes()
    count_at = blob.index(b"\x02\x00\x00\x00" + struct.pack("<2I", 0, 0xFF0000))
    for name, content in (("cut", blob[:-100]),  # inside a block
                          ("count", blob[:count_at] + b"\xff" * 4 + blob[count_at + 4:])):
        damaged = tmp_path / f"{name}.bin"
        damaged.write_bytes(content)
        with pytest.raises(ConfigError, match="truncated"):
            NorFlash.load(chip.spec, VirtualClock(1), damaged)


def test_files_of_the_first_format_are_read(tmp_path) -> None:
    """The first format (the whole array after the registers) still loads."""
    chip = make(timing="instant")
    program(chip, 0x40, b"kept")
    regs = bytes(chip._nv_regs[r.name] for r in chip.spec.status.registers)
    name = chip.spec.name.encode()
    path = tmp_path / "old.bin"
    path.write_bytes(b"EXFNOR1\0" + struct.pack("<HIHH", len(name), chip.spec.size, len(regs),
                                                 chip.nvcr) + name + regs + chip.memory)
    again = NorFlash.load(chip.spec, VirtualClock(1), path)
    assert again.memory == chip.memory and read(again, 0x40, 4) == b"kept"


def test_memory_must_match_chip_size() -> None:
    with pytest.raises(ConfigError, match="holds"):
        NorFlash(chips.find("W25Q64JV"), VirtualClock(1), memory=bytearray(10))
