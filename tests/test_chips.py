"""The chip database: every data file loads, is consistent and cites its sources."""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from extflash import chips
from extflash.errors import ConfigError

REQUIRED = {
    "W25Q16JV", "W25Q32JV", "W25Q64JV", "W25Q128JV", "W25Q256JV", "W25Q512JV", "W25Q01JV",
    "W25Q02JV", "MX25L6433F", "MX25L12835F", "MX25L25645G", "MX25L51245G", "MX25R6435F",
    "N25Q128A", "MT25QL128", "MT25QL256", "MT25QL512", "MT25TL01G", "IS25LP128", "S25FL256S",
    "S25FL512S", "GD25Q128",
    # octal
    "MX25LM51245G", "MX25UM51245G", "MX25UW25645G", "MX66UW1G45G", "MX66LM1G45G", "MT35XL512ABA",
    "MT35XU512ABA", "MT35XU01GBBA", "MT35XU02GCBA", "S28HS512T", "W35T51NW", "IS25WX256",
    # quad parts community loaders name
    "W25Q80DV", "N25Q032A", "N25Q064A", "N25Q256A", "N25Q512A", "N25Q00AA", "MT25QL01G",
    "MT25QL02G", "MT25TL256", "MX25L3233F", "MX66L1G45G", "IS25LP256", "S25HL512T", "S25HL01GT",
    "S25HL02GT",
}

# Real parts that answer 0x9F identically (documented in their files' notes).
SHARED_IDS = {
    # MT25Q succeeded N25Q under the same IDs; each twin-quad (TL) die is a QL die
    bytes.fromhex("20BA18"): {"N25Q128A", "MT25QL128", "MT25TL256"},
    bytes.fromhex("20BA19"): {"N25Q256A", "MT25QL256"},
    bytes.fromhex("20BA20"): {"N25Q512A", "MT25QL512", "MT25TL01G"},
    bytes.fromhex("20BA21"): {"N25Q00AA", "MT25QL01G"},
}

DATA = resources.files("extflash") / "data" / "chips"
FILES = sorted(p.name for p in DATA.iterdir() if p.name.endswith(".toml"))


def test_every_required_chip_exists() -> None:
    assert {c.name for c in chips.all()} >= REQUIRED


def test_one_file_per_chip_named_after_it() -> None:
    assert sorted(f"{c.name.lower()}.toml" for c in chips.all()) == FILES


@pytest.mark.parametrize("chip", chips.all(), ids=lambda c: c.name)
def test_chip_is_consistent(chip: chips.ChipSpec) -> None:
    assert chips.check(chip) == []
    assert chip.size & (chip.size - 1) == 0
    assert all(chip.size % e.size == 0 for e in chip.erases)
    if chip.size > 16 * chips.MIB:
        assert chip.addressing.methods, "4-byte scheme required above 16 MiB"
    assert chip.sources and all(len(s) > 20 for s in chip.sources)
    assert chip.read_command(0x03) is not None
    # Quad commands are gated exactly when the chip has a QE bit.
    for rc in chip.reads:
        if "4" in rc.protocol and rc.protocol != "4-4-4":
            assert rc.needs_qe == chip.has_qe_bit


@pytest.mark.parametrize("name", FILES)
def test_files_carry_types_the_loader_expects(name: str) -> None:
    data = tomllib.loads((DATA / name).read_text(encoding="utf-8"))
    assert isinstance(data["name"], str) and isinstance(data["size"], int)
    assert isinstance(data["sources"], list) and data["sources"]
    for table in ("read", "program", "erase"):
        assert all(isinstance(entry["opcode"], int) for entry in data[table])
    assert data["status"]["qe"] in chips.QE_RULES


def test_jedec_ids_are_unique_except_documented_sharing() -> None:
    counts = Counter(c.jedec_id for c in chips.all())
    shared = {jid: {c.name for c in chips.all() if c.jedec_id == jid}
              for jid, n in counts.items() if n > 1}
    assert shared == SHARED_IDS


def test_find_is_case_insensitive_and_takes_ordering_codes() -> None:
    assert chips.find("w25q128jv").name == "W25Q128JV"
    assert chips.find("W25Q128JVSIQ").name == "W25Q128JV"
    assert chips.find("mt25ql512abb8esf").name == "MT25QL512"
    assert chips.find("MX25L51245GMI-10G").name == "MX25L51245G"


@pytest.mark.parametrize(("short", "name"), [
    ("MX25L512", "MX25L51245G"), ("MT25QL512A", "MT25QL512"), ("W25Q01", "W25Q01JV"),
    ("W25Q80", "W25Q80DV"), ("N25Q032", "N25Q032A"), ("MT25QL02GBBB", "MT25QL02G"),
    ("MX25LM512", "MX25LM51245G"), ("MT35XU512", "MT35XU512ABA"), ("W35T51NWTBIE", "W35T51NW"),
    ("S25HL01G", "S25HL01GT"), ("MX66L1G", "MX66L1G45G"),
])
def test_usual_short_names_are_aliases(short: str, name: str) -> None:
    assert chips.find(short).name == name


