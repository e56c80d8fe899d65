"""``extflash new`` for OCTOSPI and XSPI: every family's generator data brings up a quad chip
(1-4-4) and an octal chip (8D-8D-8D with DQS, 8S-8S-8S without) on the kit wiring, and the
loader passes its self-test on the virtual board; the FLM built from the same sources programs
too; the chip ends in the octal state the loader chose."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from extflash import api, gen, image
from extflash.board import Board, Memory, Wire, from_options
from extflash.mcu import find_part

# (MCU, chip, controller, IO-manager port or None, {signal: (pin, af)}) from the kits' user
# manuals / BSPs (the same wiring as tests/firmware/ospi_hal): one octal and one quad board per
# family; L4R9 runs OCTOSPI1 through OCTOSPIM port 2 without DQS (8S), as its BSP does.
H735 = {"clk": ("PF10", 9), "ncs": ("PG6", 10), "io0": ("PD11", 9), "io1": ("PD12", 9),
        "io2": ("PE2", 9), "io3": ("PD13", 9), "io4": ("PD4", 10), "io5": ("PD5", 10),
        "io6": ("PG9", 9), "io7": ("PD7", 10), "dqs": ("PB2", 10)}
H7S78 = {"clk": ("PN6", 9), "ncs": ("PN1", 9), "dqs": ("PN0", 9), "io0": ("PN2", 9),
         "io1": ("PN3", 9), "io2": ("PN4", 9), "io3": ("PN5", 9), "io4": ("PN8", 9),
         "io5": ("PN9", 9), "io6": ("PN10", 9), "io7": ("PN11", 9)}
H7R7_QUAD = {"clk": ("PO4", 9), "ncs": ("PO0", 9), "io0": ("PP0", 9), "io1": ("PP1", 9),
             "io2": ("PP2", 9), "io3": ("PP3", 9)}
U585 = {"clk": ("PF4", 5), "ncs": ("PI5", 5), "dqs": ("PF12", 5), "io0": ("PF0", 5),
        "io1": ("PF1", 5), "io2": ("PF2", 5), "io3": ("PF3", 5), "io4": ("PH9", 5),
        "io5": ("PH10", 5), "io6": ("PH11", 5), "io7": ("PH12", 5)}
U585_P1_QUAD = {"clk": ("PA3", 10), "ncs": ("PA2", 10), "io0": ("PB1", 10), "io1": ("PB0", 10),
                "io2": ("PA7", 10), "io3": ("PA6", 10)}
L562 = {"clk": ("PA3", 10), "ncs": ("PA2", 10), "dqs": ("PB2", 10), "io0": ("PB1", 10),
        "io1": ("PB0", 10), "io2": ("PA7", 10), "io3": ("PA6", 10), "io4": ("PC1", 10),
        "io5": ("PC2", 10), "io6": ("PC3", 10), "io7": ("PC0", 3)}
L4R9_NO_DQS = {"clk": ("PI6", 3), "ncs": ("PG12", 5), "io0": ("PI11", 3), "io1": ("PI10", 3),
               "io2": ("PI9", 3), "io3": ("PH8", 3), "io4": ("PH9", 3), "io5": ("PH10", 3),
               "io6": ("PG9", 3), "io7": ("PG10", 3)}
H573 = {"clk": ("PF10", 9), "ncs": ("PG6", 10), "dqs": ("PB2", 10), "io0": ("PB1", 6),
        "io1": ("PD12", 9), "io2": ("PC2", 9), "io3": ("PD13", 9), "io4": ("PH2", 9),
        "io5": ("PH3", 9), "io6": ("PG9", 9), "io7": ("PC0", 9)}
QUAD = ("clk", "ncs", "io0", "io1", "io2", "io3")


def _quad(pins: dict[str, tuple[str, int]]) -> dict[str, tuple[str, int]]:
    return {s: pins[s] for s in QUAD}


BOARDS: dict[str, tuple[str, str, str, int | None, dict[str, tuple[str, int]], str]] = {
    # name: (mcu, chip, controller, port, pins, expected state)
    "h735-octal": ("STM32H735IG", "MX25LM51245G", "OCTOSPI1", 1, H735, "8D"),
    "h735-quad": ("STM32H735IG", "W25Q128JV", "OCTOSPI1", 1, _quad(H735), "quad"),
    "h7s7-octal": ("STM32H7S7L8", "MX66UW1G45G", "XSPI2", 2, H7S78, "8D"),
    "h7r7-quad": ("STM32H7R7L8", "W25Q128JV", "XSPI1", 1, H7R7_QUAD, "quad"),
    "u585-octal": ("STM32U585AI", "MX25LM51245G", "OCTOSPI2", 2, U585, "8D"),
    "u585-quad": ("STM32U585AI", "W25Q128JV", "OCTOSPI1", 1, U585_P1_QUAD, "quad"),
    "l562-octal": ("STM32L562QE", "MX25LM51245G", "OCTOSPI1", None, L562, "8D"),
    "l562-quad": ("STM32L562QE", "W25Q128JV", "OCTOSPI1", None, _quad(L562), "quad"),
    "l4r9-octal-no-dqs": ("STM32L4R9AI", "MX25LM51245G", "OCTOSPI1", 2, L4R9_NO_DQS, "8S"),
    "h573-octal": ("STM32H573II", "MX25LM51245G", "OCTOSPI1", None, H573, "8D"),
    "h573-quad-4byte": ("STM32H573II", "MX25L51245G", "OCTOSPI1", None, _quad(H573), "quad"),
    # swapped ports: OCTOSPIM PCR1 sourced from OCTOSPI2, XSPIM MODE = 1
    "h735-octospi2-on-port1": ("STM32H735IG", "MX25LM51245G", "OCTOSPI2", 1, H735, "8D"),
    "h7s7-xspi1-on-port2": ("STM32H7S7L8", "MX66UW1G45G", "XSPI1", 2, H7S78, "8D"),
}


def make_board(name: str) -> Board:
    mcu, chip, controller, port, pins, _ = BOARDS[name]
    wires = tuple(Wire(s, pin, af) for s, (pin, af) in pins.items())
    return Board(name, find_part(mcu), 0, (Memory(chip, 1, wires, controller=controller,
                                                 port=port),))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("gen-octal")
    cache: dict[str, gen.NewLoader] = {}

    def get(name: str) -> gen.NewLoader:
        if name not in cache:
            cache[name] = gen.new_loader(make_board(name), root / f"{name}.stldr",
                                         flm=name == "h7s7-octal")
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_generated_loader_passes_its_self_test(made, name: str) -> None:
    result = made(name)
    state = BOARDS[name][5]
    assert result.report is not None and result.report.passed
    # the self-test's speed measurement: virtual time against the chip's datasheet minimum
    assert result.speed is not None and result.speed.size == 0x10000
    assert 1.0 <= result.speed.ratio < 1.2 and 1.0 <= result.speed.write_ratio < 1.5
    config = (result.build.project / "config.h").read_text()
    assert "#define LOADER_OSPI        1" in config
    if state == "quad":
        assert "#define NOR_OCTAL          0" in config
        assert result.build.size.code <= 4096
    else:
        assert "#define NOR_OCTAL          1" in config
        assert f"#define OCTAL_DTR          {int(state == '8D')}" in config
        assert result.build.size.code <= 6144


@pytest.mark.parametrize("name", ["h7s7-octal", "l4r9-octal-no-dqs"])
def test_the_chip_runs_in_the_octal_state_the_loader_chose(made, name: str) -> None:
    board = make_board(name)
    with api.open_session(made(name).build.stldr, board=board) as s:
        s.read(s.geometry.start, 16)  # runs Init, then Read through the window
        chip = s.target.board.chips[1]  # type: ignore[attr-defined]
        assert chip.protocol == BOARDS[name][5]


def test_the_flm_programs_an_octal_chip(made) -> None:
    board = make_board("h7s7-octal")
    flm = made("h7s7-octal").build.flm
    assert flm is not None and flm.exists()
    data = bytes((i * 13 + 5) & 0xFF for i in range(0x2345))  # odd length: a 8D byte pair
    with api.open_session(flm, board=board) as s:
        assert s.driver.program.kind == "flm"
        assert s.program(image.from_chunks([image.Chunk(0x70000001, data)])).report.verified
        chip = s.target.board.chips[1]  # type: ignore[attr-defined]
        assert bytes(chip.memory[1:1 + len(data)]) == data
        assert s.checksum(0x70000001, len(data)) == zlib.crc32(data)


def test_new_command_generates_the_xspi1_quad_seed_case(tmp_path: Path) -> None:
    """The issue's seed case: a W25Q128JV on XSPI1 port 1 of an H7R7, from --mcu/--chip/--pins."""
    from click.testing import CliRunner

    from extflash.cli import main

    out = tmp_path / "loader.stldr"
    run = CliRunner().invoke(main, ["new", "--mcu", "STM32H7R7I8T6", "--chip", "W25Q128JV",
                                    "--pins", "PO4,PO0,PP0,PP1,PP2,PP3", "-o", str(out)])
    assert run.exit_code == 0, run.output
    assert out.exists() and "self-test: passed" in run.output
    assert "x the chip's datasheet minimum" in run.output
    board = from_options(mcu="STM32H7R7I8T6", chip="W25Q128JV", pins="PO4,PO0,PP0,PP1,PP2,PP3")
    assert board.memories[0].controller == "XSPI1"


