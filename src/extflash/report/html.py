"""The report as one self-contained HTML page: inline CSS, inline SVG and a few lines of inline
script for zoom. Nothing is fetched, so the page opens the same offline and in a CI artifact."""

from __future__ import annotations

from html import escape
from typing import Any

from extflash.report.model import Item, Report

WIDTH = 1000.0  # SVG user units across the whole run; the page scales them
ROW_HEIGHT = 26
ROW_TITLES = {"calls": "loader calls", "controller": "controller commands",
              "chip": "chip busy", "protocol": "chip protocol", "cpu": "CPU",
              "interrupts": "interrupts", "window": "mapped window"}
FLASH_ROWS = {"planned": ("planned", "#bdc3c7"), "erased": ("erased", "#d35400"),
              "written": ("written", "#27ae60"), "verified": ("verified / read back", "#2980b9"),
              "skipped": ("skipped (unchanged)", "#95a5a6"),
              "outside": ("outside the plan", "#c0392b")}
MIN_WIDTH = 0.6  # a mark is drawn at least this wide (user units) to stay visible

CSS = """
body{font:14px/1.4 system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:16px;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 6px}
.muted{color:#666}.diag{border:2px solid #c0392b;background:#fdecea;padding:8px 12px;
border-radius:6px}.diag pre{margin:6px 0 0;white-space:pre-wrap}.error{white-space:pre-wrap;
font-family:monospace}
.ok{border:2px solid #27ae60;background:#eafaf1;padding:8px 12px;border-radius:6px}
.tl{display:grid;grid-template-columns:150px 1fr;gap:0}.names div{height:26px;
line-height:26px;font-size:12px;color:#444}.scroll{overflow-x:auto;border:1px solid #ccc}
.zoom{position:relative}.zoom svg{display:block;width:100%}.ticks{position:relative;height:16px;
font-size:11px;color:#555}.ticks span{position:absolute;transform:translateX(-50%);
white-space:nowrap}.ticks span:first-child{transform:none}.ticks span:last-child{
transform:translateX(-100%)}.labels span{position:absolute;top:3px;height:20px;line-height:20px;
overflow:hidden;white-space:nowrap;color:#fff;font-size:12px;padding-left:3px;
pointer-events:none;box-sizing:border-box}.labels{position:absolute;top:0;left:0;right:0}
rect.call,svg.fmap rect{stroke:#fff;stroke-width:1px;vector-effect:non-scaling-stroke}
rect.call{fill:#5d8aa8}rect.call.failed{fill:#c0392b}rect.m-write{fill:#e67e22}
rect.m-read{fill:#2980b9}rect.m-poll{fill:#95a5a6}rect.m-mapped{fill:#8e44ad}
rect.anomaly{fill:#c0392b}rect.aggregate{fill:#f5cba7}rect.busy-program{fill:#27ae60}
rect.busy-erase{fill:#d35400}rect.busy-write{fill:#16a085}rect.spin{fill:#f1c40f}
rect.fault{fill:#c0392b}rect.running{fill:#aed6f1}rect.irq{fill:#1abc9c}
rect.p-spi{fill:#d6eaf8}rect.p-qpi{fill:#a9cce3}rect.p-8s{fill:#7fb3d5}rect.p-8d{fill:#5499c7}
rect.mapped.l1{fill:#e8daef}rect.mapped.l2{fill:#d2b4de}rect.mapped.l3{fill:#a569bd}
rect.mapped.l4{fill:#8e44ad}.clk td.bar{width:320px}.chain span{white-space:nowrap}
.over{color:#c0392b;font-weight:bold}
rect.call:target{stroke:#000;stroke-width:3px}rect:hover{opacity:.7}
.legend span{display:inline-block;margin-right:12px;font-size:12px}.legend i{display:inline-block;
width:10px;height:10px;margin-right:4px}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}tr.bad td{background:#fdecea}
#hover{position:fixed;pointer-events:none;background:#222;color:#fff;padding:4px 8px;
border-radius:4px;font-size:12px;display:none;max-width:600px}
"""

