"""Application images: ELF, Intel HEX, Motorola S-record and raw binary.

An :class:`Image` is a sorted list of non-overlapping :class:`Chunk`s (address + bytes). Readers
check what they read (record checksums, ELF structure, overlaps) and report problems with the
file name and the record/line/segment where they are, as :class:`ImageError`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from extflash.errors import ImageError

log = logging.getLogger(__name__)

FORMATS = ("elf", "hex", "srec", "bin")
MAX_IMAGE_BYTES = 1 << 32


@dataclass(frozen=True)
class Chunk:
    """Bytes at an address, with where they came from."""

    address: int
    data: bytes
    origin: str = ""  # where it came from, for messages: "segment 1", "line 12"

    @property
    def end(self) -> int:
        return self.address + len(self.data)


@dataclass(frozen=True)
class Image:
    """An image to program: its chunks, where it was read from and its format."""

    chunks: tuple[Chunk, ...]
    source: str = ""
    format: str = ""

    @property
    def size(self) -> int:
        return sum(len(c.data) for c in self.chunks)

    @property
    def start(self) -> int:
        return self.chunks[0].address if self.chunks else 0

    @property
    def end(self) -> int:
        return self.chunks[-1].end if self.chunks else 0

    def split(self, start: int, end: int) -> tuple[Image, Image]:
        """(the part inside [start, end), the rest) — chunks are cut at the boundaries."""
        inside: list[Chunk] = []
        outside: list[Chunk] = []
        for c in self.chunks:
            lo, hi = max(c.address, start), min(c.end, end)
            if lo >= hi:
                outside.append(c)
                continue
            inside.append(Chunk(lo, c.data[lo - c.address : hi - c.address], c.origin))
            if c.address < lo:
                outside.append(Chunk(c.address, c.data[: lo - c.address], c.origin))
            if hi < c.end:
                outside.append(Chunk(hi, c.data[hi - c.address :], c.origin))
        return (
            Image(tuple(inside), self.source, self.format),
            Image(tuple(sorted(outside, key=lambda c: c.address)), self.source, self.format),
        )

    def bytes_at(self, address: int, size: int, fill: int) -> bytes:
        """The image's bytes over [address, address+size), ``fill`` where it has none."""
        return bytes(self.filled(address, size, fill))

    def filled(self, address: int, size: int, fill: int) -> bytearray:
        """:meth:`bytes_at` as a new bytearray (one copy of the image's bytes, not two)."""
        out = bytearray([fill]) * size
        for c in self.chunks:
            lo, hi = max(c.address, address), min(c.end, address + size)
            if lo < hi:
                data = memoryview(c.data)
                out[lo - address : hi - address] = data[lo - c.address : hi - c.address]
        return out

    def view(self, address: int, size: int) -> memoryview | None:
        """The image's bytes over [address, address+size) without a copy, when one chunk holds
        all of them (a binary image's sectors), else None."""
        for c in self.chunks:
            if c.address <= address and address + size <= c.end:
                return memoryview(c.data)[address - c.address : address - c.address + size]
        return None

    def covered(self, address: int, size: int) -> list[tuple[int, int]]:
        """The [start, end) ranges inside [address, address+size) that the image provides."""
        ranges = []
        for c in self.chunks:
            lo, hi = max(c.address, address), min(c.end, address + size)
            if lo < hi:
                ranges.append((lo, hi))
        return ranges


def from_chunks(chunks: Iterable[Chunk], *, source: str = "", fmt: str = "") -> Image:
    """Sort, merge touching chunks and reject overlaps (naming both origins)."""
    ordered = sorted((c for c in chunks if c.data), key=lambda c: c.address)
    merged: list[Chunk] = []
    for c in ordered:
        if c.address < 0 or c.end > MAX_IMAGE_BYTES:
            raise ImageError(f"{source}: {c.origin} lies outside the 32-bit address space")
        if merged and c.address < merged[-1].end:
            prev = merged[-1]
            raise ImageError(
                f"{source}: {c.origin} at 0x{c.address:08X}..0x{c.end - 1:08X} overlaps "
                f"{prev.origin} at 0x{prev.address:08X}..0x{prev.end - 1:08X}"
            )
        if merged and c.address == merged[-1].end:
            prev = merged.pop()
            merged.append(Chunk(prev.address, prev.data + c.data, prev.origin))
        else:
            merged.append(c)
    return Image(tuple(merged), source, fmt)


def detect_format(path: Path, head: bytes) -> str:
    if head.startswith(b"\x7fELF"):
        return "elf"
    text = head.lstrip()
    if text.startswith(b":"):
        return "hex"
    if text[:1] == b"S" and text[1:2].isdigit():
        return "srec"
    suffix = path.suffix.lower()
    if suffix in (".hex", ".ihex"):
        return "hex"
    if suffix in (".srec", ".s19", ".s28", ".s37", ".mot"):
        return "srec"
    return "bin"