# The three boards the boot image is proved on: the seed case (quad on XSPI1), OCTOSPI in 8D
# and XSPI2 in 8D with a 1.8 V chip (SBS high-speed low-voltage I/O, XSPIM port 2 supply).
RUNS = {"h7r7-quad": 0x90000000, "h735-octal": 0x90000000, "h7s7-octal": 0x70000000}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_generated_boot_runs_an_application_from_the_window(build_elf, name: str) -> None:
    from extflash.xip import run_application

    window = RUNS[name]
    app = build_elf(f"xip-app-{window:08x}", ["xip/app.c"], "xip/app.ld", cpu="cortex-m7",
                    ldflags=[f"-Wl,--defsym=APP_ORIGIN={window:#x}"])
    out = run_application(make_board(name), app)
    assert (out.reason, out.exit_code) == ("exit", 0), out
    text = "".join(t for s, t in out.output if s == "semihosting")
    assert text == "hello from the window\nfibonacci(20) = 6765\n"
    assert out.pc >= window and out.window.endswith("shows the flash contents"), out.window


def test_the_project_builds_with_plain_make(made, tmp_path: Path) -> None:
    """make predefines CC=cc: the Makefile must still pick arm-none-eabi-gcc by itself."""
    import os
    import shutil
    import subprocess

    project = shutil.copytree(made("h735-octal").build.project, tmp_path / "project")
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "MAKEFLAGS")}
    done = subprocess.run(["make", "all", "flm"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(list(project.glob("*.stldr"))) == 1 and len(list(project.glob("*.FLM"))) == 1


def test_output_named_flm_is_a_file_not_a_folder(tmp_path: Path) -> None:
    out = tmp_path / "kit.FLM"
    result = gen.build(gen.plan_loader(make_board("h7r7-quad")), out)
    assert out.is_file() and result.flm == out
    assert result.stldr == tmp_path / "kit.stldr" and result.stldr.is_file()


def new_h7s78(*args: str, chip: str = "MX66UW1G45G", without: str = "") -> Any:
    """``extflash new ARGS`` for the STM32H7S78-DK wiring given inline (less ``without``)."""
    from click.testing import CliRunner

    from extflash.cli import main

    pins = ",".join(f"{s}={p}" for s, (p, _) in H7S78.items() if s != without)
    return CliRunner().invoke(main, ["new", "--mcu", "STM32H7S7L8", "--chip", chip,
                                     "--pins", pins, *args])


def test_new_kind_flm_writes_the_flm_of_an_octal_board(tmp_path: Path) -> None:
    out = tmp_path / "h7s78.FLM"
    run = new_h7s78("--kind", "flm", "-o", str(out), "--json")
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert data["flm"] == str(out) and out.is_file() and data["speed"]["ratio"] < 1.2


def test_an_8d_only_chip_without_dqs_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    run = new_h7s78("-o", str(tmp_path / "x.stldr"), chip="S28HS512T", without="dqs")
    assert run.exit_code == 2
    assert "S28HS512T: its octal DTR mode needs the data strobe" in run.output
    assert "Traceback" not in run.output and not list(tmp_path.iterdir())


def test_new_kind_boot_for_an_xspi2_octal_board(tmp_path: Path) -> None:
    out = tmp_path / "boot.elf"
    run = new_h7s78("--kind", "boot", "-o", str(out), "--json")
    assert run.exit_code == 0, run.output
    data = json.loads(run.stdout)
    assert out.is_file() and data["app_address"] == 0x70000000
    config = (tmp_path / "boot-src" / "config.h").read_text()
    assert "#define OCTAL_DTR          1" in config and "XSPI2" in config


def test_plan_loader_takes_port_relative_pins_for_an_octal_part() -> None:
    pins = {s: p for s, (p, _) in H7S78.items()}
    cfg = gen.plan_loader("STM32H7S7L8", "MX66UW1G45G", 1, pins)
    assert (cfg.memory.controller, cfg.port, cfg.window_base) == ("XSPI2", 2, 0x70000000)
    assert cfg.octal is not None and (cfg.octal.state, cfg.octal.dqs) == ("8D", True)
    quad = gen.plan_loader("STM32H7S7L8", "MX66UW1G45G", 1,
                           {s: pins[s] for s in QUAD})  # four IO lines: no octal state
    assert quad.octal is None


def test_generated_xspi_loader_for_a_1v8_chip_sets_the_io_speed_optimisation(
        tmp_path: Path) -> None:
    """MX66UW1G45G (1.65-2.0 V) on XSPIM port 2: the loader sets SBS_CCCSR.XSPI2_IOHSLV (RM0477),
    so extflash's own I/O speed check has nothing to warn about."""
    from click.testing import CliRunner

    from extflash.cli import main

    run = CliRunner().invoke(main, ["new", "--board", "stm32h7s78-dk",
                                    "-o", str(tmp_path / "l.stldr")])
    assert run.exit_code == 0, run.output
    assert "self-test: passed" in run.output and "IOHSLV" not in run.output, run.output
