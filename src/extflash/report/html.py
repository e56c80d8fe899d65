"""The report as one self-contained HTML page: inline CSS, inline SVG and a few lines of inline
script for zoom. Nothing is fetched, so the page opens the same offline and in a CI artifact."""

from __future__ import annotations

from html import escape
from typing import Any

from extflash.report.model import ROWS, Item, Report

WIDTH = 1000.0  # SVG user units across the whole run; the page scales them
ROW_HEIGHT = 26
ROW_TITLES = {"calls": "loader calls", "controller": "controller commands",
              "chip": "chip state", "cpu": "CPU"}
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
rect.fault{fill:#c0392b}rect.call:target{stroke:#000;stroke-width:3px}rect:hover{opacity:.7}
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


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def _rect(item: Item, report: Report) -> str:
    span = report.end_s - report.start_s
    x = (item.start_s - report.start_s) / span * WIDTH
    end = item.end_s if item.end_s is not None else item.start_s
    w = max((end - item.start_s) / span * WIDTH, MIN_WIDTH)
    y = ROWS.index(item.row) * ROW_HEIGHT + 3
    when = _ms(item.start_s) + (f" .. {_ms(end)}" if item.end_s is not None else "")
    detail = f"{when}  {item.detail}"
    ident = f' id="{item.anchor}"' if item.anchor else ""
    return (f'<rect{ident} class="{item.css}" x="{x:.4f}" y="{y}" width="{w:.4f}" '
            f'height="{ROW_HEIGHT - 6}" data-d="{escape(detail)}"><title>{escape(detail)}'
            f'</title></rect>')


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
    height = ROW_HEIGHT * len(ROWS)
    grid = "".join(f'<line x1="0" x2="{WIDTH}" y1="{i * ROW_HEIGHT}" y2="{i * ROW_HEIGHT}" '
                   f'stroke="#eee" vector-effect="non-scaling-stroke"/>' for i in range(len(ROWS)))
    rects = "".join(_rect(i, report) for i in report.items)
    ticks = "".join(
        f'<span style="left:{i * 10}%">'
        f"{_ms(report.start_s + (report.end_s - report.start_s) * i / 10)}</span>"
        for i in range(11))
    names = "".join(f"<div>{ROW_TITLES[r]}</div>" for r in ROWS)
    legend = "".join(f'<span><i style="background:{c}"></i>{escape(t)}</span>' for c, t in (
        ("#5d8aa8", "loader call"), ("#c0392b", "failed call / rejected / fault"),
        ("#e67e22", "indirect write"), ("#2980b9", "indirect read"),
        ("#95a5a6", "automatic polling"), ("#8e44ad", "memory-mapped"),
        ("#f5cba7", "commands aggregated"), ("#27ae60", "chip busy: program"),
        ("#d35400", "chip busy: erase"), ("#f1c40f", "CPU spinning on a register")))
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
        return (f'<div class="ok">No loader call failed: {report.counts["calls"]} calls, '
                f'{report.counts["commands"]} flash commands.</div>')
    lines = "\n".join([*d.get("details", []), *([f"fix: {d['fix']}"] if d.get("fix") else [])])
    goto = (f' <button id="goto" data-target="{report.diagnosis_anchor}">show on the timeline'
            f'</button> <a href="#{report.diagnosis_anchor}">{escape(d.get("function", ""))}</a>'
            if report.diagnosis_anchor else "")
    error = f'<p class="error">{escape(d["error"])}</p>' if d.get("error") else ""
    return (f'<div class="diag" id="diagnosis"><b>{escape(d.get("kind", "failure"))} in '
            f'{escape(d.get("function", "?"))}</b>{goto}{error}<p>{escape(d.get("cause", ""))}'
            f'</p><pre>{escape(lines)}</pre></div>')


def _wiring(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    body = []
    for r in rows:
        board_pin = f"{r['board_pin']} AF{r['board_af']}" if r.get("board_pin") else "-"
        ok = r.get("board_pin") is None or r.get("board_pin_state") == f"AF{r.get('board_af')}"
        body.append(
            f'<tr class="{"" if ok else "bad"}"><td>{escape(r["signal"].upper())}</td>'
            f"<td>{escape(board_pin)}</td><td>{escape(r.get('board_pin_state') or '-')}</td>"
            f"<td>{escape(', '.join(r.get('loader_pins', [])) or '-')}</td></tr>")
    return ("<h2>Pins: the board's wiring against the loader's routing</h2><table><tr>"
            "<th>signal</th><th>board pin</th><th>board pin is</th><th>loader routes it to</th>"
            f"</tr>{''.join(body)}</table>")


def _flash_map(ranges: list[dict[str, Any]]) -> str:
    if not ranges:
        return ""
    lo = min(r["start"] for r in ranges)
    hi = max(r["end"] for r in ranges)
    span = max(hi - lo, 1)
    colours = {"erase": "#d35400", "program": "#27ae60", "read": "#2980b9"}
    rows = {"erase": 0, "program": 1, "read": 2}
    rects = "".join(
        f'<rect x="{(r["start"] - lo) / span * WIDTH:.4f}" y="{rows[r["kind"]] * 22 + 2}" '
        f'width="{max((r["end"] - r["start"]) / span * WIDTH, MIN_WIDTH):.4f}" height="18" '
        f'fill="{colours[r["kind"]]}"><title>{r["kind"]} 0x{r["start"]:X}..0x{r["end"] - 1:X}'
        f"</title></rect>" for r in ranges)
    names = "".join(f"<div>{n}</div>" for n in ("erased", "programmed", "read back"))
    return (f"<h2>Flash map <span class='muted'>0x{lo:X} .. 0x{hi - 1:X}</span></h2>"
            f'<div class="tl"><div class="names" style="line-height:22px">{names}</div>'
            f'<svg class="fmap" viewBox="0 0 {WIDTH:.0f} 66" preserveAspectRatio="none" '
            f'height="66" width="100%" xmlns="http://www.w3.org/2000/svg">{rects}</svg></div>')


def render(report: Report) -> str:
    dropped = (f'<p class="muted">{report.dropped} events were not recorded (trace limit).</p>'
               if report.dropped else "")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>extflash report: {escape(report.board)}</title><style>{CSS}</style></head>"
        f"<body><h1>extflash run on {escape(report.board)}</h1>"
        f'<p class="muted">{_ms(report.start_s)} .. {_ms(report.end_s)} virtual time, '
        f"{report.counts['calls']} loader calls, {report.counts['commands']} flash commands"
        f"</p>{_diagnosis(report)}{dropped}{_timeline(report)}{_flash_map(report.flash)}"
        f'{_wiring(report.wiring)}<div id="hover"></div><script>{SCRIPT}</script></body></html>'
    )
