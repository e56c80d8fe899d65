"""The same application run from the window of OCTOSPI and XSPI kits (the boards
tests/emu/test_ospi_halstyle_run.py builds), booted by a test loader's Init in the internal
flash (tests/firmware/xip/loader_boot.c): the window is mapped by the OCTOSPI/XSPI model."""

from __future__ import annotations

from typing import Any

import ospi_hal.build as ob
import pytest

from extflash.board import Board, Memory, Wire
from extflash.mcu import find_part
from extflash.xip import run_application

KITS = ("h735-w25q128", "h7r7-w25q128-xspi1")


def kit_board(name: str, build: ob.LoaderBuild) -> Board:
    kit = ob.KITS[name]
    pins = {s: (f"P{chr(ord('A') + port)}{number}", af)
            for s, (port, number, af) in zip(ob.QUAD_SIGNALS, build.pins, strict=True)}
    memory = Memory(kit["chip"], 1, tuple(Wire(s, p, af) for s, (p, af) in pins.items()),
                    controller=build.controller)
    return Board(name, find_part(kit["mcu"]), 0, (memory,))


def boot_and_app(build_elf: Any, b: ob.LoaderBuild, *flags: str) -> tuple[Any, Any]:
    ram = f"-Wl,--defsym=RAM_ORIGIN={b.ram_base:#x}"
    boot = build_elf(f"xip-boot-{b.name}", [*b.sources, "xip/loader_boot.c"],
                     "xip/loader_boot.ld", cflags=[*b.cflags, *flags], ldflags=[ram], cpu=b.cpu)
    return boot, build_elf(f"xip-app-{b.cpu}", ["xip/app.c"], "xip/app.ld", cpu=b.cpu)


@pytest.mark.parametrize("name", KITS)
def test_application_runs_from_an_octospi_or_xspi_window(build_elf: Any, name: str) -> None:
    b = ob.loader_build(ob.KITS[name], name)
    boot, app = boot_and_app(build_elf, b)
    out = run_application(kit_board(name, b), app, boot=boot)
    assert (out.reason, out.exit_code) == ("exit", 0), out
    text = "".join(t for s, t in out.output if s == "semihosting")
    assert text == "hello from the window\nfibonacci(20) = 6765\n"
    assert out.window.endswith("is memory-mapped, shows the flash contents"), out.window
    assert f"{b.controller} window at 0x90000000" in out.window


def test_application_runs_from_a_window_with_memory_mapped_writes(build_elf: Any) -> None:
    # the boot leaves the loader's write set (WCCR) in place: loads and fetches stay zero-copy
    name = "h735-w25q128"
    b = ob.loader_build(ob.KITS[name], name)
    boot, app = boot_and_app(build_elf, b, "-DKEEP_WRITABLE_WINDOW")
    out = run_application(kit_board(name, b), app, boot=boot)
    assert (out.reason, out.exit_code) == ("exit", 0), out
    text = "".join(t for s, t in out.output if s == "semihosting")
    assert text == "hello from the window\nfibonacci(20) = 6765\n"
    assert out.window.endswith("is memory-mapped, shows the flash contents"), out.window
