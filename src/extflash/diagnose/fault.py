"""Faults: the type and status bits, the faulting instruction, the address and what lies there."""

from __future__ import annotations

from extflash import mcu
from extflash.diagnose.context import Context
from extflash.diagnose.evidence import FMODES
from extflash.diagnose.model import Diagnosis
from extflash.emu.machine import FaultInfo
from extflash.emu.periph import sysregs

NULL_PAGE = 0x1000


def other_families(address: int, own: str) -> list[str]:
    """``OCTOSPIM on STM32H7 (OCTOSPI) parts`` for each other family with a peripheral there."""
    found = []
    for fam in mcu.families().values():
        if fam.id == own:
            continue
        blocks = {**{n: (b, s) for n, (b, s) in sysregs.bases(fam.id).items()},
                  **{n: (b, 0x400) for n, b in fam.peripherals.items()}}
        for name, (base, size) in blocks.items():
            if base <= address < base + max(size, 4):
                found.append(f"{name} on {fam.name} parts")
                break
    return found


def _address_notes(ctx: Context, fault: FaultInfo) -> tuple[list[str], str | None]:
    """Evidence lines about the accessed address, and a fix when the address explains it."""
    address = fault.address
    if address is None:
        return [], None
    m = ctx.machine
    region = fault.region or m.describe_address(address)
    lines = [f"0x{address:08X} on {m.part.part.name}: {region}"]
    name = ctx.symbols.name(address)
    if name:
        lines[0] += f" ({name})"
    fix = None
    window = next((w for w in m.family.windows if w.contains(address)), None)
    q = getattr(ctx.board, "qspi", None)
    if window is not None and q is not None and not q.mapped:
        st = q.state()
        lines.append(f"the {window.name} window answers only in memory-mapped mode; the "
                     f"{q.name} is in {FMODES[st.fmode]} mode ({st.fields.fmode}={st.fmode})")
        fix = (f"enter memory-mapped mode ({st.fields.fmode}=3 with the chip's fast-read "
               "command) before reading the window, as Init should leave it")
        return lines, fix
    elsewhere = other_families(address, m.family.id)
    if elsewhere and m.family.region_at(address) is None and "nothing mapped" in lines[0]:
        lines.append(f"0x{address:08X} is {'; '.join(elsewhere[:3])}: this loader looks built "
                     f"for another part than {m.part.part.name}")
        fix = f"use (or build) a loader for {m.part.part.name} ({m.family.name})"
    elif address < NULL_PAGE and m.part.part.ram_at(address) is None:
        lines.append("an access near address 0: a NULL pointer, or R9-relative globals of a "
                     "position-independent (RWPI) build running with R9 = 0")
        fix = "check the pointer; for an RWPI build pass the static base with --r9"
    return lines, fix


_KIND_FIX = {
    "NOCP": ("enable the FPU in Init (SCB->CPACR |= 0xF << 20) before any floating-point code, "
             "or build with -mfloat-abi=soft"),
    "UNDEFINSTR": ("the core executed something that is not a valid instruction here: code "
                   "built for another core, or a jump into data"),
    "INVSTATE": "a branch to an address without the Thumb bit (bx/blx to an even address)",
    "UNALIGNED": "an unaligned access with CCR.UNALIGN_TRP set",
    "DIVBYZERO": "a division by zero with CCR.DIV_0_TRP set",
}


def explain_fault(ctx: Context, fault: FaultInfo, *, handler: str | None = None) -> Diagnosis:
    """A fault as a diagnosis. ``handler``: the loader's handler that then hung (if any)."""
    fn = ctx.function
    pc_text = ctx.where(fault.pc)
    image = ctx.layout
    details = [f"instruction: {pc_text}  `{fault.instruction or '?'}`"]
    status = f"fault status: CFSR=0x{fault.cfsr:08X} [{' '.join(fault.cfsr_bits) or '-'}]"
    status += f", HFSR=0x{fault.hfsr:08X} [{' '.join(fault.hfsr_bits) or '-'}]"
    if fault.address is not None and "BFARVALID" in fault.cfsr_bits:
        status += f", BFAR=0x{fault.address:08X}"
    if fault.address is not None and "MMARVALID" in fault.cfsr_bits:
        status += f", MMFAR=0x{fault.address:08X}"
    details.append(status)
    notes, fix = _address_notes(ctx, fault)
    details += notes
    if image is not None and not image.image_start <= fault.pc < image.image_end:
        details.append(f"the PC is outside the loader's image (0x{image.image_start:08X}.."
                       f"0x{image.image_end - 1:08X}): it jumped somewhere it should not")
    if fix is None:
        fix = next((_KIND_FIX[b] for b in fault.cfsr_bits if b in _KIND_FIX), None)
    if fix is None and "no vector table" in fault.description:
        fix = ("a loader runs with the host's interrupts: do not enable interrupts "
               "(SysTick TICKINT, NVIC) unless the loader points VTOR at its own vector table")
    what = fault.description
    if fault.address is not None:
        what += f" at 0x{fault.address:08X}"
    cause = f"{fn}() faulted {ctx.in_function(fault.pc)}: {what}"
    if handler:
        cause = (f"{fn}() hangs in {handler}, its fault handler, after a fault "
                 f"{ctx.in_function(fault.pc)}: {what}")
    return Diagnosis("fault", fn, cause, tuple(details), fix, certain=True, where=pc_text)
