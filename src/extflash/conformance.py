"""The conformance test: a loader run through the situations hosts put it in, on a virtual board.

``extflash test LOADER --board NAME`` (and :func:`run`) checks, each on the chip's real contents:

* the ``StorageInfo``/``FlashDevice`` claims against the chip (start, size, sectors, page size,
  erase value) and the RAM footprint against the family's loader RAM;
* ``Init`` (pins against the board's wiring), ``Init`` twice in a row, and the flash readable
  the way hosts read it: through ``Read`` when the loader exports it, otherwise through the
  memory-mapped window after ``Init``;
* erase of the first, a middle and the last sector, and nothing else, by the chip's own log of
  the erase commands it took;
* writes at an unaligned address, across a page boundary and of one byte;
* read-back through ``Read`` and through the window, ``Verify`` and ``CheckSum`` semantics
  (ST's reference behaviour), ``MassErase``;
* stack depth, writes outside the loader's RAM and the host's buffer, accesses to peripherals
  the board does not model;
* the virtual time of each operation against the chip's own minimum for it.

A failed call is explained with :mod:`extflash.diagnose`; the board is then replaced by a fresh
one so the next check starts clean. Every check reports ``pass``, ``fail``, ``warn``, ``skip``
or ``info``; the loader conforms when none fails.

Each check is graded by what the hosts it models would do with this loader (stldr-abi.md §3.1,
§4.3, §5.1, §5.2): STM32CubeProgrammer and ST's OpenOCD for a ``.stldr``, pyOCD for an FLM.
Both ``.stldr`` hosts read the flash through ``Read`` when the loader exports it and through
the window only when it does not, so a loader with ``Read`` that leaves the window unmapped
earns a warning, not a failure. The report names the hosts the loader works with.

The chip's busy time is fast-forwarded while a loader polls its status register in a loop of
its own (the controller's automatic polling is skipped by the QUADSPI model already), so a
chip erase of minutes of virtual time takes seconds of host time.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from extflash import api, diagnose
from extflash import board as boards
from extflash.chips import ChipSpec
from extflash.diagnose.evidence import CallEvidence
from extflash.emu.flash.nor import EVENT_HISTORY
from extflash.errors import ExtflashError, TargetError
from extflash.loader.model import Loader, open_loader
from extflash.plan import Geometry
from extflash.runner import DriverOptions, LoaderCallError

log = logging.getLogger(__name__)

SCHEMA = "extflash.test/1"
STATUSES = ("pass", "fail", "warn", "skip", "info")
SLOW_FACTOR = 10.0  # an operation this many times slower than the chip needs is reported
STACK_WARN = 0.75  # share of the host's stack that earns a warning
PATTERN_SEED = 0x5A
CUBEPROGRAMMER_MASS_ERASE_S = 600.0  # STM32CubeProgrammer's MassErase timeout (external memory)

CUBEPROGRAMMER = "STM32CubeProgrammer"
ST_OPENOCD = "ST OpenOCD"
PYOCD = "pyOCD"
# The hosts whose calling sequences the test models, per loader kind (stldr-abi.md §4.3, §5).
HOSTS = {"stldr": (CUBEPROGRAMMER, ST_OPENOCD), "flm": (PYOCD,)}
WINDOW_NOTE = "the hosts read this loader through Read (see the mapped-after-init warning)"
# STM32CubeProgrammer calls Verify to "verify while programming" and CheckSum in its incremental
# mode; ST OpenOCD parses both but never calls them (stldr-abi.md §3.1, §3.2).
VERIFY_HOSTS = (CUBEPROGRAMMER,)
UNMAPPED_WITH_READ = ("Read is exported, and STM32CubeProgrammer and ST OpenOCD read through it; "
                      "hosts that read the window directly, or boot code that expects it "
                      "mapped, will not see the flash")


@dataclass(frozen=True)
class Check:
    """One situation and how the loader handled it."""

    name: str  # "erase-last"
    title: str  # "Erase of the last sector"
    status: str  # "pass" | "fail" | "warn" | "skip" | "info"
    detail: str
    time_s: float | None = None  # virtual time the loader took
    minimum_s: float | None = None  # what the chip itself needs for the operation
    diagnosis: diagnose.Diagnosis | None = None
    hosts: tuple[str, ...] = ()  # the hosts whose behaviour it models; () = every host

    def concerns(self, host: str) -> bool:
        return not self.hosts or host in self.hosts

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "status": self.status,
                "detail": self.detail, "time_s": self.time_s, "minimum_s": self.minimum_s,
                "hosts": list(self.hosts),
                "diagnosis": self.diagnosis.as_dict() if self.diagnosis else None}


@dataclass
class Report:
    """The checks ``extflash test`` ran on a loader and their outcomes."""

    loader: str
    board: str
    kind: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in STATUSES}

    @property
    def hosts(self) -> tuple[str, ...]:
        return HOSTS.get(self.kind, ())

    def works_with(self) -> list[str]:
        """The modelled hosts no failed check concerns."""
        return [h for h in self.hosts
                if not any(c.status == "fail" and c.concerns(h) for c in self.checks)]

    def verdict(self) -> str:
        works = self.works_with()
        if works == list(self.hosts):
            line = f"works with {' and '.join(works)}"
        elif works:
            line = f"works with {' and '.join(works)} only"
        else:
            line = f"does not work with {' or '.join(self.hosts)}"
        warned = sum(c.status == "warn" for c in self.checks)
        if warned:
            line += f" ({warned} warning{'s' if warned > 1 else ''} above)"
        return line

    def as_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "loader": self.loader, "board": self.board, "kind": self.kind,
                "passed": self.passed, "counts": self.counts(), "hosts": list(self.hosts),
                "works_with": self.works_with(), "checks": [c.as_dict() for c in self.checks]}

    def render(self) -> list[str]:
        """The report as a table, with each failure's explanation under it."""
        lines = [f"{self.loader} on {self.board}", ""]
        width = max(len(c.title) for c in self.checks) if self.checks else 10
        shown: set[str] = set()
        for c in self.checks:
            timing = ""
            if c.time_s is not None:
                timing = _seconds(c.time_s)
                if c.minimum_s:
                    timing += f" ({c.time_s / c.minimum_s:.1f}x chip)"
            lines.append(f"{c.status.upper():<5} {c.title:<{width}}  {timing:<22} {c.detail}")
            if c.diagnosis is not None and c.status in ("fail", "warn"):
                if c.diagnosis.cause in shown:
                    lines.append("      (the same cause as above)")
                    continue
                shown.add(c.diagnosis.cause)
                lines += [f"      {line}" for line in c.diagnosis.render().splitlines()]
        counts = self.counts()
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        lines += ["", f"{'PASSED' if self.passed else 'FAILED'}: {summary}",
                  f"Verdict: {self.verdict()}"]
        return lines


