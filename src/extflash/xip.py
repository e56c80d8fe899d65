"""Running an application from external flash on the virtual board.

:func:`run_application` does what a board does from power-on: the boot image sits in the
internal flash, the application's part in the memory-mapped window is in the external chip
(programmed through a loader, or written straight into the virtual chip), the MCU resets and
runs from the boot image's reset vector; the boot brings the interface up, enters
memory-mapped mode and jumps to the application, which then executes from the window (served
zero-copy from the chip's array: no Python call per fetch, invalidated when the chip changes).

What the application prints through semihosting, ITM stimulus port 0 and the USARTs goes to
``on_output(source, text)`` as it runs. The run ends on SYS_EXIT (its status), on the timeout
(virtual or wall-clock time, whichever comes first) or on a fault; the outcome says where the
core was and what the window looked like.

All inputs are checked before anything is programmed: an application with nothing in the
window, one that overlaps the boot image or lies outside the window, a boot image not in the
internal flash, raise :class:`~extflash.errors.ImageError` (exit code 2).
"""

from __future__ import annotations

import bisect
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from extflash import board as boards
from extflash import chips
from extflash import image as images
from extflash.emu.clock import FS_PER_S
from extflash.emu.itm import Itm
from extflash.emu.machine import Machine, RunResult, SpinEvidence
from extflash.emu.semihost import Semihosting
from extflash.errors import ConfigError, ImageError, InputError
from extflash.image import Image

log = logging.getLogger(__name__)

EXIT_TIMEOUT = 124  # as coreutils' timeout(1)
EXIT_BAD_BOOT = 2  # the boot image is unusable: a bad input, as the other checks
BOOT_FAILED = "boot_failed"  # where the generated boot image stops when it cannot go on
NEVER_REACHED = 0xFFFFFFF0  # the run's stop address: no code runs there (system region)
SLICE_S = 0.05  # virtual seconds per run() between wall-clock checks
DEMCR_TRCENA = 1 << 24  # ARMv7-M DEMCR bit 24 gates the DWT and ITM

OutputFn = Callable[[str, str], None]


@dataclass(frozen=True)
class RunOutcome:
    """How the application's run ended. ``exit_code`` is what ``extflash run`` exits with."""

    reason: str  # "exit", "timeout", "fault", "breakpoint", "not-mapped", "boot-failed"
    exit_code: int
    pc: int
    where: str  # the PC with its symbol (boot or application)
    seconds: float  # virtual time from reset
    instructions: int
    window: str  # the memory-mapped window at the end
    message: str  # one line for the user
    details: tuple[str, ...] = ()
    output: tuple[tuple[str, str], ...] = field(default=(), repr=False)


class ElfSymbols:
    """Function symbols of the ELF files that run (boot and application)."""

    def __init__(self, paths: list[Path]) -> None:
        entries: list[tuple[int, int, str]] = []
        for path in paths:
            try:
                with path.open("rb") as fh:
                    table = ELFFile(fh).get_section_by_name(".symtab")
                    if isinstance(table, SymbolTableSection):
                        for s in table.iter_symbols():
                            if s["st_info"]["type"] == "STT_FUNC" and s.name:
                                entries.append((s["st_value"] & ~1, s["st_size"], s.name))
            except (OSError, ValueError):  # pragma: no cover - checked when the image loaded
                continue
        entries.sort()
        self._entries = entries
        self._starts = [e[0] for e in entries]

    def function_at(self, address: int) -> str | None:
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0:
            start, size, name = self._entries[i]
            if start <= address < start + max(size, 2):
                return name
        return None

    def describe(self, address: int) -> str:
        name = self.function_at(address)
        if name is None:
            return f"0x{address:08X}"
        start = next(e[0] for e in self._entries if e[2] == name)
        return f"0x{address:08X} ({name}+0x{address - start:X})"


def _load_elf(path: Path, what: str) -> Image:
    img = images.load(path)
    if img.format != "elf":
        raise ImageError(f"{what} {path} is not an ELF file ({img.format})",
                         hint="extflash run needs the ELF: it carries the addresses and symbols")
    return img


def _ranges(img: Image) -> str:
    return ", ".join(f"0x{c.address:08X}..0x{c.end - 1:08X}" for c in img.chunks)


