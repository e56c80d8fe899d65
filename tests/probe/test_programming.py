"""End to end through pyOCD and the virtual probe: program, verify, skip unchanged and read back
with loaders generated from the project's C sources, on shipped boards (one dual-core), with
double buffering and its single-buffer fallback, pyOCD's own flash algorithm runner, flash-file
persistence, and a target that stops answering half-way."""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import pytest
from probe_support import FAST_RESET, Firmware

from extflash import board, gen
from extflash.errors import TargetError
from extflash.image import Chunk, Image
from extflash.probe import VirtualSystem
from extflash.runner import DoubleBufferedDriver, DriverOptions, FlmDriver, StldrDriver
from extflash.target.pyocd_target import ProbeOptions, open_probe_session, open_probe_target

H743 = "nucleo-h743zi-w25q128"
H747 = "stm32h747i-disco"


@pytest.fixture(scope="session")
def loaders(toolchain, tmp_path_factory):
    """``loaders(board) -> BuildResult`` (.stldr and FLM), built once per board."""
    root = tmp_path_factory.mktemp("probe-loaders")
    built: dict[str, gen.BuildResult] = {}

    def build(name: str) -> gen.BuildResult:
        if name not in built:
            built[name] = gen.build(gen.plan_loader(board.load(name)), root / name, flm=True,
                                    toolchain=toolchain)
        return built[name]

    return build


def image_at(address: int, size: int, seed: int) -> Image:
    return Image((Chunk(address, random.Random(seed).randbytes(size)),), "test image")


def open_on(system: VirtualSystem, uid: str, loader: Path, **kwargs):
    return open_probe_session(loader, system.part, probe=ProbeOptions(
        probe=uid, pyocd_options=FAST_RESET), **kwargs)


@pytest.fixture
def h743_board(plugged):
    system = VirtualSystem.for_board(H743)
    return system, plugged(system)


def test_program_verify_read_back_double_buffered(h743_board, loaders):
    system, uid = h743_board
    img = image_at(0x90003000, 0x18000, seed=1)  # starts mid-sector: the rest is preserved
    before = system.board.flash_contents()[:0x3000]
    # a 64 KiB buffer: two halves of 32 KiB, so the image takes several Write calls
    with open_on(system, uid, loaders(H743).stldr,
                 options=DriverOptions(buffer_size=0x10000)) as s:
        assert isinstance(s.driver, DoubleBufferedDriver)
        result = s.program(img)
        assert result.report.verified
        assert s.read(0x90003000, 0x18000) == img.chunks[0].data
        writes = [c for c in s.driver.calls if c.function == "Write"]
    flash = system.board.flash_contents()
    assert flash[0x3000:0x1B000] == img.chunks[0].data
    assert flash[:0x3000] == before
    assert len({c.args[2] for c in writes}) == 2  # both buffers used, alternately
    assert all(a.args[2] != b.args[2] for a, b in itertools.pairwise(writes))
    assert system.overlapped_bytes > 0  # chunks travelled while Write calls ran


def test_skip_unchanged_writes_nothing_the_second_time(h743_board, loaders):
    system, uid = h743_board
    img = image_at(0x90020000, 0x10000, seed=2)
    with open_on(system, uid, loaders(H743).stldr) as s:
        first = s.program(img, skip_unchanged=True)
        calls_before = len(s.driver.calls)
        second = s.program(img, skip_unchanged=True)
        later = [c.function for c in s.driver.calls[calls_before:]]
    assert first.report.sectors_written and not first.report.sectors_skipped
    assert second.report.sectors_skipped == first.report.sectors_written
    assert "Write" not in later and "SectorErase" not in later
    assert system.board.flash_contents()[0x20000:0x30000] == img.chunks[0].data


@pytest.mark.parametrize("how", ["small buffer", "switched off"])
def test_single_buffer_fallback(h743_board, loaders, how):
    system, uid = h743_board
    img = image_at(0x90040000, 0x6000, seed=3)
    kwargs = ({"options": DriverOptions(buffer_size=0x1800)} if how == "small buffer"
              else {"double_buffer": False})
    with open_on(system, uid, loaders(H743).stldr, **kwargs) as s:
        assert isinstance(s.driver, StldrDriver)
        assert s.program(img).report.verified
    assert system.board.flash_contents()[0x40000:0x46000] == img.chunks[0].data
    assert system.overlapped_bytes == 0


@pytest.mark.parametrize("double_buffer", [True, False])
def test_flm_through_the_probe(h743_board, loaders, double_buffer):
    system, uid = h743_board
    img = image_at(0x90080100, 0x2E00, seed=4)  # starts mid-page: padded with the erase value
    with open_on(system, uid, loaders(H743).flm, double_buffer=double_buffer) as s:
        assert isinstance(s.driver, DoubleBufferedDriver if double_buffer else FlmDriver)
        assert s.program(img).report.verified
        pages = [c for c in s.driver.calls if c.function == "ProgramPage"]
    assert system.board.flash_contents()[0x80100:0x82F00] == img.chunks[0].data
    assert pages[0].args[:2] == (0x90080000, 256)
    if double_buffer:  # two page buffers in turn, as pyOCD uses them
        assert all(a.args[2] != b.args[2] for a, b in itertools.pairwise(pages))
        assert len({p.args[2] for p in pages}) == 2
    else:
        assert {p.args[2] for p in pages} == set(range(pages[0].args[2], pages[-1].args[2] + 1,
                                                        256))


