"""Clock trees: from RCC register values to SYSCLK, core clock, HCLK and kernel clocks.

One small function per RCC design; the family file's ``[clock_tree]`` table names it (``model``)
with the SW field width, the default HSE and the ready flag of each SW encoding. Bit positions
are the reference manuals' (RM0433/RM0399 for H74x/H75x, RM0468 for H72x/H73x, RM0455 for
H7A/B, RM0390/RM0410 for F4/F7, RM0351 for L4, RM0432 for L4+, RM0438 for L5, RM0440 for G4,
RM0456 for U5, RM0481 for H5, RM0477 for H7R/S). Oscillator frequencies are the datasheet
nominal values. Kernel clocks are keyed by controller name (``QUADSPI``, ``OCTOSPI1``, ``XSPI2``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Reader = Callable[[str], int]

# AHB/D1CPRE prescaler encodings: 0xxx = /1, 1000 = /2 ... 1011 = /16, 1100 = /64 ... 1111 = /512
AHB_DIV = (1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 8, 16, 64, 128, 256, 512)
MSI_HZ = (100_000, 200_000, 400_000, 800_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000,
          16_000_000, 24_000_000, 32_000_000, 48_000_000)


@dataclass(frozen=True)
class Clocks:
    """The clocks a register state gives: system, core, bus and kernel clocks."""

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


def l4_octospi(reg: Reader, hse_hz: int) -> Clocks:
    """L4+ and L5: the L4 tree with a 4-bit PLLM; CCIPR2.OSPISEL[21:20] picks the OCTOSPI
    kernel clock: SYSCLK, MSI or PLL48M1CLK (the PLL "Q" output) (RM0432/RM0438 RCC_CCIPR2)."""
    base = l4(reg, hse_hz, m_width=4)
    msi = MSI_HZ[min(_bits(reg("CR"), 4, 4), 11)]
    pll = reg("PLLCFGR")
    ref = (0, msi, 16_000_000, hse_hz)[_bits(pll, 0, 2)]
    vco = ref * _bits(pll, 8, 7) // (_bits(pll, 4, 4) + 1)
    pll_q = vco // (2 * (_bits(pll, 21, 2) + 1))
    kernel = (base.sysclk_hz, msi, pll_q, 0)[_bits(reg("CCIPR2"), 20, 2)]
    return Clocks(base.sysclk_hz, base.core_hz, base.hclk_hz,
                  {"OCTOSPI1": kernel, "OCTOSPI2": kernel})


# U5 MSIS/MSIK ranges 0..15 (RM0456 RCC_ICSCR1 MSISRANGE): 48 MHz down to 100 kHz.
U5_MSI_HZ = (48_000_000, 24_000_000, 16_000_000, 12_000_000, 4_000_000, 2_000_000, 1_330_000,
             1_000_000, 3_072_000, 1_536_000, 1_024_000, 768_000, 400_000, 200_000, 133_000,
             100_000)


@dataclass(frozen=True)
class PllOutputs:
    """A PLL's P, Q and R outputs in Hz."""

    p: int
    q: int
    r: int


def _pll(reg: Reader, cfgr: str, divr: str, refs: tuple[int, ...], m_lsb: int,
         m_width: int) -> PllOutputs:
    """A U5/H5 PLL: PLLxSRC[1:0] picks the reference, M = PLLxM+1 (DIVMx on H5, 0 = off),
    N = PLLxN+1, outputs /(P+1), /(Q+1), /(R+1) gated by PLLxPEN/QEN/REN (bits 16..18)."""
    c = reg(cfgr)
    d = reg(divr)
    m = _bits(c, m_lsb, m_width) + (1 if m_width == 4 else 0)  # U5 PLLM is M-1, H5 DIVM is M
    ref = refs[_bits(c, 0, 2)]
    vco = ref * (_bits(d, 0, 9) + 1) // m if m else 0
    return PllOutputs(*(vco // (_bits(d, lsb, 7) + 1) if c >> en & 1 else 0
                        for lsb, en in ((9, 16), (16, 17), (24, 18))))


def u5(reg: Reader, hse_hz: int) -> Clocks:
    """U5 (RM0456): MSIS/HSI16/HSE/PLL1R on CFGR1.SW; MSI ranges from ICSCR1 when MSIRGSEL
    is set, else from CSR (the ranges used after standby); OCTOSPISEL in CCIPR2[21:20]:
    SYSCLK, MSIK, PLL1Q, PLL2Q."""
    icscr1 = reg("ICSCR1")
    if icscr1 >> 23 & 1:
        msis, msik = _bits(icscr1, 28, 4), _bits(icscr1, 24, 4)
    else:
        msis, msik = _bits(reg("CSR"), 12, 4), _bits(reg("CSR"), 8, 4)
    msis_hz, msik_hz, hsi = U5_MSI_HZ[msis], U5_MSI_HZ[msik], 16_000_000
    refs = (0, msis_hz, hsi, hse_hz)
    pll1 = _pll(reg, "PLL1CFGR", "PLL1DIVR", refs, 8, 4)
    pll2 = _pll(reg, "PLL2CFGR", "PLL2DIVR", refs, 8, 4)
    sysclk = (msis_hz, hsi, hse_hz, pll1.r)[_bits(reg("CFGR1"), 0, 2)]
    hclk = sysclk // AHB_DIV[_bits(reg("CFGR2"), 0, 4)]
    kernel = (sysclk, msik_hz, pll1.q, pll2.q)[_bits(reg("CCIPR2"), 20, 2)]
    return Clocks(sysclk, hclk, hclk, {"OCTOSPI1": kernel, "OCTOSPI2": kernel})


