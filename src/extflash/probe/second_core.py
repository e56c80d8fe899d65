"""The Cortex-M4 of a dual-core STM32H745/H747/H755/H757, running its application beside the
Cortex-M7 on the same bus.

When the option byte BCM4 boots it (RM0399 "Boot configuration": FLASH_OPTSR BCM4, boot address
BOOT_CM4_ADD0, 0x08100000 by default), the Cortex-M4 runs from its vector table. Here it is a
second unicorn instance that maps the machine's memory buffers (not the TCMs, which are private
to the Cortex-M7) and reaches the machine's peripherals through the same models, so what it
does to RCC, GPIO, QUADSPI or the hardware semaphore is what the Cortex-M7 and the debugger
see. It runs when the probe lets virtual time pass (between the Cortex-M7's slices), at the
machine's AHB clock, until it is halted through its access port (AP3).

Every peripheral access it makes is recorded (:attr:`RunningCore.accesses`), so a loader call
that fails while it runs can name what the other core did. The private peripheral bus of the
Cortex-M4 (its NVIC, SysTick, debug registers) is not emulated for its code: its application
runs without interrupts.
"""

from __future__ import annotations

import ctypes
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import unicorn
from unicorn import arm_const as A

from extflash.emu import cortexm
from extflash.emu.clock import FS_PER_S
from extflash.emu.machine import Machine
from extflash.probe.core import NO_BREAKPOINT, ParkedCore, Stop
from extflash.probe.ids import CoreModel

log = logging.getLogger(__name__)

CM4_COREID = 1  # the bus master ID the hardware semaphore sees (RM0399 HSEM)
DEFAULT_BOOT = 0x08100000  # BOOT_CM4_ADD0 reset value 0x0810 (RM0399 FLASH_BOOT4_PRGR)
PPB_SCRATCH = (0xE0000000, 0x100000)  # its own private bus: plain memory for its code
MAX_RECORDED = 4096


@dataclass(frozen=True)
class Access:
    """One peripheral access by the Cortex-M4."""

    pc: int
    kind: str  # "r" or "w"
    address: int
    value: int
    register: str  # "QUADSPI_CR", "RCC_AHB3RSTR"...

    def __str__(self) -> str:
        what = "wrote" if self.kind == "w" else "read"
        return f"{what} {self.register} (0x{self.address:08X}) = 0x{self.value:08X} " \
               f"at PC 0x{self.pc:08X}"


