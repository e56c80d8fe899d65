"""The OCTOSPI/XSPI front-ends on the shared command engine, driven register by register in the
order the HAL writes them (``OSPI_ConfigCmd``: CR.FMODE, CCR, TCR, DLR, IR, AR), against a
W25Q128JV model: start triggers, per-phase decoding, auto-polling, memory-mapped mode, BUSY
locks, the IO managers' routing."""

from __future__ import annotations

import pytest

from extflash import chips
from extflash.emu.clock import VirtualClock
from extflash.emu.flash.nor import NorFlash
from extflash.emu.periph.engine import BUSY, FTF, SMF, TCF, TEF, BankWire, PinView
from extflash.emu.periph.iomanager import Octospim, Xspim
from extflash.emu.periph.octospi import (
    AR,
    CCR,
    CR,
    DCR1,
    DCR2,
    DLR,
    DR,
    FCR,
    IR,
    PIR,
    PSMAR,
    PSMKR,
    SR,
    TCR,
    WCCR,
    WIR,
    Octospi,
    variant_for,
)
from extflash.emu.spi import SpiCommand

KERNEL_HZ = 200_000_000
FMODE_WRITE, FMODE_READ, FMODE_POLL, FMODE_MAPPED = 0, 1, 2, 3


def ccr(*, imode: int = 1, isize: int = 0, admode: int = 0, adsize: int = 2, abmode: int = 0,
        dmode: int = 0, idtr: bool = False, addtr: bool = False, ddtr: bool = False,
        dqse: bool = False) -> int:
    """OCTOSPI_CCR with xMODE in the 3-bit encoding (1 line = 1, 4 lines = 3, 8 lines = 4)."""
    return (imode | int(idtr) << 3 | isize << 4 | admode << 8 | int(addtr) << 11
            | adsize << 12 | abmode << 16 | dmode << 24 | int(ddtr) << 27 | int(dqse) << 29)


class Rig:
    """An OCTOSPI (or XSPI) with a W25Q128JV on chip select 1 and HAL-like helpers."""

    def __init__(self, *, family: str = "stm32h7-ospi", name: str = "OCTOSPI1",
                 probe=None, wires=None, port=None, chip: str = "W25Q128JV") -> None:
        self.clock = VirtualClock(280_000_000)
        variant, kind = variant_for(family, name)
        self.o = Octospi(variant, self.clock, base=0x52005000, name=name, kind=kind,
                         kernel_hz=lambda: KERNEL_HZ, pin_probe=probe)
        self.chip = NorFlash(chips.find(chip), self.clock, timing="typical")
        self.o.attach(1, self.chip, wires, port=port)
        self.w(DCR1, 23 << 16 | 1 << 8)  # DEVSIZE 16 MiB, CSHT 2 cycles
        self.w(DCR2, 1)  # prescaler /2
        self.w(CR, 3 << 8 | 1)  # FTHRES 4, EN

    def w(self, off: int, value: int, size: int = 4) -> None:
        self.o.write(off, size, value)

    def r(self, off: int, size: int = 4) -> int:
        return self.o.read(off, size)

    def fmode(self, mode: int) -> None:
        self.w(CR, (self.r(CR) & ~(3 << 28)) | mode << 28)

    def wait_idle(self) -> None:
        while self.r(SR) & BUSY:
            pass
        self.w(FCR, TCF)

    def command(self, instr: int, *, address: int | None = None, dl: int | None = None,
                dcyc: int = 0, **kw) -> None:
        """``HAL_OSPI_Command``: FMODE cleared, CCR, TCR, DLR, IR, AR."""
        self.fmode(FMODE_WRITE)
        kw.setdefault("admode", 1 if address is not None else 0)
        self.w(CCR, ccr(**kw))
        self.w(TCR, dcyc)
        if dl is not None:
            self.w(DLR, dl)
        self.w(IR, instr)
        if address is not None:
            self.w(AR, address)

    def receive(self, n: int, address: int | None) -> bytes:
        """``HAL_OSPI_Receive``: FMODE=01, then AR (or IR) again, bytes through DR."""
        self.fmode(FMODE_READ)
        if address is not None:
            self.w(AR, address)
        else:
            self.w(IR, self.r(IR))
        out = bytes(self.r(DR, 1) for _ in range(n))
        self.wait_idle()
        return out

    def wren(self) -> None:
        self.command(0x06)
        self.wait_idle()

    def program(self, address: int, data: bytes) -> None:
        self.wren()
        self.command(0x32, address=address, dl=len(data) - 1, dmode=3)  # 1-1-4 quad program
        for b in data:
            while not self.r(SR) & FTF:
                pass
            self.w(DR, b, 1)
        self.wait_idle()

    def poll_wip(self) -> int:
        self.command(0x05, dl=0, dmode=1)
        self.w(PSMKR, 0x01)
        self.w(PSMAR, 0x00)
        self.w(PIR, 16)
        self.w(CR, (self.r(CR) & ~(3 << 28)) | 1 << 22 | FMODE_POLL << 28)  # APMS, auto-poll
        self.w(IR, 0x05)
        polls = 0
        while not self.r(SR) & SMF:
            polls += 1
        self.w(FCR, SMF)
        return polls

    def quad_enable(self) -> None:
        self.wren()
        self.command(0x31, dl=0, dmode=1)  # write SR2: QE
        self.w(DR, 0x02, 1)
        self.wait_idle()
        self.poll_wip()


