"""Host time of whole ``extflash test`` runs (the conformance test), typical chip timing.

Builds, with arm-none-eabi-gcc, the generator's loader, the HAL-style reference loader and the
community-style loader (tests/firmware/community, also with -DSOFTWARE_POLL: MassErase polls SR1
with reads of its own), runs each through the conformance test on the NUCLEO-H743ZI + W25Q128JV
virtual board and prints the wall and CPU time of the run next to the virtual time the chip
erase took (40 s typical on the W25Q128JV).

    .venv/bin/python bench/conformance_time.py [--timing typical]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "tests" / "firmware"
sys.path.insert(0, str(FIRMWARE))

from extflash import board, conformance, gen  # noqa: E402
from extflash.toolchain import find_toolchain  # noqa: E402

BOARD = "nucleo-h743zi-w25q128"
PINS = {"clk": "PB2", "bk1_ncs": "PB6", "bk1_io0": "PD11", "bk1_io1": "PD12",
        "bk1_io2": "PE2", "bk1_io3": "PD13"}
BOARD_DICT = {"mcu": "STM32H743ZI", "chip": "W25Q128JV", "bank": 1, "hse_hz": 8_000_000,
              "pins": PINS}


def _build(recipe: Any, out: Path, extra: tuple[str, ...] = ()) -> Path:
    """Build a tests/firmware loader recipe (halstyle.build / community.build)."""
    flags = [f"-mcpu={recipe.cpu}", "-mthumb", "-Os", "-ffunction-sections", "-fdata-sections",
             "-nostdlib", "-nostartfiles", *recipe.cflags, *extra]
    elf = out / f"{recipe.name}{'-'.join(('', *extra))}.elf"
    find_toolchain().build([FIRMWARE / s for s in recipe.sources], elf,
                           linker_script=FIRMWARE / recipe.linker_script, cflags=flags,
                           ldflags=[*recipe.ldflags, "-lgcc"],
                           include_dirs=[FIRMWARE / "include"], what=recipe.name)
    return elf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timing", default="typical", choices=("typical", "max", "instant"))
    args = parser.parse_args()
    import community.build as community
    import halstyle.build as halstyle

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        loaders = {
            "generated": gen.build(gen.plan_loader(board.load(BOARD)), out / "gen").stldr,
            "HAL-style": _build(halstyle.loader_build(BOARD_DICT), out),
            "community": _build(community.loader_build(BOARD_DICT), out),
            "community, own SR1 polling": _build(community.loader_build(BOARD_DICT), out,
                                                 ("-DSOFTWARE_POLL",)),
        }
        print(f"{'loader':<28} {'verdict':<8} {'wall s':>7} {'cpu s':>7} "
              f"{'chip erase (virtual)':>21}")
        for name, path in loaders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            report = conformance.run(path, BOARD, timing=args.timing)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            erase = next((c for c in report.checks if c.name == "mass-erase"), None)
            virtual = f"{erase.time_s:.3f} s" if erase and erase.time_s is not None else "-"
            verdict = "PASSED" if report.passed else "FAILED"
            print(f"{name:<28} {verdict:<8} {wall:>7.2f} {cpu:>7.2f} {virtual:>21}")


if __name__ == "__main__":
    main()
