"""pyOCD itself on the virtual probe: discovery, halt, memory, registers, run, step, breakpoints,
vector catch and reset, each checked against the emulated machine behind it."""

from __future__ import annotations

import os

import pytest
from probe_support import FAST_RESET, machine_system
from pyocd.core import exceptions
from pyocd.core.session import Session
from pyocd.core.target import Target
from pyocd.probe.aggregator import DebugProbeAggregator

from extflash.probe.core import DFSR_BKPT, DFSR_VCATCH

BKPT_BASE = 0x24000000


def load(core, fw) -> None:
    for address, data in fw.segments:
        core.write_memory_block8(address, data)
    core.write_memory_block8(BKPT_BASE, b"\x00\xbe\x00\x00")


def call(core, fw, name: str, *args: int, sp: int = 0x24040000) -> None:
    regs = {f"r{i}": a for i, a in enumerate(args)}
    regs.update(sp=sp, lr=BKPT_BASE | 1, pc=fw[name] & ~1, xpsr=1 << 24)
    core.write_core_registers_raw(list(regs), list(regs.values()))
    core.resume()


def wait_halt(core, limit: int = 100_000) -> Target.State:
    for _ in range(limit):
        state = core.get_state()
        if state != Target.State.RUNNING:
            return state
    raise AssertionError("the core did not halt")


def test_discovery_finds_the_h743_as_on_silicon(pyocd_session, h743):
    system, _ = h743
    target = pyocd_session.target
    assert target.dp.dpidr.idr == 0x6BA02477
    assert [str(a) for a in sorted(target.dp.aps)] == ["#0", "#1", "#2"]
    (core,) = target.cores.values()
    assert core.name == "Cortex-M7"
    assert core.has_fpu and core.fpb.nb_code == 8 and core.fpb.revision == 2
    assert core.get_state() == Target.State.HALTED  # connect_mode "halt"
    assert system.cores[0].halted
    # the built-in target configured DBGMCU under reset through AP0
    assert system.dbgmcu["CR"] & 0x7 == 0x7


def test_memory_through_the_ahb_ap_is_the_machines_memory(pyocd_session, h743):
    system, _ = h743
    core = pyocd_session.target.cores[0]
    core.write_memory_block32(0x24001000, [0x11223344, 0x55667788])
    assert system.machine.mem_read(0x24001000, 8) == bytes.fromhex("4433221188776655")
    system.machine.mem_write(0x30000000, bytes(range(16)))
    assert core.read_memory_block8(0x30000003, 9) == list(range(3, 12))
    core.write8(0x30000001, 0xAA)
    core.write16(0x30000006, 0xBEEF)
    assert system.machine.mem_read(0x30000000, 8) == bytes([0, 0xAA, 2, 3, 4, 5, 0xEF, 0xBE])
    # a peripheral register, through the machine's register model
    assert core.read32(0x5C001000) & 0xFFF == 0x450


def test_bus_error_is_a_transfer_fault_and_clears(pyocd_session):
    core = pyocd_session.target.cores[0]
    with pytest.raises(exceptions.TransferFaultError):
        core.read32(0x60000000)  # nothing behind FMC bank 1
    assert core.read32(0x24000000) is not None  # sticky error was cleared by pyOCD


def test_core_registers_round_trip(pyocd_session, h743):
    system, _ = h743
    core = pyocd_session.target.cores[0]
    names = [f"r{i}" for i in range(13)] + ["lr", "psp", "primask", "basepri", "control"]
    values = [0x1000 + i for i in range(13)] + [0x24000101, 0x20001000, 1, 0x40, 2]
    core.write_core_registers_raw(names, values)
    assert core.read_core_registers_raw(names) == values
    assert system.machine.reg_read("r7") == 0x1007
    assert system.machine.reg_read("basepri") == 0x40
    core.write_core_register_raw("s3", 0x3F800000)
    assert system.machine.reg_read("s3") == 0x3F800000


def test_resume_runs_until_the_bkpt_and_the_result_is_right(pyocd_session, h743, calls_h7):
    system, _ = h743
    core = pyocd_session.target.cores[0]
    load(core, calls_h7)
    before = system.transactions
    call(core, calls_h7, "mix", 3000)
    assert wait_halt(core) == Target.State.HALTED
    expected = 0
    for i in range(3000):
        expected = (expected * 33 + i) & 0xFFFFFFFF
    assert core.read_core_register("r0") == expected
    assert core.read_core_register("pc") == BKPT_BASE
    assert core.read32(0xE000ED30) & DFSR_BKPT
    assert system.transactions - before > 3  # the core ran in slices, one per transaction


def test_step_executes_one_instruction(pyocd_session, calls_h7):
    core = pyocd_session.target.cores[0]
    load(core, calls_h7)
    regs = {"r0": 1, "r1": 2, "r2": 3, "sp": 0x24040000, "lr": BKPT_BASE | 1,
            "pc": calls_h7["add3"] & ~1, "xpsr": 1 << 24}
    core.write_core_registers_raw(list(regs), list(regs.values()))
    pc = core.read_core_register("pc")
    core.step()
    assert core.get_state() == Target.State.HALTED
    assert core.read_core_register("pc") == pc + 2  # add3 starts with a 16-bit ADDS