def test_ir_write_starts_a_command_without_address_or_data():
    rig = Rig()
    rig.command(0x06)  # WREN: IR is the trigger
    rig.wait_idle()
    assert rig.chip.wel


def test_ccr_write_never_starts_a_command():
    rig = Rig()
    rig.fmode(FMODE_WRITE)
    rig.w(CCR, ccr())  # QUADSPI would start here; OCTOSPI waits for IR
    rig.w(0x120, 0)
    assert not rig.r(SR) & BUSY and not rig.chip.wel
    rig.w(IR, 0x06)
    rig.wait_idle()
    assert rig.chip.wel


def test_read_id_through_indirect_read():
    rig = Rig()
    rig.command(0x9F, dl=2, dmode=1)  # configured with FMODE=00: waits for data
    assert not rig.r(SR) & BUSY
    assert rig.receive(3, None) == bytes.fromhex("EF4018")


def test_quad_program_then_1_4_4_read_and_auto_polling():
    rig = Rig()
    rig.quad_enable()
    data = bytes(range(64))
    rig.program(0x1000, data)
    assert rig.poll_wip() >= 0
    rig.command(0xEB, address=0x1000, dl=len(data) - 1, admode=3, abmode=3, dmode=3, dcyc=4)
    rig.w(0x120, 0xF0)  # ABR: mode bits
    assert rig.receive(len(data), 0x1000) == data
    assert rig.chip.memory[0x1000:0x1040] == data


def test_memory_mapped_mode_serves_the_window_and_abort_leaves_it():
    rig = Rig()
    rig.chip.memory[0:4] = b"\x11\x22\x33\x44"
    rig.command(0x0B, address=0, admode=1, dmode=1, dcyc=8)
    rig.fmode(FMODE_MAPPED)
    assert rig.o.mapped
    assert rig.o.window.read(0, 4) == b"\x11\x22\x33\x44"  # type: ignore[attr-defined]
    rig.w(CR, rig.r(CR) | 2)  # ABORT
    assert not rig.o.mapped
    assert rig.r(SR) & TCF


def test_memory_mapped_writes_use_the_write_set():
    rig = Rig()
    rig.wren()
    rig.command(0x03, address=0, admode=1, dmode=1)  # read set: 0x03 1-1-1
    rig.w(WCCR, ccr(admode=1, dmode=1))  # write set: 0x02 1-1-1 page program
    rig.w(WIR, 0x02)
    rig.fmode(FMODE_MAPPED)
    rig.o.window.write(0x100, 0x44332211)  # type: ignore[attr-defined]
    assert rig.chip.memory[0x100:0x104] == b"\x11\x22\x33\x44"


def test_window_without_write_set_is_read_only():
    rig = Rig()
    rig.command(0x03, address=0, admode=1, dmode=1)
    rig.fmode(FMODE_MAPPED)
    with pytest.raises(ValueError, match="read-only"):
        rig.o.window.write(0, 0)  # type: ignore[attr-defined]


def test_registers_locked_while_busy():
    rig = Rig()
    rig.command(0x05, dl=0, dmode=1)
    rig.w(PSMKR, 0x80)  # bit that never matches: the poll keeps BUSY
    rig.w(PSMAR, 0x80)
    rig.w(CR, (rig.r(CR) & ~(3 << 28)) | FMODE_POLL << 28)
    rig.w(IR, 0x05)
    assert rig.r(SR) & BUSY
    before = rig.r(CCR)
    rig.w(CCR, 0)
    rig.w(IR, 0x06)
    assert rig.r(CCR) == before and rig.r(IR) == 0x05 and not rig.chip.wel


