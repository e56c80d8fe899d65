"""A GDB remote serial protocol server over a prepared virtual board (:mod:`extflash.xip`).

``gdb-multiarch`` (``target extended-remote :3333``) and VS Code Cortex-Debug (``servertype:
external``) connect to it: registers (the M-profile set: r0-r12, sp, lr, pc, xpsr, described
by ``qXfer:features:read``), memory and peripheral registers (``m``/``M``), software and
hardware breakpoints (``Z0``/``Z1``), single steps (``s``), continue (``c``) and Ctrl-C. What
the application writes through semihosting, ITM and USARTs is shown by the server and sent to
GDB as console output (``O`` packets). SYS_EXIT ends the session with ``W``.

Packets and replies follow the GDB manual, appendix E "GDB Remote Serial Protocol".
Breakpoints are unicorn code hooks on their address (no instruction is patched, so the window
stays a byte-exact copy of the chip); a step is a hook on every address, for one instruction.
"""

from __future__ import annotations

import logging
import select
import socket
import struct
from collections.abc import Callable

import unicorn

from extflash.emu.clock import FS_PER_S
from extflash.errors import InputError, TargetError
from extflash.xip import NEVER_REACHED, Prepared

log = logging.getLogger(__name__)

REGISTERS = (*(f"r{i}" for i in range(13)), "sp", "lr", "pc", "xpsr")
SIGTRAP, SIGINT, SIGSEGV = 5, 2, 11
SLICE_S = 0.01  # virtual seconds per run between looks at the connection (Ctrl-C)
CTRL_C = 0x03
TARGET_XML = (
    '<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">'
    '<target version="1.0"><architecture>arm</architecture>'
    '<feature name="org.gnu.gdb.arm.m-profile">'
    + "".join(f'<reg name="r{i}" bitsize="32"/>' for i in range(13))
    + '<reg name="sp" bitsize="32" type="data_ptr"/><reg name="lr" bitsize="32"/>'
    '<reg name="pc" bitsize="32" type="code_ptr"/><reg name="xpsr" bitsize="32"/>'
    "</feature></target>"
)


def _checksum(body: bytes) -> bytes:
    return b"%02x" % (sum(body) & 0xFF)


class DebugCore:
    """Breakpoints and steps on the prepared board's core."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.machine = prepared.machine
        self.breakpoints: dict[int, int] = {}  # address -> unicorn hook handle
        self._skip: int | None = None  # the breakpoint the core resumes from
        self._stepped = 0
        self.debug_stop = False

    @property
    def pc(self) -> int:
        return self.machine.reg_read("pc") & ~1

    def add_breakpoint(self, address: int) -> None:
        address &= ~1
        if address in self.breakpoints:
            return
        handle = self.machine.uc.hook_add(unicorn.UC_HOOK_CODE, self._on_breakpoint,
                                          begin=address, end=address)
        self.breakpoints[address] = handle
        self.machine.invalidate_code(address, address + 2)

    def remove_breakpoint(self, address: int) -> None:
        handle = self.breakpoints.pop(address & ~1, None)
        if handle is not None:
            self.machine.uc.hook_del(handle)
            self.machine.invalidate_code(address & ~1, (address & ~1) + 2)

    def _on_breakpoint(self, uc: unicorn.Uc, address: int, size: int, _ud: object) -> None:
        if address == self._skip:
            self._skip = None  # resuming from this breakpoint: run its instruction once
            return
        self.debug_stop = True
        self.machine.stop_for_debugger()

    def _on_step(self, uc: unicorn.Uc, address: int, size: int, _ud: object) -> None:
        self._stepped += 1
        if self._stepped > 1:
            self.debug_stop = True
            self.machine.stop_for_debugger()

    def resume(self, *, step: bool, interrupted: Callable[[], bool],
               flush_output: Callable[[], None]) -> str:
        """Run until a breakpoint, the step's end, a fault, the exit or Ctrl-C: the stop reply."""
        machine, semihosting = self.machine, self.prepared.semihosting
        pc = self.pc
        self._skip = pc if pc in self.breakpoints else None
        step_hook = None
        if step:
            self._stepped = 0
            step_hook = machine.uc.hook_add(unicorn.UC_HOOK_CODE, self._on_step, begin=1, end=0)
            machine.invalidate_code(0, 0xFFFFFFFF)
        try:
            while True:
                self.debug_stop = False
                result = machine.run(pc, stop_at=NEVER_REACHED,
                                     timeout_fs=int(SLICE_S * FS_PER_S))
                flush_output()
                pc = result.pc
                if result.reason == "timeout":
                    if interrupted():
                        return f"S{SIGINT:02x}"
                    continue
                if result.reason == "breakpoint" and self.debug_stop:
                    return f"S{SIGTRAP:02x}"
                if result.reason == "breakpoint" and semihosting.is_call(pc):
                    ended = semihosting.serve(pc)
                    flush_output()
                    if ended is not None:
                        return f"W{ended.status & 0xFF:02x}"
                    pc = self.pc
                    if step:
                        return f"S{SIGTRAP:02x}"  # the BKPT was the stepped instruction
                    continue
                if result.reason == "breakpoint":
                    return f"S{SIGTRAP:02x}"
                if result.fault is not None:
                    log.warning("fault: %s", result.fault)
                return f"S{SIGSEGV:02x}"
        finally:
            if step_hook is not None:
                machine.uc.hook_del(step_hook)
                machine.invalidate_code(0, 0xFFFFFFFF)


