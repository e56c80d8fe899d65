"""The HAL-style OCTOSPI/XSPI loaders (tests/firmware/ospi_hal) program and verify on the virtual
board through the OCTOSPI/XSPI front-ends, wired as each kit is, and the chip holds the image in
address order (octal DTR on Macronix parts included: the controller undoes the chip's swapped
byte pairs); mis-wired, they fail the way silicon would, with the wiring named."""

from __future__ import annotations

import zlib
from pathlib import Path

import ospi_hal.build as ob
import pytest

from extflash import api, diagnose, image
from extflash.errors import ExtflashError

# Every kit: quad chips in 1-4-4 and octal Macronix chips in 8-8-8 STR and 8D-8D-8D DTR with
# DQS, on OCTOSPI1/2 (through OCTOSPIM ports 1 and 2) and XSPI1/2
RUNNING = tuple(sorted(ob.KITS))
kit_board = ob.kit_board


@pytest.fixture(scope="module")
def built(build_elf):
    cache: dict[str, tuple[Path, ob.LoaderBuild]] = {}

    def get(name: str) -> tuple[Path, ob.LoaderBuild]:
        if name not in cache:
            b = ob.loader_build(ob.KITS[name], name)
            cache[name] = (build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags,
                                     ldflags=b.ldflags, cpu=b.cpu), b)
        return cache[name]

    return get


def _pattern(n: int) -> bytes:
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(n))


@pytest.mark.parametrize("name", RUNNING)
def test_hal_style_loader_programs_and_verifies(built, name):
    elf, b = built(name)
    data = _pattern(0x12345)  # a partial last sector and page
    with api.open_session(elf, board=kit_board(name, b)) as s:
        result = s.program(image.from_chunks([image.Chunk(b.window + 0x10000, data)]))
        assert result.report.verified
        assert s.read(b.window + 0x10000, 4096) == data[:4096]
        chip = s.target.board.chips[1]  # type: ignore[attr-defined]
        assert bytes(chip.memory[0x10000:0x10000 + len(data)]) == data
        assert s.checksum(b.window + 0x10000, len(data)) == zlib.crc32(data)


def test_io_line_on_another_pin_fails_with_the_wiring_named(built):
    name = "h735-w25q128"
    elf, b = built(name)
    board = kit_board(name, b, rewire={"io2": ("PF7", 10)})  # the loader routes IO2 to PE2
    session, watch = diagnose.open_session(elf, board=board)
    with pytest.raises(ExtflashError) as failure, session as s:
        s.program(image.from_chunks([image.Chunk(b.window, _pattern(4096))]))
    text = str(diagnose.explained(failure.value, watch))
    assert "OCTOSPI1" in text and "IO2" in text.upper()