def test_address_beyond_devsize_sets_tef():
    rig = Rig()
    rig.w(DCR1, 15 << 16 | 1 << 8)  # 64 KiB declared
    rig.command(0x20, address=0x20000)
    assert rig.r(SR) & TEF


def test_octal_dtr_frame_decoding():
    rig = Rig(chip="W25Q128JV")
    seen: list[SpiCommand] = []
    rig.o.trace = lambda _bank, cmd: seen.append(cmd)
    rig.command(0xEE11, address=0x40, dl=7, imode=4, isize=1, idtr=True, admode=4, adsize=3,
                addtr=True, dmode=4, ddtr=True, dqse=True, dcyc=6)
    rig.receive(8, 0x40)
    cmd = seen[-1]
    assert (cmd.instruction, cmd.instruction_bytes, cmd.instruction_lines) == (0xEE11, 2, 8)
    assert (cmd.address_bytes, cmd.address_lines, cmd.data_lines) == (4, 8, 8)
    assert cmd.instruction_dtr and cmd.address_dtr and cmd.ddr and cmd.dqs
    assert cmd.dummy_cycles == 6
    assert "0xEE11 8D-8D-8D" in cmd.describe()


def test_bus_time_counts_half_clocks_in_dtr():
    rig = Rig()
    frame = SpiCommand(0xEE11, instruction_lines=8, instruction_bytes=2, instruction_dtr=True,
                       address=0, address_bytes=4, address_lines=8, address_dtr=True,
                       dummy_cycles=6, data_lines=8, ddr=True)
    # 2-byte opcode: 1 clock; 4-byte address: 2 clocks; 6 dummy; 3 bytes: 1.5 clocks;
    # nCS high 2 clocks -> 12.5 clocks at 100 MHz
    assert rig.o._duration_fs(frame, 3) == 125_000_000


def _wires(*signals: str) -> dict[str, BankWire]:
    return {s: BankWire(s, s, f"PN{i}", 9) for i, s in enumerate(signals)}


def _probe_all_af9(pin: str) -> PinView:
    return PinView("af", 9, True)


def test_octospim_gives_port_2_to_octospi2_by_default():
    iom = Octospim(0x5200B400)
    assert iom.route(2, 2, "clk") is None and iom.route(2, 2, "io5") is None
    assert "OCTOSPI2" in (iom.route(1, 2, "clk") or "")
    iom.write(8, 4, 0x03010111)  # port 2 <- OCTOSPI1 as port 1's reset value
    assert iom.route(1, 2, "ncs") is None and iom.route(2, 2, "ncs") is not None


def test_xspim_mode_swaps_the_ports():
    iom = Xspim(0x5200B400)
    assert iom.port_of(1) == 1 and iom.port_of(2) == 2
    iom.write(0, 4, 0b10)
    assert iom.port_of(1) == 2 and iom.route(2, 1, "clk") is None
    assert "port 2" in (iom.route(1, 1, "io0") or "")


def test_unrouted_port_reads_float_and_is_recorded():
    iom = Xspim(0x5200B400)
    rig = Rig(family="stm32h7rs", name="XSPI2", probe=_probe_all_af9,
              wires=_wires("clk", "ncs", "io0", "io1", "io2", "io3"), port=2)
    rig.o.port_route = lambda bank, signal: iom.route(2, bank.port, signal)
    iom.write(0, 4, 0b10)  # swap: XSPI2 now drives port 1, the chip is on port 2
    rig.o.wiring_changed()
    rig.command(0x9F, dl=2, dmode=1)
    assert rig.receive(3, None) == b"\xff\xff\xff"
    event = rig.o.wiring_events[-1]
    assert "XSPIM" in event.describe() and "port 1" in event.describe()


@pytest.mark.parametrize("family,name,fifo", [
    ("stm32h7rs", "XSPI1", 64), ("stm32u5", "OCTOSPI2", 64), ("stm32h7-ospi", "OCTOSPI1", 32)])
def test_fifo_depth_and_threshold_width_come_from_the_family(family, name, fifo):
    rig = Rig(family=family, name=name)
    rig.command(0x03, address=0, dl=127, admode=1, dmode=1)
    rig.fmode(FMODE_READ)
    rig.w(AR, 0)
    assert (rig.r(SR) >> 8) & 0x7F == fifo