def h5(reg: Reader, hse_hz: int) -> Clocks:
    """H5 (RM0481): HSI = 64 MHz >> CR.HSIDIV (32 MHz after reset), CSI 4 MHz; CFGR1.SW
    HSI/CSI/HSE/PLL1P; PLLxSRC none/HSI/CSI/HSE; OCTOSPI1SEL in CCIPR4[1:0]: HCLK4, PLL1Q,
    PLL2R, PER_CK (CCIPR5.CKPERSEL[31:30]: HSI, CSI, HSE)."""
    hsi = 64_000_000 >> _bits(reg("CR"), 3, 2)
    csi = 4_000_000
    refs = (0, hsi, csi, hse_hz)
    pll1 = _pll(reg, "PLL1CFGR", "PLL1DIVR", refs, 8, 6)
    pll2 = _pll(reg, "PLL2CFGR", "PLL2DIVR", refs, 8, 6)
    sysclk = (hsi, csi, hse_hz, pll1.p)[min(_bits(reg("CFGR1"), 0, 3), 3)]
    hclk = sysclk // AHB_DIV[_bits(reg("CFGR2"), 0, 4)]
    per_ck = (hsi, csi, hse_hz, 0)[_bits(reg("CCIPR5"), 30, 2)]
    kernel = (hclk, pll1.q, pll2.r, per_ck)[_bits(reg("CCIPR4"), 0, 2)]
    return Clocks(sysclk, hclk, hclk, {"OCTOSPI1": kernel})


def h7rs(reg: Reader, hse_hz: int) -> Clocks:
    """H7R/S (RM0477): HSI = 64 MHz >> CR.HSIDIV, CSI 4 MHz; CFGR.SW HSI/CSI/HSE/PLL1P;
    PLLCKSELR.PLLSRC HSI/CSI/HSE/none with DIVM1[9:4], DIVM2[17:12]; the CPU clock is SYSCLK
    / CDCFGR.CPRE and HCLK that / BMCFGR.BMPRE; XSPInSEL in CCIPR1 ([5:4] XSPI1, [7:6] XSPI2):
    HCLK5, PLL2S, PLL2T (PLL2DIVR2 DIVS[2:0], DIVT[10:8], enabled by PLLCFGR PLL2SEN/TEN)."""
    hsi = 64_000_000 >> _bits(reg("CR"), 3, 2)
    csi = 4_000_000
    cksel = reg("PLLCKSELR")
    ref = (hsi, csi, hse_hz, 0)[_bits(cksel, 0, 2)]
    pllcfgr = reg("PLLCFGR")

    def vco(divr: str, m_lsb: int) -> int:
        m = _bits(cksel, m_lsb, 6)
        return ref * (_bits(reg(divr), 0, 9) + 1) // m if m else 0

    vco1, vco2 = vco("PLL1DIVR1", 4), vco("PLL2DIVR1", 12)
    pll1_p = vco1 // (_bits(reg("PLL1DIVR1"), 9, 7) + 1) if pllcfgr >> 5 & 1 else 0
    divr2 = reg("PLL2DIVR2")
    pll2_s = vco2 // (_bits(divr2, 0, 3) + 1) if pllcfgr >> 19 & 1 else 0
    pll2_t = vco2 // (_bits(divr2, 8, 3) + 1) if pllcfgr >> 20 & 1 else 0
    sysclk = (hsi, csi, hse_hz, pll1_p)[min(_bits(reg("CFGR"), 0, 3), 3)]
    core = sysclk // AHB_DIV[_bits(reg("CDCFGR"), 0, 4)]
    hclk = core // AHB_DIV[_bits(reg("BMCFGR"), 0, 4)]
    ccipr1 = reg("CCIPR1")
    inputs = (hclk, pll2_s, pll2_t, 0)
    return Clocks(sysclk, core, hclk, {"XSPI1": inputs[_bits(ccipr1, 4, 2)],
                                       "XSPI2": inputs[_bits(ccipr1, 6, 2)]})


MODELS: dict[str, Callable[[Reader, int], Clocks]] = {
    "h7": h7, "f4": f4, "l4": l4, "g4": g4, "l4-octospi": l4_octospi, "u5": u5, "h5": h5,
    "h7rs": h7rs,
}


@dataclass(frozen=True)
class TreeSpec:
    """A family's clock tree: how to compute it and where SW and the ready flags are."""

    compute: Callable[[Reader, int], Clocks]
    sw_lsb: int  # CFGR.SW position; SWS sits right above it
    sw_width: int
    default_hse_hz: int
    sources: tuple[str, ...]  # CR ready flag of each SW encoding, in order
    cfgr: str = "CFGR"  # the register holding SW/SWS (CFGR1 on U5/H5)


def tree_spec(table: dict[str, Any] | None) -> TreeSpec | None:
    """The clock tree a family's ``[clock_tree]`` table describes (None: fixed reset clock)."""
    if not table:
        return None
    return TreeSpec(MODELS[table["model"]], int(table.get("sw_lsb", 0)), int(table["sw_width"]),
                    int(table["default_hse_hz"]), tuple(table["sources"]),
                    str(table.get("cfgr", "CFGR")))


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
