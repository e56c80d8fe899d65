"""The QUADSPI model driven through its registers, with real NorFlash chips behind it.

Every test runs twice: through the Python model's register interface, and through the native
fast path's C entry points (the functions unicorn calls), which serve what they can and hand the
rest to the same model. Both must behave identically.
"""

from __future__ import annotations

import pytest

from extflash import chips
from extflash.emu.clock import FS_PER_S, VirtualClock
from extflash.emu.flash.nor import NorFlash
from extflash.emu.periph.quadspi import (
    AR,
    BUSY,
    CCR,
    CR,
    DCR,
    DLR,
    DR,
    FCR,
    FTF,
    LPTR,
    PIR,
    PSMAR,
    PSMKR,
    SMF,
    SR,
    TCF,
    TEF,
    TOF,
    BankWire,
    PinView,
    Quadspi,
    variant_for,
)

KERNEL_HZ = 200_000_000
FSIZE_16M = 23


def ccr(instr: int, *, imode: int = 1, admode: int = 0, adsize: int = 2, abmode: int = 0,
        dcyc: int = 0, dmode: int = 0, fmode: int = 0, sioo: bool = False,
        ddr: bool = False) -> int:
    return (instr | imode << 8 | admode << 10 | adsize << 12 | abmode << 14 | dcyc << 18
            | dmode << 24 | fmode << 26 | int(sioo) << 28 | int(ddr) << 31)


@pytest.fixture(autouse=True, params=["model", "native"])
def register_path(request, monkeypatch):
    """Route every Rig access through the model (Python) or the native fast path (C)."""
    if request.param == "native":
        request.getfixturevalue("native_required")
    monkeypatch.setattr(Rig, "path", request.param)


class Rig:
    """A QUADSPI with one or two W25Q128JV and HAL-like helpers."""

    path = "model"

    def __init__(self, *, banks: tuple[int, ...] = (1,), dfm: bool = False, fsel: bool = False,
                 prescaler: int = 1, timing: str = "typical", variant: str = "stm32h7-qspi",
                 probe=None, wires=None) -> None:
        self.clock = VirtualClock(400_000_000)
        self.irqs: list[int] = []
        self.spec = chips.find("W25Q128JV")
        self.q = Quadspi(variant_for(variant), self.clock, base=0x52005000,
                         kernel_hz=lambda: KERNEL_HZ, pin_probe=probe, set_irq=self.irqs.append)
        self.errors: list[BaseException] = []
        self.native = self.q.enable_native(self.errors.append) if self.path == "native" else None
        self.chips: dict[int, NorFlash] = {}
        for b in banks:
            self.chips[b] = NorFlash(self.spec, self.clock, timing=timing)
            self.q.attach(b, self.chips[b], (wires or {}).get(b))
        fsize = FSIZE_16M + (1 if dfm else 0)
        self.w(DCR, fsize << 16 | 1 << 8)
        self.w(CR, prescaler << 24 | 3 << 8 | int(dfm) << 6 | int(fsel) << 7 | 1)

    def w(self, off: int, value: int, size: int = 4) -> None:
        if self.native is None:
            self.q.write(off, size, value)
            return
        self.native.write(off, size, value)
        self._check()

    def r(self, off: int, size: int = 4) -> int:
        if self.native is None:
            return self.q.read(off, size)
        value = self.native.read(off, size)
        self._check()
        return value

    def _check(self) -> None:
        if self.errors:
            raise self.errors.pop()

    def sr(self) -> int:
        return self.r(SR)

    def wait_idle(self) -> None:
        while self.sr() & BUSY:
            pass
        self.w(FCR, TCF)

    def command(self, instr: int, *, address: int | None = None, dl: int | None = None,
                **kw) -> None:
        """HAL order: DLR, CCR, AR."""
        if dl is not None:
            self.w(DLR, dl)
        self.w(CCR, ccr(instr, admode=1 if address is not None else 0, **kw))
        if address is not None:
            self.w(AR, address)

    def read(self, instr: int, n: int, *, address: int | None = None, **kw) -> bytes:
        kw.setdefault("dmode", 1)
        self.command(instr, address=address, dl=n - 1, fmode=1, **kw)
        out = bytes(self.r(DR, 1) for _ in range(n))
        self.wait_idle()
        return out

    def wren(self) -> None:
        self.command(0x06)
        self.wait_idle()

    def program(self, address: int, data: bytes, *, size: int = 4) -> None:
        self.wren()
        self.command(0x02, address=address, dl=len(data) - 1, dmode=1, fmode=0)
        for i in range(0, len(data), size):
            self.w(DR, int.from_bytes(data[i:i + size], "little"), size)
        self.wait_idle()

    def poll_wip(self) -> None:
        self.w(PSMKR, 0x01)
        self.w(PSMAR, 0x00)
        self.w(PIR, 16)
        self.w(CR, self.r(CR) | 1 << 22)  # APMS
        self.command(0x05, dl=0, dmode=1, fmode=2)
        while not self.sr() & SMF:
            pass
        self.w(FCR, SMF)


