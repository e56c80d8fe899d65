"""Fixtures for the generator tests: loaders built once per session with the real toolchain."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from extflash import gen
from extflash.toolchain import Toolchain

BuildLoader = Callable[..., gen.BuildResult]


@pytest.fixture(scope="session")
def build_loader(toolchain: Toolchain, tmp_path_factory: pytest.TempPathFactory) -> BuildLoader:
    """``build_loader(config, flm=False)`` builds into a fresh directory, cached per config name."""
    root = tmp_path_factory.mktemp("gen")
    cache: dict[tuple[str, bool], gen.BuildResult] = {}

    def build(config: gen.LoaderConfig, *, flm: bool = False) -> gen.BuildResult:
        key = (config.name, flm)
        if key not in cache:
            out: Path = root / f"{len(cache)}"
            cache[key] = gen.build(config, out, flm=flm, toolchain=toolchain)
        return cache[key]

    return build
