"""Clock plans: exact PLL settings inside each family's limits, applied in a safe order."""

from __future__ import annotations

import pytest

from extflash.gen.clock import family_clock, plan_clock, solve_pll, supported_families

FAMILIES = tuple(f for f in supported_families() if family_clock(f).pll is not None)
HSI_FAMILIES = tuple(f for f in supported_families() if family_clock(f).pll is None)


def test_every_quadspi_octospi_and_xspi_family_is_supported() -> None:
    assert set(FAMILIES) == {"stm32h7-qspi", "stm32f7", "stm32f4", "stm32l4", "stm32g4"}
    assert set(HSI_FAMILIES) == {"stm32h7-ospi", "stm32h7rs", "stm32u5", "stm32l5",
                                 "stm32l4plus", "stm32h5"}


@pytest.mark.parametrize("family_id", HSI_FAMILIES)
def test_octospi_and_xspi_loaders_run_from_hsi(family_id: str) -> None:
    """No PLL plan: SYSCLK is HSI, selected and confirmed (SW set, then SWS waited for)."""
    fam = family_clock(family_id)
    plan = plan_clock(fam, 25_000_000)
    assert plan.pll is None and plan.sysclk_hz == fam.hsi_hz == plan.hclk_hz
    sw = next(n for n in fam.fields if n.endswith(".SW"))
    sws = sw + "S"
    set_at = _index(plan.ops, sw, fam.fields, int(next(
        s.split()[-1] for s in fam.steps if s.startswith(f"set {sw} "))), False)
    assert set_at < _index(plan.ops, sws, fam.fields, (plan.ops[set_at].value
                                                       & fam.fields[sw].mask)
                           >> fam.fields[sw].shift, True)


@pytest.mark.parametrize("family_id", FAMILIES)
@pytest.mark.parametrize("hse", [None, 8_000_000, 16_000_000, 24_000_000, 25_000_000])
def test_pll_reaches_the_target_within_limits(family_id: str, hse: int | None) -> None:
    fam = family_clock(family_id)
    plan = plan_clock(fam, hse)
    pll, lim = plan.pll, fam.pll
    assert pll.output_hz == fam.sysclk_hz == plan.sysclk_hz
    assert pll.input_hz == (hse or fam.hsi_hz)
    assert lim.m[0] <= pll.m <= lim.m[1] and lim.n[0] <= pll.n <= lim.n[1]
    assert lim.ref_hz[0] <= pll.input_hz // pll.m <= lim.ref_hz[1]
    assert lim.vco_hz[0] <= pll.input_hz // pll.m * pll.n <= lim.vco_hz[1]
    assert fam.flash_ws_max_hz[plan.latency] >= plan.hclk_hz
    assert plan.latency == 0 or fam.flash_ws_max_hz[plan.latency - 1] < plan.hclk_hz


def _index(ops: tuple, name: str, fam_fields: dict, value: int, wait: bool) -> int:
    fld = fam_fields[name]
    for i, op in enumerate(ops):
        if op.addr == fld.addr and op.wait == wait and op.mask & fld.mask \
                and (op.value & fld.mask) >> fld.shift == value:
            return i
    raise AssertionError(f"no {'wait' if wait else 'set'} {name}={value}")


@pytest.mark.parametrize("family_id", FAMILIES)
@pytest.mark.parametrize("hse", [None, 25_000_000])
def test_steps_are_ordered_for_a_safe_switch(family_id: str, hse: int | None) -> None:
    fam = family_clock(family_id)
    plan = plan_clock(fam, hse)
    f = fam.fields
    pllon = next(n for n in f if n.startswith("RCC_CR.PLL") and n.endswith("ON"))
    pllrdy = pllon.replace("ON", "RDY")
    sw_pll = max(int(s.split()[-1]) for s in fam.steps if s.startswith("set RCC_CFGR.SW "))
    ops = plan.ops
    pll_off = _index(ops, pllon, f, 0, False)
    pll_off_done = _index(ops, pllrdy, f, 0, True)
    latency = _index(ops, "FLASH_ACR.LATENCY", f, plan.latency, True)
    pll_on_done = _index(ops, pllrdy, f, 1, True)
    switch = _index(ops, "RCC_CFGR.SW", f, sw_pll, False)
    switched = _index(ops, "RCC_CFGR.SWS", f, sw_pll, True)
    # a repeated Init finds the PLL running SYSCLK: it is released before being reprogrammed,
    # wait states go up before the clock does, and the switch is confirmed.
    assert pll_off < pll_off_done < latency < pll_on_done < switch < switched
    hse_on = [i for i, op in enumerate(ops) if op.addr == f["RCC_CR.HSEON"].addr
              and not op.wait and op.value & f["RCC_CR.HSEON"].mask]
    assert bool(hse_on) == bool(hse)


def test_no_exact_setting_is_reported_as_none() -> None:
    fam = family_clock("stm32f7")
    assert solve_pll(fam.pll, "hse", 7_372_800, fam.sysclk_hz) is None