def test_ccr_write_starts_a_read_without_address():
    rig = Rig()
    rig.command(0x9F, dl=2, dmode=1, fmode=1)
    sr = rig.sr()
    assert sr & BUSY and (sr >> 8) & 0x3F == 3
    assert bytes(rig.r(DR, 1) for _ in range(3)) == rig.spec.jedec_id
    assert rig.sr() & (BUSY | TCF) == TCF
    rig.w(FCR, TCF)
    assert not rig.sr() & TCF


def test_hal_extra_ar_write_after_ccr_triggered_read_is_ignored():
    rig = Rig()
    rig.command(0x9F, dl=2, dmode=1, fmode=1)
    before = rig.q.commands
    rig.w(AR, 0x1234)  # HAL_QSPI_Receive re-writes the saved address
    assert rig.q.commands == before
    assert rig.r(AR) == 0
    assert bytes(rig.r(DR, 1) for _ in range(3)) == rig.spec.jedec_id


def test_read_with_address_starts_on_ar_not_ccr():
    rig = Rig(timing="instant")
    rig.program(0x100, bytes(range(16)))
    rig.w(DLR, 15)
    rig.w(CCR, ccr(0x03, admode=1, dmode=1, fmode=1))
    assert not rig.sr() & BUSY
    rig.w(AR, 0x100)
    assert rig.sr() & BUSY
    assert rig.r(DR) == 0x03020100 and rig.r(DR, 2) == 0x0504 and rig.r(DR, 1) == 6


def test_registers_are_locked_while_busy():
    rig = Rig()
    rig.command(0x9F, dl=2, dmode=1, fmode=1)
    rig.w(DLR, 7)
    rig.w(CCR, ccr(0x05, dmode=1, fmode=1))
    assert rig.r(DLR) == 2 and rig.r(CCR) & 0xFF == 0x9F
    rig.w(CR, rig.r(CR) | 1 << 7)  # FSEL cannot change while busy
    assert not rig.r(CR) & 1 << 7


def test_indirect_write_starts_on_first_dr_write_and_mixes_access_sizes():
    rig = Rig(timing="instant")
    rig.wren()
    rig.command(0x02, address=0x2000, dl=6, dmode=1, fmode=0)
    assert not rig.sr() & BUSY and rig.q.commands == 1  # only WREN so far
    rig.w(DR, 0x11, 1)
    assert rig.sr() & BUSY and rig.sr() & FTF
    rig.w(DR, 0x3322, 2)
    rig.w(DR, 0x77665544, 4)
    rig.wait_idle()
    assert rig.chips[1].memory[0x2000:0x2008] == bytes.fromhex("11223344556677ff")


def test_program_without_write_enable_is_rejected_by_the_chip():
    rig = Rig(timing="instant")
    rig.command(0x02, address=0, dl=3, dmode=1, fmode=0)
    rig.w(DR, 0)
    rig.wait_idle()
    assert rig.chips[1].memory[:4] == b"\xff" * 4
    assert rig.chips[1].events[-1].outcome == "rejected"


def test_autopoll_matches_when_the_chip_finishes():
    rig = Rig()
    rig.program(0, b"\x00" * 256)
    busy_until = rig.chips[1].busy_until
    assert rig.clock.now_fs < busy_until
    rig.w(PSMKR, 1)
    rig.w(PSMAR, 0)
    rig.w(PIR, 16)
    rig.w(CR, rig.r(CR) | 1 << 22)
    rig.command(0x05, dl=0, dmode=1, fmode=2)
    reads = 1
    sr = rig.sr()
    while not sr & SMF and reads < 10:  # a spin loop: time jumps to the chip's end of busy
        sr = rig.sr()
        reads += 1
    assert sr & SMF and not sr & BUSY
    assert rig.clock.now_fs >= busy_until
    assert rig.r(DR) & 1 == 0


def test_autopoll_without_apms_keeps_polling_and_abort_ends_it():
    rig = Rig(timing="instant")
    rig.w(PSMKR, 0x02)
    rig.w(PSMAR, 0x02)  # wait for WEL
    rig.command(0x05, dl=0, dmode=1, fmode=2)
    assert rig.sr() & BUSY and not rig.sr() & SMF
    rig.w(CR, rig.r(CR) | 2)  # ABORT
    assert rig.r(CR) & 2 == 0
    assert rig.sr() & (BUSY | TCF) == TCF


