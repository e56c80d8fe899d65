"""Frames the native command lane may run in an octal state, learned from the Python model.

The lane (``native/quadspi_fast.c``) decodes SPI and QPI frames from the command fields
itself. Octal frames (8 lines, DTR phases, a 2-byte instruction, register reads with an
address and latency) it does not decode: the chip's octal model does (``flash/octal.py``). So
the model teaches the lane the everyday ones. When Python runs a frame the chip takes for a
write enable, a write disable (the latch cleared), a reset enable (the reset armed; the reset
itself stays the model's, as does every frame that changes the chip's mode), a frame a chip in
SPI or QPI refuses whatever its state (its instruction not sampled as an opcode on its lines:
the octal reset pair a loader sends to find the chip's mode; the context is then the chip's
instruction lines, and the model's reason is found again when the log is read), a status read that
returned status register 1 in every byte for two different
SR1 values, a page program whose page came out as the lane would program it (with the
byte-pair swaps the controller and the chip made), or a sector/block erase that erased the
aligned range around its address and left the chip busy, the frame's registers (to the bit) and its
bus time are kept for the chip's mode and the controller's clock (the context), and published
to the lane with the chip's facts. The lane then runs the same registers again as the model
did: the same latch, the same polls, the same array, the same bus and erase time. Another mode,
clock or register value is another frame, which Python runs.
"""

from __future__ import annotations

from collections.abc import Hashable

from extflash.emu.flash.octal import swap_pairs
from extflash.emu.native.quadspi_fast import (
    FRAME_ERASE,
    FRAME_POLL,
    FRAME_PROGRAM,
    SWAP_ARRAY,
    SWAP_BUS,
    LaneFrame,
)

# the frame's registers as the lane compares them: (CCR, TCR, IR, DCR, DLR, AR)
Registers = tuple[int, int, int, int, int, int]
SEEN_VALUES = 2  # distinct SR1 values a status frame must have returned as SR1 before


class LearnedFrames:
    """The frames one controller's model proved, per context."""

    def __init__(self) -> None:
        self._frames: dict[Hashable, dict[tuple[int, Registers], LaneFrame]] = {}
        self._published: dict[Hashable, tuple[LaneFrame, ...]] = {}
        # status frames on probation: the SR1 values they returned as SR1 (None: one did not)
        self._seen: dict[tuple[Hashable, Registers], set[int] | None] = {}

    def frames(self, context: Hashable) -> tuple[LaneFrame, ...]:
        """What the lane may run in ``context`` (the same tuple until a frame is learned):
        write enables and status reads first, then programs, the longest first (the lane
        holds MAX_FRAMES; partial pages at the edges of an image each have their own length)."""
        found = self._published.get(context)
        if found is None:
            found = self._published[context] = tuple(sorted(
                self._frames.get(context, {}).values(),
                key=lambda f: (f.kind == FRAME_PROGRAM, -f.dlr)))
        return found

    def knows(self, context: Hashable, kind: int, registers: Registers) -> bool:
        """Is the frame with these registers (AR aside, as the lane matches a program) learned?"""
        return (kind, registers) in self._frames.get(context, {})

    def instruction(self, context: Hashable, kind: int, registers: Registers,
                    bus_fs: int) -> None:
        """The chip took the frame, an instruction alone, for a write enable (FRAME_WREN: its
        latch set), a write disable (FRAME_WRDI: cleared) or a reset enable (FRAME_RSTEN: its
        reset armed), or refused it in its mode whatever its state (FRAME_REFUSED); ``bus_fs``:
        the command's bus time."""
        ccr, tcr, ir, dcr, _dlr, _ar = registers
        self._learn(context, LaneFrame(kind, ccr, tcr, ir, dcr, 0, 0, 0, bus_fs))

    def status_read(self, context: Hashable, registers: Registers, bus_fs: int,
                    returned: bytes, sr1: int) -> None:
        """A status poll of this frame returned ``returned`` while SR1 was ``sr1``;
        ``bus_fs``: one status read's bus time."""
        key = (context, registers)
        seen = self._seen.get(key, set())
        if seen is None:
            return
        if returned != bytes([sr1]) * len(returned):
            self._seen[key] = None  # not SR1 repeated (a latency off, no strobe): never
            if self._frames.get(context, {}).pop((FRAME_POLL, registers), None) is not None:
                self._published.pop(context, None)
            return
        seen.add(sr1)
        self._seen[key] = seen
        if len(seen) >= SEEN_VALUES:
            self._learn(context, LaneFrame(FRAME_POLL, *registers, 0, bus_fs))

    def page_program(self, context: Hashable, registers: Registers, swaps: int,
                     bus_fs: int) -> None:
        """The chip programmed the frame's DLR + 1 bytes into its page as the lane does, with
        the byte-pair ``swaps`` (SWAP_BUS, SWAP_ARRAY) the model made; ``bus_fs``: the
        command's bus time."""
        ccr, tcr, ir, dcr, dlr, _ar = registers
        self._learn(context, LaneFrame(FRAME_PROGRAM, ccr, tcr, ir, dcr, dlr, 0, swaps, bus_fs))

    def erase(self, context: Hashable, registers: Registers, size: int, erase_fs: int,
              bus_fs: int) -> None:
        """The chip took the frame for an erase of the ``size`` bytes around its address and
        is busy for ``erase_fs``; ``bus_fs``: the command's bus time."""
        ccr, tcr, ir, dcr, _dlr, _ar = registers
        self._learn(context, LaneFrame(FRAME_ERASE, ccr, tcr, ir, dcr, 0, 0, 0, bus_fs, size,
                                       erase_fs))

    def _learn(self, context: Hashable, frame: LaneFrame) -> None:
        frames = self._frames.setdefault(context, {})
        key = (frame.kind, frame[1:7])
        if frames.get(key) != frame:
            frames[key] = frame
            self._published.pop(context, None)


def program_swaps(data: bytes, bus: bytes, before: bytes, offset: int, after: bytes
                  ) -> int | None:
    """The byte-pair swaps (SWAP_BUS, SWAP_ARRAY) with which a page program of ``data`` (as
    software wrote it; ``bus``: as it crossed the bus) at ``offset`` turned the page ``before``
    into ``after`` as the lane programs a page (ANDed in, wrapping within the page); None when
    it did not, or when the data cannot show the swaps (its pairs hold equal bytes)."""
    if swap_pairs(data) == data:
        return None
    swaps = 0
    if bus != data:
        if bus != swap_pairs(data):
            return None
        swaps |= SWAP_BUS

    def programmed(array_data: bytes) -> bytes:
        out = bytearray(before)
        for i, byte in enumerate(array_data):
            out[(offset + i) % len(out)] &= byte
        return bytes(out)

    if after == programmed(bus):
        return swaps
    if after == programmed(swap_pairs(bus)):
        return swaps | SWAP_ARRAY
    return None
