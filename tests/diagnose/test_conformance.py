"""The conformance test: a good loader passes on every shipped board; each purpose-built defect
fails the check that covers it, with the real cause."""

from __future__ import annotations

from pathlib import Path

import pytest

from extflash import board as boards
from extflash import conformance, gen
from shipped_boards import ALL_BOARDS

BOARD_PINS = {"clk": "PB2", "bk1_ncs": "PB6", "bk1_io0": "PD11", "bk1_io1": "PD12",
              "bk1_io2": "PE2", "bk1_io3": "PD13"}  # NUCLEO-H743ZI Zio connector


def board_name(board: boards.Board) -> str:
    return next(n for n in boards.list_boards() if boards.load(n).name == board.name)


def _by_name(report: conformance.Report) -> dict[str, conformance.Check]:
    return {c.name: c for c in report.checks}


def _failed(report: conformance.Report) -> set[str]:
    return {c.name for c in report.checks if c.status == "fail"}


def test_working_loader_passes(faulty, board):
    report = conformance.run(faulty(), board, timing="instant")
    assert report.passed, "\n".join(report.render())
    checks = _by_name(report)
    assert {"storage-info", "ram-footprint", "init", "wiring", "mapped-after-init",
            "init-twice", "erase-first", "erase-middle", "erase-last", "write-unaligned",
            "write-page-cross", "write-one-byte", "read", "window-read", "verify", "checksum",
            "mass-erase", "stack", "stray-writes", "peripherals"} <= set(checks)
    assert all(c.status == "pass" for c in checks.values())


@pytest.mark.parametrize(("fault", "failing", "text"), [
    ("SIZE_HALF", {"storage-info"}, "size 0x800000 (8 MiB), the W25Q128JV holds 0x1000000"),
    ("ERASE_END_EXCL", {"erase-first", "erase-middle", "erase-last"},
     "returned success but left 4096 of 4096 bytes"),
    ("NO_PAGE_SPLIT", {"write-page-cross"}, "cross the 256-byte page boundary"),
    # Verify and CheckSum read the window the loader never maps; hosts read the rest through
    # Read, so the unmapped window itself is only a warning (see test_unmapped_window_with_read)
    ("NOT_MAPPED", {"verify", "checksum"}, "not memory-mapped: QUADSPI is in indirect read mode"),
    # a window mapped with the wrong dummy cycles shows wrong bytes to whoever reads it
    ("WRONG_DUMMY", {"mapped-after-init", "window-read", "verify", "checksum"},
     "8 clocks between address and data, chip expects 6"),
    ("STRAY_WRITE", {"stray-writes"}, "wrote 4 byte(s) at 0x24070000 (AXI_SRAM)"),
    ("STACK_HOG", {"write-unaligned", "write-page-cross", "write-one-byte", "stack"},
     "overflowed its stack"),
])
def test_defect_fails_its_check(faulty, board, fault, failing, text):
    report = conformance.run(faulty(fault), board, timing="instant")
    assert not report.passed
    assert _failed(report) == failing, "\n".join(report.render())
    rendered = "\n".join(report.render())
    assert text in rendered


def test_second_init_hangs(faulty, board):
    report = conformance.run(faulty("INIT_NO_ABORT"), board, timing="instant")
    check = _by_name(report)["init-twice"]
    assert check.status == "fail" and check.diagnosis is not None
    assert "still in memory-mapped mode" in check.diagnosis.cause
    assert _by_name(report)["init"].status == "pass"


def test_init_that_never_returns_stops_the_run(faulty, board):
    report = conformance.run(faulty("PLL_NOT_ENABLED"), board, timing="instant")
    checks = _by_name(report)
    assert checks["init"].status == "fail"
    assert "PLL1 was never enabled" in checks["init"].diagnosis.cause
    assert checks["erase-first"].status == "skip" and checks["erase-first"].detail == "Init fails"


