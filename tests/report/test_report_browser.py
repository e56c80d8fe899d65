"""The reports open in a real headless browser (Debian's chromium, installed by
scripts/bootstrap.sh): the page's script runs to the end without an error, and a screenshot shows
something. The passing run's screenshot is the README's picture: EXTFLASH_UPDATE_DOCS=1 writes it
to docs/images/report.png."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

DOCS_IMAGE = Path(__file__).parents[2] / "docs" / "images" / "report.png"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,1000"]


def _chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is not installed (scripts/bootstrap.sh installs it)"
    return path


def _browser(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_chromium(), *FLAGS, "--enable-logging=stderr", "--v=0", *args,
                           page.as_uri()], capture_output=True, text=True, timeout=60)


def _pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the RGB(A) rows of an 8-bit PNG (unfiltered: PNG spec section 9)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


PAGES = ["passing", "wiring_failure", "hang", "app_run"]
# a colour each page must show: the call row's blue or a failed call's red; for a run the
# mapped window's purples
MARKS = {"app_run": {b"\xe8\xda\xef", b"\xd2\xb4\xde", b"\xa5\x69\xbd", b"\x8e\x44\xad"}}
CALLS = {b"\x5d\x8a\xa8", b"\xc0\x39\x2b"}


@pytest.mark.parametrize("run", PAGES)
def test_page_loads_without_script_errors(run, request):
    page = request.getfixturevalue(run).report_path
    result = _browser(page, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert '<body data-ready="1">' in result.stdout  # the inline script ran to its end
    assert "Uncaught" not in result.stderr


@pytest.mark.parametrize("run", PAGES)
def test_screenshot_is_not_blank(run, request, tmp_path):
    page = request.getfixturevalue(run).report_path
    shot = tmp_path / "page.png"
    result = _browser(page, f"--screenshot={shot}")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    width, height, rows = _pixels(shot.read_bytes())
    assert (width, height) == (1280, 1000)
    bpp = len(rows[0]) // width
    colours = {row[x:x + 3] for row in rows[::4] for x in range(0, len(row), bpp * 4)}
    assert len(colours) > 20  # text, bars and tables, not an empty page
    assert colours & MARKS.get(run, CALLS)  # the timeline's bars are on screen
    if run == "passing" and os.environ.get("EXTFLASH_UPDATE_DOCS"):
        shutil.copyfile(shot, DOCS_IMAGE)
