"""The QUADSPI's native fast path: it builds, it falls back cleanly, and it changes nothing.

The same loaders (the generator's word-wise one and the HAL-style byte-wise one) run the same
operations on the same virtual boards once through the pure-Python register path and once
through the native one; flash contents, every loader call's result and virtual duration, the
final cycle count, the controller's registers and the chip's command log must be identical.
(:func:`exercise` and :func:`both_paths` serve the OCTOSPI/XSPI differential in
test_native_octospi.py too.)
"""

from __future__ import annotations

import logging
import random
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import pytest
from test_reference_loaders import halstyle_loader

from extflash import api, board
from extflash.emu import native
from extflash.emu.machine import MAX_SLICE
from extflash.emu.periph.frontstate import FMODE_READ
from extflash.emu.periph.quadspi import BUSY, CCR, CR, DCR, DR, FTF, SR
from extflash.emu.virtual_board import VirtualBoard
from extflash.errors import ConfigError
from extflash.image import Chunk, from_chunks

needs_native = pytest.mark.usefixtures("native_required")


@dataclass
class Outcome:
    flash: bytes
    calls: list[tuple[str, tuple[int, ...], int | None, float]]
    time_fs: int
    cycles: int
    registers: dict[int, int]
    sticky: int
    commands: int
    chip_log: list[Any]
    read_back: bytes
    served_natively: int


def exercise(loader: Path, brd: board.Board) -> Outcome:
    """Program (aligned, unaligned and odd-sized pieces), read back through Read(), erase."""
    with api.open_session(loader, board=brd) as s:
        base = s.geometry.start
        sector = s.geometry.sectors[0].size
        rnd = random.Random(7)
        img = from_chunks([
            Chunk(base + sector, rnd.randbytes(2 * sector), "two sectors"),
            Chunk(base + 4 * sector + 0x81, rnd.randbytes(0x2F3), "unaligned, odd length"),
        ], source="identity")
        assert s.program(img, preserve=False).report.verified
        s.driver.begin("read")
        driver: Any = s.driver
        back = driver.read_through_loader(base + sector + 3, 0x1005)
        s.erase(base + 2 * sector, sector)
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q = vb.qspi
        nat = q.native
        return Outcome(
            flash=vb.flash_contents(), calls=[astuple(c) for c in s.driver.calls],
            time_fs=vb.machine.clock.now_fs, cycles=vb.machine.clock.cycles,
            registers=dict(q.values), sticky=q._sticky, commands=q.commands,
            chip_log=[list(c.events) for c in vb.chips.values()], read_back=back,
            served_natively=nat.beats() if nat is not None else 0)


def both_paths(monkeypatch: pytest.MonkeyPatch, loader: Path,
               brd: board.Board) -> tuple[Outcome, Outcome]:
    monkeypatch.setenv("EXTFLASH_NATIVE", "0")
    python = exercise(loader, brd)
    monkeypatch.delenv("EXTFLASH_NATIVE")
    fast = exercise(loader, brd)
    return python, fast


@needs_native
@pytest.mark.parametrize("name", ["nucleo-h743zi-w25q128", "stm32h743i-eval",
                                  "stm32f746g-disco", "b-l475e-iot01a", "stm32h735g-dk"])
def test_generated_loader_identical_on_both_paths(name, gen_loader, monkeypatch):
    brd = board.load(name)
    python, fast = both_paths(monkeypatch, gen_loader(brd).stldr, brd)
    assert python.served_natively == 0 and fast.served_natively > 1000  # DR words went native
    assert fast.flash == python.flash
    assert fast.read_back == python.read_back
    assert fast.calls == python.calls
    assert (fast.time_fs, fast.cycles) == (python.time_fs, python.cycles)
    assert fast.registers == python.registers and fast.sticky == python.sticky
    assert fast.commands == python.commands and fast.chip_log == python.chip_log


@needs_native
@pytest.mark.parametrize("name", ["nucleo-h743zi-w25q128", "stm32h743i-eval"])
def test_halstyle_loader_identical_on_both_paths(name, build_elf, monkeypatch):
    """Byte-wise DR accesses, SysTick interrupts and HAL read-modify-write register order."""
    brd = board.load(name)
    python, fast = both_paths(monkeypatch, halstyle_loader(brd, build_elf), brd)
    assert fast.served_natively > 4000  # byte beats went native
    assert fast == Outcome(**{**vars(python), "served_natively": fast.served_natively})


