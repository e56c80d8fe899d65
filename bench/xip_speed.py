"""How fast an application executes from the memory-mapped window on the virtual board.

Builds tests/firmware/xip/app.c with a compute loop (REPEAT calls of a 0..31-step Fibonacci
in the window), runs it with ``xip.run_application`` (generated boot image, QUADSPI window
served zero-copy from the chip's array) and prints the executed instructions, the wall time of
the run (boot build excluded) and millions of instructions per wall second.

    .venv/bin/python bench/xip_speed.py [--board weact-h743] [--repeat 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from extflash import board
from extflash.gen.boot import build_boot
from extflash.toolchain import find_toolchain
from extflash.xip import prepare, run_prepared

FIRMWARE = Path(__file__).resolve().parents[1] / "tests" / "firmware" / "xip"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="weact-h743")
    parser.add_argument("--repeat", type=int, default=200_000)
    args = parser.parse_args()
    brd = board.load(args.board)
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app.elf"
        find_toolchain().build(
            [FIRMWARE / "app.c"], app, linker_script=FIRMWARE / "app.ld",
            cflags=["-mcpu=cortex-m7", "-mthumb", "-Os", "-nostdlib", "-nostartfiles",
                    f"-DREPEAT={args.repeat}u"], ldflags=["-lgcc"])
        boot = build_boot(brd, Path(tmp) / "boot.elf").elf
        prepared = prepare(brd, app, boot=boot, on_output=lambda source, text: None)
        start = time.perf_counter()
        outcome = run_prepared(prepared, timeout_s=600)
        wall = time.perf_counter() - start
    assert outcome.reason == "exit", outcome.message
    print(f"{args.board}: {outcome.instructions:,} instructions from the window in "
          f"{wall:.2f} s wall ({outcome.seconds * 1e3:.1f} ms virtual): "
          f"{outcome.instructions / wall / 1e6:.1f} MIPS")


if __name__ == "__main__":
    main()
