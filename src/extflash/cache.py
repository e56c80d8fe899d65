"""The per-user cache (``~/.cache/extflash``, ``$XDG_CACHE_HOME`` respected), and the parsed
TOML data files kept in it.

Besides the native helpers (``native/``) and the on-target CRC routine, the cache keeps the
package's data files parsed: a command reads about fifteen of them (the MCU families, the
register table, the board and its chip), and parsing them with tomllib is about 35 ms of the
command line's 0.3 s start, reading them back with marshal under 1 ms. An entry is named by a
hash of the text it was parsed from, so an edited file is parsed anew. A cache that cannot be
read or written is passed by: the text is parsed as before.
"""

from __future__ import annotations

import contextlib
import marshal
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "extflash"


class TomlError(ValueError):
    """Text that is not TOML (the parser's message; the parser's error as its cause)."""


def digest(data: bytes, size: int = 16) -> str:
    """A hex BLAKE2b digest of ``size`` bytes: the name of what is cached for ``data``.

    CPython's own BLAKE2 module, when it has one: ``hashlib`` loads OpenSSL first, 2-3 ms of
    every command line's start for a digest it does not need."""
    try:
        from _blake2 import blake2b
    except ImportError:  # another Python: the same function through hashlib
        from hashlib import blake2b
    return blake2b(data, digest_size=size).hexdigest()


def parse_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, read from the cache when the same text was parsed before
    (:class:`TomlError` for text that is not TOML)."""

    def parse() -> dict[str, Any]:
        import tomllib  # here: a command whose files are all cached does not import the parser

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise TomlError(str(exc)) from exc

    data: dict[str, Any] = built(text.encode("utf-8"), "", parse)
    return data


def built(source: bytes, tag: str, build: Callable[[], Any]) -> Any:
    """``build()``, a value made from ``source`` (``tag`` tells the values made from the same
    bytes apart), read from the cache when it was made before. A value marshal cannot hold (a
    TOML date) is returned as it is, not cached."""
    key = digest(source) + (f"-{digest(tag.encode('utf-8'), 4)}" if tag else "")
    entry = root() / "data" / f"{key}.m{marshal.version}"
    try:
        return marshal.loads(entry.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        pass  # absent, unreadable or damaged: made again and written anew
    value = build()
    try:
        blob = marshal.dumps(value)
    except ValueError:
        return value
    temporary = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(blob)
        os.replace(temporary, entry)  # readers see the whole entry or none
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
    return value