def open_listener(port: int = 3333, host: str = "127.0.0.1") -> socket.socket:
    """The listening socket (port 0: any free port); a clear error when it cannot be had, so
    callers open it before preparing (programming) anything."""
    if not 0 <= port <= 65535:
        raise InputError(f"--port {port} is not a TCP port (0..65535)")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise InputError(f"cannot serve GDB on {host}:{port}: {exc.strerror or exc}",
                         hint="choose another --port (or stop what listens there)") from None
    listener.listen(1)
    return listener


class GdbServer:
    """Serves one prepared board to a GDB client accepted on ``listener``."""

    def __init__(self, prepared: Prepared, listener: socket.socket) -> None:
        self.core = DebugCore(prepared)
        self.prepared = prepared
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._conn: socket.socket | None = None
        self._ack = True
        self._rx = bytearray()
        self._sent_output = 0
        self.exit_status: int | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._listener.close()

    # -- transport ---------------------------------------------------------------------------
    def _send(self, body: str | bytes) -> None:
        data = body.encode("latin-1") if isinstance(body, str) else body
        assert self._conn is not None
        self._conn.sendall(b"$" + data + b"#" + _checksum(data))
        log.debug("gdb <- %r", data[:80])

    def _fill(self) -> bool:
        assert self._conn is not None
        chunk = self._conn.recv(4096)
        if not chunk:
            return False
        self._rx += chunk
        return True

    def _packet(self) -> bytes | None:
        """The next packet's body (acknowledged); None when the client went away."""
        while True:
            while self._rx and self._rx[0] != ord("$"):
                if self._rx[0] == CTRL_C:
                    del self._rx[0]
                    return b"\x03"
                del self._rx[0]  # '+' / '-' acks and noise
            end = self._rx.find(b"#")
            if self._rx and end >= 0 and len(self._rx) >= end + 3:
                body = bytes(self._rx[1:end])
                del self._rx[:end + 3]
                if self._ack:
                    assert self._conn is not None
                    self._conn.sendall(b"+")
                log.debug("gdb -> %r", body[:80])
                return body
            if not self._fill():
                return None

    def _interrupted(self) -> bool:
        assert self._conn is not None
        ready, _, _ = select.select([self._conn], [], [], 0)
        if ready and not self._fill():
            return True  # the client went away: stop running
        if CTRL_C in self._rx:
            self._rx.remove(CTRL_C)
            return True
        return False

    def _flush_output(self) -> None:
        """Send what the application wrote since the last look as console output."""
        collected = self.prepared.output.collected
        text = "".join(t for _s, t in collected[self._sent_output:])
        self._sent_output = len(collected)
        if text and self._conn is not None:
            self._send("O" + text.encode("utf-8").hex())

    # -- session -----------------------------------------------------------------------------
    def serve(self) -> int | None:
        """Accept one client and serve it until it detaches, kills, or the application exits.
        The application's exit status, if it exited."""
        self._conn, _ = self._listener.accept()
        self._conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                body = self._packet()
                if body is None:
                    break
                if body == b"QStartNoAckMode":
                    self._send("OK")
                    self._ack = False  # GDB stops acknowledging after this reply
                    continue
                reply = self._handle(body)
                if reply is None:
                    break
                self._send(reply)
                if reply.startswith("W"):
                    break
        finally:
            self._conn.close()
            self._conn = None
        return self.exit_status

    def _handle(self, body: bytes) -> str | None:
        text = body.decode("latin-1")
        core, machine = self.core, self.prepared.machine
        if text == "\x03":
            return f"S{SIGINT:02x}"
        if text.startswith("qSupported"):
            return "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+"
        if text.startswith("qXfer:features:read:target.xml:"):
            offset, length = (int(v, 16) for v in text.rsplit(":", 1)[1].split(","))
            chunk = TARGET_XML[offset:offset + length]
            return ("m" if offset + length < len(TARGET_XML) else "l") + chunk
        if text == "?":
            return f"S{SIGTRAP:02x}"
        if text == "qAttached":
            return "1"
        if text in ("qC", "qfThreadInfo", "qsThreadInfo", "qOffsets", "qTStatus"):
            return {"qfThreadInfo": "m1", "qsThreadInfo": "l", "qC": "QC1"}.get(text, "")
        if text.startswith("H") or text == "!":
            return "OK"
        if text.startswith("T"):
            return "OK"
        if text == "g":
            return "".join(struct.pack("<I", machine.reg_read(r) & 0xFFFFFFFF).hex()
                           for r in REGISTERS)
        if text.startswith("G"):
            data = bytes.fromhex(text[1:])
            for i, name in enumerate(REGISTERS):
                if 4 * i + 4 <= len(data):
                    machine.reg_write(name, struct.unpack_from("<I", data, 4 * i)[0])
            return "OK"
        if text.startswith("p"):
            n = int(text[1:], 16)
            if n >= len(REGISTERS):
                return "E01"
            return struct.pack("<I", machine.reg_read(REGISTERS[n]) & 0xFFFFFFFF).hex()
        if text.startswith("P"):
            n_text, value = text[1:].split("=")
            n = int(n_text, 16)
            if n >= len(REGISTERS):
                return "E01"
            machine.reg_write(REGISTERS[n], struct.unpack("<I", bytes.fromhex(value))[0])
            return "OK"
        if text.startswith("m"):
            address, length = (int(v, 16) for v in text[1:].split(","))
            try:
                return machine.mem_read(address, length).hex()
            except (TargetError, ValueError):
                return "E01"
        if text.startswith("M"):
            where, hex_data = text[1:].split(":")
            address = int(where.split(",")[0], 16)
            try:
                machine.mem_write(address, bytes.fromhex(hex_data))
            except (TargetError, ValueError):
                return "E01"
            machine.invalidate_code(address, address + len(hex_data) // 2)
            return "OK"
        if text[:2] in ("Z0", "Z1", "z0", "z1"):
            address = int(text[3:].split(",")[0], 16)
            if text[0] == "Z":
                core.add_breakpoint(address)
            else:
                core.remove_breakpoint(address)
            return "OK"
        if text[:1] in ("c", "s") and all(ch in "0123456789abcdefABCDEF" for ch in text[1:]):
            if len(text) > 1:
                machine.reg_write("pc", int(text[1:], 16) | 1)
            reply = core.resume(step=text[0] == "s", interrupted=self._interrupted,
                                flush_output=self._flush_output)
            if reply.startswith("W"):
                self.exit_status = int(reply[1:], 16)
            return reply
        if text in ("k", "D") or text.startswith("D;"):
            if text != "k":
                self._send("OK")
            return None
        return ""  # not supported: GDB falls back or does without
