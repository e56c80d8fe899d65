"""The host's call sequence (Init before every call) and a smaller chip than the loader says.

Loaders are the generator's, built by the test suite; the chip's own bytes are checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from extflash import api, board
from extflash.cli import main
from extflash.errors import ImageError
from extflash.image import Chunk, from_chunks
from extflash.runner import INIT_EVERY_CALL, INIT_PER_OPERATION, DriverOptions

WEACT = "weact-h743"  # a W25Q64JV (8 MiB) on bank 1
MIB = 1 << 20


def pattern(seed: int, size: int) -> bytes:
    return bytes((i * 7 + seed * 13 + (i >> 8)) & 0xFF for i in range(size))


def image(base: int) -> Any:
    return from_chunks(
        [
            Chunk(base + 0x0000, pattern(1, 0x1000), "whole sector"),
            Chunk(base + 0x1F3D, pattern(2, 0x2345), "partial sectors"),
            Chunk(base + 0x30010, pattern(3, 0x21), "tail"),
        ],
        source="app",
    )


def chip(session: api.Session) -> bytes:
    return bytes(session.target.board.flash_contents())  # type: ignore[attr-defined]


def _calls(session: api.Session) -> list[str]:
    return [c.function for c in session.driver.calls]


# -- item: Init before every call -------------------------------------------------------------


def test_init_runs_before_every_erase_write_and_read_by_default(gen_loader: Any) -> None:
    brd = board.load(WEACT)
    with api.open_session(gen_loader(brd).stldr, board=brd) as s:
        s.program(image(s.geometry.start))
        s.erase(s.geometry.start + 0x40000, 0x1000)
        s.read(s.geometry.start, 0x100)
        calls = _calls(s)
    work = [i for i, name in enumerate(calls) if name != "Init"]
    assert work, calls
    assert all(calls[i - 1] == "Init" for i in work), calls
    assert {"SectorErase", "Write"} <= set(calls)


def test_both_sequences_leave_the_same_chip(gen_loader: Any) -> None:
    brd = board.load(WEACT)
    stldr = gen_loader(brd).stldr
    results = {}
    for sequence in (INIT_EVERY_CALL, INIT_PER_OPERATION):
        opts = DriverOptions(init_sequence=sequence)
        with api.open_session(stldr, board=brd, options=opts) as s:
            s.program(from_chunks([Chunk(s.geometry.start, pattern(9, 0x8000), "base")]))
            report = s.program(image(s.geometry.start)).report
            assert report.verified
            results[sequence] = (chip(s), _calls(s).count("Init"))
    every, once = results[INIT_EVERY_CALL], results[INIT_PER_OPERATION]
    assert every[0] == once[0]
    assert every[1] > once[1]


ONE_SHOT_INIT = """
/* A loader that needs the host's sequence: Init arms the next call only once per image load
 * (the .data word is set again only when the host writes the image again). */
static volatile uint32_t image_fresh = 0xA5A5A5A5u;
static volatile uint32_t armed;

int Init(void)
{
    if (image_fresh != 0xA5A5A5A5u)
        return 0;
    image_fresh = 0u;
    int ok = loader_init(); /* clears .bss */
    armed = 1u;
    return ok;
}

static int take(void)
{
    uint32_t was = armed;
    armed = 0u;
    return was == 1u;
}
"""


def _one_shot_loader(tmp_path: Path) -> Path:
    """The generator's loader with Init and every call patched to need a fresh image + Init."""
    from extflash import gen
    from extflash.toolchain import find_toolchain

    config = gen.plan_loader(board.load(WEACT))
    project = gen.render(config, tmp_path / "src")
    stldr_c = project / "stldr.c"
    text = stldr_c.read_text()
    text = text.replace("int Init(void)\n{\n    return loader_init();\n}\n", ONE_SHOT_INIT)
    for entry in ("Write", "Read", "SectorErase", "MassErase"):
        head = text.index(f"int {entry}(")
        body = text.index("{\n", head) + 2
        text = text[:body] + "    if (!take())\n        return 0;\n" + text[body:]
    stldr_c.write_text(text)
    from extflash.gen.build import LDFLAGS
    from extflash.gen.generate import cflags, stldr_sources

    out = tmp_path / "one-shot.stldr"
    srcs = [project / name for name in (*stldr_sources(config), "board_config.c")]
    find_toolchain().build(srcs, out, linker_script=project / "stldr.ld",
                           cflags=cflags(config), ldflags=LDFLAGS, what="one-shot loader")
    return out


