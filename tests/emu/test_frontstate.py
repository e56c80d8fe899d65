"""The front-end neutral view of a memory controller (frontstate.py): the same ControllerState
and command descriptions from QUADSPI and OCTOSPI/XSPI registers, with each front-end's field
names."""

from __future__ import annotations

from extflash import chips
from extflash.emu.clock import VirtualClock
from extflash.emu.flash.nor import NorFlash
from extflash.emu.periph import octospi as o
from extflash.emu.periph import quadspi as q
from extflash.emu.periph.frontstate import FMODE_MAPPED, FMODE_READ, describe_frame
from extflash.emu.spi import SpiCommand

KERNEL_HZ = 200_000_000


def _octospi(kind_name: str = "OCTOSPI1", family: str = "stm32h7-ospi") -> o.Octospi:
    clock = VirtualClock(280_000_000)
    variant, kind = o.variant_for(family, kind_name)
    ctrl = o.Octospi(variant, clock, base=0x52005000, name=kind_name, kind=kind,
                     kernel_hz=lambda: KERNEL_HZ)
    ctrl.attach(1, NorFlash(chips.find("MX25LM51245G"), clock, timing="typical"))
    ctrl.write(o.DCR1, 4, 25 << 16)  # DEVSIZE 64 MiB
    ctrl.write(o.CR, 4, 3 << 8 | 1)  # FTHRES 4, EN
    return ctrl


# 8D-8D-8D: IMODE/ADMODE/DMODE = 8 lines (100), IDTR/ADDTR/DDTR, ISIZE 16 bits, ADSIZE 32 bits,
# DQSE (RM0455 OCTOSPI_CCR)
OCTAL_DTR_CCR = (4 | 1 << 3 | 1 << 4 | 4 << 8 | 1 << 11 | 3 << 12 | 4 << 24 | 1 << 27
                 | 1 << 29)


def test_octospi_state_names_its_own_fields():
    ctrl = _octospi()
    ctrl.write(o.CCR, 4, OCTAL_DTR_CCR)
    ctrl.write(o.TCR, 4, 6)
    assert ctrl.describe_command(o.IR, 0xEE11) == (
        "command: 0xEE11 8D-8D-8D, 4-byte address, 6 dummy, DQS")
    assert ctrl.describe_command(o.CCR, OCTAL_DTR_CCR) is None  # IR finishes the set-up
    ctrl.write(o.IR, 4, 0xEE11)
    ctrl.write(o.CR, 4, ctrl.read(o.CR, 4) | FMODE_READ << 28)
    st = ctrl.state()
    assert (st.kind, st.fmode, st.mode, st.enabled, st.mapped) == (
        "octospi", FMODE_READ, "indirect read", True, False)
    assert (st.fields.fmode, st.fields.dummy, st.fields.size) == (
        "CR.FMODE", "TCR.DCYC", "DCR1.DEVSIZE")
    assert st.flash_bytes == 64 << 20 and st.fifo_bytes == 32
    assert describe_frame(st.frame).startswith("0xEE11 8D-8D-8D addr=0x00000000(4B) dummy=6 DQS")
    ctrl.write(o.CR, 4, ctrl.read(o.CR, 4) | FMODE_MAPPED << 28)  # FMODE=11, EN=1: mapped
    st = ctrl.state()
    assert st.mapped and st.mode == "memory-mapped" and ctrl.mapped_frame is not None
    assert "OCTOSPI1: memory-mapped (CR.FMODE=3), EN=1" in st.describe()


def test_xspi_is_an_octospi_kind():
    ctrl = _octospi("XSPI2", "stm32h7rs")
    st = ctrl.state()
    assert st.kind == "xspi" and st.fields.fmode == "CR.FMODE" and st.fifo_bytes == 64


def test_quadspi_state_and_ccr_description():
    clock = VirtualClock(480_000_000)
    ctrl = q.Quadspi(q.variant_for("stm32h7-qspi"), clock, base=0x52005000,
                     kernel_hz=lambda: KERNEL_HZ)
    ctrl.attach(1, NorFlash(chips.find("W25Q128JV"), clock, timing="typical"))
    ctrl.write(q.DCR, 4, 23 << 16)
    ctrl.write(q.CR, 4, 1)
    # FMODE=3, DMODE=4 lines, DCYC 4, ABSIZE 8 bits on 4 lines, ADSIZE 24 bits on 4, IMODE 1
    mapped = 3 << 26 | 3 << 24 | 4 << 18 | 3 << 14 | 2 << 12 | 3 << 10 | 1 << 8 | 0xEB
    assert ctrl.describe_command(q.CCR, mapped) == (
        "memory-mapped: 0xEB 1-4-4, 3-byte address, 1 alternate byte(s) on 4 line(s), 4 dummy")
    assert ctrl.describe_command(q.AR, 0) is None
    st = ctrl.state()
    assert st.kind == "quadspi" and st.fields.fmode == "CCR.FMODE"
    assert st.fields.dummy == "CCR.DCYC" and st.flash_bytes == 16 << 20


def test_frames_read_as_datasheets_write_them():
    sdr = SpiCommand(0xEB, 1, address=0x1000, address_bytes=3, address_lines=4,
                     data_lines=4, dummy_cycles=6, read_length=16)
    assert describe_frame(sdr) == "0xEB 1-4-4 addr=0x001000(3B) dummy=6 read 16B"
    # QUADSPI DDRM: address and data DTR, the instruction STR (RM0433 "DDR mode")
    ddr = SpiCommand(0xED, 1, address=0, address_bytes=3, address_lines=4, data_lines=4,
                     ddr=True, address_dtr=True, read_length=4)
    assert describe_frame(ddr).startswith("0xED 1S-4D-4D")
    mixed = SpiCommand(0x05FA, 8, instruction_bytes=2, address=0, address_bytes=4,
                       address_lines=8, data_lines=8, ddr=True, address_dtr=True, dqs=True,
                       read_length=2)
    assert describe_frame(mixed) == "0x05FA 8S-8D-8D addr=0x00000000(4B) DQS read 2B"
