"""Dual-core STM32H747: the Cortex-M4 runs its application beside a loader on the Cortex-M7.

The M4 application (tests/probe/firmware/m4_app.c) keeps resetting QUADSPI through RCC and
holds a hardware semaphore. Left running, it breaks the loader and the failure names what it
did; halted first through its access port (``halt_other_cores``, the default), the same
programming succeeds.
"""

from __future__ import annotations

import random

import pytest
from probe_support import Firmware

from extflash import board, image
from extflash.errors import ExtflashError
from extflash.probe import VirtualSystem
from extflash.target.pyocd_target import ProbeOptions, open_probe_session

DISCO = "stm32h747i-disco"
WINDOW = 0x90000000


@pytest.fixture(scope="module")
def m4_app(build_elf) -> Firmware:
    return Firmware.read(build_elf("probe-m4-app", ["../probe/firmware/m4_app.c"],
                                   "../probe/firmware/m4_app.ld", cpu="cortex-m4"))


@pytest.fixture
def disco(plugged, m4_app, tmp_path):
    system = VirtualSystem.for_board(DISCO, flash_file=str(tmp_path / "chip.bin"))
    system.load_internal_flash(m4_app.segments)
    system.power_cycle()  # BCM4 = 1: the Cortex-M4 boots its application
    assert system.second_boots
    return system, plugged(system)


def program(uid: str, system: VirtualSystem, loader, data: bytes, **probe) -> None:
    opts = ProbeOptions(probe=uid, target_type="cortex_m", on_close="halt", **probe)
    with open_probe_session(loader, system.part, probe=opts) as session:
        session.program(image.from_chunks([image.Chunk(WINDOW, data)]))


def test_the_m4_disturbs_a_loader_left_running(disco, gen_loader):
    system, uid = disco
    loader = gen_loader(board.load(DISCO)).stldr
    data = random.Random(4).randbytes(8192)
    with pytest.raises(ExtflashError) as err:
        program(uid, system, loader, data, halt_other_cores=False)
    text = str(err.value)
    assert "Cortex-M4" in text and "RCC_AHB3RSTR" in text


def test_halting_the_m4_first_lets_the_loader_work(disco, gen_loader):
    system, uid = disco
    loader = gen_loader(board.load(DISCO)).stldr
    data = random.Random(4).randbytes(8192)
    program(uid, system, loader, data)
    assert not system.cores[1].running
    assert system.hsem is not None and system.hsem.holder(0) == "Cortex-M4 (PROCID 0)"


@pytest.mark.parametrize(("flag", "code"), [("--no-halt-other-cores", 1), (None, 0)])
def test_program_halts_the_other_core_by_default(disco, gen_loader, tmp_path, flag, code):
    from click.testing import CliRunner

    from extflash.cli import main

    _system, uid = disco
    loader = str(gen_loader(board.load(DISCO)).stldr)
    app = tmp_path / "assets.bin"
    app.write_bytes(random.Random(5).randbytes(4096))
    args = ["program", str(app), "--address", hex(WINDOW), "--loader", loader,
            "--target", "probe", "--probe", uid, "--board", DISCO, "--target-type", "cortex_m",
            "--on-close", "halt", *([flag] if flag else [])]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == code, res.output
    if code:
        assert "core 1 (Cortex-M4) was running" in res.output
        assert "writes of RCC_AHB3RSTR" in res.output and "--halt-other-cores" in res.output


def test_hardware_semaphore_locks_per_core():
    """RM0399 HSEM: a two-step lock by write, a one-step lock by reading RLR, unlock by the
    owner only (COREID from the bus master: Cortex-M7 3, Cortex-M4 1)."""
    from extflash.emu.periph.hsem import CM4_COREID, LOCK, Hsem

    hsem = Hsem(0x58026400)
    hsem.write(0x04, 4, LOCK | 3 << 8 | 7)  # the M7 takes semaphore 1 for process 7
    assert hsem.read(0x04, 4) == LOCK | 3 << 8 | 7
    hsem.master = CM4_COREID
    assert hsem.read(0x84, 4) == LOCK | 3 << 8 | 7  # taken: the M4's one-step lock fails
    hsem.write(0x04, 4, 1 << 8 | 7)  # and it cannot free it
    assert hsem.holder(1) == "Cortex-M7 (PROCID 7)"
    assert hsem.read(0x88, 4) == LOCK | 1 << 8  # semaphore 2 was free: now the M4's
    hsem.master = 3
    hsem.write(0x04, 4, 3 << 8 | 7)  # the owner frees semaphore 1
    assert hsem.holder(1) == "free" and hsem.holder(2) == "Cortex-M4 (PROCID 0)"
