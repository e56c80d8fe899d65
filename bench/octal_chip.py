"""NOR model speed for octal frames: what a controller pays per SpiCommand in 8D-8D-8D.

Drives an MX25LM51245G model directly (no CPU, no controller): page programs of 256 bytes and
array reads of 4 KiB / 64 KiB in 8D, against the same work in 1S-1S-1S. Prints MB/s per case.

    .venv/bin/python bench/octal_chip.py [--mib 4]
"""

from __future__ import annotations

import argparse
import random
import time

from extflash import chips
from extflash.emu.clock import VirtualClock
from extflash.emu.flash.nor import NorFlash
from extflash.emu.spi import SpiCommand

CHIP = "MX25LM51245G"


def octal(chip: NorFlash, opcode: int, **kw: object) -> SpiCommand:
    octal_spec = chip.spec.octal
    assert octal_spec is not None
    address = kw.pop("address", None)
    return SpiCommand(octal_spec.opcode_pair(opcode), instruction_lines=8, instruction_bytes=2,
                      instruction_dtr=True, address=address,  # type: ignore[arg-type]
                      address_bytes=4 if address is not None else 0,
                      address_lines=8 if address is not None else 0, address_dtr=True, ddr=True,
                      **kw)  # type: ignore[arg-type]


def spi(opcode: int, **kw: object) -> SpiCommand:
    address = kw.pop("address", None)
    return SpiCommand(opcode, address=address,  # type: ignore[arg-type]
                      address_bytes=4 if address is not None else 0,
                      address_lines=1 if address is not None else 0, **kw)  # type: ignore[arg-type]


def enter_8d(chip: NorFlash) -> None:
    for address, value in ((0x300, 0x07), (0x0, 0x02)):  # DC: 6 clocks, then DOPI
        chip.transfer(SpiCommand(0x06))
        chip.transfer(spi(0x72, address=address, data_lines=1, write_data=bytes([value])))
    assert chip.protocol == "8D"


def timed(label: str, nbytes: int, work: list[SpiCommand], chip: NorFlash) -> None:
    start = time.perf_counter()
    for cmd in work:
        chip.transfer(cmd)
    seconds = time.perf_counter() - start
    print(f"{label:<34} {nbytes / seconds / 1e6:8.2f} MB/s  ({len(work)} commands)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=4)
    args = parser.parse_args()
    size = args.mib << 20
    data = random.Random(1).randbytes(size)
    for mode in ("1S-1S-1S", "8D-8D-8D"):
        chip = NorFlash(chips.find(CHIP), VirtualClock(100_000_000), timing="instant")
        dtr = mode == "8D-8D-8D"
        if dtr:
            enter_8d(chip)
        wren = octal(chip, 0x06) if dtr else SpiCommand(0x06)
        work = []
        for page in range(0, size, 256):
            block = data[page : page + 256]
            work.append(wren)
            work.append(octal(chip, 0x12, address=page, data_lines=8, write_data=block) if dtr
                        else spi(0x12, address=page, data_lines=1, write_data=block))
        timed(f"{mode} page program 256 B", size, work, chip)
        for chunk in (4096, 65536):
            reads = [octal(chip, 0xEE, address=a, dummy_cycles=6, data_lines=8, dqs=True,
                           read_length=chunk) if dtr
                     else spi(0x0C, address=a, dummy_cycles=8, data_lines=1, read_length=chunk)
                     for a in range(0, size, chunk)]
            timed(f"{mode} read {chunk // 1024} KiB", size, reads, chip)


if __name__ == "__main__":
    main()
