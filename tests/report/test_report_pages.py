"""The HTML report of passing and failing runs: structure checked in Python, the trace JSON as
the one source of what the page shows."""

from __future__ import annotations

import copy
import re

from click.testing import CliRunner

from extflash import report
from extflash.cli import main


def _rects(html: str, css: str) -> list[str]:
    return re.findall(rf'<rect(?: id="[^"]*")? class="{css}"[^>]*>', html)


def _calls(trace: dict) -> list[dict]:
    return [e for e in trace["events"] if e["kind"] == "call"]


def test_passing_program(passing):
    assert passing.exit_code == 0, passing.output
    html = passing.html
    calls = _calls(passing.trace)
    names = {c["source"] for c in calls}
    assert {"Init", "SectorErase", "Write"} <= names
    # one bar per loader call, none failed, no diagnosis
    assert len(_rects(html, "call")) == len(calls)
    assert not _rects(html, "call failed") and 'id="diagnosis"' not in html
    assert f"No loader call failed: {len(calls)} calls" in html
    # controller commands coloured by mode, the chip's busy time for program and erase
    for css in ("m-write", "m-read", "busy-program", "busy-erase"):
        assert _rects(html, css), css
    assert "0x20 1-1-0" in html  # a sector erase, as the chip received it
    # the flash map: both sectors erased, the image written and read back
    assert "<h2>Flash map" in html and "erase 0x0..0xFFF" in html
    assert "written 0x0..0x4FFF (20480 bytes)" in html
    assert "planned 0x0..0x4FFF" in html and "verified / read back 0x0..0x4FFF" in html
    assert "outside the plan: none" in html
    # the chip's protocol state, the CPU running each call, SysTick handlers
    for css in ("p-spi", "running", "irq"):
        assert _rects(html, css), css
    assert "SysTick handler entered at" in html
    # hover details of a command: mode, lines, STR/DTR, address, length
    assert re.search(r"indirect write 1-1-1 \(STR, address 0x0, 256 bytes\)", html)
    # the pins as the loader left them, and the clock tree against the chip's limit
    assert "AF9, very high speed, pull none, push-pull" in html
    assert "QUADSPI interface clock (kernel / 2)</td><td>50 MHz" in html
    assert "W25Q128JV limit for fast reads" in html and "within the chip's limit" in html
    # the wiring table: every signal routed where the board wires it
    assert "<th>loader routes it to</th>" in html and 'class="bad"' not in html
    # self-contained: no fetched resources
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_trace_json_holds_what_the_page_shows(passing):
    trace = passing.trace
    assert trace["schema"] == "extflash.trace/1"
    signals = {row["signal"] for row in trace["wiring"]}
    assert {"clk", "bk1_ncs", "bk1_io0", "bk1_io3"} <= signals
    erase = next(e for e in trace["events"] if e.get("opcode") == 0x20)
    assert erase["mode"] == "indirect write" and erase["busy_kind"] == "erase"
    assert erase["busy_start"] == 0 and erase["busy_end"] == 0x1000
    assert erase["busy_until_s"] > erase["time_s"]
    assert "diagnosis" not in trace
    # beside the events: pins, clocks, the plan, interrupts and the chip's protocol state
    assert trace["operation"] == "program"
    assert trace["pins"]["PB2"] == {"mode": "af", "af": 9, "speed": "very high", "pull": "none",
                                    "otype": "push-pull", "clocked": True}
    clocks = trace["clocks"]
    assert (clocks["kernel_hz"], clocks["prescaler"], clocks["interface_hz"]) == (
        100_000_000, 2, 50_000_000)
    assert clocks["chip_limit_hz"] == 133e6 and not clocks["over_limit"]
    assert trace["plan"]["sectors"] == [[i, i + 0x1000] for i in range(0, 0x5000, 0x1000)]
    assert trace["plan"]["verified"] and trace["plan"]["skipped"] == []
    assert erase["chip_protocol"] == "spi"
    ticks = [e for e in trace["events"] if e["kind"] == "interrupt"]
    assert ticks and ticks[0]["source"] == "SysTick" and ticks[0]["entered"]


def test_flash_map_shows_what_was_touched_outside_the_plan(passing):
    trace = copy.deepcopy(passing.trace)
    trace["plan"]["sectors"] = trace["plan"]["sectors"][:2]
    trace["plan"]["skipped"] = [[0x1000, 0x2000]]
    built = report.build(trace)
    assert built.flash["outside"] == [(0x2000, 0x5000)]
    assert built.flash["skipped"] == [(0x1000, 0x2000)]
    html = report.render_html(trace)
    assert "outside the plan 0x2000..0x4FFF (12288 bytes)" in html


def test_wiring_failure(wiring_failure):
    assert wiring_failure.exit_code == 1
    html, diagnosis = wiring_failure.html, wiring_failure.trace["diagnosis"]
    assert diagnosis["kind"] == "wiring" and diagnosis["function"] == "Init"
    assert diagnosis["error"].startswith("Init(0x1)")
    # the diagnosis at the top of the page, linked to the failed call on the timeline
    assert html.index('id="diagnosis"') < html.index("<h2>Timeline")
    target = re.search(r'id="goto" data-target="(call-\d+)"', html)
    assert target and f'<rect id="{target.group(1)}" class="call' in html
    assert len(_rects(html, "call failed")) >= 1
    # the NCS row is marked in the wiring table
    bad = re.findall(r'<tr class="bad"><td>([A-Z0-9_]+)</td>', html)
    assert bad == ["BK1_NCS"]


