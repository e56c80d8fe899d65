"""The native fast path on the OCTOSPI and XSPI front-ends: the same layout-driven C code that
serves QUADSPI serves them from the layout they describe, and changes nothing.

Each HAL-style loader (tests/firmware/ospi_hal) runs the same operations on its kit's virtual
board once through the pure-Python register path and once through the native one; flash
contents, every loader call's result and virtual duration, the final cycle count, the
controller's registers and the chip's command log must be identical, and the command lane must
have run the page programs.
"""

from __future__ import annotations

import ctypes
from types import SimpleNamespace
from typing import Any

import ospi_hal.build as ob
import pytest
from test_native_quadspi import Outcome, both_paths
from test_ospi_halstyle_run import RUNNING, built, kit_board  # noqa: F401 (the fixture)

from extflash import api, board, image
from extflash.emu.flash.octal import swap_pairs
from extflash.emu.native.quadspi_fast import (
    FRAME_ERASE,
    FRAME_POLL,
    FRAME_PROGRAM,
    FRAME_RSTEN,
    FRAME_WREN,
    QUIET_SR_READS,
    NativeQuadspi,
    QuadspiFastState,
)
from extflash.emu.periph import octospi as o
from extflash.emu.periph.engine import BUSY, FTF
from extflash.emu.virtual_board import VirtualBoard

needs_native = pytest.mark.usefixtures("native_required")
IDTR = 1 << 3  # OCTOSPI_CCR: the instruction in DTR (RM0468)


def program_counting_python(session: Any, q: Any, base: int, data: bytes) -> list[int]:
    """Erase and program ``data`` at ``base`` without read-back (memory-mapped reads would
    fill the chip's log; callers check the memory); the register offsets Python handled."""
    session.erase(base, len(data))
    handled: list[int] = []
    bus_read, bus_write = q.bus_read, q.bus_write
    q.bus_read = lambda o, n: handled.append(o) or bus_read(o, n)
    q.bus_write = lambda o, n, v: handled.append(o) or bus_write(o, n, v)
    session.program(image.from_chunks([image.Chunk(base, data)]), preserve=False, verify=False)
    q.refresh()
    return handled


@needs_native
@pytest.mark.parametrize("name", RUNNING)
def test_hal_style_loader_identical_on_both_paths(name, built, monkeypatch):  # noqa: F811
    elf, b = built(name)
    python, fast = both_paths(monkeypatch, elf, kit_board(name, b))
    assert python.served_natively == 0 and fast.served_natively > 1000  # DR beats went native
    assert fast == Outcome(**{**vars(python), "served_natively": fast.served_natively})


@needs_native
@pytest.mark.parametrize("name", ["h735-w25q128", "h7r7-w25q128-xspi1"])
def test_command_lane_runs_page_programs_on_octospi_and_xspi(name, built):  # noqa: F811
    """Write enable (an IR write), page program (the last DR beat) and automatic status
    polling (an IR write after CR.FMODE = 10) run in the lane: Python handles a handful of
    accesses for 64 pages, and the chip's log shows every command with its data as sent."""
    elf, b = built(name)
    data = bytes((i * 13 + (i >> 8)) & 0xFF for i in range(0x4000))
    with api.open_session(elf, board=kit_board(name, b)) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q = vb.qspi
        assert q.native is not None and q.name.startswith(("OCTOSPI", "XSPI"))
        commands = q.commands
        handled = program_counting_python(s, q, b.window + 0x20000, data)
        chip = vb.chips[1]
        programs = [e for e in chip.events if e.spi.write_data]
        assert q.commands - commands >= 3 * 64
        assert programs[-1].spi.address == 0x20000 + len(data) - 256
        assert programs[-1].spi.write_data == data[-256:]
        assert bytes(chip.memory[0x20000:0x20000 + len(data)]) == data
        assert len(handled) < 64 * 3, len(handled)