def test_no_alias_names_two_chips() -> None:
    keys = Counter(chips._key(n) for c in chips.all() for n in {c.name, *c.aliases})
    assert [k for k, n in keys.items() if n > 1] == []


def test_find_unknown_names_close_matches() -> None:
    with pytest.raises(ConfigError) as err:
        chips.find("W25Q128JX")
    assert "unknown flash chip 'W25Q128JX'" in str(err.value)
    assert "W25Q128JV" in str(err.value)


def test_by_jedec() -> None:
    assert [c.name for c in chips.by_jedec(bytes.fromhex("EF4018"))] == ["W25Q128JV"]
    assert {c.name for c in chips.by_jedec(bytes.fromhex("20BA18"))} == {"N25Q128A", "MT25QL128",
                                                                         "MT25TL256"}
    assert chips.by_jedec(b"\x12\x34\x56") == ()


def test_qe_rules_carry_jesd216_codes() -> None:
    assert chips.find("W25Q128JV").qe.qer == 0b100
    assert chips.find("MX25L51245G").qe.qer == 0b010
    assert chips.find("MT25QL512").qe.qer == 0b000
    assert chips.find("S25FL256S").qe.qer == 0b101
    assert len({r.qer for r in chips.QE_RULES.values()}) == len(chips.QE_RULES)


def test_twin_die_part_is_described_per_die() -> None:
    tl = chips.find("MT25TL01G")
    assert tl.dies == 2 and tl.size == 64 * chips.MIB and "die" in tl.notes


def _write_chip(tmp_path: Path, edit: dict[str, str]) -> Path:
    text = (DATA / "w25q128jv.toml").read_text(encoding="utf-8")
    for old, new in edit.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "chip.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_user_chip_file_loads(tmp_path: Path) -> None:
    spec = chips.load_file(str(_write_chip(tmp_path, {'name = "W25Q128JV"': 'name = "MYCHIP"'})))
    assert spec.name == "MYCHIP" and spec.size == 16 * chips.MIB


@pytest.mark.parametrize(("edit", "message"), [
    ({"size = 16777216": "size = 16777000"}, "not a power of two"),
    ({"size = 16777216": "size = 33554432"}, "no 4-byte addressing method"),
    ({'qe = "sr2-bit1-via-01-2byte"': 'qe = "sr9-bit3"'}, "unknown qe rule"),
    ({'protocol = "1-1-2"': 'protocol = "1-1-3"'}, "protocol '1-1-3'"),
    ({"size = 32768, typ_ms = 120": "size = 12288, typ_ms = 120"}, "does not divide"),
    ({"typ_ms = 45, max_ms = 400": "typ_ms = 450, max_ms = 400"}, "typ <= max"),
    ({'jedec_id = "EF 40 18"': 'jedec_id = "EF 4G 18"'}, "is not hex"),
    ({"page_size = 256": 'page_size = "256"'}, "expected an integer"),
])
def test_bad_chip_files_get_one_clear_error(tmp_path: Path, edit: dict[str, str],
                                            message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        chips.load_file(str(_write_chip(tmp_path, edit)))


def test_missing_field_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing or malformed"):
        chips.load_file(str(_write_chip(tmp_path, {"page_program_us": "pp_us"})))
    with pytest.raises(ConfigError, match="cannot read chip file"):
        chips.load_file(str(tmp_path / "nope.toml"))


def test_chips_json_lists_names_aliases_and_octal_states() -> None:
    from click.testing import CliRunner

    from extflash.cli import main

    result = CliRunner().invoke(main, ["chips", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)["chips"]}
    assert set(rows) == {c.name for c in chips.all()}
    assert "MX25L512" in rows["MX25L51245G"]["aliases"]
    assert rows["MX25LM51245G"]["octal"] == ["8D", "8S"]
    assert rows["W25Q128JV"]["octal"] == []


@pytest.mark.parametrize(("edit", "message"), [
    ({'extension = "inverted"': 'extension = "flipped"'}, "extension: 'flipped' is not one of"),
    ({'"0x2" = "8D"': '"0x2" = "8X"'}, "unknown states"),
    ({'register_dummy = { "8S" = 4, "8D" = 5 }': 'register_dummy = { "8S" = 4 }'},
     "register_dummy must name every octal state"),
    ({'{ opcode = 0xEE, state = "8D", max_mhz = 200 },': ''}, "an 8D mode but no 8D read"),
])
def test_bad_octal_tables_get_one_clear_error(tmp_path: Path, edit: dict[str, str],
                                              message: str) -> None:
    text = (DATA / "mx25lm51245g.toml").read_text(encoding="utf-8")
    for old, new in edit.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "octal.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        chips.load_file(str(path))


def test_a_named_chip_is_read_from_its_own_file_alone() -> None:
    chips._load_all.cache_clear()
    chips._load_entry.cache_clear()
    assert chips.find("w25q128jv").name == "W25Q128JV"
    assert chips._load_all.cache_info().currsize == 0  # no other chip file parsed
    for chip in chips.all():  # the same answers as the full scan
        assert chips.find(chip.name) == chip
        for alias in chip.aliases:
            assert chips.find(alias) == chip
