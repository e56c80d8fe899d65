"""The Python API of extflash. The command line is a thin layer over these functions.

Typical use::

    import extflash

    board = extflash.board.load("stm32h743i-eval")
    with extflash.open_session("w25q128.stldr", board=board, flash_file="chip.bin") as s:
        report = s.program(extflash.image.load("app.elf"), skip_unchanged=True)
        data = s.read(0x90000000, 256)

A :class:`Session` ties a loader to a target (the virtual board now, a debug probe later) and
offers the operations: program, erase, read, verify, checksum and blank check. Library code
never prints: progress goes to the ``progress`` callback, details to the ``extflash`` logger.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from extflash import board as boards
from extflash import image as images
from extflash.errors import ConfigError, ImageError, InputError
from extflash.image import Chunk, Image
from extflash.loader.model import Loader, open_loader
from extflash.plan import Geometry, Sector, SectorList, geometry_from_runs
from extflash.programmer import Mismatch, Programmer, ProgramReport, Progress
from extflash.runner import (
    DriverOptions,
    FlashDriver,
    FlmDriver,
    LoaderProgram,
    Placement,
    StldrDriver,
    double_buffered,
)
from extflash.target.base import Target

log = logging.getLogger(__name__)


def loader_geometry(loader: Loader) -> Geometry:
    """The device the loader declares, as sectors at absolute addresses."""
    if loader.storage_info is not None:
        si = loader.storage_info
        runs = [(g.count, g.size) for g in si.groups]
        return geometry_from_runs(si.name, si.start, si.size, si.page_size, si.erase_value, runs)
    if loader.flash_device is not None:
        fd = loader.flash_device
        groups = []
        for i, run in enumerate(fd.runs):
            stop = fd.runs[i + 1].offset if i + 1 < len(fd.runs) else fd.size
            if run.size and stop > run.offset:  # the sectors that fit before the next run
                groups.append((fd.address + run.offset, (stop - run.offset) // run.size, run.size))
        return Geometry(fd.name, fd.address, fd.size, fd.page_size, fd.empty_value,
                        SectorList(groups))
    raise InputError(f"{loader.path} has no StorageInfo or FlashDevice: it cannot be driven")


def loader_program(loader: Loader, target: Target) -> LoaderProgram:
    """What the runner places and calls, for this loader on this target."""
    geometry = loader_geometry(loader)
    name = Path(loader.path).name
    if loader.kind == "flm":
        rel = loader.relocate(target.part.family.loader_ram_base + 4)
        return LoaderProgram(
            kind="flm",
            name=name,
            segments=(Placement(rel.base, rel.data),),
            zero_ranges=(),
            functions=rel.entry_points,
            geometry=geometry,
            static_base=rel.static_base,
        )
    return LoaderProgram(
        kind="stldr",
        name=name,
        segments=tuple(Placement(s.address, s.data) for s in loader.image_segments if s.data),
        zero_ranges=tuple((z.address, z.size) for z in loader.zero_ranges),
        functions={e.name: e.address for e in loader.entry_points},
        geometry=geometry,
    )


def make_driver(
    target: Target, loader: Loader, options: DriverOptions | None = None
) -> FlashDriver:
    """A driver for ``loader`` on ``target`` with the loader's own calling convention."""
    opts = options or DriverOptions()
    program = loader_program(loader, target)
    crc_on_target = opts.crc_on_target
    if crc_on_target is None:
        crc_on_target = not getattr(target, "cheap_reads", False)
    common: dict[str, Any] = {
        "buffer_size": opts.buffer_size,
        "timeouts": opts.timeouts,
        "crc_on_target": crc_on_target,
    }
    if program.kind == "flm":
        return FlmDriver(target, program, stack_size=opts.stack_size or 0x800, **common)
    return StldrDriver(
        target,
        program,
        stack_size=opts.stack_size or 0x400,
        r9=opts.r9,
        init_arg=opts.init_arg,
        init_sequence=opts.init_sequence,
        **common,
    )


