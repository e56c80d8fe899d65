"""Planning: which sectors an image touches, and the errors raised before any erase."""

from __future__ import annotations

import pytest

from extflash.errors import ImageError
from extflash.image import Chunk, from_chunks
from extflash.plan import Sector, SectorList, geometry_from_runs, make_plan

GEOM = geometry_from_runs("W25Q128JV", 0x90000000, 16 << 20, 256, 0xFF, [(4096, 4096)])


def test_sectors_touched_and_coverage() -> None:
    img = from_chunks(
        [
            Chunk(0x90000000, b"\1" * 4096, "a"),
            Chunk(0x90001000, b"\2" * 100, "b"),
            Chunk(0x90003FF0, b"\3" * 32, "c"),
        ]
    )
    plan = make_plan(img, GEOM)
    assert [s.sector.index for s in plan.sectors] == [0, 1, 3, 4]
    assert [s.full for s in plan.sectors] == [True, False, False, False]
    assert plan.sectors[2].ranges == ((0x90003FF0, 0x90004000),)
    assert plan.sectors[3].ranges == ((0x90004000, 0x90004010),)
    assert not plan.outside.chunks


def test_image_outside_the_device_is_split_off() -> None:
    img = from_chunks(
        [Chunk(0x08000000, b"int", "internal"), Chunk(0x90000000, b"ext", "external")]
    )
    plan = make_plan(img, GEOM)
    assert plan.outside.chunks[0].address == 0x08000000
    assert plan.image.size == 3


def test_image_straddling_the_device_end() -> None:
    img = from_chunks([Chunk(0x90FFFFF0, b"x" * 32, "tail")])
    plan = make_plan(img, GEOM)
    assert plan.image.size == 16 and plan.outside.chunks[0].address == 0x91000000


def test_image_with_nothing_in_the_device() -> None:
    with pytest.raises(ImageError, match=r"no data in W25Q128JV \(0x90000000..0x90FFFFFF\)"):
        make_plan(from_chunks([Chunk(0x70000000, b"x", "y")], source="app.hex"), GEOM)


def test_mixed_sector_sizes() -> None:
    geom = geometry_from_runs("mixed", 0x90000000, 0x30000, 256, 0xFF, [(4, 0x4000), (2, 0x10000)])
    plan = make_plan(from_chunks([Chunk(0x9000FFFF, b"ab", "x")]), geom)
    assert [(s.sector.index, s.sector.address, s.sector.size) for s in plan.sectors] == [
        (3, 0x9000C000, 0x4000),
        (4, 0x90010000, 0x10000),
    ]


def test_sector_list_made_on_demand_matches_the_groups() -> None:
    """A FlashDevice's runs may leave gaps; groups that continue one another are one group."""
    sectors = SectorList([(0x1000, 2, 0x100), (0x1200, 1, 0x100), (0x2000, 3, 0x400)])
    expanded = [Sector(0, 0x1000, 0x100), Sector(1, 0x1100, 0x100), Sector(2, 0x1200, 0x100),
                Sector(3, 0x2000, 0x400), Sector(4, 0x2400, 0x400), Sector(5, 0x2800, 0x400)]
    assert list(sectors) == expanded and len(sectors) == 6
    assert [sectors[i] for i in range(-6, 6)] == expanded * 2
    assert sectors[1:5] == tuple(expanded[1:5]) and sectors[::-2] == tuple(expanded[::-2])
    for start in range(-7, 8):  # slices are made group by group: every start and stop
        for stop in range(-7, 8):
            assert sectors[start:stop] == tuple(expanded[start:stop])
    assert sectors == SectorList([(0x1000, 3, 0x100), (0x2000, 3, 0x400)])
    assert sectors != SectorList([(0x1000, 3, 0x100), (0x2000, 2, 0x400)])
    for s in expanded:
        assert sectors.index_at(s.address) == sectors.index_at(s.end - 1) == s.index
    for outside in (0xFFF, 0x1300, 0x1FFF, 0x2C00):
        assert sectors.index_at(outside) == -1
    with pytest.raises(IndexError):
        sectors[6]


def test_geometry_of_a_large_chip_finds_its_last_sector() -> None:
    geom = geometry_from_runs("MX25LM51245G", 0x90000000, 64 << 20, 256, 0xFF, [(16384, 4096)])
    assert geom.sectors[-1] == Sector(16383, 0x93FFF000, 4096)
    assert geom.sectors_in(0x93FFFFFF, 1) == [geom.sectors[-1]]
    with pytest.raises(ImageError, match="not in any sector"):
        geom.sector_index(0x94000000)
