"""``extflash new``: validate a board description, generate and build its loader, and prove it.

The self-test is the conformance test (:mod:`extflash.conformance`) run on a virtual board wired
exactly as described (on the ``.stldr``, and on the FLM when one is built), then a speed
measurement (:mod:`extflash.gen.speed`): 64 KiB programmed with typical chip timing against the
chip's datasheet erase and page-program times. A loader that fails the self-test is not handed
over: it is kept beside the output as ``<name>.stldr.failed`` (and ``.FLM.failed``) with the C
project, for inspection, and the call raises.
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
from extflash.gen.speed import Speed, measure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewLoader:
    """What ``extflash new`` made: the build, its self-test and speed."""

    build: BuildResult
    report: object | None  # conformance.Report, None when the self-test was skipped
    speed: Speed | None = None  # measured after a passed self-test


class SelfTestFailed(OperationError):
    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report


def _reject(result: BuildResult, board: boards.Board, which: Path, report: object) -> None:
    """Keep the outputs as ``*.failed`` beside the sources and raise with the report."""
    kept = []
    for path in (result.stldr, result.flm):
        if path is not None:
            path.replace(path.with_name(path.name + ".failed"))
            kept.append(path.name + ".failed")
    lines = "\n".join(report.render())  # type: ignore[attr-defined]
    raise SelfTestFailed(
        f"the generated {'FLM' if which == result.flm else 'loader'} failed its self-test on the "
        f"virtual {board.name}; it was not written to {which} (kept as {', '.join(kept)}, "
        f"sources in {result.project}):\n{lines}",
        report,
    )


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
    # the FLM is built from the same sources but has its own entry points: it is proved too
    if report.passed and result.flm is not None:
        flm_report = conformance.run(result.flm, board, timing=timing, on_rig=on_rig)
        if not flm_report.passed:
            _reject(result, board, result.flm, flm_report)
    if not report.passed:
        _reject(result, board, result.stldr, report)
    log.info("self-test passed: %s", result.stldr)
    speed = measure(result.stldr, board)
    log.info("speed: %s", speed.describe())
    return NewLoader(result, report, speed)
