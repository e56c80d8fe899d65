"""End to end: our own register-level QUADSPI firmware running on each virtual board."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

import pytest

from extflash import board as boards
from extflash import chips
from extflash.emu.virtual_board import VirtualBoard
from shipped_boards import QUADSPI_BOARDS

# Per family: firmware linker script, CPU, RCC QUADSPI enable (register, bit), GPIO enable
# register (port letter -> bit index). From the reference manuals' RCC chapters.
FAMILY = {
    "stm32h7-qspi": ("qspi/h7.ld", "cortex-m7", 0x580244D4, 14, 0x580244E0),
    "stm32f7": ("qspi/sram.ld", "cortex-m7", 0x40023838, 1, 0x40023830),
    "stm32f4": ("qspi/sram.ld", "cortex-m4", 0x40023838, 1, 0x40023830),
    "stm32l4": ("qspi/sram.ld", "cortex-m4", 0x40021050, 8, 0x4002104C),
}
CFG, SRC, DST = 0x5000, 0x5400, 0x6000  # offsets from the loader RAM base
BKPT = b"\x00\xbe"


@pytest.fixture(autouse=True, params=["python", "native"])
def register_path(request, monkeypatch):
    """Every test on both QUADSPI register paths (they must behave identically)."""
    if request.param == "python":
        monkeypatch.setenv("EXTFLASH_NATIVE", "0")
    else:
        request.getfixturevalue("native_required")
    return request.param


@dataclass
class Rig:
    vb: VirtualBoard
    symbols: dict[str, int]
    ram: int

    def call(self, name: str | int, *args: int, timeout_s: float = 5.0, check: bool = True):
        m = self.vb.machine
        m.mem_write(self.ram, BKPT)
        for i, value in enumerate(args):
            m.reg_write(f"r{i}", value & 0xFFFFFFFF)
        region = m.part.part.ram_at(self.ram)
        assert region is not None
        m.reg_write("sp", region.end - 0x100)
        m.reg_write("lr", self.ram | 1)
        result = m.run(self.symbols[name] if isinstance(name, str) else name,
                       stop_at=self.ram, timeout_fs=int(timeout_s * 10**15))
        if not check:
            return result
        assert result.ok, (result.reason, result.fault, result.spin)
        return result.r0


def _firmware(build_elf, fam_id: str):
    from elftools.elf.elffile import ELFFile

    ld, cpu, *_ = FAMILY[fam_id]
    path = build_elf(f"qspi-{cpu}-{ld.split('/')[1][:-3]}", ["qspi/qspi_fw.c"], ld, cpu=cpu)
    with path.open("rb") as fh:
        elf = ELFFile(fh)
        segments = [(s["p_paddr"], s.data()) for s in elf.iter_segments()
                    if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
        symtab = elf.get_section_by_name(".symtab")
        symbols = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name}
    return segments, symbols


def make_rig(build_elf, b: boards.Board, tmp_path=None, **kw) -> Rig:
    vb = VirtualBoard(b, **kw)
    segments, symbols = _firmware(build_elf, b.part.family.id)
    for addr, data in segments:
        vb.machine.mem_write(addr, data)
    return Rig(vb, symbols, b.part.family.loader_ram_base)


def config(rig: Rig, *, pins=None, wait_wip=True, quad=False, fsel=False) -> int:
    b = rig.vb.board
    mem = b.memory()
    fam = b.part.family
    _, _, qspi_enr, qspi_bit, gpio_enr = FAMILY[fam.id]
    spec = chips.find(mem.chip)
    dual = mem.bank == "dual"
    total = spec.size * (2 if dual else 1)
    wires = pins if pins is not None else [(w.pin, w.af) for w in mem.wires]
    gpio_bits = 0
    pin_words = []
    for pin, af in wires:
        letter = pin[1]
        gpio_bits |= 1 << (ord(letter) - ord("A"))
        pin_words += [fam.peripherals[f"GPIO{letter}"], int(pin[2:]), af]
    four = spec.size > 16 << 20
    rd = spec.read_command(0x6B if quad else 0x0B)
    assert rd is not None
    ops = [rd.opcode, 0x02, 0x20]
    en4b = 0
    if four:
        fours = [spec.read_command(ops[0]), spec.program_command(0x02), spec.erase_type(0x20)]
        if all(f is not None and f.opcode_4b for f in fours):
            ops = [f.opcode_4b for f in fours]  # type: ignore[union-attr]
        else:
            en4b = 0xB7
    cr = 3 << 8 | (1 << 6 if dual else 0) | (1 << 7 if fsel or mem.bank == 2 else 0)
    dcr = (total.bit_length() - 2) << 16 | 1 << 8
    words = [fam.peripherals["QUADSPI"], qspi_enr, qspi_bit, gpio_enr, gpio_bits, cr, dcr,
             3 if four else 2, en4b, ops[0], rd.wait_clocks, 4 if quad else 1, ops[1], ops[2],
             512 if dual else spec.page_size, 0x0101 if dual else 0x01, 1 if dual else 0,
             int(wait_wip), len(wires), *pin_words]
    address = rig.ram + CFG
    rig.vb.machine.mem_write(address, struct.pack(f"<{len(words)}I", *words))
    return address


def round_trip(rig: Rig, cfg: int, data: bytes, address: int = 0x100) -> bytes:
    m = rig.vb.machine
    m.mem_write(rig.ram + SRC, data)
    rig.call("qspi_erase", cfg, address)
    rig.call("qspi_program", cfg, address, rig.ram + SRC, len(data))
    rig.call("qspi_read", cfg, address, rig.ram + DST, len(data))
    return m.mem_read(rig.ram + DST, len(data))


@pytest.mark.parametrize("name", QUADSPI_BOARDS)  # the rig drives QUADSPI
def test_program_and_read_back_on_every_shipped_board(build_elf, name):
    b = boards.load(name)
    rig = make_rig(build_elf, b, timing="instant")
    cfg = config(rig)
    rig.call("qspi_init", cfg)
    data = random.Random(name).randbytes(700)
    assert round_trip(rig, cfg, data) == data
    assert rig.vb.flash_contents()[0x100:0x100 + len(data)] == data
    # memory-mapped: the host reads the window, the core sums it
    rig.call("qspi_mapped", cfg)
    m = rig.vb.machine
    assert m.mem_read(0x90000100, len(data)) == data
    words = struct.unpack("<64I", data[:256])
    assert rig.call("sum_window", 0x90000100, 64) == sum(words) & 0xFFFFFFFF
    assert rig.vb.window.zero_copy  # chip array (or the cached dual-flash interleave)
    assert not rig.vb.qspi.wiring_events


def test_jedec_id_and_quad_read_on_h743(build_elf):
    b = boards.load("nucleo-h743zi-w25q128")
    rig = make_rig(build_elf, b, timing="instant")
    cfg = config(rig, quad=True)
    rig.call("qspi_init", cfg)
    assert rig.call("qspi_rdid", cfg) == int.from_bytes(chips.find("W25Q128JV").jedec_id, "little")
    data = bytes(range(256)) * 2
    assert round_trip(rig, cfg, data, 0x2000) == data
    rig.call("qspi_mapped", cfg)
    assert rig.vb.window.zero_copy
    assert rig.vb.machine.mem_read(0x90002000, 512) == data


def test_bank2_with_fsel(build_elf):
    b = boards.from_options(mcu="STM32H743ZI", chip="W25Q128JV", bank=2,
                            pins="PB2,PC11,PE7,PE8,PE9,PE10")
    rig = make_rig(build_elf, b, timing="instant")
    cfg = config(rig)
    rig.call("qspi_init", cfg)
    assert round_trip(rig, cfg, b"bank two" * 8) == b"bank two" * 8
    assert set(rig.vb.chips) == {2}


def test_code_runs_from_the_mapped_window(build_elf):
    b = boards.load("weact-h743")
    rig = make_rig(build_elf, b, timing="instant")
    cfg = config(rig)
    rig.call("qspi_init", cfg)
    code = bytes.fromhex("40187047")  # adds r0, r0, r1 ; bx lr
    round_trip(rig, cfg, code, 0x1000)
    rig.call("qspi_mapped", cfg)
    assert rig.call(0x90001000 | 1, 40, 2) == 42
    # reprogram behind the mapping: the translated code must not be stale
    code2 = bytes.fromhex("081a7047")  # subs r0, r1, r0 ; bx lr  (r0 = r1 - r0)
    round_trip(rig, cfg, code2, 0x1000)
    rig.call("qspi_mapped", cfg)
    assert rig.call(0x90001000 | 1, 2, 40) == 38


def test_loader_that_forgets_to_wait_for_wip_loses_data(build_elf):
    b = boards.load("nucleo-h743zi-w25q128")
    rig = make_rig(build_elf, b, timing="typical")
    cfg = config(rig)
    rig.call("qspi_init", cfg)
    good = config(rig)
    rig.call("qspi_erase", good, 0)
    bad = config(rig, wait_wip=False)
    data = bytes(range(256)) * 2
    m = rig.vb.machine
    m.mem_write(rig.ram + SRC, data)
    rig.call("qspi_program", bad, 0, rig.ram + SRC, len(data))
    chip = rig.vb.chips[1]
    assert chip.memory[:256] == data[:256]
    assert chip.memory[256:512] != data[256:]  # second page sent while the chip was busy
    assert any(e.outcome == "rejected" for e in chip.events)


def test_wrong_ncs_pin_means_nothing_is_programmed(build_elf):
    b = boards.load("nucleo-h743zi-w25q128")
    rig = make_rig(build_elf, b, timing="instant")
    wires = [(w.pin, w.af) for w in b.memory().wires]
    wires[1] = ("PB10", 9)  # BK1_NCS routed to PB10: a valid QUADSPI pin, not the wired one
    cfg = config(rig, pins=wires, wait_wip=False)
    rig.call("qspi_init", cfg)
    m = rig.vb.machine
    m.mem_write(rig.ram + SRC, b"\x00" * 64)
    rig.call("qspi_program", cfg, 0x100, rig.ram + SRC, 64)
    rig.call("qspi_read", cfg, 0x100, rig.ram + DST, 64)
    assert m.mem_read(rig.ram + DST, 64) == b"\xff" * 64  # floating bus, pulled up
    assert rig.vb.chips[1].memory[0x100:0x140] == b"\xff" * 64
    # waiting for WIP on a bus that reads 0xFF never ends: the call times out
    waiting = config(rig, pins=wires)
    result = rig.call("qspi_erase", waiting, 0, timeout_s=0.05, check=False)
    assert result.reason == "timeout"
    ev = rig.vb.qspi.wiring_events[0]
    assert (ev.signal, ev.pin, ev.expected_af) == ("bk1_ncs", "PB6", 10)
    assert ev.mode != "af" and "PB6" in ev.describe()


def test_contents_persist_in_the_flash_file(build_elf, tmp_path):
    b = boards.load("stm32h747i-disco")
    path = tmp_path / "flash.bin"
    rig = make_rig(build_elf, b, timing="instant", flash_file=path)
    cfg = config(rig)
    rig.call("qspi_init", cfg)
    round_trip(rig, cfg, b"persist!" * 4)
    rig.vb.save()
    again = VirtualBoard(b, flash_file=path)
    assert again.flash_contents()[0x100:0x120] == b"persist!" * 4