def load(path: str | Path, *, address: int | None = None, fmt: str | None = None,
         data: bytes | None = None) -> Image:
    """Read an image file. Raw binaries need ``address``; other formats carry their addresses.
    ``data``: the file's bytes, read already."""
    p = Path(path)
    if data is None:
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read image {p}: {exc.strerror or exc}") from None
    fmt = fmt or detect_format(p, data[:64])
    if fmt not in FORMATS:
        raise ImageError(f"unknown image format '{fmt}' (known: {', '.join(FORMATS)})")
    if fmt == "bin":
        if address is None:
            raise ImageError(f"{p} is a raw binary: give the address to program it at (--address)")
        return from_chunks([Chunk(address, data, "binary")], source=str(p), fmt="bin")
    if address is not None:
        raise ImageError(f"{p} is {fmt.upper()} and carries its own addresses; drop --address")
    reader = {"elf": _read_elf, "hex": _read_ihex, "srec": _read_srec}[fmt]
    return from_chunks(reader(data, str(p)), source=str(p), fmt=fmt)


def _read_elf(data: bytes, name: str) -> list[Chunk]:
    """PT_LOAD segments with file bytes, at their load (physical) address."""
    # pyelftools is imported here, when an ELF image is read: it is a tenth of the command
    # line's start-up, which reading or programming .bin/.hex images does not need
    from elftools.common.exceptions import ELFError
    from elftools.elf.constants import P_FLAGS
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        if elf.header["e_machine"] != "EM_ARM":
            raise ImageError(f"{name}: ELF for {elf.header['e_machine']}, not ARM")
        chunks = []
        for index, seg in enumerate(elf.iter_segments()):
            if seg["p_type"] != "PT_LOAD" or seg["p_filesz"] == 0:
                continue
            off, size = seg["p_offset"], seg["p_filesz"]
            if off + size > len(data):
                raise ImageError(f"{name}: segment {index} extends past the end of the file")
            flags = seg["p_flags"]
            kind = "code" if flags & P_FLAGS.PF_X else "data"
            chunks.append(
                Chunk(seg["p_paddr"], data[off : off + size], f"segment {index} ({kind})")
            )
        return chunks
    except ImageError:
        raise
    except (ELFError, ValueError, KeyError, IndexError, AssertionError, UnicodeDecodeError) as exc:
        raise ImageError(f"{name}: not a valid ELF image ({exc})") from None
    except Exception as exc:  # pyelftools raises struct.error and others on corrupt files
        raise ImageError(f"{name}: not a valid ELF image ({type(exc).__name__}: {exc})") from None


def _text_lines(data: bytes, name: str) -> Sequence[str]:
    try:
        return data.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise ImageError(f"{name}: contains non-ASCII bytes, not a text image") from None


def _hex_bytes(text: str, name: str, lineno: int) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ImageError(f"{name}:{lineno}: bad hexadecimal digits") from None


def _read_ihex(data: bytes, name: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    base = 0
    seen_eof = False
    for lineno, raw in enumerate(_text_lines(data, name), 1):
        line = raw.strip()
        if not line:
            continue
        if seen_eof:
            raise ImageError(f"{name}:{lineno}: data after the end-of-file record")
        if not line.startswith(":"):
            raise ImageError(f"{name}:{lineno}: Intel HEX line does not start with ':'")
        rec = _hex_bytes(line[1:], name, lineno)
        if len(rec) < 5 or len(rec) != rec[0] + 5:
            raise ImageError(f"{name}:{lineno}: record length does not match its byte count")
        if sum(rec) & 0xFF:
            raise ImageError(f"{name}:{lineno}: record checksum mismatch")
        count, offset, rtype, payload = rec[0], (rec[1] << 8) | rec[2], rec[3], rec[4 : 4 + rec[0]]
        if rtype == 0x00:
            chunks.append(Chunk(base + offset, bytes(payload), f"line {lineno}"))
        elif rtype == 0x01:
            seen_eof = True
        elif rtype == 0x02 and count == 2:
            base = ((payload[0] << 8) | payload[1]) << 4
        elif rtype == 0x04 and count == 2:
            base = ((payload[0] << 8) | payload[1]) << 16
        elif rtype in (0x03, 0x05):
            continue  # start address records: not programmed
        else:
            raise ImageError(f"{name}:{lineno}: unknown or malformed record type 0x{rtype:02X}")
    if not seen_eof:
        raise ImageError(f"{name}: no end-of-file record (truncated Intel HEX?)")
    return chunks


_SREC_ADDR_BYTES = {"1": 2, "2": 3, "3": 4}


def _read_srec(data: bytes, name: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    for lineno, raw in enumerate(_text_lines(data, name), 1):
        line = raw.strip()
        if not line:
            continue
        if len(line) < 4 or line[0] != "S":
            raise ImageError(f"{name}:{lineno}: S-record line does not start with 'S'")
        rtype = line[1]
        rec = _hex_bytes(line[2:], name, lineno)
        if not rec or len(rec) != rec[0] + 1:
            raise ImageError(f"{name}:{lineno}: record length does not match its byte count")
        if (sum(rec) & 0xFF) != 0xFF:
            raise ImageError(f"{name}:{lineno}: record checksum mismatch")
        if rtype in _SREC_ADDR_BYTES:
            n = _SREC_ADDR_BYTES[rtype]
            address = int.from_bytes(rec[1 : 1 + n], "big")
            chunks.append(Chunk(address, bytes(rec[1 + n : -1]), f"line {lineno}"))
        elif rtype in "0456789":
            continue  # header, counts and start addresses
        else:
            raise ImageError(f"{name}:{lineno}: unknown S-record type S{rtype}")
    return chunks
