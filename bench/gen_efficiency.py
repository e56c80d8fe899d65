"""How close generated loaders come to the chip's physical limit.

For each board: build the generator's loader, program 1 MiB (erase + write, no verify) on the
virtual board with datasheet-typical chip timing, and compare the virtual time the loader calls
took with the chip's own minimum for the same work (extflash.gen.speed: one 64 KiB block erase
per block plus one page program per page, at the datasheet's typical times). The write ratio
compares the Write calls alone with the chip's page-program time for the same pages.

OCTOSPI/XSPI boards are described inline (ST kit wiring: H735G-DK, H7S78-DK, B-U585I-IOT02A,
H573I-DK and a W25Q128JV on the H7R7's XSPI1 port 1); octal chips run 8D-8D-8D with DQS.

    .venv/bin/python bench/gen_efficiency.py [--mib 1] [--only NAME]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from extflash import board, gen
from extflash.gen import speed

BOARDS = [
    "weact-h743",
    "nucleo-h743zi-w25q128",
    "stm32f746g-disco",
    "stm32f769i-disco",
    "stm32l476g-disco",
    "b-l475e-iot01a",
    "stm32h743i-eval",
    "stm32h747i-disco",
]


# name -> (MCU, chip, pins as --pins takes them)
INLINE = {
    "h7r7-xspi1-quad": ("STM32H7R7I8T6", "W25Q128JV", "PO4,PO0,PP0,PP1,PP2,PP3"),
    "h735g-dk-octal": ("STM32H735IG", "MX25LM51245G",
                       "clk=PF10,ncs=PG6,io0=PD11,io1=PD12,io2=PE2,io3=PD13,io4=PD4,io5=PD5,"
                       "io6=PG9,io7=PD7,dqs=PB2"),
    "h735-octospi-quad": ("STM32H735IG", "W25Q128JV",
                          "clk=PF10,ncs=PG6,io0=PD11,io1=PD12,io2=PE2,io3=PD13"),
    "h7s78-dk-octal": ("STM32H7S7L8", "MX66UW1G45G",
                       "clk=PN6,ncs=PN1,dqs=PN0,io0=PN2,io1=PN3,io2=PN4,io3=PN5,io4=PN8,"
                       "io5=PN9,io6=PN10,io7=PN11"),
    "b-u585i-iot02a-octal": ("STM32U585AI", "MX25LM51245G",
                             "clk=PF4,ncs=PI5,dqs=PF12,io0=PF0,io1=PF1,io2=PF2,io3=PF3,io4=PH9,"
                             "io5=PH10,io6=PH11,io7=PH12"),
    "h573i-dk-octal": ("STM32H573II", "MX25LM51245G",
                       "clk=PF10,ncs=PG6,dqs=PB2,io0=PB1,io1=PD12,io2=PC2,io3=PD13,io4=PH2,"
                       "io5=PH3,io6=PG9,io7=PC0"),
}


def load_board(name: str) -> board.Board:
    if name in INLINE:
        mcu, chip, pins = INLINE[name]
        return board.from_options(mcu=mcu, chip=chip, pins=pins, name=name)
    return board.load(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1)
    parser.add_argument("--only", action="append", help="a board name (repeatable)")
    args = parser.parse_args()
    size = args.mib << 20
    print(f"generated loaders: program {args.mib} MiB (erase + write), typical chip timing")
    print(f"{'board':<24} {'chip':<14} {'loader B':>9} {'virtual s':>10} {'chip min s':>11} "
          f"{'ratio':>6} {'write':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or [*BOARDS, *INLINE]:
            brd = load_board(name)
            mem = brd.memories[0]
            built = gen.build(gen.plan_loader(brd), Path(tmp) / name)
            sp = speed.measure(built.stldr, brd, size)
            chip = mem.chip + ("x2" if mem.bank == "dual" else "")
            print(f"{name:<24} {chip:<14} {built.size.code + built.size.data:>9} "
                  f"{sp.virtual_s:>10.3f} {sp.chip_min_s:>11.3f} {sp.ratio:>6.2f} "
                  f"{sp.write_ratio:>6.2f}", flush=True)

if __name__ == "__main__":
    main()
