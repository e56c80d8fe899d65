"""Lint rules for loaders: one small documented function per rule, registered in ``RULES``.

Each rule looks at a :class:`LintContext` (the loader plus the family/part it is checked
against) and yields :class:`Finding` s. Severity ``error`` means a host will fail or misbehave;
``warning`` means it works only under conditions; ``info`` is worth knowing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from extflash import mcu
from extflash.loader.model import Loader
from extflash.loader.stldr import DEVICE_TYPES, STORAGE_INFO_SIZE

HOST_STACK = 0x400  # CubeProgrammer / ST OpenOCD: MSP = image end + 0x400
MIN_BUFFER = 0x100
MANDATORY = ("Init", "Write", "SectorErase")
OPTIONAL = {
    "Read": "the host reads the memory-mapped window instead, so Init must leave mapped mode on",
    "MassErase": "a full-chip erase falls back to erasing every sector",
    "Verify": "the host cannot verify while programming through the loader",
    "CheckSum": "the host cannot ask the loader for checksums",
}
FLM_MANDATORY = ("Init", "UnInit", "EraseSector", "ProgramPage")
VTOR, NVIC_ISER0, SYSTICK_CTRL, DWT_CYCCNT = 0xE000ED08, 0xE000E100, 0xE000E010, 0xE0001004
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One lint finding and how to fix it."""

    id: str
    severity: str
    message: str
    fix: str
    location: str | None = None


@dataclass(frozen=True)
class LintContext:
    """What the lint rules check a loader against."""

    loader: Loader
    family: mcu.Family | None
    part: mcu.Part | None
    target: str  # what the checks are against, e.g. "STM32H743 (--mcu)"

    def ram_at(self, address: int) -> mcu.MemoryRegion | None:
        if self.part is not None:
            return self.part.ram_at(address)
        region = self.family.region_at(address) if self.family else None
        return region if region is not None and region.kind == "ram" else None


@dataclass(frozen=True)
class LintReport:
    """The findings of ``extflash lint`` for one loader."""

    path: str
    target: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def ids(self) -> set[str]:
        return {f.id for f in self.findings}


Rule = Callable[[LintContext], Iterator[Finding]]


@dataclass(frozen=True)
class RuleSpec:
    """A lint rule: its id, severity and the loader kinds it applies to."""

    id: str
    severity: str
    kinds: tuple[str, ...]
    func: Rule


RULES: list[RuleSpec] = []


def rule(rule_id: str, severity: str,
         kinds: tuple[str, ...] = ("stldr",)) -> Callable[[Rule], Rule]:
    def register(func: Rule) -> Rule:
        RULES.append(RuleSpec(rule_id, severity, kinds, func))
        return func

    return register


def _si_location(ctx: LintContext) -> str:
    si = ctx.loader.storage_info
    return f"StorageInfo in '{si.section}' at {si.address:#010x}" if si else "StorageInfo"


# --- StorageInfo -------------------------------------------------------------------------


@rule("storage-info-missing", "error")
def storage_info_missing(ctx: LintContext) -> Iterator[Finding]:
    """Hosts find the device description by the symbol name ``StorageInfo``."""
    if ctx.loader.storage_info is None:
        yield Finding("storage-info-missing", "error",
                      "no StorageInfo symbol: the host cannot list or use this loader",
                      "define 'const struct StorageInfo StorageInfo' (200 bytes), mark it used "
                      "and KEEP its section in the linker script; do not strip the symbol")


@rule("storage-info-size", "warning")
def storage_info_size(ctx: LintContext) -> Iterator[Finding]:
    """The struct is 200 bytes; 136 (two sector slots) and 0 (assembler) exist in the wild."""
    si = ctx.loader.storage_info
    if si is not None and si.symbol_size != STORAGE_INFO_SIZE:
        yield Finding("storage-info-size", "warning",
                      f"StorageInfo symbol size is {si.symbol_size}, not 200 "
                      f"({si.bytes_read} bytes read); CubeProgrammer 2.12+ expects 200",
                      "declare the full ST struct with 10 sector slots (sizeof == 200)",
                      _si_location(ctx))


@rule("storage-info-name", "error")
def storage_info_name(ctx: LintContext) -> Iterator[Finding]:
    """DeviceName[100] must hold a NUL; hosts read it as a C string."""
    si = ctx.loader.storage_info
    if si is not None and not si.name_terminated:
        yield Finding("storage-info-name", "error",
                      "StorageInfo.DeviceName has no NUL terminator within its 100 bytes",
                      "shorten the device name to at most 99 characters", _si_location(ctx))


