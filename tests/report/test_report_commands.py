"""--report on test, new (self-test) and run, and pages of OCTOSPI/XSPI runs: a program in octal
DTR and applications running from OCTOSPI and XSPI windows (their mapped traffic)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import ospi_hal.build as ob
import pytest
from click.testing import CliRunner

from extflash import diagnose, image, report, trace, trace_facts
from extflash.board import Board, Memory, Wire
from extflash.cli import main
from extflash.mcu import find_part
from extflash.report import record
from extflash.xip import run_application

BOARD = ["--board", "nucleo-h743zi-w25q128"]


def _rects(html: str, css: str) -> list[str]:
    return re.findall(rf'<rect(?: id="[^"]*")? class="{css}"[^>]*>', html)


def _kit(name: str, b: ob.LoaderBuild) -> Board:
    """The kit wired as the test loader routes it (data strobe on DTR kits)."""
    signals = ob.OCTAL_SIGNALS if b.mode != "quad" else ob.QUAD_SIGNALS
    signals = (*signals, "dqs") if b.mode == "dtr" else signals
    wires = tuple(Wire(s, f"P{chr(ord('A') + port)}{number}", af)
                  for s, (port, number, af) in zip(signals, b.pins, strict=True))
    kit = ob.KITS[name]
    return Board(name, find_part(kit["mcu"]), 0,
                 (Memory(kit["chip"], 1, wires, controller=b.controller, port=b.port),))


@pytest.fixture(scope="module")
def app(build_elf: Any) -> Path:
    return build_elf("xip-app", ["xip/app.c"], "xip/app.ld")


def test_test_command_writes_the_page_of_every_board_it_used(loader, tmp_path):
    page = tmp_path / "test.html"
    result = CliRunner().invoke(main, ["test", str(loader()), *BOARD, "-q",
                                       "--report", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "<h1>extflash test on NUCLEO-H743ZI-W25Q128</h1>" in html
    assert "Works with STM32CubeProgrammer and ST OpenOCD" in html
    # the situations' calls, from every fresh board, on one timeline
    assert len(_rects(html, "call")) > 20 and not _rects(html, "call failed")
    assert _rects(html, "busy-erase") and _rects(html, "busy-program")


def test_test_command_page_of_a_failure(loader, tmp_path):
    page, saved, text = tmp_path / "test.html", tmp_path / "test.json", tmp_path / "test.txt"
    result = CliRunner().invoke(main, ["test", str(loader("WRONG_NCS")), *BOARD, "-q",
                                       "--trace", str(saved), "--report", str(page)])
    assert result.exit_code == 1
    html = page.read_text()
    assert html.index('id="diagnosis"') < html.index("<h2>Timeline")
    assert "wiring in Init" in html and re.search(r'id="goto" data-target="call-\d+"', html)
    # the page is a view of the trace JSON: extflash report draws the same page from it
    data = json.loads(saved.read_text())
    assert data["operation"] == "test" and data["diagnosis"]["kind"] == "wiring"
    assert any(e["kind"] == "write" for e in data["events"])  # --trace: every register access
    again = tmp_path / "again.html"
    assert CliRunner().invoke(main, ["report", str(saved), "-o", str(again)]).exit_code == 0
    assert again.read_text() == html
    result = CliRunner().invoke(main, ["test", str(loader("WRONG_NCS")), *BOARD, "-q",
                                       "--trace", str(text)])
    assert text.read_text().startswith("-- virtual board 1 of 1 --\n")
    assert "Init(0x1)" in text.read_text()


def test_new_writes_the_page_of_its_self_test(tmp_path):
    page = tmp_path / "new.html"
    result = CliRunner().invoke(main, ["new", *BOARD, "-o", str(tmp_path / "gen.stldr"), "-q",
                                       "--report", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "<h1>extflash new on NUCLEO-H743ZI-W25Q128</h1>" in html
    assert "Self-test passed on the virtual NUCLEO-H743ZI-W25Q128" in html
    assert len(_rects(html, "call")) > 20 and "QUADSPI interface clock" in html


def test_run_page_shows_the_application_window_traffic(app, tmp_path):
    page = tmp_path / "run.html"
    result = CliRunner().invoke(main, ["run", str(app), "--board", "weact-h743", "-q",
                                       "--report", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "<h1>extflash run on " in html
    assert "The application exited with status 0 after" in html
    mapped = re.findall(r'<rect class="mapped l\d"[^>]*data-d="([^"]*)"', html)
    assert mapped and any("code blocks fetched" in d and "data reads" in d for d in mapped)
    assert "<div>mapped window</div>" in html and _rects(html, "running")


@pytest.mark.parametrize("name", ["h735-w25q128", "h7r7-w25q128-xspi1"])
def test_octospi_and_xspi_run_pages(build_elf, name):
    b = ob.loader_build(ob.KITS[name], name)
    boot = build_elf(f"xip-boot-{b.name}", [*b.sources, "xip/loader_boot.c"],
                     "xip/loader_boot.ld", cflags=b.cflags,
                     ldflags=[f"-Wl,--defsym=RAM_ORIGIN={b.ram_base:#x}"], cpu=b.cpu)
    app = build_elf(f"xip-app-{b.cpu}", ["xip/app.c"], "xip/app.ld", cpu=b.cpu)
    rec = record.Recording("run")
    outcome = run_application(_kit(name, b), app, boot=boot, on_prepared=rec.attach_run)
    assert outcome.reason == "exit", outcome
    data = rec.trace(record.run_diagnosis(outcome), outcome.message)
    assert data["clocks"]["controller"] == b.controller and data["mapped"]
    html = report.render_html(data)
    # the boot image brings the chip up through the controller; the window then carries the code
    assert _rects(html, "m-write")
    assert _rects(html, "mapped l[1-4]") and f"{b.controller} interface clock" in html
    assert 'class="bad"' not in html


def test_octal_dtr_program_page(build_elf):
    name = "h735-mx25lm-dtr"
    b = ob.loader_build(ob.KITS[name], name)
    elf = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                    cpu=b.cpu)
    session, watch = diagnose.open_session(elf, board=_kit(name, b))
    timeline = trace.Timeline.attach(watch)
    with session as s:
        s.program(image.from_chunks([image.Chunk(b.window, bytes(range(256)) * 32)]))
        timeline.facts.plan = trace_facts.plan(s.programmer)
    timeline.stop()
    data = timeline.as_dict()
    assert data["clocks"]["chip_protocol"] == "8D"
    assert data["clocks"]["chip_limit_for"] == "8D reads"
    html = report.render_html(data)
    assert _rects(html, "p-8d") and _rects(html, "p-spi")  # SPI until the loader switched it
    # the first page program stays in detail although the host first read the sector through
    # the 8D window one frame per access (window reads have a detail budget of their own)
    assert re.search(r"indirect write 8-8-8 DTR \(DTR, address 0x0, 256 bytes\): "
                     r"0x12ED 8D-8D-8D", html)
    assert "indirect read 8-8-8 DTR DQS (DTR, address 0x0, 4096 bytes)" in html  # the window probe
    assert "planned 0x0..0xFFFF" in html and "outside the plan: none" in html
    assert "<td>DQS</td>" in html and 'class="bad"' not in html



def test_new_refuses_a_report_without_a_self_test(tmp_path):
    result = CliRunner().invoke(main, ["new", *BOARD, "-o", str(tmp_path / "gen.stldr"),
                                       "--no-self-test", "--report", str(tmp_path / "r.html")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "error: --trace and --report record the self-test of a loader" in result.output
    assert not list(tmp_path.iterdir())  # nothing built, nothing written



def test_merged_compact_boards_keep_every_summary(loader, monkeypatch):
    # a test on several fresh boards with --report alone: each board's summarised middle
    # commands stay counted, on that board's stretch of the merged timeline
    from extflash import conformance

    monkeypatch.setattr(trace_facts, "KEEP", 4)
    monkeypatch.setattr(trace_facts, "KEEP_LAST", 2)
    rec = record.Recording("test", compact=True)
    conformance.run(loader(), BOARD[1], on_rig=rec.attach)
    one = rec.trace()
    assert one["aggregates"] and one["flash_ranges"]
    two = record.merge([one, one])
    assert len(two["aggregates"]) == 2 * len(one["aggregates"])
    first_end = max(e.get("busy_until_s", e["time_s"]) for e in one["events"])
    later = two["aggregates"][len(one["aggregates"]):]
    assert all(a["time_s"] > first_end for a in later)
    page = report.model.build(two)
    assert page.counts["commands"] == 2 * report.model.build(one).counts["commands"]