def test_dual_core_board_with_the_m4_halted(plugged, loaders):
    system = VirtualSystem.for_board(H747)
    uid = plugged(system)
    m4 = system.cores[1]
    m4.halted = False  # the Cortex-M4 runs its firmware when the probe attaches
    seen_running: list[bool] = []  # for every slice the loader runs: may the M4 run too?
    execute = system.cores[0].execute

    def watch(fs: int) -> int:
        seen_running.append(m4.running)
        return execute(fs)

    img = image_at(0x90010000, 0x9000, seed=5)
    with open_on(system, uid, loaders(H747).stldr) as s:
        assert [c.name for c in s.target.cores] == ["Cortex-M7", "Cortex-M4"]
        system.cores[0].execute = watch  # type: ignore[method-assign]
        assert s.program(img).report.verified
        system.cores[0].execute = execute  # type: ignore[method-assign]
    assert seen_running and not any(seen_running)
    assert system.board.flash_contents()[0x10000:0x19000] == img.chunks[0].data


def test_pyocds_own_flash_algorithm_runner_with_the_generated_flm(h743_board, loaders):
    """pyOCD's FlashLoader (its FLM parser, RAM layout and double buffering) on the virtual
    board: the external flash as a pyOCD flash region backed by extflash's generated FLM."""
    from pyocd.core.memory_map import FlashRegion, MemoryMap, RamRegion
    from pyocd.core.session import Session
    from pyocd.coresight.coresight_target import CoreSightTarget
    from pyocd.flash.loader import FlashLoader
    from pyocd.probe.aggregator import DebugProbeAggregator
    from pyocd.target import TARGET

    system, uid = h743_board
    flm = str(loaders(H743).flm)

    class H743WithQspi(CoreSightTarget):
        VENDOR = "STMicroelectronics"

        def __init__(self, session):
            super().__init__(session, MemoryMap(
                RamRegion(start=0x24000000, length=0x80000, is_default=True),
                FlashRegion(start=0x90000000, length=0x1000000, flm=flm, name="qspi")))

    TARGET["extflash_test_h743_qspi"] = H743WithQspi
    data = random.Random(6).randbytes(0x2400)
    (probe,) = DebugProbeAggregator.get_all_connected_probes(uid)
    try:
        with Session(probe, options={"target_override": "extflash_test_h743_qspi",
                                     "hide_programming_progress": True, **FAST_RESET},
                     project_dir=os.getcwd()) as session:
            loader = FlashLoader(session)
            loader.add_data(0x90100000, data)
            loader.commit()
    finally:
        del TARGET["extflash_test_h743_qspi"]
    assert system.board.flash_contents()[0x100000:0x102400] == data


def test_virtual_board_uid_with_a_flash_file(loaders, tmp_path):
    """``virtual:<board>`` without a plugged system: the plugin makes the board itself, with the
    flash file from the session options, and saves it when the session closes."""
    chip = tmp_path / "chip.bin"
    img = image_at(0x90001000, 0x1000, seed=7)
    probe = ProbeOptions(probe=f"virtual:{H743}",
                         pyocd_options={**FAST_RESET, "extflash.flash_file": str(chip)})
    with open_probe_session(loaders(H743).stldr, board.load(H743).part, probe=probe) as s:
        assert s.program(img).report.verified
    assert chip.is_file()
    again = VirtualSystem.for_board(H743, flash_file=str(chip))
    assert again.board.flash_contents()[0x1000:0x2000] == img.chunks[0].data


def test_target_stops_answering_while_programming(h743_board, loaders):
    system, uid = h743_board
    img = image_at(0x90000000, 0x20000, seed=8)
    with pytest.raises(TargetError) as err, open_on(system, uid, loaders(H743).stldr) as s:
        system.inject(silent_after=system.transactions + 400)
        s.program(img)
    assert "stopped answering" in str(err.value)
    assert "powered" in str(err.value)


def test_internal_and_external_segments_in_one_program(plugged, loaders, build_elf):
    """One ELF, code in the H743's internal flash and a table in the QSPI flash: pyOCD's own
    built-in STM32H743 algorithm programs the first, the generated loader the second; after
    the reset at the end the application runs from the internal flash."""
    from h7_flash import install

    from extflash import image

    system = VirtualSystem.for_board(H743)
    install(system.machine)
    uid = plugged(system)
    elf = build_elf("probe-app-qspi", ["../probe/firmware/app_qspi.c"],
                    "../probe/firmware/app_qspi_h7.ld", cpu="cortex-m7")
    img = image.load(elf)
    counter = Firmware.read(elf)["counter"]
    internal = [c for c in img.chunks if c.address < 0x90000000]
    external = [c for c in img.chunks if c.address >= 0x90000000]
    assert internal and external
    with open_on(system, uid, loaders(H743).stldr) as s:
        assert s.target.target_type == "stm32h743xx"
        result = s.program(img)
        assert result.report.verified and not result.skipped_outside
        assert s.internal_bytes == sum(len(c.data) for c in internal)
    for c in internal:
        assert system.machine.mem_read(c.address, len(c.data)) == c.data
    (table,) = external
    assert system.board.flash_contents()[:len(table.data)] == table.data
    system.machine.mem_write(counter, bytes(4))
    for _ in range(10):
        system.elapse(10**9)  # 1 µs slices: the application runs after the final reset
    assert system.machine.mem_read(counter, 4) != bytes(4)


def test_debug_port_cannot_write_internal_flash_directly(h743_board):
    from pyocd.core import exceptions

    system, uid = h743_board
    t = open_probe_target(system.part, ProbeOptions(probe=uid, pyocd_options=FAST_RESET))
    try:
        with pytest.raises(exceptions.TransferFaultError):
            t.core.write32(0x08000000, 0x12345678)
        assert system.machine.mem_read(0x08000000, 4) == b"\xff" * 4
    finally:
        t.close()
