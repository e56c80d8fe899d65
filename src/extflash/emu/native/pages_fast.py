"""Python side of ``pages_fast.c``: stores to every 256-byte RAM page at full speed.

``pages_fast.c`` says why: unicorn 2.1.4 marks every RAM page not-dirty, and on a 256-byte page
whose address has bit 8 clear each store then fills the TLB again. :func:`attach` gives a
machine with 256-byte pages a :class:`TlbView` of its CPU's TLB, which a command lane tends
(``tlb_tend``) as the loader runs.

unicorn has no API for its TLB. Where the pinned unicorn keeps it is checked first (:func:`_holds`:
the stack pointer read there, a descriptor for every MMU mode); when that does not hold,
:func:`_layout` finds it, once per process, on the first such machine's own engine, before
anything is mapped:

* the CPU: a pointer in the engine's struct to a block that holds the core registers at a fixed
  offset (found by setting r0-r12 to a pattern and looking for it);
* the fast TLB descriptors (mask, table) just below the registers, one per MMU mode, and the
  size of an entry: a probe stores to a page whose address has bit 8 clear and looks for the one
  entry that names the page with the not-dirty flag in its write address.

Every pointer is checked against ``/proc/self/maps`` before it is read. Anything unexpected (an
other unicorn, an other platform) leaves the machine as it was: the stores still work, through
the TLB fill.
"""

from __future__ import annotations

import bisect
import ctypes
import re
from typing import NamedTuple

import unicorn
from unicorn import arm_const

from extflash.emu import cortexm, native

PAGE_BITS = 8  # the machine's small pages (Machine(small_pages=True))
NOTDIRTY = 0x100
_PROBE_STORE = 0xA00  # in the probe's page: a 256-byte page whose address has bit 8 clear
_PATTERN = tuple(0x5A5A0000 + 0x111 * i for i in range(13))  # r0..r12 during the probe
_UC_SCAN = 0x1000  # bytes of the engine's struct searched for the CPU pointer
_CPU_SCAN = 0x20000  # bytes of the CPU searched for the registers
_FAST_SCAN = 0x400  # bytes below the registers searched for the TLB descriptors


class TlbViewState(ctypes.Structure):
    """``struct tlb_view``."""

    _fields_ = [
        ("fast", ctypes.c_void_p),
        ("sp", ctypes.c_void_p),
        ("modes", ctypes.c_uint32),
        ("entry_bits", ctypes.c_uint32),
        ("page_bits", ctypes.c_uint32),
        ("wait", ctypes.c_uint32),
        ("mode", ctypes.c_uint32),
        ("sweeps", ctypes.c_uint64),
        ("fixed", ctypes.c_uint64),
    ]


class Layout(NamedTuple):
    """Where unicorn keeps what ``struct tlb_view`` points at (byte offsets)."""

    cpu: int  # of the CPU pointer in the engine's struct
    registers: int  # of the core registers (env->regs) in the CPU
    fast: int  # of the first fast TLB descriptor, from the registers (negative)
    modes: int
    entry_bits: int


class TlbView:
    """One machine's view of its CPU's TLB; ``tend`` and ``view`` are what a lane calls."""

    def __init__(self, lib: ctypes.CDLL, handle: int, layout: Layout) -> None:
        cpu = ctypes.c_uint64.from_address(handle + layout.cpu).value
        registers = cpu + layout.registers
        self.state = TlbViewState(fast=registers + layout.fast, sp=registers + 13 * 4,
                                  modes=layout.modes, entry_bits=layout.entry_bits,
                                  page_bits=PAGE_BITS)
        self._sweep = lib.tlb_sweep
        self._sweep.restype = ctypes.c_uint32
        self._sweep.argtypes = (ctypes.c_void_p,)
        self.tend = ctypes.cast(lib.tlb_tend, ctypes.c_void_p).value or 0
        self.view = ctypes.addressof(self.state)

    def sweep(self) -> int:
        """Sweep now (the entries fixed)."""
        return int(self._sweep(self.view))

    @property
    def fixed(self) -> int:
        return int(self.state.fixed)


_LAYOUTS: list[Layout | None] = []  # found once per process
# where unicorn 2.1.4 (the pinned version) keeps it: checked first (_holds), the probe when it
# does not hold
_KNOWN = Layout(cpu=0x1B8, registers=0xA2F0, fast=-0xD0, modes=12, entry_bits=6)


def attach(uc: unicorn.Uc, handle: int) -> TlbView | None:
    """A view of ``uc``'s TLB, or None (no native helper, or a TLB not found). Call it on a
    machine with 256-byte pages before it maps anything (the first call probes ``uc``)."""
    lib = native.load("pages_fast")
    if lib is None:
        return None
    lib.tlb_view_size.restype = ctypes.c_uint32
    if lib.tlb_view_size() != ctypes.sizeof(TlbViewState):
        return None
    uc.reg_read(arm_const.UC_ARM_REG_SP)  # unicorn makes its CPU at the first use
    spans = _Readable()
    if not _LAYOUTS:
        _LAYOUTS.append(_KNOWN if _holds(uc, handle, _KNOWN, spans) else _layout(uc, handle))
    layout = _LAYOUTS[0]
    if layout is None or not _holds(uc, handle, layout, spans):
        return None
    return TlbView(lib, handle, layout)


