"""Shared fixtures: the real Arm toolchain, and a cached builder for the test firmware."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from extflash.toolchain import Toolchain, find_toolchain

FIRMWARE = Path(__file__).parent / "firmware"
# Build recipes that live beside the C firmware (halstyle.build) are importable from tests.
sys.path.insert(0, str(FIRMWARE))

BuildFn = Callable[..., Path]


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    return find_toolchain()


@pytest.fixture(scope="session")
def build_elf(toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory) -> BuildFn:
    """Build an ELF from C sources under tests/firmware with a linker script; cached per session.

    ``build_elf("name", ["src/a.c"], "ld/h7.ld", cflags=[...])`` — paths relative to tests/firmware.
    """
    out_dir = tmp_path_factory.mktemp("firmware")
    cache: dict[str, Path] = {}

    def build(
        name: str,
        sources: Sequence[str],
        linker_script: str | None,
        *,
        cflags: Sequence[str] = (),
        ldflags: Sequence[str] = (),
        cpu: str = "cortex-m7",
    ) -> Path:
        srcs = [FIRMWARE / s for s in sources]
        ld = FIRMWARE / linker_script if linker_script else None
        flags = [
            f"-mcpu={cpu}",
            "-mthumb",
            "-Os",
            "-g",
            "-ffunction-sections",
            "-fdata-sections",
            "-nostdlib",
            "-nostartfiles",
            "-Wall",
            "-Werror",
            *cflags,
        ]
        key_src = "\0".join(
            [name, *flags, *ldflags]
            + [p.read_text() for p in srcs]
            + ([ld.read_text()] if ld else [])
        )
        key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
        if key in cache:
            return cache[key]
        out = out_dir / f"{name}-{key}.elf"
        toolchain.build(
            srcs,
            out,
            linker_script=ld,
            cflags=flags,
            ldflags=[*ldflags, "-lgcc"],
            include_dirs=[FIRMWARE / "include"],
            what=name,
        )
        cache[key] = out
        return out

    return build


@pytest.fixture(scope="session")
def gen_loader(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """Build (once per session) the generator's loader for a board: ``gen_loader(board, flm=)``."""
    from extflash import gen

    out_dir = tmp_path_factory.mktemp("gen-loaders")
    cache: dict[tuple[str, bool], Any] = {}

    def make(board: Any, *, flm: bool = False) -> Any:
        key = (repr(board), flm)
        if key not in cache:
            safe = "".join(ch if ch.isalnum() else "-" for ch in board.name)
            cache[key] = gen.build(
                gen.plan_loader(board), out_dir / f"{safe}-{len(cache)}", flm=flm
            )
        return cache[key]

    return make
