"""What the CPU engine alone allows: unicorn running the byte loop of a HAL-style indirect write
(bench/floor/loop.c: wait for FTF with a tick timeout, one byte into DR), with the controller's
registers served by C callbacks that do nothing else. No Python, no chip, no virtual time: the
fastest any loader written this way can be programmed on a unicorn-based virtual board.

Variants: plain ``emu_start``; with ``count=`` (unicorn's per-instruction counter, what gives
the machine exact virtual time); with a per-instruction code hook (instructions per byte); with
a per-block hook; with a per-block hook and a memory hook on the registers whose callbacks read
the PC (what counting per block needs for an access's exact position: without a memory hook
unicorn 2.1.4 leaves the PC at the start of the translated block during an MMIO callback, and
any memory hook sends every access, RAM included, through its slow path). Each at unicorn's
default 1 KiB target pages and at 256-byte pages (the loop's .bss is 0x380 bytes past its code:
the same 1 KiB page, another 256-byte page).

With ``--plain-registers`` it also runs the loop with the controller's registers as plain
memory (SR reads FTF set, DR writes go nowhere), on unicorn with and without the count and, when
the ``icicle-emu`` package is installed (it is not a dependency: ``pip install icicle-emu``), on
icicle-emu's ``thumbv7m`` JIT, which counts instructions itself. Its Python binding has no
memory-mapped I/O callbacks, so this is as close as the two engines can be compared.

    .venv/bin/python bench/engine_floor.py [--bytes 1000000] [--runs 3] [--plain-registers]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import unicorn

from extflash.toolchain import find_toolchain

HERE = Path(__file__).resolve().parent / "floor"
VARIANTS = (("plain", 0), ("count=", 1), ("code hook", 2), ("block hook", 3),
            ("block+mem hook", 4))
PAGES = ((1024, 0), (256, 256))
CODE, DATA, RETURN, QSPI = 0x24000000, 0x24100000, 0x24080000, 0x52005000  # as floor/floor.c


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
            runs: int, plain: bool = False) -> tuple[float, int]:
    best, instructions = float("inf"), 0
    for _ in range(runs):
        out = subprocess.run([str(harness), str(image), str(nbytes), str(mode), str(page),
                              *(["ram"] if plain else [])],
                             capture_output=True, text=True, check=False)
        fields = out.stdout.split()
        if out.returncode != 0 or len(fields) < 6:
            raise SystemExit(f"engine floor run failed: {out.stdout}{out.stderr}")
        best = min(best, float(fields[-4]))
        instructions = int(fields[-2])
    return best, instructions


def measure_icicle(image: Path, nbytes: int, runs: int) -> tuple[float, int] | None:
    """ns per byte and instructions per byte on icicle-emu (registers as plain memory); None
    when the package is not installed."""
    try:
        import icicle  # type: ignore[import-not-found]
    except ImportError:
        return None
    code = image.read_bytes()
    best, count = float("inf"), 0
    for _ in range(runs):
        vm = icicle.Icicle("thumbv7m")
        vm.mem_map(CODE, 0x200000, icicle.MemoryProtection.ExecuteReadWrite)
        vm.mem_map(QSPI & ~0xFFF, 0x1000, icicle.MemoryProtection.ReadWrite)
        vm.mem_write(CODE, code)
        vm.mem_write(QSPI + 0x08, (4).to_bytes(4, "little"))  # SR: FTF
        for reg, value in (("r0", DATA), ("r1", nbytes), ("sp", 0x24090000),
                           ("lr", RETURN | 1), ("pc", CODE)):
            vm.reg_write(reg, value)
        vm.add_breakpoint(RETURN)
        start = time.perf_counter()
        status = vm.run()
        elapsed = time.perf_counter() - start
        if vm.pc != RETURN or vm.reg_read("r0") != 0:
            raise SystemExit(f"icicle-emu run failed: {status}, pc 0x{vm.pc:08X}")
        best, count = min(best, elapsed * 1e9 / nbytes), vm.icount
    return best, count


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bytes", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="best of N (default 3)")
    ap.add_argument("--plain-registers", action="store_true",
                    help="also run with the registers as plain memory (and icicle-emu)")
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
        if args.plain_registers:
            for label, mode in VARIANTS[:2]:
                ns, _ = measure(harness, image, args.bytes, mode, 256, args.runs, plain=True)
                rows.append((f"{label} (registers as RAM)", "256", ns))
            found = measure_icicle(image, args.bytes, args.runs)
            rows.append(("icicle-emu (registers as RAM, exact count)", "-", found[0])
                        if found else ("icicle-emu: not installed", "-", float("nan")))
    print(f"unicorn {unicorn.__version__}: HAL-style byte loop, {args.bytes} bytes, "
          f"{per_byte:.0f} instructions and 2 register accesses per byte, best of {args.runs}")
    width = max(len(label) for label, _, _ in rows)
    print(f"{'variant':<{width}} {'page':>5} {'ns/byte':>8} {'MB/s ceiling':>13}")
    for label, page_label, ns in rows:
        print(f"{label:<{width}} {page_label:>5} {ns:8.1f} {1e3 / ns:13.2f}")
    print("MB/s ceiling: the program rate of this loop alone (no verify, no chip, no Python). "
          "A full HAL-style loader runs about 31 instructions per byte.")


if __name__ == "__main__":
    sys.exit(main())
