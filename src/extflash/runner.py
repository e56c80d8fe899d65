"""Calling conventions: driving a loader on a :class:`~extflash.target.base.Target`.

Two conventions are written once here and work on every backend:

* ``.stldr`` as STM32CubeProgrammer does it: the image at its link address (RAM base + 4), a
  BKPT at the RAM base, LR = base | 1, MSP and the data buffer after the image, R0-R3 arguments,
  R4-R12 = 0 (R9 configurable), xPSR = Thumb, NOBITS cleared by the host, return 1 = success,
  ``Verify`` returning 64 bits in R0/R1. By default the image is written again and ``Init`` runs
  before every erase, write and read call, as CubeProgrammer and ST's OpenOCD ``stldr`` driver do
  (``INIT_EVERY_CALL``); ``INIT_PER_OPERATION`` runs ``Init`` once per operation instead.
* CMSIS FLM as pyOCD does it: the position-independent image relocated into RAM after a
  ``BKPT; B .`` header word, static base in R9, ``Init(adr, clk, fnc)``/``UnInit(fnc)`` around
  each kind of operation, ``EraseSector``, ``EraseChip``, ``ProgramPage`` in page-sized calls,
  return 0 = success.

Both present the same :class:`FlashDriver` interface to the programming engine. A call that
times out, faults or returns failure raises :class:`LoaderCallError` carrying the function, its
arguments and the target's state.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from extflash import target_crc
from extflash.errors import InputError, OperationError, TargetError
from extflash.mcu import MemoryRegion
from extflash.plan import Geometry, Sector
from extflash.target.base import AsyncTarget, RunOutcome, Target

log = logging.getLogger(__name__)

BKPT_WORD = 0x0000BE00  # "BKPT #0" in the low halfword, as CubeProgrammer writes it
FLM_HEADER = 0xE7FDBE00  # "BKPT #0; B ." as pyOCD's blob header
STACK_CANARY = 0xDEADF00D
XPSR_THUMB = 0x01000000
STLDR_OK = 1
FLM_OK = 0
FLM_ERASE, FLM_PROGRAM, FLM_VERIFY = 1, 2, 3


CODE_PAGE = 0x1000  # the emulator's granularity for tracking code pages

# The data buffer takes the RAM left after the loader and its stack, as CubeProgrammer and ST's
# OpenOCD size their write chunks by the free work area (stldr-abi §5.1, §5.2); each Write or
# Read call costs an Init. A buffer larger than BUFFER_UNGUARDED leaves STRAY_GUARD of that RAM
# beyond it, where a store is a stray write the diagnostics name. --buffer-size sets another size.
BUFFER_UNGUARDED = 256 << 10
STRAY_GUARD = 16 << 10
WINDOW_PROBE = 0x1000  # bytes read through both Read() and the window to compare them

# When a .stldr's Init runs. CubeProgrammer and ST's OpenOCD write the loader image again and run
# Init before every erase, write, read and mass erase call; "per-operation" runs Init once at the
# start of each operation (fewer calls; the same result for loaders that leave the controller
# ready after every call).
INIT_EVERY_CALL = "every-call"
INIT_PER_OPERATION = "per-operation"
INIT_SEQUENCES = (INIT_EVERY_CALL, INIT_PER_OPERATION)


def round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


@dataclass(frozen=True)
class Timeouts:
    """Per-call time limits in seconds (virtual time on the virtual board).

    Defaults follow STM32CubeProgrammer's; erase and write limits grow with the work a call
    does, so a slow but working chip is not mistaken for a hung loader.
    """

    init: float = 100.0
    sector_erase: float = 10.0  # per sector in the call
    mass_erase: float = 600.0  # at least; large chips get mass_erase_per_mib for each MiB
    mass_erase_per_mib: float = 16.0  # W25Q-JV maximum chip erase is ~15.6 s per MiB
    write_per_kib: float = 0.05  # on top of `call_min`
    read_per_kib: float = 0.01
    verify_per_kib: float = 0.01
    call_min: float = 1.0

    def scaled(self, per_kib: float, size: int) -> float:
        return self.call_min + per_kib * size / 1024

    def chip_erase(self, device_size: int) -> float:
        return max(self.mass_erase, self.mass_erase_per_mib * device_size / (1 << 20))


@dataclass(frozen=True)
class RamLayout:
    """Where the host puts things in the target's RAM for a loader."""

    ram: MemoryRegion
    bkpt: int  # return address (BKPT); LR = bkpt | 1
    image_start: int
    image_end: int
    stack_bottom: int  # canary word here; the stack grows down toward it
    stack_top: int  # initial MSP
    buffer: int
    buffer_size: int
    crc_code: int  # the on-target CRC routine and its table, after the buffer
    crc_table: int

    def describe(self) -> str:
        return (
            f"image 0x{self.image_start:08X}..0x{self.image_end - 1:08X}, stack top "
            f"0x{self.stack_top:08X}, buffer 0x{self.buffer:08X} ({self.buffer_size} bytes) "
            f"in {self.ram.name}"
        )