def _seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3f} ms"
    return f"{value * 1e6:.1f} us"


# -- the rig: a watched session on a fresh virtual board ---------------------------------------


class _Rig:
    def __init__(self, loader: Loader, board: boards.Board, timing: str,
                 options: DriverOptions) -> None:
        self.session, self.watch = diagnose.open_session(loader, board=board, timing=timing,
                                                         options=options)
        self.driver: Any = self.session.driver
        self.vb: Any = self.watch.board
        self.geometry: Geometry = self.driver.geometry
        self.dirty = False
        _StatusPollSkipper(self.vb)

    @property
    def kind(self) -> str:
        return str(self.driver.program.kind)

    def has(self, name: str) -> bool:
        return name in self.driver.program.functions

    # host-side access to the chips, in the host's (dual-flash interleaved) byte order
    def _banks(self) -> list[Any]:
        return [self.vb.chips[b] for b in sorted(self.vb.chips)]

    @property
    def capacity(self) -> int:
        """Bytes the chip(s) really hold, in the host's address space."""
        return sum(len(chip.memory) for chip in self._banks())

    def _check_range(self, offset: int, size: int) -> None:
        if offset < 0 or offset + size > self.capacity:
            raise _Skip(f"0x{self.geometry.start + offset:08X} is beyond the "
                        f"{self.capacity >> 20} MiB the chip holds (see storage-info)")

    def chip_read(self, offset: int, size: int) -> bytes:
        self._check_range(offset, size)
        banks = self._banks()
        if len(banks) == 1:
            return bytes(banks[0].memory[offset:offset + size])
        lo, hi = offset // 2, (offset + size + 1) // 2
        view = bytearray(2 * (hi - lo))
        view[0::2], view[1::2] = banks[0].memory[lo:hi], banks[1].memory[lo:hi]
        return bytes(view[offset % 2:offset % 2 + size])

    def chip_write(self, offset: int, data: bytes) -> None:
        self._check_range(offset, len(data))
        banks = self._banks()
        numbers = sorted(self.vb.chips)
        if len(banks) == 1:
            banks[0].memory[offset:offset + len(data)] = data
            self.vb.qspi.on_memory_change(numbers[0], offset, len(data))
            return
        lo, hi = offset // 2, (offset + len(data) + 1) // 2
        view = bytearray(self.chip_read(2 * lo, 2 * (hi - lo)))
        view[offset % 2:offset % 2 + len(data)] = data
        for bank, number in zip(banks, numbers, strict=True):
            bank.memory[lo:hi] = view[number - 1::2]
            self.vb.qspi.on_memory_change(number, lo, hi - lo)

    def erased_by_chip(self, ev: CallEvidence) -> list[tuple[int, int]] | None:
        """The host offset ranges the chip(s) erased during call ``ev``, from each chip's own log
        of the commands it accepted (merged, sorted); None when the log no longer reaches back
        to the call's start."""
        return self._chip_spans([ev], _erase_span)

    def programmed_by_chip(self, calls: list[CallEvidence]) -> list[tuple[int, int]] | None:
        """The pages (host offsets) the chip(s) took page programs for during ``calls``."""
        return self._chip_spans(calls, _program_span)

    def _chip_spans(self, calls: list[CallEvidence],
                    span_of: Callable[[ChipSpec, Any], tuple[int, int] | None]
                    ) -> list[tuple[int, int]] | None:
        if not calls:
            return []
        start_fs, end_fs = calls[0].start_fs, calls[-1].end_fs
        spans: list[tuple[int, int]] = []
        banks = self._banks()
        for chip in banks:
            events = list(chip.events)
            if len(events) == EVENT_HISTORY and events[0].time_fs > start_fs:
                return None
            for e in events:
                if not start_fs <= e.time_fs <= end_fs or e.outcome != "ok":
                    continue
                span = span_of(chip.spec, e.spi)
                if span is not None:
                    spans.append(span)
        scale = len(banks)  # dual-flash: chip offset n holds host bytes 2n and 2n + 1
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted((lo * scale, hi * scale) for lo, hi in spans):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        return merged

    def chip_blank(self) -> bool:
        return all(not chip.memory.strip(b"\xff") for chip in self._banks())

    def spec(self) -> ChipSpec:
        spec: ChipSpec = self._banks()[0].spec
        return spec

    def last(self, function: str) -> CallEvidence | None:
        return next((c for c in reversed(self.watch.calls) if c.function == function), None)

    def close(self) -> None:
        try:
            self.session.close()
        except ExtflashError as exc:  # pragma: no cover - closing a virtual board
            log.debug("closing the virtual board: %s", exc)