def test_a_loader_that_needs_init_before_each_call(tmp_path: Path) -> None:
    brd = board.load(WEACT)
    stldr = _one_shot_loader(tmp_path)
    with api.open_session(stldr, board=brd) as s:
        report = s.program(image(s.geometry.start)).report
        assert report.verified
        got = chip(s)
    for c in image(0).chunks:
        assert got[c.address : c.end] == c.data
    opts = DriverOptions(init_sequence=INIT_PER_OPERATION)
    with api.open_session(stldr, board=brd, options=opts) as s, pytest.raises(
        Exception, match=r"returned 0x0"
    ):
        s.program(image(s.geometry.start))


def test_cli_init_sequence_option(gen_loader: Any, tmp_path: Path) -> None:
    args = ["read", "--board", WEACT, "-l", str(gen_loader(board.load(WEACT)).stldr),
            "--address", "0x90000000", "--size", "16", "-o", str(tmp_path / "out.bin")]
    ok = CliRunner().invoke(main, [*args, "--init-sequence", INIT_PER_OPERATION])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, [*args, "--init-sequence", "sometimes"])
    assert bad.exit_code != 0 and "--init-sequence" in bad.output
    assert "Traceback" not in bad.output


# -- item: a smaller chip than the loader says ------------------------------------------------


@pytest.fixture(scope="module")
def w25q128_loader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A W25Q128JV (16 MiB) loader for the WeAct wiring: the board itself has a W25Q64JV."""
    from extflash import gen

    pins = "PB2,PB6,PD11,PD12,PE2,PD13"
    brd = board.from_options(mcu="STM32H743VIT6", chip="W25Q128JV", pins=pins, hse="25MHz")
    return gen.build(gen.plan_loader(brd), tmp_path_factory.mktemp("w25q128")).stldr


def test_writing_past_a_smaller_chip_is_refused_naming_both_sizes(w25q128_loader: Path) -> None:
    brd = board.load(WEACT)
    with api.open_session(w25q128_loader, board=brd) as s:
        assert s.geometry.size == 16 * MIB
        low = from_chunks([Chunk(0x907F0000, pattern(4, 0x1000), "low")])
        s.program(low)
        before = chip(s)
        high = from_chunks([Chunk(0x90FF0000, pattern(5, 0x1000), "high")], source="app.bin")
        with pytest.raises(ImageError, match=r"16 MiB.*8 MiB") as info:
            s.program(high)
        assert "0x907F0000" in str(info.value) and info.value.hint and "--force" in info.value.hint
        with pytest.raises(ImageError, match=r"past the wired memory"):
            s.erase(0x90FF0000, 0x1000)
        assert chip(s) == before  # nothing erased or written


def test_a_write_inside_the_chip_warns_and_force_writes_the_alias(
    w25q128_loader: Path, caplog: pytest.LogCaptureFixture
) -> None:
    brd = board.load(WEACT)
    with api.open_session(w25q128_loader, board=brd) as s:
        report = s.program(from_chunks([Chunk(0x90001000, pattern(6, 0x100), "in")])).report
        assert report.warnings and "8 MiB" in report.warnings[0]
        assert "wrap around" in caplog.text
        data = pattern(7, 0x1000)
        # (verify off: the virtual window does not yet alias past the chip as silicon does)
        s.program(from_chunks([Chunk(0x90FF0000, data, "high")]), force=True, verify=False)
        assert chip(s)[0x7F0000:0x7F1000] == data  # where the chip really put it


def test_cli_program_past_the_chip_fails_cleanly(w25q128_loader: Path, tmp_path: Path) -> None:
    app = tmp_path / "app.bin"
    app.write_bytes(pattern(8, 0x100))
    result = CliRunner().invoke(
        main, ["program", str(app), "--address", "0x90FF0000", "-l", str(w25q128_loader),
               "--board", WEACT],
    )
    assert result.exit_code != 0
    assert "error:" in result.output and "16 MiB" in result.output and "Traceback" not in (
        result.output)
