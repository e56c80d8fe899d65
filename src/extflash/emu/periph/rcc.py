"""RCC: oscillators/PLLs with ready flags, the system clock switch, clock enables and resets.

The register table comes from the SVD; behaviour is rules plus one hook on every write:

* ``<X>ON`` -> ``<X>RDY`` ready flags follow at once (see :mod:`.tablemodel`);
* ``CFGR.SW`` is copied into ``CFGR.SWS`` when the selected source is running;
* the family's clock-tree function (:mod:`.clocktree`) recomputes the core frequency, which the
  machine hands to the virtual clock;
* a 0 -> 1 edge of a ``<X>RST`` bit in a ``*RSTR`` register resets that peripheral's model.

``hse_hz=0`` is a board without a crystal: HSERDY never sets (RM0433 §8.5.2: HSERDY rises only
once the oscillator is stable), so a loader that waits for it hangs as it does on that board.
Clocks outside the family's limits (``[clock_limits]`` in its data file: HSE crystal range, PLL
input and VCO ranges, core clock and HCLK maxima) are reported once each in ``clock_problems``,
through ``on_clock_problem`` and as a warning in the log: the chip may well run there, but
nothing promises it (a loader built for an 8 MHz crystal on a 25 MHz board runs its PLL 3x
over).

Clock enables are looked up by field name (``QSPIEN``, ``GPIOBEN``) in every ``*ENR`` register,
including the per-core ``C1_``/``C2_`` blocks of the dual-core H745/H747/H755/H757. Models that
depend on an enable bit subscribe to ``enable_listeners`` (called after any ``*ENR`` change and on
reset) instead of asking on every register access.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from extflash import mcu
from extflash.emu.periph import sysregs
from extflash.emu.periph.clocktree import ClockLimits, Clocks, tree_spec
from extflash.emu.periph.tablemodel import Always, Follow, TableModel, on_ready_pairs

log = logging.getLogger(__name__)
COMPUTED_STATES = 64  # clock-tree results remembered (register states of a bring-up)


class Rcc(TableModel):
    def __init__(self, family_id: str, base: int, *, hse_hz: int | None,
                 reset_clock_hz: int) -> None:
        regs = sysregs.registers(family_id, "RCC")
        self.family = mcu.family(family_id)
        self.tree = tree_spec(self.family.clock_tree)
        default_hse = self.tree.default_hse_hz if self.tree else 8_000_000
        self.hse_hz = default_hse if hse_hz is None else hse_hz
        rules: list[Follow | Always] = [
            r for r in on_ready_pairs(regs)
            if self.hse_hz or r.dst_field != "HSERDY"  # no crystal: never ready
        ]
        # HSIDIVF: "set by hardware when the HSI frequency is stable after an HSIDIV change"
        # (RM0433/RM0455/RM0477 RCC_CR); the model changes the divider at once
        rules += [Always("CR", "D1CKRDY"), Always("CR", "D2CKRDY"), Always("CR", "HSIDIVF")]
        self.family_name = self.family.name
        self.limits = ClockLimits.from_data(self.family.raw.get("clock_limits", {}))
        self.clock_problems: list[str] = []
        self.on_clock_problem: Callable[[str], None] | None = None
        self.reset_clock_hz = reset_clock_hz
        self.on_clock_change: Callable[[int], None] | None = None
        self.on_peripheral_reset: Callable[[str], None] | None = None
        self.enable_listeners: list[Callable[[], None]] = []
        self._computed: dict[tuple[int, ...], Clocks] = {}
        super().__init__("RCC", base, regs, rules)
        self._enables = self._index("ENR", "EN")
        self._enable_places: dict[str, tuple[tuple[int, int], ...]] = {}
        self._enable_regs = frozenset(off for places in self._enables.values()
                                      for off, _mask in places)
        # reset register offset -> (stem, its reset bits there): a write looks up its own
        self._resets_at: dict[int, dict[str, int]] = {}
        for stem, places in self._index("RSTR", "RST").items():
            for off, mask in places:
                at = self._resets_at.setdefault(off, {})
                at[stem] = at.get(stem, 0) | mask
        self.clocks = self._compute()
        self._limits_checked: tuple[Clocks, bool, bool] | None = None
        sources = self.tree.sources if self.tree else ()
        pll_ready = sources[-1] if sources else ""
        # CR's PLL-ready field ("" when none) and whether CR has HSEON
        self._limit_fields = (pll_ready if pll_ready and self._has("CR", pll_ready) else "",
                              self._has("CR", "HSEON"))

    def _index(self, reg_suffix: str, field_suffix: str) -> dict[str, list[tuple[int, int]]]:
        out: dict[str, list[tuple[int, int]]] = {}
        # APB1ENR, APB1ENR1/2 (L4, G4), not the sleep-mode copies (APB1LPENR, APB1SMENR1)
        pattern = re.compile(rf"(?<!LP)(?<!SM){reg_suffix}\d?$")
        for r in self.regs.values():
            if not pattern.search(r.name):
                continue
            for f in r.fields:
                if f.name.endswith(field_suffix):
                    out.setdefault(f.name[: -len(field_suffix)], []).append((r.offset, f.mask))
        return out

    def stems(self, name: str) -> tuple[str, ...]:
        """Stems of ``name``'s enable/reset fields (the family's ``[rcc.enable_stems]``)."""
        return self.family.enable_stems(name)

    def is_enabled(self, name: str) -> bool:
        """Is the bus clock of peripheral ``name`` (``QUADSPI``, ``GPIOB``) enabled?

        A peripheral with no enable bit in this RCC (always clocked) counts as enabled.
        """
        places = self._enable_places.get(name)
        if places is None:
            places = tuple(p for stem in self.stems(name) for p in self._enables.get(stem, []))
            self._enable_places[name] = places
        if not places:
            return True
        values = self.values
        return any(values[off] & mask for off, mask in places)

    # -- clock tree ---------------------------------------------------------------------------
    def _compute(self) -> Clocks:
        if self.tree is None:
            hz = self.reset_clock_hz
            return Clocks(hz, hz, hz)
        # every write asks; a bring-up moves between a few register states (memoised on all of
        # them: the tree is a function of the registers and the board's crystal)
        key = (self.hse_hz, *self.values.values())
        found = self._computed.get(key)
        if found is None:
            found = self.tree.compute(lambda n: self.values[self.by_name[n].offset], self.hse_hz)
            if len(self._computed) >= COMPUTED_STATES:
                self._computed.clear()
            self._computed[key] = found
        return found

    def core_hz(self) -> int:
        return self.clocks.core_hz

    def hclk_hz(self) -> int:
        return self.clocks.hclk_hz

    def sysclk_hz(self) -> int:
        return self.clocks.sysclk_hz

    def kernel_clock_hz(self, name: str) -> int:
        return self.clocks.kernel_hz.get(name, self.clocks.hclk_hz)

    def _switch(self) -> None:
        if self.tree is None or self.tree.cfgr not in self.by_name:
            return
        lsb, width = self.tree.sw_lsb, self.tree.sw_width
        mask = (1 << width) - 1
        cfgr = self[self.tree.cfgr]
        sw = (cfgr >> lsb) & mask
        if self._source_ready(sw):
            self[self.tree.cfgr] = (cfgr & ~(mask << (lsb + width))) | (sw << (lsb + width))

    def _source_ready(self, sw: int) -> bool:
        """Does the clock selected by SW run? (ready flags in SW encoding order)."""
        sources = self.tree.sources if self.tree else ()
        return sw < len(sources) and bool(self.get_field("CR", sources[sw]))

    def write(self, offset: int, size: int, value: int) -> None:
        old = self.values.get(offset & ~3, 0)
        super().write(offset, size, value)
        self._switch()
        resets = self._resets_at.get(offset & ~3)
        if resets is not None and self.on_peripheral_reset:
            rising = self.values[offset & ~3] & ~old
            for stem, mask in resets.items():
                if rising & mask:
                    self.on_peripheral_reset(stem)
        clocks = self._compute()
        if clocks != self.clocks:
            self.clocks = clocks
            if self.on_clock_change is not None and clocks.core_hz > 0:
                self.on_clock_change(clocks.core_hz)
        self._check_limits()
        if offset & ~3 in self._enable_regs and self.values[offset & ~3] != old:
            for listener in self.enable_listeners:
                listener()

    def _check_limits(self) -> None:
        pll_ready, hse = self._limit_fields
        pll_on = bool(pll_ready) and bool(self.get_field("CR", pll_ready))
        hse_on = hse and bool(self.get_field("CR", "HSEON"))
        checked = (self.clocks, pll_on, hse_on)
        if checked == self._limits_checked:  # every write asks; the answer depends on these
            return
        self._limits_checked = checked
        found = self.limits.problems(self.clocks, pll_on=pll_on, hse_on=hse_on,
                                     hse_hz=self.hse_hz, family=self.family_name)
        for problem in found:
            if problem not in self.clock_problems:
                self.clock_problems.append(problem)
                log.warning("RCC: %s", problem)
                if self.on_clock_problem is not None:
                    self.on_clock_problem(problem)

    def reset(self) -> None:
        super().reset()
        if hasattr(self, "tree"):
            self.clocks = self._compute()
        for listener in getattr(self, "enable_listeners", ()):
            listener()