class _StatusPollSkipper:
    """Fast-forward a busy chip while the loader polls its status register in a loop of its own.

    The second status read in a row that finds the chip busy moves virtual time to the chip's
    end of busy, before the chip answers: the loader reads WIP = 0 at the time it would have
    after polling all along, and the call's virtual time stays what the chip needs. Time never
    passes the call's deadline (:meth:`VirtualClock.skip_to`), so timeouts still happen.
    """

    def __init__(self, board: Any) -> None:
        self.board = board
        self._last: dict[int, int | None] = {}  # bank -> opcode of its previous command
        self._inner = board.qspi.trace
        board.qspi.trace = self._on_command

    @staticmethod
    def _status_opcodes(chip: Any) -> set[int]:
        # SR1 carries WIP on every vendor; Micron parts also report ready in the flag status
        # register (0x70, bit 7)
        opcodes = {r.read for r in chip.spec.status.registers if r.name == "sr1"}
        return {o for o in opcodes if o is not None} | ({0x70} if chip.spec.micron else set())

    def _on_command(self, bank: int, cmd: Any) -> None:
        if self._inner is not None:
            self._inner(bank, cmd)
        chip = self.board.chips.get(bank)
        previous, self._last[bank] = self._last.get(bank), cmd.instruction
        if chip is None or cmd.instruction not in self._status_opcodes(chip):
            return
        if previous == cmd.instruction and chip.busy:
            self.board.machine.clock.skip_to(chip.busy_until)


def _erase_span(spec: ChipSpec, cmd: Any) -> tuple[int, int] | None:
    """The chip byte range an accepted erase command cleared, None for other commands."""
    if cmd.instruction in spec.chip_erase.opcodes:
        return 0, spec.size
    et = spec.erase_type(cmd.instruction) if cmd.instruction is not None else None
    if et is None or cmd.address is None:
        return None
    start = cmd.address % spec.size
    start -= start % et.size  # the chip erases the block the address falls in
    return start, start + et.size


def _program_span(spec: ChipSpec, cmd: Any) -> tuple[int, int] | None:
    """The chip page an accepted page program wrote into, None for other commands."""
    if cmd.instruction is None or cmd.address is None or not cmd.write_data or \
            not any(cmd.instruction in (p.opcode, p.opcode_4b) for p in spec.programs):
        return None
    page = cmd.address % spec.size
    page -= page % spec.page_size  # a page program wraps within its page
    return page, page + spec.page_size


def _pattern(size: int, seed: int = PATTERN_SEED) -> bytes:
    """Bytes that differ from their neighbours, never the erase value 0xFF."""
    return bytes((((i * 7 + seed) ^ (i >> 8)) & 0xFF) % 0xFF for i in range(size))


# -- the runner of checks -----------------------------------------------------------------------


class _Suite:
    def __init__(self, loader: Loader, board: boards.Board, timing: str,
                 options: DriverOptions, progress: Callable[[str], None] | None) -> None:
        self.loader = loader
        self.board = board
        self.timing = timing
        self.options = options
        self.progress = progress
        self.rig: _Rig | None = None
        self.report = Report(os.path.basename(loader.path), board.name, loader.kind)
        self.evidence: list[CallEvidence] = []
        self.on_rig: Callable[[diagnose.Watch], None] | None = None  # each fresh board's watch

    def fresh(self) -> _Rig:
        if self.rig is None or self.rig.dirty:
            if self.rig is not None:
                self.evidence += self.rig.watch.calls
                self.rig.close()
            self.rig = _Rig(self.loader, self.board, self.timing, self.options)
            if self.on_rig is not None:
                self.on_rig(self.rig.watch)
        return self.rig

    def add(self, check: Check) -> None:
        self.report.checks.append(check)
        if self.progress is not None:
            self.progress(f"{check.status}: {check.title}")

    @contextmanager
    def calling(self, name: str, title: str, hosts: tuple[str, ...] = ()) -> Iterator[_Rig]:
        """Run loader calls; a failed call becomes a failed check (concerning ``hosts``) with
        its diagnosis."""
        rig = self.fresh()
        try:
            yield rig
        except LoaderCallError as err:
            rig.dirty = True
            diagnosis = diagnose.explain(err, rig.watch)
            self.add(Check(name, title, "fail", _headline(err, diagnosis), diagnosis=diagnosis,
                           hosts=hosts))
            raise _Failed() from None

    def all_calls(self) -> list[CallEvidence]:
        return self.evidence + (self.rig.watch.calls if self.rig else [])

    def close(self) -> None:
        if self.rig is not None:
            self.evidence += self.rig.watch.calls
            self.rig.close()
            self.rig = None


def _headline(err: LoaderCallError, diagnosis: diagnose.Diagnosis) -> str:
    """How the call ended, without the cause the diagnosis prints under it."""
    line = err.message.split("\n")[0]
    if diagnosis.cause in line:
        line = line[:line.index(diagnosis.cause)]
    return line.rstrip(": ;")


class _Failed(Exception):
    """A check already recorded its failure."""


class _Skip(Exception):
    """A check cannot run (the message says why)."""


# -- static checks ------------------------------------------------------------------------------


def _check_storage_info(suite: _Suite) -> None:
    title = "StorageInfo against the chip" if suite.loader.kind == "stldr" else \
        "FlashDevice against the chip"
    try:
        geometry = api.loader_geometry(suite.loader)
    except ExtflashError as exc:
        suite.add(Check("storage-info", title, "fail", exc.message))
        return
    memory = suite.board.memory_at(geometry.start)
    from extflash import chips

    spec = chips.find(memory.chip)
    count = len(memory.banks)
    # the window of the controller the memory hangs on (QUADSPI, OCTOSPIn or XSPIn)
    window = next((w for w in suite.board.part.family.windows
                   if w.controller == memory.controller), None)
    problems = []
    if window is not None and geometry.start != window.start:
        problems.append(f"start 0x{geometry.start:08X}, the window is at 0x{window.start:08X}")
    size = spec.size * count
    if geometry.size != size:
        problems.append(f"size {geometry.size:#x} ({geometry.size >> 20} MiB), the "
                        f"{spec.name}{' x2' if count > 1 else ''} holds {size:#x} "
                        f"({size >> 20} MiB)")
    covered = sum(s.size for s in geometry.sectors)
    if covered != geometry.size:
        problems.append(f"the sectors cover {covered:#x} bytes, not the declared "
                        f"{geometry.size:#x}")
    smallest = spec.sector_size * count
    odd = [s for s in geometry.sectors
           if s.size % smallest or (s.address - geometry.start) % smallest]
    if odd:
        problems.append(f"sector {odd[0].index} (0x{odd[0].address:08X}, {odd[0].size:#x} bytes) "
                        f"is not made of the chip's {smallest:#x}-byte erase units")
    page = spec.page_size * count
    if geometry.page_size > page or page % max(geometry.page_size, 1):
        problems.append(f"page size {geometry.page_size:#x}, the chip programs {page:#x}-byte "
                        f"pages")
    if geometry.erase_value != 0xFF:
        problems.append(f"erase value 0x{geometry.erase_value:02X}, NOR flash erases to 0xFF")
    if problems:
        suite.add(Check("storage-info", title, "fail", "; ".join(problems)))
        return
    suite.add(Check("storage-info", title, "pass",
                    f"{geometry.size >> 20} MiB at 0x{geometry.start:08X}, "
                    f"{len(geometry.sectors)} x {geometry.sectors[0].size:#x} sectors, "
                    f"{geometry.page_size:#x}-byte pages"))


