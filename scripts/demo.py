"""The main job on the virtual board, with no hardware: ``make demo``.

1. Build an external loader from extflash's own sources for a shipped board (WeAct STM32H743
   core board with a W25Q64JV on QUADSPI bank 1).
2. Inspect and lint it (``extflash info``, ``extflash lint``).
3. Build the example application (``examples/app``): code in internal flash, assets and
   execute-in-place code in QSPI flash.
4. Program it into the virtual board's flash chip, verify, read back, and program again with
   ``--skip-unchanged``. The chip's contents live in ``out/demo/chip.bin`` between commands.

Each step runs the real ``extflash`` command and shows it, so the output doubles as a tutorial.
"""

from __future__ import annotations

import filecmp
import shlex
import subprocess
import sys
from pathlib import Path

from extflash import board, gen
from extflash.toolchain import find_toolchain

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "demo"
BOARD = "weact-h743"
EXTFLASH = str(Path(sys.executable).with_name("extflash"))


def step(title: str) -> None:
    print(f"\n== {title}")


def run(*args: str, expect: int = 0) -> str:
    shown = ["extflash", *(a.replace(str(ROOT) + "/", "") for a in args)]
    print("$ " + " ".join(shlex.quote(a) for a in shown))
    proc = subprocess.run([EXTFLASH, *args], capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stderr)
    sys.stdout.write(proc.stdout)
    if proc.returncode != expect:
        raise SystemExit(f"demo: 'extflash {args[0]}' exited with {proc.returncode}")
    return proc.stdout


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    chip = OUT / "chip.bin"
    chip.unlink(missing_ok=True)
    chip.with_suffix(".bin.bank2").unlink(missing_ok=True)

    step(f"Build an external loader for the {BOARD} board from extflash's own C sources")
    brd = board.load(BOARD)
    result = gen.build(gen.plan_loader(brd), OUT / "loader.stldr")
    print(f"built {result.stldr.relative_to(ROOT)}: {result.size.code} bytes of code, "
          f"{result.size.data + result.size.bss} bytes of data (C project in "
          f"{result.project.relative_to(ROOT)})")
    loader = str(result.stldr)

    step("Inspect and lint the loader")
    run("info", loader)
    run("lint", loader, "--mcu", brd.mcu_name)

    step("Build the example application (examples/app)")
    app = OUT / "app.elf"
    find_toolchain().build(
        [ROOT / "examples" / "app" / "app.c"], app,
        linker_script=ROOT / "examples" / "app" / "app.ld",
        cflags=["-mcpu=cortex-m7", "-mthumb", "-Os", "-nostdlib", "-nostartfiles", "-Wall"],
        what="the example application",
    )
    print(f"built {app.relative_to(ROOT)}")

    target = ["--loader", loader, "--board", BOARD, "--flash-file", str(chip)]
    step("Program its external-flash part into the virtual board, and verify")
    run("program", str(app), *target)

    step("Read the first 4 KiB back in a separate command and compare with a fresh verify")
    back = OUT / "readback.bin"
    run("read", "--address", "0x90000000", "--size", "4096", "-o", str(back), *target, "-q")
    run("verify", str(app), *target, "-q")

    step("Program again with --skip-unchanged: nothing to do")
    run("program", str(app), "--skip-unchanged", *target)

    step("CRC-32 of the programmed range")
    run("checksum", "--address", "0x90000000", "--size", "0x9920", *target, "-q")

    assert back.exists() and not filecmp.cmp(back, app, shallow=False)
    print(f"\ndemo done: the virtual chip's contents are in {chip.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
