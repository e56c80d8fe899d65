"""``extflash new``: validate a board description, generate and build its loader, and prove it.

The self-test is the conformance test (:mod:`extflash.conformance`) run on a virtual board wired
exactly as described. A loader that fails it is not handed over: it is kept beside the output
as ``<name>.stldr.failed`` with the C project, for inspection, and the call raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extflash import board as boards
from extflash.errors import OperationError
from extflash.gen.build import BuildResult, build
from extflash.gen.config import plan_loader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewLoader:
    build: BuildResult
    report: object | None  # conformance.Report, None when the self-test was skipped


class SelfTestFailed(OperationError):
    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report


def new_loader(
    board: boards.Board,
    out: Path | str,
    *,
    name: str | None = None,
    flm: bool = False,
    self_test: bool = True,
    timing: str = "typical",
    on_rig: Callable[[Any], None] | None = None,
) -> NewLoader:
    """Build the loader for ``board`` into ``out`` (a ``.stldr`` path or a folder) and test it
    (``on_rig``: see :func:`extflash.conformance.run`)."""
    from extflash import conformance

    config = plan_loader(board, name=name)
    result = build(config, out, flm=flm)
    if not self_test:
        return NewLoader(result, None)
    report = conformance.run(result.stldr, board, timing=timing, on_rig=on_rig)
    if not report.passed:
        failed = result.stldr.with_name(result.stldr.name + ".failed")
        result.stldr.replace(failed)
        if result.flm is not None:
            result.flm.replace(result.flm.with_name(result.flm.name + ".failed"))
        lines = "\n".join(report.render())
        raise SelfTestFailed(
            f"the generated loader failed its self-test on the virtual {board.name}; it was "
            f"not written to {result.stldr} (kept as {failed}, sources in {result.project}):\n"
            f"{lines}",
            report,
        )
    log.info("self-test passed: %s", result.stldr)
    return NewLoader(result, report)