def _check_footprint(suite: _Suite) -> None:
    try:
        rig = suite.fresh()
    except ExtflashError as exc:
        suite.add(Check("ram-footprint", "RAM footprint", "fail", exc.message))
        raise _Failed() from None
    lay = rig.driver.layout
    fam = suite.board.part.family
    program = rig.driver.program
    image = program.image_end - program.image_start
    detail = (f"image {image} bytes at 0x{program.image_start:08X}, stack "
              f"{lay.stack_top - lay.stack_bottom} bytes, {lay.buffer_size}-byte buffer in "
              f"{lay.ram.name} (ends 0x{lay.ram.end:08X})")
    status = "pass"
    if program.kind == "stldr" and program.image_start != fam.loader_ram_base + 4:
        status = "warn"
        detail = (f"linked at 0x{program.image_start:08X}; CubeProgrammer loads {fam.name} "
                  f"loaders at 0x{fam.loader_ram_base + 4:08X}. " + detail)
    suite.add(Check("ram-footprint", "RAM footprint", status, detail))


# -- calls --------------------------------------------------------------------------------------


def _init(rig: _Rig, operation: str = "program") -> float:
    rig.driver.begin(operation)
    ev = rig.last("Init")
    return ev.elapsed_s if ev else 0.0


def _check_init(suite: _Suite) -> None:
    with suite.calling("init", "Init") as rig:
        elapsed = _init(rig)
    suite.add(Check("init", "Init", "pass", "returned success", time_s=elapsed))
    rows = diagnose.wiring.compare(rig.vb)
    problems = [p for r in rows if (p := r.problem()) is not None]
    if problems:
        suite.add(Check("wiring", "Pins against the board's wiring", "fail", problems[0],
                        diagnosis=diagnose.Diagnosis("wiring", "Init", problems[0],
                                                     tuple(problems[1:]))))
    else:
        pins = ", ".join(f"{r.signal.upper()} {r.board_pin}" for r in rows if r.board_pin)
        suite.add(Check("wiring", "Pins against the board's wiring", "pass", pins))
    _check_mapped_after_init(suite, rig)


def _reads_through_read(rig: _Rig) -> bool:
    """Do the hosts read this loader's flash through its Read (stldr-abi.md §5.2)?"""
    return rig.kind == "stldr" and rig.has("Read")


def _graded_window(rig: _Rig, state: Any, detail: str,
                   note: str = UNMAPPED_WITH_READ) -> tuple[str, str]:
    """(status, detail) for a window that does not show the flash after Init.

    A window left unmapped fails only when the hosts read it: a ``.stldr`` without Read
    (STM32CubeProgrammer: "Data read failed"; ST OpenOCD reads the window after Init) or an FLM
    (pyOCD reads after Init(VERIFY)). A window mapped with wrong settings fails in any case:
    whatever reads it (a host, a debugger, the application's XIP code) gets wrong bytes
    without an error."""
    if state is not None and not state.mapped and _reads_through_read(rig):
        return "warn", f"{detail}; {note}"
    return "fail", detail


def _check_mapped_after_init(suite: _Suite, rig: _Rig) -> None:
    name, title = "mapped-after-init", "Flash memory-mapped after Init"
    ev = rig.last("Init")
    if ev is None or ev.window is None:
        suite.add(Check(name, title, "skip", "no Init call"))
        return
    state = ev.window
    if state.readable:
        suite.add(Check(name, title, "pass", state.describe()))
        return
    if rig.kind != "stldr":  # an FLM is read only after Init(VERIFY): the window-read check
        suite.add(Check(name, title, "info", state.describe() + "; pyOCD reads the flash after "
                        "Init(VERIFY), see the window-read check"))
        return
    detail = state.describe()
    if not _reads_through_read(rig):
        detail += ("; without Read, STM32CubeProgrammer and ST OpenOCD read the flash back "
                   "through the window after Init (Data read failed / verify mismatches)")
    status, detail = _graded_window(rig, state, detail)
    suite.add(Check(name, title, status, detail))


def _check_init_twice(suite: _Suite) -> None:
    """Hosts call Init before every operation (stldr-abi.md §5.7): after a second Init the flash
    must read back the way the hosts read it (Read when exported, the window otherwise)."""
    name, title = "init-twice", "Init twice in a row"
    rig = suite.fresh()
    geo = rig.geometry
    offset, size = geo.sectors[0].size // 2 + 3, 64
    data = _pattern(size, seed=5)
    rig.chip_write(offset, data)
    via_read = _reads_through_read(rig)
    with suite.calling(name, title) as rig:
        _init(rig)
        if rig.kind == "flm":
            rig.driver.finish()  # FLM hosts pair each Init with an UnInit
        else:
            # a host (or boot code) reads the mapped flash in between: on silicon that first
            # access raises BUSY until an ABORT (RM0433 §23.3.7), which the next Init must do
            with contextlib.suppress(TargetError):  # not mapped: nothing to touch
                rig.vb.machine.mem_read(rig.vb.window_base, 4)
        second = _init(rig, "read" if via_read else "verify")
        if via_read:
            lay = rig.driver.layout
            rig.driver.expect_ok("Read", geo.start + offset, size, lay.buffer,
                                 timeout_s=rig.driver.timeouts.call_min)
            got = rig.session.target.read_memory(lay.buffer, size)
    path = "Read" if via_read else "the window"
    if not via_read:
        ev = rig.last("Init")
        state = ev.window if ev is not None else None
        if state is not None and not state.readable:
            suite.add(Check(name, title, "fail", f"the second Init returned success but the "
                            f"flash is {state.describe()}", time_s=second))
            return
        got = rig.session.target.read_memory(geo.start + offset, size)
    if got != data:
        suite.add(Check(name, title, "fail", f"after the second Init, {path} returns "
                        f"{got[:8].hex(' ')} at 0x{geo.start + offset:08X}, the chip holds "
                        f"{data[:8].hex(' ')}", time_s=second))
        return
    suite.add(Check(name, title, "pass", f"both returned success; the flash reads back through "
                    f"{path}", time_s=second))


