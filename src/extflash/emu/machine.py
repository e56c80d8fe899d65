"""The virtual STM32: a unicorn Cortex-M core, the part's memory map, system peripherals,
exceptions and deterministic virtual time.

Typical use (what the loader runner and the board models do)::

    m = Machine(mcu.find_part("STM32H743ZI"))
    m.add_peripheral(my_quadspi)                     # register models of the board
    m.map_buffer(0x90000000, flash_bytes, writable=False)
    m.mem_write(0x24000004, image)
    result = m.run(init_address, stop_at=0x24000000, timeout_fs=5 * FS_PER_S)

Virtual time
    Execution runs in slices of ``emu_start(count=N)``. Every slice is counted (never mixing
    counted and uncounted translation blocks: unicorn only counts instructions in blocks that
    were translated while counting). **One executed instruction is one core cycle**; time per
    cycle is 1 / core frequency, and the frequency follows the loader's RCC configuration. The
    instruction counter unicorn keeps internally is read through its handle (located once per
    process and verified), so peripheral callbacks see the exact cycle at which they run.

Fast-forward
    A slice never runs past the next scheduled event (SysTick expiry, a flash program finishing).
    When the core keeps reading the same peripheral registers and gets the same values, with no
    write in between (time-source registers such as SysTick CVR or DWT CYCCNT excepted), the
    machine skips to the next event; with no event pending it skips in growing steps (at most
    1/8 of the time already spent spinning), so a loader's own tick-based timeout still fires
    close to its deadline. A ``b .`` loop and WFI idle the same way. A loop that waits on RAM
    only an interrupt changes (HAL_Delay) is skipped to the next event in whole turns, exactly
    (:mod:`extflash.emu.idleloop`).

Pages
    unicorn 2.1.4 leaves out QEMU's dirty-memory tracking (every RAM page counts as clean), so
    at the default 1 KiB pages every store to RAM takes the slow path that checks for
    self-modifying code, whether or not the page holds translated code. With ``small_pages``
    the machine uses 256-byte pages. QEMU keeps its TLB flags in the address bits below its
    smallest page (1 KiB for Arm), and the not-dirty flag is bit 8: in a 256-byte page whose
    address has bit 8 set the flag reads as part of the address, and stores take the inline
    fast path; in the others each store refills the TLB. Measured on a push/pop loop, per
    million turns: 0.115 s at 1 KiB pages, 0.025 s or 0.17 s at 256-byte pages by that bit;
    on the HAL-style and generated loaders' jobs 256-byte pages are 11-30 % faster overall.
    The refill ends in a plain store too (at these pages the flag is no longer among those the
    slow path acts on), so the machine clears the flag in the TLB entries of writable RAM
    pages (``tlb``, :mod:`extflash.emu.native.pages_fast`): a command lane tends them as a
    command with an address starts, and stores to every page take the inline path, with the
    same effect (``tend_tlb``; 60 ns against 4 ns a store on a store loop).
    No store to RAM looks for translated code there; loaders do not write code they have run
    (the host's ``uc_mem_write`` does not look either). Such a machine must carry no
    ``UC_HOOK_MEM_WRITE`` range hooks: with 256-byte pages unicorn 2.1.4 calls them for stores
    just past their range with an address one page lower (a stray-write watch would report
    writes that never happened). Boards that a watch or trace hooks keep the default pages
    (``write_hooks_exact``).

Exceptions
    SysTick, NVIC lines (``set_irq_pending``), PendSV, SVC and faults are taken at slice
    boundaries, respecting PRIMASK/BASEPRI/FAULTMASK and priorities, with the frame stacked by
    :class:`~extflash.emu.cortexm.ExceptionUnit`. While an enabled exception is pending but
    masked, slices are short (:data:`MASKED_SLICE`) so an unmask is noticed quickly.

Ticks in C
    A HAL loader spends its run between SysTick ticks: one slice up to the expiry, the tick's
    exception entry, the next slice. When the next event is a SysTick expiry and nothing else
    needs Python (no pending exception, no listener, tracer or foreign hook), the slices and
    the routine ticks run in C (native/ticks_fast.c): the same expiry times, the same entry
    (native/exceptions_fast.c), the same exception return. Anything else (a masked tick, an
    access a model in Python serves, a fault) hands back with the ticks taken so far settled
    first, so Python sees exactly the state it would have made itself
    (tests/emu/test_ticks_native.py compares the two runs register for register).
"""

from __future__ import annotations

import bisect
import ctypes
import functools
import logging
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import unicorn
from unicorn import arm_const as A
from unicorn.unicorn_py3.unicorn import HOOK_CODE_CFUNC, HOOK_INTR_CFUNC, uclib

from extflash import mcu
from extflash.emu import buffers, cortexm, native
from extflash.emu.clock import FS_PER_NS, VirtualClock
from extflash.emu.cortexm import CFSR_BITS, HFSR_BITS, ExceptionUnit, decode_bits
from extflash.emu.idleloop import IdleLoops
from extflash.emu.mmio import (
    PAGE,
    SPIN_THRESHOLD,
    Bus,
    BusAccess,
    UnmodelledAccess,
    UnmodelledBlock,
    c_buffer,
)
from extflash.emu.native import pages_fast, ticks_fast
from extflash.emu.periph import sysregs
from extflash.emu.periph.flashif import FlashInterface
from extflash.emu.periph.gpio import GpioBank, GpioPort, PinState
from extflash.emu.periph.pwr import Pwr
from extflash.emu.periph.rcc import Rcc
from extflash.emu.periph.sbs import Sbs
from extflash.emu.periph.syscfg import Syscfg
from extflash.emu.periph.usart import SerialConsole, Usart, instances
from extflash.emu.regmodel import Peripheral
from extflash.emu.scs import DataWatchpointTrace, SystemControlSpace
from extflash.emu.turns import NativeTurns, TurnsState
from extflash.emu.turns import load as turns_load
from extflash.errors import TargetError

if TYPE_CHECKING:
    import capstone

log = logging.getLogger(__name__)

__all__ = [
    "BusAccess",
    "FaultInfo",
    "Machine",
    "PinState",
    "RunResult",
    "SpinEvidence",
    "UnmodelledAccess",
]

# A run slice runs at most this many instructions (16M: 33 ms at 480 MHz, the granularity of
# checkpoints). A slice that ends on an event (or the deadline) ends on its cycle: the bus time a
# command lane or a model lets pass without instructions lowers its limit by that time. A slice
# that this cap ends instead (it is "capped") only must not pass its horizon: time let pass does
# not count against the cap, so a loader waiting on the chip through the lane runs its whole
# call in one slice. Each slice boundary costs a take-over from the lane and the run loop's turn
# (about 0.1 ms): a generated loader's 256 KiB Write on a QUADSPI W25Q128 (about 0.2 s of
# virtual time, nearly all of it page programs the lane waits out) had six instead of one.
MAX_SLICE = 16_000_000
# While data-loop looks are still wanted, slices are capped at a few thousand instructions (the
# k-th at SAMPLE_SLICE + (k * SAMPLE_STEP) % SAMPLE_SPAN), so that the core stops where it spends
# its instructions (a memset of a HAL command structure, run thousands of times a call), not
# only where ticks find it, which is where it spends virtual time (waiting for the chip). A
# capped slice ends after its instructions whatever time the lanes let pass, so a sample lands
# on executed code; the caps vary because a slice starts where the last tick left the core,
# often the same place in a loader's page cycle. turns.TURN_SAMPLES such stops are looked at.
SAMPLE_SLICE, SAMPLE_STEP, SAMPLE_SPAN = 1_009, 1_117, 8_000
TICK_SAMPLE = 64  # a tick in so many the C tick loop leaves to Python while turns are looked
# for, unless the core is where a look found nothing new (turns.NativeTurns.known)
SMALL_PAGE = 0x100  # the smallest target page unicorn 2.1.4 accepts for Arm
# A polling loop whose own registers change from one streak to the next counts (a bounded wait,
# "for (n = 65535; n && (SR & BUSY); n--)"): it runs on without skipping time, each streak twice
# as long as the last, for at most this many streaks (6 x 2**16 reads); then it is taken for a
# wait like any other, so an endless counter cannot keep a run going.
MAX_COUNTED_STREAKS = 16
LOOP_REGISTERS = (*(cortexm.REGISTERS[f"r{i}"] for i in range(13)), cortexm.REGISTERS["pc"])
MASKED_SLICE = 256
# a look at a loop (idleloop.py) costs about as much host time as a few thousand instructions:
# none when the next event is nearer than this many cycles
MIN_LOOK = 16384
FF_MIN_STEP_FS = 1_000 * FS_PER_NS * 1_000  # 1 ms
PPB_UNMODELLED = (("ITM", 0xE0000000, 0x1000), ("FPB", 0xE0002000, 0x1000),
                  ("TPIU", 0xE0040000, 0x1000), ("ETM", 0xE0041000, 0x1000),
                  ("ROMTABLE", 0xE00FF000, 0x1000))
THUMB_WFI, THUMB_WFE, THUMB_YIELD, THUMB_SELF_BRANCH = 0xBF30, 0xBF20, 0xBF10, 0xE7FE


@dataclass(frozen=True)
class FaultInfo:
    """What went wrong, in the words of the Cortex-M fault model."""

    kind: str  # "bus", "memmanage", "usage", "hard", "lockup"
    description: str
    pc: int
    address: int | None
    access: str | None  # "read", "write", "fetch"
    cfsr: int
    hfsr: int
    cfsr_bits: tuple[str, ...]
    hfsr_bits: tuple[str, ...]
    instruction: str  # disassembled faulting instruction ("" if unreadable)
    region: str  # memory region / nearest peripheral of the address

    def __str__(self) -> str:
        where = f" at 0x{self.address:08X} ({self.region})" if self.address is not None else ""
        return (f"{self.description}{where}; pc=0x{self.pc:08X} `{self.instruction}`; "
                f"CFSR=0x{self.cfsr:08X} [{' '.join(self.cfsr_bits)}]")


@dataclass(frozen=True)
class PolledRegister:
    """A register a polling loop read, with the value it kept reading."""

    address: int
    name: str
    value: int


@dataclass(frozen=True)
class SpinEvidence:
    """Why a timeout happened: the loop's PCs and the registers it kept reading."""

    pcs: tuple[int, ...]
    registers: tuple[PolledRegister, ...]
    idle: str  # "poll", "wfi", "self-branch", "busy" (computing, no polling seen)

    def __str__(self) -> str:
        regs = ", ".join(f"{r.name}=0x{r.value:08X}" for r in self.registers) or "no registers"
        pcs = ", ".join(f"0x{p:08X}" for p in self.pcs)
        return f"{self.idle} loop at {pcs} reading {regs}"