@needs_native
@pytest.mark.parametrize("name", ["h7b3-mx25lm-dtr", "h7s7-mx66uw-dtr-xspi2"])
def test_lane_runs_the_octal_frames_the_model_proved(name, built):  # noqa: F811
    """In octal DTR the lane decodes no frame itself: the model teaches it the write enable,
    the status read, the page program and the sector erase it ran (learned.py). After the first
    page, every page's write enable, page program and automatic polls (WEL, WIP) run in the
    lane, and so does every sector erase after the first: Python handles the calls' Init and the
    first page's and erase's accesses, none for each page or erase after. The chip's log shows
    each poll with the address its frame sent, each erase with its address and each program with
    its data in bus order (the controller's MTYP swaps each byte pair, the chip swaps them back
    into its array)."""
    elf, b = built(name)
    data = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(0x4000))
    with api.open_session(elf, board=kit_board(name, b)) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q = vb.qspi
        handled = program_counting_python(s, q, b.window + 0x40000, data)
        chip = vb.chips[1]
        assert chip.protocol == "8D"
        assert bytes(chip.memory[0x40000:0x40000 + len(data)]) == data
        frames = q._learned.frames((chip.lane_facts().octal_mode, q.clk_hz))
        # and the reset enable its Init sends in 8D before the reset (the reset stays the model's)
        assert {f.kind for f in frames} == {FRAME_WREN, FRAME_POLL, FRAME_PROGRAM, FRAME_ERASE,
                                            FRAME_RSTEN}
        (erase,) = [f for f in frames if f.kind == FRAME_ERASE]
        assert erase.size == 0x10000 and erase.op_fs > 0  # the loader erases 64 KiB blocks
        # 56: the calls' Init and the first page, the same for 128 pages (none a page after);
        # 10 a page without the learned frames
        assert len(handled) < 64, len(handled)
        programs = [e for e in chip.events if e.spi.write_data]
        assert programs[-1].spi.address == 0x40000 + len(data) - 256
        assert programs[-1].spi.write_data == swap_pairs(data[-256:])
        polls = [e for e in chip.events if e.spi.read_length and not e.spi.write_data]
        assert polls and all(e.spi.address == 0 for e in polls[-8:])
        assert polls[-1].spi.address_lines == 8 and polls[-1].spi.dummy_cycles > 0
        # the block erase taught, the next ones run in the lane: none reaches the model's
        # transfer, each is in the chip's log and has erased its block
        sent: list[str | None] = []
        transfer = q._transfer
        q._transfer = lambda cmd: sent.append(chip.lane_frame(cmd)) or transfer(cmd)
        for block in range(0x80000, 0xC0000, 0x10000):
            chip.memory[block:block + 0x10000] = bytes(0x10000)
            s.erase(b.window + block, 0x10000)
            (last,) = [e.spi.address for e in chip.events if e.spi.address is not None
                       and not e.spi.read_length and not e.spi.write_data][-1:]
            assert last == block
            assert bytes(chip.memory[block:block + 0x10000]) == b"\xff" * 0x10000
        assert "erase" not in sent and "wren" not in sent


@needs_native
@pytest.mark.parametrize("name", ["h735-w25q128", "h7r7-w25q128-xspi1"])
def test_octospi_registers_are_served_from_its_layout(name):
    """An indirect write on OCTOSPI/XSPI registers: CCR, TCR, IR (a command with software data
    starts nothing), DLR and AR are served natively, the first DR beat starts the write and the
    last one goes to Python, which sends the frame IR/CCR describe; ABR, locked while BUSY on
    this controller (RM0455), is left to Python then and keeps its value."""
    vb = VirtualBoard(kit_board(name, ob.loader_build(ob.KITS[name], name)))
    q = vb.qspi
    nat = q.native
    assert nat is not None
    sent: list[Any] = []
    q.trace = lambda bank, cmd: sent.append(cmd)  # what reaches the chip select
    q.clock_enabled = lambda: True
    q.clock_changed()
    nat.write(o.CR, 4, 1 | 3 << 8)  # EN, FTHRES = 3, FMODE = 00 (indirect write)
    nat.write(o.DCR1, 4, 23 << 16)  # 16 MiB
    nat.write(o.DLR, 4, 15)  # 16 bytes
    nat.write(o.CCR, 4, 1 | 1 << 8 | 2 << 12 | 1 << 24)  # 1-1-1, 3-byte address
    nat.write(o.TCR, 4, 0)
    nat.write(o.IR, 4, 0x02)  # page program: waits for its address and data
    nat.write(o.AR, 4, 0x100)
    assert q.values[o.DLR] == q.values[o.IR] == 0  # served natively: Python has not seen them
    for i in range(4):
        sr = nat.read(o.SR, 4)
        assert sr & FTF and bool(sr & BUSY) == (i > 0)
        if i == 2:
            nat.write(o.ABR, 4, 0x55)  # ignored while BUSY
        nat.write(o.DR, 4, 0x03020100 + 0x04040404 * i)
    q.refresh()
    assert vb.machine.bus.error is None
    assert q.values[o.DLR] == 15 and q.values[o.IR] == 0x02 and q.values[o.ABR] == 0
    assert [(c.instruction, c.address, c.address_bytes, c.write_data) for c in sent] == [
        (0x02, 0x100, 3, bytes(range(16)))]