# Zoom (buttons and ctrl+wheel) widens the scaled timeline; hover shows an item's details.
# The page marks itself ready when the script ran, which the tests check in a browser.
SCRIPT = """
(function(){
var z=1,box=document.getElementById('zoom'),tip=document.getElementById('hover');
function set(v){z=Math.max(1,Math.min(4096,v));box.style.width=(100*z)+'%';}
document.getElementById('zin').onclick=function(){set(z*2);};
document.getElementById('zout').onclick=function(){set(z/2);};
document.getElementById('zreset').onclick=function(){set(1);};
box.addEventListener('wheel',function(e){if(!e.ctrlKey)return;e.preventDefault();
set(e.deltaY<0?z*1.5:z/1.5);},{passive:false});
box.addEventListener('mousemove',function(e){var d=e.target.getAttribute('data-d');
if(!d){tip.style.display='none';return;}tip.textContent=d;tip.style.display='block';
tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});
var go=document.getElementById('goto');if(go){go.onclick=function(){
var r=document.getElementById(go.getAttribute('data-target'));if(!r)return;
var x=parseFloat(r.getAttribute('x'));set(8);
box.parentNode.scrollLeft=box.scrollWidth*x/1000-box.parentNode.clientWidth/2;};}
document.body.setAttribute('data-ready','1');
})();
"""


def _tick(seconds: float, report: Report) -> str:
    """A time axis label: milliseconds, or seconds for a run longer than ten."""
    if report.end_s - report.start_s >= 10:
        return f"{seconds:.2f} s"
    return _ms(seconds)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def _rect(item: Item, report: Report) -> str:
    """One mark or span of the timeline, its details on hover (data-d) and as a tooltip."""
    span = report.end_s - report.start_s
    x = (item.start_s - report.start_s) / span * WIDTH
    end = item.end_s if item.end_s is not None else item.start_s
    w = max((end - item.start_s) / span * WIDTH, MIN_WIDTH)
    y = report.rows.index(item.row) * ROW_HEIGHT + 3
    when = _ms(item.start_s) + (f" .. {_ms(end)}" if item.end_s is not None else "")
    detail = f"{when}  {item.detail}"
    ident = f' id="{item.anchor}"' if item.anchor else ""
    return (f'<rect{ident} class="{item.css}" x="{x:.4f}" y="{y}" width="{w:.4f}" '
            f'height="{ROW_HEIGHT - 6}" data-d="{escape(detail)}"/>')  # the script shows it


def _call_labels(report: Report) -> str:
    """Function names over the call bars wide enough to hold one (HTML: SVG text would stretch
    with the zoom)."""
    span = report.end_s - report.start_s
    out = []
    for item in report.items:
        if item.row != "calls" or item.end_s is None:
            continue
        left = (item.start_s - report.start_s) / span * 100
        width = (item.end_s - item.start_s) / span * 100
        if width >= 3:
            out.append(f'<span style="left:{left:.3f}%;width:{width:.3f}%">'
                       f"{escape(item.label)}</span>")
    return "".join(out)


def _timeline(report: Report) -> str:
    height = ROW_HEIGHT * len(report.rows)
    grid = "".join(f'<line x1="0" x2="{WIDTH}" y1="{i * ROW_HEIGHT}" y2="{i * ROW_HEIGHT}" '
                   f'stroke="#eee" vector-effect="non-scaling-stroke"/>'
                   for i in range(len(report.rows)))
    rects = "".join(_rect(i, report) for i in report.items)
    ticks = "".join(
        f'<span style="left:{i * 10}%">'
        f"{_tick(report.start_s + (report.end_s - report.start_s) * i / 10, report)}</span>"
        for i in range(11))
    names = "".join(f"<div>{ROW_TITLES[r]}</div>" for r in report.rows)
    legend = "".join(f'<span><i style="background:{c}"></i>{escape(t)}</span>' for c, t in (
        ("#5d8aa8", "loader call"), ("#c0392b", "failed call / rejected / fault"),
        ("#e67e22", "indirect write"), ("#2980b9", "indirect read"),
        ("#95a5a6", "automatic polling"), ("#8e44ad", "memory-mapped"),
        ("#f5cba7", "commands aggregated"), ("#27ae60", "chip busy: program"),
        ("#d35400", "chip busy: erase"), ("#a9cce3", "chip protocol state"),
        ("#aed6f1", "CPU running"), ("#f1c40f", "CPU spinning on a register"),
        ("#1abc9c", "interrupt handler")))
    return (
        '<h2>Timeline <button id="zin">zoom in</button> <button id="zout">zoom out</button> '
        '<button id="zreset">whole run</button> <span class="muted">(ctrl+wheel zooms; '
        'hover for details)</span></h2>'
        f'<div class="tl"><div class="names">{names}</div><div class="scroll">'
        f'<div class="zoom" id="zoom"><svg viewBox="0 0 {WIDTH:.0f} {height}" '
        f'preserveAspectRatio="none" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f'{grid}{rects}</svg><div class="labels">{_call_labels(report)}</div>'
        f'<div class="ticks">{ticks}</div></div></div></div>'
        f'<div class="legend">{legend}</div>')