class RunningCore(ParkedCore):
    """The second core as a :class:`~extflash.probe.core.CoreBackend` that runs code."""

    def __init__(self, model: CoreModel, machine: Machine, *, excluded: list[tuple[int, int]],
                 boot: int = DEFAULT_BOOT) -> None:
        self.machine = machine
        self.boot = boot
        self.accesses: list[Access] = []  # the first MAX_RECORDED since the last clear
        self.counts: Counter[tuple[str, str]] = Counter()  # (kind, register) -> accesses
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB)
        self.uc.ctl_set_cpu_model(cortexm.CORE_MODELS["cortex-m4"])
        self._callbacks: list[Any] = []
        self._map(excluded)
        super().__init__(model)

    # -- the bus it shares ------------------------------------------------------------------
    def _map(self, excluded: list[tuple[int, int]]) -> None:
        uc = self.uc
        part = self.machine.part.part
        kinds = {m.start: m.kind for m in part.memory}
        # the machine's memory buffers, shared (zero-copy) with the Cortex-M7's unicorn
        buffers: dict[int, tuple[bytearray, Any]] = self.machine._buffers
        for start, (buf, cbuf) in buffers.items():
            if any(lo <= start < hi for lo, hi in excluded):
                continue
            perms = unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC
            if kinds.get(start) == "ram":
                perms |= unicorn.UC_PROT_WRITE
            uc.mem_map_ptr(start, len(buf), perms, ctypes.addressof(cbuf))
        uc.mem_map(*PPB_SCRATCH)
        for mapping in self.machine.bus.mappings.values():
            if mapping.base >= PPB_SCRATCH[0]:
                continue
            read, write = self._dispatch(mapping.periph)
            uc.mmio_map(mapping.base, mapping.size, read, None, write, None)
            self._callbacks += [read, write]

    def _dispatch(self, periph: Any) -> tuple[Any, Any]:
        def read(uc: unicorn.Uc, offset: int, size: int, _ud: object) -> int:
            with _as_master(periph):
                value = int(periph.read(offset, size))
            self._record("r", periph, offset, value)
            return value

        def write(uc: unicorn.Uc, offset: int, size: int, value: int, _ud: object) -> None:
            self._record("w", periph, offset, value)
            with _as_master(periph):
                periph.write(offset, size, value)

        return read, write

    def _record(self, kind: str, periph: Any, offset: int, value: int) -> None:
        register = periph.describe(offset)
        self.counts[kind, register] += 1
        if len(self.accesses) < MAX_RECORDED:
            self.accesses.append(Access(self.uc.reg_read(A.UC_ARM_REG_PC), kind,
                                        periph.base + offset, value, register))

    def clear(self) -> None:
        self.accesses.clear()
        self.counts.clear()

    def summary(self, limit: int = 4) -> str:
        """What it did to the peripherals (writes first), for a failure message."""
        ranked = sorted(self.counts.items(), key=lambda kv: (kv[0][0] != "w", -kv[1]))
        return ", ".join(f"{n} {'writes' if kind == 'w' else 'reads'} of {register}"
                         for (kind, register), n in ranked[:limit])

    # -- CoreBackend ------------------------------------------------------------------------
    def reg_read(self, name: str) -> int:
        return int(self.uc.reg_read(cortexm.REGISTERS[name.lower()]))

    def reg_write(self, name: str, value: int) -> None:
        self.uc.reg_write(cortexm.REGISTERS[name.lower()], value & 0xFFFFFFFF)

    def execute(self, budget_fs: int, breakpoint: int) -> Stop | None:
        # The Cortex-M4 runs on the AHB clock (rcc_c2_ck = sys_d1cpre_ck / HPRE, RM0399 RCC),
        # one instruction per cycle as the Cortex-M7's model does.
        cycles = budget_fs * self.machine.rcc.hclk_hz() // FS_PER_S
        if cycles <= 0:
            return None
        pc = self.reg_read("pc")
        until = breakpoint if breakpoint != NO_BREAKPOINT else 0xFFFFFFFF
        try:
            self.uc.emu_start(pc | 1, until, count=cycles)
        except unicorn.UcError as exc:
            log.debug("Cortex-M4 stopped at 0x%08X: %s", self.reg_read("pc"), exc)
            return Stop("fault", budget_fs, str(exc))
        if breakpoint != NO_BREAKPOINT and self.reg_read("pc") & ~1 == breakpoint & ~1:
            return Stop("breakpoint", budget_fs)
        return None

    def step(self) -> Stop | None:
        try:
            self.uc.emu_start(self.reg_read("pc") | 1, 0xFFFFFFFF, count=1)
        except unicorn.UcError as exc:
            return Stop("fault", 0, str(exc))
        return None

    def reset(self) -> None:
        super().reset()
        if not hasattr(self, "uc"):
            return
        self.clear()
        sp, pc = (int.from_bytes(self.machine.mem_read(self.boot + 4 * i, 4), "little")
                  for i in (0, 1))
        self.reg_write("msp", sp & ~3)
        self.reg_write("sp", sp & ~3)
        self.reg_write("pc", pc & ~1)
        self.uc.reg_write(A.UC_ARM_REG_XPSR, 1 << 24)

    @property
    def has_code(self) -> bool:
        """A vector table at the boot address (an erased one is all ones)."""
        return int.from_bytes(self.machine.mem_read(self.boot + 4, 4), "little") != 0xFFFFFFFF


class _as_master:
    """Serve an access as the Cortex-M4's: the hardware semaphore sees its COREID."""

    def __init__(self, periph: Any) -> None:
        self.periph = periph
        self.saved = getattr(periph, "master", None)

    def __enter__(self) -> None:
        if self.saved is not None:
            self.periph.master = CM4_COREID

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            self.periph.master = self.saved
