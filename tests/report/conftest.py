"""Fixtures for the report tests: the test loader (tests/firmware/faulty, built with a fault
when asked) and the runs whose pages the tests check."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from extflash.cli import main

BOARD = ["--board", "nucleo-h743zi-w25q128", "--timing", "typical"]


@dataclass
class Run:
    exit_code: int
    output: str
    trace: dict[str, Any]
    html: str
    trace_path: Path
    report_path: Path


RunFn = Callable[..., Run]


@pytest.fixture(scope="session")
def loader(build_elf: Callable[..., Path]) -> Callable[..., Path]:
    """``loader()`` the working test loader, ``loader("WRONG_NCS")`` one with that fault."""

    def build(*faults: str) -> Path:
        name = "report-" + ("-".join(faults).lower() or "none")
        return build_elf(name, ["faulty/loader.c"], "faulty/h7.ld",
                         cflags=[f"-DFAULT_{f}" for f in faults])

    return build


@pytest.fixture(scope="session")
def run_with_report(tmp_path_factory: pytest.TempPathFactory) -> RunFn:
    """Run an extflash command with --trace run.json --report run.html and read both back."""

    def run(name: str, *args: str) -> Run:
        out = tmp_path_factory.mktemp(name)
        trace_path, report_path = out / "run.json", out / "run.html"
        result = CliRunner().invoke(main, [*args, *BOARD, "-q", "--trace", str(trace_path),
                                           "--report", str(report_path)])
        return Run(result.exit_code, result.output, json.loads(trace_path.read_text()),
                   report_path.read_text(), trace_path, report_path)

    return run


@pytest.fixture(scope="session")
def passing(loader: Callable[..., Path], run_with_report: RunFn,
            tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Programming 20 KiB across two sectors with the working loader (erase, write, verify)."""
    image = tmp_path_factory.mktemp("image") / "app.bin"
    image.write_bytes(bytes((i * 7) & 0xFF for i in range(20 * 1024)))
    return run_with_report("passing", "program", str(image), "--address", "0x90000000",
                           "-l", str(loader()))


@pytest.fixture(scope="session")
def wiring_failure(loader: Callable[..., Path], run_with_report: RunFn) -> Run:
    """A loader that drives chip select on the wrong pin: Init's ID check fails."""
    return run_with_report("wiring", "erase", "-l", str(loader("WRONG_NCS")),
                           "--address", "0x90000000", "--size", "4K")


@pytest.fixture(scope="session")
def hang(loader: Callable[..., Path], run_with_report: RunFn) -> Run:
    """A loader that waits for PLL1RDY without enabling PLL1: Init never returns."""
    return run_with_report("hang", "erase", "-l", str(loader("PLL_NOT_ENABLED")),
                           "--address", "0x90000000", "--size", "4K")


@pytest.fixture(scope="session")
def app_run(build_elf: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An application run from the window of a virtual WeAct H743 (``extflash run --report``)."""
    app = build_elf("report-xip-app", ["xip/app.c"], "xip/app.ld")
    page = tmp_path_factory.mktemp("app-run") / "run.html"
    result = CliRunner().invoke(main, ["run", str(app), "--board", "weact-h743", "-q",
                                       "--report", str(page)])
    assert result.exit_code == 0, result.output
    return SimpleNamespace(report_path=page, html=page.read_text())