def _erase_minimum(spec: ChipSpec, size: int, timing: str, count: int) -> float:
    """The chip's own time to erase ``size`` bytes with its largest fitting erase commands."""
    if timing == "instant":
        return 0.0
    pick = 0 if timing == "typical" else 1
    per_chip = size // count
    total = 0.0
    for et in sorted(spec.erases, key=lambda e: -e.size):
        n, per_chip = divmod(per_chip, et.size)
        total += n * (et.typ_ms, et.max_ms)[pick] / 1e3
    return total


def _program_minimum(spec: ChipSpec, address: int, size: int, timing: str, count: int) -> float:
    if timing == "instant" or size == 0:
        return 0.0
    page = spec.page_size * count
    first = address // page
    last = (address + size - 1) // page
    return (last - first + 1) * spec.timing.page_program_us[0 if timing == "typical" else 1] / 1e6


def _count(suite: _Suite, rig: _Rig) -> int:
    """The chips the loader drives side by side (2 in dual-flash)."""
    return len(suite.board.memory_at(rig.geometry.start).banks)


def _check_erase(suite: _Suite, which: str) -> None:
    name, title = f"erase-{which}", f"Erase of the {which} sector"
    rig = suite.fresh()
    sectors = rig.geometry.sectors
    index = {"first": 0, "middle": len(sectors) // 2, "last": len(sectors) - 1}[which]
    sector = sectors[index]
    start = rig.geometry.start
    neighbours = [s for s in (sectors[index - 1] if index else None,
                              sectors[index + 1] if index + 1 < len(sectors) else None) if s]
    fill = _pattern(sector.size)
    for s in (sector, *neighbours):
        rig.chip_write(s.address - start, fill[: s.size])
    with suite.calling(name, title) as rig:
        _init(rig, "erase")
        rig.driver.erase_sectors([sector])
    ev = rig.last(_erase_function(rig))
    elapsed = ev.elapsed_s if ev else None
    minimum = _erase_minimum(rig.spec(), sector.size, suite.timing, _count(suite, rig))
    after = rig.chip_read(sector.address - start, sector.size)
    left = sum(b != 0xFF for b in after)
    call = ev.signature() if ev else "SectorErase"
    erased = rig.erased_by_chip(ev) if ev is not None else None
    wanted = (sector.address - start, sector.end - start)
    outside = [r for r in erased or [] if r[0] < wanted[0] or r[1] > wanted[1]]
    if outside:
        where = ", ".join(_span(start, lo, hi) for lo, hi in outside)
        kept = f"; {left} of its {sector.size} bytes stayed unerased" if left else ""
        suite.add(Check(name, title, "fail", f"{call} made the chip erase {where}, outside the "
                        f"requested 0x{sector.address:08X}..0x{sector.end - 1:08X}{kept}",
                        elapsed, minimum))
        return
    if left:
        suite.add(Check(name, title, "fail", f"{call} returned success but left {left} of "
                        f"{sector.size} bytes of 0x{sector.address:08X} unerased",
                        elapsed, minimum))
        return
    if ev is not None and ev.chip_busy_s:
        suite.add(Check(name, title, "fail", f"{call} returned while the chip was still "
                        f"erasing (busy for another {_seconds(ev.chip_busy_s)}): it does not "
                        f"wait for WIP=0, so the host's next command finds the chip busy",
                        elapsed, minimum))
        return
    for s in neighbours:
        data = rig.chip_read(s.address - start, s.size)
        if data != fill[: s.size]:
            changed = sum(a != b for a, b in zip(data, fill, strict=False))
            suite.add(Check(name, title, "fail", f"{call} also changed {changed} bytes of the "
                            f"neighbouring sector at 0x{s.address:08X}", elapsed, minimum))
            return
    if erased is None:
        done = (f"0x{sector.address:08X}..0x{sector.end - 1:08X} reads 0xFF (the chip's log "
                f"no longer reaches back to the call)")
    else:
        done = ", ".join(_span(start, lo, hi) for lo, hi in erased) + " erased by the chip"
    suite.add(_timed(name, title, f"{done}, neighbours untouched", elapsed, minimum))


def _span(start: int, lo: int, hi: int) -> str:
    return f"0x{start + lo:08X}..0x{start + hi - 1:08X}"


def _erase_function(rig: _Rig) -> str:
    return "SectorErase" if rig.kind == "stldr" else "EraseSector"


def _timed(name: str, title: str, detail: str, elapsed: float | None,
           minimum: float | None) -> Check:
    """A passing check, turned into a warning when the loader is far slower than the chip."""
    if elapsed is not None and minimum and elapsed > SLOW_FACTOR * minimum and elapsed > 1e-3:
        return Check(name, title, "warn", f"{detail}; {elapsed / minimum:.0f}x slower than "
                     f"the chip needs (fixed delays instead of status polling?)", elapsed, minimum)
    return Check(name, title, "pass", detail, elapsed, minimum)


def _check_write(suite: _Suite, name: str, title: str, offset: int, size: int) -> None:
    rig = suite.fresh()
    geo = rig.geometry
    sector = geo.sectors[min(1, len(geo.sectors) - 1)]
    base = sector.address - geo.start
    lo, hi = max(base, offset + base - 64), min(geo.size, offset + base + size + 64)
    rig.chip_write(lo, b"\xff" * (hi - lo))
    data = _pattern(size, seed=offset)
    address = geo.start + base + offset
    with suite.calling(name, title) as rig:
        _init(rig)
        mark = len(rig.watch.calls)
        rig.driver.write(address, data)
    function = "Write" if rig.kind == "stldr" else "ProgramPage"
    calls = [c for c in rig.watch.calls[mark:] if c.function == function]
    elapsed = sum(c.elapsed_s for c in calls) if calls else None
    minimum = _program_minimum(rig.spec(), base + offset, size, suite.timing, _count(suite, rig))
    got = rig.chip_read(base + offset, size)
    around = rig.chip_read(lo, hi - lo)
    if got != data:
        bad = next(i for i, (a, b) in enumerate(zip(got, data, strict=True)) if a != b)
        wrong = sum(a != b for a, b in zip(got, data, strict=True))
        detail = (f"{wrong} of {size} bytes differ in the chip, first at 0x{address + bad:08X} "
                  f"(0x{got[bad]:02X}, expected 0x{data[bad]:02X})")
        diagnosis = _write_diagnosis(rig, calls[-1] if calls else None)
        suite.add(Check(name, title, "fail", detail, elapsed, minimum, diagnosis))
        return
    pages = rig.programmed_by_chip(calls)
    page = rig.spec().page_size * _count(suite, rig)
    first, end = base + offset - (base + offset) % page, base + offset + size
    stray = [r for r in pages or [] if r[0] < first or r[1] > end + (-end % page)]
    if stray:
        where = ", ".join(_span(geo.start, lo, hi) for lo, hi in stray)
        suite.add(Check(name, title, "fail", f"the chip took page programs for {where}, outside "
                        f"the {size} byte(s) given at 0x{address:08X}", elapsed, minimum))
        return
    busy = max((c.chip_busy_s for c in calls), default=0.0)
    if busy:
        suite.add(Check(name, title, "fail", f"{function} returned while the chip was still "
                        f"programming (busy for another {_seconds(busy)}): it does not wait "
                        f"for WIP=0", elapsed, minimum))
        return
    outside = [i for i in range(hi - lo) if not base + offset <= lo + i < base + offset + size
               and around[i] != 0xFF]
    if outside:
        suite.add(Check(name, title, "fail", f"the write also changed 0x"
                        f"{geo.start + lo + outside[0]:08X} (outside the {size} bytes given)",
                        elapsed, minimum))
        return
    suite.add(_timed(name, title, f"{size} byte(s) at 0x{address:08X} in the chip", elapsed,
                     minimum))


def _write_diagnosis(rig: _Rig, ev: CallEvidence | None) -> diagnose.Diagnosis | None:
    """Why data that the loader reported as written is not in the chip."""
    if ev is None:
        return None
    page = rig.spec().page_size
    from extflash.diagnose import failure

    chips = rig.vb.chips
    odd = [s for c in ev.flash
           if (s := failure.suspicious(c, page, chips.get(c.bank))) is not None]
    rejected = ev.rejected()
    if odd:
        return diagnose.Diagnosis("failure", ev.function, odd[0],
                                  tuple(failure.command_lines(ev.flash)),
                                  "split each Write at page boundaries")
    if rejected:
        r = rejected[0]
        return diagnose.Diagnosis("failure", ev.function,
                                  f"the chip rejected {r.command.describe()}: {r.reason}",
                                  tuple(failure.command_lines(ev.flash)),
                                  failure.fix_for(r.reason))
    return diagnose.Diagnosis("failure", ev.function, "every command was accepted",
                              tuple(failure.command_lines(ev.flash)), certain=False)


def _check_read(suite: _Suite) -> None:
    title = "Read returns the flash contents"
    rig = suite.fresh()
    if rig.kind != "stldr" or not rig.has("Read"):
        suite.add(Check("read", title, "skip", "no Read entry point (hosts read the window)"))
        return
    geo = rig.geometry
    offset, size = geo.sectors[0].size // 2 + 5, 301
    data = _pattern(size, seed=3)
    rig.chip_write(offset, data)
    lay = rig.driver.layout
    with suite.calling("read", title) as rig:
        _init(rig, "read")
        rig.driver.expect_ok("Read", geo.start + offset, size, lay.buffer,
                             timeout_s=rig.driver.timeouts.call_min)
    got = rig.session.target.read_memory(lay.buffer, size)
    ev = rig.last("Read")
    if got != data:
        bad = next(i for i in range(size) if got[i] != data[i])
        suite.add(Check("read", title, "fail", f"byte at 0x{geo.start + offset + bad:08X} reads "
                        f"0x{got[bad]:02X}, the chip holds 0x{data[bad]:02X}",
                        ev.elapsed_s if ev else None))
        return
    suite.add(Check("read", title, "pass", f"{size} bytes at 0x{geo.start + offset:08X}",
                    ev.elapsed_s if ev else None))


def _check_window_read(suite: _Suite) -> None:
    title = "Window shows the flash after Init"
    rig = suite.fresh()
    geo = rig.geometry
    offset, size = geo.sectors[-1].address - geo.start + 17, 64
    data = _pattern(size, seed=9)
    rig.chip_write(offset, data)
    with suite.calling("window-read", title) as rig:
        _init(rig, "verify")
    ev = rig.last("Init")
    state = ev.window if ev is not None else None
    try:
        got = rig.session.target.read_memory(geo.start + offset, size)
    except ExtflashError as exc:
        status, detail = _graded_window(rig, state, exc.message, WINDOW_NOTE)
        suite.add(Check("window-read", title, status, detail))
        return
    if got != data:
        status, detail = _graded_window(
            rig, state, f"0x{geo.start + offset:08X} reads {got[:8].hex(' ')}, the chip holds "
            f"{data[:8].hex(' ')}", WINDOW_NOTE)
        suite.add(Check("window-read", title, status, detail,
                        diagnosis=_window_cause(rig, "Init")))
        return
    suite.add(Check("window-read", title, "pass", f"{size} bytes at 0x{geo.start + offset:08X}"))


def _window_cause(rig: _Rig, function: str) -> diagnose.Diagnosis | None:
    """When a check that reads through the window fails: the window's state, if that is why."""
    ev = rig.last(function)
    if ev is None or ev.window is None or ev.window.readable:
        return None
    return diagnose.Diagnosis("contract", function, f"after {function} the flash is "
                              f"{ev.window.describe()}", (),
                              "leave the flash memory-mapped with the chip's own read command, "
                              "dummy cycles and line modes")


def _byte_sum(data: bytes, initial: int = 0) -> int:
    return (initial + sum(data)) & 0xFFFFFFFF


def _check_verify(suite: _Suite) -> None:
    title = "Verify (ST semantics)"
    rig = suite.fresh()
    if rig.kind != "stldr" or not rig.has("Verify"):
        suite.add(Check("verify", title, "skip", "no Verify entry point"))
        return
    geo = rig.geometry
    offset = geo.sectors[0].size + 0x40
    words, head, tail = 16, 1, 2
    data = _pattern(words * 4, seed=11)
    rig.chip_write(offset, data)
    lay = rig.driver.layout
    address = geo.start + offset
    mis = (tail << 16) | head
    # ST's reference sums Size*4 - tail bytes from MemoryAddr + head (stldr-abi.md 3.1)
    expect_sum = _byte_sum(rig.chip_read(offset + head, words * 4 - tail))
    timeout = rig.driver.timeouts.call_min
    with suite.calling("verify", title, VERIFY_HOSTS) as rig:
        _init(rig, "verify")
        rig.session.target.write_memory(lay.buffer, data)
        good_lo, good_hi = rig.driver.call("Verify", address, lay.buffer, words, mis,
                                           timeout_s=timeout)
        wrong = bytearray(data)
        wrong[21] ^= 0x40
        rig.session.target.write_memory(lay.buffer, bytes(wrong))
        bad_lo, _ = rig.driver.call("Verify", address, lay.buffer, words, mis, timeout_s=timeout)
    problems = []
    if good_lo != 0:
        problems.append(f"matching data returned 0x{good_lo:08X} in R0 (0 means success)")
    if good_hi != expect_sum:
        problems.append(f"R1 checksum 0x{good_hi:08X}, the byte sum is 0x{expect_sum:08X}")
    if bad_lo == 0:
        problems.append("a buffer differing in one byte was reported as matching")
    if problems:
        suite.add(Check("verify", title, "fail", "; ".join(problems),
                        diagnosis=_window_cause(rig, "Verify"), hosts=VERIFY_HOSTS))
        return
    note = ""
    if bad_lo != address + 21:
        note = f" (mismatch reported at 0x{bad_lo:08X}, the byte is at 0x{address + 21:08X})"
    suite.add(Check("verify", title, "pass", f"match -> 0, mismatch -> non-zero, checksum "
                    f"in R1{note}", hosts=VERIFY_HOSTS))


def _check_checksum(suite: _Suite) -> None:
    title = "CheckSum (additive byte sum)"
    rig = suite.fresh()
    if rig.kind != "stldr" or not rig.has("CheckSum"):
        suite.add(Check("checksum", title, "skip", "no CheckSum entry point"))
        return
    geo = rig.geometry
    offset, size, initial = geo.sectors[0].size + 0x103, 77, 0x1234
    data = _pattern(size, seed=13)
    rig.chip_write(offset, data)
    with suite.calling("checksum", title, VERIFY_HOSTS) as rig:
        _init(rig, "verify")
        got, _ = rig.driver.call("CheckSum", geo.start + offset, size, initial,
                                 timeout_s=rig.driver.timeouts.call_min)
    want = _byte_sum(data, initial)
    if got != want:
        suite.add(Check("checksum", title, "fail", f"CheckSum(0x{geo.start + offset:08X}, "
                        f"{size}, 0x{initial:X}) returned 0x{got:08X}, the byte sum is "
                        f"0x{want:08X}", diagnosis=_window_cause(rig, "CheckSum"),
                        hosts=VERIFY_HOSTS))
        return
    suite.add(Check("checksum", title, "pass", f"0x{got:08X} for {size} unaligned bytes",
                    hosts=VERIFY_HOSTS))


def _check_mass_erase(suite: _Suite) -> None:
    title = "Chip erase"
    rig = suite.fresh()
    if not rig.driver.can_erase_chip():
        suite.add(Check("mass-erase", title, "skip", "no MassErase / EraseChip entry point"))
        return
    geo = rig.geometry
    for sector in (geo.sectors[0], geo.sectors[len(geo.sectors) // 2], geo.sectors[-1]):
        if sector.end - geo.start <= rig.capacity:
            rig.chip_write(sector.address - geo.start + 0x10, _pattern(0x40))
    with suite.calling("mass-erase", title) as rig:
        _init(rig, "erase")
        rig.driver.erase_chip()
    function = "MassErase" if rig.kind == "stldr" else "EraseChip"
    ev = rig.last(function)
    spec = rig.spec()
    if suite.timing == "instant":
        minimum = 0.0
    else:
        minimum = spec.chip_erase.typ_ms / 1e3 if suite.timing == "typical" else \
            spec.chip_erase.max_ms / 1e3
    if not rig.chip_blank():
        suite.add(Check("mass-erase", title, "fail", "returned success but the chip is not "
                        "blank", ev.elapsed_s if ev else None, minimum))
        return
    check = _timed("mass-erase", title, "the whole chip reads 0xFF",
                   ev.elapsed_s if ev else None, minimum)
    if ev is not None and ev.elapsed_s > CUBEPROGRAMMER_MASS_ERASE_S and check.status == "pass":
        check = replace(check, status="warn", hosts=(CUBEPROGRAMMER,), detail=(
            f"the whole chip reads 0xFF, after {ev.elapsed_s:.0f} s: longer than the "
            f"{CUBEPROGRAMMER_MASS_ERASE_S:.0f} s STM32CubeProgrammer waits for MassErase (the "
            "chip itself needs that long; erase ranges of sectors with such hosts)"))
    suite.add(check)


# -- checks over every call -----------------------------------------------------------------------


def _check_stack(suite: _Suite) -> None:
    calls = [c for c in suite.all_calls() if c.stack_used is not None]
    title = "Stack depth"
    if not calls:
        suite.add(Check("stack", title, "skip", "no call"))
        return
    worst = max(calls, key=lambda c: c.stack_used or 0)
    used, size = worst.stack_used or 0, worst.stack_size
    detail = f"deepest: {worst.function} used {used} of {size} bytes"
    if worst.overflow:
        suite.add(Check("stack", title, "fail", f"{worst.function} overflowed the {size}-byte "
                        f"stack by {worst.overflow} bytes"))
    elif used > STACK_WARN * size:
        suite.add(Check("stack", title, "warn", detail + " (little headroom)"))
    else:
        suite.add(Check("stack", title, "pass", detail))


def _check_memory_use(suite: _Suite) -> None:
    title = "Writes outside its RAM and the buffer"
    stray = [(c, s) for c in suite.all_calls() for s in c.stray]
    if stray:
        c, s = stray[0]
        others = len(stray) - 1
        suite.add(Check("stray-writes", title, "fail",
                        f"{c.function} wrote {s.size} byte(s) at 0x{s.address:08X} ({s.region}) "
                        f"from 0x{s.pc:08X}" + (f", and {others} more" if others else "")))
        return
    scribbled = [c for c in suite.all_calls() if c.buffer_writes and c.function not in
                 ("Read", "code at")]
    if scribbled:
        c = scribbled[0]
        suite.add(Check("stray-writes", title, "warn", f"{c.function} wrote into the host's "
                        f"data buffer ({c.buffer_writes} bytes changed)"))
        return
    suite.add(Check("stray-writes", title, "pass", "only its image, its stack and (Read) the "
                    "buffer"))


def _check_unmodelled(suite: _Suite) -> None:
    title = "Peripherals the board models"
    seen: dict[str, str] = {}
    for c in suite.all_calls():
        for u in c.unmodelled:
            if u.kind in ("read", "write"):
                seen.setdefault(u.periph, f"{c.function}: {u}")
    if seen:
        suite.add(Check("peripherals", title, "warn",
                        f"the loader used {', '.join(sorted(seen))}, which the virtual board "
                        f"does not model (reads 0): {next(iter(seen.values()))}"))
        return
    suite.add(Check("peripherals", title, "pass", "every access hit a modelled register"))


def _check_mapped_after(suite: _Suite) -> None:
    for function in ("Write", "SectorErase", "MassErase"):
        calls = [c for c in suite.all_calls() if c.function == function and c.reason ==
                 "returned" and c.window is not None]
        if not calls:
            continue
        state = calls[-1].window
        assert state is not None
        status = "pass" if state.readable else "info"
        detail = state.describe()
        if not state.readable:
            detail += "; CubeProgrammer calls Init before reading back, so this is allowed"
        suite.add(Check(f"mapped-after-{function.lower()}",
                        f"Flash memory-mapped after {function}", status, detail))


# -- entry point --------------------------------------------------------------------------------


def run(loader: str | os.PathLike[str] | Loader, board: boards.Board | str, *,
        timing: str = "typical", options: DriverOptions | None = None,
        progress: Callable[[str], None] | None = None,
        on_rig: Callable[[diagnose.Watch], None] | None = None) -> Report:
    """Run the conformance test of ``loader`` on the virtual ``board``. ``on_rig`` is called
    with the :class:`~extflash.diagnose.Watch` of each fresh virtual board the test uses."""
    ldr = loader if isinstance(loader, Loader) else open_loader(loader)
    brd = board if isinstance(board, boards.Board) else boards.load(board)
    suite = _Suite(ldr, brd, timing, options or DriverOptions(), progress)
    suite.on_rig = on_rig
    _check_storage_info(suite)
    try:
        _check_footprint(suite)
    except _Failed:
        return suite.report
    page = _page(suite)
    steps: list[tuple[str, str, Callable[[], None]]] = [
        ("init-twice", "Init twice in a row", lambda: _check_init_twice(suite)),
        ("erase-first", "Erase of the first sector", lambda: _check_erase(suite, "first")),
        ("erase-middle", "Erase of the middle sector",
         lambda: _check_erase(suite, "middle")),
        ("erase-last", "Erase of the last sector", lambda: _check_erase(suite, "last")),
        ("write-unaligned", "Write at an unaligned address",
         lambda: _check_write(suite, "write-unaligned", "Write at an unaligned address", 3, 100)),
        ("write-page-cross", "Write across a page boundary",
         lambda: _check_write(suite, "write-page-cross", "Write across a page boundary",
                              page - 32, page + 64)),
        ("write-one-byte", "Write of one byte",
         lambda: _check_write(suite, "write-one-byte", "Write of one byte", 0x11, 1)),
        ("read", "Read returns the flash contents", lambda: _check_read(suite)),
        ("window-read", "Window shows the flash after Init", lambda: _check_window_read(suite)),
        ("verify", "Verify (ST semantics)", lambda: _check_verify(suite)),
        ("checksum", "CheckSum (additive byte sum)", lambda: _check_checksum(suite)),
        ("mass-erase", "Chip erase", lambda: _check_mass_erase(suite)),
    ]
    try:
        try:
            _check_init(suite)
        except _Failed:
            # nothing else can run: every operation starts with Init
            for name, title, _ in steps:
                suite.add(Check(name, title, "skip", "Init fails"))
            steps = []
        for name, title, step in steps:
            try:
                step()
            except _Failed:
                continue
            except _Skip as why:
                suite.add(Check(name, title, "skip", str(why)))
    finally:
        suite.close()
    _check_mapped_after(suite)
    _check_stack(suite)
    _check_memory_use(suite)
    _check_unmodelled(suite)
    return suite.report


def _page(suite: _Suite) -> int:
    try:
        return api.loader_geometry(suite.loader).page_size or 256
    except ExtflashError:
        return 256


__all__ = ["Check", "Report", "run"]
