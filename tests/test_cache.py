"""The parsed-data cache: the same data as tomllib, an edited text parsed anew, and a cache that
is damaged or cannot be written passed by."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from extflash import cache, chips, mcu

TEXT = 'name = "x"\nsizes = [1, 2, 0x10]\n[part]\nflag = true\nratio = 0.5\n'


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "extflash" / "data"


def test_parsed_once_then_read_back(own_cache: Path) -> None:
    first = cache.parse_toml(TEXT)
    assert first == tomllib.loads(TEXT)
    assert len(list(own_cache.iterdir())) == 1
    assert cache.parse_toml(TEXT) == first
    edited = TEXT.replace("0.5", "0.25")
    assert cache.parse_toml(edited)["part"]["ratio"] == 0.25
    assert len(list(own_cache.iterdir())) == 2


def test_a_damaged_entry_is_parsed_again_and_replaced(own_cache: Path) -> None:
    cache.parse_toml(TEXT)
    (entry,) = own_cache.iterdir()
    entry.write_bytes(b"\x00garbage")
    assert cache.parse_toml(TEXT) == tomllib.loads(TEXT)
    assert cache.parse_toml(TEXT) == tomllib.loads(TEXT)  # from the rewritten entry


def test_an_unwritable_cache_is_passed_by(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert cache.parse_toml(TEXT) == tomllib.loads(TEXT)


def test_dates_are_not_cached(own_cache: Path) -> None:
    text = "when = 2026-12-06\n"
    assert cache.parse_toml(text) == tomllib.loads(text)
    assert not own_cache.exists() or not list(own_cache.iterdir())


def test_invalid_toml_raises_with_the_parsers_message() -> None:
    with pytest.raises(cache.TomlError) as caught:
        cache.parse_toml("name = \n")
    assert isinstance(caught.value.__cause__, tomllib.TOMLDecodeError)
    assert str(caught.value) == str(caught.value.__cause__)


def test_shipped_data_reads_the_same_through_the_cache(own_cache: Path) -> None:
    mcu.families.cache_clear()
    chips._load_entry.cache_clear()
    try:
        parsed = mcu.families()
        chip = chips.find("W25Q128JV")
        mcu.families.cache_clear()
        chips._load_entry.cache_clear()
        assert list(own_cache.iterdir())
        assert mcu.families() == parsed  # now read back from the cache
        assert chips.find("W25Q128JV") == chip
    finally:
        mcu.families.cache_clear()
        chips._load_entry.cache_clear()


def test_a_parts_pin_rows_are_read_back_from_the_cache(
        own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mcu._pin_rows.cache_clear()
    try:
        parsed = mcu._pin_rows("stm32h735")
        assert parsed and all(r.part_group.startswith("stm32h735") for r in parsed)
        other = mcu._pin_rows("stm32h743")
        assert other and other != parsed
        mcu._pin_rows.cache_clear()
        monkeypatch.setattr(mcu.csv, "DictReader", None)  # the table is not parsed again
        assert mcu._pin_rows("stm32h735") == parsed
        assert mcu._pin_rows("stm32h743") == other
    finally:
        mcu._pin_rows.cache_clear()