def test_pmm_or_match():
    rig = Rig(timing="instant")
    rig.w(PSMKR, 0x03)
    rig.w(PSMAR, 0x03)  # OR: matches as soon as WIP... or WEL is 1: neither is
    rig.w(CR, rig.r(CR) | 1 << 23 | 1 << 22)
    rig.command(0x05, dl=0, dmode=1, fmode=2)
    rig.clock.advance_fs(10**9)
    assert not rig.sr() & SMF
    rig.w(CR, rig.r(CR) | 2)
    rig.wren()
    rig.command(0x05, dl=0, dmode=1, fmode=2)
    assert rig.sr() & SMF


def test_fifo_level_threshold_and_tcf():
    rig = Rig(timing="instant")
    rig.w(CR, (rig.r(CR) & ~(0x1F << 8)) | 7 << 8)  # threshold 8 bytes
    rig.command(0x03, address=0, dl=99, dmode=1, fmode=1)
    sr = rig.sr()
    assert (sr >> 8) & 0x3F == 32 and sr & FTF and not sr & TCF
    for _ in range(17):
        rig.r(DR)
    sr = rig.sr()  # 32 left: all data is in the FIFO, the flash side is done
    assert (sr >> 8) & 0x3F == 32 and sr & TCF and sr & BUSY
    for _ in range(7):
        rig.r(DR)
    sr = rig.sr()
    assert (sr >> 8) & 0x3F == 4 and sr & FTF  # below threshold but transfer complete
    rig.r(DR)
    assert rig.sr() & (BUSY | TCF) == TCF


def test_dlr_all_ones_reads_to_the_end_of_fsize():
    rig = Rig(timing="instant")
    rig.command(0x03, address=(1 << 24) - 5, dl=0xFFFFFFFF, dmode=1, fmode=1)
    assert (rig.sr() >> 8) & 0x3F == 5


def test_address_beyond_fsize_sets_tef():
    rig = Rig()
    rig.w(DCR, 20 << 16)  # 2 MiB declared
    rig.command(0x03, address=0x200000, dl=3, dmode=1, fmode=1)
    sr = rig.sr()
    assert sr & TEF and not sr & BUSY and rig.q.commands == 0


def test_dual_flash_interleaves_and_halves_the_address():
    rig = Rig(banks=(1, 2), dfm=True, timing="instant")
    rig.w(DLR, 4)
    assert rig.r(DLR) == 5  # DL[0] forced to 1
    rig.command(0x06)
    rig.wait_idle()
    rig.command(0x02, address=0x201, dl=7, dmode=1, fmode=0)
    assert rig.r(AR) == 0x200  # AR[0] forced to 0
    rig.w(DR, 0x03020100)
    rig.w(DR, 0x07060504)
    rig.wait_idle()
    assert rig.chips[1].memory[0x100:0x104] == bytes([0, 2, 4, 6])
    assert rig.chips[2].memory[0x100:0x104] == bytes([1, 3, 5, 7])
    assert rig.read(0x0B, 8, address=0x200, dcyc=8) == bytes(range(8))


def test_dual_flash_status_poll_sees_both_chips():
    rig = Rig(banks=(1, 2), dfm=True, timing="instant")
    rig.command(0x06)
    rig.wait_idle()
    # both WEL bits: 0x0202 in the interleaved two-byte status
    rig.w(PSMKR, 0x0202)
    rig.w(PSMAR, 0x0202)
    rig.w(CR, rig.r(CR) | 1 << 22)
    rig.command(0x05, dl=1, dmode=1, fmode=2)
    assert rig.sr() & SMF and rig.r(DR, 2) == 0x0202


def test_fsel_selects_bank_two():
    rig = Rig(banks=(1, 2), fsel=True, timing="instant")
    rig.program(0, b"\x12\x34")
    assert rig.chips[2].memory[:2] == b"\x12\x34"
    assert rig.chips[1].memory[:2] == b"\xff\xff"


def test_memory_mapped_zero_copy_and_wrong_command():
    rig = Rig(timing="instant")
    rig.program(0, bytes(range(32)))
    rig.w(CCR, ccr(0xEB, admode=3, abmode=3, adsize=2, dcyc=4, dmode=3, fmode=3))
    window = rig.q.window
    assert window.buffer is rig.chips[1].memory  # type: ignore[attr-defined]
    assert window.read(0, 8) == bytes(range(8))  # type: ignore[attr-defined]
    rig.w(CR, rig.r(CR) | 2)
    assert not rig.q.mapped and not window.mapped  # type: ignore[attr-defined]
    rig.wait_idle()
    # 0x0B with no dummy cycles: the chip answers, but the host samples too early
    rig.w(CCR, ccr(0x0B, admode=1, dmode=1, fmode=3))
    assert window.buffer is None  # type: ignore[attr-defined]
    assert window.read(0, 8) != bytes(range(8))  # type: ignore[attr-defined]


