"""HAL-style bring-up on every family, ticks, interrupts with FP context, DWT, COUNTFLAG, SVC."""

from __future__ import annotations

import pytest

from extflash import mcu
from extflash.emu.clock import FS_PER_S
from extflash.emu.machine import Machine

MS = FS_PER_S // 1000

# family macro, part, cpu, fpu flags, expected core Hz / HCLK Hz after clock_up
FAMILIES = {
    "h7": ("FAM_H7", "STM32H743ZI", "cortex-m7", "fpv5-d16", 400_000_000, 200_000_000),
    "h745": ("FAM_H7", "STM32H745XI", "cortex-m7", "fpv5-d16", 400_000_000, 200_000_000),
    "f7": ("FAM_F7", "STM32F746NG", "cortex-m7", "fpv5-sp-d16", 216_000_000, 216_000_000),
    "f4": ("FAM_F4", "STM32F446RE", "cortex-m4", "fpv4-sp-d16", 180_000_000, 180_000_000),
    "l4": ("FAM_L4", "STM32L476RG", "cortex-m4", "fpv4-sp-d16", 80_000_000, 80_000_000),
    "g4": ("FAM_G4", "STM32G474RE", "cortex-m4", "fpv4-sp-d16", 170_000_000, 170_000_000),
}


@pytest.fixture(scope="module")
def clock_elf(build_elf):
    def build(key: str):
        macro, _part, cpu, fpu, _hz, _hclk = FAMILIES[key]
        ld = "emu/h7.ld" if macro == "FAM_H7" else "emu/sram.ld"
        return build_elf(f"emu-clock-{key}", ["emu/clock.c"], ld, cpu=cpu,
                         cflags=[f"-D{macro}", f"-mfpu={fpu}", "-mfloat-abi=hard"])
    return build


def machine_for(key, clock_elf, load):
    m = Machine(mcu.find_part(FAMILIES[key][1]))
    return m, load(m, clock_elf(key))


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_clock_bring_up_reaches_the_configured_frequency(key, clock_elf, load):
    m, fw = machine_for(key, clock_elf, load)
    reset_hz = m.clock.core_hz
    assert reset_hz == m.family.reset_clock_hz
    r = fw.call(m, "clock_up", reset_hz // 1000 - 1)
    assert (r.reason, r.r0) == ("returned", 1)
    assert m.rcc.core_hz() == FAMILIES[key][4]
    assert m.rcc.hclk_hz() == FAMILIES[key][5]
    assert m.clock.core_hz == FAMILIES[key][4]
    assert r.exceptions_taken >= 0


def test_h7_quadspi_kernel_clock_follows_d1ccipr(clock_elf, load):
    m, fw = machine_for("h7", clock_elf, load)
    assert fw.call(m, "clock_up", 63_999).r0 == 1
    assert m.rcc.kernel_clock_hz("QUADSPI") == 200_000_000  # rcc_hclk3
    m.mem_write(0x5802444C, (1 << 4).to_bytes(4, "little"))  # QSPISEL = pll1_q_ck
    assert m.rcc.kernel_clock_hz("QUADSPI") == 200_000_000  # 800 MHz VCO / 4
    m.mem_write(0x5802444C, (3 << 4).to_bytes(4, "little"))  # per_ck = HSI (CKPERSEL=0)
    assert m.rcc.kernel_clock_hz("QUADSPI") == 64_000_000


def test_h745_per_core_enable_block_counts(clock_elf, load):
    m, _fw = machine_for("h745", clock_elf, load)
    assert not m.rcc.is_enabled("QUADSPI")
    m.mem_write(0x58024534, (1 << 14).to_bytes(4, "little"))  # RCC_C1_AHB3ENR.QSPIEN
    assert m.rcc.is_enabled("QUADSPI")


def test_systick_interrupts_arrive_on_time_and_keep_fp_context(clock_elf, load):
    m, fw = machine_for("h7", clock_elf, load)
    ok_addr = 0x24070000
    r = fw.call(m, "wait_ticks", 63_999, 10, ok_addr)  # 1 kHz at 64 MHz HSI
    assert (r.reason, r.r0) == ("returned", 10)
    assert m.mem_read(ok_addr, 4) == b"\x01\x00\x00\x00"  # thread FP value survived
    assert r.exceptions_taken == 10
    # the 10th tick is at exactly 10 ms after SysTick started; a few instructions follow
    assert 10 * MS <= r.time_fs < 10 * MS + 1000 * m.clock.fs_per_cycle
    assert m.reg_read("sp") == m.part.part.ram_at(0x24000000).end - 0x100  # frames unstacked
    assert m.reg_read("ipsr") == 0


def test_countflag_polling_ticks(clock_elf, load):
    m, fw = machine_for("l4", clock_elf, load)
    r = fw.call(m, "countflag_ticks", 3_999, 25)  # 1 kHz at 4 MHz MSI
    assert (r.reason, r.r0) == ("returned", 25)
    assert 25 * MS <= r.time_fs < 26 * MS


def test_dwt_delay_counts_cycles_only_when_enabled(clock_elf, load):
    m, fw = machine_for("f4", clock_elf, load)
    r = fw.call(m, "dwt_delay", 1_000_000)
    assert r.ok and 1_000_000 <= r.r0 < 1_000_100
    assert r.cycles >= 1_000_000
    r = fw.call(m, "dwt_without_trcena")
    assert r.ok and r.r0 == 5  # frozen: DEMCR.TRCENA is off


def test_time_sources_read_the_same_with_and_without_a_tracer(clock_elf, load):
    """CYCCNT and CVR reads take a direct path unless a tracer watches the bus: both paths give
    the same values, cycle for cycle."""
    results = []
    for traced in (False, True):
        m, fw = machine_for("f4", clock_elf, load)
        seen: list[str] = []
        if traced:
            m.tracer = lambda access, seen=seen: seen.append(access.register)
        r = fw.call(m, "dwt_delay", 20_000)
        results.append((r.r0, r.cycles, r.time_fs))
        if traced:
            assert "DWT_CYCCNT" in seen
    assert results[0] == results[1]


def test_fp64_on_cortex_m7(clock_elf, load):
    m, fw = machine_for("h7", clock_elf, load)
    r = fw.call(m, "fp64", 2)
    assert r.ok and r.r0 == 1_414_214


def test_bus_fault_escalates_to_the_loaders_hardfault_handler(clock_elf, load):
    m, fw = machine_for("g4", clock_elf, load)
    r = fw.call(m, "fault_with_table", 0x60000000, timeout_s=0.01)
    assert r.reason == "timeout"  # the handler is `for (;;)`
    assert r.spin is not None and r.spin.idle == "self-branch"
    assert fw.symbols["HardFault_Handler"] - 1 <= r.pc < fw.symbols["HardFault_Handler"] + 4
    assert m.last_fault is not None and m.last_fault.address == 0x60000000
    assert m.reg_read("ipsr") == 3
    cfsr = int.from_bytes(m.mem_read(0xE000ED28, 4), "little")
    assert cfsr & (1 << 15) and int.from_bytes(m.mem_read(0xE000ED38, 4), "little") == 0x60000000


def test_svc_without_a_handler_is_reported(clock_elf, load):
    m, fw = machine_for("f7", clock_elf, load)
    r = fw.call(m, "svc_call")
    assert r.reason == "fault"
    assert r.fault is not None and "SVCall" in r.fault.description
