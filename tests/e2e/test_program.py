"""Programming end to end on the virtual board, through loaders the project builds.

Every test checks the emulated chip's own bytes (``VirtualBoard.flash_contents``), not just what
the loader reports, so a loader, runner or engine that lies is caught.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from extflash import api, board
from extflash.errors import ImageError, InputError, OperationError
from extflash.image import Chunk, Image, from_chunks
from extflash.runner import STRAY_GUARD, DriverOptions

BANK2 = board.from_options(
    mcu="STM32H743ZI", chip="W25Q128JV", bank=2, pins="PB2,PC11,PE7,PE8,PE9,PE10"
)

BOARDS = {
    "weact-h743": lambda: board.load("weact-h743"),  # H7, W25Q64JV, bank 1
    "stm32f746g-disco": lambda: board.load("stm32f746g-disco"),  # F7, N25Q128A
    "stm32l476g-disco": lambda: board.load("stm32l476g-disco"),  # L4, N25Q128A
    "h743-bank2": lambda: BANK2,  # H7, W25Q128JV on bank 2
    "stm32h743i-eval": lambda: board.load("stm32h743i-eval"),  # dual-flash MT25TL01G
}


def pattern(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def app_image(base: int, seed: int = 1) -> Image:
    """Three pieces: a whole 4 KiB sector, an unaligned run across a page and a sector boundary,
    and a short tail inside a sector — so full, partial and multi-sector cases all occur."""
    return from_chunks(
        [
            Chunk(base + 0x0000, pattern(seed, 0x1000), "sector 0"),
            Chunk(base + 0x1F3D, pattern(seed + 1, 0x2345), "unaligned run"),
            Chunk(base + 0x6010, pattern(seed + 2, 0x21), "tail"),
        ],
        source="app",
    )


def touched_sectors(session: api.Session, img: Image) -> list[int]:
    """Sector indices an image covers, from the declared (uniform) sector size."""
    size = session.geometry.sectors[0].size
    assert all(x.size == size for x in session.geometry.sectors)
    base = session.geometry.start
    return sorted(
        {(a - base) // size for c in img.chunks for a in (c.address, c.end - 1)}
        | {(a - base) // size for c in img.chunks for a in range(c.address, c.end, size)}
    )


def chip_bytes(session: api.Session, address: int, size: int) -> bytes:
    vb: Any = session.target.board  # type: ignore[attr-defined]
    offset = address - session.geometry.start
    return vb.flash_contents()[offset : offset + size]


def expected_after(before: bytes, base: int, img: Image) -> bytes:
    out = bytearray(before)
    for c in img.chunks:
        out[c.address - base : c.end - base] = c.data
    return bytes(out)


@pytest.fixture(params=sorted(BOARDS))
def brd(request: pytest.FixtureRequest) -> board.Board:
    return BOARDS[request.param]()


def test_program_verify_skip_unchanged_and_read_back(brd: board.Board, gen_loader: Any) -> None:
    stldr = gen_loader(brd).stldr
    with api.open_session(stldr, board=brd) as s:
        base = s.geometry.start
        span = 0x8000
        # Fill the region first so preservation of uncovered bytes is observable.
        background = from_chunks([Chunk(base, pattern(99, span), "background")])
        s.program(background)
        before = chip_bytes(s, base, span)
        assert before == background.chunks[0].data

        img = app_image(base)
        result = s.program(img)
        r = result.report
        assert r.verified and r.image_bytes == img.size
        touched = touched_sectors(s, img)
        assert r.sectors_written == touched
        assert chip_bytes(s, base, span) == expected_after(before, base, img)

        # Same image again with skip-unchanged: nothing is erased or written.
        again = s.program(img, skip_unchanged=True).report
        assert again.sectors_skipped == touched
        assert again.sectors_erased == [] and again.sectors_written == []

        # One byte changed in sector 2 (inside the unaligned run): only sector 2 is rewritten.
        run = img.chunks[1]
        changed = bytearray(run.data)
        changed[0x2400 - 0x1F3D] ^= 0x5A
        img2 = from_chunks(
            [img.chunks[0], Chunk(run.address, bytes(changed), "run"), img.chunks[2]]
        )
        r3 = s.program(img2, skip_unchanged=True).report
        hit = 0x2400 // s.geometry.sectors[0].size
        assert r3.sectors_written == [hit]
        assert r3.sectors_skipped == [i for i in touched if i != hit]
        assert chip_bytes(s, base, span) == expected_after(before, base, img2)

        assert s.read(base + 0x1F3D, 0x100) == bytes(changed[:0x100])


def test_flm_programs_like_the_stldr(gen_loader: Any) -> None:
    brd = board.load("weact-h743")
    flm = gen_loader(brd, flm=True).flm
    with api.open_session(flm, board=brd) as s:
        assert s.driver.program.kind == "flm"
        base = s.geometry.start
        img = app_image(base, seed=7)
        r = s.program(img).report
        assert r.verified
        data = chip_bytes(s, base, 0x8000)
        for c in img.chunks:
            assert data[c.address - base : c.end - base] == c.data
        assert s.read(img.chunks[1].address, 64) == img.chunks[1].data[:64]
        assert s.program(img, skip_unchanged=True).report.sectors_written == []


def test_erase_range_chip_and_blank_check(gen_loader: Any) -> None:
    brd = board.load("weact-h743")
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        base = s.geometry.start
        s.program(from_chunks([Chunk(base, pattern(5, 0x6000), "fill")]))
        erased = s.erase(base + 0x1800, 0x1000)  # touches sectors 1 and 2
        assert [x.index for x in erased] == [1, 2]
        data = chip_bytes(s, base, 0x6000)
        assert data[0x1000:0x3000] == b"\xff" * 0x2000
        assert data[:0x1000] == pattern(5, 0x6000)[:0x1000]
        assert data[0x3000:] == pattern(5, 0x6000)[0x3000:]
        assert s.blank_check(base + 0x1000, 0x2000) is None
        assert s.blank_check(base, 0x2000) == base
        s.erase()  # MassErase
        assert chip_bytes(s, base, 0x6000) == b"\xff" * 0x6000
        assert s.blank_check() is None


def test_checksum_is_crc32_of_the_chip(gen_loader: Any) -> None:
    import zlib

    brd = board.load("weact-h743")
    opts = DriverOptions(crc_on_target=True)  # the on-target routine, not a host read
    with api.open_session(gen_loader(brd).stldr, board=brd, options=opts) as s:
        base = s.geometry.start
        data = pattern(11, 0x3000)
        s.program(from_chunks([Chunk(base + 0x10, data, "d")]))
        assert s.checksum(base + 0x10, len(data)) == zlib.crc32(data)
        assert s.checksum(base + 0x11, 100) == zlib.crc32(data[1:101])


def test_contents_persist_between_sessions(gen_loader: Any, tmp_path: Path) -> None:
    brd = board.load("weact-h743")
    flash_file = tmp_path / "chip.bin"
    stldr = gen_loader(brd).stldr
    data = pattern(3, 5000)
    with api.open_session(stldr, board=brd, flash_file=flash_file) as s:
        s.program(from_chunks([Chunk(0x90010000, data, "d")]))
    assert flash_file.exists()
    with api.open_session(stldr, board=brd, flash_file=flash_file) as s:
        assert s.read(0x90010000, len(data)) == data


# -- errors: each raised before anything is erased -----------------------------------------------


@pytest.fixture
def h743_session(gen_loader: Any) -> Any:
    brd = board.load("weact-h743")
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        base = s.geometry.start
        s.program(from_chunks([Chunk(base, pattern(8, 0x2000), "fill")]))
        yield s


def untouched(s: api.Session) -> bool:
    return chip_bytes(s, s.geometry.start, 0x2000) == pattern(8, 0x2000)


def test_image_larger_than_the_device(h743_session: api.Session) -> None:
    s = h743_session
    too_big = from_chunks([Chunk(s.geometry.start, b"\0" * (s.geometry.size + 16), "huge")])
    with pytest.raises(ImageError, match=r"outside WeAct-H743 .* and outside the internal flash"):
        s.program(too_big)
    assert untouched(s) and s.driver.calls[-1].function != "SectorErase"


def test_address_outside_the_device(h743_session: api.Session) -> None:
    s = h743_session
    with pytest.raises(ImageError, match=r"0x70000000..0x7000000F"):
        s.program(from_chunks([Chunk(0x70000000, b"x" * 16, "w")], source="w.bin"))
    with pytest.raises(ImageError, match="outside WeAct-H743"):
        s.erase(0x98000000, 0x1000)
    assert untouched(s)


def test_internal_flash_segments_are_reported_not_programmed(h743_session: api.Session) -> None:
    s = h743_session
    img = from_chunks(
        [
            Chunk(0x08000000, b"vectors", "internal"),
            Chunk(s.geometry.start + 0x4000, b"assets", "external"),
        ]
    )
    result = s.program(img)
    assert [c.address for c in result.skipped_outside] == [0x08000000]
    assert chip_bytes(s, s.geometry.start + 0x4000, 6) == b"assets"


def test_overlapping_segments_and_unreadable_images(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="overlaps"):
        from_chunks([Chunk(0x90000000, b"a" * 8, "one"), Chunk(0x90000004, b"b" * 8, "two")])
    with pytest.raises(ImageError, match="cannot read image"):
        api.load_image(tmp_path / "missing.hex")


def test_loader_missing_an_entry_point(gen_loader: Any, toolchain: Any, tmp_path: Path) -> None:
    import subprocess

    brd = board.load("weact-h743")
    stripped = tmp_path / "no-erase.stldr"
    subprocess.run(
        [
            str(toolchain.tool("objcopy")),
            "--strip-symbol=SectorErase",
            str(gen_loader(brd).stldr),
            str(stripped),
        ],
        check=True,
    )
    with pytest.raises(InputError, match="has no SectorErase entry point"):
        api.open_session(stripped, board=brd)


def test_no_room_for_the_buffer(gen_loader: Any) -> None:
    brd = board.load("weact-h743")
    opts = DriverOptions(stack_size=0x7F800)
    with pytest.raises(InputError, match="leaves no room for a 256-byte data buffer in AXI_SRAM"):
        api.open_session(gen_loader(brd).stldr, board=brd, options=opts)


def test_loader_failing_mid_way_reports_the_chip_state(
    gen_loader: Any, toolchain: Any, tmp_path: Path
) -> None:
    from extflash.gen.build import LDFLAGS, cflags
    from extflash.gen.config import plan_loader

    brd = board.load("weact-h743")
    cfg = plan_loader(brd)
    project = gen_loader(brd).project
    sources = sorted(p for p in project.glob("*.c") if p.name != "flm.c")
    shim = Path(__file__).parent.parent / "firmware" / "faulty_engine" / "write_fails_at.c"
    elf = tmp_path / "fails.stldr"
    toolchain.build(
        [*sources, shim],
        elf,
        linker_script=project / "stldr.ld",
        cflags=[*cflags(cfg), "-DWrite=generated_Write", "-DFAIL_AT=0x3000u"],
        ldflags=LDFLAGS,
        what="failing loader",
    )
    # Small buffer: several Write calls, the first ones succeed.
    with api.open_session(elf, board=brd, options=DriverOptions(buffer_size=0x1000)) as s:
        base = s.geometry.start
        img = from_chunks([Chunk(base, pattern(21, 0x5000), "app")])
        with pytest.raises(OperationError) as err:
            s.program(img)
        text = str(err.value)
        assert "Write(0x90003000, 0x1000, " in text and "returned 0x0" in text
        assert "sectors erased: 0-4; written: 0-2; erased but not yet written: 3-4" in text
        data = chip_bytes(s, base, 0x5000)
        assert data[:0x3000] == pattern(21, 0x5000)[:0x3000]
        assert data[0x3000:] == b"\xff" * 0x2000


def test_flm_verify_and_blank_check_follow_the_cmsis_convention(gen_loader: Any) -> None:
    brd = board.load("weact-h743")
    with api.open_session(gen_loader(brd, flm=True).flm, board=brd) as s:
        driver: Any = s.driver
        base = s.geometry.start
        data = pattern(31, 600)
        s.program(from_chunks([Chunk(base + 0x100, data, "d")]), verify=False)
        assert driver.verify_call(base + 0x100, data)  # returns adr + sz
        changed = bytes([data[0] ^ 1]) + data[1:]
        assert not driver.verify_call(base + 0x100, changed)
        assert driver.blank_check_call(base + 0x1000, 0x1000)  # untouched sector: blank
        assert not driver.blank_check_call(base, 0x1000)  # holds the data
        assert [c.function for c in driver.calls[-4:]] == ["Verify", "Verify", "BlankCheck",
                                                           "BlankCheck"]


def test_write_calls_end_on_sector_boundaries_when_they_hold_one(gen_loader: Any) -> None:
    """A buffer that is not a whole number of sectors (6 KiB, 4 KiB sectors): each Write call
    ends on a sector boundary, so an interrupted or failed program leaves whole sectors."""
    brd = board.load("weact-h743")
    with api.open_session(gen_loader(brd).stldr, board=brd,
                          options=DriverOptions(buffer_size=0x1800)) as s:
        base = s.geometry.start
        data = pattern(41, 0x5400)
        assert s.program(from_chunks([Chunk(base + 0x200, data, "app")])).report.verified
        writes = [(c.args[0], c.args[1]) for c in s.driver.calls if c.function == "Write"]
    # the partly covered first and last sectors are rewritten whole (their other bytes kept):
    # 24 KiB in 6 KiB calls would end mid-sector every other call
    assert writes == [(base + i * 0x1000, 0x1000) for i in range(6)]


def test_the_buffer_takes_the_ram_left_but_a_guard(gen_loader: Any) -> None:
    """As CubeProgrammer sizes its chunks by the free RAM, the data buffer takes the AXI SRAM
    left after the loader and its stack, all but the last 16 KiB (where a store is a stray write
    the diagnostics name), and a Write call (each costs an Init) carries that much."""
    brd = board.load("weact-h743")
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        lay = s.driver.layout
        beyond = lay.ram.end - (lay.buffer + lay.buffer_size)  # the guard and the CRC routine
        assert STRAY_GUARD <= beyond < STRAY_GUARD + 0x400
        base = s.geometry.start
        data = pattern(43, 1 << 20)
        assert s.program(from_chunks([Chunk(base, data, "app")])).report.verified
        sizes = [c.args[1] for c in s.driver.calls if c.function == "Write"]
    assert sizes[0] == lay.buffer_size // 0x1000 * 0x1000 > 256 << 10
    assert sum(sizes) == len(data)


def test_erase_calls_take_a_mib_of_small_sectors(gen_loader: Any) -> None:
    """Each call costs an Init: 2 MiB of 4 KiB sectors erase in two SectorErase calls of 1 MiB
    (256 sectors each)."""
    brd = board.load("weact-h743")
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        base = s.geometry.start
        data = pattern(47, 2 << 20)
        assert s.program(from_chunks([Chunk(base, data, "app")])).report.verified
        assert chip_bytes(s, base, len(data)) == data
        erases = [(c.args[0], c.args[1]) for c in s.driver.calls if c.function == "SectorErase"]
    assert erases == [(base, base + 0xFF000), (base + 0x100000, base + 0x1FF000)]


def test_verify_counts_differences_across_read_pieces(gen_loader: Any) -> None:
    """Verify reads back in buffer-sized pieces and compares each as it comes: a difference
    that spans pieces is counted whole, from its first byte."""
    brd = board.load("weact-h743")
    with api.open_session(gen_loader(brd).stldr, board=brd,
                          options=DriverOptions(buffer_size=0x1000)) as s:
        base = s.geometry.start
        data = pattern(43, 0x5000)
        img = from_chunks([Chunk(base, data, "app")])
        assert s.program(img).report.verified
        s.erase(base + 0x1000, 0x1000)
        s.erase(base + 0x3000, 0x1000)
        mismatches = s.verify(img)
    erased = data[0x1000:0x2000] + data[0x3000:0x4000]
    first = next(i for i in range(0x1000, 0x2000) if data[i] != 0xFF)
    assert [(a, m.first_address, m.differing_bytes, m.compared_bytes, m.actual)
            for a, m in mismatches] == [(base, base + first, sum(b != 0xFF for b in erased),
                                         0x5000, 0xFF)]