def test_wrong_pins(faulty, board):
    report = conformance.run(faulty("WRONG_NCS", "NO_ID_CHECK"), board, timing="instant")
    checks = _by_name(report)
    assert checks["init"].status == "pass"
    assert checks["wiring"].status == "fail"
    assert "the loader routes BK1_NCS to PB10 (AF9) instead" in checks["wiring"].detail


def test_report_json_and_timing(generated, board):
    report = conformance.run(generated(board_name(board)), board, timing="typical")
    data = report.as_dict()
    assert data["schema"] == "extflash.test/1" and data["passed"] is True
    erase = next(c for c in data["checks"] if c["name"] == "erase-first")
    # a 4 KiB erase on the W25Q128JV: 45 ms typical; the loader polls WIP, so it takes that
    assert erase["minimum_s"] == pytest.approx(0.045)
    assert erase["minimum_s"] <= erase["time_s"] < 1.5 * erase["minimum_s"]


@pytest.fixture(scope="session")
def generated(toolchain, tmp_path_factory):
    root = tmp_path_factory.mktemp("gen-conformance")
    built: dict[str, gen.BuildResult] = {}

    def build(name: str, *, flm: bool = False) -> Path:
        if name not in built or (flm and built[name].flm is None):
            built[name] = gen.build(gen.plan_loader(boards.load(name)),
                                    root / f"{name}{'-flm' if flm else ''}",
                                    toolchain=toolchain, flm=flm)
        result = built[name]
        path = result.flm if flm else result.stldr
        assert path is not None
        return path

    return build


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_generated_loader_passes_on_every_shipped_board(generated, name):
    report = conformance.run(generated(name), name)
    assert report.passed, "\n".join(report.render())
    assert not [c for c in report.checks if c.status == "warn"], "\n".join(report.render())


def test_generated_flash_algorithm_passes(generated, board):
    report = conformance.run(generated(board_name(board), flm=True), board)
    assert report.passed and report.kind == "flm", "\n".join(report.render())
    checks = _by_name(report)
    assert checks["storage-info"].title == "FlashDevice against the chip"
    assert checks["verify"].status == "skip"  # .stldr semantics, not FLM's
    assert checks["window-read"].status == "pass"


def test_loader_for_a_bigger_chip(generated):
    """A 16 MiB loader on a board with an 8 MiB chip: StorageInfo fails, checks beyond the
    chip are skipped, nothing crashes."""
    report = conformance.run(generated("nucleo-h743zi-w25q128"), "weact-h743")
    checks = _by_name(report)
    assert checks["storage-info"].status == "fail"
    assert "the W25Q64JV holds 0x800000 (8 MiB)" in checks["storage-info"].detail
    assert checks["erase-middle"].status == "skip"
    assert "beyond the 8 MiB the chip holds" in checks["erase-middle"].detail
    assert checks["erase-first"].status == "pass"


def test_loader_for_another_family(faulty):
    report = conformance.run(faulty(), "stm32f746g-disco")
    checks = _by_name(report)
    assert checks["ram-footprint"].status == "fail"
    assert "not in the RAM of STM32F746" in checks["ram-footprint"].detail
    assert "init" not in checks


def test_hal_style_loader_passes(build_elf, board):
    """The HAL-style reference loader (SysTick interrupts, HAL timeouts, 64 KiB sectors) is a
    different way to write a good loader: it must pass too."""
    import halstyle.build as hb  # tests/firmware, on sys.path from tests/conftest.py

    b = hb.loader_build({"mcu": "STM32H743ZI", "chip": "W25Q128JV", "bank": 1,
                         "hse_hz": 8_000_000, "pins": dict(BOARD_PINS)})
    path = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                     cpu=b.cpu)
    report = conformance.run(path, board, timing="instant")
    assert report.passed, "\n".join(report.render())
    assert _by_name(report)["erase-first"].detail.startswith("0x90000000..0x9000FFFF erased")