@rule("storage-info-type", "warning")
def storage_info_type(ctx: LintContext) -> Iterator[Finding]:
    """DeviceType must be one of ST's 1..10 (3 NOR_FLASH, 7 SPI_FLASH are usual)."""
    si = ctx.loader.storage_info
    if si is not None and si.device_type not in DEVICE_TYPES:
        yield Finding("storage-info-type", "warning",
                      f"StorageInfo.DeviceType is {si.device_type}, outside ST's 1..10",
                      "use NOR_FLASH (3) or SPI_FLASH (7)", _si_location(ctx))


@rule("storage-info-padding", "info")
def storage_info_padding(ctx: LintContext) -> Iterator[Finding]:
    """The padding after DeviceType and EraseValue is zero in every known loader."""
    si = ctx.loader.storage_info
    if si is not None and any(si.padding):
        yield Finding("storage-info-padding", "info",
                      f"StorageInfo padding bytes are not zero ({si.padding.hex()}): the struct "
                      "layout may differ from ST's",
                      "declare the struct exactly as ST's Dev_Inf.h", _si_location(ctx))


@rule("storage-info-sectors", "error")
def storage_info_sectors(ctx: LintContext) -> Iterator[Finding]:
    """The sector groups must cover exactly DeviceSize (the 0x3D0900 'decimal' bug)."""
    si = ctx.loader.storage_info
    if si is not None and si.sectors_total != si.size:
        yield Finding("storage-info-sectors", "error",
                      f"sectors add up to {si.sectors_total:#x} bytes but DeviceSize is "
                      f"{si.size:#x}",
                      "make DeviceSize the sum of SectorNum x SectorSize (a power of two for "
                      "NOR parts)", _si_location(ctx))


@rule("storage-info-page-size", "warning")
def storage_info_page_size(ctx: LintContext) -> Iterator[Finding]:
    """PageSize is the host's write alignment: a nonzero power of two dividing each sector."""
    si = ctx.loader.storage_info
    if si is None:
        return
    page = si.page_size
    if page == 0 or page & (page - 1):
        yield Finding("storage-info-page-size", "warning",
                      f"PageSize {page:#x} is not a power of two",
                      "use the flash program page (0x100) or a power-of-two multiple",
                      _si_location(ctx))
    elif any(g.size % page for g in si.groups):
        yield Finding("storage-info-page-size", "warning",
                      f"PageSize {page:#x} does not divide every sector size",
                      "use a PageSize no larger than the smallest sector", _si_location(ctx))


@rule("storage-info-start", "error")
def storage_info_start(ctx: LintContext) -> Iterator[Finding]:
    """DeviceStartAddress must be in a memory-mapped window of the family's controllers."""
    si, fam = ctx.loader.storage_info, ctx.family
    if si is None:
        return
    if fam is not None and fam.windows:
        if not any(w.contains(si.start) for w in fam.windows):
            windows = ", ".join(f"{w.name} {w.start:#010x}" for w in fam.windows)
            yield Finding("storage-info-start", "error",
                          f"DeviceStartAddress {si.start:#010x} is not in a memory-mapped window "
                          f"of {ctx.target} ({windows})",
                          "set DeviceStartAddress to the window base the flash is mapped at",
                          _si_location(ctx))
    elif not 0x60000000 <= si.start < 0xE0000000:
        yield Finding("storage-info-start", "error",
                      f"DeviceStartAddress {si.start:#010x} is outside 0x60000000..0xDFFFFFFF",
                      "set DeviceStartAddress to the external-memory window base",
                      _si_location(ctx))


@rule("storage-info-erase-value", "warning")
def storage_info_erase_value(ctx: LintContext) -> Iterator[Finding]:
    """NOR flash erases to 0xFF (0x00 for a few parts); anything else breaks blank checks."""
    si = ctx.loader.storage_info
    if si is not None and si.erase_value not in (0xFF, 0x00):
        yield Finding("storage-info-erase-value", "warning",
                      f"EraseValue is {si.erase_value:#04x}, not 0xFF or 0x00",
                      "set EraseValue to 0xFF for NOR flash", _si_location(ctx))


@rule("flash-device-missing", "error", ("flm",))
def flash_device_missing(ctx: LintContext) -> Iterator[Finding]:
    """FLM hosts read the device description from the ``FlashDevice`` symbol."""
    fd = ctx.loader.flash_device
    if fd is None:
        yield Finding("flash-device-missing", "error", "no FlashDevice symbol in this FLM",
                      "define 'struct FlashDevice const FlashDevice' in section DevDscr")
    elif not fd.runs_terminated:
        yield Finding("flash-device-missing", "error",
                      "FlashDevice sector list has no 0xFFFFFFFF terminator",
                      "end the sectors[] list with SECTOR_END", f"FlashDevice in '{fd.section}'")


