"""Semihosting: the calls an application makes with ``BKPT 0xAB`` (operation in r0, parameter
block address in r1, result in r0), from Arm's "Semihosting for AArch32 and AArch64" (v2).

Served: console output (SYS_WRITEC 0x03, SYS_WRITE0 0x04, SYS_WRITE 0x05 on the handles
SYS_OPEN gives ``:tt``), the queries newlib's start-up makes (SYS_OPEN, SYS_CLOSE, SYS_ISTTY,
SYS_FLEN, SYS_ERRNO, SYS_HEAPINFO, SYS_GET_CMDLINE, SYS_CLOCK, SYS_TIME, SYS_ISERROR) and the
end of the run (SYS_EXIT 0x18, SYS_EXIT_EXTENDED 0x20). Host files are never opened: the
application gets -1 for any name but ``:tt``. An unknown operation returns -1 and is logged.

The core stops on the BKPT (the machine's "breakpoint" end); :meth:`Semihosting.serve` does the
call, writes r0 and moves the PC past the instruction, so the run resumes.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

from extflash.emu.machine import Machine
from extflash.errors import TargetError

log = logging.getLogger(__name__)

BKPT_SEMIHOSTING = 0xBEAB  # Thumb BKPT #0xAB
SYS_OPEN, SYS_CLOSE, SYS_WRITEC, SYS_WRITE0, SYS_WRITE = 0x01, 0x02, 0x03, 0x04, 0x05
SYS_ISERROR, SYS_ISTTY, SYS_FLEN = 0x08, 0x09, 0x0C
SYS_CLOCK, SYS_TIME, SYS_ERRNO, SYS_GET_CMDLINE, SYS_HEAPINFO = 0x10, 0x11, 0x13, 0x15, 0x16
SYS_EXIT, SYS_EXIT_EXTENDED = 0x18, 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026
STDOUT_HANDLE, STDERR_HANDLE = 1, 2
MAX_STRING = 4096  # a SYS_WRITE0 string without its NUL within this is cut (and logged)


@dataclass(frozen=True)
class Exit:
    """The application ended: ``status`` is its exit code (0 for ADP_Stopped_ApplicationExit)."""

    status: int
    reason: int


class Semihosting:
    """Serves the semihosting calls of one machine; text goes to ``on_output(text)``."""

    def __init__(self, machine: Machine, on_output: Callable[[str], None]) -> None:
        self.machine = machine
        self.on_output = on_output
        self.calls = 0

    def is_call(self, pc: int) -> bool:
        try:
            return self.machine.mem_read(pc & ~1, 2) == struct.pack("<H", BKPT_SEMIHOSTING)
        except TargetError:
            return False

    def serve(self, pc: int) -> Exit | None:
        """Do the call at ``pc`` (a BKPT 0xAB); its :class:`Exit` when the application ended."""
        m = self.machine
        op, arg = m.reg_read("r0"), m.reg_read("r1")
        self.calls += 1
        if op in (SYS_EXIT, SYS_EXIT_EXTENDED):
            try:
                return self._exit(op, arg)
            except TargetError as exc:  # the parameter block points at nothing
                log.warning("semihosting: exit at 0x%08X: %s", pc, exc)
                return Exit(1, 0)
        try:
            result = self._call(op, arg)
        except TargetError as exc:  # a parameter pointing at nothing: the call fails
            log.warning("semihosting: operation 0x%02X at 0x%08X: %s", op, pc, exc)
            result = -1
        m.reg_write("r0", result & 0xFFFFFFFF)
        m.reg_write("pc", (pc & ~1) + 2 | 1)
        return None

    def _words(self, address: int, count: int) -> tuple[int, ...]:
        return struct.unpack(f"<{count}I", self.machine.mem_read(address, 4 * count))

    def _string(self, address: int, length: int | None = None) -> bytes:
        if length is not None:
            return self.machine.mem_read(address, length)
        out = bytearray()
        while len(out) < MAX_STRING:
            at = address + len(out)
            chunk = self.machine.mem_read(at, 64 - at % 64)  # never past the next 64-byte line
            end = chunk.find(0)
            if end >= 0:
                return bytes(out + chunk[:end])
            out += chunk
        log.warning("semihosting: a string at 0x%08X has no end within %d bytes", address,
                    MAX_STRING)
        return bytes(out)

    def _emit(self, data: bytes) -> None:
        self.on_output(data.decode("utf-8", "replace"))

    def _call(self, op: int, arg: int) -> int:
        if op == SYS_WRITEC:
            self._emit(self._string(arg, 1))
            return 0
        if op == SYS_WRITE0:
            self._emit(self._string(arg))
            return 0
        if op == SYS_WRITE:
            handle, buffer, length = self._words(arg, 3)
            if handle not in (STDOUT_HANDLE, STDERR_HANDLE):
                return length  # nothing written
            self._emit(self._string(buffer, length))
            return 0
        if op == SYS_OPEN:
            name_at, mode, length = self._words(arg, 3)
            if self._string(name_at, length) == b":tt":
                return STDERR_HANDLE if mode >= 8 else STDOUT_HANDLE  # modes "a".. are stderr
            return -1
        if op == SYS_ISTTY:
            return 1 if self._words(arg, 1)[0] in (STDOUT_HANDLE, STDERR_HANDLE) else 0
        if op in (SYS_CLOSE, SYS_ERRNO, SYS_ISERROR):
            return 0
        if op == SYS_FLEN:
            return 0
        if op == SYS_CLOCK:
            return self.machine.clock.now_fs // 10**13  # centiseconds of virtual time
        if op == SYS_TIME:
            return 0
        if op == SYS_GET_CMDLINE:
            buffer, size = self._words(arg, 2)
            if size:
                self.machine.mem_write(buffer, b"\0")
                self.machine.mem_write(arg + 4, struct.pack("<I", 0))
            return 0
        if op == SYS_HEAPINFO:
            self.machine.mem_write(self._words(arg, 1)[0], bytes(16))  # "no heap information"
            return 0
        log.warning("semihosting: operation 0x%02X is not served (returned -1)", op)
        return -1

    def _exit(self, op: int, arg: int) -> Exit:
        if op == SYS_EXIT_EXTENDED:
            reason, subcode = self._words(arg, 2)
        else:
            # AArch32 SYS_EXIT passes the reason itself in r1, no status: ApplicationExit is 0,
            # any other reason a failure (1).
            reason, subcode = arg, 0
        if reason != ADP_STOPPED_APPLICATION_EXIT:
            return Exit(1, reason)
        return Exit(subcode & 0xFF if op == SYS_EXIT_EXTENDED else 0, reason)