@needs_native
def test_configuration_reads_unchanged_writes_and_an_unclocked_controller_stay_native():
    """A HAL Init reads DCR2 and the memory-mapped write frame back and writes values they hold
    already, and configures both OCTOSPI instances (HAL_OSPIM_Config) while one has no clock:
    those are served natively. A write that changes the configuration goes to the model, and
    an unclocked controller polled on and on reaches the model too (the machine must see a
    loop that cannot end)."""
    name = "h735-w25q128"
    vb = VirtualBoard(kit_board(name, ob.loader_build(ob.KITS[name], name)))
    handled: list[tuple[str, int]] = []
    for q in vb.controllers.values():
        read, write = q.bus_read, q.bus_write
        q.bus_read = lambda o, n, q=q, read=read: handled.append((q.name, o)) or read(o, n)
        q.bus_write = (lambda o, n, v, q=q, write=write:
                       handled.append((q.name, o)) or write(o, n, v))
    q, other = vb.controllers["OCTOSPI1"], vb.controllers["OCTOSPI2"]
    assert q.native is not None and other.native is not None
    q.clock_enabled = lambda: True
    q.clock_changed()
    q.write(o.DCR2, 4, 3)  # through the model: published
    q.write(o.WIR, 4, 0x32)
    assert q.native.read(o.DCR2, 4) == 3 and q.native.read(o.WIR, 4) == 0x32
    q.native.write(o.DCR2, 4, 3)
    q.native.write(o.WIR, 4, 0x32)
    assert handled == []
    q.native.write(o.DCR2, 4, 1)  # a new prescaler: the model's
    assert handled == [("OCTOSPI1", o.DCR2)] and q.values[o.DCR2] == 1
    assert q.native.read(o.DCR2, 4) == 1
    handled.clear()
    assert not other._clocked
    other.native.write(o.CR, 4, 1)  # no clock: nothing changes
    assert [other.native.read(o.CR, 4) for _ in range(QUIET_SR_READS)] == [0] * QUIET_SR_READS
    assert handled == []
    other.native.read(o.CR, 4)  # polled on: the model (and the machine) see it
    assert handled == [("OCTOSPI2", o.CR)]
    other.refresh()
    assert other.values[o.CR] == 0 and vb.machine.bus.error is None


@needs_native
def test_a_page_write_python_took_part_of_still_ends_in_the_lane(built):  # noqa: F811
    """A SysTick tick in the middle of a page's DR writes hands the bytes so far to Python;
    they go back into the capture buffer when the lane resumes (prefill), so the beat that
    completes the page still runs its program in the lane: of 256 pages, Python sends at most
    the first one of each loader call to the chip (there it teaches the lane the frame)."""
    elf, b = built("h735-w25q128")
    data = bytes((i * 5 + (i >> 8)) & 0xFF for i in range(0x10000))
    with api.open_session(elf, board=kit_board("h735-w25q128", b)) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q = vb.qspi
        base = b.window + 0x80000
        s.erase(base, len(data))
        sent: list[int] = []
        write_dr = q._write_dr
        prefills: list[int] = []
        prefill = q.native.prefill
        q.native.prefill = lambda held: prefills.append(len(held)) or prefill(held)

        def counting(offset: int, size: int, value: int) -> None:
            act = q._active
            before = act is not None and act.done_fs
            write_dr(offset, size, value)
            act = q._active
            if act is not None and act.done_fs and not before:
                sent.append(len(act.tx))

        q._write_dr = counting
        s.program(image.from_chunks([image.Chunk(base, data)]), preserve=False, verify=False)
        q.refresh()
        assert bytes(vb.chips[1].memory[0x80000:0x80000 + len(data)]) == data
        assert prefills, "no page was interrupted: the test shows nothing"
        assert len(sent) <= 4, sent