@dataclass(frozen=True)
class CallRecord:
    """One loader call: its arguments, result and host time."""

    function: str
    args: tuple[int, ...]
    result: int | None
    elapsed_s: float


class LoaderCallError(OperationError):
    """A loader function timed out, faulted or returned failure."""

    def __init__(
        self,
        function: str,
        args: Sequence[int],
        message: str,
        *,
        outcome: RunOutcome | None = None,
        result: int | None = None,
        hint: str | None = None,
    ) -> None:
        arg_text = ", ".join(f"0x{a:X}" for a in args)
        super().__init__(f"{function}({arg_text}) {message}", hint=hint)
        self.function = function
        self.args_ = tuple(args)
        self.outcome = outcome
        self.result = result


@dataclass(frozen=True)
class Placement:
    """Bytes the host writes at an address to place a loader (after any relocation)."""

    address: int
    data: bytes


@dataclass(frozen=True)
class LoaderProgram:
    """What the runner needs of a loader: bytes to place, ranges to clear, functions to call."""

    kind: str  # "stldr" | "flm"
    name: str
    segments: tuple[Placement, ...]
    zero_ranges: tuple[tuple[int, int], ...]  # (start, size)
    functions: Mapping[str, int]  # name -> Thumb address (already relocated)
    geometry: Geometry
    static_base: int = 0  # FLM: PrgData address after relocation

    @property
    def image_start(self) -> int:
        starts = [s.address for s in self.segments] + [z[0] for z in self.zero_ranges]
        return min(starts)

    @property
    def image_end(self) -> int:
        ends = [s.address + len(s.data) for s in self.segments]
        ends += [z[0] + z[1] for z in self.zero_ranges]
        return max(ends)

    def require(self, *names: str) -> None:
        missing = [n for n in names if n not in self.functions]
        if missing:
            raise InputError(
                f"loader {self.name} has no {', '.join(missing)} entry point"
                f"{'s' if len(missing) > 1 else ''}, which this operation needs"
            )


class FlashDriver(Protocol):
    """The interface the programming engine uses, whatever the loader convention."""

    geometry: Geometry
    target: Target
    max_write: int  # bytes per write() call
    max_read: int  # bytes per read() call
    crc_on_target: bool  # crc32() runs on the target rather than reading memory back
    calls: list[CallRecord]

    def begin(self, operation: str) -> None: ...
    def flush(self) -> None: ...
    def reload(self) -> None: ...
    def erase_sectors(self, sectors: Sequence[Sector]) -> None: ...
    def can_erase_chip(self) -> bool: ...
    def erase_chip(self) -> None: ...
    def write(self, address: int, data: bytes) -> None: ...
    def read(self, address: int, size: int) -> bytes: ...
    def crc32(self, address: int, size: int) -> int: ...


