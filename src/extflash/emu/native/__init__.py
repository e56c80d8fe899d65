"""Native helpers: small C sources shipped in this package, compiled at first use.

:func:`load` builds ``<name>.c`` with the host C compiler (``$CC``, else ``cc``) into
``~/.cache/extflash/native/`` (``$XDG_CACHE_HOME`` respected), keyed by a hash of the source,
the compiler and the flags, and loads it with ctypes. Anything missing (no compiler, a failed
build, a read-only cache) makes it return ``None`` with one log message; callers then use their
pure-Python path, which gives the same results, only slower. ``EXTFLASH_NATIVE=0`` turns the
native helpers off.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import shutil
from importlib import resources
from pathlib import Path

from extflash import cache

log = logging.getLogger(__name__)

CFLAGS = ("-O2", "-shared", "-fPIC", "-std=c11", "-Wall", "-Werror")
BUILD_TIMEOUT_S = 60


class NativeUnavailable(Exception):
    """Why a native helper cannot be used (the message says what to install or fix)."""


def enabled() -> bool:
    return os.environ.get("EXTFLASH_NATIVE", "1").strip().lower() not in ("0", "no", "off")


def cache_dir() -> Path:
    return cache.root() / "native"


def compiler_name() -> str:
    return os.environ.get("CC") or "cc"


_told: set[str] = set()  # reasons already logged: a missing compiler is said once, not per helper


def _unavailable(name: str, why: NativeUnavailable) -> NativeUnavailable:
    if str(why) not in _told:
        _told.add(str(why))
        log.info("native %s unavailable (%s): using the Python path", name, why)
    return why


@functools.cache
def _load(name: str) -> ctypes.CDLL | NativeUnavailable:
    try:
        return ctypes.CDLL(str(_build(name)))
    except NativeUnavailable as why:
        return _unavailable(name, why)
    except OSError as exc:
        return _unavailable(name, NativeUnavailable(f"cannot load the built library: {exc}"))


def load(name: str) -> ctypes.CDLL | None:
    """The loaded library for ``<name>.c``, or ``None`` (logged once) when it cannot be had."""
    if not enabled():
        return None
    lib = _load(name)
    return None if isinstance(lib, NativeUnavailable) else lib


def require(name: str) -> ctypes.CDLL:
    """Like :func:`load`, but raise :class:`NativeUnavailable` saying why."""
    if not enabled():
        raise NativeUnavailable("native helpers are turned off (EXTFLASH_NATIVE=0)")
    lib = _load(name)
    if isinstance(lib, NativeUnavailable):
        raise lib
    return lib


@functools.cache
def _compiler_identity(cc: str) -> str:
    """The compiler's resolved path, size and modification time: another compiler, or this one
    upgraded, builds anew. A stat, not ``cc --version``: starting the compiler cost every command
    a few milliseconds per helper."""
    real = os.path.realpath(cc)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise NativeUnavailable(f"{cc} cannot be read: {exc.strerror}") from None
    return f"{real}:{st.st_size}:{st.st_mtime_ns}"


def _build(name: str) -> Path:
    source = resources.files(__package__).joinpath(f"{name}.c").read_bytes()
    cc = shutil.which(compiler_name())
    if cc is None:
        raise NativeUnavailable(f"no C compiler ({compiler_name()} not found): install gcc or "
                                f"set $CC")
    key = cache.digest(b"\0".join([source, _compiler_identity(cc).encode(),
                                   " ".join(CFLAGS).encode()]), 8)
    target = cache_dir() / f"{name}-{key}.so"
    if target.exists():
        return target
    import subprocess  # only to build: every command after the first finds the library built
    import tempfile

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            src = Path(tmp) / f"{name}.c"
            src.write_bytes(source)
            out = Path(tmp) / target.name
            result = subprocess.run([cc, *CFLAGS, "-o", str(out), str(src)], capture_output=True,
                                    text=True, timeout=BUILD_TIMEOUT_S, check=False)
            if result.returncode != 0:
                first = (result.stderr.strip().splitlines() or ["no message"])[0]
                raise NativeUnavailable(f"{cc} failed to build {name}.c: {first}")
            os.replace(out, target)  # atomic: parallel builders never see half a library
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NativeUnavailable(f"cannot build into {target.parent}: {exc}") from None
    log.debug("built %s", target)
    return target