def init_in_full(session: Any) -> None:
    """Init after an RCC reset of the controller: a generated loader then resets the chip and
    switches its mode again, as its first Init does (while the window stays mapped as Init left
    it, Init sends the chip nothing; docs/generator.md). The chip keeps its mode meanwhile."""
    session.target.board.qspi.reset()
    session.driver.load()
    session.driver.expect_ok("Init", 1, timeout_s=5)


@needs_native
def test_reset_enables_write_disables_and_refused_frames_run_in_the_lane(gen_loader, monkeypatch):
    """The generated STM32H735G-DK loader's Init resets the chip (RSTEN/RST in 8D, 8S and SPI)
    and ends its switch to 8D with WREN, a WEL check and WRDI. The SPI reset enable the lane
    decodes itself; the 8D reset enable, the write disable and the 8S pair the chip (in SPI by
    then) refuses, with the model's reason, it runs once the model has run and proved them
    (learned.py: the first Init finds the chip in SPI, the second teaches the 8D reset
    enable). The resets themselves stay the model's, and find the reset armed by the lane's
    reset enable right before them: the chip ends in 8D, its log holds every frame, and the
    loader's Init succeeds every time."""
    brd = board.load("stm32h735g-dk")
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q, chip = vb.qspi, vb.chips[1]
        s.driver.begin("program")  # the chip starts in SPI: its 8D reset enable is refused
        init_in_full(s)  # now in 8D: the model runs and teaches it
        started: list[tuple[int, bool]] = []  # (IR, DTR instruction): what Python started
        start = q._start
        monkeypatch.setattr(q, "_start", lambda fmode, address: (
            started.append((q.values[o.IR], bool(q.values[o.CCR] & IDTR))),
            start(fmode, address))[1])
        events = len(list(chip.events))
        init_in_full(s)
        logged = [(e.spi.instruction, e.outcome) for e in list(chip.events)[events:]]
        assert chip.protocol == "8D"
        # 8D RSTEN, RST; SPI RSTEN, RST; the 8S pair, sent to a chip in SPI, refused
        for frame in (0x6699, 0x9966, 0x66, 0x99, 0x04FB):
            assert (frame, "ok") in logged, (hex(frame), logged)
        assert (0x6699, "rejected") in logged and (0x9966, "rejected") in logged
        assert all(e.reason == "no instruction phase" for e in list(chip.events)[events:]
                   if e.outcome == "rejected")
        # Python starts the two resets only
        assert started == [(0x9966, True), (0x99, False)]
        assert not chip.reset_armed and not chip.wel



@needs_native
def test_the_chip_tables_a_mode_switch_brings_back_are_those_writing_them_gives(gen_loader,
                                                                              monkeypatch):
    """An octal Init moves the lane between the chip's SPI tables (after the resets) and its
    octal ones (after the switch to 8D). Once the model has taught the lane its frames (the
    first Inits), every set is put back from the bytes it made, and the lane then holds what
    writing it again would give."""
    brd = board.load("stm32h735g-dk")
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        nat = s.target.board.qspi.native  # type: ignore[attr-defined]
        s.driver.begin("program")
        for _ in range(3):
            init_in_full(s)
        written: list[object] = []
        write = nat._write_tables
        monkeypatch.setattr(nat, "_write_tables", lambda facts, frames: (
            written.append(frames), write(facts, frames))[1])
        switches = len(nat._table_bytes)
        for _ in range(5):
            init_in_full(s)
        assert written == [] and switches >= 2
        programs, reads, erases, reg_reads, frames = nat._tables
        fresh = SimpleNamespace(state=QuadspiFastState())
        NativeQuadspi._write_tables(fresh, SimpleNamespace(  # type: ignore[arg-type]
            programs=programs, reads=reads, erases=erases, reg_reads=reg_reads), frames)
        held, want = nat.state, fresh.state
        for name in ("programs", "reads", "frames", "erases", "reg_reads"):
            n = getattr(want, f"n_{name}")
            table = getattr(want, name)
            entry = {"programs": 4, "reads": 8}.get(name) or ctypes.sizeof(table._type_)
            assert getattr(held, f"n_{name}") == n, name
            assert bytes(getattr(held, name))[:n * entry] == bytes(table)[:n * entry], name