@dataclass(frozen=True)
class RunResult:
    """How a run of the core ended: why, where, its registers and time."""

    reason: str  # "returned", "timeout", "fault", "lockup", "breakpoint"
    pc: int
    lr: int
    sp: int
    r0: int
    cycles: int
    time_fs: int
    fault: FaultInfo | None = None
    spin: SpinEvidence | None = None
    exceptions_taken: int = 0

    @property
    def ok(self) -> bool:
        return self.reason == "returned"


_COUNTER_OFFSETS: list[tuple[int, int] | None] = []  # found once per process (the first Uc)


def _counter_offsets(uc: unicorn.Uc) -> tuple[int, int] | None:
    """Byte offsets of unicorn's executed-instruction counter and instruction limit.

    unicorn counts the instructions of ``count=`` runs in ``uc->emu_counter`` and stops when it
    exceeds ``uc->emu_count``, but has no API for either. They are found once by running known
    instruction counts and looking for the fields that hold them. Reading the counter gives
    exact time inside peripheral callbacks; lowering the limit stops the core cleanly at the
    next instruction boundary (``uc_emu_stop`` inside an MMIO callback would re-execute the
    accessing instruction on resume). Without them the machine falls back to slice-granular
    time and ``emu_stop``.

    The first machine's own ``uc`` runs the probe before it maps anything (on
    :func:`cortexm.probe_page`): a unicorn instance of its own cost every command about 4 ms of
    start-up.
    """
    if _COUNTER_OFFSETS:
        return _COUNTER_OFFSETS[0]
    base = cortexm.handle(uc)
    words = 512

    def snapshot() -> list[int]:
        return list((ctypes.c_uint64 * words).from_address(base))

    with cortexm.probe_page(uc) as page:
        uc.mem_write(page, b"\x01\x30" * 20 + b"\xfe\xe7")  # 20 x adds r0,#1 ; b .
        uc.emu_start(page | 1, page + 14, count=977)  # stops at `until` after 7 instructions
        first = snapshot()
        uc.emu_start(page | 1, 0, count=311)  # runs the full count: counter = count + 1
        second = snapshot()
    counter = next((i for i in range(words) if first[i] == 7 and second[i] == 312), None)
    limit = next((i for i in range(words) if first[i] == 977 and second[i] == 311), None)
    found = None if counter is None or limit is None else (counter * 8, limit * 8)
    _COUNTER_OFFSETS.append(found)
    return found


