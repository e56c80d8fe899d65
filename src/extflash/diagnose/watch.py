"""Watching a loader on the virtual board: a :class:`~extflash.target.base.Target` wrapper that
records evidence for every call (see :class:`~extflash.diagnose.evidence.CallEvidence`).

Around each call it paints the stack (to measure the depth reached), keeps a copy of the
loader's image and of the host's data buffer, hooks writes outside the loader's RAM, marks the
flash-command and wiring logs, and afterwards checks whether the flash is readable through the
memory-mapped window.

The loader's own image, stack and buffer are never hooked: a memory-write hook sends every store
there through unicorn's slow path and a Python call (a HAL loader updating its tick and handle
several times slower), and unicorn 2.1.4 loses the IT-block state after a hooked store inside an IT
block (``subs; it cs; stmdbcs; bhi``: the memset never ends and zeroes the loader's code). What
those hooks told is found after the call instead: an overflow is the paint used up plus the
bytes changed just below the stack's bottom (compared with the copy), buffer scribbling is the
bytes of the buffer that changed. Only stores outside the loader's RAM, which a working loader
never makes, are hooked (for the PC that made them).

A hung call is run in growing slices of virtual time. After each slice the loop is examined
(:func:`~extflash.diagnose.hang.explain_hang`); when the board proves the call can never return
(a ready flag whose enable bit is off, a masked interrupt the loop depends on, a controller
stuck in memory-mapped mode, nothing pending that could change what it reads...) the call stops
there with that explanation instead of running into the host's timeout, which for ``Init`` is
100 s. A loop only an interrupt handler could free is called stuck when two looks in a row find
it reading the same values (:func:`~extflash.diagnose.hang.same_stall`).

Replay mode (``Watch(..., replay=factory)``, what the CLI uses) keeps the flash-command log off
while calls run, so the board's QUADSPI keeps its native command lane (the log sees every
command through the Python model, several times slower), and hooks no stores at all (any memory
hook slows every store: about a quarter of a HAL loader's speed). The watch records what the
host did through it instead; when an error needs explaining, :meth:`Watch.diagnosable` replays
that on a fresh board from ``factory`` under the full watch. The board is deterministic and both
watches do the same to it (paint, slices, probes), so the replay reaches the same failure with
every command logged. Nothing of this touches the user's flash file: it is written when the
session closes, after the explanation.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import unicorn

from extflash.diagnose import protocol
from extflash.diagnose.context import Context
from extflash.diagnose.evidence import (
    ARITY,
    CallEvidence,
    FlashLog,
    StrayWrite,
    WindowState,
    window_state,
)
from extflash.diagnose.symbols import Symbolizer
from extflash.emu.clock import FS_PER_S
from extflash.emu.machine import UnmodelledAccess
from extflash.errors import TargetError
from extflash.loader.elf import SHF_EXECINSTR, SHF_WRITE
from extflash.loader.model import Loader
from extflash.runner import STACK_CANARY, RamLayout
from extflash.target.base import CORE_REGISTERS, RunOutcome
from extflash.target.emulated import RESULT_REGISTERS

log = logging.getLogger(__name__)

PAINT = 0xC5
FIRST_SLICE_S = 0.005
SLICE_GROWTH = 4
MAX_UNMODELLED = 64
MAX_STRAY = 32
# An overflow is followed down from the stack's bottom through changed bytes; a push may leave a
# slot unchanged (same value), so a gap this long still belongs to the overflowing stack.
OVERFLOW_GAP = 64


class _Checkpoints:
    """The watch's looks at a long call: at virtual times growing by SLICE_GROWTH from the
    first slice, the machine asks (between two slices, without ending the run) whether the
    loader did flash work since the last look; a look that finds none ends the run there."""

    def __init__(self, watch: Watch, start_fs: int) -> None:
        self.watch = watch
        self.machine = watch.machine
        self.slice_fs = int(watch.first_slice_s * FS_PER_S)
        self.next_fs = start_fs + self.slice_fs
        self.mark = watch._progress()

    def arm(self) -> None:
        self.machine.checkpoint_fs = self.next_fs
        self.machine.on_checkpoint = self.look

    def disarm(self) -> None:
        self.machine.checkpoint_fs = None
        self.machine.on_checkpoint = None

    def look(self) -> bool:
        """True: stop the run here (nothing happened on the flash since the last look)."""
        self.slice_fs *= SLICE_GROWTH
        self.next_fs = self.machine.clock.now_fs + self.slice_fs
        self.machine.checkpoint_fs = self.next_fs
        mark, self.mark = self.mark, self.watch._progress()
        return mark == self.mark


class Watch:
    """A Target that is the virtual board plus a recorder. Use :func:`watch` to build one."""

    cheap_reads = True

    def __init__(self, inner: Any, *, early_stop: bool = True,
                 first_slice_s: float = FIRST_SLICE_S,
                 replay: Callable[[], Any] | None = None) -> None:
        self.inner = inner
        self.board = inner.board
        self.machine = inner.machine
        self.part = inner.part
        self.early_stop = early_stop
        self.first_slice_s = first_slice_s
        self.replay = replay
        # replay mode: what the host did through the watch, to do again on a fresh board
        self.script: list[tuple[str, tuple[Any, ...]]] = []
        self.flash_log: FlashLog | None = None if replay is not None else FlashLog.of(self.board)
        self._bound: tuple[Any, Loader | None] | None = None
        self._replayed: tuple[int, Watch] | None = None  # (script length, the full watch)
        self._waits = 0
        self.calls: list[CallEvidence] = []
        self._warned: set[str] = set()  # protocol warnings already given
        self.symbols = Symbolizer()
        self.names: dict[int, str] = {}
        self.layout: RamLayout | None = None
        self.constants: tuple[tuple[int, int], ...] = ()
        self.ok_value = 1
        self.kind = "stldr"
        self.timeline: Any = None  # extflash.trace.Timeline, told about calls
        self._current: CallEvidence | None = None
        self._staged = (0, 0)  # the chunk the host staged in the data buffer last
        self._marks = (0, 0)
        self._below_stack_before = b""  # the image up to the canary, before the call
        self._buffer_before = b""
        self._hooks: list[int] = []
        self.machine.on_unmodelled.append(self._on_unmodelled)

    # -- setup --------------------------------------------------------------------------------
    def bind(self, driver: Any, loader: Loader | None = None) -> None:
        """Learn the loader's functions, symbols and RAM layout from its driver."""
        self._record("bind")
        self._bound = (driver, loader)
        program = driver.program
        self.names = {address & ~1: name for name, address in program.functions.items()}
        self.layout = driver.layout
        self.names[driver.layout.crc_code] = "CRC-32 routine"  # the runner's own code
        self.ok_value = int(getattr(driver, "ok_value", 1))
        self.kind = str(program.kind)
        if loader is not None:
            offset = 0
            if program.kind == "flm" and program.segments:
                offset = program.segments[0].address  # FLM code is linked at 0
            self.symbols = Symbolizer(loader, offset=offset)
            self.constants = tuple(
                (sec.addr + offset, sec.end + offset) for sec in loader.sections
                if sec.is_alloc and not sec.is_nobits and sec.size
                and (sec.flags & SHF_EXECINSTR or not sec.flags & SHF_WRITE)
                and sec.name != loader.descriptor_section)
        self._install_hooks()

    def _install_hooks(self) -> None:
        uc = self.machine.uc
        for h in self._hooks:
            uc.hook_del(h)
        self._hooks = []
        lay = self.layout
        if lay is None or self.replay is not None:
            return  # replay mode: stray writes are for the full watch of the replay to see
        if not self.machine.write_hooks_exact:
            raise RuntimeError("a full watch needs a board opened with write_hooks=True")
        # the data buffer is watched too: a call's own data there (what the host staged for
        # it, or what Read was asked to fill) is left to _buffer_changes; the rest of the
        # buffer is the host's RAM, as the RAM beyond it (_stray_write)
        for region in self.part.part.memory:
            if region.kind != "ram":
                continue
            if region.start <= lay.image_start < region.end:
                if lay.image_start > region.start:
                    self._hook_stray(region.start, lay.image_start)
                if lay.stack_top < region.end:
                    self._hook_stray(lay.stack_top, region.end)
            else:
                self._hook_stray(region.start, region.end)
        for region in self.part.part.memory:
            if region.kind == "ram":
                self.machine.invalidate_code(region.start, region.end)

    def _hook_stray(self, start: int, end: int) -> None:
        self._hooks.append(self.machine.uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, self._stray_write,
                                                    begin=start, end=end - 1))

    # -- hooks --------------------------------------------------------------------------------
    def _stray_write(self, uc: unicorn.Uc, _access: int, address: int, size: int, _value: int,
                     _ud: object) -> None:
        ev = self._current
        if ev is None or len(ev.stray) >= MAX_STRAY:
            return
        lo, hi = self._given(ev)
        if lo <= address < hi:
            return  # the call's own data: _buffer_changes counts it
        pc = self.machine.reg_read("pc") & ~1
        region = self.machine.describe_address(address)
        ev.stray.append(StrayWrite(pc, address, size, region))

    def _given(self, ev: CallEvidence) -> tuple[int, int]:
        """The part of the data buffer ``ev``'s call was given: ``Read``'s destination
        (``Read(Address, Size, Buffer)``), else the chunk the host staged there last."""
        if self.kind == "stldr" and ev.function == "Read" and len(ev.args) == 3:
            return ev.args[2], ev.args[2] + ev.args[1]
        return self._staged

    def _on_unmodelled(self, event: UnmodelledAccess) -> None:
        ev = self._current
        if ev is not None and len(ev.unmodelled) < MAX_UNMODELLED:
            ev.unmodelled.append(event)

    # -- Target protocol ------------------------------------------------------------------------
    @property
    def description(self) -> str:
        return str(self.inner.description)

    def read_memory(self, address: int, size: int) -> bytes:
        self._record("read_memory", address, size)  # a register read has its effects
        return bytes(self.inner.read_memory(address, size))

    def write_memory(self, address: int, data: bytes) -> None:
        self._record("write_memory", address, bytes(data))
        lay = self.layout
        if lay is not None and lay.buffer <= address < lay.buffer + lay.buffer_size:
            self._staged = (address, address + len(data))  # the host staged a chunk there
        self.inner.write_memory(address, data)

    def read_registers(self, names: tuple[str, ...] = CORE_REGISTERS) -> dict[str, int]:
        return dict(self.inner.read_registers(names))

    def write_registers(self, values: Mapping[str, int]) -> None:
        self._record("write_registers", dict(values))
        self.inner.write_registers(values)

    def halt(self) -> None:
        self._record("halt")
        self.inner.halt()

    def reset(self, *, halt: bool = True) -> None:
        self._record("reset", halt)
        self.inner.reset(halt=halt)

    def close(self) -> None:
        self.inner.close()

    def run(self, pc: int, *, stop_at: int, timeout_s: float) -> RunOutcome:
        self._record("run", pc, stop_at, timeout_s)
        m = self.machine
        regs = self.inner.read_registers(("r0", "r1", "r2", "r3"))
        address = pc & ~1
        name = self.names.get(address, f"code at 0x{address:08X}")
        count = ARITY.get(self.kind, {}).get(name, 4)
        ev = CallEvidence(name, address, tuple(regs[f"r{i}"] for i in range(count)),
                          m.clock.now_fs)
        self._marks = (self.flash_log.seq if self.flash_log is not None else 0,
                       len(self.board.qspi.wiring_events))
        self._paint_stack()
        self._keep_copies()
        self._current = ev
        if self.timeline is not None:
            self.timeline.call_started(ev)
        try:
            outcome = self._run(pc, stop_at, timeout_s, ev)
        finally:
            self._current = None
        ev.end_fs = m.clock.now_fs
        ev.reason = outcome.reason
        ev.r0 = outcome.registers.get("r0")
        ev.r1 = outcome.registers.get("r1")
        self._collect(ev)
        self._measure_stack(ev)
        ev.buffer_writes = self._buffer_changes()
        ev.window = self._window()
        if ev.reason == "returned":
            self._check_mapped(ev)
        busy = [c.busy_until - m.clock.now_fs for c in self.board.chips.values() if c.busy]
        ev.chip_busy_s = max(busy, default=0) / FS_PER_S
        self.calls.append(ev)
        if self.timeline is not None:
            self.timeline.call_ended(ev)
        return outcome

    # -- running ------------------------------------------------------------------------------
    def _run(self, pc: int, stop_at: int, timeout_s: float, ev: CallEvidence) -> RunOutcome:
        if not self.early_stop:
            outcome = self.inner.run(pc, stop_at=stop_at, timeout_s=timeout_s)
            self._note_fault(ev, outcome)
            return self._finish(outcome, ev)
        deadline = ev.start_fs + int(timeout_s * FS_PER_S)
        clock = self.machine.clock
        look = _Checkpoints(self, clock.now_fs)
        earlier: Any = None  # the previous look's diagnosis
        while True:
            left = (deadline - clock.now_fs) / FS_PER_S
            look.arm()
            try:
                outcome = self.inner.run(pc, stop_at=stop_at, timeout_s=max(left, 0))
            finally:
                look.disarm()
            self._note_fault(ev, outcome)
            if outcome.reason != "checkpoint" or clock.now_fs >= deadline:
                return self._finish(outcome, ev)
            # no flash work since the last look: is the loader stuck for good?
            from extflash.diagnose.hang import explain_hang, same_stall  # capstone: lazily

            self._collect(ev)
            ctx = Context(self.board, self.symbols, ev, stop_at & ~1, self.layout,
                          self.constants)
            diagnosis = explain_hang(ctx)
            if diagnosis is None:  # the probe run saw the call return
                return self._finish(self._returned(), ev)
            if not diagnosis.certain and same_stall(earlier, diagnosis):
                diagnosis = replace(diagnosis, certain=True, cause=(
                    f"{diagnosis.cause} (the loop read the same values at two looks "
                    f"{(clock.now_fs - earlier.extra['at_fs']) / FS_PER_S:.3g} s apart, "
                    f"with no flash work in between)"))
            diagnosis.extra["at_fs"] = clock.now_fs
            earlier = diagnosis
            if diagnosis.certain or clock.now_fs >= deadline:
                ev.stuck = diagnosis
                log.info("%s stopped after %.6f s: %s", ev.function,
                         (clock.now_fs - ev.start_fs) / FS_PER_S, diagnosis.cause)
                return self._finish(self._timed_out(diagnosis), ev)
            pc = self.machine.reg_read("pc") & ~1

    def _progress(self) -> int:
        """A mark that changes while the loader gets somewhere with the flash: a new one at
        every look while a chip is busy (programming, erasing: waiting is progress), else the
        count of flash commands other than automatic polls (the flash log's), or without the
        log the controller's count, automatic polls included (a loader polling for a bit
        that never comes then runs to its timeout, and the replay under the full watch stops
        it early and explains it)."""
        now = self.machine.clock.now_fs
        if any(chip.busy_until > now for chip in self.board.chips.values()):
            self._waits += 1
            return -self._waits
        if self.flash_log is not None:
            return self.flash_log.work
        qspi = self.board.qspi
        lane = getattr(qspi, "native", None)  # commands its native lane ran, not yet taken over
        return int(qspi.commands) + (int(lane.state.commands) if lane is not None else 0)

    def _collect(self, ev: CallEvidence) -> None:
        """The flash commands and wiring events of the call so far."""
        flash_mark, wiring_mark = self._marks
        if self.flash_log is not None:
            ev.flash = self.flash_log.since(flash_mark)
        ev.wiring = list(self.board.qspi.wiring_events[wiring_mark:])

    def _note_fault(self, ev: CallEvidence, outcome: RunOutcome) -> None:
        fault = getattr(outcome.detail, "fault", None) or self.machine.last_fault
        if fault is not None and ev.fault is None:
            ev.fault = fault

    def _returned(self) -> RunOutcome:
        regs = self.inner.read_registers(RESULT_REGISTERS)
        return RunOutcome("returned", regs["pc"], 0.0, regs)

    def _timed_out(self, diagnosis: Any) -> RunOutcome:
        regs = self.inner.read_registers(RESULT_REGISTERS)
        return RunOutcome("timeout", regs["pc"], 0.0, regs, detail=diagnosis,
                          summary=diagnosis.cause)

    def _finish(self, outcome: RunOutcome, ev: CallEvidence) -> RunOutcome:
        """The outcome with the whole call's virtual time."""
        elapsed = (self.machine.clock.now_fs - ev.start_fs) / FS_PER_S
        summary = outcome.summary
        if ev.stuck is not None and outcome.reason == "timeout":
            summary = f"stuck for good after {elapsed:.6g} s: {ev.stuck.cause}"
        return RunOutcome(outcome.reason, outcome.pc, elapsed, outcome.registers, outcome.detail,
                          summary)

    # -- measurements ---------------------------------------------------------------------------
    def _paint_stack(self) -> None:
        lay = self.layout
        if lay is None:
            return
        start = lay.stack_bottom + 4
        self.inner.write_memory(start, bytes([PAINT]) * (lay.stack_top - start))

    def _keep_copies(self) -> None:
        """What the call may change and the watch looks at afterwards: the image up to the
        stack's canary, and the data buffer."""
        lay = self.layout
        if lay is None or self.replay is not None:
            return  # replay mode: the full watch of the replay keeps them
        self._below_stack_before = self.inner.read_memory(
            lay.image_start, lay.stack_bottom + 4 - lay.image_start)
        self._buffer_before = self.inner.read_memory(lay.buffer, lay.buffer_size)

    def _measure_stack(self, ev: CallEvidence) -> None:
        lay = self.layout
        if lay is None:
            return
        start = lay.stack_bottom + 4
        ev.stack_size = lay.stack_top - start
        data = self.inner.read_memory(start, lay.stack_top - start)
        untouched = len(data) - len(data.lstrip(bytes([PAINT])))
        ev.stack_used = lay.stack_top - (start + untouched)
        canary = int.from_bytes(self.inner.read_memory(lay.stack_bottom, 4), "little")
        if untouched == 0 or canary != STACK_CANARY:
            lowest = self._lowest_change_below_stack(lay)
            if lowest is not None:
                ev.overflow = start - lowest
            elif canary != STACK_CANARY:
                ev.overflow = 4
        if ev.overflow:
            ev.stack_used = ev.stack_size + ev.overflow

    def _lowest_change_below_stack(self, lay: RamLayout) -> int | None:
        """The lowest changed byte of the run of changes going down from the canary into the
        image (gaps up to OVERFLOW_GAP bytes), or None when nothing there changed."""
        before = self._below_stack_before
        if not before:
            return None
        after = self.inner.read_memory(lay.image_start, len(before))
        lowest: int | None = None
        gap = 0
        for i in range(len(before) - 1, -1, -1):
            if before[i] != after[i]:
                lowest, gap = i, 0
            else:
                gap += 1
                if gap > OVERFLOW_GAP:
                    break
        return None if lowest is None else lay.image_start + lowest

    def _buffer_changes(self) -> int:
        """Bytes of the host's data buffer the call changed."""
        lay = self.layout
        before = self._buffer_before
        if lay is None or not before:
            return 0
        after = self.inner.read_memory(lay.buffer, len(before))
        if after == before:
            return 0
        diff = int.from_bytes(after, "little") ^ int.from_bytes(before, "little")
        return len(before) - diff.to_bytes(len(before), "little").count(0)

    def _check_mapped(self, ev: CallEvidence) -> None:
        """A call that leaves the window mapped with reads the chip does not answer with its
        data: extflash reads through Read() and carries on, but hosts that read the window
        (CubeProgrammer's read-back, code executing in place) would not; warned once."""
        if ev.window is None or not ev.window.mapped or ev.window.readable:
            return
        found = protocol.mapped(self.board)
        if found is None or found.cause in self._warned:
            return
        self._warned.add(found.cause)
        log.warning("%s() left %s memory-mapped with reads the chip does not answer: %s; "
                    "hosts that read the flash through the window (CubeProgrammer's read-back, "
                    "code executing in place) get other data. fix: %s", ev.function,
                    self.board.qspi.name, found.cause, found.fix)

    def _window(self) -> WindowState | None:
        try:
            return window_state(self.board)
        except Exception as exc:
            log.debug("window check failed: %s", exc)
            return None

    # -- replay -------------------------------------------------------------------------------
    def _record(self, op: str, *args: Any) -> None:
        if self.replay is not None:
            self.script.append((op, args))

    def diagnosable(self) -> Watch:
        """A watch with the full evidence of every call so far: this one, or (replay mode) a
        full watch that did the same on a fresh board."""
        if self.replay is None:
            return self
        if self._replayed is not None and self._replayed[0] == len(self.script):
            return self._replayed[1]
        full = Watch(self.replay(), early_stop=self.early_stop,
                     first_slice_s=self.first_slice_s)
        for op, args in self.script:
            if op == "bind":
                if self._bound is not None:
                    full.bind(*self._bound)
            elif op in ("read_memory", "write_memory"):
                # failing as it may have the first time (a host probing an unmapped window)
                with contextlib.suppress(TargetError):
                    getattr(full, op)(*args)
            elif op == "write_registers":
                full.write_registers(args[0])
            elif op == "halt":
                full.halt()
            elif op == "reset":
                full.reset(halt=args[0])
            elif op == "run":
                full.run(args[0], stop_at=args[1], timeout_s=args[2])
        mine = [(c.function, c.reason) for c in self.calls]
        theirs = [(c.function, c.reason) for c in full.calls]
        if mine != theirs:
            log.warning("the replay under the full watch went another way (%s, not %s)",
                        theirs[-1:] or "no call", mine[-1:] or "no call")
        self._replayed = (len(self.script), full)
        return full

    @property
    def last(self) -> CallEvidence | None:
        return self.calls[-1] if self.calls else None

    def context(self, ev: CallEvidence | None = None) -> Context:
        ev = ev or self.last
        if ev is None:
            raise ValueError("no call was made")
        stop = self.layout.bkpt if self.layout is not None else 0
        return Context(self.board, self.symbols, ev, stop, self.layout, self.constants)