def test_clock_disabled_reads_zero_and_ignores_writes():
    rig = Rig()
    on = [False]
    rig.q.clock_enabled = lambda: on[0]
    rig.q.clock_changed()  # what the board does when RCC's enable bits change
    rig.w(DLR, 5)
    assert rig.r(DLR) == 0
    on[0] = True
    assert rig.r(CR) == 0  # the enable state is cached until the next notification
    rig.q.clock_changed()
    assert rig.r(DLR) == 0 and rig.r(CR) & 1


def test_command_duration_follows_prescaler_and_csht():
    for prescaler in (1, 3):
        rig = Rig(prescaler=prescaler)
        start = rig.clock.now_fs
        rig.command(0x9F, dl=2, dmode=1, fmode=1)
        for _ in range(3):
            rig.r(DR, 1)
        rig.sr()
        clk_fs = FS_PER_S * (prescaler + 1) // KERNEL_HZ
        assert rig.clock.now_fs - start == (8 + 24 + 2) * clk_fs  # opcode + data + CSHT(1)+1


def test_ddr_quad_read_duration():
    rig = Rig()
    start = rig.clock.now_fs
    rig.w(DLR, 255)
    rig.w(CCR, ccr(0xED, admode=3, dcyc=6, dmode=3, fmode=1, ddr=True))
    rig.w(AR, 0)
    for _ in range(64):
        rig.r(DR)
    rig.sr()
    clk_fs = FS_PER_S * 2 // KERNEL_HZ
    # opcode 8 + 24-bit address on 4 lines DDR 3 + 6 dummy + 256 B on 4 lines DDR 256 + CSHT 2
    assert rig.clock.now_fs - start == (8 + 3 + 6 + 256 + 2) * clk_fs


def test_sioo_sends_the_instruction_once():
    rig = Rig(timing="instant")
    seen: list[int | None] = []
    rig.q.trace = lambda bank, cmd: seen.append(cmd.instruction)
    rig.w(DLR, 0)
    rig.w(CCR, ccr(0x03, admode=1, dmode=1, fmode=1, sioo=True))
    rig.w(AR, 0)
    rig.r(DR, 1)
    rig.wait_idle()
    rig.w(AR, 4)
    rig.r(DR, 1)
    assert seen == [0x03, None]


def test_transfer_complete_interrupt():
    rig = Rig(timing="instant")
    rig.w(CR, rig.r(CR) | 1 << 17)  # TCIE
    rig.command(0x06)
    rig.sr()
    assert rig.irqs == [92]