# --- image placement ---------------------------------------------------------------------


@rule("image-base", "error")
def image_base(ctx: LintContext) -> Iterator[Finding]:
    """The image must be linked at the family's loader RAM base + 4 (the host's BKPT below)."""
    fp, fam = ctx.loader.footprint, ctx.family
    if fp is None or fam is None:
        return
    bases = [fam.loader_ram_base, *fam.alt_loader_ram_bases]
    expected = " or ".join(f"{b + 4:#010x}" for b in bases)
    if ctx.ram_at(fp.start) is None:
        yield Finding("image-base", "error",
                      f"image starts at {fp.start:#010x}, which is not RAM on {ctx.target}",
                      f"link the image at {expected}", f"{fp.start:#010x}")
    elif fp.start not in {b + 4 for b in bases}:
        yield Finding("image-base", "warning",
                      f"image starts at {fp.start:#010x}; hosts put their BKPT at "
                      f"{fam.loader_ram_base:#010x} and expect the image at {expected}",
                      f"set the RAM origin in the linker script to {expected}",
                      f"{fp.start:#010x}")


@rule("image-ram-fit", "error")
def image_ram_fit(ctx: LintContext) -> Iterator[Finding]:
    """Image + 0x400 host stack + one page of buffer must fit in the RAM region."""
    fp = ctx.loader.footprint
    region = ctx.ram_at(fp.start) if fp else None
    if fp is None or region is None:
        return
    si = ctx.loader.storage_info
    buffer = max(si.page_size if si else 0, MIN_BUFFER)
    need = fp.end + HOST_STACK + buffer
    if need > region.end:
        yield Finding("image-ram-fit", "error",
                      f"image {fp.start:#010x}..{fp.end:#010x} + {HOST_STACK:#x} stack + "
                      f"{buffer:#x} buffer needs up to {need:#010x}, beyond {region.name} "
                      f"(ends {region.end:#010x})",
                      "shrink .bss/.data (build with -Os, drop large buffers)",
                      f"{fp.start:#010x}..{fp.end:#010x}")


# --- entry points ------------------------------------------------------------------------


@rule("entry-missing", "error", ("stldr", "flm"))
def entry_missing(ctx: LintContext) -> Iterator[Finding]:
    """Init, Write and SectorErase (FLM: Init, UnInit, EraseSector, ProgramPage) are required."""
    names = MANDATORY if ctx.loader.kind == "stldr" else FLM_MANDATORY
    for name in names:
        if ctx.loader.entry(name) is None:
            yield Finding("entry-missing", "error", f"mandatory entry point {name} is missing",
                          f"export {name} (KEEP its section; do not strip its symbol)", name)


@rule("entry-optional", "info")
def entry_optional(ctx: LintContext) -> Iterator[Finding]:
    """Read, MassErase, Verify and CheckSum are optional; say what their absence means."""
    for name, consequence in OPTIONAL.items():
        if ctx.loader.entry(name) is None:
            yield Finding("entry-optional", "info", f"optional {name} is absent: {consequence}",
                          f"export {name} if the host should use it", name)


@rule("entry-deinit", "info")
def entry_deinit(ctx: LintContext) -> Iterator[Finding]:
    """DeInit is not part of ST's API; no evidence any host calls it."""
    if ctx.loader.entry("DeInit") is not None:
        yield Finding("entry-deinit", "info", "DeInit is exported but hosts do not call it",
                      "do not rely on DeInit for cleanup", "DeInit")


@rule("entry-not-thumb", "error", ("stldr", "flm"))
def entry_not_thumb(ctx: LintContext) -> Iterator[Finding]:
    """Cortex-M runs Thumb only: entry symbols must have bit 0 set (type FUNC)."""
    for e in ctx.loader.entry_points:
        if not e.thumb:
            yield Finding("entry-not-thumb", "error",
                          f"{e.name} at {e.address:#010x} is not a Thumb function address",
                          f"make {e.name} a C function (symbol type FUNC, Thumb)", e.name)


@rule("entry-not-in-code", "error", ("stldr", "flm"))
def entry_not_in_code(ctx: LintContext) -> Iterator[Finding]:
    """Each entry point must lie in an executable section of a loaded segment."""
    ld = ctx.loader
    for e in ld.entry_points:
        seg = next((s for s in ld.segments if s.contains(e.code_address) and s.executable), None)
        sec = next((s for s in ld.sections if s.is_alloc and s.flags & 0x4
                    and s.contains(e.code_address)), None)
        if seg is None or sec is None:
            yield Finding("entry-not-in-code", "error",
                          f"{e.name} at {e.address:#010x} is not inside executable code "
                          f"(section {e.section or '?'})",
                          f"define {e.name} as a function in .text", e.name)


