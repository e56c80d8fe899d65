"""extflash: read, lint, run and generate STM32 external-flash loaders.

The public API is re-exported here; see ``docs/api.md``.
"""

from __future__ import annotations

__version__ = "0.1.0"

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
