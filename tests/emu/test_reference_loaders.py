"""The issue's acceptance run: a HAL-style loader (SysTick interrupts, HAL write order, byte-wise
DR) and the register-level loader from the generator both initialise, erase, program and read
back the chip on EVERY shipped board, driven by the runner as a host would drive them."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import halstyle.build as hs
import pytest

from extflash import api, board, chips
from extflash.image import Chunk, from_chunks
from shipped_boards import ALL_BOARDS, QUADSPI_BOARDS

QE = {"sr2-bit1-via-01-2byte": "sr2-bit1-01", "sr2-bit1-via-31": "sr2-bit1-31",
      "sr1-bit6": "sr1-bit6", "none": "none"}


def chip_facts(spec: chips.ChipSpec) -> Any:
    """The HAL-style loader's view of a chip, from the chip database."""
    read = next(r for r in spec.reads if r.opcode == 0xEB and r.protocol == "1-4-4")
    program = min(spec.programs, key=lambda p: ["1-1-4", "1-4-4", "1-1-1"].index(p.protocol))
    block = next(e for e in spec.erases if e.size == 0x10000)
    protect = spec.status.protect.bp_mask if spec.status.protect else 0x7C
    return hs.ChipFacts(
        spec.name, int.from_bytes(spec.jedec_id, "big"), spec.size, QE[spec.status.qe.name],
        protect, (read.opcode, read.protocol, read.mode_clocks, read.dummy_clocks),
        (program.opcode, program.protocol), int(read.max_mhz * 1e6), spec.page_size,
        (block.opcode, block.size), spec.chip_erase.opcodes[0],
        program_ms=math.ceil(spec.timing.page_program_us[1] / 1000),
        sector_erase_ms=math.ceil(block.max_ms), chip_erase_ms=math.ceil(spec.chip_erase.max_ms),
        wrsr_ms=math.ceil(spec.timing.write_status_ms[1]),
    )


def halstyle_loader(brd: board.Board, build_elf: Any, *, variant: str = "",
                    cflags: tuple[str, ...] = ()) -> Path:
    """The HAL-style loader for ``brd``; a ``variant`` adds ``cflags`` (a test variant)."""
    mem = brd.memories[0]
    desc = {"mcu": brd.mcu_name, "hse_hz": brd.hse_hz, "bank": mem.bank,
            "pins": {w.signal: (w.pin, w.af) for w in mem.wires},
            "chip": chip_facts(chips.find(mem.chip))}
    b = hs.loader_build(desc, name=f"hal-{brd.name}{variant}")
    return build_elf(b.name, b.sources, b.linker_script, cflags=(*b.cflags, *cflags),
                     ldflags=b.ldflags, cpu=b.cpu)


def image_for(base: int, sector: int) -> Any:
    rnd = random.Random(base ^ sector)
    return from_chunks([
        Chunk(base + sector, rnd.randbytes(0x1000), "4 KiB at a sector start"),
        Chunk(base + 2 * sector + 0x123, rnd.randbytes(0x1E5), "across a page boundary"),
        Chunk(base + 3 * sector - 7, rnd.randbytes(14), "across a sector boundary"),
    ], source="reference image")


# The HAL-style reference loader drives QUADSPI; the generated one runs wherever the generator
# writes loaders.
@pytest.mark.parametrize(("name", "style"), [*((n, "hal") for n in QUADSPI_BOARDS),
                                           *((n, "generated") for n in ALL_BOARDS)])
def test_loader_initialises_erases_programs_and_reads_back(
    name: str, style: str, build_elf: Any, gen_loader: Any
) -> None:
    brd = board.load(name)
    path = halstyle_loader(brd, build_elf) if style == "hal" else gen_loader(brd).stldr
    with api.open_session(path, board=brd) as s:
        base = s.geometry.start
        sector = s.geometry.sectors[0].size
        img = image_for(base, sector)
        # Partial-sector preservation is covered in tests/e2e; here every byte is the loader's.
        report = s.program(img, preserve=False).report
        assert report.verified
        vb: Any = s.target.board  # type: ignore[attr-defined]
        contents = vb.flash_contents()
        for c in img.chunks:
            assert contents[c.address - base : c.end - base] == c.data, c.origin
        # Bytes around the image stay erased.
        assert contents[:sector] == b"\xff" * sector
        # Read back through the loader's own Read(), not the memory-mapped window.
        s.driver.begin("read")
        chunk = img.chunks[1]
        assert s.driver.read_through_loader(chunk.address, len(chunk.data)) == chunk.data
        # Erase: the first image sector reads blank afterwards, the others keep their data.
        s.erase(base + sector, sector)
        contents = vb.flash_contents()
        assert contents[sector : 2 * sector] == b"\xff" * sector
        tail = img.chunks[2]
        assert contents[tail.address - base : tail.end - base] == tail.data


def test_hal_reads_go_through_the_window_once_read_and_window_agree(build_elf: Any) -> None:
    """The HAL-style loader leaves the window mapped after Init, not after Read(): the runner
    compares a first Read() with the window after an Init, then reads through the window."""
    brd = board.load("nucleo-h743zi-w25q128")
    with api.open_session(halstyle_loader(brd, build_elf), board=brd) as s:
        base = s.geometry.start
        data = random.Random(7).randbytes(0x3000)
        s.program(from_chunks([Chunk(base, data, "data")], source="test"), verify=False)
        s.driver.begin("read")
        calls: list[str] = []
        s.driver.on_call = lambda record: calls.append(record.function)  # type: ignore[attr-defined]
        assert s.driver.read(base, 0x1000) == data[:0x1000]
        assert s.driver._window_agrees is True  # type: ignore[attr-defined]
        calls.clear()
        assert s.driver.read(base + 0x1000, 0x2000) == data[0x1000:]
        assert "Read" not in calls


def test_64_kib_blocks_erase_in_calls_of_4_mib(build_elf: Any) -> None:
    """Each SectorErase call costs an Init: 64 KiB blocks go 64 to a call (4 MiB, about as long
    on the chip as the 256 4 KiB sectors a call takes of a small-sector loader), and what is
    left in one more call."""
    brd = board.load("nucleo-h743zi-w25q128")
    with api.open_session(halstyle_loader(brd, build_elf), board=brd) as s:
        base = s.geometry.start
        assert {sec.size for sec in s.geometry.sectors} == {0x10000}
        s.erase(base, (8 << 20) + 0x10000)
        erases = [(c.args[0], c.args[1]) for c in s.driver.calls if c.function == "SectorErase"]
    assert erases == [(base, base + 0x3F0000), (base + 0x400000, base + 0x7F0000),
                      (base + 0x800000, base + 0x800000)]