def test_timeout_counter_sets_tof_and_clears_busy_in_mapped_mode():
    rig = Rig(timing="instant")
    rig.w(LPTR, 100)
    rig.w(CR, rig.r(CR) | 1 << 3)  # TCEN
    rig.w(CCR, ccr(0x03, admode=1, dmode=1, fmode=3))
    assert not rig.sr() & (TOF | BUSY)  # BUSY rises at the first window access (RM0433)
    rig.q.window.read(0, 4)  # type: ignore[attr-defined]
    assert rig.sr() & BUSY and not rig.sr() & TOF
    rig.clock.advance_fs(100 * 2 * FS_PER_S // KERNEL_HZ)
    assert rig.sr() & TOF and not rig.sr() & BUSY
    rig.q.window.read(4, 4)  # type: ignore[attr-defined]
    assert rig.sr() & BUSY


def test_command_written_before_any_window_access_leaves_mapped_mode():
    """A loader whose Init ends in memory-mapped mode and whose next call writes WREN to CCR
    without an ABORT works on silicon: BUSY is still low, so CCR takes the new command."""
    rig = Rig(timing="instant")
    rig.w(CCR, ccr(0x0B, admode=1, dmode=1, dcyc=8, fmode=3))
    assert rig.q.mapped and not rig.sr() & BUSY
    rig.wren()
    assert not rig.q.mapped and rig.chips[1].wel


def test_command_written_after_a_window_access_is_ignored_until_abort():
    rig = Rig(timing="instant")
    rig.w(CCR, ccr(0x0B, admode=1, dmode=1, dcyc=8, fmode=3))
    rig.q.window.read(0, 4)  # type: ignore[attr-defined]
    rig.w(CCR, ccr(0x06))
    assert rig.q.mapped and not rig.chips[1].wel
    rig.w(CR, rig.r(CR) | 2)  # ABORT
    rig.wait_idle()
    rig.wren()
    assert rig.chips[1].wel


def _probe(states: dict[str, PinView]):
    return lambda pin: states.get(pin, PinView("analog", 0, True))


WIRES = {n: BankWire(n, f"bk1_{n}" if n != "clk" else "clk", p, af) for n, p, af in (
    ("clk", "PB2", 9), ("ncs", "PB6", 10), ("io0", "PD11", 9), ("io1", "PD12", 9),
    ("io2", "PE2", 9), ("io3", "PD13", 9))}


def _routed(skip: str = "") -> dict[str, PinView]:
    return {w.pin: PinView("af", w.af, True) for n, w in WIRES.items() if n != skip}


def test_missing_io2_garbles_exactly_its_bits_in_a_quad_read():
    states = _routed("io2")
    rig = Rig(timing="instant", probe=_probe(states), wires={1: WIRES})
    rig.program(0, b"\x00\x00\x00\x00")  # 1-1-1 program does not use IO2: works
    assert rig.chips[1].memory[:4] == b"\x00" * 4
    data = rig.read(0x6B, 4, address=0, dcyc=8, dmode=3)
    assert data == bytes([0x44] * 4)  # bits 6 and 2 ride on IO2 and float high
    ev = rig.q.wiring_events[-1]
    assert (ev.signal, ev.pin, ev.mode, ev.expected_af) == ("bk1_io2", "PE2", "analog", 9)
    assert "PE2" in ev.describe() and "AF9" in ev.describe()


def test_clock_on_wrong_af_means_the_chip_sees_nothing():
    states = _routed()
    states["PB2"] = PinView("af", 10, True)
    rig = Rig(timing="instant", probe=_probe(states), wires={1: WIRES})
    assert rig.read(0x9F, 3) == b"\xff\xff\xff"
    rig.program(0, b"\x00")
    assert rig.chips[1].memory[0] == 0xFF
    assert rig.q.wiring_events[0].signal == "clk" and rig.q.wiring_events[0].af == 10


@pytest.mark.parametrize("variant,fifo", [("stm32g4", 16), ("stm32f7", 32)])
def test_fifo_depth_per_family(variant, fifo):
    rig = Rig(timing="instant", variant=variant)
    rig.command(0x03, address=0, dl=63, dmode=1, fmode=1)
    assert (rig.sr() >> 8) & 0x7F == fifo


def test_autopoll_samples_the_status_at_once():
    """RM0433 QUADSPI automatic status-polling mode: the status is read as soon as polling
    starts, then every PIR interval. A poll for WEL=1 started right after WREN matches on its
    first read (one status read of bus time), not at the next event (here a timer 1 ms on)."""
    rig = Rig(timing="instant")
    rig.wren()
    rig.clock.schedule(rig.clock.now_fs + FS_PER_S // 1000, lambda: None)
    rig.w(PSMKR, 0x02)
    rig.w(PSMAR, 0x02)
    rig.w(PIR, 0x1000)
    rig.w(CR, rig.r(CR) | 1 << 22)  # APMS
    start = rig.clock.now_fs
    rig.command(0x05, dl=0, dmode=1, fmode=2)
    sr = rig.sr()
    assert sr & SMF and not sr & BUSY
    # 16 clocks (8-bit instruction, 8-bit status) + nCS high, at 100 MHz: well under 1 us
    assert rig.clock.now_fs - start < FS_PER_S // 1_000_000
    assert rig.r(DR) & 0x02


def test_autopoll_that_does_not_match_skips_to_the_next_event():
    """After a first read that did not match, a spinning SR read jumps to what can change the
    status (here the timer 1 ms on): nothing between changes it."""
    rig = Rig(timing="instant")
    rig.clock.schedule(rig.clock.now_fs + FS_PER_S // 1000, lambda: None)
    rig.w(PSMKR, 0x02)
    rig.w(PSMAR, 0x02)  # WEL never comes: no WREN
    rig.w(PIR, 0x1000)
    rig.w(CR, rig.r(CR) | 1 << 22)
    start = rig.clock.now_fs
    rig.command(0x05, dl=0, dmode=1, fmode=2)
    assert not rig.sr() & SMF
    assert rig.clock.now_fs - start < FS_PER_S // 1_000_000  # the first read, at once
    assert not rig.sr() & SMF
    assert rig.clock.now_fs - start >= FS_PER_S // 1000  # then on to the timer
