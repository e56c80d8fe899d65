"""Safe handling of the chip file (``--flash-file``) that keeps a virtual chip between commands.

* :class:`ChipFileLock` — one process at a time: a second one on the same file is refused at once
  with a clear message, instead of both loading the same contents and one saving over the other.
  The lock is an advisory lock on ``<file>.lock`` (the chip file itself is replaced on every save,
  so it cannot carry the lock); the operating system drops it when the process ends.
* :func:`replace_atomically` — a save is written to a temporary file in the same folder and
  renamed over the old one, so an interrupted save leaves the previous contents, never half a chip.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from extflash.errors import InputError, TargetError


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class ChipFileLock:
    """An exclusive lock on a chip file, held until :meth:`release` (or the process ends)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @classmethod
    def acquire(cls, path: Path) -> ChipFileLock:
        lock = cls(path)
        try:
            handle = open(lock_path(path), "a+", encoding="utf-8")  # noqa: SIM115 - held open
        except OSError as exc:
            raise InputError(
                f"cannot lock the chip file {path}: {exc.strerror}",
                hint="the folder of --flash-file must exist and be writable",
            ) from None
        if not _try_lock(handle):
            handle.seek(0)
            owner = handle.read().strip()
            handle.close()
            raise TargetError(
                f"the chip file {path} is in use by another extflash process"
                + (f" (pid {owner})" if owner.isdigit() else ""),
                hint="wait for that command to finish, or give this one its own --flash-file",
            )
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        lock._file = handle
        return lock

    def release(self) -> None:
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.truncate(0)
        self._file.close()  # closing the descriptor drops the lock
        self._file = None


def _try_lock(handle: IO[str]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Have ``write`` fill a temporary file beside ``path``, then rename it over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