class _Base:
    """Shared mechanics: placing the image, calling a function, checking the stack canary."""

    ok_value: int

    def __init__(
        self,
        target: Target,
        program: LoaderProgram,
        layout: RamLayout,
        *,
        timeouts: Timeouts,
        r9: int,
        on_call: Callable[[CallRecord], None] | None,
        crc_on_target: bool,
    ) -> None:
        self.target = target
        self.program = program
        self.layout = layout
        self.geometry = program.geometry
        self.timeouts = timeouts
        self.r9 = r9
        self.on_call = on_call
        self.calls: list[CallRecord] = []
        self.max_write = layout.buffer_size
        self.max_read = layout.buffer_size
        self.crc_on_target = crc_on_target
        self._crc_loaded = False
        self.loaded = False

    # -- placing ---------------------------------------------------------------------------
    def _write_header(self) -> None:
        raise NotImplementedError

    def load(self) -> None:
        """Write the image, clear NOBITS, plant the return breakpoint and the stack canary."""
        self.target.halt()
        self._write_header()
        for seg in self.program.segments:
            self.target.write_memory(seg.address, seg.data)
        for start, size in self.program.zero_ranges:
            self.target.write_memory(start, bytes(size))
        self.target.write_memory(self.layout.stack_bottom, STACK_CANARY.to_bytes(4, "little"))
        self._crc_loaded = False
        self.loaded = True
        log.info("loaded %s: %s", self.program.name, self.layout.describe())

    def _ensure_crc_routine(self) -> None:
        if not self._crc_loaded:
            self.target.write_memory(self.layout.crc_code, target_crc.routine())
            self.target.write_memory(self.layout.crc_table, target_crc.nibble_table())
            self._crc_loaded = True

    # -- calling ---------------------------------------------------------------------------
    def call_registers(self, args: Sequence[int]) -> dict[str, int]:
        """Core registers for a call: R0-R3 arguments, R4-R12 zero (R9 configurable), MSP at the
        stack top, LR at the return breakpoint, Thumb state."""
        regs = {f"r{i}": 0 for i in range(13)}
        for i, a in enumerate(args):
            regs[f"r{i}"] = a & 0xFFFFFFFF
        regs["r9"] = self.r9
        regs.update(
            sp=self.layout.stack_top,
            msp=self.layout.stack_top,
            lr=self.layout.bkpt | 1,
            xpsr=XPSR_THUMB,
        )
        return regs

    def check_outcome(
        self, name: str, args: Sequence[int], outcome: RunOutcome, timeout_s: float
    ) -> None:
        """Raise LoaderCallError unless the call returned with its stack canary intact."""
        if not outcome.returned:
            raise LoaderCallError(
                name,
                args,
                _failure_text(outcome, timeout_s),
                outcome=outcome,
                hint=_failure_hint(outcome),
            )
        canary = int.from_bytes(self.target.read_memory(self.layout.stack_bottom, 4), "little")
        if canary != STACK_CANARY:
            depth = self.layout.stack_top - self.layout.stack_bottom
            raise LoaderCallError(
                name,
                args,
                f"overflowed its stack: more than {depth} bytes used, overwriting the word at "
                f"0x{self.layout.stack_bottom:08X} just above its image",
                outcome=outcome,
                hint="reduce stack use in the loader, or give it more room with --stack-size",
            )

    def run_code(
        self, name: str, address: int, args: Sequence[int], timeout_s: float
    ) -> RunOutcome:
        self.target.write_registers(self.call_registers(args))
        outcome = self.target.run(address & ~1, stop_at=self.layout.bkpt, timeout_s=timeout_s)
        self.check_outcome(name, args, outcome, timeout_s)
        return outcome

    def record(self, name: str, args: Sequence[int], result: int, elapsed_s: float) -> None:
        record = CallRecord(name, tuple(args), result, elapsed_s)
        self.calls.append(record)
        log.debug("%s(%s) -> 0x%X in %.6f s", name, ", ".join(map(hex, args)), result, elapsed_s)
        if self.on_call is not None:
            self.on_call(record)

    def expect_result(self, name: str, args: Sequence[int], r0: int) -> None:
        if r0 != self.ok_value:
            # a target that let other cores run says what they did meanwhile (PyocdTarget)
            others = getattr(self.target, "other_cores_note", "")
            raise LoaderCallError(
                name, args, f"returned {r0:#x} (failure; success is {self.ok_value})"
                + (f"; meanwhile {others}" if others else ""), result=r0
            )

    def flush(self) -> None:
        """Wait for background work (none here; see DoubleBufferedDriver)."""

    def prepare_call(self) -> None:
        """What the host does before each erase, write or read call (nothing by default)."""

    def reload(self) -> None:
        """Place the loader again before the next call (something else used its RAM)."""
        self.loaded = False

    def call(self, name: str, *args: int, timeout_s: float) -> tuple[int, int]:
        """Call a loader function; returns (R0, R1)."""
        if not self.loaded:
            self.load()
        address = self.program.functions[name]
        outcome = self.run_code(name, address, args, timeout_s)
        regs = outcome.registers or self.target.read_registers(("r0", "r1"))
        r0, r1 = regs["r0"], regs["r1"]
        self.record(name, args, r0, outcome.elapsed_s)
        return r0, r1

    def expect_ok(self, name: str, *args: int, timeout_s: float) -> int:
        r0, _ = self.call(name, *args, timeout_s=timeout_s)
        self.expect_result(name, args, r0)
        return r0

    # -- data movement ---------------------------------------------------------------------
    def _stage(self, data: bytes) -> None:
        if len(data) > self.layout.buffer_size:
            raise ValueError("chunk larger than the RAM buffer")
        self.target.write_memory(self.layout.buffer, data)

    def crc32(self, address: int, size: int) -> int:
        """CRC-32 of the device bytes at ``address`` as the core reads them (mapped window)."""
        if not self.crc_on_target:
            return zlib.crc32(self.read(address, size))
        self._ensure_crc_routine()
        crc = 0
        done = 0
        step = 1 << 20  # bound each call's time
        while done < size:
            n = min(step, size - done)
            outcome = self.run_code(
                "CRC-32 routine",
                self.layout.crc_code | 1,
                (address + done, n, crc, self.layout.crc_table),
                self.timeouts.scaled(self.timeouts.read_per_kib * 4, n),
            )
            crc = (outcome.registers or self.target.read_registers(("r0",)))["r0"]
            done += n
        return crc

    def read(self, address: int, size: int) -> bytes:
        return self.read_window(address, size)

    def read_window(self, address: int, size: int) -> bytes:
        return self.target.read_memory(address, size)


