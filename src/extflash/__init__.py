"""extflash: read, lint, run and generate STM32 external-flash loaders.

The public API is re-exported here; see ``docs/api.md``. Submodules and names load on first
use, so ``import extflash`` (and ``extflash --version``) stays cheap: the emulator, the
diagnostics and pyOCD are imported only by the commands that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from extflash import dataclass_code

__version__ = "0.1.0"

dataclass_code.install()  # before any of the package's dataclasses is defined

if TYPE_CHECKING:
    from extflash import api, board, chips, conformance, diagnose, image, loader, mcu, trace
    from extflash.api import Session, open_session
    from extflash.errors import (
        ConfigError,
        ExtflashError,
        ImageError,
        InputError,
        LoaderFormatError,
        OperationError,
        TargetError,
        ToolchainError,
    )

_SUBMODULES = {
    "api", "board", "chips", "conformance", "diagnose", "image", "loader", "mcu", "trace"
}
_NAMES = {
    "Session": "extflash.api",
    "open_session": "extflash.api",
    "ConfigError": "extflash.errors",
    "ExtflashError": "extflash.errors",
    "ImageError": "extflash.errors",
    "InputError": "extflash.errors",
    "LoaderFormatError": "extflash.errors",
    "OperationError": "extflash.errors",
    "TargetError": "extflash.errors",
    "ToolchainError": "extflash.errors",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"extflash.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'extflash' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "ExtflashError",
    "ImageError",
    "InputError",
    "LoaderFormatError",
    "OperationError",
    "Session",
    "TargetError",
    "ToolchainError",
    "__version__",
    "api",
    "board",
    "chips",
    "conformance",
    "diagnose",
    "image",
    "loader",
    "mcu",
    "open_session",
    "trace",
]
