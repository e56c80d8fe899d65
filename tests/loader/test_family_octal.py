"""Family inference and interface lint for register-level OCTOSPI/XSPI loaders built from
tests/firmware/octal (H7R/S XSPI2, U5 and H7B3 OCTOSPI1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from extflash.cli import main
from extflash.loader.lint import lint
from extflash.loader.model import open_loader

LoaderFile = Callable[[str], Path]


@pytest.mark.parametrize(("name", "family", "interface"), [
    ("h7rs-xspi2", "stm32h7rs", "xspi"),
    ("h7rs-xspi2-axi", "stm32h7rs", "xspi"),  # linked in AXI SRAM like the other H7 lines
    ("u5-octospi1", "stm32u5", "octospi"),
    ("h7b3-octospi1", "stm32h7-ospi", "octospi"),
])
def test_info_infers_the_octal_family(loader_file: LoaderFile, name: str, family: str,
                                      interface: str) -> None:
    inference = open_loader(loader_file(name)).inferred_family
    assert len(inference.tied) == 1, inference.tied
    assert inference.best is not None and inference.best.family_id == family
    assert inference.interface == interface


def test_h7rs_evidence_names_the_xspi_enable_register(loader_file: LoaderFile) -> None:
    out = CliRunner().invoke(main, ["info", str(loader_file("h7rs-xspi2-axi"))]).output
    assert "family:      stm32h7rs" in out and "interface:   xspi" in out
    assert "RCC_AHB5ENR (XSPI1EN, XSPI2EN, XSPIMEN) referenced" in out


@pytest.mark.parametrize(("name", "mcu", "message"), [
    ("h7-info0", "STM32H7S7L8", "the loader drives QUADSPI but STM32H7S7 (--mcu) has XSPI"),
    ("h7-info0", "STM32H735IG", "the loader drives QUADSPI but STM32H735 (--mcu) has OCTOSPI"),
    ("u5-octospi1", "STM32H743ZI", "the loader drives OCTOSPI but STM32H743 (--mcu) has QUADSPI"),
    ("h7rs-xspi2", "STM32H735IG", "the loader drives XSPI but STM32H735 (--mcu) has OCTOSPI"),
])
def test_lint_mcu_flags_the_wrong_memory_interface(loader_file: LoaderFile, name: str, mcu: str,
                                                   message: str) -> None:
    report = lint(open_loader(loader_file(name)), mcu)
    finding = next(f for f in report.findings if f.id == "interface-mismatch")
    assert finding.severity == "error" and finding.message == message


def test_interface_mismatch_fix_names_the_parts_controllers(loader_file: LoaderFile) -> None:
    report = lint(open_loader(loader_file("h7-info0")), "STM32H7S7L8")
    finding = next(f for f in report.findings if f.id == "interface-mismatch")
    assert finding.fix == ("use a loader built for this part's memory interface "
                           "(XSPI1 at 0x90000000, XSPI2 at 0x70000000)")


def test_lint_mcu_accepts_the_matching_family(loader_file: LoaderFile) -> None:
    report = lint(open_loader(loader_file("h7rs-xspi2")), "STM32H7S7L8")
    assert "interface-mismatch" not in report.ids()
    assert "storage-info-start" not in report.ids()  # 0x70000000 is XSPI2's window


def test_h7rs_loader_init_switches_on_the_xspim_supply_and_io_speed(
        loader_file: LoaderFile) -> None:
    """The loader's own Init, run on the virtual H7S7: what it wrote to PWR/SBS reads back."""
    from elftools.elf.elffile import ELFFile

    from extflash import mcu
    from extflash.emu.clock import FS_PER_S
    from extflash.emu.machine import Machine

    m = Machine(mcu.find_part("STM32H7S7L8"))
    assert m.pwr is not None and m.sbs is not None
    with loader_file("h7rs-xspi2").open("rb") as fh:
        elf = ELFFile(fh)
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]:
                m.mem_write(seg["p_paddr"], seg.data())
        symtab = elf.get_section_by_name(".symtab")
        init = next(s["st_value"] for s in symtab.iter_symbols() if s.name == "Init")
    base = m.family.loader_ram_base
    m.mem_write(base, b"\x00\xbe\x00\xbe")  # BKPT: where Init returns to
    m.reg_write("sp", 0x20010000 - 0x100)
    m.reg_write("lr", base | 1)
    assert not m.pwr.xspim_supply(2) and not m.sbs.io_speed_optimised(2)
    m.run(init, stop_at=base, timeout_fs=FS_PER_S)
    assert m.pwr.xspim_supply(2) and not m.pwr.xspim_supply(1)
    assert m.sbs.io_speed_optimised(2)
    assert m.rcc.is_enabled("XSPI2") and m.rcc.is_enabled("XSPIM") and m.rcc.is_enabled("GPION")
