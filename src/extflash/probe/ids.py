"""Identification values a debugger reads from an STM32: debug port, cores, CoreSight components.

Sources (facts, not code): Arm ADIv5.2 (DPIDR, AP IDR, component and peripheral ID layout,
class 0x1 ROM tables), the Cortex-M4 and Cortex-M7 TRMs (CPUID, ISAR3, MVFR0-2, CLIDR, FPB
FP_CTRL, ROM table part numbers), and the DBGMCU_IDCODE sections of RM0433/RM0399 (H74x/H75x),
RM0468 (H72x/H73x), RM0455 (H7Ax/H7Bx), RM0477 (H7Rx/H7Sx), RM0385/RM0410 (F7),
RM0090/RM0390/RM0402/RM0430 (F4), RM0351/RM0432 (L4/L4+) and RM0440 (G4). DPIDR values are
the ones these parts report on SWD.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from extflash.errors import ConfigError
from extflash.mcu import Family, Part

JEP106_ARM = 0x43B  # continuation 4, identity 0x3B
JEP106_ST = 0x020

CLASS_ROM_TABLE = 0x1
CLASS_GENERIC = 0xE  # v7-M SCS, DWT and FPB use the "generic IP" class

SCS_BASE = 0xE000E000
DWT_BASE = 0xE0001000
FPB_BASE = 0xE0002000
ROM_TABLE_BASE = 0xE00FF000
PPB_END = 0xE0100000

# AP IDR values (ADIv5: revision, JEP106 designer, class 8 = MEM-AP, type 1 = AHB, 2 = APB).
AHB_AP_IDR = 0x24770011  # AHB-AP r2, as on Cortex-M4 / M7 based STM32 parts
AHB_AP_WRAP = 0x1000  # that AHB-AP's TAR auto-increment wraps at 4 KiB
APB_AP_IDR = 0x54770002  # APB-AP (the H7 debug-bus access port)

# DBGMCU_IDCODE.DEV_ID by part (first matching pattern).
DEV_IDS: tuple[tuple[str, int, str], ...] = (
    (r"STM32H7(4[2357]|5[0357])", 0x450, "STM32H742/743/745/747/750/753/755/757"),
    (r"STM32H7(2[35]|3[035])", 0x483, "STM32H723/725/730/733/735"),
    (r"STM32H7(A3|B0|B3)", 0x480, "STM32H7A3/7B0/7B3"),
    (r"STM32H7[RS][37]", 0x485, "STM32H7R3/R7/S3/S7"),
    (r"STM32F7(4[56]|5[06])", 0x449, "STM32F745/746/750/756"),
    (r"STM32F7(6[579]|7[79])", 0x451, "STM32F765/767/769/777/779"),
    (r"STM32F7(2[23]|3[023])", 0x452, "STM32F722/723/730/732/733"),
    (r"STM32F4[01][57]", 0x413, "STM32F405/407/415/417"),
    (r"STM32F4[23][79]", 0x419, "STM32F427/429/437/439"),
    (r"STM32F446", 0x421, "STM32F446"),
    (r"STM32F4[67]9", 0x434, "STM32F469/479"),
    (r"STM32F412", 0x441, "STM32F412"),
    (r"STM32F4[12]3", 0x463, "STM32F413/423"),
    (r"STM32L4(7[156]|8[56])", 0x415, "STM32L471/475/476/485/486"),
    (r"STM32L4(96|A6)", 0x461, "STM32L496/4A6"),
    (r"STM32L4(5[12]|62)", 0x462, "STM32L451/452/462"),
    (r"STM32L4(3[123]|4[23])", 0x435, "STM32L431/432/433/442/443"),
    (r"STM32L4[RS]", 0x470, "STM32L4R5/R7/R9/S5/S7/S9"),
    (r"STM32L4[PQ]", 0x471, "STM32L4P5/Q5"),
    (r"STM32G4[34]1", 0x468, "STM32G431/441"),
    (r"STM32G4(7[134]|8[34])", 0x469, "STM32G471/473/474/483/484"),
    (r"STM32G4(91|A1)", 0x479, "STM32G491/4A1"),
)

# RDP byte values of the option-byte register (0xAA = level 0, 0xCC = level 2, anything else =
# level 1). Its address, bit position and mirrors are the family file's ``[debug]`` (the H7's
# OPTSR_PRG reads like OPTSR_CUR outside an option change, and both repeat in the bank-2 block).
RDP_LEVEL0, RDP_LEVEL1, RDP_LEVEL2 = 0xAA, 0xBB, 0xCC


def rdp_level(byte: int) -> int:
    """The protection level (0, 1 or 2) an RDP option byte stands for."""
    return 0 if byte == RDP_LEVEL0 else 2 if byte == RDP_LEVEL2 else 1


def rdp_byte(level: int) -> int:
    """The RDP option byte of protection ``level`` (level 1: 0xBB, one of its many values)."""
    return (RDP_LEVEL0, RDP_LEVEL1, RDP_LEVEL2)[level]

# Where DBGMCU_IDCODE is on the system bus: the H7 moved it into the D3 domain.
DBGMCU_DEFAULT = 0xE0042000


def dev_id(part: Part) -> int:
    """The DBGMCU DEV_ID a genuine ``part`` reports."""
    for pattern, value, _names in DEV_IDS:
        if re.match(pattern, part.name):
            return value
    raise ConfigError(f"no DBGMCU device ID known for {part.name}")


def dev_id_names(value: int) -> str:
    """The parts reporting DEV_ID ``value`` (for messages), or ``"an unknown device"``."""
    names = [n for _p, v, n in DEV_IDS if v == value]
    return names[0] if names else "an unknown device"


def dbgmcu_address(part: Part) -> int:
    return part.family.peripherals.get("DBGMCU", DBGMCU_DEFAULT)


def dpidr(part: Part) -> int:
    """The SW-DP DPIDR (family file ``[debug]``: SW-DP v2 on Cortex-M7, v1 on Cortex-M4 parts)."""
    debug = part.family.debug
    if debug is None:
        raise ConfigError(f"the virtual probe has no debug port model for {part.name}")
    return debug.dpidr


def rdp_register(family: Family) -> tuple[int, int, tuple[int, ...]] | None:
    """Where the option bytes show the RDP level: address, bit position, mirror registers."""
    d = family.debug
    if d is None or d.rdp_register is None:
        return None
    return d.rdp_register, d.rdp_lsb, d.rdp_mirrors


@dataclass(frozen=True)
class CoreModel:
    """What a debugger reads to identify a v7-M core and its breakpoint unit."""

    name: str
    cpuid: int
    isar3: int
    mvfr: tuple[int, int, int]  # MVFR0-2 with the FPU present
    clidr: int
    fpb_ctrl: int  # FP_CTRL reset value: REV, NUM_CODE, NUM_LIT
    fpb_part: int
    rom_part: int

    @property
    def fpb_comparators(self) -> int:
        return ((self.fpb_ctrl >> 8) & 0x70) | ((self.fpb_ctrl >> 4) & 0xF)

    @property
    def fpb_rev2(self) -> bool:
        """FPB v2 (Cortex-M7) breaks at any address; v1 only below 0x20000000."""
        return (self.fpb_ctrl >> 28) == 1


CORE_MODELS = {
    "cortex-m7": CoreModel("Cortex-M7", 0x411FC272, 0x01111131,
                           (0x10110221, 0x12000011, 0x00000040), 0x09000003,
                           0x10000080, 0x00E, 0x4C7),
    "cortex-m4": CoreModel("Cortex-M4", 0x410FC241, 0x01111131,
                           (0x10110021, 0x11000011, 0x00000000), 0x00000000,
                           0x00000260, 0x003, 0x4C4),
}

SCS_PART, DWT_PART = 0x00C, 0x002


def core_model(core: str) -> CoreModel:
    model = CORE_MODELS.get(core)
    if model is None:
        raise ConfigError(f"the virtual probe models Cortex-M4 and Cortex-M7 cores, not {core}")
    return model


def id_registers(base: int, component_class: int, part: int,
                 designer: int = JEP106_ARM) -> dict[int, int]:
    """The PIDR0-7 and CIDR0-3 words (one byte each) of the component at ``base``."""
    pidr = (part | (designer & 0x7F) << 12 | 1 << 19 | ((designer >> 8) & 0xF) << 32)
    cidr = 0xB105000D | component_class << 12
    words = {0xFD0: pidr >> 32 & 0xFF, 0xFD4: 0, 0xFD8: 0, 0xFDC: 0}
    words.update({0xFE0 + 4 * i: pidr >> (8 * i) & 0xFF for i in range(4)})
    words.update({0xFF0 + 4 * i: cidr >> (8 * i) & 0xFF for i in range(4)})
    return {base + off: value for off, value in words.items()}


def rom_entry(table: int, component: int) -> int:
    """A 32-bit-format, present ROM table entry pointing at ``component``."""
    return ((component - table) & 0xFFFFF000) | 0b11


def ppb_constants(model: CoreModel, *, has_fpu: bool) -> dict[int, int]:
    """Read-only words of a core's private bus a debugger uses to discover and identify it.

    One class 0x1 ROM table lists the SCS, DWT and FPB (the TPIU/ETM/ITM a real part also lists
    are not modelled); every component has its ID registers; the SCS's feature registers
    describe the core.
    """
    words: dict[int, int] = {}
    entries = [rom_entry(ROM_TABLE_BASE, c) for c in (SCS_BASE, DWT_BASE, FPB_BASE)]
    for i, entry in enumerate([*entries, 0]):
        words[ROM_TABLE_BASE + 4 * i] = entry
    words[ROM_TABLE_BASE + 0xFCC] = 1  # MEMTYPE.SYSMEM: system memory is on this bus
    words.update(id_registers(ROM_TABLE_BASE, CLASS_ROM_TABLE, model.rom_part))
    words.update(id_registers(SCS_BASE, CLASS_GENERIC, SCS_PART))
    words.update(id_registers(DWT_BASE, CLASS_GENERIC, DWT_PART))
    words.update(id_registers(FPB_BASE, CLASS_GENERIC, model.fpb_part))
    mvfr = model.mvfr if has_fpu else (0, 0, 0)
    words.update({SCS_BASE + 0xD6C: model.isar3, SCS_BASE + 0xD78: model.clidr,
                  SCS_BASE + 0xF40: mvfr[0], SCS_BASE + 0xF44: mvfr[1], SCS_BASE + 0xF48: mvfr[2]})
    return words
