"""OCTOSPI/XSPI through the CLI as a user runs it: ``extflash program … --verify`` and
``extflash read`` in new processes, default timing and diagnostics, with the HAL-style test
loaders of tests/firmware/ospi_hal (byte-wise DR with FTF polling, auto-polling, SysTick tick)
and their register-level (word-wise) variants, on boards given inline (--mcu/--chip/--pins).

    .venv/bin/python bench/ospi_cli_speed.py [--mib 4] [--kit NAME ...]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "tests" / "firmware"
sys.path[:0] = [str(ROOT / "bench"), str(FIRMWARE)]

import ospi_hal.build as ob  # noqa: E402
from cli_speed import cli_timed  # noqa: E402

from extflash.toolchain import find_toolchain  # noqa: E402

KITS = ("h735-w25q128", "h735-w25q128-ll", "h7r7-w25q128-xspi1", "h7b3-mx25lm-dtr",
        "h7s7-mx66uw-dtr-xspi2")


def build(name: str, out: Path) -> tuple[Path, ob.LoaderBuild]:
    b = ob.loader_build(ob.KITS[name], name)
    elf = out / f"{name}.elf"
    flags = [f"-mcpu={b.cpu}", "-mthumb", "-Os", "-ffunction-sections", "-fdata-sections",
             "-nostdlib", "-nostartfiles", *b.cflags]
    find_toolchain().build([FIRMWARE / s for s in b.sources], elf,
                           linker_script=FIRMWARE / b.linker_script, cflags=flags,
                           ldflags=[*b.ldflags, "-lgcc"], include_dirs=[FIRMWARE / "include"],
                           what=name)
    return elf, b


def pins(b: ob.LoaderBuild) -> str:
    """The loader's pins as the CLI's named --pins form."""
    signals = [*(ob.QUAD_SIGNALS if b.mode == "quad" else ob.OCTAL_SIGNALS),
               *(("dqs",) if b.mode == "dtr" else ())]
    return ",".join(f"{s}=P{chr(ord('A') + port)}{number}"
                    for s, (port, number, _af) in zip(signals, b.pins, strict=True))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=4)
    ap.add_argument("--kit", action="append", choices=sorted(ob.KITS))
    args = ap.parse_args(argv)
    size = args.mib << 20
    data = random.Random(1).randbytes(size)
    print(f"OCTOSPI/XSPI through the CLI, {args.mib} MiB, typical chip timing")
    print(f"{'kit':<24} {'operation':<22} {'wall s':>7} {'CPU s':>6} {'MB/CPU s':>8} "
          f"{'virtual s':>9}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        image = tmp / "image.bin"
        image.write_bytes(data)
        for name in args.kit or KITS:
            elf, b = build(name, tmp)
            kit = ob.KITS[name]
            where = ["-l", str(elf), "--mcu", kit["mcu"], "--chip", kit["chip"],
                     "--pins", pins(b), "--flash-file", str(tmp / f"{name}.chip"), "-q"]
            wall, cpu, res = cli_timed(["program", *where, "--address", hex(b.window),
                                        "--verify", str(image)])
            assert res["verified"], res
            print(f"{name:<24} {'program+verify':<22} {wall:7.2f} {cpu:6.2f} "
                  f"{size / cpu / 1e6:8.2f} {res['target_time_s']:9.3f}")
            out = tmp / "back.bin"
            wall, cpu, _ = cli_timed(["read", *where, "--address", hex(b.window), "--size",
                                      str(size), "-o", str(out)])
            assert out.read_bytes() == data
            print(f"{name:<24} {'read':<22} {wall:7.2f} {cpu:6.2f} {size / cpu / 1e6:8.2f} "
                  f"{'-':>9}")


if __name__ == "__main__":
    main()
