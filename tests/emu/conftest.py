"""Fixtures for the machine tests: load test firmware ELF files and call their functions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from extflash.emu import native
from extflash.emu.clock import FS_PER_S
from extflash.emu.machine import Machine, RunResult
from extflash.emu.native import quadspi_fast

BKPT = b"\x00\xbe"
NATIVE_HELPERS = ("exceptions_fast", "timesource_fast")  # beside quadspi_fast


@pytest.fixture
def native_required() -> None:
    """The native helpers (the controllers' fast path, exception entry and return, CYCCNT
    reads) must be available: the suite proves each behaves exactly as its Python path, so
    their absence (no host C compiler) fails the test instead of skipping it.
    ``scripts/bootstrap.sh`` installs the compiler."""
    try:
        quadspi_fast.require()
        for helper in NATIVE_HELPERS:
            native.require(helper)
    except native.NativeUnavailable as why:
        pytest.fail(f"a native helper is unavailable: {why} "
                    f"(run scripts/bootstrap.sh to install a C compiler)")


@dataclass
class Firmware:
    path: Path
    symbols: dict[str, int]

    @classmethod
    def load(cls, machine: Machine, path: Path) -> Firmware:
        with path.open("rb") as fh:
            elf = ELFFile(fh)
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]:
                    machine.mem_write(seg["p_paddr"], seg.data())
            symtab = elf.get_section_by_name(".symtab")
            symbols = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name}
        return cls(path, symbols)

    def call(self, machine: Machine, name: str, *args: int, stack_top: int | None = None,
             timeout_s: float = 1.0) -> RunResult:
        base = machine.family.loader_ram_base
        machine.mem_write(base, BKPT)
        for i, value in enumerate(args):
            machine.reg_write(f"r{i}", value & 0xFFFFFFFF)
        region = machine.part.part.ram_at(base)
        assert region is not None
        machine.reg_write("sp", stack_top if stack_top is not None else region.end - 0x100)
        machine.reg_write("lr", base | 1)
        return machine.run(self.symbols[name], stop_at=base, timeout_fs=int(timeout_s * FS_PER_S))


@pytest.fixture
def load():
    """``load(machine, elf_path) -> Firmware`` (segments copied in, symbols read)."""
    return Firmware.load
