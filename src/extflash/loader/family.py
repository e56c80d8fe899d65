"""Which MCU family a loader was built for, inferred from evidence in the file.

Each family earns points for facts that fit it and loses points for facts that rule it out:

* the image's link address vs the family's loader RAM base (+4 for the BKPT word);
* peripheral base addresses the code loads (RCC, GPIO, the memory controller). Several
  families share a controller address (QUADSPI 0xA0001000 on F4/F7/L4/G4; 0x52005000 for
  QUADSPI, OCTOSPI1 and XSPI1 on the H7 lines), so RCC/GPIO bases, the OCTOSPIM/XSPIM and
  second-instance addresses and OCTOSPI-only register offsets (CCR 0x100, IR 0x110) decide;
* the RCC register that holds a controller's clock enable (``RCC_AHB5ENR`` with XSPI2EN on H7R/S,
  ``RCC_AHB3ENR`` with OSPI1EN on H7A/B/H72x): the register offsets differ between the H7 lines
  even where the RCC base is the same;
* the instruction set (Thumb-2 rules out Cortex-M0+) and FPU use (VFP code rules out FPU-less
  cores, double precision rules out single-precision FPUs).

The result ranks candidates with their score and the evidence strings, so a user can see why.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from extflash import mcu
from extflash.regdata import RegisterName, register_names

if TYPE_CHECKING:
    from extflash.loader.model import Loader

# Register offsets that only the OCTOSPI/XSPI register map has (QUADSPI's ends at 0x34).
OCTOSPI_ONLY_OFFSETS = (0x100, 0x108, 0x110)
PERIPHERAL_SPAN = 0x400
DOUBLE_FPUS = {"fpv5-d16"}

CONTROLLER_INTERFACES = (("OCTOSPIM", "octospi"), ("OCTOSPI", "octospi"), ("XSPIM", "xspi"),
                         ("XSPI", "xspi"), ("QUADSPI", "quadspi"), ("SPI", "spi"))
# Points per kind of peripheral evidence.
WEIGHTS = (("RCC", 3), ("GPIO", 1), ("OCTOSPIM", 3), ("XSPIM", 3), ("QUADSPI", 2),
           ("OCTOSPI", 2), ("XSPI", 2), ("SPI", 1), ("PWR", 1), ("SBS", 1), ("FLASH", 0))


def interface_of(peripheral: str) -> str | None:
    return next((iface for prefix, iface in CONTROLLER_INTERFACES
                 if peripheral.startswith(prefix)), None)


def _weight(peripheral: str) -> int:
    return next((w for prefix, w in WEIGHTS if peripheral.startswith(prefix)), 0)


@dataclass(frozen=True)
class FamilyGuess:
    """An MCU family a loader may be for, with the evidence."""

    family_id: str
    score: int
    evidence: tuple[str, ...]
    interface: str | None  # the memory interface the evidence shows for this family

    @property
    def family(self) -> mcu.Family:
        return mcu.family(self.family_id)


@dataclass(frozen=True)
class FamilyInference:
    """The families a loader may be for, best first."""

    candidates: tuple[FamilyGuess, ...]  # best first; only families with a positive score

    @property
    def best(self) -> FamilyGuess | None:
        return self.candidates[0] if self.candidates else None

    @property
    def tied(self) -> tuple[FamilyGuess, ...]:
        """All candidates sharing the best score (the evidence cannot tell them apart)."""
        if not self.candidates:
            return ()
        return tuple(c for c in self.candidates if c.score == self.candidates[0].score)

    @property
    def interface(self) -> str | None:
        return self.best.interface if self.best else None


def infer_family(loader: Loader) -> FamilyInference:
    refs = loader.code.references | loader.code.words
    guesses = [_score(loader, fam, refs) for fam in mcu.families().values()]
    ranked = sorted((g for g in guesses if g.score > 0), key=lambda g: (-g.score, g.family_id))
    return FamilyInference(tuple(ranked))


def _score(loader: Loader, fam: mcu.Family, refs: frozenset[int]) -> FamilyGuess:
    score = 0
    evidence: list[str] = []

    def note(points: int, text: str) -> None:
        nonlocal score
        score += points
        evidence.append(f"{text} ({points:+d})")

    fp = loader.footprint
    if fp is not None and loader.kind == "stldr":
        if fp.start == fam.loader_ram_base + 4:
            note(4, f"image linked at {fp.start:#010x} = loader RAM base + 4")
        elif fp.start in {b + 4 for b in fam.alt_loader_ram_bases}:
            note(3, f"image linked at {fp.start:#010x} = alternative loader RAM base + 4")
        elif fam.region_at(fp.start) is None:
            note(-2, f"image at {fp.start:#010x} is not in this family's memory")
    interface: str | None = None
    for name, base in sorted(fam.peripherals.items()):
        hits = sorted(a for a in refs if base <= a < base + PERIPHERAL_SPAN)
        if not hits or not _weight(name):
            continue
        note(_weight(name), f"{name} base {base:#010x} referenced")
        iface = interface_of(name)
        if iface and (interface is None or iface != "quadspi"):
            interface = iface
        if iface == "octospi" or iface == "xspi":
            offs = sorted({a - base for a in hits} & set(OCTOSPI_ONLY_OFFSETS))
            if offs:
                note(1, f"{name} register offset {offs[0]:#x} (OCTOSPI/XSPI only) referenced")
        if iface == "quadspi" and any(base + off in refs for off in OCTOSPI_ONLY_OFFSETS):
            note(-2, f"{name} base is referenced with OCTOSPI-only register offsets")
    rcc_base = fam.peripherals.get("RCC")
    if rcc_base is not None:
        for reg, fields in _controller_enables(fam.id).items():
            if rcc_base + reg.offset in refs:
                note(3, f"RCC_{reg.name} ({', '.join(fields)}) referenced")
    _isa_evidence(loader, fam, note)
    return FamilyGuess(fam.id, score, tuple(evidence), interface)


@functools.cache
def _controller_enables(family_id: str) -> dict[RegisterName, tuple[str, ...]]:
    """RCC enable registers holding a memory controller's or IO manager's enable bit."""
    fam = mcu.family(family_id)
    names = [c.name for c in fam.controllers] + ([fam.io_manager.name] if fam.io_manager else [])
    wanted = {f"{stem}EN" for n in names for stem in fam.enable_stems(n)}
    out: dict[RegisterName, tuple[str, ...]] = {}
    for reg in register_names(family_id, "RCC"):
        hits = tuple(f for f in reg.fields if f in wanted)
        # not the low-power copies, nor the per-core C1_/C2_ aliases HAL code does not use
        # on the single-core parts (H72x's C1_AHB3ENR sits where H7R/S has AHB5ENR)
        if hits and not reg.name.rstrip("0123456789").endswith(("LPENR", "SMENR")) \
                and not reg.name.startswith(("C1_", "C2_")):
            out[reg] = hits
    return out


def _isa_evidence(loader: Loader, fam: mcu.Family, note: Callable[[int, str], None]) -> None:
    code, attrs = loader.code, loader.attributes
    if fam.core == "cortex-m0plus":
        if code.thumb2:
            note(-5, "Thumb-2 instructions (Cortex-M0+ is ARMv6-M only)")
        elif attrs.v6m_only:
            note(2, f"built for {attrs.cpu_arch}")
    elif attrs.v6m_only:
        note(-1, f"built for {attrs.cpu_arch} (a Cortex-M0/M0+ target)")
    uses_fpu = code.vfp or attrs.vfp_args
    if uses_fpu and not fam.has_fpu:
        note(-5, "floating-point (VFP) code but the core has no FPU")
    elif code.vfp_double and fam.fpu not in DOUBLE_FPUS:
        note(-3, "double-precision VFP code on a single-precision FPU")