def _holds(uc: unicorn.Uc, handle: int, layout: Layout, spans: _Readable) -> bool:
    """Does ``uc`` keep its registers and TLB where the layout says: its SP read there, a
    descriptor for every mode there?"""
    if spans.bytes_at(handle + layout.cpu, 8) < 8:
        return False
    cpu = ctypes.c_uint64.from_address(handle + layout.cpu).value
    registers = cpu + layout.registers
    fast = registers + layout.fast
    size = 16 * layout.modes
    if not cpu or spans.bytes_at(registers + 13 * 4, 4) < 4 or spans.bytes_at(fast, size) < size:
        return False
    words = (ctypes.c_uint64 * (2 * layout.modes)).from_address(fast)
    return (ctypes.c_uint32.from_address(registers + 13 * 4).value
            == uc.reg_read(arm_const.UC_ARM_REG_SP)
            and all(_is_descriptor(spans, words[2 * m], words[2 * m + 1], layout.entry_bits)
                    for m in range(layout.modes)))


def _is_descriptor(spans: _Readable, mask: int, table: int, entry_bits: int) -> bool:
    """Could (mask, table) be a fast TLB descriptor: (2^k - 1) << entry_bits, a readable
    table of 2^k entries?"""
    entries = (mask >> entry_bits) + 1
    size = mask + (1 << entry_bits)
    return (mask != 0 and mask == (entries - 1) << entry_bits and not entries & (entries - 1)
            and spans.bytes_at(table, size) == size)


class _Readable:
    """The process's readable address ranges (``/proc/self/maps``; none elsewhere)."""

    _LINE = re.compile(rb"^([0-9a-f]+)-([0-9a-f]+) r", re.MULTILINE)

    def __init__(self) -> None:
        try:
            with open("/proc/self/maps", "rb") as fh:
                found = self._LINE.findall(fh.read())
        except OSError:
            found = []
        self._spans = sorted((int(lo, 16), int(hi, 16)) for lo, hi in found)
        self._starts = [lo for lo, _hi in self._spans]

    def bytes_at(self, address: int, wanted: int) -> int:
        """How many of ``wanted`` bytes from ``address`` can be read (0: none)."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i < 0:
            return 0
        lo, hi = self._spans[i]
        return min(wanted, hi - address) if lo <= address < hi else 0


def _layout(uc: unicorn.Uc, handle: int) -> Layout | None:
    with cortexm.probe_page(uc) as page:
        for i, value in enumerate(_PATTERN):
            uc.reg_write(arm_const.UC_ARM_REG_R0 + i, value)
        spans = _Readable()
        found = _find_registers(spans, handle)
        if found is None:
            return None
        cpu_offset, registers_offset = found
        # str r1, [r2] ; b .  with r2 on a page whose address has bit 8 clear
        uc.mem_write(page, b"\x11\x60\xfe\xe7")
        uc.reg_write(arm_const.UC_ARM_REG_R2, page + _PROBE_STORE)
        uc.emu_start(page | 1, page + 2)
        cpu = ctypes.c_uint64.from_address(handle + cpu_offset).value
        return _find_fast(spans, cpu + registers_offset, cpu_offset, registers_offset)


def _find_registers(spans: _Readable, handle: int) -> tuple[int, int] | None:
    """(offset of the CPU pointer in the engine's struct, of the registers in the CPU)."""
    pattern = b"".join(v.to_bytes(4, "little") for v in _PATTERN)
    if spans.bytes_at(handle, _UC_SCAN) < _UC_SCAN:
        return None
    words = (ctypes.c_uint64 * (_UC_SCAN // 8)).from_address(handle)
    for index, pointer in enumerate(words):
        n = spans.bytes_at(pointer, _CPU_SCAN) if pointer else 0
        if n < len(pattern):
            continue
        at = ctypes.string_at(pointer, n).find(pattern)
        if at >= 0 and at % 4 == 0:
            return index * 8, at
    return None


def _find_fast(spans: _Readable, registers: int, cpu_offset: int,
               registers_offset: int) -> Layout | None:
    """The fast TLB descriptors below the registers: the (mask, table) pair whose table names
    the probe's page with the not-dirty flag, and the valid pairs next to it (one per mode)."""
    low = registers - _FAST_SCAN
    if spans.bytes_at(low, _FAST_SCAN) < _FAST_SCAN:
        return None
    words = list((ctypes.c_uint64 * (_FAST_SCAN // 8)).from_address(low))

    def valid(at: int, bits: int) -> bool:
        return 0 <= at < len(words) - 1 and _is_descriptor(spans, words[at], words[at + 1], bits)

    store = cortexm.PROBE_PAGE + _PROBE_STORE
    page = store >> PAGE_BITS
    for bits in (5, 6, 7):
        for at in range(len(words) - 1):
            if not valid(at, bits):
                continue
            read, write = (ctypes.c_uint32 * 2).from_address(
                words[at + 1] + ((page << bits) & words[at]))
            if read != store or write != store | NOTDIRTY:
                continue
            first = at
            while valid(first - 2, bits):
                first -= 2
            last = at
            while valid(last + 2, bits):
                last += 2
            return Layout(cpu_offset, registers_offset, first * 8 - _FAST_SCAN,
                          (last - first) // 2 + 1, bits)
    return None
