"""extflash lint: each defect loader triggers its rule; the good loaders stay clean."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from extflash import loader
from extflash.cli import main
from extflash.loader.lint import RULES, lint

LoaderFile = Callable[[str], Path]

# variant -> (--mcu or None, rule id expected, severity)
DEFECTS = [
    ("no-storage-info", None, "storage-info-missing", "error"),
    ("h7-size136", None, "storage-info-size", "warning"),
    ("g4-keil-size0", None, "storage-info-size", "warning"),
    ("unterminated-name", None, "storage-info-name", "error"),
    ("bad-type", None, "storage-info-type", "warning"),
    ("bad-padding", None, "storage-info-padding", "info"),
    ("bad-size-sum", None, "storage-info-sectors", "error"),
    ("bad-page", None, "storage-info-page-size", "warning"),
    ("page-over-sector", None, "storage-info-page-size", "warning"),
    ("bad-start", None, "storage-info-start", "error"),
    ("bad-erase-value", None, "storage-info-erase-value", "warning"),
    ("wrong-base", "STM32H743ZI", "image-base", "warning"),
    ("outside-ram", "STM32H743ZI", "image-base", "error"),
    ("too-large", "STM32H743ZI", "image-ram-fit", "error"),
    ("missing-entries", None, "entry-missing", "error"),
    ("missing-entries", None, "entry-optional", "info"),
    ("h7-info0", None, "entry-deinit", "info"),
    ("bss-not-cleared", None, "bss-not-cleared", "warning"),
    ("l4-rwpi", "STM32L476RG", "r9-relative", "error"),
    ("interrupts", "STM32F746NG", "interrupts", "warning"),
    ("hal-no-tick", None, "hal-tick-source", "warning"),
    ("g0-dwt", None, "dwt-cycle-counter", "error"),
    ("hard-float", "STM32G0B1RE", "fpu", "error"),
    ("double", "STM32F746NG", "fpu", "error"),
    ("h7-info0", "STM32H735IG", "interface-mismatch", "error"),
    ("h7-ospi", "STM32H743ZI", "interface-mismatch", "error"),
]
CLEAN = ["h7-info0", "f7-cubeide", "h7-stripped", "l4-iar", "h7-top-of-ram", "h7-ospi"]


@pytest.mark.parametrize(("variant", "mcu_name", "rule_id", "severity"), DEFECTS)
def test_defect_triggers_its_rule(loader_file: LoaderFile, variant: str, mcu_name: str | None,
                                  rule_id: str, severity: str) -> None:
    report = lint(loader.open(loader_file(variant)), mcu_name)
    hits = [f for f in report.findings if f.id == rule_id]
    assert hits, f"{rule_id} not reported; got {report.ids()}"
    assert {f.severity for f in hits} == {severity}
    assert all(f.message and f.fix for f in hits)
    assert report.exit_code == (1 if report.errors else 0)


@pytest.mark.parametrize("variant", CLEAN)
def test_good_loaders_have_no_errors_or_warnings(loader_file: LoaderFile, variant: str) -> None:
    report = lint(loader.open(loader_file(variant)))
    assert {f.severity for f in report.findings} <= {"info"}, report.findings
    assert report.exit_code == 0 and "(inferred)" in report.target


def test_defect_rules_stay_quiet_on_the_good_loader(loader_file: LoaderFile) -> None:
    ids = lint(loader.open(loader_file("h7-info0")), "STM32H743ZI").ids()
    assert ids == {"entry-deinit"}


def test_specific_messages(loader_file: LoaderFile) -> None:
    missing = lint(loader.open(loader_file("missing-entries")))
    assert {f.location for f in missing.findings if f.id == "entry-missing"} == {
        "Write", "SectorErase"}
    sums = lint(loader.open(loader_file("bad-size-sum")))
    (finding,) = [f for f in sums.findings if f.id == "storage-info-sectors"]
    assert "0x1000000" in finding.message and "0x3d0900" in finding.message
    rwpi = lint(loader.open(loader_file("l4-rwpi")), "STM32F746NG")  # ITCM RAM at 0
    assert [f.severity for f in rwpi.findings if f.id == "r9-relative"] == ["warning"]


def test_every_rule_is_documented() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "loaders.md").read_text()
    for spec in RULES:
        assert spec.func.__doc__, spec.id
        assert f"`{spec.id}`" in docs, spec.id


def test_cli_exit_codes_and_json(loader_file: LoaderFile) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["lint", str(loader_file("h7-info0"))])
    assert ok.exit_code == 0 and "checked against stm32h7-qspi (inferred)" in ok.output
    bad = runner.invoke(main, ["lint", "--json", "--mcu", "STM32H735IG",
                               str(loader_file("h7-info0"))])
    assert bad.exit_code == 1
    data = json.loads(bad.output)
    assert data["schema"] == "extflash.lint/1" and data["target"] == "STM32H735 (--mcu)"
    assert "interface-mismatch" in {f["id"] for f in data["findings"]}
    unknown = runner.invoke(main, ["lint", "--mcu", "STM32X999", str(loader_file("h7-info0"))])
    assert unknown.exit_code == 2