class _MachineClock(VirtualClock):
    """The virtual clock, telling the machine when an event is scheduled mid-slice (so the
    running slice can end before it, and the event fires on its cycle)."""

    def __init__(self, core_hz: int) -> None:
        super().__init__(core_hz)
        self.on_schedule: Callable[[int], None] | None = None
        # time passed without instructions (the cycles it counts)
        self.on_skip: Callable[[int], None] | None = None

    def schedule(self, at_fs: int, callback: Callable[[], None]) -> None:
        super().schedule(at_fs, callback)
        if self.on_schedule is not None:
            self.on_schedule(at_fs)

    def advance_fs(self, fs: int) -> None:
        super().advance_fs(fs)
        if self.on_skip is not None:
            self.on_skip(fs // self.fs_per_cycle)


class Machine:
    """A virtual STM32 part. See the module documentation for the time and exception model.

    Attributes: ``part``, ``family``, ``clock`` (:class:`VirtualClock`), ``uc`` (the unicorn
    engine, for peripheral models that need it), ``rcc``, ``pwr``, ``sbs`` (None where the family
    has none), ``gpio`` (:class:`GpioBank`),
    ``scs``, ``dwt``, ``on_unmodelled`` (callbacks receiving :class:`UnmodelledAccess`),
    ``tracer`` (callback receiving every :class:`BusAccess`, ``None`` = off), ``last_fault``.
    """

    # SysTick ticks in C where they are routine (native/ticks_fast.c); tests turn it off to
    # compare with the Python run loop
    native_ticks = True
    # loops waiting on memory only an interrupt changes are skipped to the next event
    # (idleloop.py); tests turn it off to compare
    idle_loops = True
    # with 256-byte pages, command lanes keep the loader's stores on unicorn's inline path
    # (native/pages_fast.c); tests turn it off to compare
    tend_tlb = True
    # data loops' turns run at once where a summary holds (turns.py, in the C tick loop);
    # tests turn it off to compare
    turn_summaries = True

    def __init__(self, part: mcu.PartRef, *, hse_hz: int | None = None,
                 small_pages: bool = False) -> None:
        self.part = part
        self.family = part.family
        fam = self.family
        self.clock = _MachineClock(fam.reset_clock_hz)
        self.clock.on_schedule = self._event_scheduled
        self.clock.on_skip = self._time_skipped
        self._slice_end_fs = 0
        self._slice_capped = False  # MAX_SLICE, not the horizon, sets the running slice's budget
        self._max_slice = MAX_SLICE  # less while the turns sample executed code (SAMPLE_SLICE)
        model = cortexm.CORE_MODELS.get(fam.core)
        if model is None:
            raise TargetError(f"no CPU model for core '{fam.core}' of {part.part.name}")
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB)
        self.uc.ctl_set_cpu_model(model)
        # Target pages (see the module documentation, "Pages"): stores to a page that holds
        # translated code take unicorn's self-modifying-code slow path.
        self.small_pages = small_pages
        if small_pages:
            self.uc.ctl_set_page_size(SMALL_PAGE)
        self._handle = cortexm.handle(self.uc)
        self._pc_value = ctypes.c_uint32()
        self._pc_address = ctypes.addressof(self._pc_value)
        offsets = _counter_offsets(self.uc)
        self._counter: ctypes.c_uint64 | None = None
        self._limit: ctypes.c_uint64 | None = None
        if offsets is not None:
            self._counter = ctypes.c_uint64.from_address(self._handle + offsets[0])
            self._limit = ctypes.c_uint64.from_address(self._handle + offsets[1])
        self._slice_budget = 0
        self._slice_synced = 0
        self._running = False
        self._ticking = False  # the C tick loop runs (native/ticks_fast.c)
        self._streak_at_ticks = 0
        self._ending = False  # the slice that ran has stopped; its time is being synced
        self.bus = Bus(self.uc, sync=self.sync_time, pc=self._pc, stop=self._request_stop)
        self.bus.now_fs = lambda: self.clock.now_fs
        self._held: int | None = None
        self.bus.hold_time = self.hold_time
        self.bus.counter_address = (ctypes.addressof(self._counter)
                                    if self._counter is not None else 0)
        self.bus.limit_address = ctypes.addressof(self._limit) if self._limit is not None else 0
        # stores to every 256-byte RAM page at full speed (pages_fast.c; "Pages" above)
        self.tlb = (pages_fast.attach(self.uc, self._handle)
                    if small_pages and self.tend_tlb else None)
        if self.tlb is not None:
            self.bus.tlb_tend = (self.tlb.tend, self.tlb.view)
        self._deferred = self.bus.deferred
        self.bus.time_base = self.time_base
        self._buffers: dict[int, tuple[bytearray, object]] = {}
        self._parked: dict[int, int] = {}  # start -> size of buffer mappings made inaccessible
        # start -> (size, permissions) of buffer mappings executable from their first fetch on
        # (map_buffer), and those the core has fetched from since they were (re)opened: only
        # these can hold translated code
        self._exec_on_fetch: dict[int, tuple[int, int]] = {}
        self._fetched: set[int] = set()
        self._opening: int | None = None  # a buffer whose first fetch stopped the core
        # the last vector found pointing into memory (one tick's handler after another;
        # forgotten when a mapping closes)
        self._handler_seen = 0
        # start -> (size, callback): buffer mappings closed until their first access
        self._first_touch: dict[int, tuple[int, Callable[[], None]]] = {}
        # start -> (size, writer): read-only buffer mappings whose stores go to ``writer``
        self._store_traps: dict[int, tuple[int, Callable[[int, int, int], None]]] = {}
        # trapped stores of the running slice: (start, offset, size, value, bytes overwritten)
        self._stores: list[tuple[int, int, int, int, bytes]] = []
        self.peripherals: dict[str, Peripheral] = {}
        self._reset_targets: dict[str, list[Peripheral]] = {}  # RCC reset stem -> its blocks
        # register names -> one batch for them (reg_read_many, reg_write_many)
        self._register_batches: dict[tuple[str, ...], cortexm.RegisterBatch | None] = {}
        self.last_fault: FaultInfo | None = None
        self._stop_reason: str | None = None
        self._pending_fault: tuple[str, int | None, str | None] | None = None
        self._exc_return: list[int] = []
        self._exceptions_taken = 0
        self._stop_at_cached: set[int] = set()
        self._loop_seen: tuple[int, ...] | None = None  # core registers at the last spin stop
        self._counted = 0  # streaks of the current loop let run on because it counts
        # A watcher's look between slices (see :meth:`run`): once virtual time reaches
        # checkpoint_fs, on_checkpoint() is called; it moves checkpoint_fs on and says whether
        # the run stops there (reason "checkpoint").
        self.checkpoint_fs: int | None = None
        self.on_checkpoint: Callable[[], bool] | None = None
        self._map_memory()
        self._build_core_peripherals()
        self.bus.event_wakes = self.scs.wakes_core
        self._time_source = self.bus.native_time_source  # CYCCNT in C, or None
        if self._time_source is not None:
            self.clock.on_moved = self._time_source_base
        self._build_system_peripherals(hse_hz)
        self._map_unmodelled()
        self.exceptions = ExceptionUnit(self.uc, fam.has_fpu)
        self.idle = IdleLoops(self.uc, self._plain_readable) if self.idle_loops else None
        self._turns: NativeTurns | None = None
        self._turns_tried = False
        self._head_callback: Any = None  # Machine._on_head as a C callback (kept alive)
        self._head_watch: tuple[int, ticks_fast.HeadWatch] | None = None
        self._look_from_head = False
        self._idle_quiet_until = 0
        self._head_hooks: dict[int, int] = {}  # idle-loop heads watched: their hook handles
        if self.idle is not None:
            self.idle.on_head = self._watch_head
            self.idle.off_head = self._unwatch_head
        self._install_hooks()
        # raw reads for what the run loop asks per slice (the binding's calls cost microseconds)
        self._mask_regs = cortexm.RegisterBatch(
            self.uc, (A.UC_ARM_REG_FAULTMASK, A.UC_ARM_REG_PRIMASK, A.UC_ARM_REG_BASEPRI))
        self._loop_regs = cortexm.RegisterBatch(self.uc, LOOP_REGISTERS)  # at each spin stop
        self._word = (ctypes.c_uint32 * 1)()
        self._word_address = ctypes.addressof(self._word)
        self._halfwords = (ctypes.c_uint16 * 2)()
        self._halfwords_address = ctypes.addressof(self._halfwords)
        self._cs: capstone.Cs | None = None  # made on the first disassemble()

    @property
    def write_hooks_exact(self) -> bool:
        """Do range write hooks on this machine see the true store addresses (default pages)?"""
        return not self.small_pages

    # -- construction ----------------------------------------------------------------------------
    def _map_memory(self) -> None:
        by_name: dict[str, bytearray] = {}
        for region in self.part.part.memory:
            target = region.name.removesuffix("_ALIAS")
            buf = by_name.get(target) if target != region.name else None
            if buf is None or len(buf) != region.size:
                buf = buffers.filled(region.size, 0xFF if region.kind == "flash" else 0)
                by_name[region.name] = buf
            self._map_ptr(region.start, buf, writable=region.kind == "ram", executable=True)
        for region in self.part.part.memory:  # aliases defined before their target
            if region.name.endswith("_ALIAS") and region.name.removesuffix("_ALIAS") in by_name:
                pass
        flash = next((m for m in self.part.part.memory if m.kind == "flash"), None)
        reg = self.family.flash_size_register
        rom = self.family.region_at(reg) if reg is not None else None
        if flash is not None and reg is not None and rom is not None:
            buf, _ = self._buffers[rom.start]
            struct.pack_into("<H", buf, reg - rom.start, flash.size // 1024)

    def _map_ptr(self, start: int, buf: bytearray, *, writable: bool, executable: bool) -> None:
        perms = unicorn.UC_PROT_READ | (unicorn.UC_PROT_WRITE if writable else 0) | (
            unicorn.UC_PROT_EXEC if executable else 0)
        self._first_touch.pop(start, None)
        self._store_traps.pop(start, None)
        size = self._parked.pop(start, None)
        if size is not None:
            if self._buffers[start][0] is buf and size == len(buf):
                self.uc.mem_protect(start, size, perms)  # the same buffer again: just reopen it
                return
            self.uc.mem_unmap(start, size)
            del self._buffers[start]
        cbuf = c_buffer(buf)
        self.uc.mem_map_ptr(start, len(buf), perms, ctypes.addressof(cbuf))
        self._buffers[start] = (buf, cbuf)

    def _build_core_peripherals(self) -> None:
        fam = self.family
        self.scs = SystemControlSpace(self.clock, cortexm.CPUID.get(fam.core, 0),
                                      wake=self._request_stop_if_running)
        self.dwt = DataWatchpointTrace(self.clock, self.scs, has_cyccnt=fam.has_dwt_cyccnt)
        self.scs.demcr_listener = self.dwt.demcr_changed
        self.add_peripheral(self.scs)
        self.add_peripheral(self.dwt)

    def _build_system_peripherals(self, hse_hz: int | None) -> None:
        fam = self.family
        bases = {**{n: b for n, (b, _s) in sysregs.bases(fam.id).items()}, **fam.peripherals}
        self.rcc = Rcc(fam.id, bases["RCC"], hse_hz=hse_hz, reset_clock_hz=fam.reset_clock_hz)
        self.rcc.on_clock_change = self._core_clock_changed
        self.rcc.on_peripheral_reset = self._reset_by_rcc
        self.add_peripheral(self.rcc)
        for cls, name in ((FlashInterface, "FLASH"), (Syscfg, "SYSCFG")):
            if name in bases:
                self.add_peripheral(cls(fam.id, bases[name]))
        # PWR/SBS answer supply questions (XSPIM port supply, I/O speed) of the XSPI models.
        self.pwr = Pwr(fam.id, bases["PWR"]) if "PWR" in bases else None
        self.sbs = Sbs(fam.id, bases["SBS"]) if "SBS" in bases else None
        for block in (self.pwr, self.sbs):
            if block is not None:
                self.add_peripheral(block)
        ports = {}
        for name, base in sorted(bases.items()):
            if name.startswith("GPIO") and len(name) == 5:
                letter = name[4]
                port = GpioPort(letter, base, fam.id,
                                functools.partial(self.rcc.is_enabled, name))
                ports[letter] = port
                self.add_peripheral(port)
        self.gpio = GpioBank(ports)
        self.console = SerialConsole()  # what the USARTs sent
        if sysregs.registers(fam.id, "USART"):
            for name, base in instances(bases).items():
                self.add_peripheral(Usart(name, base, fam.id, self.console,
                                          functools.partial(self.rcc.is_enabled, name)))
        self.clock.set_core_hz(self.rcc.core_hz() or fam.reset_clock_hz)

    def _map_unmodelled(self) -> None:
        """Map every other peripheral of the part as an :class:`UnmodelledBlock`."""
        blocks = [(b, s, n) for n, (b, s) in sysregs.bases(self.family.id).items()]
        blocks += [(b, 0x400, n) for n, b in self.family.peripherals.items()]
        blocks += [(b, s, n) for n, b, s in PPB_UNMODELLED]
        pages: dict[int, str] = {}
        for base, size, name in sorted(blocks):
            for first in range(base & ~(PAGE - 1), base + max(size, 1), PAGE):
                pages.setdefault(first, name)
        names = sorted((b, n) for b, _s, n in blocks)
        run_start: int | None = None
        previous = -PAGE
        page: int | None
        for page in [*sorted(pages), None]:
            mapped = page is not None and self.bus.find(page) is not None
            if run_start is not None and (page is None or page != previous + PAGE or mapped):
                self.bus.attach(UnmodelledBlock(pages[run_start], run_start,
                                                previous + PAGE - run_start, names))
                run_start = None
            if page is None:
                break
            if not mapped and run_start is None:
                run_start = page
            previous = page

    def _install_hooks(self) -> None:
        uc = self.uc
        # a raw callback: the binding's wrapper costs two Python calls per exception return
        self._interrupt_cb = HOOK_INTR_CFUNC(self._on_interrupt)
        self._ticks = self._native_ticks()
        hook = ctypes.c_size_t()
        if self._ticks is not None:  # C takes the returns of the ticks it enters, else Python
            callback, user = self._ticks.interrupt_hook, self._ticks.address
        else:
            callback, user = cortexm.address_of_function(self._interrupt_cb), 0
        status = uclib.uc_hook_add(uc._uch, ctypes.byref(hook), unicorn.UC_HOOK_INTR,
                                   ctypes.c_void_p(callback), ctypes.c_void_p(user),
                                   ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)
        uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED | unicorn.UC_HOOK_MEM_PROT, self._on_bad_access)
        uc.hook_add(unicorn.UC_HOOK_INSN_INVALID, self._on_invalid_insn)
        self._own_hooks = len(uc._callbacks)  # more: someone else hooks the core

    def _native_ticks(self) -> ticks_fast.NativeTicks | None:
        """The SysTick tick loop in C (native/ticks_fast.c), or None (no native helpers, no
        instruction counter, or ``native_ticks=False``)."""
        unit = self.exceptions.native_unit
        if not self.native_ticks or unit is None or self._counter is None \
                or self._limit is None:
            return None
        lib = ticks_fast.load()
        if lib is None:
            return None
        functions = {name: cortexm.address_of_function(getattr(uclib, f"uc_{name}"))
                     for name in ("emu_start", "reg_read_batch", "mem_read")}
        functions.update(exc_enter=unit.enter_address, exc_leave=unit.leave_address)
        ticks = ticks_fast.NativeTicks(lib, uc_handle=self._handle, functions=functions,
                                       exc_unit=unit.address, interrupt=self._interrupt_cb,
                                       counter=ctypes.addressof(self._counter),
                                       limit=ctypes.addressof(self._limit))
        ts = self._time_source
        if ts is not None:
            base = ctypes.addressof(ts)
            ticks.use_time_source(base + type(ts).base.offset, base + type(ts).timed.offset)
        if self.idle is not None:
            ticks.use_idle_verdicts(self.idle.verdicts.address, self.idle.armed_address)
        return ticks

    # -- public API: peripherals and memory ---------------------------------------------------
    def add_peripheral(self, p: Peripheral) -> None:
        """Map ``p`` at ``p.base`` .. ``p.base + p.size`` (rounded up to 1 KiB pages).

        It replaces any unmodelled block there. ``p`` may define ``raw_mmio(bus)`` returning
        ``(read_cfunc, write_cfunc, user_data)`` to serve the bus with its own callbacks (e.g.
        native code); it must then call ``bus.sync()`` before acting on time, and
        ``machine.note_activity()`` when it moves data (so data transfers are not taken for
        polling).
        """
        self.bus.attach(p)
        self.peripherals[p.name] = p
        self._reset_targets.clear()

    def map_buffer(self, start: int, buf: bytearray, *, writable: bool,
                   executable: bool = True) -> None:
        """Map ``buf`` zero-copy at ``start`` (1 KiB aligned, length a multiple of 1 KiB).

        Python writes to ``buf`` are seen by the core at once; after changing *executed* bytes
        call :meth:`invalidate_code`. The buffer must not be resized while mapped.

        An executable buffer becomes executable at the core's first fetch from it: the fetch
        faults into :meth:`_on_bad_access`, the slice ends before the instruction, and the run
        loop opens the buffer and goes on. Until then no code can have been translated from it,
        and :meth:`invalidate_code` and :meth:`park_buffer` skip the invalidation (unicorn walks
        every page of the range: 0.1 ms for a 16 MiB window, at every loader call that leaves
        memory-mapped mode).
        """
        if start % PAGE or len(buf) % PAGE:
            raise ValueError("map_buffer needs 1 KiB aligned start and size")
        self._map_ptr(start, buf, writable=writable, executable=False)
        self._fetched.discard(start)
        if executable:
            perms = unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC | (
                unicorn.UC_PROT_WRITE if writable else 0)
            self._exec_on_fetch[start] = (len(buf), perms)
        else:
            self._exec_on_fetch.pop(start, None)

    def park_buffer(self, start: int, size: int) -> None:
        """Make the buffer mapped at ``start`` inaccessible, as if unmapped (accesses fault as
        bus errors on nothing, the debugger view has no memory there), without the cost of
        unmapping it: unicorn takes ~2 ms to unmap 16 MiB, which memory-mapped mode pays on
        every loader call. :meth:`map_buffer` with the same buffer reopens it at once."""
        self.uc.mem_protect(start, size, unicorn.UC_PROT_NONE)
        self._handler_seen = 0
        self.invalidate_code(start, start + size)
        self._fetched.discard(start)  # nothing translated from it is left
        self._parked[start] = size
        self._first_touch.pop(start, None)
        self._store_traps.pop(start, None)

    def on_first_access(self, start: int, size: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` at the core's next access to the buffer mapped at ``start``: the
        mapping is closed until then, the access faults into :meth:`_on_bad_access`, which
        reopens it (read and execute) and lets the access go on. One fault, then full speed."""
        self.uc.mem_protect(start, size, unicorn.UC_PROT_NONE)
        self._handler_seen = 0
        self._first_touch[start] = (size, callback)

    def trap_stores(self, start: int, writer: Callable[[int, int, int], None]) -> bool:
        """Send the core's stores to the read-only buffer mapped at ``start`` to
        ``writer(offset, size, value)`` instead of a bus fault; loads stay zero-copy.

        Each store faults on the read-only mapping; the fault hook notes it with the bytes it
        overwrites and lets it land (unicorn 2.1.4 writes the bytes once a
        UC_HOOK_MEM_WRITE_PROT hook returns True) and ends the slice after this instruction.
        Before the core runs on, the noted bytes are put back and the stores go to ``writer``
        in order, so the instruction runs once (writeback, STM/STRD/PUSH alike) and no later
        load sees a store the chip did not take. False (nothing trapped): this unicorn gives no
        instruction-exact stop (see :func:`_counter_offsets`)."""
        if self._counter is None or self._limit is None:
            return False
        buf, _ = self._buffers[start]
        self._store_traps[start] = (len(buf), writer)
        return True

    def _store_trap_at(self, address: int) -> int | None:
        for start, (size, _writer) in self._store_traps.items():
            if start <= address < start + size:
                return start
        return None

    def _trap_store(self, address: int, size: int, value: int) -> bool:
        """From the fault hook: note a store to a trapped buffer (True) or not one (False)."""
        start = self._store_trap_at(address)
        if start is None:
            return False
        if self._first_touch:
            self._touched(address)
        buf, _ = self._buffers[start]
        offset = address - start
        self._stores.append((start, offset, size, value, bytes(buf[offset:offset + size])))
        self._request_stop()
        return True

    def _take_stores(self) -> None:
        """After the slice: undo the trapped stores in the buffers, then hand them over."""
        stores, self._stores = self._stores, []
        for start, offset, size, _value, old in reversed(stores):
            self._buffers[start][0][offset:offset + size] = old
            self.invalidate_code(start + offset, start + offset + size)
        for start, offset, size, value, _old in stores:
            trap = self._store_traps.get(start)
            if trap is not None:
                trap[1](offset, size, value)

    def _touched(self, address: int) -> bool:
        for start, (size, callback) in self._first_touch.items():
            if start <= address < start + size:
                del self._first_touch[start]
                # executable once fetched from (a fetch now faults again, and opens it)
                executable = start not in self._exec_on_fetch or start in self._fetched
                self.uc.mem_protect(start, size, unicorn.UC_PROT_READ | (
                    unicorn.UC_PROT_EXEC if executable else 0))
                callback()
                return True
        return False

    def _first_fetch(self, address: int) -> bool:
        """A fetch from a buffer executable from its first fetch on: note it for
        :meth:`_open_fetched` (True)."""
        for start, (size, _perms) in self._exec_on_fetch.items():
            if start <= address < start + size:
                if start in self._fetched or start in self._parked or start in self._first_touch:
                    return False
                self._opening = start
                return True
        return False

    def _open_fetched(self) -> None:
        """Between slices: make the buffer a fetch faulted on executable, and run on."""
        start, self._opening = self._opening, None
        assert start is not None
        size, perms = self._exec_on_fetch[start]
        self._fetched.add(start)
        if start in self._store_traps:
            perms &= ~unicorn.UC_PROT_WRITE  # stores still fault into the trap
        self.uc.mem_protect(start, size, perms)

    def unpark(self, start: int) -> None:
        """Really unmap a parked buffer (no-op when nothing is parked at ``start``)."""
        size = self._parked.pop(start, None)
        if size is not None:
            self.uc.mem_unmap(start, size)
            self._buffers.pop(start, None)
            self._exec_on_fetch.pop(start, None)
            self._fetched.discard(start)

    def _in_parked(self, address: int) -> bool:
        return any(start <= address < start + size for start, size in self._parked.items())

    def unmap(self, start: int, size: int) -> None:
        self._handler_seen = 0
        if start in self._parked:
            self.unpark(start)
            return
        if self.bus.find(start) is not None:
            self.bus.detach(start, size)
        else:
            self.uc.mem_unmap(start, size)
            self._buffers.pop(start, None)
            self._store_traps.pop(start, None)
            self._exec_on_fetch.pop(start, None)
            self._fetched.discard(start)

    def invalidate_code(self, start: int, end: int) -> None:
        for mapped, (size, _perms) in self._exec_on_fetch.items():
            if mapped <= start and end <= mapped + size and mapped not in self._fetched:
                return  # never fetched from since it was opened: nothing translated there
        self.uc.ctl_remove_cache(start, end)

    def mem_read(self, address: int, size: int) -> bytes:
        """Debugger view: memory and peripheral registers (a read has the register's effects,
        and a read of a window that watches for its first access is one: a probe reads
        through the bus like the core)."""
        if self._first_touch:
            for start, (length, _callback) in list(self._first_touch.items()):
                if address < start + length and start < address + size:
                    self._touched(start)
        out = bytearray()
        while len(out) < size:
            a = address + len(out)
            m = self.bus.find(a)
            if m is not None:
                word = m.periph.read((a - m.base) & ~3, 4)
                chunk = struct.pack("<I", word)[a & 3:]
                out += chunk[: size - len(out)]
                continue
            # plain memory up to the next peripheral in one piece (a whole flash window at once)
            n = self._plain_span(a, size - len(out))
            try:
                if n == size:
                    return bytes(self._read_plain(a, n))  # all of it: one copy less
                out += self._read_plain(a, n)
            except unicorn.UcError:
                n = min(n, PAGE - (a % PAGE))  # find the first missing page for the message
                try:
                    out += self._read_plain(a, n)
                except unicorn.UcError:
                    raise TargetError(
                        f"no memory at 0x{a:08X} ({self.describe_address(a)})") from None
        return bytes(out)

    def _read_plain(self, address: int, size: int) -> bytes | bytearray:
        if self._parked and self._in_parked(address):
            raise unicorn.UcError(unicorn.UC_ERR_READ_UNMAPPED)
        start = self._buffer_holding(address, size)
        if start is not None:  # mapped zero-copy: its bytes copied once (unicorn's read, twice)
            return memoryview(self._buffers[start][0])[address - start:address - start + size
                                                       ].tobytes()
        return self.uc.mem_read(address, size)

    def _buffer_holding(self, address: int, size: int) -> int | None:
        """Start of the mapped buffer that holds [address, address + size), if one does."""
        for start, (buf, _) in self._buffers.items():
            if start <= address and address + size <= start + len(buf):
                return start
        return None

    def _plain_span(self, address: int, size: int, *, stores: bool = False) -> int:
        """Bytes from ``address`` (at most ``size``) before the next peripheral mapping or
        parked buffer (with ``stores``: or buffer whose stores are trapped)."""
        bases = self.bus._bases
        i = bisect.bisect_right(bases, address)
        if i < len(bases):
            size = min(size, bases[i] - address)
        for start in (*self._parked, *(self._store_traps if stores else ())):
            if address < start:
                size = min(size, start - address)
        return max(size, 1)

    def mem_write(self, address: int, data: bytes) -> None:
        """Debugger write; peripheral registers receive 32-bit writes (byte writes elsewhere)."""
        i = 0
        while i < len(data):
            a = address + i
            m = self.bus.find(a)
            write: Callable[[int, int, int], None] | None = None
            if m is not None:
                write, offset = m.periph.write, a - m.base
            elif self._store_traps and (trap := self._store_trap_at(a)) is not None:
                # a window whose stores are decoded (trap_stores) takes the debugger's too
                if self._first_touch:
                    self._touched(a)
                write, offset = self._store_traps[trap][1], a - trap
            if write is not None:
                if a % 4 == 0 and len(data) - i >= 4:
                    write(offset, 4, struct.unpack_from("<I", data, i)[0])
                    i += 4
                else:
                    write(offset, 1, data[i])
                    i += 1
                continue
            # plain memory up to the next peripheral, trapped or parked buffer in one piece (a
            # loader's whole RAM buffer at once); where that fails, page by page to the first
            # missing page for the message
            n = self._plain_span(a, len(data) - i, stores=True)
            while True:
                try:
                    if self._parked and self._in_parked(a):
                        raise unicorn.UcError(unicorn.UC_ERR_WRITE_UNMAPPED)
                    self.uc.mem_write(a, data if n == len(data) and isinstance(data, bytes)
                                      else bytes(data[i:i + n]))
                    break
                except unicorn.UcError:
                    if n <= PAGE - (a % PAGE):
                        raise TargetError(
                            f"no memory at 0x{a:08X} ({self.describe_address(a)})") from None
                    n = PAGE - (a % PAGE)
            i += n

    def _write32(self, address: int, value: int) -> None:
        self.uc.mem_write(address, struct.pack("<I", value & 0xFFFFFFFF))

    def reg_read(self, name: str) -> int:
        """Core register by name: r0..r12, sp, lr, pc, xpsr, msp, psp, primask, basepri,
        faultmask, control, fpscr, s0..s31, d0..d15."""
        try:
            return int(self.uc.reg_read(cortexm.REGISTERS[name.lower()]))
        except KeyError:
            raise ValueError(f"unknown core register '{name}'") from None

    def reg_write(self, name: str, value: int) -> None:
        try:
            self.uc.reg_write(cortexm.REGISTERS[name.lower()], value)
        except KeyError:
            raise ValueError(f"unknown core register '{name}'") from None

    def reg_read_many(self, names: Sequence[str]) -> dict[str, int]:
        """Core registers by name, as :meth:`reg_read` reads each, in one batch (a loader call
        reads and writes a dozen or more: the binding's path costs microseconds per register)."""
        key = tuple(names)
        batch = self._register_batch(key)
        if batch is None:
            return {name: self.reg_read(name) for name in key}
        return dict(zip(key, batch.read(), strict=True))

    def reg_write_many(self, values: Mapping[str, int]) -> None:
        """Core registers by name, written in one batch in the mapping's order (as
        :meth:`reg_write` one after another)."""
        batch = self._register_batch(tuple(values))
        if batch is None:
            for name, value in values.items():
                self.reg_write(name, value)
            return
        batch.write(list(values.values()))

    def _register_batch(self, names: tuple[str, ...]) -> cortexm.RegisterBatch | None:
        """The batch for ``names`` (None: a 64-bit register among them, read one at a time)."""
        try:
            return self._register_batches[names]
        except KeyError:
            pass
        try:
            ids = [cortexm.REGISTERS[name.lower()] for name in names]
        except KeyError as exc:
            raise ValueError(f"unknown core register '{exc.args[0]}'") from None
        wide = any(name.lower() in cortexm.WIDE_REGISTERS for name in names)
        batch = self._register_batches[names] = (None if wide
                                                 else cortexm.RegisterBatch(self.uc, ids))
        return batch

    # -- observability -----------------------------------------------------------------------
    @property
    def on_unmodelled(self) -> list[Callable[[UnmodelledAccess], None]]:
        return self.bus.on_unmodelled

    @property
    def tracer(self) -> Callable[[BusAccess], None] | None:
        return self.bus.tracer

    @tracer.setter
    def tracer(self, callback: Callable[[BusAccess], None] | None) -> None:
        self.bus.set_tracer(callback)

    def describe_address(self, address: int) -> str:
        """The memory region, window or nearest peripheral of ``address`` (for messages)."""
        region = self.family.region_at(address)
        if region is not None:
            return region.name
        window = next((w for w in self.family.windows if w.contains(address)), None)
        if window is not None:
            return f"{window.name} memory-mapped window"
        bases = sysregs.bases(self.family.id)
        inside = [(b, n) for n, (b, s) in bases.items() if b <= address < b + max(s, PAGE)]
        if inside:
            return max(inside)[1]
        name = self.family.peripheral_at(address)
        if name is not None:
            return f"near {name}"
        below = [(b, n) for n, (b, _s) in bases.items() if b <= address]
        if below:
            b, n = max(below)
            return f"nothing mapped; nearest peripheral below is {n} at 0x{b:08X}"
        return "nothing mapped"

    def disassemble(self, address: int) -> str:
        try:
            code = self.mem_read(address & ~1, 4)
        except TargetError:
            return ""
        if self._cs is None:
            import capstone

            self._cs = capstone.Cs(capstone.CS_ARCH_ARM,
                                   capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
        for insn in self._cs.disasm(code, address & ~1, 1):
            return f"{insn.mnemonic} {insn.op_str}".strip()
        return ""

    # -- interrupts ----------------------------------------------------------------------------
    def set_irq_pending(self, irq: int) -> None:
        """Pend external interrupt ``irq`` (NVIC line); taken when enabled and unmasked."""
        self.scs.set_irq_pending(irq)

    def note_activity(self) -> None:
        """A peripheral moved data or changed state: the core is not idly polling."""
        self.bus.note_activity()

    # -- time ------------------------------------------------------------------------------------
    def sync_time(self) -> None:
        """Bring the virtual clock up to the instruction being executed (fires due events), or
        to the one :meth:`hold_time` names. Deferred accesses are handled first."""
        # peripheral callbacks call this on most accesses: keep it lean
        if self._ticking:  # the C tick loop runs: take over what it did first
            self._take_native_ticks()
        for flag, drain, _untaken in self._deferred:
            if flag.value:
                drain()
        counter = self._counter
        if counter is None or not self._running:
            return
        held = self._held
        done = min(counter.value if held is None else held, self._slice_budget)
        if done > self._slice_synced:
            self.clock.advance_cycles(done - self._slice_synced)
            self._slice_synced = done
            self._time_source_base()

    def time_base(self) -> tuple[int, int, int, bool] | None:
        """(virtual time, the instruction count of the running slice it was synced at, the
        slice's end in time, whether MAX_SLICE caps it), or None between slices and while an
        access is handled at an earlier instruction (hold_time): time at instruction n of the
        slice is then now + (n - count) cycles."""
        if not self._running or self._held is not None or self._counter is None:
            return None
        return self.clock.now_fs, self._slice_synced, self._slice_end_fs, self._slice_capped

    def hold_time(self, count: int | None) -> None:
        """Handle an access deferred at instruction ``count`` of the slice: time syncs up to
        there (not further) until ``hold_time(None)``."""
        self._held = count
        if count is not None:
            self.sync_time()

    def _event_scheduled(self, at_fs: int) -> None:
        if not self._running or at_fs >= self._slice_end_fs:
            return
        if self._limit is None:
            self.uc.emu_stop()
            return
        # shorten the running slice so that it ends on the event's cycle
        self.sync_time()
        limit = self._slice_synced + self.clock.cycles_for_fs(max(at_fs - self.clock.now_fs, 0))
        if limit < self._slice_budget:
            self._limit.value = max(limit, int(self._counter.value) if self._counter else 0)
            self._slice_budget = int(self._limit.value)
            self._slice_end_fs = at_fs
            self._slice_capped = False  # it ends on the event's cycle now
            for hook in self.bus.slice_start_hooks:  # a native lane's next event moved too
                hook()
        elif self._slice_capped:
            self._slice_end_fs = at_fs  # the cap ends it first, unless time passes meanwhile
            for hook in self.bus.slice_start_hooks:
                hook()

    def _time_skipped(self, cycles: int) -> None:
        """A peripheral let ``cycles`` pass mid-slice without instructions (a transfer's bus
        time, a polling skip): the slice still ends where it was planned to in time (at the
        next event), so as many fewer instructions run in it, and the event's exception is
        taken on its cycle. A slice MAX_SLICE caps runs on with its instructions, only not
        beyond its horizon. The native lane does the same for the time it lets pass
        (``lower_limit`` in quadspi_fast.c)."""
        if not self._running or not cycles or self._limit is None or self._counter is None:
            return
        counter = int(self._counter.value)
        if self._slice_capped:  # the time counts against the horizon only
            room = self.clock.cycles_for_fs(max(self._slice_end_fs - self.clock.now_fs, 0))
            limit = max(counter, min(int(self._limit.value), counter + room))
        else:
            limit = max(counter, int(self._limit.value) - cycles)
        self._limit.value = limit
        self._slice_budget = min(self._slice_budget, limit)

    def _core_clock_changed(self, hz: int) -> None:
        self.sync_time()
        self.clock.set_core_hz(hz)
        self.scs.core_hz_changed()
        log.debug("core clock now %d Hz", hz)

    def _reset_by_rcc(self, stem: str) -> None:
        targets = self._reset_targets.get(stem)
        if targets is None:  # HAL's MspInit resets the controller at every Init: looked up once
            targets = self._reset_targets[stem] = [
                p for p in self.peripherals.values()
                if p.name == stem or p.name.replace("QUADSPI", "QSPI") == stem or (
                    p.name.startswith("OCTOSPI") and p.name.replace("OCTOSPI", "OSPI") == stem)]
        for p in targets:
            p.reset()

    # -- native CYCCNT reads (native/timesource_fast.c) -------------------------------------------
    def _time_source_start(self) -> None:
        """A slice starts: the DWT's C side serves CYCCNT from here on (nothing traces it)."""
        ts = self._time_source
        if ts is None:
            return
        if ts.n_flags != len(self._deferred):  # a controller with a native lane was added
            self.dwt.watch_flags([(flag, untaken) for flag, _drain, untaken in self._deferred])
        ts.base = self.clock.cycles - self._slice_synced
        ts.running = int(self.dwt.tracer is None)

    def _time_source_base(self) -> None:
        """The clock's cycle count or the counter it is synced at moved: cycles at the
        instruction being executed are base + unicorn's counter again."""
        ts = self._time_source
        if ts is not None and self._running:
            ts.base = self.clock.cycles - self._slice_synced

    # -- run loop --------------------------------------------------------------------------------
    def _pc(self) -> int:
        # raw call: ~20x cheaper than the binding's reg_read, and the run loop asks often
        cortexm.raw_reg_read(self._handle, A.UC_ARM_REG_PC, self._pc_address)
        return self._pc_value.value

    def _request_stop(self) -> None:
        """End the running slice after the current instruction."""
        if self._counter is not None and self._limit is not None and self._running:
            # after a stop the counter is one past the limit (a native lane may have stopped it)
            done = min(int(self._counter.value), int(self._limit.value))
            self._limit.value = done
            self._slice_budget = min(self._slice_budget, done)
        else:
            self.uc.emu_stop()

    def stop_for_debugger(self) -> None:
        """From a code hook: end the run before this instruction, reason "breakpoint" (a
        debugger's breakpoint or single step)."""
        self._stop_reason = "breakpoint"
        self.uc.emu_stop()

    def _request_stop_if_running(self) -> None:
        if self._running and not self._ending:
            self._request_stop()

    def reset(self) -> None:
        """Core and peripherals back to their reset state (memory contents are kept)."""
        for p in self.peripherals.values():
            p.reset()
        self.exceptions.reset()
        for name in ("r0", "r1", "r2", "r3", "r12", "lr", "primask", "basepri", "faultmask"):
            self.reg_write(name, 0)
        self.reg_write("control", 0)
        self.uc.reg_write(A.UC_ARM_REG_XPSR, cortexm.XPSR_T)
        self.clock.set_core_hz(self.rcc.core_hz() or self.family.reset_clock_hz)
        self.last_fault = None

    def run(self, pc: int, *, stop_at: int, timeout_fs: int) -> RunResult:
        """Run from ``pc`` (Thumb) until the core reaches ``stop_at``, faults, locks up, hits a
        stray BKPT, or ``timeout_fs`` of virtual time pass. Deterministic.

        With :attr:`checkpoint_fs` set, :attr:`on_checkpoint` is asked at the first slice
        boundary at or after it whether the run goes on. No slice ends for it (an extra slice
        boundary in the middle of a command lane's work moves virtual time): slices end at
        least every MAX_SLICE instructions, at events and when idle time is skipped. A watcher
        looks at a long call this way without ending and restarting the run, which would reset
        the idle detection and the fast-forward steps and so move virtual time too."""
        uc = self.uc
        stop_at &= ~1
        if stop_at not in self._stop_at_cached:
            # translated blocks that ran through stop_at before would not honour `until`
            self.invalidate_code(stop_at, stop_at + 2)
            self._stop_at_cached.add(stop_at)
        uc.reg_write(A.UC_ARM_REG_PC, pc | 1)
        start_fs, start_cycles = self.clock.now_fs, self.clock.cycles
        deadline = start_fs + timeout_fs
        self.clock.limit_fs = deadline
        self._exceptions_taken = 0
        self.last_fault = None
        self.bus.note_activity()
        self._forget_loop()
        ff_since: int | None = None
        looked = False  # the last slice ended for a look at a loop (not a boundary of its own)
        while True:
            taken = self._take_pending_exception()
            if taken == "fault":
                return self._result("fault", start_fs, start_cycles, fault=self.last_fault)
            if taken == "taken":
                continue
            pc_now = self._pc()
            if pc_now & ~1 == stop_at and not self.exceptions.active:
                return self._result("returned", start_fs, start_cycles)
            if self.clock.now_fs >= deadline:
                return self._result("timeout", start_fs, start_cycles,
                                    spin=self._spin_evidence())
            if self.checkpoint_fs is not None and not looked and self._checkpoint():
                return self._result("checkpoint", start_fs, start_cycles)
            looked = False
            budget, horizon = self._budget(deadline)
            self._stop_reason = None
            self._pending_fault = None
            self.bus.spin_hit = False
            self.bus.error = None
            self._slice_budget, self._slice_synced = budget, 0
            self._slice_capped = horizon is not None
            self._slice_end_fs = (self.clock.now_fs + budget * self.clock.fs_per_cycle
                                  if horizon is None else horizon)
            self._running = True
            if self.idle is not None and self.clock.now_fs >= self._idle_quiet_until:
                self.idle.armed.value = 1  # an event may have changed what a loop waits on
            self._time_source_start()
            for hook in self.bus.slice_start_hooks:
                hook()
            error: unicorn.UcError | None = None
            try:
                if self._ticks is not None and self._ticks_may_run(stop_at, deadline):
                    if self._run_ticking(pc_now, budget):
                        ff_since = None  # as after each tick's slice (nothing was polled)
                else:
                    uc.emu_start(pc_now | 1, stop_at, count=budget)
            except unicorn.UcError as exc:
                error = exc
            finally:
                if self._counter is None:
                    self._slice_synced = max(self._slice_synced, budget)  # slice granularity
                elif self._limit is not None:
                    # a native lane may have stopped the core by lowering the limit, as
                    # _request_stop does (the counter then stands one past it)
                    self._slice_budget = min(self._slice_budget, int(self._limit.value))
                self._ending = True  # the core stopped: what fires now needs no stop request
                self.sync_time()
                self._running = self._ending = False
                if self._time_source is not None:
                    self._time_source.running = 0
                self.bus.end_slice()
            if self._stores:
                self._take_stores()
            if self.bus.error is not None:
                raise self.bus.error
            if self._opening is not None:
                self._open_fetched()
                continue
            if error is not None or self._pending_fault is not None:
                outcome = self._handle_fault(error)
                if outcome is not None:
                    return self._result(outcome, start_fs, start_cycles, fault=self.last_fault)
                continue
            if self._stop_reason == "breakpoint":
                return self._result("breakpoint", start_fs, start_cycles)
            if self.turn_summaries:
                self._look_at_turns()
            if self._stop_reason == "idle-probe":
                self._look_at_loop(deadline, stop_at)
                looked = True
                continue
            pc_now = self._pc() & ~1
            if pc_now == stop_at:
                continue  # checked at the top (after any exception return)
            idle = self._idle_kind(pc_now)
            if idle is not None:
                ff_since = self.clock.now_fs if ff_since is None else ff_since
                self._fast_forward(deadline, ff_since, bounded=idle != "poll")
            elif self.bus.spin_hit:
                if self._loop_counts():
                    continue
                ff_since = self.clock.now_fs if ff_since is None else ff_since
                self._fast_forward(deadline, ff_since, bounded=False)
            elif self.bus.poll.streak == 0:
                ff_since = None
                self._forget_loop()

    # -- data loops' turns at once (turns.py) ---------------------------------------------------
    def _look_at_turns(self) -> None:
        """Between slices: when a command lane moves data, or an event stopped the core, look
        at the loop the core is in for a summary of its turns (it changes nothing: the loop
        runs on paper). While looks are wanted, slices are short (SAMPLE_SLICE)."""
        # a slice the sampling cap ended ran its instructions: the core is where it executes
        counted = (self._max_slice < MAX_SLICE and self._slice_capped
                   and self._slice_synced >= self._max_slice)
        self._max_slice = MAX_SLICE
        lanes, ticks = self.bus.native_lanes, self._ticks
        if not lanes or ticks is None or not self._unwatched():
            return
        if self._turns is None:
            if self._turns_tried:
                return
            self._turns_tried = True  # once: lanes added later are not summarised for
            lib = turns_load()
            if lib is None:
                return
            try:
                self._turns = NativeTurns(lib, self, lanes)
            except native.NativeUnavailable as why:
                log.info("data-loop turns unavailable: %s", why)
                return
            ticks.use_turns(self._turns.address,
                            ctypes.addressof(self._turns.state) + TurnsState.active.offset,
                            self._turns.known.address)
        turns = self._turns
        at_event = bool(self.scs.pending)
        if turns.wanted(at_event=at_event, counted=counted):
            turns.look(sampled=at_event)
        turns.count_samples += counted
        turns.ask_lanes_to_stop()
        # the C tick loop leaves a tick now and then to Python while looks are left, so that
        # events find the core where it spends its virtual time; short slices find it where it
        # spends its instructions
        ticks.state.sample = TICK_SAMPLE if turns.sampling else 0
        if turns.count_sampling:
            self._max_slice = SAMPLE_SLICE + SAMPLE_STEP * turns.count_samples % SAMPLE_SPAN

    @property
    def turns_run(self) -> int:
        """Data-loop turns run at once so far (tests and benchmarks)."""
        return self._turns.turns_run if self._turns is not None else 0

    # -- loops waiting on memory (idleloop.py) ---------------------------------------------------
    def _idle_look_wanted(self) -> bool:
        """Is a look at the loop the core is in worth it: thread mode, an address not known to
        lead to busy code, nothing pending, nobody watching the core?"""
        idle = self.idle
        return (idle is not None and not self.exceptions.active and not self.scs.pending
                and idle.wants(self._pc()) and self._unwatched())

    def _unwatched(self) -> bool:
        """Nobody looks at the core's accesses or instructions (no held time, no tracer, no
        hook but the machine's own): what runs in C or is skipped would go unseen."""
        return (self._held is None and self.bus.tracer is None and self.dwt.tracer is None
                and len(self.uc._callbacks) == self._own_hooks)

    def _look_at_loop(self, deadline: int, stop_at: int) -> None:
        """The core stopped right after an exception return, or on entering a loop found idle
        before: run it on for two turns of the loop it is in, and let the whole turns that fit
        before the next event (the deadline, the watcher's checkpoint) pass at once when a turn
        changes nothing (idleloop.py)."""
        assert self.idle is not None
        clock = self.clock
        horizon = self._horizon(deadline)
        if self.checkpoint_fs is not None:
            horizon = min(horizon, self.checkpoint_fs)
        avail = clock.cycles_for_fs(max(horizon - clock.now_fs, 0))
        if avail < MIN_LOOK or self._pc() & ~1 == stop_at or not self._idle_look_wanted():
            return
        from_head, self._look_from_head = self._look_from_head, False
        self.idle.armed.value = 0
        ran, turn = self.idle.probe(self, avail, stop_at)
        if not turn and not from_head:
            self.idle.armed.value = 1  # the wait ended: the next one starts at a loop head
        if turn:  # the turn is idle up to the horizon: no look before it
            self._idle_quiet_until = horizon
        skipped = self.idle.skip(turn, avail - ran) if turn else 0
        if ran + skipped:
            clock.advance_cycles(ran + skipped)

    def _watch_head(self, head: int) -> None:
        """Stop the core at ``head`` (an idle loop's) when it enters the loop anew: a block hook
        on the blocks starting there (a branch target starts one; raw, so it does not count as
        someone else's hook). Not a code hook: unicorn would then call every code hook, the
        instruction count's too, through one list walk per instruction, in all code."""
        self._head_hooks[head] = self.hook_blocks_at(head, *self._head_hook())

    def _unwatch_head(self, head: int) -> None:
        """Stop watching ``head``: a loop watched on speculation that is not a wait. Its hook
        goes, and the code translated with calls to it (one per pass through the head, a byte
        loop's head passes once a byte), so it costs nothing once it is known."""
        handle = self._head_hooks.pop(head, None)
        if handle is not None:
            status = uclib.uc_hook_del(self.uc._uch, ctypes.c_size_t(handle))
            if status != unicorn.UC_ERR_OK:
                raise unicorn.UcError(status)
            self.uc.ctl_flush_tb()  # type: ignore[attr-defined]  # (py3 binding; mypy reads py2)

    def hook_blocks_at(self, address: int, hook: int, user: int) -> int:
        """A raw C block hook (``hook(uc, address, size, user)``) on the blocks that start at
        ``address``, for the machine's life (or until its handle is deleted: a loop head watched
        on trial). Code translated before has no call to it, and
        removing only the blocks there from unicorn's cache (ctl_remove_cache) does not always
        bring one in (a data loop's head stayed without it), so the cache is flushed: once per
        loop the machine watches or summarises. Returns the hook's handle."""
        handle = ctypes.c_size_t()
        status = uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), unicorn.UC_HOOK_BLOCK,
                                   ctypes.c_void_p(hook), ctypes.c_void_p(user),
                                   ctypes.c_uint64(address), ctypes.c_uint64(address))
        if status != unicorn.UC_ERR_OK:
            raise unicorn.UcError(status)
        self.uc.ctl_flush_tb()  # type: ignore[attr-defined]  # (py3 binding; mypy reads py2)
        return handle.value

    def _head_hook(self) -> tuple[int, int]:
        """The block hook on loop heads and its user data: ``_on_head`` behind the C filter
        of ticks_fast.c (head_hook: armed, and room in the slice for a look), or called
        directly without the native helpers."""
        if self._head_callback is None:
            self._head_callback = HOOK_CODE_CFUNC(self._on_head)
            lib = ticks_fast.load()
            if (lib is not None and self.idle is not None and self._counter is not None
                    and self._limit is not None):
                hook, watch = ticks_fast.head_filter(
                    lib, armed=self.idle.armed_address,
                    counter=ctypes.addressof(self._counter),
                    limit=ctypes.addressof(self._limit), min_look=MIN_LOOK,
                    python=self._head_callback)
                self._head_watch = (hook, watch)
        if self._head_watch is not None:
            hook, watch = self._head_watch
            return hook, ctypes.addressof(watch)
        address = ctypes.cast(self._head_callback, ctypes.c_void_p).value
        assert address is not None
        return address, 0

    def _on_head(self, _uch: int, _address: int, _size: int, _ud: int) -> None:
        try:
            idle = self.idle
            if (idle is not None and idle.armed.value and self._running and not self._ending
                    and self._limit is not None and self._counter is not None
                    and int(self._limit.value) - int(self._counter.value) >= MIN_LOOK):
                if self._idle_look_wanted():
                    idle.armed.value = 0
                    self._stop_reason = "idle-probe"
                    self._look_from_head = True
                    self._request_stop()
                elif idle.on_trial(self._pc() & ~1):
                    # no look now: the head on trial is passed by until the look is armed again
                    # (it may be a loop's head that the core passes at every turn)
                    idle.armed.value = 0
        except BaseException as exc:  # a C callback must not raise: the run loop re-raises it
            self.bus.fail(exc)

    def code_at(self, pc: int) -> bytes | None:
        """The four bytes at ``pc`` when they are plain memory (the idle-loop look)."""
        if not self._plain_readable(pc, 4, code=True):
            return None
        return bytes(self.uc.mem_read(pc, 4))

    def step_one(self, pc: int) -> bool:
        """Run one instruction outside any slice (the idle-loop look: one that touches no
        peripheral; the caller lets its cycle pass). False when unicorn did not run it (the run
        loop then meets the instruction again, and whatever it does, as usual)."""
        try:
            self.uc.emu_start(pc | 1, 0, count=1)
        except unicorn.UcError:
            self._pending_fault = None
            return False
        return True

    def _plain_readable(self, address: int, size: int, *, code: bool = False) -> bool:
        """Is [address, address + size) in a buffer mapped now (RAM, ROM, internal flash, a
        memory-mapped window: a load there reaches no peripheral model)? With ``code``: one the
        core has fetched from already (a first fetch stops the core, see :meth:`map_buffer`)."""
        start = self._buffer_holding(address, size)
        return (start is not None and start not in self._parked
                and start not in self._first_touch
                and (not code or start not in self._exec_on_fetch or start in self._fetched))

    # -- SysTick ticks in C (native/ticks_fast.c) -------------------------------------------------
    def _ticks_may_run(self, stop_at: int, deadline: int) -> bool:
        """May the slice about to start run in the C tick loop (see ticks_fast.c)? It may when
        the slice ends on a SysTick tick whose exception is taken at once, and everything the run
        loop does at a tick is routine: no exception active or pending, no listener, tracer or
        foreign hook, only command lanes in the bus's slice and exception hooks. Without such a
        tick (a loader without SysTick) it may too once data loops are summarised, for their
        turns only: the loop then hands every slice's end to Python. Fills in the call's
        fields."""
        assert self._ticks is not None
        scs, clock, bus = self.scs, self.clock, self.bus
        events = clock.upcoming()
        reload = scs.values[0x014]
        ticking = bool(events and scs.wakes_core(events[0][1]) and scs.vtor_written and reload)
        if not ticking and (self._turns is None or not self._turns.state.n_templates
                            or self.exceptions.active):
            return False  # without a tick the loop is only worth it for data-loop turns
        lanes = bus.native_lanes
        if (scs.pending or self.exceptions.listeners or not self._unwatched()
                or len(bus.deferred) != 2 * len(lanes) or len(bus.exception_hooks) != len(lanes)
                or len(bus.slice_start_hooks) != len(lanes)
                or len(bus.slice_hooks) != len(lanes)):
            return False
        st = self._ticks.state
        if st.n_lanes != len(lanes) and not self._ticks.use_lanes(
                [lane.native_address for lane in lanes]):
            return False
        active = self.exceptions.active
        if active and (active != [cortexm.SYSTICK] or st.in_handler):
            return False
        if any(lane.native_state.lane and lane.lane_chip() is None for lane in lanes):
            return False  # its time base would not be set (CommandEngine._lane_time)
        # the events after the tick, without the ends of busy the lanes hold (_horizon)
        held = self._lane_held_settle()
        others = [when for when, callback in events[1 if ticking else 0:]
                  if held is None or not held(callback)]
        st.now_fs, st.cycles, st.fs_per_cycle = clock.now_fs, clock.cycles, clock.fs_per_cycle
        st.deadline_fs = deadline
        st.checkpoint_fs = ticks_fast.NEVER if self.checkpoint_fs is None else self.checkpoint_fs
        st.limit_fs = ticks_fast.NEVER if clock.limit_fs is None else clock.limit_fs
        st.other_fs = others[0] if others else ticks_fast.NEVER
        st.other2_fs = others[1] if len(others) > 1 else ticks_fast.NEVER
        st.tick_fs = events[0][0] if ticking else ticks_fast.NEVER
        st.tick_period_fs = (reload + 1) * scs.tick_fs()
        st.max_slice = self._max_slice
        st.systick_priority = scs.priority(cortexm.SYSTICK)
        st.vector = scs.vtor + 4 * cortexm.SYSTICK
        st.stop_at = stop_at
        if active:  # the tick's handler runs: its return is the C loop's (tick_interrupt)
            active.pop()
            st.in_handler = 1
        return True

    def _run_ticking(self, pc: int, budget: int) -> int:
        """Run the slice in the C tick loop; Python's state is brought up to date with the ticks
        it handled. Returns how many it handled. Raises UcError as ``emu_start`` does."""
        assert self._ticks is not None
        uc = self.uc
        uc._hook_exception = None
        self._streak_at_ticks = self.bus.poll.streak
        self._ticking = True
        self.bus.lazy = self._take_native_ticks
        try:
            status = self._ticks.run(pc, budget)
        finally:
            self._ticking = False
            self.bus.lazy = None
            self._take_native_ticks()
        st = self._ticks.state
        if st.idle_stop:
            st.idle_stop = 0
            self._stop_reason = "idle-probe"
        if status:
            raise unicorn.UcError(status)
        if uc._hook_exception is not None:  # a binding-wrapped hook raised (as emu_start does)
            raise uc._hook_exception
        return int(st.ticks_in_call)

    def _take_native_ticks(self) -> None:
        """Python's state as the run loop would have left it after the ticks the C loop handled
        since the last call of this (the running slice is the one C started last). Called when
        the C loop returns, and first thing in every Python callback while it runs: that
        callback's slice then ends in Python."""
        assert self._ticks is not None
        st = self._ticks.state
        if st.active:
            st.python_ran = 1
        n = int(st.ticks)
        if n:
            st.ticks = 0
            clock = self.clock
            clock.now_fs, clock.cycles = int(st.now_fs), int(st.cycles)
            self.scs.ticks_passed(n, int(st.last_tick_fs))
            self._slice_budget, self._slice_synced = int(st.budget), 0
            self._slice_end_fs, self._slice_capped = int(st.slice_end_fs), bool(st.capped)
            self._time_source_base()
            self._exceptions_taken += n
            self.bus.exception_entered()
            if n > 1 or self._streak_at_ticks == 0:
                self._forget_loop()  # as after each tick's slice the run loop forgets the loop
        if st.in_handler:
            st.in_handler = 0
            self.exceptions.entered_natively(cortexm.SYSTICK)

    def _loop_counts(self) -> bool:
        """A polling streak stopped the core: does the loop run on without skipping time?

        Skipping to the next event is right for a loop that waits (its registers are the same
        at every stop) and wrong for one that counts its polls: on silicon each poll costs its
        bus time, and the loop gives up after its count. The first stop in a loop only notes
        the core registers; a later stop at the same PC with different registers and no
        exception taken in between is a counting loop, run on with a doubled streak length (at
        most :data:`MAX_COUNTED_STREAKS` times). A loop that reads a time source (SysTick CVR,
        DWT CYCCNT) waits for time: it is skipped at once.
        """
        bus = self.bus
        if bus.poll.timed or (self._time_source is not None and self._time_source.timed):
            # it reads a clock (its own timeout): a wait, skipped as one
            self._forget_loop()
            return False
        regs = (self._exceptions_taken, *self._loop_regs.read())
        seen, self._loop_seen = self._loop_seen, regs
        bus.poll.streak = 0  # demand a fresh streak either way
        # another loop, or an interrupt ran in between (a tick changes what a timeout loop
        # holds in its registers): look again
        if seen is None or seen[0] != regs[0] or seen[-1] != regs[-1]:
            self._counted = 0
            bus.spin_threshold = SPIN_THRESHOLD
            return True
        if seen == regs or self._counted >= MAX_COUNTED_STREAKS:
            bus.spin_threshold = SPIN_THRESHOLD
            return False
        self._counted += 1
        bus.spin_threshold = SPIN_THRESHOLD << self._counted
        return True

    def _forget_loop(self) -> None:
        """The core did something else than poll: the next streak is a new loop."""
        if self._loop_seen is not None:
            self._loop_seen = None
            self._counted = 0
            self.bus.spin_threshold = SPIN_THRESHOLD

    def _checkpoint(self) -> bool:
        """Between slices: is the checkpoint due, and does the watcher stop the run there?"""
        due = self.checkpoint_fs
        return (due is not None and self.clock.now_fs >= due and self.on_checkpoint is not None
                and self.on_checkpoint())

    def _horizon(self, deadline: int) -> int:
        """Where the next slice must end in time: the next event or the deadline. The end of
        busy of a chip a command lane holds is not such an event: the lane ends the chip's
        operation itself, at the first access at or after it (quadspi_fast.c chip_settle), and
        the chip's own event, idempotent, fires when the clock next passes it."""
        held = self._lane_held_settle()
        if held is None:
            nxt = self.clock.next_event_fs()
        else:
            events = self.clock.next_events_except(held, 1)
            nxt = events[0][0] if events else None
        return deadline if nxt is None else min(deadline, nxt)

    def _lane_held_settle(self) -> Callable[[Callable[[], None]], bool] | None:
        """Claims the end-of-busy events of the chips the command lanes hold now (None: no
        lane holds a chip)."""
        chips = [chip for lane in self.bus.native_lanes
                 if lane.native_state.lane and (chip := lane.lane_chip()) is not None]
        if not chips:
            return None
        return lambda callback: any(chip.is_settle_event(callback) for chip in chips)

    def _budget(self, deadline: int) -> tuple[int, int | None]:
        """The next slice's instructions, and its horizon when MAX_SLICE caps it (None: it ends
        on the last cycle of its budget)."""
        clock = self.clock
        horizon = self._horizon(deadline)
        cycles = max(1, clock.cycles_for_fs(max(horizon - clock.now_fs, 0)))
        if self._masked_pending():
            cycles = min(cycles, MASKED_SLICE)
        if cycles > self._max_slice:
            return self._max_slice, horizon
        return cycles, None

    def _idle_kind(self, pc: int) -> str | None:
        """Is the core idle at ``pc``: stopped after a WFI, or on a ``b .``?"""
        executed = self._slice_synced
        # the instruction before pc and the one at pc, in one read
        if cortexm.raw_mem_read(self._handle, (pc - 2) & 0xFFFFFFFF, self._halfwords_address,
                                4) != unicorn.UC_ERR_OK:
            return None
        before, here = self._halfwords
        if before == THUMB_WFI and executed < self._slice_budget and not self.bus.spin_hit:
            return "wfi"
        if here == THUMB_SELF_BRANCH:
            return "self-branch"
        return None

    def _fast_forward(self, deadline: int, since: int, *, bounded: bool) -> None:
        """Skip idle time: to the next event, or (no event) in steps of 1/8 of the idle time."""
        self.sync_time()  # between slices: what native sides hold is taken over first
        clock = self.clock
        target = deadline
        nxt = clock.next_event_fs()
        if nxt is not None:
            target = min(target, nxt)
        elif not bounded:
            target = min(target, clock.now_fs + max(FF_MIN_STEP_FS, (clock.now_fs - since) // 8))
        if target > clock.now_fs:
            clock.advance_fs(target - clock.now_fs)
        self.bus.poll.streak = 0  # keep what was polled (evidence), demand a fresh streak

    def _spin_evidence(self) -> SpinEvidence:
        pc = self._pc() & ~1
        poll = self.bus.poll
        registers = []
        for address, value in poll.reads.items():
            m = self.bus.find(address)
            name = m.periph.describe(address - m.base) if m else f"0x{address:08X}"
            registers.append(PolledRegister(address, name, value))
        idle = self._idle_kind(pc) or ("poll" if registers else "busy")
        pcs = tuple(sorted(poll.pcs | {pc}))
        return SpinEvidence(pcs, tuple(registers), idle)

    def _result(self, reason: str, start_fs: int, start_cycles: int, *,
                fault: FaultInfo | None = None, spin: SpinEvidence | None = None) -> RunResult:
        self.bus.end_run()
        regs = self.reg_read_many(("lr", "sp", "r0"))
        return RunResult(reason=reason, pc=self._pc() & ~1, lr=regs["lr"], sp=regs["sp"],
                         r0=regs["r0"],
                         cycles=self.clock.cycles - start_cycles,
                         time_fs=self.clock.now_fs - start_fs, fault=fault, spin=spin,
                         exceptions_taken=self._exceptions_taken)

    # -- exceptions --------------------------------------------------------------------------
    def _execution_priority(self) -> int:
        prio = 256
        for exc in self.exceptions.active:
            prio = min(prio, self.scs.priority(exc))
        faultmask, primask, basepri = self._mask_regs.read()
        if faultmask & 1:
            return -1
        if primask & 1:
            prio = min(prio, 0)
        basepri &= 0xFF
        if basepri:
            prio = min(prio, basepri)
        return prio

    def _candidate(self) -> int | None:
        pending = self.scs.pending
        if not pending:  # the usual case, asked several times per slice
            return None
        if len(pending) == 1:  # the next usual one: a tick
            for exc in pending:
                return exc if self.scs.exception_enabled(exc) else None
        ready = [e for e in pending if self.scs.exception_enabled(e)]
        if len(ready) <= 1:
            return ready[0] if ready else None
        return min(ready, key=lambda e: (self.scs.priority(e), e))

    def _masked_pending(self) -> bool:
        exc = self._candidate()
        return exc is not None and self.scs.priority(exc) >= self._execution_priority()

    def _take_pending_exception(self) -> str | None:
        """Enter the highest-priority pending exception that may preempt: "taken", "fault"
        (no handler for it) or None."""
        exc = self._candidate()
        if exc is None or self.scs.priority(exc) >= self._execution_priority():
            return None
        handler = self._vector(exc)
        if handler is None:
            # no usable handler for a configurable exception: on silicon the core would
            # fetch garbage; report it as a fault of the loader.
            self.scs.pending.discard(exc)
            name = cortexm.EXCEPTION_NAMES.get(exc, f"IRQ{exc - 16}")
            self.last_fault = self._fault_info(
                "hard", f"{name} exception with no vector table installed by the loader "
                "(VTOR never written)", None, None, 0, 1 << 30)
            return "fault"
        self.scs.pending.discard(exc)
        self.exceptions.enter(exc, handler)
        self._exceptions_taken += 1
        self.bus.exception_entered()
        return "taken"

    def _vector(self, exc: int) -> int | None:
        if not self.scs.vtor_written:
            return None
        read, uch, word = cortexm.raw_mem_read, self._handle, self._word_address
        if read(uch, self.scs.vtor + 4 * exc, word, 4) != unicorn.UC_ERR_OK:
            return None
        handler = self._word[0]
        if not handler & 1 or handler in (0xFFFFFFFF,):
            return None
        if handler != self._handler_seen:  # the same handler as last time is in memory
            if read(uch, handler & ~1, word, 2) != unicorn.UC_ERR_OK:
                return None  # the handler is not in memory
            self._handler_seen = handler
        return handler & ~1

    def _on_interrupt(self, _uch: int, intno: int, _ud: int) -> None:
        """unicorn's interrupt hook (raw: no binding wrapper), once per exception return too."""
        try:
            if self._ticking:
                self._take_native_ticks()
            pc = self._pc()
            if intno == 8 or (intno == 3 and pc >= cortexm.EXC_RETURN_MIN):
                self.exceptions.leave(pc | 1)
                if self.idle is not None:
                    self.idle.armed.value = 1
                if self._candidate() is not None:
                    self._request_stop()
                elif self._idle_look_wanted():
                    self._stop_reason = "idle-probe"
                    self._request_stop()
            elif intno == 7:  # BKPT
                self._stop_reason = "breakpoint"
                self.uc.emu_stop()
            elif intno == 2:  # SVC: PC is past the instruction, the stacked return address
                self.scs.set_pending(cortexm.SVCALL)
                self._request_stop()
            else:
                self._pending_fault = ("usage", None, f"interrupt {intno}")
                self.uc.emu_stop()
        except BaseException as exc:  # a C callback must not raise: the run loop re-raises it
            self.bus.fail(exc)

    def _on_bad_access(self, uc: unicorn.Uc, access: int, address: int, size: int, value: int,
                       _ud: object) -> bool:
        if self._ticking:
            self._take_native_ticks()
        if access in (unicorn.UC_MEM_READ_PROT, unicorn.UC_MEM_FETCH_PROT) and self._first_touch \
                and self._touched(address):
            return True  # the first access to a window that watches for it: go on
        if access == unicorn.UC_MEM_FETCH_PROT and self._exec_on_fetch \
                and self._first_fetch(address):
            # the first fetch from a window: the core stops before it, the run loop opens the
            # window and runs on (making a read-only window executable here and returning True
            # crashed unicorn 2.1.4; reopening a closed one, as _touched does, works)
            return False
        if access == unicorn.UC_MEM_WRITE_PROT and self._store_traps \
                and self._trap_store(address, size, value):
            return True  # a store to a window that decodes its stores: taken after the slice
        kind = {unicorn.UC_MEM_READ_UNMAPPED: "read", unicorn.UC_MEM_WRITE_UNMAPPED: "write",
                unicorn.UC_MEM_FETCH_UNMAPPED: "fetch", unicorn.UC_MEM_WRITE_PROT: "write",
                unicorn.UC_MEM_READ_PROT: "read", unicorn.UC_MEM_FETCH_PROT: "fetch"}.get(access)
        self._pending_fault = ("bus", address, kind)
        return False

    def _on_invalid_insn(self, uc: unicorn.Uc, _ud: object) -> bool:
        if self._ticking:
            self._take_native_ticks()
        pc = int(uc.reg_read(A.UC_ARM_REG_PC))
        try:
            previous = struct.unpack("<H", uc.mem_read(pc - 2, 2))[0]
        except unicorn.UcError:
            previous = 0
        if previous in (THUMB_WFE, THUMB_YIELD):
            return True  # hint instructions: no-ops here
        self._pending_fault = ("usage", None, None)
        return False

    def _handle_fault(self, error: unicorn.UcError | None) -> str | None:
        """Turn an engine error into the Cortex-M fault it is; None if the loader's HardFault
        handler takes over, else the run's end reason ("fault" or "lockup")."""
        kind, address, access = self._pending_fault or ("usage", None, None)
        pc = self._pc() & ~1
        if error is not None and error.errno == unicorn.UC_ERR_EXCEPTION and kind == "usage":
            access = "exception"
        cfsr = 0
        if kind == "bus":
            if access == "fetch":
                cfsr = 1 << 8  # IBUSERR
                address_note = "instruction fetch from"
            else:
                cfsr = (1 << 9) | (1 << 15)  # PRECISERR + BFARVALID
                address_note = f"{access} of"
            protected = error is not None and error.errno in (
                unicorn.UC_ERR_WRITE_PROT, unicorn.UC_ERR_FETCH_PROT, unicorn.UC_ERR_READ_PROT
            ) and not (address is not None and self._in_parked(address))
            what = "read-only memory" if protected else "an address with nothing behind it"
            description = f"bus fault: {address_note} {what}"
        else:
            cfsr = 1 << 16  # UNDEFINSTR
            description = "usage fault: undefined or unsupported instruction"
            if error is not None and error.errno == unicorn.UC_ERR_EXCEPTION:
                cfsr = 1 << 19  # NOCP (e.g. FP instruction on a core without FPU)
                description = "usage fault: coprocessor/FP instruction not available"
        in_hardfault = cortexm.HARDFAULT in self.exceptions.active
        self.scs.record_fault(cfsr, 1 << 30, address)
        info = self._fault_info("lockup" if in_hardfault else kind, description, address,
                                access, cfsr, 1 << 30, pc=pc)
        self.last_fault = info
        if in_hardfault:
            return "lockup"
        handler = self._vector(cortexm.HARDFAULT)
        if handler is None:
            return "fault"
        self.exceptions.enter(cortexm.HARDFAULT, handler)
        self._exceptions_taken += 1
        return None

    def _fault_info(self, kind: str, description: str, address: int | None,
                    access: str | None, cfsr: int, hfsr: int, *,
                    pc: int | None = None) -> FaultInfo:
        pc = self._pc() & ~1 if pc is None else pc
        return FaultInfo(kind=kind, description=description, pc=pc, address=address,
                         access=access, cfsr=cfsr, hfsr=hfsr,
                         cfsr_bits=decode_bits(cfsr, CFSR_BITS),
                         hfsr_bits=decode_bits(hfsr, HFSR_BITS),
                         instruction=self.disassemble(pc),
                         region=self.describe_address(address) if address is not None else "")

