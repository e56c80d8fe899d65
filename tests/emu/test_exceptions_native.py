"""Exception entry and return in C (native/exceptions_fast.c) against the Python path: on two
identical machines, the same registers, stack memory and active list after every step, for
thread mode on MSP and PSP, a frame that needs realigning, the FP extension frame (CONTROL.FPCA)
and a nested entry from handler mode (ARMv7-M ARM B1.5.6, B1.5.8)."""

from __future__ import annotations

import pytest

from extflash import mcu
from extflash.emu import cortexm
from extflash.emu.cortexm import ExceptionUnit
from extflash.emu.machine import Machine

# the C path must be there: its absence fails these tests (conftest.native_required)
pytestmark = pytest.mark.usefixtures("native_required")

RAM = 0x24000000
HANDLER = 0x24000100
WATCHED = ("r0", "r1", "r2", "r3", "r12", "lr", "pc", "xpsr", "msp", "psp", "control",
           *(f"s{i}" for i in range(16)), "fpscr")


def machine(native_unit: bool) -> Machine:
    m = Machine(mcu.find_part("STM32H743ZI"))
    m.exceptions = ExceptionUnit(m.uc, has_fpu=True, native=native_unit)
    assert (m.exceptions._native is not None) == native_unit
    m.mem_write(HANDLER, b"\x70\x47")  # bx lr
    return m


def prepare(m: Machine, *, psp: bool, fpca: bool, sp: int) -> None:
    for i, name in enumerate(("r0", "r1", "r2", "r3", "r12")):
        m.reg_write(name, 0x1000 + i)
    for i in range(16):
        m.reg_write(f"s{i}", 0x3F800000 + i)
    m.reg_write("fpscr", 0x03000000)
    m.reg_write("lr", 0x24000201)
    m.reg_write("pc", 0x24000301)
    m.reg_write("msp", sp if not psp else 0x24007000)
    m.reg_write("psp", sp if psp else 0x24006000)
    m.reg_write("control", (cortexm.CONTROL_SPSEL if psp else 0)
                | (cortexm.CONTROL_FPCA if fpca else 0))


def state(m: Machine) -> tuple[object, ...]:
    regs = tuple(m.reg_read(name) for name in WATCHED)
    return regs, m.mem_read(0x24003E00, 0x3200), \
        tuple(m.exceptions.active)


@pytest.mark.parametrize("psp", [False, True])
@pytest.mark.parametrize("fpca", [False, True])
@pytest.mark.parametrize("sp", [0x24003FF8, 0x24003FF4, 0x24005FF0])
def test_native_entry_and_return_equal_the_python_path(psp: bool, fpca: bool, sp: int) -> None:
    machines = [machine(True), machine(False)]
    for m in machines:
        prepare(m, psp=psp, fpca=fpca, sp=sp)
    steps = [
        lambda m: m.exceptions.enter(cortexm.SYSTICK, HANDLER),
        lambda m: m.exceptions.enter(16 + 92, HANDLER + 0x10),  # nested, from handler mode
        lambda m: m.exceptions.leave(m.reg_read("lr")),
        lambda m: m.exceptions.leave(m.reg_read("lr")),
    ]
    for n, step in enumerate(steps):
        for m in machines:
            step(m)
        native_state, python_state = (state(m) for m in machines)
        assert native_state == python_state, f"after step {n}"
    # back where it started
    assert machines[0].reg_read("pc") == 0x24000300 and not machines[0].exceptions.active