@needs_native
def test_native_path_is_used_by_default_and_can_be_refused():
    brd = board.load("nucleo-h743zi-w25q128")
    assert VirtualBoard(brd).qspi.native is not None
    assert VirtualBoard(brd, native=True).qspi.native is not None
    assert VirtualBoard(brd, native=False).qspi.native is None


@needs_native
def test_timeless_accesses_are_served_in_c_and_the_rest_in_python():
    """An indirect write: register writes and the DR beats are handled natively (the first
    beat starts the write), the last beat completes it in Python, which sends the command; the
    chip select sees exactly the bytes written."""
    vb = VirtualBoard(board.load("nucleo-h743zi-w25q128"))
    q = vb.qspi
    nat = q.native
    assert nat is not None
    sent: list[Any] = []
    q.trace = lambda bank, cmd: sent.append(cmd)  # what reaches the chip select
    q.clock_enabled = lambda: True
    q.clock_changed()
    nat.write(0x00, 4, 1 | 3 << 8)  # CR: EN, FTHRES = 3
    nat.write(0x04, 4, 23 << 16)  # DCR: 16 MiB
    nat.write(0x10, 4, 15)  # DLR: 16 bytes
    nat.write(0x14, 4, 0x02 | 1 << 8 | 1 << 10 | 2 << 12 | 1 << 24)  # CCR: page program 1-1-1
    nat.write(0x18, 4, 0x100)  # AR: waits for data
    assert q.values[0x10] == 0  # DLR, CCR and AR were served natively: Python has not seen them
    before = nat.beats()
    for i in range(4):
        sr = nat.read(SR, 4)
        assert sr & FTF and bool(sr & BUSY) == (i > 0)  # busy once the first beat started it
        nat.write(DR, 4, 0x03020100 + 0x04040404 * i)
    assert vb.machine.bus.error is None
    assert nat.beats() - before == 3  # all but the completing beat
    q.refresh()
    assert q.values[0x10] == 15 and q.commands == 1
    assert [(c.instruction, c.address, c.write_data) for c in sent] == [(0x02, 0x100,
                                                                          bytes(range(16)))]


@needs_native
def test_mapped_mode_reads_and_an_idle_set_up_are_served_in_c():
    """What every Init does to the mode its last call left: CR, CCR and SR reads in memory-
    mapped mode (BUSY from the first window access on, RM0433 §23.3.7), then the abort, EN
    cleared, DCR written again unchanged and EN set. Only the abort reaches the model; with
    TCEN (the timeout follows time) the mapped mode's reads are the model's again."""
    vb = VirtualBoard(board.load("nucleo-h743zi-w25q128"))
    q = vb.qspi
    nat = q.native
    assert nat is not None
    q.clock_enabled = lambda: True
    q.clock_changed()
    seen: list[tuple[str, int]] = []
    model_read, model_write = q.bus_read, q.bus_write

    def read(offset: int, size: int) -> int:
        seen.append(("R", offset))
        return model_read(offset, size)

    def write(offset: int, size: int, value: int) -> None:
        seen.append(("W", offset))
        model_write(offset, size, value)

    q.bus_read, q.bus_write = read, write  # what reaches the model
    cr, dcr = 1 | 3 << 8 | 1 << 22, 23 << 16  # EN, FTHRES = 3, APMS; 16 MiB
    ccr = 0x0B | 1 << 8 | 1 << 10 | 2 << 12 | 1 << 24 | 8 << 18 | 3 << 26  # fast read, mapped
    for offset, value in ((CR, cr), (DCR, dcr), (CCR, ccr)):
        nat.write(offset, 4, value)
    assert q.mapped
    seen.clear()
    assert nat.read(CR, 4) == cr and nat.read(CCR, 4) == ccr
    assert not nat.read(SR, 4) & BUSY  # nothing touched the window yet
    q._mapped_access()  # the window's first access (what its hook runs)
    assert nat.read(SR, 4) & BUSY
    assert seen == []
    nat.write(CR, 4, cr | 2)  # ABORT: the model leaves the mode
    assert not q.mapped and seen == [("W", CR)]
    nat.write(CR, 4, 0)  # EN cleared, DCR written again (unchanged), EN set
    nat.write(DCR, 4, dcr)
    nat.write(CR, 4, cr)
    assert not nat.read(SR, 4) & BUSY and seen == [("W", CR)]
    q.refresh()
    assert q.values[CR] == cr and q.values[DCR] == dcr
    nat.write(CR, 4, cr | 1 << 3)  # TCEN
    nat.write(CCR, 4, ccr)
    seen.clear()
    nat.read(SR, 4)
    nat.read(CR, 4)
    assert seen == [("R", SR), ("R", CR)]