def open_virtual_board(
    board: boards.Board,
    *,
    flash_file: str | os.PathLike[str] | None = None,
    timing: str = "typical",
    write_hooks: bool = True,
) -> Target:
    """The virtual board wired as ``board`` describes, as a Target. Its ``flash_file`` is locked
    until the target is closed: another process opening it meanwhile gets a TargetError.

    ``write_hooks=False`` promises that no watch or trace will hook its stores: the board then
    runs with unicorn's fast store path for data next to code (Machine, "Pages")."""
    from extflash.emu.virtual_board import VirtualBoard
    from extflash.target.emulated import EmulatedTarget

    path = Path(flash_file) if flash_file is not None else None
    return EmulatedTarget(VirtualBoard(board, flash_file=path, timing=timing, lock=True,
                                       small_pages=not write_hooks))


def resolve_board(
    name_or_path: str | None = None,
    *,
    mcu: str | None = None,
    chip: str | None = None,
    bank: int | str | None = None,
    pins: str | None = None,
    hse: int | str | None = None,
) -> boards.Board:
    """A shipped board, a board TOML file, or one described inline (--mcu/--chip/--pins)."""
    if name_or_path:
        if mcu or chip or pins:
            raise ConfigError("give either --board or --mcu/--chip/--pins, not both")
        loaded = boards.load(name_or_path)
        return loaded if hse is None else boards.with_hse(loaded, hse)
    missing = [n for n, v in (("--mcu", mcu), ("--chip", chip), ("--pins", pins)) if not v]
    if missing:
        raise ConfigError(
            f"no board given: use --board NAME (see 'extflash boards') or describe it with "
            f"--mcu, --chip and --pins (missing: {', '.join(missing)})"
        )
    assert mcu and chip and pins
    return boards.from_options(mcu=mcu, chip=chip, pins=pins, bank=bank, hse=hse)


def wired_size(target: Target) -> int | None:
    """Bytes of external memory the target's board has wired; None where unknown (a probe)."""
    size = getattr(getattr(target, "board", None), "flash_size", None)
    return size if isinstance(size, int) else None


@dataclass
class ProgramResult:
    """What :meth:`Session.program` did, and the image's chunks outside the device."""

    report: ProgramReport
    skipped_outside: list[Chunk] = field(default_factory=list)  # e.g. internal-flash segments


class Session:
    """A loader driven on a target: the operations users run. Use as a context manager."""

    def __init__(
        self,
        loader: Loader,
        target: Target,
        *,
        options: DriverOptions | None = None,
        progress: Progress | None = None,
        double_buffer: bool = True,
    ) -> None:
        self.loader = loader
        self.target = target
        driver = make_driver(target, loader, options)
        self.driver = double_buffered(driver) if double_buffer else driver
        self.programmer = Programmer(
            self.driver, progress=progress, wired_size=wired_size(target)
        )
        self.internal_bytes = 0

    @property
    def geometry(self) -> Geometry:
        return self.driver.geometry

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        finish = getattr(self.driver, "finish", None)
        try:
            if finish is not None:
                finish()
        finally:
            self.target.close()

    def _split(self, image: Image) -> tuple[Image, list[Chunk]]:
        """The image's part in the device, and the parts in the MCU's internal flash."""
        geom = self.geometry
        inside, outside = image.split(geom.start, geom.end)
        internal: list[Chunk] = []
        unknown: list[Chunk] = []
        part = self.target.part.part
        for c in outside.chunks:
            region = next((m for m in part.memory if m.contains(c.address, len(c.data))), None)
            (internal if region is not None and region.kind == "flash" else unknown).append(c)
        if unknown:
            where = ", ".join(f"0x{c.address:08X}..0x{c.end - 1:08X} ({c.origin})" for c in unknown)
            raise ImageError(
                f"{image.source or 'the image'} has data outside {geom.name} "
                f"(0x{geom.start:08X}..0x{geom.end - 1:08X}) and outside the internal flash of "
                f"{part.name}: {where}"
            )
        return inside, internal

    def program(
        self,
        image: Image,
        *,
        verify: bool = True,
        skip_unchanged: bool = False,
        preserve: bool = True,
        force: bool = False,
    ) -> ProgramResult:
        inside, internal = self._split(image)
        program_internal = getattr(self.target, "program_internal", None)
        if internal and program_internal is not None:
            # The target has its own internal-flash support (pyOCD): internal segments first.
            self.internal_bytes = program_internal(internal, self.programmer.progress)
            self.driver.reload()  # that flash algorithm ran in the loader's RAM
            internal = []
        elif internal:
            log.info(
                "not programming %d byte(s) for %s internal flash: %s",
                sum(len(c.data) for c in internal),
                self.target.part.part.name,
                ", ".join(f"0x{c.address:08X}..0x{c.end - 1:08X}" for c in internal),
            )
        if not inside.chunks:
            if self.internal_bytes:
                return ProgramResult(ProgramReport(self.geometry.name, 0, 0), [])
            raise ImageError(f"{image.source or 'the image'} has no data in {self.geometry.name}")
        report = self.programmer.program(
            inside, verify=verify, skip_unchanged=skip_unchanged, preserve=preserve, force=force
        )
        return ProgramResult(report, internal)

    def erase(
        self, address: int | None = None, size: int | None = None, *, force: bool = False
    ) -> list[Sector]:
        return self.programmer.erase(address, size, force=force)

    def read(self, address: int, size: int) -> bytearray:
        return self.programmer.read(address, size)

    def verify(self, image: Image) -> list[tuple[int, Mismatch]]:
        inside, _ = self._split(image)
        return self.programmer.verify(inside)

    def checksum(self, address: int | None = None, size: int | None = None) -> int:
        return self.programmer.checksum(address, size)

    def blank_check(self, address: int | None = None, size: int | None = None) -> int | None:
        return self.programmer.blank_check(address, size)