def check_application(app: Image, boot: Image, *, window: tuple[int, int],
                      flash: tuple[int, int], app_address: int) -> Image:
    """The application's part in the window, after every check a bad input fails."""
    base, end = window
    inside, outside = app.split(base, end)
    boot_in_flash, boot_elsewhere = boot.split(*flash)
    if boot_elsewhere.chunks or not boot_in_flash.chunks:
        raise ImageError(f"the boot image {boot.source} must lie in the internal flash "
                         f"0x{flash[0]:08X}..0x{flash[1] - 1:08X}; it has "
                         f"{_ranges(boot_elsewhere) or 'nothing there'}")
    for chunk in outside.chunks:
        if boot.covered(chunk.address, len(chunk.data)):
            raise ImageError(
                f"{app.source} overlaps the boot image at 0x{chunk.address:08X}..0x"
                f"{chunk.end - 1:08X} ({chunk.origin}); nothing was programmed",
                hint="link the application into the memory-mapped window")
    if not inside.chunks:
        raise ImageError(
            f"{app.source} has nothing in the memory-mapped window 0x{base:08X}..0x{end - 1:08X}"
            f" (it lies at {_ranges(app) or 'no address'}); nothing was programmed",
            hint=f"link the application at 0x{base:08X} (its vector table first)")
    if outside.chunks:
        raise ImageError(
            f"{app.source} has data outside the window 0x{base:08X}..0x{end - 1:08X}: "
            f"{_ranges(outside)}; nothing was programmed",
            hint="everything the application loads must be in the window (its .data "
                 "initial values too: place them with AT> in the window)")
    if not inside.covered(app_address, 8):
        raise ImageError(
            f"{app.source} has no vector table at 0x{app_address:08X}, where the boot jumps "
            f"(its window part is at {_ranges(inside)}); nothing was programmed",
            hint="link the vector table at the window base, or give --app-address")
    return inside


