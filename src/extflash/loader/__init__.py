"""Loader files (``.stldr`` and CMSIS FLM) as immutable values: open, inspect, lint.

``extflash.loader.open(path)`` decodes a file into a :class:`Loader`;
:func:`info_dict` summarises it (the ``extflash info --json`` schema) and
:func:`lint` checks it against an MCU part or the inferred family.
"""

from __future__ import annotations

from extflash.errors import LoaderFormatError
from extflash.loader.family import FamilyGuess, FamilyInference
from extflash.loader.flm import FlashDevice, RelocatedImage, SectorRun
from extflash.loader.info import info_dict, render_info
from extflash.loader.model import (
    ElfFacts,
    EntryPoint,
    Footprint,
    Loader,
    LoadSegment,
    ZeroRange,
    from_bytes,
)
from extflash.loader.model import open_loader as open
from extflash.loader.stldr import Sector, SectorGroup, StorageInfo

__all__ = [
    "ElfFacts",
    "EntryPoint",
    "FamilyGuess",
    "FamilyInference",
    "FlashDevice",
    "Footprint",
    "LoadSegment",
    "Loader",
    "LoaderFormatError",
    "RelocatedImage",
    "Sector",
    "SectorGroup",
    "SectorRun",
    "StorageInfo",
    "ZeroRange",
    "from_bytes",
    "info_dict",
    "open",
    "render_info",
]