def test_hang(hang):
    assert hang.exit_code == 1
    html, diagnosis = hang.html, hang.trace["diagnosis"]
    assert diagnosis["kind"] == "hang" and "PLL1ON=0" in diagnosis["cause"]
    assert "PLL1 was never enabled" in html
    # Init never returned: a failed call bar, and the CPU spinning on RCC_CR
    assert len(_rects(html, "call failed")) == 1
    spins = re.findall(r'<rect class="spin"[^>]*data-d="([^"]*)"', html)
    assert spins and any("RCC_CR" in s for s in spins)


def test_report_command_renders_a_saved_trace(passing, tmp_path):
    out = tmp_path / "again.html"
    result = CliRunner().invoke(main, ["report", str(passing.trace_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == passing.html == report.render_html(passing.trace)


def test_report_command_refuses_what_is_not_a_trace(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = tmp_path / "out.html"
    result = CliRunner().invoke(main, ["report", str(bad), "-o", str(out)])
    assert result.exit_code != 0
    assert "error: " in result.output and "is not a JSON trace" in result.output
    assert "Traceback" not in result.output and not out.exists()
    other = tmp_path / "other.json"
    other.write_text('{"schema": "extflash.lint/1"}')
    result = CliRunner().invoke(main, ["report", str(other), "-o", str(out)])
    assert result.exit_code != 0 and "is not an extflash trace" in result.output


def test_report_needs_the_virtual_board(loader, tmp_path):
    result = CliRunner().invoke(main, ["erase", "-l", str(loader()), "--target", "probe",
                                       "--mcu", "STM32H743ZI", "--address", "0x90000000",
                                       "--size", "4K", "--report", str(tmp_path / "r.html")])
    assert result.exit_code != 0
    assert "error: --report needs the virtual board (--target emu)" in result.output


def test_large_runs_aggregate_repeated_commands(passing, monkeypatch):
    from extflash.report import model

    flash = [e for e in passing.trace["events"] if e["kind"] == "flash"]
    monkeypatch.setattr(model, "DETAIL_LIMIT", 40)
    monkeypatch.setattr(model, "KEEP", 10)
    built = model.build(passing.trace)
    commands = [i for i in built.items if i.row == "controller"]
    aggregated = [i for i in commands if i.css == "aggregate"]
    assert aggregated and len(commands) < len(flash)
    # every command is either drawn or counted in a span
    counted = sum(int(i.label.split()[0]) for i in aggregated)
    assert counted + len(commands) - len(aggregated) == len(flash)


def _report_only(loader_path, tmp_path) -> str:
    """The passing run again with --report alone: a compact timeline."""
    image = tmp_path / "app.bin"
    image.write_bytes(bytes((i * 7) & 0xFF for i in range(20 * 1024)))
    page = tmp_path / "compact.html"
    result = CliRunner().invoke(main, ["program", str(image), "--address", "0x90000000",
                                       "-l", str(loader_path), "--board",
                                       "nucleo-h743zi-w25q128", "--timing", "typical", "-q",
                                       "--report", str(page)])
    assert result.exit_code == 0, result.output
    return page.read_text()


def _flash_titles(html: str) -> list[str]:
    return re.findall(r'<rect class="f-[a-z]+"[^>]*><title>([^<]*)</title>', html)


def test_report_alone_draws_the_same_run(passing, loader, tmp_path):
    html = _report_only(loader(), tmp_path)
    assert len(_rects(html, "call")) == len(_rects(passing.html, "call"))
    assert _flash_titles(html) == _flash_titles(passing.html)
    counts = re.search(r"\d+ loader calls, \d+ flash commands", passing.html)
    assert counts and counts.group(0) in html
    assert _rects(html, "spin") and _rects(html, "irq") and _rects(html, "p-spi")


def test_report_alone_summarises_all_but_the_first_and_last_commands(passing, loader,
                                                                      tmp_path, monkeypatch):
    from extflash import trace_facts

    monkeypatch.setattr(trace_facts, "KEEP", 20)
    monkeypatch.setattr(trace_facts, "KEEP_LAST", 10)
    html = _report_only(loader(), tmp_path)
    summed = sum(int(n) for n in re.findall(
        r'<rect class="aggregate"[^>]*data-d="[^"]*? (\d+) commands \(', html))
    drawn = len(re.findall(r'<rect class="m-[a-z]+"', html))
    total = len([e for e in passing.trace["events"] if e["kind"] == "flash"])
    # every command of the full trace is drawn or counted in a span, none twice
    assert drawn == 30 and summed + drawn == total
    assert _flash_titles(html) == _flash_titles(passing.html)  # the map is whole


def test_report_alone_shows_the_hang_loop(loader, tmp_path):
    page = tmp_path / "hang.html"
    result = CliRunner().invoke(main, ["erase", "-l", str(loader("PLL_NOT_ENABLED")),
                                       "--address", "0x90000000", "--size", "4K", "--board",
                                       "nucleo-h743zi-w25q128", "-q", "--report", str(page)])
    assert result.exit_code == 1
    html = page.read_text()
    spins = re.findall(r'<rect class="spin"[^>]*data-d="([^"]*)"', html)
    assert spins and "RCC_CR" in spins[-1] and "clock_init" in spins[-1]
    assert 'id="diagnosis"' in html and len(_rects(html, "call failed")) == 1
