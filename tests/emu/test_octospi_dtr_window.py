"""The memory-mapped window of an OCTOSPI in octal DTR (8D-8D-8D) with a Macronix OPI chip:
every clock carries two bytes, so byte and odd-address reads come from whole 16-bit words, and
the bytes come out in address order only when DCR1.MTYP undoes the chip's swapped pairs."""

from __future__ import annotations

import pytest
from test_octospi import DCR1, DR, FMODE_MAPPED, WCCR, WIR, Rig, ccr

MTYP_MICRON, MTYP_MACRONIX = 0b000, 0b001
DATA = bytes(range(0x11, 0x19))


def dopi_rig(mtyp: int, *, write_set: bool = False) -> Rig:
    """An MX25LM51245G put in 8D by its own CR2 write (WREN, 72h @0 = 02h), then the window
    mapped with the 8D read EE11h and the chip's default 20 dummy clocks (``write_set``: with
    the 8D page program 12EDh as the memory-mapped write set, as HAL-style loaders leave it,
    so every access is decoded)."""
    rig = Rig(chip="MX25LM51245G")
    rig.w(DCR1, mtyp << 24 | 25 << 16 | 1 << 8)  # MTYP, 64 MiB, CSHT 2 cycles
    rig.chip.memory[: len(DATA)] = DATA
    rig.wren()
    rig.command(0x72, address=0, adsize=3, dl=0, dmode=1)
    rig.w(DR, 0x02, 1)
    rig.wait_idle()
    assert rig.chip.octal is not None and rig.chip.octal.state == "8D"
    rig.command(0xEE11, address=0, imode=4, isize=1, idtr=True, admode=4, adsize=3, addtr=True,
                dmode=4, ddtr=True, dqse=True, dcyc=20)
    if write_set:
        rig.w(WCCR, ccr(imode=4, isize=1, idtr=True, admode=4, adsize=3, addtr=True, dmode=4,
                        ddtr=True))
        rig.w(WIR, 0x12ED)
    rig.fmode(FMODE_MAPPED)
    assert rig.o.mapped
    return rig


@pytest.mark.parametrize("write_set", [False, True], ids=["zero-copy", "decoded"])
def test_macronix_mode_reads_every_byte_in_address_order(write_set: bool):
    rig = dopi_rig(MTYP_MACRONIX, write_set=write_set)
    assert rig.o.mapped_exact
    window = rig.o.window
    assert window.read(0, 8) == DATA  # type: ignore[attr-defined]
    for offset in range(7):  # LDRB anywhere, LDRH at odd addresses
        assert window.read(offset, 1) == DATA[offset : offset + 1]  # type: ignore[attr-defined]
        assert window.read(offset, 2) == DATA[offset : offset + 2]  # type: ignore[attr-defined]


def test_micron_mode_on_a_macronix_chip_shows_swapped_pairs():
    rig = dopi_rig(MTYP_MICRON)
    swapped = bytes(DATA[i ^ 1] for i in range(len(DATA)))
    assert rig.o.window.read(0, 8) == swapped  # type: ignore[attr-defined]
    assert rig.o.window.read(1, 1) == swapped[1:2]  # type: ignore[attr-defined]
    assert not rig.o.mapped_exact