# --- code habits -------------------------------------------------------------------------


@rule("bss-not-cleared", "warning")
def bss_not_cleared(ctx: LintContext) -> Iterator[Finding]:
    """Hosts do not guarantee zeroed .bss. Heuristic: Init's call tree never refers to the
    start address of a NOBITS range (no memset/loop from __bss_start__)."""
    ld = ctx.loader
    init = ld.entry("Init")
    if init is None or not ld.zero_ranges:
        return
    refs: set[int] = set()
    for fn in ld.code.call_tree(init.address):
        refs |= fn.references
    for z in ld.zero_ranges:
        starts = {z.address} | {s.addr for s in ld.sections
                                if s.is_nobits and s.size and z.address <= s.addr < z.end}
        if not starts & refs:
            yield Finding("bss-not-cleared", "warning",
                          f"Init never refers to {z.address:#010x}, the start of "
                          f"{'/'.join(z.sections) or 'zero-initialised data'} ({z.size:#x} "
                          "bytes); heuristic: no literal for the range start in Init's call "
                          "tree, so .bss likely holds stale RAM on the first call",
                          "zero .bss at the start of Init (memset from __bss_start__ to "
                          "__bss_end__)", f"{z.address:#010x}")


@rule("r9-relative", "error", ("stldr",))
def r9_relative(ctx: LintContext) -> Iterator[Finding]:
    """RWPI code addresses data via R9; CubeProgrammer sets R9 = 0, so data lands at 0."""
    ld = ctx.loader
    funcs = ld.code.r9_functions
    marker = any("RWPI" in s.name for s in ld.symbols if s.name.startswith("BuildAttributes$$"))
    if not funcs and not marker:
        return
    where = ", ".join(funcs[:5]) or "BuildAttributes RWPI"
    ram0 = ctx.ram_at(0) is not None
    if ctx.family is None or not ram0:
        yield Finding("r9-relative", "error",
                      f"data is addressed relative to R9 ({where}); hosts start calls with "
                      f"R9 = 0 and {ctx.target} has no RAM at address 0",
                      "rebuild without RWPI (Keil: no --rwpi; GCC: no -msingle-pic-base)", where)
    else:
        yield Finding("r9-relative", "warning",
                      f"data is addressed relative to R9 ({where}); with R9 = 0 it lands in "
                      f"RAM at address 0 on {ctx.target} (works by accident)",
                      "rebuild without RWPI so globals live in the image", where)


@rule("interrupts", "warning")
def interrupts(ctx: LintContext) -> Iterator[Finding]:
    """Hosts run loaders with interrupts under their control; vector tables, VTOR writes,
    SysTick handlers and NVIC enables make a loader depend on interrupts being delivered."""
    ld = ctx.loader
    signs = []
    vectors = ld.section(".isr_vector")
    if vectors is not None and not vectors.is_nobits:  # a bare 0x1FC pad holds no table
        signs.append("section .isr_vector")
    signs += [f"symbol {n}" for n in ("g_pfnVectors", "SysTick_Handler") if ld.symbol(n)]
    refs = ld.code.references | ld.code.words
    signs += [f"{what} ({addr:#010x})" for what, addr in (("VTOR", VTOR),
                                                          ("NVIC ISER", NVIC_ISER0))
              if addr in refs]
    if signs:
        yield Finding("interrupts", "warning",
                      f"the loader depends on interrupts: {', '.join(signs)}",
                      "poll SysTick COUNTFLAG (TICKINT off) or DWT for ticks; drop the vector "
                      "table and VTOR/NVIC writes", signs[0])


@rule("hal-tick-source", "warning")
def hal_tick_source(ctx: LintContext) -> Iterator[Finding]:
    """HAL_GetTick/HAL_Delay need a running time base; without SysTick or DWT they never
    advance (timeouts never expire, HAL_Delay hangs)."""
    ld = ctx.loader
    users = [n for n in ("HAL_GetTick", "HAL_Delay") if ld.symbol(n) is not None]
    refs = ld.code.references | ld.code.words
    has_source = any(SYSTICK_CTRL <= a < SYSTICK_CTRL + 0x10 or a == DWT_CYCCNT
                     for a in refs) or ld.symbol("SysTick_Handler") is not None
    if users and not has_source:
        yield Finding("hal-tick-source", "warning",
                      f"{' and '.join(users)} present but nothing programs SysTick or reads the "
                      "DWT cycle counter: HAL timeouts never expire",
                      "implement HAL_GetTick by polling SysTick COUNTFLAG or DWT->CYCCNT",
                      users[0])


