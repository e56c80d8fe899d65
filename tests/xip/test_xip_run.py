"""Running an application from the memory-mapped window: a generated boot image in the internal
flash, a test application (tests/firmware/xip/app.c, linked at the window base) in the virtual
chip, reset, run; and every bad input refused before anything is programmed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from extflash import board
from extflash.cli import main
from extflash.errors import ConfigError, ImageError
from extflash.gen.boot import build_boot
from extflash.xip import EXIT_TIMEOUT, run_application

APP = ["xip/app.c"]
APP_LD = "xip/app.ld"
EXPECTED = "hello from the window\nfibonacci(20) = 6765\n"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def app(build_elf: Any) -> Path:
    return build_elf("xip-app", APP, APP_LD)


@pytest.fixture(scope="module")
def h743_boot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("boot") / "boot.elf"
    return build_boot(board.load("weact-h743"), out).elf


@pytest.mark.parametrize("name", ["weact-h743", "stm32h747i-disco"])  # single and dual flash
def test_generated_boot_runs_the_application_from_the_window(app: Path, name: str) -> None:
    seen: list[tuple[str, str]] = []
    out = run_application(board.load(name), app,
                          on_output=lambda source, text: seen.append((source, text)))
    assert (out.reason, out.exit_code) == ("exit", 0), out
    semihosting = "".join(t for s, t in seen if s == "semihosting")
    itm = "".join(t for s, t in seen if s == "itm")
    assert semihosting == EXPECTED
    assert itm == "itm says hi\n"
    assert out.pc >= 0x90000000 and "app_reset" in out.where  # it ended in the window
    assert out.window.endswith("memory-mapped, shows the flash contents")


def test_boot_project_is_written_beside_the_elf(h743_boot: Path) -> None:
    project = h743_boot.parent / "boot-src"
    config = (project / "boot_config.h").read_text()
    assert "#define APP_ADDRESS        0x90000000u" in config
    assert (project / "boot.c").is_file() and (project / "boot.ld").is_file()


def test_application_through_a_generated_loader(app: Path, gen_loader: Any) -> None:
    brd = board.load("nucleo-h743zi-w25q128")
    loader = gen_loader(brd).stldr
    out = run_application(brd, app, loader=loader)
    assert (out.reason, out.exit_code) == ("exit", 0), out
    assert "".join(t for s, t in out.output if s == "semihosting") == EXPECTED


def test_cli_exit_code_is_the_application_status(build_elf: Any, h743_boot: Path) -> None:
    app3 = build_elf("xip-app-3", APP, APP_LD, cflags=["-DEXIT_STATUS=3"])
    res = invoke("run", str(app3), "--boot", str(h743_boot), "--board", "weact-h743")
    assert res.exit_code == 3
    assert res.stdout == EXPECTED + "itm says hi\n"
    assert "the application exited with status 3" in res.stderr


def test_timeout_says_where_the_application_was(build_elf: Any, h743_boot: Path) -> None:
    spin = build_elf("xip-app-spin", APP, APP_LD, cflags=["-DSPIN_FOREVER"])
    res = invoke("run", str(spin), "--boot", str(h743_boot), "--board", "weact-h743",
                 "--timeout", "0.01")
    assert res.exit_code == EXIT_TIMEOUT
    first = res.stderr.splitlines()[0]
    assert first.startswith("error: timed out after 0.01 s")
    assert "app_reset" in first or "fibonacci" in first


@pytest.mark.parametrize("through_loader", [False, True])
def test_boot_without_mapped_mode_names_what_is_missing(app: Path, build_elf: Any,
                                                        gen_loader: Any,
                                                        through_loader: bool) -> None:
    """Also after a loader programmed the chip and left the window mapped: the reset that
    follows unmaps it, as on silicon."""
    nomap = build_elf("xip-nomap-boot", ["xip/nomap_boot.c"], "xip/boot.ld",
                      ldflags=["-Wl,-e,nomap_reset"])
    brd = board.load("weact-h743")
    loader = ["--loader", str(gen_loader(brd).stldr)] if through_loader else []
    res = invoke("run", str(app), "--boot", str(nomap), "--board", "weact-h743", *loader)
    assert res.exit_code == 2
    first = res.stderr.splitlines()[0]
    assert first == ("error: the boot image jumped into the window without enabling "
                     "memory-mapped mode: the QUADSPI window at 0x90000000 is not "
                     "memory-mapped: the QUADSPI clock is off")
    assert res.stdout == ""


@pytest.mark.parametrize(("origin", "message"), [
    ("0x30000000", "has nothing in the memory-mapped window 0x90000000..0x907FFFFF"),
    ("0x08000000", "overlaps the boot image at 0x08000000"),
])
def test_misplaced_application_is_refused(build_elf: Any, h743_boot: Path, origin: str,
                                          message: str) -> None:
    elf = build_elf(f"xip-app-at-{origin}", APP, APP_LD,
                    ldflags=[f"-Wl,--defsym=APP_ORIGIN={origin}"])
    res = invoke("run", str(elf), "--boot", str(h743_boot), "--board", "weact-h743")
    assert res.exit_code == 2
    assert message in res.stderr.splitlines()[0]
    assert "Traceback" not in res.output and res.stdout == ""


def test_app_address_outside_the_window(app: Path) -> None:
    with pytest.raises(ConfigError, match="outside the QUADSPI window"):
        run_application(board.load("weact-h743"), app, app_address=0xA0000000)
    res = invoke("run", str(app), "--board", "weact-h743", "--app-address", "0xA0000000")
    assert res.exit_code == 2
    assert res.stderr.startswith("error: --app-address 0xA0000000 is outside the QUADSPI "
                                 "window 0x90000000..0x907FFFFF of WeAct-H743")


def test_no_vector_table_at_the_app_address(app: Path, h743_boot: Path) -> None:
    with pytest.raises(ImageError, match="no vector table at 0x90010000"):
        run_application(board.load("weact-h743"), app, boot=h743_boot, app_address=0x90010000)


def test_usart_output_is_shown_line_by_line(build_elf: Any, h743_boot: Path) -> None:
    app = build_elf("xip-app-usart", APP, APP_LD, cflags=["-DUSART_OUTPUT"])
    res = invoke("run", str(app), "--boot", str(h743_boot), "--board", "weact-h743")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == EXPECTED + "itm says hi\nusart says hi\n"


def test_window_follows_the_chip_when_it_changes(app: Path, build_elf: Any,
                                                 h743_boot: Path) -> None:
    """Code translated from the window is dropped when the chip changes under it: the second
    application, written into the chip while the window stays mapped, runs from its reset
    vector (no boot in between) and exits with its own status."""
    import dataclasses

    from extflash import image
    from extflash.xip import prepare, run_prepared, write_chip

    prepared = prepare(board.load("weact-h743"), app, boot=h743_boot)
    first = run_prepared(prepared)
    assert (first.reason, first.exit_code) == ("exit", 0)
    second = build_elf("xip-app-7", APP, APP_LD, cflags=["-DEXIT_STATUS=7"])
    write_chip(prepared.vboard, image.load(second))
    assert prepared.vboard.window.zero_copy  # still mapped: only the chip changed
    vectors = prepared.machine.mem_read(0x90000000, 8)
    restart = dataclasses.replace(prepared, reset_sp=int.from_bytes(vectors[:4], "little"),
                                  reset_pc=int.from_bytes(vectors[4:], "little") & ~1)
    restart.reset_core()
    again = run_prepared(restart)
    assert (again.reason, again.exit_code) == ("exit", 7)


def test_new_kind_boot_writes_the_boot_image_and_its_project(tmp_path: Path) -> None:
    out = tmp_path / "boot.elf"
    res = invoke("new", "--kind", "boot", "--board", "nucleo-h743zi-w25q128", "-o", str(out),
                 "--app-address", "0x90010000")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith(f"wrote {out} (")
    assert "jumps to the application at 0x90010000" in res.stdout
    assert (tmp_path / "boot-src" / "boot_config.h").read_text().count("0x90010000u") == 1


def test_application_at_an_app_address_inside_the_window(build_elf: Any) -> None:
    app = build_elf("xip-app-90010000", APP, APP_LD,
                    ldflags=["-Wl,--defsym=APP_ORIGIN=0x90010000"])
    out = run_application(board.load("weact-h743"), app, app_address=0x90010000)
    assert (out.reason, out.exit_code) == ("exit", 0), out


def test_boot_for_other_pins_stops_in_boot_failed(app: Path, h743_boot: Path) -> None:
    """A boot image built for the WeAct wiring, on a board whose chip is on other QUADSPI pins
    (RM0433 AF table: PF10 CLK, PG6 NCS, PF8/PF9/PF7/PF6 IO0-3): the chip never answers."""
    res = invoke("run", str(app), "--boot", str(h743_boot), "--mcu", "STM32H743ZI",
                 "--chip", "W25Q64JV", "--pins", "PF10,PG6,PF8,PF9,PF7,PF6", "--timeout", "60")
    assert res.exit_code == 2
    assert res.stderr.startswith("error: the boot image could not bring the external memory up "
                                 "(it stopped in boot_failed): the QUADSPI window at 0x90000000 "
                                 "is not memory-mapped")
    assert res.stdout == ""


def test_json_result_carries_the_output_and_the_status(app: Path, h743_boot: Path) -> None:
    import json

    res = invoke("run", str(app), "--boot", str(h743_boot), "--board", "weact-h743", "--json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["ok"] is True and data["reason"] == "exit" and data["exit_code"] == 0
    text = "".join(o["text"] for o in data["output"] if o["source"] == "semihosting")
    assert text == EXPECTED


@pytest.mark.parametrize(("flag", "status"), [
    ("-DPLAIN_EXIT", 0),  # SYS_EXIT with ADP_Stopped_ApplicationExit
    ("-DBAD_EXIT_BLOCK", 1),  # SYS_EXIT_EXTENDED with a block that is not there: a failure
])
def test_exit_forms(build_elf: Any, h743_boot: Path, flag: str, status: int) -> None:
    app = build_elf(f"xip-app{flag}", APP, APP_LD, cflags=[flag, "-DEXIT_STATUS=5"])
    out = run_application(board.load("weact-h743"), app, boot=h743_boot)
    assert (out.reason, out.exit_code) == ("exit", status), out
