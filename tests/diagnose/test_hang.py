"""Hangs: each faulty loader waits for something that can never happen on the board, and the
diagnosis names the register bits or the variable, the value it keeps reading and the real cause.
The watch stops such calls long before the host's 100 s Init timeout."""

from __future__ import annotations

import pytest

from extflash import diagnose
from extflash.runner import LoaderCallError


def _fail(watched, path, *steps):
    session, watch = watched(path)
    driver = session.driver
    with pytest.raises(LoaderCallError) as info:
        for step in steps:
            step(driver)
    return info.value, watch, diagnose.explain(info.value, watch)


def init(d):
    d.begin("program")


def touch_window(d):
    """A host reads the mapped flash: the first access raises BUSY (RM0433 §23.3.7)."""
    d.target.read_memory(0x90000000, 4)


def erase_first(d):
    d.erase_sectors([d.geometry.sectors[0]])


def test_pll_never_enabled(watched, faulty):
    err, watch, diag = _fail(watched, faulty("PLL_NOT_ENABLED"), init)
    assert diag.kind == "hang" and diag.certain
    assert "RCC_CR.PLL1RDY=1" in diag.cause
    assert "PLL1 was never enabled (RCC_CR.PLL1ON=0)" in diag.cause
    assert "in clock_init" in diag.cause
    assert diag.fix is not None and "PLL1ON" in diag.fix
    # stopped as soon as the hang was proven, not after CubeProgrammer's 100 s
    assert watch.last is not None and watch.last.elapsed_s < 0.1
    assert "stuck for good" in err.message


def test_systick_interrupt_masked(watched, faulty):
    _, _, diag = _fail(watched, faulty("SYSTICK_MASKED"), init)
    assert diag.kind == "hang" and diag.certain
    assert "uwTick" in diag.cause and "in HAL_Delay" in diag.cause
    assert "SysTick is pending but interrupts are masked (PRIMASK=1)" in diag.cause
    assert "__disable_irq" in (diag.fix or "")


def test_controller_left_in_memory_mapped_mode(watched, faulty):
    """Init reprograms the QUADSPI without aborting the mapped mode its previous call left (and
    a host read the window since): the second Init waits for TCF on a controller that ignores
    the command."""
    err, _, diag = _fail(watched, faulty("INIT_NO_ABORT"), init, touch_window, init)
    assert err.function == "Init"
    assert "QUADSPI_SR.TCF=1" in diag.cause
    assert "keeps reading 0x00000020 (BUSY=1)" in diag.cause
    assert "still in memory-mapped mode (CCR.FMODE=3)" in diag.cause
    assert "CR.ABORT" in (diag.fix or "")


def test_chip_select_on_the_wrong_pin(watched, faulty):
    """NCS routed to PB10 while the chip sits on PB6: Init (no ID check) returns, then the
    erase waits for a status match the chip can never answer."""
    _, _, diag = _fail(watched, faulty("WRONG_NCS", "NO_ID_CHECK"), init, erase_first)
    assert diag.function == "SectorErase" and diag.certain
    assert "QUADSPI_SR.SMF=1" in diag.cause
    assert "automatic polling reads status 0xFF" in diag.cause
    assert "BK1_NCS: the board wires it to PB6 (needs AF10)" in diag.cause
    assert "the loader routes BK1_NCS to PB10 (AF9)" in diag.cause
    assert "PB6 (AF10), PB10 (AF9), PG6 (AF10)" in diag.cause  # valid pins on the H743ZI


def test_fault_handler_turns_a_fault_into_a_hang(watched, faulty):
    _, _, diag = _fail(watched, faulty("OTHER_H7", "WITH_FAULT_HANDLER"), init)
    assert diag.certain
    assert "hangs in Default_Handler (HardFault)" in diag.cause
    assert "bus fault" in diag.cause and "0x5200B400" in diag.cause


def test_good_loader_is_not_stopped(watched, faulty):
    """The same loader without a defect runs every call to the end (no false hang)."""
    session, watch = watched(faulty(), timing="typical")
    d = session.driver
    d.begin("erase")
    d.erase_sectors([d.geometry.sectors[0]])
    d.write(d.geometry.start, bytes(range(256)))
    # Init, SectorErase, Init, Write: the host runs Init before every call
    assert [c.reason for c in watch.calls] == ["returned"] * 4
    assert all(c.stuck is None for c in watch.calls)


def test_controller_clock_never_enabled(watched, faulty):
    _, _, diag = _fail(watched, faulty("QSPI_CLOCK_OFF"), init)
    assert diag.certain
    assert "QUADSPI_SR" in diag.cause and "keeps reading 0x00000000" in diag.cause
    assert "the QUADSPI clock is off (RCC_AHB3ENR.QSPIEN=0)" in diag.cause
    assert "set RCC_AHB3ENR.QSPIEN" in (diag.fix or "")


def test_waiting_on_a_peripheral_the_board_does_not_model(watched, faulty):
    _, _, diag = _fail(watched, faulty("TIMER_DELAY"), init)
    assert diag.certain and "in timer_delay_us" in diag.cause
    assert "waits for bit 0 of TIM6+0x10 to read 1" in diag.cause
    assert "TIM6 is not modelled on the virtual STM32H743" in diag.cause