def test_hardware_breakpoint_stops_before_the_instruction(pyocd_session, calls_h7):
    core = pyocd_session.target.cores[0]
    load(core, calls_h7)
    target = calls_h7["mix"] & ~1
    assert core.set_breakpoint(target, Target.BreakpointType.HW)
    call(core, calls_h7, "add3", 1, 2, 3)  # returns to the BKPT, never reaching mix
    assert wait_halt(core) == Target.State.HALTED
    assert core.read_core_register("pc") == BKPT_BASE
    call(core, calls_h7, "mix", 10)
    wait_halt(core)
    assert core.read_core_register("pc") == target
    assert core.get_halt_reason() == Target.HaltReason.BREAKPOINT


def test_fault_with_vector_catch_halts_with_fault_status(pyocd_session, calls_h7):
    core = pyocd_session.target.cores[0]
    load(core, calls_h7)
    core.set_vector_catch(Target.VectorCatch.HARD_FAULT | Target.VectorCatch.BUS_FAULT)
    call(core, calls_h7, "read_word", 0x60000000)
    assert wait_halt(core) == Target.State.HALTED
    assert core.read32(0xE000ED30) & DFSR_VCATCH
    cfsr = core.read32(0xE000ED28)
    assert cfsr & (1 << 9) and cfsr & (1 << 15)  # PRECISERR, BFARVALID
    assert core.read32(0xE000ED38) == 0x60000000  # BFAR


def test_fault_without_vector_catch_locks_up(pyocd_session, calls_h7):
    core = pyocd_session.target.cores[0]
    load(core, calls_h7)
    core.set_vector_catch(0)
    call(core, calls_h7, "read_word", 0x60000000)
    assert wait_halt(core) == Target.State.LOCKUP
    core.halt()
    assert core.get_state() == Target.State.HALTED


def test_reset_and_halt_catches_the_reset_vector(pyocd_session, h743, app_h7):
    system, _ = h743
    core = pyocd_session.target.cores[0]
    for address, data in app_h7.segments:
        system.machine.mem_write(address, data)  # "flashed" application
    core.reset_and_halt()
    assert core.get_state() == Target.State.HALTED
    assert core.read_core_register("pc") == app_h7["reset_handler"] & ~1
    assert core.read_core_register("msp") == 0x20020000
    core.resume()
    for _ in range(20):
        core.get_state()
    core.halt()
    assert system.machine.mem_read(app_h7["counter"], 4) != bytes(4)  # the app ran


def test_sysresetreq_keeps_ram_and_debug_state(pyocd_session, h743):
    _system, _ = h743
    core = pyocd_session.target.cores[0]
    core.write32(0x24002000, 0xCAFEF00D)
    core.reset(Target.ResetType.SYSTEM)
    core.halt()
    assert core.read32(0x24002000) == 0xCAFEF00D
    assert core.read32(0xE000EDF0) & 1  # C_DEBUGEN survives a system reset


def test_dual_core_part_shows_a_second_core_on_ap3(plugged):
    system = machine_system("STM32H747XI")
    uid = plugged(system)
    (probe,) = DebugProbeAggregator.get_all_connected_probes(uid)
    with Session(probe, options={"target_override": "cortex_m", **FAST_RESET},
                 project_dir=os.getcwd()) as session:
        cores = session.target.cores
        assert [c.name for c in cores.values()] == ["Cortex-M7", "Cortex-M4"]
        assert str(cores[1].ap.address) == "#3"
        assert all(c.get_state() == Target.State.HALTED for c in cores.values())
        assert all(c.halted for c in system.cores)
        cores[1].write_core_register_raw("r5", 0x55)
        assert cores[1].read_core_register_raw("r5") == 0x55
        assert system.machine.reg_read("r5") != 0x55  # the M4's registers are its own
        with pytest.raises(exceptions.TransferFaultError):
            cores[1].read32(0x20000000)  # DTCM is private to the Cortex-M7
        cores[1].write32(0x30000000, 0x4D344D34)  # SRAM1 is shared
        assert cores[0].read32(0x30000000) == 0x4D344D34


def test_pyocd_commander_on_the_virtual_probe(h743, capsys):
    from pyocd.__main__ import PyOCDTool

    system, uid = h743
    system.machine.mem_write(0x24000000, (0x12345678).to_bytes(4, "little"))
    rc = PyOCDTool().run(["commander", "-u", uid, "-t", "stm32h743xx",
                          "-O", "reset.hold_time=0", "-O", "reset.post_delay=0",
                          "-c", "read32 0x24000000", "-c", "halt",
                          "-c", "write32 0x24000010 0xcafef00d"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "12345678" in out and "locked" not in out  # RDP reads as level 0
    assert system.machine.mem_read(0x24000010, 4) == (0xCAFEF00D).to_bytes(4, "little")