def write_chip(vboard: Any, inside: Image) -> None:
    """Put ``inside`` straight into the virtual chip(s), as a programmer would leave them."""
    banks = vboard.chips
    base = vboard.window_base
    for chunk in inside.chunks:
        offset = chunk.address - base
        if len(banks) == 1:
            _write_bank(banks[1], offset, chunk.data)
            continue
        # dual-flash: even bytes in chip 1, odd bytes in chip 2 (RM0433 QUADSPI dual-flash mode)
        start, end = offset & ~1, (offset + len(chunk.data) + 1) & ~1
        pairs = bytearray(end - start)
        pairs[0::2] = banks[1].memory[start // 2:end // 2]
        pairs[1::2] = banks[2].memory[start // 2:end // 2]
        pairs[offset - start:offset - start + len(chunk.data)] = chunk.data
        _write_bank(banks[1], start // 2, bytes(pairs[0::2]))
        _write_bank(banks[2], start // 2, bytes(pairs[1::2]))


def _write_bank(chip: Any, at: int, data: bytes) -> None:
    chip.memory[at:at + len(data)] = data
    for changed in chip.on_change:  # the window drops what it translated from these bytes
        changed(at, at + len(data))


def _program_with_loader(vboard: object, loader: Path, inside: Image) -> None:
    from extflash.api import Session
    from extflash.loader.model import open_loader
    from extflash.target.emulated import EmulatedTarget

    session = Session(open_loader(loader), EmulatedTarget(vboard))
    session.program(inside)
    finish = getattr(session.driver, "finish", None)
    if finish is not None:
        finish()


def window_description(vboard: object) -> str:
    """The memory-mapped window now: mapped (fast or slow path), or why it is not."""
    from extflash.diagnose.evidence import window_state

    ctrl = vboard.qspi  # type: ignore[attr-defined]
    window = vboard.window  # type: ignore[attr-defined]
    name = f"the {ctrl.name} window at 0x{window.base:08X}"
    state = window_state(vboard)
    if state.readable and not window.zero_copy:
        # data reads are right, but code runs only from a window the chip answers as is
        # (zero-copy; memory-mapped writes, WCCR, do not change that)
        return (f"{name} is memory-mapped but decoded per access (the chip does not answer "
                f"the read command with its array as is): it shows the flash contents to data "
                f"reads, and the virtual board runs code only from a window that needs no "
                f"decoding")
    return f"{name} is {state.describe()}"


def board_window(board: boards.Board) -> tuple[int, int]:
    """[start, end) of the window of the board's first memory: the controller's window base,
    as many bytes as its chips hold (both chips in dual-flash)."""
    memory = board.memories[0]
    spec = board.part.family.controller(memory.controller)
    if spec is None:
        raise ConfigError(f"{board.name}: {board.part.family.name} has no {memory.controller}")
    size = chips.find(memory.chip).size * len(memory.banks)
    return spec.window, spec.window + size


class OutputLog:
    """What the application wrote, as ``(source, text)``, also handed to ``on_output``."""

    def __init__(self, on_output: OutputFn | None) -> None:
        self.on_output = on_output
        self.collected: list[tuple[str, str]] = []

    def __call__(self, source: str, text: str) -> None:
        self.collected.append((source, text))
        if self.on_output is not None:
            self.on_output(source, text)


def attach_output(machine: Machine, out: OutputLog) -> Semihosting:
    """Route the ITM, the USARTs and semihosting of ``machine`` to ``out``."""
    scs = machine.scs

    def itm(port: int, data: bytes) -> None:
        if port == 0:  # port 0 carries text by convention (printf over SWO); others are data
            out("itm", data.decode("utf-8", "replace"))

    machine.add_peripheral(Itm(lambda: bool(scs["DEMCR"] & DEMCR_TRCENA), itm))
    machine.console.listeners.append(lambda port, line: out(port, line + "\n"))
    return Semihosting(machine, lambda text: out("semihosting", text))


@dataclass
class Prepared:
    """A virtual board out of reset with the boot image in its internal flash and the
    application in its external chip: what :func:`run_application` and the GDB server run."""

    vboard: Any  # extflash.emu.virtual_board.VirtualBoard
    semihosting: Semihosting
    symbols: ElfSymbols
    output: OutputLog
    reset_sp: int
    reset_pc: int
    registers: dict[str, int] = field(default_factory=dict)  # others set at reset (a call's)

    @property
    def machine(self) -> Machine:
        machine: Machine = self.vboard.machine
        return machine

    def reset_core(self) -> None:
        """MSP and PC from the boot image's first two words, as the core does out of reset."""
        for name, value in self.registers.items():
            self.machine.reg_write(name, value)
        self.machine.reg_write("sp", self.reset_sp)
        self.machine.reg_write("pc", self.reset_pc | 1)


def prepare(
    board: boards.Board,
    app: str | Path,
    *,
    boot: str | Path | None = None,
    loader: str | Path | None = None,
    app_address: int | None = None,
    on_output: OutputFn | None = None,
    work_dir: str | Path | None = None,
    timing: str = "typical",
) -> Prepared:
    """Check the inputs, then place the boot image and program the application.

    Without ``boot`` one is generated for ``board`` (into ``work_dir``, a temporary folder by
    default). Nothing is programmed unless every check passes. ``timing``: the virtual chip's
    program/erase times (see :class:`~extflash.emu.virtual_board.VirtualBoard`).
    """
    from extflash.emu.virtual_board import VirtualBoard
    from extflash.gen.boot import build_boot

    app_path = Path(app)
    app_image = _load_elf(app_path, "the application")
    window = board_window(board)
    flash_region = next(r for r in board.part.part.memory if r.kind == "flash")
    flash = (flash_region.start, flash_region.start + flash_region.size)
    temp: tempfile.TemporaryDirectory[str] | None = None
    try:
        if boot is None:
            if work_dir is None:
                temp = tempfile.TemporaryDirectory(prefix="extflash-boot-")
                work_dir = temp.name
            built = build_boot(board, Path(work_dir) / "boot.elf", app_address=app_address)
            boot_path, target = built.elf, built.app_address
        else:
            boot_path = Path(boot)
            target = window[0] if app_address is None else app_address
        boot_image = _load_elf(boot_path, "the boot image")
        inside = check_application(app_image, boot_image, window=window, flash=flash,
                                   app_address=target)
        symbols = ElfSymbols([boot_path, app_path])
    finally:
        if temp is not None:
            temp.cleanup()
    vboard = VirtualBoard(board, timing=timing)
    machine = vboard.machine
    out = OutputLog(on_output)
    semihosting = attach_output(machine, out)
    for chunk in boot_image.chunks:
        machine.uc.mem_write(chunk.address, chunk.data)  # the internal flash, as programmed
    if loader is not None:
        _program_with_loader(vboard, Path(loader), inside)
        machine.reset()
    else:
        write_chip(vboard, inside)
    sp, pc = (int.from_bytes(machine.mem_read(boot_image.start + 4 * i, 4), "little")
              for i in range(2))
    prepared = Prepared(vboard, semihosting, symbols, out, sp, pc & ~1)
    prepared.reset_core()
    return prepared


def run_application(
    board: boards.Board,
    app: str | Path,
    *,
    boot: str | Path | None = None,
    loader: str | Path | None = None,
    app_address: int | None = None,
    timeout_s: float = 10.0,
    on_output: OutputFn | None = None,
    work_dir: str | Path | None = None,
    timing: str = "typical",
    on_prepared: Callable[[Prepared], None] | None = None,
) -> RunOutcome:
    """Place the boot image, program the application, reset and run (see the module doc).

    ``timeout_s`` bounds both the virtual time and the wall-clock time of the run;
    ``on_prepared`` sees the board once it is ready to run (a trace attaches there).
    """
    if timeout_s <= 0:
        raise InputError(f"--timeout must be positive (got {timeout_s:g})")
    prepared = prepare(board, app, boot=boot, loader=loader, app_address=app_address,
                       on_output=on_output, work_dir=work_dir, timing=timing)
    if on_prepared is not None:
        on_prepared(prepared)
    return run_prepared(prepared, timeout_s)


def run_prepared(prepared: Prepared, timeout_s: float = 10.0) -> RunOutcome:
    """Run a prepared board from its reset state until exit, timeout or fault."""
    machine, vboard, symbols = prepared.machine, prepared.vboard, prepared.symbols
    semihosting, out = prepared.semihosting, prepared.output
    pc = prepared.reset_pc
    start_fs, start_cycles = machine.clock.now_fs, machine.clock.cycles
    deadline_fs = start_fs + int(timeout_s * FS_PER_S)
    wall_deadline = time.monotonic() + timeout_s

    def outcome(reason: str, code: int, message: str, result: RunResult | None,
                details: tuple[str, ...] = ()) -> RunOutcome:
        machine.console.flush()
        at = result.pc if result is not None else pc
        return RunOutcome(reason, code, at, symbols.describe(at),
                          (machine.clock.now_fs - start_fs) / FS_PER_S,
                          machine.clock.cycles - start_cycles, window_description(vboard),
                          message, details, tuple(out.collected))

    spin: SpinEvidence | None = None
    flash = next(r for r in machine.part.part.memory if r.kind == "flash")
    while True:
        left = deadline_fs - machine.clock.now_fs
        if symbols.function_at(pc) == BOOT_FAILED:  # a loop it never leaves: no need to wait
            return outcome("boot-failed", EXIT_BAD_BOOT,
                           "the boot image could not bring the external memory up "
                           f"(it stopped in {BOOT_FAILED}): {window_description(vboard)}",
                           None)
        if left <= 0 or time.monotonic() > wall_deadline:
            where = symbols.describe(pc)
            clock = "virtual" if left <= 0 else "wall-clock"
            if flash.contains(pc):
                where += " in the boot image, before the application started"
            return outcome("timeout", EXIT_TIMEOUT,
                           f"timed out after {timeout_s:g} s ({clock}), running at {where}",
                           None, (f"the core was in a {spin}",) if spin else ())
        result = machine.run(pc, stop_at=NEVER_REACHED,
                             timeout_fs=min(left, int(SLICE_S * FS_PER_S)))
        pc = result.pc
        if result.reason == "timeout":
            spin = result.spin
            continue
        if result.reason == "breakpoint" and semihosting.is_call(pc):
            ended = semihosting.serve(pc)
            if ended is not None:
                return outcome("exit", ended.status,
                               f"the application exited with status {ended.status}", result)
            pc = machine.reg_read("pc") & ~1
            continue
        if result.reason == "breakpoint":
            return outcome("breakpoint", 1, f"the application stopped on a BKPT at "
                           f"{symbols.describe(pc)} (not a semihosting call)", result)
        fault = result.fault
        text = str(fault) if fault is not None else result.reason
        where = symbols.describe(fault.pc if fault is not None else pc)
        if _in_unmapped_window(vboard, fault.address if fault is not None else None, pc):
            # the boot handed over to the window without bringing it up: the boot image's fault
            return outcome("not-mapped", EXIT_BAD_BOOT,
                           f"the boot image jumped into the window without enabling "
                           f"memory-mapped mode: {window_description(vboard)}", result,
                           (f"{result.reason} at {where}: {text}",))
        if fault is not None and fault.access == "fetch" and _slow_window(vboard, fault.address):
            return outcome("fault", 1, "the application cannot execute from the window: "
                           f"{window_description(vboard)}", result,
                           (f"{result.reason} at {where}: {text}",
                            "only a window the chip answers as is (zero-copy) runs code on "
                            "the virtual board"))
        return outcome("fault", 1, f"{result.reason} at {where}: {text}", result)


def _slow_window(vboard: Any, address: int | None) -> bool:
    """Is ``address`` in a window mapped through the decoded (slow) path?"""
    window = vboard.window
    return (address is not None and window.size > 0 and not window.zero_copy
            and window.base <= address < window.base + window.size)


def _in_unmapped_window(vboard: object, address: int | None, pc: int) -> bool:
    window = vboard.window  # type: ignore[attr-defined]
    if window.zero_copy or vboard.qspi.mapped:  # type: ignore[attr-defined]
        return False
    span = vboard.flash_size  # type: ignore[attr-defined]
    return any(a is not None and window.base <= a < window.base + span for a in (address, pc))