def _diagnosis(report: Report) -> str:
    d = report.diagnosis
    if not d:
        said = escape(report.summary[:1].upper() + report.summary[1:])
        if said and not report.counts["calls"]:  # an application's run
            return f'<div class="ok">{said}.</div>'
        summary = f" {said}." if said else ""
        return (f'<div class="ok">No loader call failed: {report.counts["calls"]} calls, '
                f'{report.counts["commands"]} flash commands.{summary}</div>')
    lines = "\n".join([*d.get("details", []), *([f"fix: {d['fix']}"] if d.get("fix") else [])])
    goto = (f' <button id="goto" data-target="{report.diagnosis_anchor}">show on the timeline'
            f'</button> <a href="#{report.diagnosis_anchor}">{escape(d.get("function", ""))}</a>'
            if report.diagnosis_anchor else "")
    error = f'<p class="error">{escape(d["error"])}</p>' if d.get("error") else ""
    return (f'<div class="diag" id="diagnosis"><b>{escape(d.get("kind", "failure"))} in '
            f'{escape(d.get("function", "?"))}</b>{goto}{error}<p>{escape(d.get("cause", ""))}'
            f'</p><pre>{escape(lines)}</pre></div>')


def _pin_text(pins: dict[str, dict[str, Any]], name: str | None) -> str:
    state = pins.get(name or "")
    if state is None:
        return "-"
    mode = f"AF{state['af']}" if state["mode"] == "af" else state["mode"]
    clock = "" if state.get("clocked", True) else ", port clock off"
    return f"{mode}, {state['speed']} speed, pull {state['pull']}, {state['otype']}{clock}"


def _wiring(rows: list[dict[str, Any]], pins: dict[str, dict[str, Any]]) -> str:
    """The board's wiring against what the loader routed: AF, mode and speed of each pin."""
    if not rows:
        return ""
    body = []
    for r in rows:
        board_pin = f"{r['board_pin']} AF{r['board_af']}" if r.get("board_pin") else "-"
        ok = r.get("board_pin") is None or r.get("board_pin_state") == f"AF{r.get('board_af')}"
        routed = ", ".join(f"{p}: {_pin_text(pins, p.split()[0])}" if pins else p
                           for p in r.get("loader_pins", []))
        body.append(
            f'<tr class="{"" if ok else "bad"}"><td>{escape(r["signal"].upper())}</td>'
            f"<td>{escape(board_pin)}</td><td>{escape(r.get('board_pin_state') or '-')}</td>"
            f"<td>{escape(_pin_text(pins, r.get('board_pin')))}</td>"
            f"<td>{escape(routed or '-')}</td></tr>")
    return ("<h2>Pins: the board's wiring against the loader's routing</h2><table><tr>"
            "<th>signal</th><th>board pin</th><th>board pin is</th><th>mode, speed, pull</th>"
            f"<th>loader routes it to</th></tr>{''.join(body)}</table>")


def _hz(hz: float) -> str:
    return f"{hz / 1e6:g} MHz" if hz else "-"


