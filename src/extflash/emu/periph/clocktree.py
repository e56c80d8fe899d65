"""Clock trees: from RCC register values to SYSCLK, core clock, HCLK and kernel clocks.

One small function per RCC design, picked by family id. Bit positions are the reference
manuals' (RM0433/RM0399 for H74x/H75x, RM0468 for H72x/H73x, RM0390/RM0410 for F4/F7,
RM0351 for L4, RM0440 for G4). Oscillator frequencies are the datasheet nominal values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Reader = Callable[[str], int]

# AHB/D1CPRE prescaler encodings: 0xxx = /1, 1000 = /2 ... 1011 = /16, 1100 = /64 ... 1111 = /512
AHB_DIV = (1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 8, 16, 64, 128, 256, 512)
MSI_HZ = (100_000, 200_000, 400_000, 800_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000,
          16_000_000, 24_000_000, 32_000_000, 48_000_000)


@dataclass(frozen=True)
class Clocks:
    sysclk_hz: int
    core_hz: int
    hclk_hz: int
    kernel_hz: dict[str, int] = field(default_factory=dict)
    pll_input_hz: int = 0  # the main PLL's reference after its input divider (M)
    vco_hz: int = 0  # the main PLL's VCO output


def _bits(value: int, lsb: int, width: int) -> int:
    return (value >> lsb) & ((1 << width) - 1)


def h7(reg: Reader, hse_hz: int) -> Clocks:
    cr = reg("CR")
    hsi = 64_000_000 >> _bits(cr, 3, 2)
    csi = 4_000_000
    cksel = reg("PLLCKSELR")
    ref = (hsi, csi, hse_hz, 0)[_bits(cksel, 0, 2)]
    divr = reg("PLL1DIVR")
    m = _bits(cksel, 4, 6)
    frac = _bits(reg("PLL1FRACR"), 3, 13) if reg("PLLCFGR") & 1 else 0
    vco = ref * (_bits(divr, 0, 9) + 1 + frac / 8192) / m if m and ref else 0.0
    pll_p = int(vco / (_bits(divr, 9, 7) + 1))
    pll_q = int(vco / (_bits(divr, 16, 7) + 1))
    sysclk = (hsi, csi, hse_hz, pll_p)[min(_bits(reg("CFGR"), 3, 3), 3)]
    d1cfgr = reg("D1CFGR")
    core = sysclk // AHB_DIV[_bits(d1cfgr, 8, 4)]
    hclk = core // AHB_DIV[_bits(d1cfgr, 0, 4)]
    qspisel = _bits(reg("D1CCIPR"), 4, 2)
    per_ck = (hsi, csi, hse_hz, 0)[_bits(reg("D1CCIPR"), 28, 2)]
    pll2 = _pll_output(reg, "PLL2DIVR", cksel, 12, ref, 24, 0x4)
    kernel = (hclk, pll_q, pll2, per_ck)[qspisel]
    return Clocks(sysclk, core, hclk, {"QUADSPI": kernel, "OCTOSPI1": kernel,
                                       "OCTOSPI2": kernel}, ref // m if m else 0, int(vco))


def _pll_output(reg: Reader, divr_name: str, cksel: int, m_lsb: int, ref: int,
                out_lsb: int, frac_enable: int) -> int:
    try:
        divr = reg(divr_name)
    except KeyError:
        return 0
    m = _bits(cksel, m_lsb, 6)
    return int(ref * (_bits(divr, 0, 9) + 1) / m / (_bits(divr, out_lsb, 7) + 1)) if m else 0


def f4(reg: Reader, hse_hz: int) -> Clocks:
    hsi = 16_000_000
    pll = reg("PLLCFGR")
    ref = hse_hz if pll >> 22 & 1 else hsi
    m = _bits(pll, 0, 6)
    vco = ref * _bits(pll, 6, 9) // m if m else 0
    pll_p = vco // (2 * (_bits(pll, 16, 2) + 1))
    pll_r = vco // max(_bits(pll, 28, 3), 1)
    sysclk = (hsi, hse_hz, pll_p, pll_r)[_bits(reg("CFGR"), 2, 2)]
    hclk = sysclk // AHB_DIV[_bits(reg("CFGR"), 4, 4)]
    return Clocks(sysclk, hclk, hclk, {"QUADSPI": hclk}, ref // m if m else 0, vco)


def l4(reg: Reader, hse_hz: int, *, m_width: int = 3, has_msi: bool = True) -> Clocks:
    cr = reg("CR")
    hsi = 16_000_000
    msi = MSI_HZ[min(_bits(cr, 4, 4), 11)] if has_msi else 0
    pll = reg("PLLCFGR")
    ref = (0, msi, hsi, hse_hz)[_bits(pll, 0, 2)]
    m = _bits(pll, 4, m_width) + 1
    vco = ref * _bits(pll, 8, 7) // m
    pll_r = vco // (2 * (_bits(pll, 25, 2) + 1))
    pll_q = vco // (2 * (_bits(pll, 21, 2) + 1))
    sysclk = (msi, hsi, hse_hz, pll_r)[_bits(reg("CFGR"), 2, 2)]
    hclk = sysclk // AHB_DIV[_bits(reg("CFGR"), 4, 4)]
    kernel = hclk
    if not has_msi:  # G4: CCIPR2.QSPISEL selects SYSCLK, HSI16 or PLL "Q"
        kernel = (sysclk, hsi, pll_q, sysclk)[_bits(reg("CCIPR2"), 20, 2)]
    return Clocks(sysclk, hclk, hclk, {"QUADSPI": kernel}, ref // m, vco)


def g4(reg: Reader, hse_hz: int) -> Clocks:
    return l4(reg, hse_hz, m_width=4, has_msi=False)


@dataclass(frozen=True)
class TreeSpec:
    compute: Callable[[Reader, int], Clocks]
    sw_lsb: int  # CFGR.SW position; SWS sits right above it
    sw_width: int
    default_hse_hz: int
    sources: tuple[str, ...]  # CR ready flag of each SW encoding, in order


TREES: dict[str, TreeSpec] = {
    "stm32h7-qspi": TreeSpec(h7, 0, 3, 25_000_000, ("HSIRDY", "CSIRDY", "HSERDY", "PLL1RDY")),
    "stm32h7-ospi": TreeSpec(h7, 0, 3, 25_000_000, ("HSIRDY", "CSIRDY", "HSERDY", "PLL1RDY")),
    "stm32f7": TreeSpec(f4, 0, 2, 25_000_000, ("HSIRDY", "HSERDY", "PLLRDY", "PLLRDY")),
    "stm32f4": TreeSpec(f4, 0, 2, 8_000_000, ("HSIRDY", "HSERDY", "PLLRDY", "PLLRDY")),
    "stm32l4": TreeSpec(l4, 0, 2, 8_000_000, ("MSIRDY", "HSIRDY", "HSERDY", "PLLRDY")),
    "stm32l4plus": TreeSpec(l4, 0, 2, 8_000_000, ("MSIRDY", "HSIRDY", "HSERDY", "PLLRDY")),
    "stm32g4": TreeSpec(g4, 0, 2, 8_000_000, ("HSIRDY", "HSIRDY", "HSERDY", "PLLRDY")),
}


@dataclass(frozen=True)
class ClockLimits:
    """A family's clock limits (``[clock_limits]`` of its data file, with their sources)."""

    hse_hz: tuple[int, int] | None = None
    pll_input_hz: tuple[int, int] | None = None
    vco_hz: tuple[int, int] | None = None
    core_max_hz: int | None = None
    hclk_max_hz: int | None = None

    @classmethod
    def from_data(cls, data: dict[str, object]) -> ClockLimits:
        def pair(key: str) -> tuple[int, int] | None:
            value = data.get(key)
            if not isinstance(value, list) or len(value) != 2:
                return None
            return int(value[0]), int(value[1])

        def one(key: str) -> int | None:
            value = data.get(key)
            return int(value) if isinstance(value, int) else None

        return cls(pair("hse_hz"), pair("pll_input_hz"), pair("vco_hz"), one("core_max_hz"),
                   one("hclk_max_hz"))

    def problems(self, clocks: Clocks, *, pll_on: bool, hse_on: bool, hse_hz: int,
                 family: str) -> list[str]:
        """What runs outside the limits now: one sentence each, naming value and limit."""
        out = []

        def outside(what: str, value: int, limits: tuple[int, int] | None, why: str = "") -> None:
            if limits is not None and value and not limits[0] <= value <= limits[1]:
                side = "above" if value > limits[1] else "below"
                out.append(f"{what} is {_mhz(value)}, {side} the {family} range "
                           f"{_mhz(limits[0])}..{_mhz(limits[1])}{why}")

        if hse_on:
            outside("the HSE crystal", hse_hz, self.hse_hz)
        if pll_on:
            # a PLL set up for another crystal is the usual cause
            why = f" (the board's HSE crystal is {_mhz(hse_hz)})" if hse_on else ""
            outside("the PLL input (after its M divider)", clocks.pll_input_hz,
                    self.pll_input_hz, why)
            outside("the PLL VCO", clocks.vco_hz, self.vco_hz, why)
        for what, value, limit in (("the core clock", clocks.core_hz, self.core_max_hz),
                                   ("HCLK", clocks.hclk_hz, self.hclk_max_hz)):
            if limit is not None and value > limit:
                out.append(f"{what} is {_mhz(value)}, above the {family} maximum of "
                           f"{_mhz(limit)}")
        return out


def _mhz(hz: int) -> str:
    return f"{hz / 1e6:g} MHz"