@rule("dwt-cycle-counter", "error", ("stldr", "flm"))
def dwt_cycle_counter(ctx: LintContext) -> Iterator[Finding]:
    """Cortex-M0/M0+ have no DWT CYCCNT: cycle-counter timeouts never advance there."""
    fam = ctx.family
    if fam is None or fam.has_dwt_cyccnt:
        return
    if DWT_CYCCNT in ctx.loader.code.references | ctx.loader.code.words:
        yield Finding("dwt-cycle-counter", "error",
                      f"the code reads DWT->CYCCNT (0xE0001004) but {ctx.target} is a "
                      f"{fam.core} without a cycle counter",
                      "use SysTick COUNTFLAG polling for ticks", "0xE0001004")


@rule("fpu", "error", ("stldr", "flm"))
def fpu(ctx: LintContext) -> Iterator[Finding]:
    """Hard-float code needs an FPU; double-precision code needs a double-precision FPU."""
    fam = ctx.family
    if fam is None:
        return
    fpu_name = ctx.part.fpu if ctx.part is not None else fam.fpu
    ld = ctx.loader
    if (ld.code.vfp or ld.attributes.vfp_args) and fpu_name == "none":
        yield Finding("fpu", "error",
                      f"floating-point (VFP) instructions but {ctx.target} has no FPU",
                      "build with -mfloat-abi=soft", "VFP code")
    elif ld.code.vfp_double and fpu_name != "fpv5-d16":
        yield Finding("fpu", "error",
                      f"double-precision VFP instructions but {ctx.target} has {fpu_name}",
                      "use float (not double) or -mfpu matching the part", "VFP .f64 code")


@rule("interface-mismatch", "error", ("stldr", "flm"))
def interface_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """A QUADSPI loader on an OCTOSPI part (or the reverse) clocks no pins and reads nothing."""
    fam = ctx.family
    if fam is None or ctx.part is None:
        return  # against the inferred family the interface agrees by construction
    # The interface comes from the inferred family: its evidence (OCTOSPIM, register offsets,
    # RCC/GPIO bases) separates controllers that share a base address.
    loader_iface = ctx.loader.inferred_family.interface
    if loader_iface and loader_iface not in fam.interfaces:
        windows = ", ".join(f"{c.name} at {c.window:#010x}" for c in fam.controllers)
        yield Finding("interface-mismatch", "error",
                      f"the loader drives {loader_iface.upper()} but {ctx.target} has "
                      f"{', '.join(i.upper() for i in fam.interfaces)}",
                      "use a loader built for this part's memory interface"
                      + (f" ({windows})" if windows else ""),
                      loader_iface)


# --- running the rules -------------------------------------------------------------------


def _context(loader: Loader, mcu_name: str | None) -> LintContext:
    if mcu_name:
        ref = mcu.find_part(mcu_name)
        return LintContext(loader, ref.family, ref.part, f"{ref.part.name} (--mcu)")
    best = loader.inferred_family.best
    if best is None:
        return LintContext(loader, None, None, "no family (none could be inferred)")
    return LintContext(loader, best.family, None, f"{best.family_id} (inferred)")


def lint(loader: Loader, mcu_name: str | None = None) -> LintReport:
    """Run every rule for the loader's kind against ``mcu_name`` or the inferred family."""
    ctx = _context(loader, mcu_name)
    findings = [f for spec in RULES if loader.kind in spec.kinds for f in spec.func(ctx)]
    findings.sort(key=lambda f: SEVERITIES.index(f.severity))
    return LintReport(loader.path, ctx.target, tuple(findings))


def lint_dict(report: LintReport) -> dict[str, object]:
    return {
        "schema": "extflash.lint/1",
        "path": report.path,
        "target": report.target,
        "errors": len(report.errors),
        "findings": [{"id": f.id, "severity": f.severity, "message": f.message, "fix": f.fix,
                      "location": f.location} for f in report.findings],
    }


def render_lint(report: LintReport) -> list[str]:
    lines = [f"{report.path}: checked against {report.target}"]
    for f in report.findings:
        where = f" [{f.location}]" if f.location else ""
        lines.append(f"  {f.severity:<7} {f.id}{where}: {f.message}")
        lines.append(f"          fix: {f.fix}")
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in SEVERITIES}
    lines.append("  " + ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items()))
    return lines
