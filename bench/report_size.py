"""The HTML report of a large program: ``extflash program IMAGE --report run.html`` of an N MiB
image (default 16) on the virtual NUCLEO-H743ZI with the register-level test loader, through
the command line as a user runs it. Prints the program's wall time with and without --report,
the page's size and its marks (SVG rects), and the time headless chromium takes to load the page
and run its script (``--dump-dom``), against the same browser loading an empty page.

    .venv/bin/python bench/report_size.py [--mib 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench")]

from cli_speed import EXTFLASH, REGISTER_LEVEL_BOARD, build_register_level  # noqa: E402

BROWSER = ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"]


def program(loader: Path, image: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([*EXTFLASH, "program", str(image), "--address", "0x90000000", "-l",
                    str(loader), "--board", REGISTER_LEVEL_BOARD, "-q", *extra], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def load_s(page: Path, runs: int) -> float:
    """Median wall time of headless chromium loading ``page`` to the end of its script."""
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (scripts/bootstrap.sh installs it)")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([chromium, *BROWSER, page.as_uri()], capture_output=True,
                             text=True, check=True, timeout=120)
        times.append(time.perf_counter() - start)
        if "<html" not in out.stdout:
            raise SystemExit(f"chromium did not load {page}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3, help="browser loads per page (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="extflash-report-bench-") as tmp:
        out = Path(tmp)
        loader = build_register_level(out)
        image = out / "image.bin"
        image.write_bytes(random.Random(1).randbytes(args.mib << 20))
        plain_s = program(loader, image)
        page = out / "run.html"
        report_s = program(loader, image, "--report", str(page))
        html = page.read_text(encoding="utf-8")
        blank = out / "blank.html"
        blank.write_text("<!DOCTYPE html><html><body>blank</body></html>", encoding="utf-8")
        blank_s, page_s = load_s(blank, args.runs), load_s(page, args.runs)
        print(f"program {args.mib} MiB on {REGISTER_LEVEL_BOARD}: {plain_s:.1f} s, "
              f"{report_s:.1f} s with --report")
        print(f"page: {len(html.encode()) / 1e6:.2f} MB, {html.count('<rect')} rects")
        print(f"chromium --headless: {page_s:.2f} s to load the page and run its script "
              f"({blank_s:.2f} s for an empty page, {page_s - blank_s:.2f} s for the report)")


if __name__ == "__main__":
    main()
