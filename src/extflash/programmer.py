"""The programming engine: plan, erase, write, verify, skip unchanged — over any FlashDriver.

Nothing is erased before the whole job is known to fit the device. Bytes of a partially covered
sector that the image does not cover are preserved by default (read, merge, write). With
``skip_unchanged`` each touched sector's CRC-32 is computed on the target (or through the window)
and compared with the image; only differing sectors are erased and written. If a loader call
fails mid-way, the error says which sectors were erased and which were written, so the user
knows the state of the chip.

When the board's memory is smaller than the device the loader declares (a W25Q128 loader on a
board with a W25Q64), addresses past the wired memory wrap around to its start on the chip: the
programmer warns, and refuses to write or erase there unless forced, naming both sizes.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from extflash.errors import ImageError, OperationError
from extflash.image import Image
from extflash.plan import Geometry, Plan, Sector, SectorPlan, make_plan
from extflash.runner import FlashDriver, LoaderCallError

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (phase, done, total) in bytes
# Data to write: bytes, a buffer built once, or a view of the image (no copy of a large image)
Data = bytes | bytearray | memoryview
# A piece of a run: (address, size, its sector, the sector read back and merged; None: the
# image's bytes)
Piece = tuple[int, int, Sector, bytearray | None]
# A run to write: (address, data, the sectors it covers, in address order)
Run = tuple[int, Data, list[Sector]]

# Sectors go to the loader in SectorErase calls of up to 256 sectors and 4 MiB (at least one
# sector): each call is one progress step and costs an Init (on the virtual board an Init is
# worth more than a 64 KiB block's erase: 64 calls of 64 4 KiB sectors took 0.11 s of Inits and
# call overhead in a 16 MiB program, 16 calls 0.04 s). On a W25Q128JV a call so takes about as
# long whatever its sectors: 11.5 s for 256 4 KiB sectors (45 ms typical each), 9.6 s for 64
# 64 KiB blocks (150 ms). ST's OpenOCD driver passes a whole range in one call (stldr-abi §5.2).
ERASE_CALL_BYTES = 4 << 20
ERASE_CALL_SECTORS = 256


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


@dataclass
class ProgramReport:
    """What a program did: the sectors it skipped, erased and wrote, whether it verified, and
    the loader calls and target time it took."""

    device: str
    image_bytes: int
    sectors_touched: int
    sectors_skipped: list[int] = field(default_factory=list)
    sectors_erased: list[int] = field(default_factory=list)
    sectors_written: list[int] = field(default_factory=list)
    bytes_written: int = 0
    verified: bool = False
    loader_calls: int = 0
    target_time_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "device": self.device,
            "image_bytes": self.image_bytes,
            "sectors_touched": self.sectors_touched,
            "sectors_skipped": len(self.sectors_skipped),
            "sectors_erased": len(self.sectors_erased),
            "sectors_written": len(self.sectors_written),
            "bytes_written": self.bytes_written,
            "verified": self.verified,
            "loader_calls": self.loader_calls,
            "target_time_s": round(self.target_time_s, 6),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Mismatch:
    """Where a verify found the flash to differ from the image."""

    first_address: int
    differing_bytes: int
    compared_bytes: int
    expected: int
    actual: int

    def describe(self) -> str:
        return (
            f"{self.differing_bytes} of {self.compared_bytes} bytes differ; first at "
            f"0x{self.first_address:08X} (expected 0x{self.expected:02X}, read 0x{self.actual:02X})"
        )


class VerifyError(OperationError):
    def __init__(self, mismatch: Mismatch, what: str = "verify failed") -> None:
        super().__init__(f"{what}: {mismatch.describe()}")
        self.mismatch = mismatch


def _sector_ranges(indices: Sequence[int]) -> str:
    """``0-3, 7, 9-10`` for a list of sector indices."""
    if not indices:
        return "none"
    parts = []
    ordered = sorted(set(indices))
    start = prev = ordered[0]
    for i in [*ordered[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    return ", ".join(parts)


def _size_text(size: int) -> str:
    for unit, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"


def compare(address: int, expected: bytes, actual: bytes) -> Mismatch | None:
    if expected == actual:
        return None
    diffs = [i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b]
    diffs += range(min(len(expected), len(actual)), max(len(expected), len(actual)))
    first = diffs[0]
    exp = expected[first] if first < len(expected) else -1
    act = actual[first] if first < len(actual) else -1
    return Mismatch(address + first, len(diffs), len(expected), exp, act)


def _merged_run(image: Image, group: Sequence[Piece], fill: int) -> Run:
    """One run of adjacent pieces to write. A run the image holds in one chunk is a view of it
    (a 16 MiB binary image is not copied); any other is built once, in its own buffer."""
    start = group[0][0]
    size = sum(n for _, n, _, _ in group)
    sectors = list({sector.index: sector for _, _, sector, _ in group}.values())
    if all(data is None for *_, data in group):
        view = image.view(start, size)
        if view is not None:
            return start, view, sectors
    out = bytearray(size)
    for address, n, _, data in group:
        at = address - start
        out[at : at + n] = image.filled(address, n, fill) if data is None else data
    return start, out, sectors


class Programmer:
    """Runs operations through one driver; tracks chip state for honest failure reports."""

    def __init__(
        self,
        driver: FlashDriver,
        *,
        progress: Progress | None = None,
        wired_size: int | None = None,
    ) -> None:
        self.driver = driver
        self.geometry: Geometry = driver.geometry
        self.progress = progress or _no_progress
        self.wired_size = wired_size  # bytes of memory the board has, when known
        self.erased: list[int] = []
        self.written: list[int] = []
        # The last program/erase's sectors and program report (the HTML report's flash plan).
        self.planned: list[Sector] = []
        self.last_report: ProgramReport | None = None

    # -- the memory actually wired ------------------------------------------------------------
    @property
    def wired_end(self) -> int | None:
        """First address past the wired memory, when it is smaller than the loader's device."""
        if self.wired_size is None or self.wired_size >= self.geometry.size:
            return None
        return self.geometry.start + self.wired_size

    def size_warning(self) -> str | None:
        """The warning for a board whose memory is smaller than the loader's device."""
        end = self.wired_end
        if end is None:
            return None
        assert self.wired_size is not None
        return (
            f"the loader's device {self.geometry.name} is {_size_text(self.geometry.size)} but "
            f"the board's memory is {_size_text(self.wired_size)}: addresses from 0x{end:08X} "
            f"on wrap around to 0x{self.geometry.start:08X}"
        )

    def _check_wired(
        self, ranges: Sequence[tuple[int, int]], what: str, force: bool
    ) -> str | None:
        """Warn about a smaller wired memory; refuse to change [lo, hi) ranges past it."""
        warning = self.size_warning()
        if warning is None or self.wired_size is None:
            return None
        log.warning("%s", warning)
        end = self.geometry.start + self.wired_size
        beyond = [(max(lo, end), hi) for lo, hi in ranges if hi > end]
        if beyond and not force:
            lo, hi = beyond[0]
            alias = self.geometry.start + (lo - self.geometry.start) % self.wired_size
            raise ImageError(
                f"{what} reaches 0x{lo:08X}..0x{hi - 1:08X}, past the wired memory: {warning}; "
                f"writing there would change the data at 0x{alias:08X} instead",
                hint="use a loader made for the wired chip, or --force to write there anyway",
            )
        return warning

    # -- helpers ----------------------------------------------------------------------------
    def _state(self) -> str:
        erased_only = sorted(set(self.erased) - set(self.written))
        text = (
            f"chip state: sectors erased: {_sector_ranges(self.erased)}; "
            f"written: {_sector_ranges(self.written)}"
        )
        if erased_only:
            text += f"; erased but not yet written: {_sector_ranges(erased_only)}"
        return text

    def _fail(self, exc: LoaderCallError) -> OperationError:
        return OperationError(f"{exc.message}\n  {self._state()}", hint=exc.hint)

    def _read_chunks(
        self, address: int, size: int, phase: str, *, done: int = 0, total: int | None = None
    ) -> bytearray:
        """Read in buffer-sized pieces into one buffer; progress counts from ``done`` towards
        ``total``."""
        out = bytearray(size)
        for at, n, piece in self._pieces(address, size, phase, done=done, total=total):
            out[at : at + n] = piece  # a short piece shortens the result, as joining would
        return out

    def _pieces(
        self, address: int, size: int, phase: str, *, done: int = 0, total: int | None = None
    ) -> Iterator[tuple[int, int, bytes]]:
        """(offset, size asked, bytes read) in buffer-sized pieces, with progress after each."""
        step = max(self.driver.max_read, 0x1000)
        total = size if total is None else total
        got = 0
        while got < size:
            n = min(step, size - got)
            yield got, n, self.driver.read(address + got, n)
            got += n
            self.progress(phase, done + got, total)

    def _compare_read(
        self, address: int, expected: Data, phase: str, *, done: int, total: int
    ) -> Mismatch | None:
        """Read ``expected``'s range back piece by piece and compare: no copy of the whole run
        (a 16 MiB read-back is tens of milliseconds of fresh memory on its own)."""
        found: Mismatch | None = None
        for at, n, piece in self._pieces(address, len(expected), phase, done=done, total=total):
            m = compare(address + at, bytes(expected[at : at + n]), piece)
            if m is not None:
                found = m if found is None else replace(
                    found, differing_bytes=found.differing_bytes + m.differing_bytes)
        return None if found is None else replace(found, compared_bytes=len(expected))

    # -- program ----------------------------------------------------------------------------
    def program(
        self,
        image: Image,
        *,
        verify: bool = True,
        skip_unchanged: bool = False,
        preserve: bool = True,
        force: bool = False,
    ) -> ProgramReport:
        plan = make_plan(image, self.geometry)
        if plan.outside.chunks:
            raise ImageError(
                f"{image.source or 'the image'} has data outside {self.geometry.name}: "
                + ", ".join(f"0x{c.address:08X}..0x{c.end - 1:08X}" for c in plan.outside.chunks)
            )
        warning = self._check_wired(
            [(s.sector.address, s.sector.end) for s in plan.sectors],
            image.source or "the image",
            force,
        )
        report = ProgramReport(self.geometry.name, plan.image.size, len(plan.sectors))
        self.planned, self.last_report = [s.sector for s in plan.sectors], report
        if warning is not None:
            report.warnings.append(warning)
        calls_before = len(self.driver.calls)
        try:
            self.driver.begin("program")
            todo = list(plan.sectors)
            if skip_unchanged:
                todo = self._changed(plan, report)
            contents = self._sector_contents(plan, todo, preserve)
            self._erase([s.sector for s in todo], report)
            self._write(contents, report)
            self.driver.flush()
            if verify and contents:
                self.driver.begin("verify")
                self._verify(contents)
                report.verified = True
        except LoaderCallError as exc:
            raise self._fail(exc) from exc
        except VerifyError as exc:
            raise OperationError(f"{exc.message}\n  {self._state()}") from exc
        report.loader_calls = len(self.driver.calls) - calls_before
        report.target_time_s = sum(c.elapsed_s for c in self.driver.calls[calls_before:])
        return report

    def _changed(self, plan: Plan, report: ProgramReport) -> list[SectorPlan]:
        """Sectors whose covered bytes differ from the image, by CRC-32 (never an additive sum)."""
        changed = []
        total = plan.image.size
        done = 0
        for sp in plan.sectors:
            same = True
            for lo, hi in sp.ranges:
                expected = zlib.crc32(plan.image.bytes_at(lo, hi - lo, self.geometry.erase_value))
                if self.driver.crc32(lo, hi - lo) != expected:
                    same = False
                done += hi - lo
            self.progress("compare", done, total)
            if same:
                report.sectors_skipped.append(sp.sector.index)
            else:
                changed.append(sp)
        log.info("skip-unchanged: %d of %d sectors differ", len(changed), len(plan.sectors))
        return changed

    def _sector_contents(
        self, plan: Plan, todo: Sequence[SectorPlan], preserve: bool
    ) -> list[Run]:
        """The (address, data, sectors) runs to write after erasing ``todo``: adjacent
        pieces merged, so writes fill the loader's buffer."""
        fill = self.geometry.erase_value
        pieces: list[Piece] = []
        for sp in todo:
            sec = sp.sector
            if sp.full:
                pieces.append((sec.address, sec.size, sec, None))
            elif preserve:
                current = self._read_chunks(sec.address, sec.size, "read")
                for lo, hi in sp.ranges:
                    current[lo - sec.address : hi - sec.address] = plan.image.filled(
                        lo, hi - lo, fill
                    )
                pieces.append((sec.address, sec.size, sec, current))
            else:
                pieces.extend((lo, hi - lo, sec, None) for lo, hi in sp.ranges)
        groups: list[list[Piece]] = []
        for piece in pieces:
            if groups and groups[-1][-1][0] + groups[-1][-1][1] == piece[0]:
                groups[-1].append(piece)
            else:
                groups.append([piece])
        return [_merged_run(plan.image, group, fill) for group in groups]

    def _erase(self, sectors: Sequence[Sector], report: ProgramReport) -> None:
        total = sum(s.size for s in sectors)
        done = 0
        batch: list[Sector] = []
        size = 0
        for s in sectors:
            batch.append(s)
            size += s.size
            if (size >= ERASE_CALL_BYTES or len(batch) == ERASE_CALL_SECTORS
                    or s is sectors[-1]):
                self.driver.erase_sectors(batch)
                for b in batch:
                    self.erased.append(b.index)
                    report.sectors_erased.append(b.index)
                    done += b.size
                self.progress("erase", done, total)
                batch, size = [], 0

    def _write(self, runs: Sequence[Run], report: ProgramReport) -> None:
        total = sum(len(d) for _, d, _ in runs)
        done = 0
        page = max(self.geometry.page_size, 1)
        for address, data, sectors in runs:
            view = memoryview(data)
            pending = 0  # sectors[pending:] are the run's sectors not yet written whole
            offset = 0
            while offset < len(data):
                # Chunks end on page boundaries so no Write call straddles a partial page, and
                # on a sector boundary when they hold one: a call that fails or is interrupted
                # then leaves whole sectors written, as the chip-state report counts them.
                limit = self.driver.max_write
                end_addr = (address + offset + limit) // page * page
                if end_addr < address + len(data):
                    sector = self.geometry.sectors[self.geometry.sector_index(end_addr)]
                    if sector.address > address + offset:
                        end_addr = sector.address
                n = max(min(end_addr - (address + offset), len(data) - offset), 1)
                self.driver.write(address + offset, bytes(view[offset : offset + n]))
                offset += n
                done += n
                report.bytes_written += n
                # A sector counts as written once every byte of it in this run is.
                reached = address + offset
                while pending < len(sectors) and (
                    offset == len(data) or sectors[pending].end <= reached
                ):
                    index = sectors[pending].index
                    pending += 1
                    self.written.append(index)
                    report.sectors_written.append(index)
                self.progress("write", done, total)

    def _verify(self, runs: Sequence[Run]) -> None:
        """Read back and compare; where reading back is slow (a probe), compare CRC-32s computed
        on the target first and read back only a run that differs, to locate the difference."""
        total = sum(len(d) for _, d, _ in runs)
        done = 0
        for address, data, _ in runs:
            if self.driver.crc_on_target and self.driver.crc32(address, len(data)) == zlib.crc32(
                data
            ):
                done += len(data)
                self.progress("verify", done, total)
                continue
            mismatch = self._compare_read(address, data, "verify", done=done, total=total)
            if mismatch is not None:
                raise VerifyError(mismatch)
            done += len(data)

    # -- other operations -------------------------------------------------------------------
    def erase(
        self, address: int | None = None, size: int | None = None, *, force: bool = False
    ) -> list[Sector]:
        """Erase the sectors overlapping [address, address+size), or the whole chip."""
        if address is not None and self.geometry.contains(address, size or 1):
            sectors = self.geometry.sectors_in(address, size or 1)
            self._check_wired(
                [(sectors[0].address, sectors[-1].end)],
                f"erasing 0x{address:08X}+0x{size or 1:X}",
                force,
            )
        try:
            self.driver.begin("erase")
            if address is None:
                if self.driver.can_erase_chip():
                    self.planned = list(self.geometry.sectors)
                    self.driver.erase_chip()
                    return list(self.geometry.sectors)
                sectors = list(self.geometry.sectors)
            else:
                if not self.geometry.contains(address, size or 1):
                    raise ImageError(
                        f"range 0x{address:08X}+0x{size or 0:X} is outside {self.geometry.name} "
                        f"(0x{self.geometry.start:08X}..0x{self.geometry.end - 1:08X})"
                    )
                sectors = self.geometry.sectors_in(address, size or 1)
            report = ProgramReport(self.geometry.name, 0, len(sectors))
            self.planned, self.last_report = list(sectors), report
            self._erase(sectors, report)
            return sectors
        except LoaderCallError as exc:
            raise self._fail(exc) from exc

    def read(self, address: int, size: int) -> bytearray:
        self._check_range(address, size)
        self._check_wired([(address, address + size)], "reading", force=True)
        try:
            self.driver.begin("read")
            return self._read_chunks(address, size, "read")
        except LoaderCallError as exc:
            raise self._fail(exc) from exc

    def verify(self, image: Image) -> list[tuple[int, Mismatch]]:
        """Compare the chip with ``image``; returns the mismatching chunks (empty when equal)."""
        plan = make_plan(image, self.geometry)
        if plan.outside.chunks:
            raise ImageError(f"{image.source or 'the image'} has data outside {self.geometry.name}")
        self._check_wired([(c.address, c.end) for c in plan.image.chunks], "verifying", True)
        mismatches = []
        try:
            self.driver.begin("verify")
            done = 0
            for chunk in plan.image.chunks:
                m = self._compare_read(
                    chunk.address, chunk.data, "verify", done=done, total=plan.image.size
                )
                done += len(chunk.data)
                if m is not None:
                    mismatches.append((chunk.address, m))
        except LoaderCallError as exc:
            raise self._fail(exc) from exc
        return mismatches

    def blank_check(self, address: int | None = None, size: int | None = None) -> int | None:
        """First address not holding the erase value, or None when the range is blank."""
        address = self.geometry.start if address is None else address
        size = self.geometry.end - address if size is None else size
        data = self.read(address, size)
        fill = self.geometry.erase_value
        if data.count(fill) == len(data):
            return None
        for i, b in enumerate(data):
            if b != fill:
                return address + i
        return None  # pragma: no cover - count() said otherwise

    def checksum(self, address: int | None = None, size: int | None = None) -> int:
        """CRC-32 (IEEE) of a range of the chip."""
        address = self.geometry.start if address is None else address
        size = self.geometry.end - address if size is None else size
        self._check_range(address, size)
        try:
            self.driver.begin("read")
            return self.driver.crc32(address, size)
        except LoaderCallError as exc:
            raise self._fail(exc) from exc

    def _check_range(self, address: int, size: int) -> None:
        if size <= 0 or not self.geometry.contains(address, size):
            raise ImageError(
                f"range 0x{address:08X}+0x{size:X} is outside {self.geometry.name} "
                f"(0x{self.geometry.start:08X}..0x{self.geometry.end - 1:08X})"
            )
