"""Which shipped boards a test runs on.

Tests that need a kind of controller pick boards with :func:`boards_with_controller`; tests of
``extflash new --board`` run on every shipped board (:data:`ALL_BOARDS`): the generator writes
loaders for QUADSPI, OCTOSPI and XSPI, so a refusal is a failure the tests must see.
"""

from __future__ import annotations

from functools import cache

from extflash import board as boards


@cache
def _load(name: str) -> boards.Board:
    return boards.load(name)


def boards_with_controller(*kinds: str) -> list[str]:
    """Shipped boards with a memory on a controller whose name starts with one of ``kinds``
    (``"QUADSPI"``, ``"OCTOSPI"``, ``"XSPI"``, ``"XSPI2"`` ...), sorted by file name."""
    return [n for n in boards.list_boards()
            if any(c.startswith(kinds) for c in _load(n).controllers)]


QUADSPI_BOARDS = boards_with_controller("QUADSPI")
OCTAL_BOARDS = boards_with_controller("OCTOSPI", "XSPI")
ALL_BOARDS = boards.list_boards()
