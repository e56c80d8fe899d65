"""What the CPU engine alone allows: unicorn running the byte loop of a HAL-style indirect write
(bench/floor/loop.c: wait for FTF with a tick timeout, one byte into DR), with the controller's
registers served by C callbacks that do nothing else. No Python, no chip, no virtual time: the
fastest any loader written this way can be programmed on a unicorn-based virtual board.

Variants: plain ``emu_start``; with ``count=`` (unicorn's per-instruction counter, what gives
the machine exact virtual time); with a per-instruction code hook (instructions per byte); with
a per-block hook. Each at unicorn's default 1 KiB target pages and at 256-byte pages (the
loop's .bss is 0x380 bytes past its code: the same 1 KiB page, another 256-byte page).

    .venv/bin/python bench/engine_floor.py [--bytes 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import unicorn

from extflash.toolchain import find_toolchain

HERE = Path(__file__).resolve().parent / "floor"
VARIANTS = (("plain", 0), ("count=", 1), ("code hook", 2), ("block hook", 3))
PAGES = ((1024, 0), (256, 256))


def build(out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    tc = find_toolchain()
    elf = tc.build([HERE / "loop.c"], out / "loop.elf", linker_script=HERE / "loop.ld",
                   cflags=["-mcpu=cortex-m7", "-mthumb", "-Os", "-nostdlib", "-ffreestanding"],
                   what="engine floor loop")
    image = out / "loop.bin"
    subprocess.run([str(tc.tool("objcopy")), "-O", "binary", str(elf), str(image)], check=True)
    package = Path(unicorn.__file__).resolve().parent
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("no host C compiler (cc/gcc)")
    harness = out / "floor"
    subprocess.run([cc, "-O2", str(HERE / "floor.c"), "-o", str(harness),
                    "-I", str(package / "include"), "-L", str(package / "lib"),
                    "-l:libunicorn.so.2", f"-Wl,-rpath,{package / 'lib'}"], check=True)
    return harness, image


def measure(harness: Path, image: Path, nbytes: int, mode: int, page: int,
            runs: int) -> tuple[float, int]:
    best, instructions = float("inf"), 0
    for _ in range(runs):
        out = subprocess.run([str(harness), str(image), str(nbytes), str(mode), str(page)],
                             capture_output=True, text=True, check=False)
        fields = out.stdout.split()
        if out.returncode != 0 or len(fields) < 6:
            raise SystemExit(f"engine floor run failed: {out.stdout}{out.stderr}")
        best = min(best, float(fields[-4]))
        instructions = int(fields[-2])
    return best, instructions


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="best of N (default 3)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        harness, image = build(Path(tmp))
        rows = []
        per_byte = 0.0
        for label, mode in VARIANTS:
            for page_label, page in PAGES:
                ns, count = measure(harness, image, args.bytes, mode, page, args.runs)
                if count:
                    per_byte = count / args.bytes
                rows.append((label, page_label, ns))
    print(f"unicorn {unicorn.__version__}: HAL-style byte loop, {args.bytes} bytes, "
          f"{per_byte:.0f} instructions and 2 register accesses per byte, best of {args.runs}")
    print(f"{'variant':<12} {'page':>5} {'ns/byte':>8} {'MB/s ceiling':>13}")
    for label, page_label, ns in rows:
        print(f"{label:<12} {page_label:>5} {ns:8.1f} {1e3 / ns:13.2f}")
    print("MB/s ceiling: the program rate of this loop alone (no verify, no chip, no Python). "
          "A full HAL-style loader runs about 31 instructions per byte.")


if __name__ == "__main__":
    sys.exit(main())
