"""Build recipe for the community-style loader in this folder.

:func:`loader_build` takes the same board dict as :func:`halstyle.build.loader_build` (whose
driver sources it reuses) plus the names of defects to plant (``FAULT_<NAME>`` in loader.c)::

    b = loader_build(board, faults=("ERASE_NEXT_SECTOR",))
    elf = build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags, ldflags=b.ldflags,
                    cpu=b.cpu)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from halstyle import build as halstyle

HALSTYLE = Path(halstyle.__file__).parent


def loader_build(board: Mapping[str, Any], faults: Sequence[str] = ()) -> halstyle.LoaderBuild:
    base = halstyle.loader_build(board)
    tag = "".join(f"-{f.lower()}" for f in faults)
    name = base.name.replace("halstyle-", "community-") + tag
    sources = tuple("community/loader.c" if s == "halstyle/loader.c" else s
                    for s in base.sources)
    cflags = tuple(f'-DHS_DEVICE_NAME="{name}"' if f.startswith("-DHS_DEVICE_NAME=") else f
                   for f in base.cflags)
    return replace(base, name=name, sources=sources,
                   cflags=(*cflags, f"-I{HALSTYLE}", *(f"-DFAULT_{f}" for f in faults)))