def test_no_compiler_falls_back_to_python_with_one_message(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    native._load.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger="extflash.emu.native"):
            assert native.load("quadspi_fast") is None
            assert native.load("quadspi_fast") is None
            brd = board.load("nucleo-h743zi-w25q128")
            vb = VirtualBoard(brd)
        assert vb.qspi.native is None
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 1 and "no-such-cc" in messages[0]
        with pytest.raises(ConfigError, match="native fast path unavailable"):
            VirtualBoard(brd, native=True)
    finally:
        native._load.cache_clear()


def test_turned_off_by_environment(monkeypatch):
    monkeypatch.setenv("EXTFLASH_NATIVE", "0")
    assert native.load("quadspi_fast") is None
    with pytest.raises(native.NativeUnavailable, match="EXTFLASH_NATIVE"):
        native.require("quadspi_fast")


@needs_native
def test_library_is_cached_by_source_hash(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    native._load.cache_clear()
    try:
        assert native.load("quadspi_fast") is not None
        built = list((tmp_path / "extflash" / "native").glob("quadspi_fast-*.so"))
        assert len(built) == 1
        stamp = built[0].stat().st_mtime_ns
        native._load.cache_clear()
        assert native.load("quadspi_fast") is not None  # loaded again, not rebuilt
        assert built[0].stat().st_mtime_ns == stamp
    finally:
        native._load.cache_clear()



@needs_native
def test_command_lane_runs_page_programs_without_python(gen_loader):
    """Write enable, page program and the status polls of every page run in the native lane:
    Python handles Init's set-up and a few accesses for 256 pages (over 1,000 without the lane),
    and the chip's log and counters still show every command, each page's data as sent."""
    brd = board.load("nucleo-h743zi-w25q128")
    data = random.Random(3).randbytes(0x10000)
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q = vb.qspi
        base = s.geometry.start
        s.erase(base, len(data))
        handled = []
        bus_read, bus_write = q.bus_read, q.bus_write
        q.bus_read = lambda o, n: handled.append(o) or bus_read(o, n)
        q.bus_write = lambda o, n, v: handled.append(o) or bus_write(o, n, v)
        commands = q.commands
        s.driver.begin("program")
        s.driver.write(base, data)
        q.refresh()
        assert len(handled) < 64, handled
        assert q.commands - commands >= 4 * 256  # write enable, program, two polls a page
        chip = vb.chips[1]
        programs = [e for e in chip.events if e.spi.write_data]
        assert [e.spi.address for e in programs[-4:]] == [0xFC00, 0xFD00, 0xFE00, 0xFF00]
        assert programs[-1].spi.write_data == data[-256:]
        assert bytes(chip.memory[:len(data)]) == data


@needs_native
def test_a_write_waiting_on_the_chip_runs_in_one_slice(gen_loader, monkeypatch):
    """A 256 KiB Write spends about 0.2 s of virtual time (96M cycles at 480 MHz) waiting out
    page programs in the lane: MAX_SLICE caps a slice's instructions, not the time the lane
    lets pass, so the call runs in one slice (it took six, each a take-over and a turn of the
    run loop). The first Writes are left out: the data loop's looks stop the core there."""
    brd = board.load("nucleo-h743zi-w25q128")
    data = random.Random(5).randbytes(0x100000)
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        machine = s.target.machine  # type: ignore[attr-defined]
        base, last = s.geometry.start, len(data) - 0x40000
        s.erase(base, len(data))
        s.driver.begin("program")
        for offset in range(0, last, 0x40000):
            s.driver.write(base + offset, data[offset:offset + 0x40000])
        slices: list[int] = []
        run_ticking = machine._run_ticking
        monkeypatch.setattr(machine, "_run_ticking",
                            lambda pc, budget: slices.append(budget) or run_ticking(pc, budget))
        before = machine.clock.now_fs
        s.driver.write(base + last, data[last:])
        assert machine.clock.now_fs - before > 5 * MAX_SLICE * machine.clock.fs_per_cycle
        assert slices == [MAX_SLICE, MAX_SLICE]  # the Init before it, the Write
        chip: Any = s.target.board.chips[1]  # type: ignore[attr-defined]
        assert bytes(chip.memory[:len(data)]) == data


@needs_native
def test_register_reads_run_in_the_lane(gen_loader, monkeypatch):
    """An Init reads the chip's ID and its status registers (RDID, RDSR1, RDSR2): the command
    lane answers them as the model does (the value repeated from the first data clock, SR1 with
    the latch and busy bit it holds), so only the resets go to the model; the chip's log shows
    every read, and the loader finds its chip."""
    brd = board.load("nucleo-h743zi-w25q128")
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q = vb.qspi
        s.driver.begin("program")
        q.reset()  # an RCC reset of the controller: the next Init sets the chip up again
        started: list[int] = []
        start = q._start
        monkeypatch.setattr(q, "_start", lambda fmode, address: (
            started.append(q.values[CCR] & 0xFF), start(fmode, address))[1])
        events = len(list(vb.chips[1].events))
        s.driver.load()
        s.driver.expect_ok("Init", 1, timeout_s=5)
        logged = [e.spi for e in list(vb.chips[1].events)[events:]]
        reads = {c.instruction: c.read_length for c in logged if c.read_length}
        assert reads == {0x9F: 3, 0x05: 1, 0x35: 1}
        assert not {0x9F, 0x05, 0x35} & set(started), started


@needs_native
def test_command_lane_lets_systick_ticks_pass_without_python(build_elf):
    """A HAL-style loader polls the busy chip through an erase while SysTick interrupts it
    every millisecond: the lane passes each tick and stops the core for it, and Python takes
    the time over without handling the status read (it handled one or more per tick before)."""
    brd = board.load("nucleo-h743zi-w25q128")
    with api.open_session(halstyle_loader(brd, build_elf), board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q, machine = vb.qspi, vb.machine
        handled: list[int] = []
        bus_read = q.bus_read
        q.bus_read = lambda o, n: handled.append(o) or bus_read(o, n)
        ticks = []
        enter = machine.exceptions.enter
        machine.exceptions.enter = lambda exc, handler: ticks.append(exc) or enter(exc, handler)
        in_c = machine._ticks.state.ticks_total if machine._ticks is not None else 0
        start, sector = machine.clock.now_fs, s.geometry.sectors[0].size
        vb.chips[1].memory[:sector] = bytes(sector)
        s.erase(s.geometry.start, sector)
        erase_ms = (machine.clock.now_fs - start) / 1e12
        assert vb.chips[1].memory[:sector] == b"\xff" * sector
        if machine._ticks is not None:  # the machine's C tick loop took most ticks
            ticks += [15] * (machine._ticks.state.ticks_total - in_c)
        assert erase_ms > 40 and ticks.count(15) >= 40  # the sector erase's 45 ms, in ticks
        assert len(handled) < 20, (len(handled), len(ticks))


@needs_native
def test_indirect_reads_wait_and_drain_in_the_lane(build_elf):
    """An indirect read Python started: the SR reads that wait for its data (to the full FIFO,
    then to the end of the transfer) and the DR read that drains its last bytes run in C; the
    HAL-style Read() of 64 reads of 64 bytes hands Python no DR read and half the accesses it
    handled before."""
    brd = board.load("nucleo-h743zi-w25q128")
    with api.open_session(halstyle_loader(brd, build_elf), board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q = vb.qspi
        base = s.geometry.start
        vb.chips[1].memory[:4096] = bytes(range(256)) * 16
        driver: Any = s.driver
        driver.begin("read")
        handled: list[int] = []
        bus_read = q.bus_read
        q.bus_read = lambda o, n: handled.append(o) or bus_read(o, n)
        reads = q.commands
        back = b"".join(driver.read_through_loader(base + i, 64) for i in range(0, 4096, 64))
        assert back == bytes(range(256)) * 16
        assert q.commands - reads >= 64
        assert 0x20 not in handled  # no DR read, not even the last of a read
        # the rest: leaving memory-mapped mode and the starts (about 17 a read before)
        assert len(handled) <= 8 * 64, len(handled)


def register_level_loader(build_elf: Any, *faults: str) -> Path:
    """tests/firmware/faulty: 1-1-1 byte-wise commands, each page read back through an indirect
    read (0Bh) after its program."""
    name = "register-level-" + ("-".join(faults).lower() or "none")
    return build_elf(name, ["faulty/loader.c"], "faulty/h7.ld",
                     cflags=[f"-DFAULT_{f}" for f in faults])


@needs_native
@pytest.mark.parametrize("faults", [(), ("READ_DUMMY",)])
def test_register_level_loader_identical_on_both_paths(faults, build_elf, monkeypatch):
    """Indirect reads of the array run in the lane when their phases are the chip's (0Bh, 8
    wait clocks); with 6 wait clocks the chip returns other bytes, which Python works out: the
    loader's read-back then fails its Write on both paths alike."""
    brd = board.load("nucleo-h743zi-w25q128")
    loader = register_level_loader(build_elf, *faults)
    if faults:
        with pytest.raises(Exception) as python_error:
            monkeypatch.setenv("EXTFLASH_NATIVE", "0")
            exercise(loader, brd)
        monkeypatch.delenv("EXTFLASH_NATIVE")
        with pytest.raises(Exception) as fast_error:
            exercise(loader, brd)
        assert str(fast_error.value) == str(python_error.value)
        assert "Write(" in str(fast_error.value)
        return
    python, fast = both_paths(monkeypatch, loader, brd)
    assert fast.served_natively > 4000
    assert fast == Outcome(**{**vars(python), "served_natively": fast.served_natively})


@needs_native
def test_command_lane_starts_array_reads(build_elf):
    """The AR write starting an indirect read of the array runs in the lane: the register-level
    loader reads each page back after programming it, and Python handles none of those AR
    writes, while the chip's log still shows every read with its address and length."""
    brd = board.load("nucleo-h743zi-w25q128")
    data = random.Random(5).randbytes(0x4000)
    with api.open_session(register_level_loader(build_elf), board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q = vb.qspi
        base = s.geometry.start
        s.erase(base, len(data))
        started: list[int] = []  # commands Python starts, by FMODE
        start = q._start
        q._start = lambda fmode, address: started.append(fmode) or start(fmode, address)
        s.driver.begin("program")
        s.driver.write(base, data)
        q.refresh()
        reads = [e for e in vb.chips[1].events if e.spi.instruction == 0x0B]
        assert [(e.spi.address, e.spi.read_length) for e in reads[-2:]] == [(0x3E00, 256),
                                                                            (0x3F00, 256)]
        assert len(reads) >= 64 and started.count(FMODE_READ) <= 4, started  # 64 without
        assert bytes(vb.chips[1].memory[:len(data)]) == data


@needs_native
def test_a_chips_end_of_busy_the_lane_holds_ends_no_run_slice(build_elf):
    """The lane ends the chip's operation itself (at the first status read at or after its end),
    so the chip's end-of-busy event is not where a run slice must end: erasing 64 sectors of
    4 KiB, each waited out with status reads, takes 84 run slices (148, one more a sector, when
    the chip's events ended them); virtual time is the same either way (the differential tests
    compare it with the Python path, which has no lane)."""
    brd = board.load("nucleo-h743zi-w25q128")
    with api.open_session(register_level_loader(build_elf), board=brd) as s:
        m: Any = s.target.machine  # type: ignore[attr-defined]
        vb: Any = s.target.board  # type: ignore[attr-defined]
        base = s.geometry.start
        vb.chips[1].memory[:0x40000] = bytes(0x40000)
        runs: list[int] = []  # run slices, in the C tick loop or not
        run, emu_start = m._run_ticking, m.uc.emu_start
        m._run_ticking = lambda pc, budget: runs.append(pc) or run(pc, budget)
        m.uc.emu_start = lambda *a, **k: runs.append(a[0]) or emu_start(*a, **k)
        s.erase(base, 0x40000)
        assert bytes(vb.chips[1].memory[:0x40000]) == b"\xff" * 0x40000
        assert not vb.chips[1].busy
        assert len(runs) < 100, len(runs)


@needs_native
def test_command_lane_runs_sector_erases(build_elf):
    """The AR write starting a sector erase the chip accepts runs in the lane: the register-level
    loader erases 64 sectors of 4 KiB and Python starts none of them, while the chip's log
    shows every erase with its address and the array reads erased."""
    brd = board.load("nucleo-h743zi-w25q128")
    with api.open_session(register_level_loader(build_elf), board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        q, chip = vb.qspi, vb.chips[1]
        chip.memory[:0x40000] = bytes(0x40000)
        started: list[int] = []  # the opcodes of the commands Python starts
        start = q._start
        q._start = lambda fmode, address: (started.append(q.values[q.L.CCR] & 0xFF)
                                           or start(fmode, address))
        s.erase(s.geometry.start, 0x40000)
        q.refresh()
        erases = [e.spi.address for e in chip.events if e.spi.instruction == 0x20]
        assert erases[-2:] == [0x3E000, 0x3F000]  # the log keeps the last commands only
        assert 0x20 not in started, started  # 64 without the lane
        assert bytes(chip.memory[:0x40000]) == b"\xff" * 0x40000


def protected_erase_and_program(loader: Path, brd: board.Board) -> tuple[Any, ...]:
    """Erase and program the block-protected top 256 KiB (BP0, set after each Init, which
    clears it, and before the call): the chip refuses both."""
    with api.open_session(loader, board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        chip = vb.chips[1]
        driver: Any = s.driver
        run_code = driver.run_code

        def protect_then_run(name: str, *args: Any) -> Any:
            if name in ("SectorErase", "Write"):
                chip.regs["sr1"] |= 0x04
            return run_code(name, *args)

        driver.run_code = protect_then_run
        top = s.geometry.start + chip.spec.size - 0x40000
        chip.memory[-0x40000:-0x3F000] = bytes(0x1000)  # something to erase
        outcomes = []
        for step in (lambda: s.erase(top, 0x1000),
                     lambda: s.program(from_chunks([Chunk(top + 0x1000, b"\x00" * 0x100, "p")],
                                                   source="p"), preserve=False)):
            try:
                step()
                outcomes.append("ok")
            except Exception as exc:  # the refusal, as the programmer reports it
                outcomes.append(str(exc))
        return (outcomes, vb.machine.clock.now_fs, vb.machine.clock.cycles,
                [(e.spi.instruction, e.outcome, e.reason) for e in chip.events],
                bytes(chip.memory[-0x40000:]))


@needs_native
def test_protected_erase_and_program_are_refused_alike_on_both_paths(build_elf, monkeypatch):
    """Block protection is checked in the lane as in the model: an erase or a page program
    into the protected range goes to Python, which refuses it, with the same outcome, time
    and chip log as on the pure-Python path."""
    brd = board.load("nucleo-h743zi-w25q128")
    loader = register_level_loader(build_elf)
    monkeypatch.setenv("EXTFLASH_NATIVE", "0")
    python = protected_erase_and_program(loader, brd)
    monkeypatch.delenv("EXTFLASH_NATIVE")
    fast = protected_erase_and_program(loader, brd)
    assert fast == python
    assert {e[0] for e in fast[3] if e[1] == "rejected"} >= {0x20, 0x02}


def test_event_log_keeps_the_last_commands_in_order():
    """Lazily decoded batches and directly appended events read back like a bounded deque."""
    from collections import deque

    from extflash.emu.flash.nor import EventLog, FlashEvent
    from extflash.emu.spi import SpiCommand

    def event(i: int) -> FlashEvent:
        return FlashEvent(i, SpiCommand(instruction=i & 0xFF), "ok")

    log, model = EventLog(8), deque(maxlen=8)
    n = 0
    for batch in (3, 20, 0, 5, 1, 9, 2):
        events = [event(n + i) for i in range(batch)]
        n += batch
        log.extend_lazy(batch, lambda events=events: events[-8:])
        model.extend(events)
        log.append(event(n))
        model.append(event(n))
        n += 1
        assert list(log) == list(model) and len(log) == len(model) and log[-1] == model[-1]
    log.extend_lazy(30, lambda: [event(100 + i) for i in range(8)])
    assert [e.time_fs for e in log] == list(range(100, 108))


@needs_native
def test_command_lane_matches_a_poll_for_wel_on_its_first_read(build_elf):
    """RM0433 QUADSPI automatic status-polling mode reads the status as soon as polling starts:
    the HAL-style loader's poll for WEL=1 after each WREN (run in the native lane) matches on
    its first read, one status read of bus time after the WREN, not at the next SysTick tick."""
    brd = board.load("nucleo-h743zi-w25q128")
    with api.open_session(halstyle_loader(brd, build_elf), board=brd) as s:
        vb: Any = s.target.board  # type: ignore[attr-defined]
        assert vb.qspi.native is not None
        base = s.geometry.start
        s.erase(base, 0x1000)
        s.driver.begin("program")
        s.driver.write(base, bytes(range(256)) * 16)
        vb.qspi.refresh()
        events = list(vb.chips[1].events)
        wrens = [i for i, e in enumerate(events) if e.spi.instruction == 0x06]
        assert len(wrens) >= 16
        for i in wrens[-16:]:
            poll, program = events[i + 1], events[i + 2]
            assert poll.spi.instruction == 0x05 and program.spi.write_data
            assert poll.time_fs - events[i].time_fs < 5 * 10**9  # < 5 us: no tick waited for