def open_session(
    loader: str | os.PathLike[str] | Loader,
    *,
    board: boards.Board | str,
    flash_file: str | os.PathLike[str] | None = None,
    timing: str = "typical",
    options: DriverOptions | None = None,
    progress: Progress | None = None,
) -> Session:
    """Open ``loader`` on the virtual board described by ``board``."""
    ldr = loader if isinstance(loader, Loader) else open_loader(loader)
    brd = board if isinstance(board, boards.Board) else boards.load(board)
    target = open_virtual_board(brd, flash_file=flash_file, timing=timing, write_hooks=False)
    try:
        return Session(ldr, target, options=options, progress=progress)
    except BaseException:
        target.close()
        raise


def load_image(path: str | os.PathLike[str], *, address: int | None = None,
               data: bytes | None = None) -> Image:
    """The image in file ``path`` (``data``: its bytes, read already)."""
    return images.load(Path(path), address=address, data=data)


def parse_int(text: str, what: str = "value") -> int:
    """``0x90000000``, ``4096``, ``64K``, ``16M`` → int; a clear InputError otherwise."""
    t = text.strip().replace("_", "")
    scale = 1
    suffixes: Sequence[tuple[str, int]] = (
        ("KIB", 1 << 10),
        ("MIB", 1 << 20),
        ("K", 1 << 10),
        ("M", 1 << 20),
    )
    upper = t.upper()
    for suffix, mult in suffixes:
        if upper.endswith(suffix) and not upper.startswith("0X"):
            t, scale = t[: -len(suffix)], mult
            break
    try:
        return int(t, 0) * scale
    except ValueError:
        raise InputError(
            f"{what} '{text}' is not a number (use e.g. 0x90000000, 4096, 64K)"
        ) from None


def parse_hz(text: str, what: str = "frequency") -> int:
    """``4M``, ``4MHz``, ``400k``, ``25000000`` → Hz (decimal multiples, unlike sizes)."""
    t = text.strip().replace("_", "")
    low = t.lower().removesuffix("hz")
    scale = {"k": 1_000, "m": 1_000_000}.get(low[-1:], 1)
    number = low[:-1] if scale != 1 else low
    try:
        value = float(number) * scale
    except ValueError:
        raise InputError(f"{what} '{text}' is not a frequency (use e.g. 4M, 400k, 25MHz)") from None
    if value <= 0 or value != int(value):
        raise InputError(f"{what} '{text}' must be a positive whole number of Hz")
    return int(value)