class StldrDriver(_Base):
    """A ``.stldr`` loader driven as STM32CubeProgrammer drives it."""

    ok_value = STLDR_OK

    def __init__(
        self,
        target: Target,
        program: LoaderProgram,
        *,
        buffer_size: int | None = None,
        stack_size: int = 0x400,
        r9: int = 0,
        init_arg: int = 1,
        init_sequence: str = INIT_EVERY_CALL,
        timeouts: Timeouts | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        crc_on_target: bool = False,
    ) -> None:
        program.require("Init", "Write", "SectorErase")
        if init_sequence not in INIT_SEQUENCES:
            raise InputError(
                f"unknown Init sequence '{init_sequence}'",
                hint=f"use one of {', '.join(INIT_SEQUENCES)}",
            )
        layout = stldr_layout(target, program, buffer_size=buffer_size, stack_size=stack_size)
        super().__init__(
            target,
            program,
            layout,
            timeouts=timeouts or Timeouts(),
            r9=r9,
            on_call=on_call,
            crc_on_target=crc_on_target,
        )
        self.init_arg = init_arg
        self.init_sequence = init_sequence
        self._init_current = False  # the last call was Init: the next call needs no other
        self._window_agrees: bool | None = None

    def _write_header(self) -> None:
        self.target.write_memory(self.layout.bkpt, BKPT_WORD.to_bytes(4, "little"))

    def begin(self, operation: str) -> None:
        """Start an operation with Init (R0 = 1 by default); in the every-call sequence the
        image is written again first, and the operation's first call needs no second Init."""
        self._window_agrees = None
        if self.init_sequence == INIT_EVERY_CALL:
            self.load()
        self.expect_ok("Init", self.init_arg, timeout_s=self.timeouts.init)

    def prepare_call(self) -> None:
        """Before each erase, write or read: write the image again and run Init, as ST's OpenOCD
        ``stldr`` driver does (stldr-abi §5.2) and CubeProgrammer's logs show. A loader whose
        calls leave the controller in a state only Init undoes works here as it does there."""
        if self.init_sequence == INIT_EVERY_CALL and not self._init_current:
            self.load()
            self.expect_ok("Init", self.init_arg, timeout_s=self.timeouts.init)

    def record(self, name: str, args: Sequence[int], result: int, elapsed_s: float) -> None:
        super().record(name, args, result, elapsed_s)
        self._init_current = name == "Init"

    def erase_sectors(self, sectors: Sequence[Sector]) -> None:
        """One SectorErase(first, last) call per run of adjacent sectors (inclusive bounds)."""
        for run in _adjacent_runs(sectors):
            self.prepare_call()
            self.expect_ok(
                "SectorErase",
                run[0].address,
                run[-1].address,
                timeout_s=self.timeouts.call_min + self.timeouts.sector_erase * len(run),
            )

    def can_erase_chip(self) -> bool:
        return "MassErase" in self.program.functions

    def erase_chip(self) -> None:
        self.prepare_call()
        self.expect_ok("MassErase", 0, timeout_s=self.timeouts.chip_erase(self.geometry.size))

    def write(self, address: int, data: bytes) -> None:
        self.prepare_call()
        self._stage(data)
        self.expect_ok(
            "Write",
            address,
            len(data),
            self.layout.buffer,
            timeout_s=self.timeouts.scaled(self.timeouts.write_per_kib, len(data)),
        )

    def read(self, address: int, size: int) -> bytes:
        """Through the memory-mapped window where that is as good as ``Read``, else ``Read``.

        Without ``Read`` hosts rely on the window. With it, the window is used only where reading
        memory costs nothing (the virtual board), and only once, after this operation's Init, a
        read through ``Read`` and the window agreed on data that is not all erased — erased flash
        reads the same through a window configured with the wrong read command.
        """
        if "Read" not in self.program.functions or self._window_agrees:
            self.prepare_call()
            return self.read_window(address, size)
        if self._window_agrees is not None or not getattr(self.target, "cheap_reads", False):
            return self.read_through_loader(address, size)
        # The comparison takes the first WINDOW_PROBE bytes: a byte-wise HAL loader's Read() of a
        # whole buffer costs more host time than the rest of a 16 MiB read through the window.
        probe = min(size, WINDOW_PROBE)
        data = self.read_through_loader(address, probe)
        try:
            # as the window path does: after Read() only Init maps the window again
            self.prepare_call()
            agrees = self.read_window(address, probe) == data
        except TargetError:
            agrees = False  # the window is not mapped at all
        if not agrees:
            self._window_agrees = False
            log.info(
                "%s: the memory-mapped window does not show what Read() returns; "
                "reading through Read()",
                self.program.name,
            )
        elif data.count(self.geometry.erase_value) != len(data):
            self._window_agrees = True
        if probe == size:
            return data
        if self._window_agrees:
            self.prepare_call()
            return data + self.read_window(address + probe, size - probe)
        # the rest as before: an erased probe decides nothing, and probing on would cost a
        # blank chip two calls every WINDOW_PROBE bytes
        return data + self.read_through_loader(address + probe, size - probe)

    def read_through_loader(self, address: int, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            n = min(self.layout.buffer_size, size - len(out))
            self.prepare_call()
            self.expect_ok(
                "Read",
                address + len(out),
                n,
                self.layout.buffer,
                timeout_s=self.timeouts.scaled(self.timeouts.read_per_kib, n),
            )
            out += self.target.read_memory(self.layout.buffer, n)
        return bytes(out)

    def crc32(self, address: int, size: int) -> int:
        if self.crc_on_target:
            self.prepare_call()  # the routine reads the window Init maps
        return super().crc32(address, size)

    def verify_call(self, address: int, data: bytes) -> bool:
        """The loader's own ``Verify`` over ``data`` (ST semantics: R0 = 0 when it matches)."""
        self.program.require("Verify")
        head = address & 3
        start = address - head
        padded = bytes(head) + data
        tail = (-len(padded)) % 4
        padded += bytes(tail)
        self._stage(padded)
        r0, _ = self.call(
            "Verify",
            start,
            self.layout.buffer,
            len(padded) // 4,
            (tail << 16) | head,
            timeout_s=self.timeouts.scaled(self.timeouts.verify_per_kib, len(padded)),
        )
        return r0 == 0

    def checksum_call(self, address: int, size: int, initial: int = 0) -> int:
        """The loader's own additive ``CheckSum`` (never used to decide what to skip)."""
        self.program.require("CheckSum")
        r0, _ = self.call(
            "CheckSum",
            address,
            size,
            initial,
            timeout_s=self.timeouts.scaled(self.timeouts.read_per_kib, size),
        )
        return r0


class FlmDriver(_Base):
    """A CMSIS FLM flash algorithm driven as pyOCD drives it."""

    ok_value = FLM_OK

    def __init__(
        self,
        target: Target,
        program: LoaderProgram,
        *,
        buffer_size: int | None = None,
        stack_size: int = 0x800,
        clock_hz: int = 0,
        timeouts: Timeouts | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        crc_on_target: bool = False,
    ) -> None:
        program.require("Init", "UnInit", "EraseSector", "ProgramPage")
        layout = flm_layout(target, program, buffer_size=buffer_size, stack_size=stack_size)
        super().__init__(
            target,
            program,
            layout,
            timeouts=timeouts or Timeouts(),
            r9=program.static_base,
            on_call=on_call,
            crc_on_target=crc_on_target,
        )
        self.clock_hz = clock_hz
        self.active: int | None = None
        page = program.geometry.page_size
        self.max_write = layout.buffer_size // page * page

    def _write_header(self) -> None:
        self.target.write_memory(self.layout.bkpt, FLM_HEADER.to_bytes(4, "little"))

    def reload(self) -> None:
        super().reload()
        self.active = None  # and initialise the algorithm again

    def _init(self, function: int) -> None:
        if self.active == function:
            return
        if self.active is not None:
            self.expect_ok("UnInit", self.active, timeout_s=self.timeouts.init)
        self.expect_ok(
            "Init", self.geometry.start, self.clock_hz, function, timeout_s=self.timeouts.init
        )
        self.active = function

    def begin(self, operation: str) -> None:
        self._init({"erase": FLM_ERASE, "program": FLM_PROGRAM}.get(operation, FLM_VERIFY))

    def finish(self) -> None:
        if self.active is not None:
            self.expect_ok("UnInit", self.active, timeout_s=self.timeouts.init)
            self.active = None

    def erase_sectors(self, sectors: Sequence[Sector]) -> None:
        self._init(FLM_ERASE)
        for s in sectors:
            self.expect_ok(
                "EraseSector",
                s.address,
                timeout_s=self.timeouts.call_min + self.timeouts.sector_erase,
            )

    def can_erase_chip(self) -> bool:
        return "EraseChip" in self.program.functions

    def erase_chip(self) -> None:
        self._init(FLM_ERASE)
        self.expect_ok("EraseChip", timeout_s=self.timeouts.chip_erase(self.geometry.size))

    def write(self, address: int, data: bytes) -> None:
        """Stage the chunk once, then ProgramPage page by page (page-aligned, padded)."""
        self._init(FLM_PROGRAM)
        page = self.geometry.page_size
        start, padded = self.pad_to_pages(address, data)
        self._stage(padded)
        for off in range(0, len(padded), page):
            self.expect_ok(
                "ProgramPage",
                start + off,
                page,
                self.layout.buffer + off,
                timeout_s=self.timeouts.scaled(self.timeouts.write_per_kib, page),
            )

    def pad_to_pages(self, address: int, data: bytes) -> tuple[int, bytes]:
        """(page-aligned start, data padded with the erase value to whole pages)."""
        page = self.geometry.page_size
        head = address % page
        fill = bytes([self.geometry.erase_value])
        padded = fill * head + data
        return address - head, padded + fill * ((-len(padded)) % page)

    def verify_call(self, address: int, data: bytes) -> bool:
        """The algorithm's own ``Verify(adr, sz, buf)``: it returns ``adr + sz`` when all match."""
        self.program.require("Verify")
        self._init(FLM_VERIFY)
        self._stage(data)
        r0, _ = self.call(
            "Verify",
            address,
            len(data),
            self.layout.buffer,
            timeout_s=self.timeouts.scaled(self.timeouts.verify_per_kib, len(data)),
        )
        return r0 == (address + len(data)) & 0xFFFFFFFF

    def blank_check_call(self, address: int, size: int) -> bool:
        """The algorithm's own ``BlankCheck(adr, sz, pat)``: 0 when the range holds ``pat``."""
        self.program.require("BlankCheck")
        self._init(FLM_VERIFY)
        r0, _ = self.call(
            "BlankCheck",
            address,
            size,
            self.geometry.erase_value,
            timeout_s=self.timeouts.scaled(self.timeouts.verify_per_kib, size),
        )
        return r0 == FLM_OK

    def read(self, address: int, size: int) -> bytes:
        """FLMs have no read function: after Init(VERIFY) the window is readable."""
        self._init(FLM_VERIFY)
        return self.read_window(address, size)

    def crc32(self, address: int, size: int) -> int:
        self._init(FLM_VERIFY)
        return super().crc32(address, size)


def _adjacent_runs(sectors: Sequence[Sector]) -> list[list[Sector]]:
    runs: list[list[Sector]] = []
    for s in sorted(sectors, key=lambda s: s.address):
        if runs and runs[-1][-1].end == s.address:
            runs[-1].append(s)
        else:
            runs.append([s])
    return runs


def _ram_region(target: Target, address: int, what: str) -> MemoryRegion:
    region = target.part.part.ram_at(address)
    base = target.part.family.loader_ram_base
    if region is None:
        raise InputError(
            f"{what} starts at 0x{address:08X}, which is not in the RAM of {target.part.part.name}",
            hint=f"this family's loaders are linked at 0x{base + 4:08X}",
        )
    return region


def _finish_layout(
    ram: MemoryRegion,
    bkpt: int,
    image_start: int,
    image_end: int,
    stack_size: int,
    buffer_size: int | None,
    page_size: int,
    what: str,
) -> RamLayout:
    crc_len = round_up(len(target_crc.nibble_table()) + 64, 8)
    # The stack and buffer start on their own 4 KiB page when there is room: a store into a page
    # the virtual board's core has translated code from costs it more (it looks for the code
    # the store overwrites; see Machine, "Pages").
    stack_bottom = round_up(image_end, CODE_PAGE)
    if stack_bottom + stack_size + 2 * CODE_PAGE + crc_len > ram.end:
        stack_bottom = round_up(image_end, 8)
    stack_top = round_up(stack_bottom + 4 + stack_size, 8)
    buffer = stack_top + 8
    available = ram.end - buffer - crc_len
    unit = max(page_size, 4)
    size = min(buffer_size or max(BUFFER_UNGUARDED, available - STRAY_GUARD), available)
    size = size // unit * unit
    if size < unit:
        raise InputError(
            f"{what} leaves no room for a {unit}-byte data buffer in {ram.name} "
            f"(image ends at 0x{image_end:08X}, {ram.name} ends at 0x{ram.end:08X}, "
            f"{stack_size} bytes of stack)",
            hint="use a smaller --stack-size or --buffer-size, or a smaller loader",
        )
    crc_code = round_up(buffer + size, 8)
    return RamLayout(
        ram=ram,
        bkpt=bkpt,
        image_start=image_start,
        image_end=image_end,
        stack_bottom=stack_bottom,
        stack_top=stack_top,
        buffer=buffer,
        buffer_size=size,
        crc_code=crc_code,
        crc_table=crc_code + 64,
    )


def stldr_layout(
    target: Target, program: LoaderProgram, *, buffer_size: int | None, stack_size: int
) -> RamLayout:
    """CubeProgrammer's placement: BKPT at the word below the image, MSP and buffer after it."""
    start, end = program.image_start, program.image_end
    ram = _ram_region(target, start, f"loader {program.name}")
    if end > ram.end:
        raise InputError(
            f"loader {program.name} ({end - start} bytes from 0x{start:08X}) does not fit in "
            f"{ram.name}, which ends at 0x{ram.end:08X}"
        )
    bkpt = (start & ~3) - 4
    if bkpt < ram.start:
        raise InputError(
            f"loader {program.name} starts at 0x{start:08X}, leaving no word below it in "
            f"{ram.name} for the host's return breakpoint",
            hint="loaders are linked at the RAM base + 4",
        )
    return _finish_layout(
        ram,
        bkpt,
        start,
        end,
        stack_size,
        buffer_size,
        program.geometry.page_size,
        f"loader {program.name}",
    )


def flm_layout(
    target: Target, program: LoaderProgram, *, buffer_size: int | None, stack_size: int
) -> RamLayout:
    """pyOCD-style: header word at the RAM base, relocated image after it, buffer, stack."""
    start, end = program.image_start, program.image_end
    ram = _ram_region(target, start - 4, f"flash algorithm {program.name}")
    return _finish_layout(
        ram,
        start - 4,
        start,
        end,
        stack_size,
        buffer_size,
        program.geometry.page_size,
        f"flash algorithm {program.name}",
    )


def _failure_text(outcome: RunOutcome, timeout_s: float) -> str:
    where = f"at PC 0x{outcome.pc:08X}"
    if outcome.reason == "timeout" and outcome.elapsed_s < timeout_s * 0.999:
        # stopped early (a proven hang); the summary, when there is one, says after how long
        spent = f"{outcome.elapsed_s:.3g} s of its {timeout_s:g} s"
        text = f"did not return ({where})" if outcome.summary else (
            f"did not return: stopped after {spent} ({where})")
    elif outcome.reason == "timeout":
        text = f"did not return within {timeout_s:g} s (still running {where})"
    elif outcome.reason == "fault":
        text = f"faulted {where}"
    elif outcome.reason == "lockup":
        text = f"locked up the core {where}"
    elif outcome.reason == "reset":
        text = "was cut short by a reset of the chip"
    elif outcome.reason == "breakpoint":
        text = f"stopped on a breakpoint {where}"
    else:
        text = f"stopped ({outcome.reason}) {where}"
    if outcome.summary:
        text += f": {outcome.summary}"
    return text


def _failure_hint(outcome: RunOutcome) -> str | None:
    if outcome.reason == "timeout":
        return "run 'extflash test' on the virtual board to see what the loader waits for"
    return None


@dataclass
class DriverOptions:
    """Options shared by the CLI and the API for building a driver."""

    buffer_size: int | None = None
    stack_size: int | None = None
    r9: int = 0
    init_arg: int = 1
    init_sequence: str = INIT_EVERY_CALL  # .stldr only; FLMs keep pyOCD's Init/UnInit pairs
    timeouts: Timeouts = field(default_factory=Timeouts)
    crc_on_target: bool | None = None  # None: on target when reads are not free
    extra: dict[str, Any] = field(default_factory=dict)


class DoubleBufferedDriver:
    """A driver whose programming calls overlap with the transfer of the next data.

    ``.stldr``: the RAM buffer is split in two; ``write`` copies the chunk into the free half
    while the previous ``Write`` call runs, then waits for that call, checks it, and starts the
    next one on the new half. FLM: two page buffers, as pyOCD uses them; each page travels while
    the previous ``ProgramPage`` runs. Any other operation waits for the pending call first;
    :meth:`flush` does it explicitly. Only built (see :func:`double_buffered`) when the target
    can run calls asynchronously and the buffer halves into useful pieces.
    """

    def __init__(self, driver: StldrDriver | FlmDriver, half: int) -> None:
        self.inner = driver
        self.target = driver.target
        self.geometry = driver.geometry
        self.calls = driver.calls
        self.flm = isinstance(driver, FlmDriver)
        self.buffers = (driver.layout.buffer, driver.layout.buffer + half)
        self.max_write = driver.max_write if self.flm else half
        self.max_read = driver.max_read
        self.crc_on_target = driver.crc_on_target
        self._next = 0
        self._pending: tuple[str, tuple[int, ...], float] | None = None

    def write(self, address: int, data: bytes) -> None:
        driver = self.inner
        timeouts = driver.timeouts
        if isinstance(driver, FlmDriver):
            driver.begin("program")  # Init(PROGRAM) unless already there
            page = self.geometry.page_size
            start, padded = driver.pad_to_pages(address, data)
            timeout = timeouts.scaled(timeouts.write_per_kib, page)
            for off in range(0, len(padded), page):
                self._overlap("ProgramPage", start + off, padded[off : off + page], timeout)
        else:
            self._overlap(
                "Write", address, data, timeouts.scaled(timeouts.write_per_kib, len(data))
            )

    def _overlap(self, name: str, address: int, data: bytes, timeout: float) -> None:
        """Send ``data`` to the free buffer while the pending call runs, then start ``name``."""
        driver = self.inner
        if not driver.loaded:
            driver.load()
        buffer = self.buffers[self._next]
        self.target.write_memory(buffer, data)
        self.flush()
        driver.prepare_call()
        args = (address, len(data), buffer)
        self.target.write_registers(driver.call_registers(args))
        assert isinstance(self.target, AsyncTarget)
        self.target.start(driver.program.functions[name] & ~1, stop_at=driver.layout.bkpt)
        self._pending = (name, args, timeout)
        self._next ^= 1

    def flush(self) -> None:
        """Wait for the pending call and check it; raises LoaderCallError on failure."""
        if self._pending is None:
            return
        name, args, timeout = self._pending
        self._pending = None
        assert isinstance(self.target, AsyncTarget)
        outcome = self.target.wait(timeout)
        self.inner.check_outcome(name, args, outcome, timeout)
        r0 = outcome.registers["r0"]
        self.inner.record(name, args, r0, outcome.elapsed_s)
        self.inner.expect_result(name, args, r0)

    def finish(self) -> None:
        self.flush()
        finish = getattr(self.inner, "finish", None)
        if finish is not None:
            finish()

    def __getattr__(self, name: str) -> Any:
        """Every other driver operation waits for the pending call first."""
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def drained(*args: Any, **kwargs: Any) -> Any:
            self.flush()
            return attr(*args, **kwargs)

        return drained


def double_buffered(driver: FlashDriver, *, min_half: int = 0x1000) -> FlashDriver:
    """``driver`` with overlapped programming calls, when the target and the RAM allow it."""
    if not isinstance(driver, StldrDriver | FlmDriver) or not isinstance(
        driver.target, AsyncTarget
    ):
        return driver
    page = max(driver.geometry.page_size, 4)
    if isinstance(driver, FlmDriver):
        half, least = page, page
    else:
        half, least = driver.layout.buffer_size // 2 // page * page, max(min_half, page)
    if 2 * half > driver.layout.buffer_size or half < least:
        log.info(
            "double buffering off: a %d-byte buffer does not halve usefully",
            driver.layout.buffer_size,
        )
        return driver
    log.info("double buffering on: 2 x %d bytes", half)
    return DoubleBufferedDriver(driver, half)
