"""Which shipped boards a test runs on.

Tests that need a kind of controller pick boards with :func:`boards_with_controller`; tests of
``extflash new --board`` pick :func:`generated_boards`, which asks the generator itself, so that
the OCTOSPI/XSPI kits switch on by themselves once the generator writes loaders for them.
"""

from __future__ import annotations

from functools import cache

from extflash import board as boards
from extflash import gen
from extflash.errors import ConfigError


@cache
def _load(name: str) -> boards.Board:
    return boards.load(name)


def boards_with_controller(*kinds: str) -> list[str]:
    """Shipped boards with a memory on a controller whose name starts with one of ``kinds``
    (``"QUADSPI"``, ``"OCTOSPI"``, ``"XSPI"``, ``"XSPI2"`` ...), sorted by file name."""
    return [n for n in boards.list_boards()
            if any(c.startswith(kinds) for c in _load(n).controllers)]


def generation_supported(board: boards.Board | str) -> bool:
    """Does ``extflash new --board`` write a loader for this board?

    QUADSPI boards: always (a refusal there is a failure the tests must see). Other boards: when
    the generator plans a loader for them instead of refusing the controller.
    """
    b = _load(board) if isinstance(board, str) else board
    if all(c == "QUADSPI" for c in b.controllers):
        return True
    try:
        gen.plan_loader(b)
    except ConfigError:
        return False
    return True


def generated_boards() -> list[str]:
    """Shipped boards the loader generator supports (see :func:`generation_supported`)."""
    return [n for n in boards.list_boards() if generation_supported(n)]


QUADSPI_BOARDS = boards_with_controller("QUADSPI")
OCTAL_BOARDS = boards_with_controller("OCTOSPI", "XSPI")
