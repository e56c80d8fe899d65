"""The generated External Memory Manager USER driver: written for an XSPI board, compiled with
the real toolchain against stand-in headers written from the documented API
(tests/firmware/emm), and its hooks driven on the virtual board in the order the manager calls
them (tests/firmware/emm/harness.c)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import ospi_hal.build as ob
import pytest

from extflash import board, chips, image
from extflash.emu.virtual_board import VirtualBoard
from extflash.errors import ConfigError
from extflash.gen.emm import write_emm_driver
from extflash.xip import ElfSymbols, OutputLog, Prepared, attach_output, run_prepared

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
KIT = "h7r7-w25q128-xspi1"
OCTAL_KIT = "h7s7-mx66uw-dtr-xspi2"
STEPS = ("Init", "GetInfo", "EraseSector", "Write", "Read", "Enable_MemoryMappedMode",
         "GetMapAddress", "window", "Disable_MemoryMappedMode", "DeInit")


def _run_hooks(build_elf: Any, tmp_path: Path, kit: str, size_log2: int,
               variant: dict[str, Any] | None = None) -> tuple[Any, str]:
    """Build the harness with the driver written for ``kit``'s board (or ``variant``, a kit
    not in the test loader's list) and run it: the chip model and the driver's text."""
    b = ob.loader_build(variant or ob.KITS[kit], kit)
    brd = ob.kit_board(kit, b, kit=variant)
    driver, readme = write_emm_driver(brd, tmp_path / "emm")
    instance = brd.memories[0].controller[-1]
    assert f"extern XSPI_HandleTypeDef hxspi{instance};" in driver.read_text()
    assert "ExtMemLoader" in readme.read_text() and "EXTMEM_USER" in readme.read_text()
    elf = build_elf(
        f"emm-harness-{kit}",
        [*b.sources, "emm/hal_xspi_shim.c", "emm/harness.c", str(driver)],
        "xip/loader_boot.ld",
        cflags=[*b.cflags, f"-I{FIRMWARE / 'emm'}", f"-DEMM_HANDLE=hxspi{instance}",
                f"-DEXPECTED_SIZE_LOG2={size_log2}u"],
        ldflags=[f"-Wl,--defsym=RAM_ORIGIN={b.ram_base:#x}", "-Wl,-e,harness_reset"],
        cpu=b.cpu)
    vboard = VirtualBoard(brd, timing="typical")
    out = OutputLog(None)
    semihosting = attach_output(vboard.machine, out)
    code = image.load(elf)
    for chunk in code.chunks:
        vboard.machine.uc.mem_write(chunk.address, chunk.data)
    vectors = vboard.machine.mem_read(code.start, 8)
    prepared = Prepared(vboard, semihosting, ElfSymbols([elf]), out,
                        int.from_bytes(vectors[:4], "little"),
                        int.from_bytes(vectors[4:], "little") & ~1)
    prepared.reset_core()
    outcome = run_prepared(prepared, timeout_s=30)
    text = "".join(t for _s, t in outcome.output)
    assert (outcome.reason, outcome.exit_code) == ("exit", 0), (outcome, text)
    assert text.splitlines() == [f"{step}: ok" for step in STEPS]
    chip = vboard.chips[1]
    assert bytes(chip.memory[0x1003:0x1003 + 600]) == bytes(
        (i * 7 + (i >> 8)) & 0xFF for i in range(600))
    return chip, driver.read_text()


def test_user_driver_hooks_run_in_the_managers_order(build_elf: Any, tmp_path: Path) -> None:
    chip, text = _run_hooks(build_elf, tmp_path, KIT, 24)
    assert chip.protocol == "spi"
    assert "#define USER_OCTAL          0" in text


def test_user_driver_runs_an_octal_chip_in_8d_with_dqs(build_elf: Any, tmp_path: Path) -> None:
    """H7S7 XSPI2 with the MX66UW1G45G and its DQS wired: the test loader's bring-up leaves the
    chip in 8D; the driver's Init resets it to SPI, identifies it, writes CR2 (latency, then
    DOPI) and every later hook, the window included, runs in 8D-8D-8D with DQS: an odd-address
    write across three pages and its read back."""
    chip, text = _run_hooks(build_elf, tmp_path, OCTAL_KIT, 27)
    assert chip.protocol == "8D"
    assert "#define OP_READ             0xEEu          /* 8D-8D-8D, 20 dummy cycles */" in text
    assert "#define OCTAL_DQS           1" in text


def test_user_driver_runs_an_octal_chip_in_8s_without_dqs(build_elf: Any,
                                                           tmp_path: Path) -> None:
    """The same chip and wiring without the DQS pin: the bring-up leaves it in 8S, the driver
    resets it and runs it in 8S-8S-8S (EC13h read, no strobe)."""
    variant = {**ob.KITS[OCTAL_KIT], "mode": "str",
               "pins": {s: p for s, p in ob.H7S78_OCTAL.items() if s != "dqs"}}
    chip, text = _run_hooks(build_elf, tmp_path, "h7s7-mx66uw-str-xspi2", 27, variant)
    assert chip.protocol == "8S"
    assert "#define OP_READ             0xECu          /* 8S-8S-8S, 20 dummy cycles */" in text
    assert "#define OCTAL_DQS           0" in text


def test_user_driver_needs_an_xspi_board() -> None:
    with pytest.raises(ConfigError, match="not an XSPI controller"):
        write_emm_driver(board.load("weact-h743"), "/nonexistent")


def test_new_kind_emm_driver_refuses_a_quadspi_board(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from extflash.cli import main

    res = CliRunner().invoke(main, ["new", "--kind", "emm-driver", "--board", "weact-h743",
                                    "-o", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: the External Memory Manager's USER driver uses the "
                                 "XSPI HAL: WeAct-H743's memory is on QUADSPI")
    assert list(tmp_path.iterdir()) == []


def test_new_kind_emm_driver_writes_the_kits_8d_driver(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from extflash.cli import main

    res = CliRunner().invoke(main, ["new", "--kind", "emm-driver", "--board", "stm32h7s78-dk",
                                    "-o", str(tmp_path)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    text = (tmp_path / "stm32_user_driver.c").read_text()
    assert "#define OCTAL_STATE         PROTOCOL_8D   /* 8D-8D-8D with DQS */" in text
    assert "extern XSPI_HandleTypeDef hxspi2;" in text
    assert "**Memory type Macronix**" in (tmp_path / "README.md").read_text()


def test_new_kind_emm_driver_refuses_an_8d_only_chip_without_dqs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from extflash.cli import main

    pins = ",".join(f"{s}={p}" for s, p in ob.H7S78_OCTAL.items() if s != "dqs")
    res = CliRunner().invoke(main, ["new", "--kind", "emm-driver", "--mcu", "STM32H7S7L8",
                                    "--chip", "S28HS512T", "--pins", pins, "-o",
                                    str(tmp_path / "out")], catch_exceptions=False)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: S28HS512T: its octal DTR mode needs the data strobe, "
                                 "and the board wires no DQS pin")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kit", [KIT, OCTAL_KIT])
def test_boot_with_the_user_driver_runs_an_xip_application(build_elf: Any, tmp_path: Path,
                                                          kit: str) -> None:
    """The Boot context's use of the same driver: it maps the window, the application runs
    from it (semihosting output, SYS_EXIT status); the octal chip in 8D-8D-8D with DQS."""
    from extflash.xip import prepare

    b = ob.loader_build(ob.KITS[kit], kit)
    brd = ob.kit_board(kit, b)
    driver, _ = write_emm_driver(brd, tmp_path / "emm")
    instance = brd.memories[0].controller[-1]
    boot = build_elf(
        f"emm-boot-{kit}", [*b.sources, "emm/hal_xspi_shim.c", "emm/emm_boot.c", str(driver)],
        "xip/loader_boot.ld",
        cflags=[*b.cflags, f"-I{FIRMWARE / 'emm'}", f"-DEMM_HANDLE=hxspi{instance}"],
        ldflags=[f"-Wl,--defsym=RAM_ORIGIN={b.ram_base:#x}", "-Wl,-e,emm_boot_reset"],
        cpu=b.cpu)
    app = build_elf(f"xip-app-{b.cpu}-3-{b.window:#x}", ["xip/app.c"], "xip/app.ld", cpu=b.cpu,
                    cflags=["-DEXIT_STATUS=3"],
                    ldflags=[f"-Wl,--defsym=APP_ORIGIN={b.window:#x}"])
    prepared = prepare(brd, app, boot=boot)
    outcome = run_prepared(prepared)
    assert (outcome.reason, outcome.exit_code) == ("exit", 3), outcome
    text = "".join(t for s, t in outcome.output if s == "semihosting")
    assert text == "hello from the window\nfibonacci(20) = 6765\n"
    assert outcome.window.endswith("memory-mapped, shows the flash contents")
    assert prepared.vboard.chips[1].protocol == ("8D" if kit == OCTAL_KIT else "spi")


OCTAL_CHIPS = sorted(c.name for c in chips.all() if c.octal is not None)


@pytest.mark.parametrize("chip", OCTAL_CHIPS)
def test_user_driver_compiles_for_every_octal_chip(toolchain: Any, tmp_path: Path,
                                                    chip: str) -> None:
    """The STM32H7S78-DK wiring with each octal chip of the database, with its DQS pin and
    without: the driver compiles warning-free in the state the chip's data allows, or the
    generator says why not (an 8D-only chip that needs the strobe)."""
    brd = board.load("stm32h7s78-dk")
    with_dqs = brd.memories[0]
    for memory in (with_dqs, replace(with_dqs, wires=tuple(
            w for w in with_dqs.wires if w.signal != "dqs"))):
        out = tmp_path / str(len(memory.wires))
        try:
            driver, _ = write_emm_driver(replace(brd, memories=(replace(memory, chip=chip),)),
                                         out)
        except ConfigError as err:
            assert "needs the data strobe" in str(err) and memory is not with_dqs
            continue
        octal = chips.find(chip).octal
        assert octal is not None
        state = "8S" if memory is not with_dqs and "8S" in octal.modes.values() else "8D"
        assert f"#define OCTAL_STATE         PROTOCOL_{state}" in driver.read_text()
        toolchain.run(["-mcpu=cortex-m7", "-mthumb", "-Os", "-Wall", "-Wextra", "-Werror",
                       "-fsyntax-only", f"-I{FIRMWARE / 'emm'}", f"-I{FIRMWARE / 'ospi_hal'}",
                       f"-I{FIRMWARE / 'include'}", driver], what=f"the {chip} USER driver")
