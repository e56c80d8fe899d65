"""Fidelity with third-party QUADSPI loaders (what silicon does, the virtual board does): reads
that stall with the FIFO full, bounded waits that count their polls, and loops that nothing
pending can end, reported as hangs at once. Loaders are built from tests/firmware/community
(the HAL-style driver) with the defect or habit each test names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from extflash.cli import main
from extflash.emu.clock import FS_PER_S

PINS = {"clk": "PB2", "bk1_ncs": "PB6", "bk1_io0": "PD11", "bk1_io1": "PD12",
        "bk1_io2": "PE2", "bk1_io3": "PD13"}  # NUCLEO-H743ZI Zio connector
BOARD = ["--board", "nucleo-h743zi-w25q128", "--timing", "instant"]

Build = Callable[..., Path]


@pytest.fixture(scope="session")
def community_with(build_elf: Callable[..., Path]) -> Build:
    """``community_with("READ_TAIL_TO_END")``: tests/firmware/community built for the
    NUCLEO-H743ZI's W25Q128JV with each name defined (-D)."""
    import community.build as cb  # tests/firmware, on sys.path from tests/conftest.py

    def build(*defines: str) -> Path:
        b = cb.loader_build({"mcu": "STM32H743ZI", "chip": "W25Q128JV", "bank": 1,
                             "hse_hz": 8_000_000, "pins": dict(PINS)})
        name = b.name + "".join(f"-{d.lower()}" for d in defines)
        return build_elf(name, b.sources, b.linker_script,
                         cflags=(*b.cflags, *(f"-D{d}" for d in defines)),
                         ldflags=b.ldflags, cpu=b.cpu)

    return build


# -- item 4: a read to the end of memory stalls; a bounded wait costs its polls ---------------


def test_read_to_end_of_memory_stalls_and_the_bounded_wait_returns(watched, community_with):
    """Read ends with an indirect read of DLR=0xFFFFFFFF that it never drains and waits 65,535
    SR polls for BUSY (some Keil-built loaders). The read stalls with the FIFO full and BUSY
    set (RM0433 QUADSPI indirect mode); each poll costs its instructions and bus access, so the
    4 KiB call returns in about 2 ms of virtual time, not after a poll interval per read."""
    session, _watch = watched(community_with("READ_TAIL_TO_END"))
    driver = session.driver
    driver.begin("read")
    data = driver.read_through_loader(0x90000000, 4096)
    assert data == b"\xff" * 4096
    call = driver.calls[-1]
    assert call.function == "Read" and call.result == 1
    # 4 KiB at the H743's quad read plus 65,535 passes of a 5-instruction loop at 400 MHz
    assert 1e-3 < call.elapsed_s < 4e-3
    qspi = session.target.board.qspi  # type: ignore[attr-defined]
    assert not qspi.read(0x08, 4) & 0x20  # the loader's ABORT ended the read: BUSY fell


def test_read_to_end_of_memory_through_the_cli(community_with, tmp_path):
    out = tmp_path / "flash.bin"
    result = CliRunner().invoke(main, ["read", "-l", str(community_with("READ_TAIL_TO_END")),
                                       *BOARD, "--address", "0x90000000", "--size", "8K",
                                       "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == b"\xff" * 8192


def test_time_of_one_stalled_read(watched, community_with):
    """The stall point: only a FIFO's worth of data (32 bytes on the H7) is on the bus before
    the clock stops, so the first SR read after the start does not wait for 16 MiB."""
    session, _ = watched(community_with("READ_TAIL_TO_END"))
    driver = session.driver
    driver.begin("read")
    driver.read_through_loader(0x90000000, 256)
    call = driver.calls[-1]
    # reading 16 MiB on 4 lines at the loader's 100 MHz clock would take 84 ms
    assert call.elapsed_s < 2e-3


# -- item 5: a loop nothing pending can end is a hang at once ---------------------------------


def test_wait_for_tof_without_tcen_is_a_hang_through_the_cli(community_with):
    """Init ends in memory-mapped mode, reads the window once and waits for SR.TOF with
    CR.TCEN=0. Only the timeout counter sets TOF (RM0433 QUADSPI_LPTR), so nothing pending can
    end the wait: no transfer, no busy chip, no event; only SysTick's handler runs. Two looks
    find the same loop reading the same SR value and the call stops with the loop and what it
    waits for, in milliseconds of virtual time, not at the host's 100 s Init timeout."""
    result = CliRunner().invoke(main, ["read", "-l", str(community_with("WAIT_TOF_NO_TCEN")),
                                       *BOARD, "--address", "0x90000000", "--size", "256",
                                       "-o", "/dev/null", "-q"])
    assert result.exit_code == 1, result.output
    out = result.output
    assert "Traceback" not in out
    assert "error: Init(0x1)" in out
    assert "waits for QUADSPI_SR.TOF=1" in out
    assert "nothing pending can change QUADSPI_SR" in out
    assert "no transfer in progress, no chip busy, no timer or other event scheduled" in out
    assert "the same values at two looks" in out
    assert "in Init" in out


def test_tof_wait_stops_after_two_looks(watched, community_with):
    """The escalation: the first look finds only SysTick's handler able to change SR (not yet
    certain); the second finds the same fixed-point loop reading the same value."""
    from extflash.runner import LoaderCallError

    session, watch = watched(community_with("WAIT_TOF_NO_TCEN"))
    with pytest.raises(LoaderCallError):
        session.driver.begin("read")
    call = watch.last
    assert call is not None and call.stuck is not None and call.stuck.certain
    profile = call.stuck.extra["profile"]
    assert profile.stalled and [r.name for r in profile.registers] == ["QUADSPI_SR"]
    assert (call.end_fs - call.start_fs) / FS_PER_S < 1.0  # not the host's 100 s


def test_a_counting_loop_is_not_a_stall(watched, community_with):
    """Read's bounded wait (65,535 SR polls of a stalled read) changes its counter on every
    pass: it returns by itself and is never called a hang."""
    session, watch = watched(community_with("READ_TAIL_TO_END"))
    session.driver.begin("read")
    session.driver.read_through_loader(0x90000000, 4096)
    assert watch.last is not None and watch.last.stuck is None