def _clocks(c: dict[str, Any]) -> str:
    """The clock tree as the loader left it, ending in the interface clock against the chip's
    limit (a bar: the share of the limit the interface clock uses)."""
    if not c:
        return ""
    # the PLL as its registers set it up, whether or not it runs (SYSCLK says what is used)
    steps = [("HSE crystal", c.get("hse_hz", 0)), ("PLL input (after M)", c.get("pll_input_hz")),
             ("PLL VCO as configured", c.get("vco_hz")), ("SYSCLK", c.get("sysclk_hz")),
             ("CPU clock", c.get("core_hz")), ("HCLK (AHB)", c.get("hclk_hz")),
             (f"{c['controller']} kernel clock", c.get("kernel_hz"))]
    chain = " &rarr; ".join(f"<span>{escape(n)} <b>{_hz(hz or 0)}</b></span>"
                            for n, hz in steps if hz)
    limit, hz = float(c.get("chip_limit_hz") or 0), float(c.get("interface_hz") or 0)
    share = min(hz / limit, 1.5) if limit else 0.0
    over = bool(c.get("over_limit"))
    bar = (f'<svg width="300" height="16" xmlns="http://www.w3.org/2000/svg">'
           f'<rect width="200" height="16" fill="#eee"/><rect width="{share * 200:.1f}" '
           f'height="16" fill="{"#c0392b" if over else "#27ae60"}"/><line x1="200" x2="200" '
           f'y1="0" y2="16" stroke="#000"/></svg>')
    verdict = ("above the chip's limit" if over else "within the chip's limit")
    problems = "".join(f"<p class='over'>{escape(p)}</p>" for p in c.get("problems", []))
    return (f"<h2>Clocks <span class='muted'>when the recording stopped</span></h2>"
            f'<p class="chain">{chain}</p>'
            f'<table class="clk"><tr class="{"bad" if over else ""}"><td>'
            f"{escape(c['controller'])} interface clock (kernel / {c.get('prescaler', 0)})</td>"
            f"<td>{_hz(hz)}</td></tr><tr><td>{escape(c.get('chip', ''))} limit for "
            f"{escape(c.get('chip_limit_for', ''))} (chip in "
            f"{escape(c.get('chip_protocol', ''))})</td><td>{_hz(limit)}</td></tr>"
            f'<tr><td>interface clock against the limit: <span class="{"over" if over else ""}">'
            f'{verdict}</span></td><td class="bar">{bar}</td></tr></table>{problems}')


def _flash_map(rows: dict[str, list[tuple[int, int]]]) -> str:
    """One bar per kind of access over the address range the run touched."""
    if not rows:
        return ""
    lo = min(r[0] for ranges in rows.values() for r in ranges) if any(rows.values()) else 0
    hi = max((r[1] for ranges in rows.values() for r in ranges), default=lo + 1)
    span = max(hi - lo, 1)
    rects, names = [], []
    for index, (kind, ranges) in enumerate(rows.items()):
        title, colour = FLASH_ROWS[kind]
        total = sum(b - a for a, b in ranges)
        names.append(f"<div>{escape(title)}</div>")
        rects += [
            f'<rect class="f-{kind}" x="{(a - lo) / span * WIDTH:.4f}" y="{index * 22 + 2}" '
            f'width="{max((b - a) / span * WIDTH, MIN_WIDTH):.4f}" height="18" fill="{colour}">'
            f"<title>{title} 0x{a:X}..0x{b - 1:X} ({b - a} bytes)</title></rect>"
            for a, b in ranges]
        names[-1] = (f'<div title="{total} bytes">{escape(title)}'
                     f'{"" if ranges else ": none"}</div>')
    height = 22 * len(rows)
    return (f"<h2>Flash map <span class='muted'>0x{lo:X} .. 0x{hi - 1:X} (chip addresses)"
            f"</span></h2>"
            f'<div class="tl"><div class="names" style="line-height:22px">{"".join(names)}'
            f'</div><svg class="fmap" viewBox="0 0 {WIDTH:.0f} {height}" '
            f'preserveAspectRatio="none" height="{height}" width="100%" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(rects)}</svg></div>')


def render(report: Report) -> str:
    dropped = (f'<p class="muted">{report.dropped} events were not recorded (trace limit).</p>'
               if report.dropped else "")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>extflash report: {escape(report.board)}</title><style>{CSS}</style></head>"
        f"<body><h1>extflash {escape(report.operation or 'run')} on {escape(report.board)}</h1>"
        f'<p class="muted">{_ms(report.start_s)} .. {_ms(report.end_s)} virtual time, '
        f"{report.counts['calls']} loader calls, {report.counts['commands']} flash commands"
        f"</p>{_diagnosis(report)}{dropped}{_timeline(report)}{_flash_map(report.flash)}"
        f"{_wiring(report.wiring, report.pins)}{_clocks(report.clocks)}"
        f'<div id="hover"></div><script>{SCRIPT}</script></body></html>'
    )
