"""The methods ``@dataclass`` writes for extflash's classes, compiled once per Python version.

``@dataclass`` writes each method it adds (``__init__``, ``__repr__``, ``__eq__``; for a frozen
class ``__setattr__``, ``__delattr__`` and ``__hash__`` too) as source text and compiles it when
the class is defined: about 0.4 ms per frozen class, of which 80 % is the compiler, and 75 ms of
the 0.2 s a command line spends importing (``extflash program`` defines 124 dataclasses). The
text is the same at every start, so its compiled code is kept in the per-user cache
(``dataclass-code-<cache tag>.bin``) and only executed: the same functions, from the same text.

It works through the one name the dataclasses module compiles with, ``exec``, which it looks up
in its own namespace first: :func:`install` puts :func:`_exec` there. Text whose globals are not
an extflash module's is executed as before, uncached. Python 3.13 writes a class's methods in
one text and one ``exec``; the cache serves it the same way. A cache that cannot be read or
written is passed by.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import dataclasses
import marshal
import os
import sys
from types import CodeType
from typing import Any

from extflash import cache

# A process that compiled a text the file did not hold writes the file again; it keeps the texts
# it used and those some process used in the last KEEP_SAVES writes. Texts of classes since
# changed (an upgrade, a developer's edit) leave the file that way instead of being read at
# every start (the commands' own texts are about 900, 2-3 ms to read).
KEEP_SAVES = 8

_codes: dict[str, CodeType] | None = None  # read on the first use
_saved_in: dict[str, int] = {}  # text -> the last write that kept it for a process using it
_writes = 0  # writes of the file so far
_used: set[str] = set()
_added = False


def path() -> str:
    return str(cache.root() / f"dataclass-code-{sys.implementation.cache_tag}.bin")


def install() -> None:
    """Compile dataclass methods of extflash's classes through the cache (once per process)."""
    if getattr(dataclasses, "exec", None) is not _exec:
        dataclasses.exec = _exec  # type: ignore[attr-defined]
        atexit.register(_save)


def _exec(source: Any, globals: dict[str, Any] | None = None,
          locals: dict[str, Any] | None = None) -> None:
    if (isinstance(source, str) and globals is not None
            and str(globals.get("__name__", "")).startswith("extflash.")):
        source = _compiled(source)
    builtins.exec(source, globals, locals)


def _compiled(text: str) -> CodeType:
    global _codes, _added
    if _codes is None:
        _codes = _load()
    code = _codes.get(text)
    if code is None:
        code = _codes[text] = compile(text, "<string>", "exec")  # as exec(text) compiles it
        _added = True
    _used.add(text)
    return code


def _load() -> dict[str, CodeType]:
    """The file's texts: {text: (code, the write that last kept it for its use)}."""
    global _writes
    try:
        with open(path(), "rb") as fh:
            loaded = marshal.loads(fh.read())  # marshal.load(fh) reads in small pieces: 7x slower
    except (OSError, EOFError, ValueError, TypeError):
        return {}  # absent, unreadable or damaged: compiled again and written anew
    if not isinstance(loaded, dict):
        return {}
    codes = {}
    for text, entry in loaded.items():
        if (isinstance(text, str) and isinstance(entry, tuple) and len(entry) == 2
                and isinstance(entry[0], CodeType) and isinstance(entry[1], int)):
            codes[text], _saved_in[text] = entry
    _writes = max(_saved_in.values(), default=0)
    return codes


def _save() -> None:
    """At exit, when this process compiled texts the file did not hold."""
    if not _added or _codes is None:
        return
    write = _writes + 1
    keep = {text: (code, write if text in _used else _saved_in.get(text, 0))
            for text, code in _codes.items()
            if text in _used or _saved_in.get(text, 0) > write - KEEP_SAVES}
    target = path()
    temporary = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(temporary, "wb") as fh:
            marshal.dump(keep, fh)
        os.replace(temporary, target)  # readers see the whole file or the previous one
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
