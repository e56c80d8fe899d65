from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from extflash import board


@pytest.fixture(scope="session")
def h743_loader(gen_loader: Any) -> str:
    """A loader generated for the WeAct H743 board (W25Q64, 4 KiB sectors at 0x90000000)."""
    return str(Path(gen_loader(board.load("weact-h743")).stldr))


@pytest.fixture
def target(h743_loader: str, tmp_path: Path) -> list[str]:
    """Options for an operation on the virtual board with a chip file in tmp_path."""
    return [
        "--loader", h743_loader, "--board", "weact-h743", "--timing", "instant",
        "--flash-file", str(tmp_path / "chip.bin"),
    ]  # fmt: skip
