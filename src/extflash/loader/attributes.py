"""The ``aeabi`` build attributes of ``.ARM.attributes`` (ARM IHI 0045, "Addenda to the ABI").

Only the file-scope attributes are read; a malformed section yields what was decoded so far
(attributes are evidence, never a reason to refuse a loader).
"""

from __future__ import annotations

from dataclasses import dataclass

TAG_FILE = 1
TAG_CPU_ARCH = 6
TAG_FP_ARCH = 10
TAG_ABI_PCS_R9_USE = 14
TAG_ABI_PCS_RW_DATA = 15
TAG_ABI_HARDFP_USE = 27
TAG_ABI_VFP_ARGS = 28
_STRING_TAGS = {4, 5, 67, 65}

CPU_ARCH_NAMES = {
    10: "ARMv7", 11: "ARMv6-M", 12: "ARMv6S-M", 13: "ARMv7E-M", 16: "ARMv8-M.baseline",
    17: "ARMv8-M.mainline", 21: "ARMv8.1-M.mainline",
}
V6M_ARCHS = {11, 12}


@dataclass(frozen=True)
class BuildAttributes:
    """The ARM build attributes (.ARM.attributes) of a loader."""

    values: tuple[tuple[int, int | str], ...] = ()

    def get(self, tag: int) -> int | str | None:
        return next((v for t, v in self.values if t == tag), None)

    def _int(self, tag: int) -> int | None:
        value = self.get(tag)
        return value if isinstance(value, int) else None

    @property
    def cpu_arch(self) -> str | None:
        arch = self._int(TAG_CPU_ARCH)
        return None if arch is None else CPU_ARCH_NAMES.get(arch, f"arch {arch}")

    @property
    def v6m_only(self) -> bool:
        return self._int(TAG_CPU_ARCH) in V6M_ARCHS

    @property
    def vfp_args(self) -> bool:
        """Tag_ABI_VFP_args = 1: floating-point arguments passed in VFP registers (hard-float)."""
        return self._int(TAG_ABI_VFP_ARGS) == 1

    @property
    def fp_arch(self) -> int:
        return self._int(TAG_FP_ARCH) or 0

    @property
    def rw_data_sb_relative(self) -> bool:
        """Tag_ABI_PCS_RW_data = 2: read-write data addressed relative to the static base (R9)."""
        return self._int(TAG_ABI_PCS_RW_DATA) == 2

    def as_dict(self) -> dict[str, int | str]:
        return {str(t): v for t, v in self.values}


def _uleb(blob: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(blob) and shift < 64:
        byte = blob[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            return value, pos
    raise ValueError("truncated ULEB128")


def _ntbs(blob: bytes, pos: int) -> tuple[str, int]:
    end = blob.find(b"\0", pos)
    if end < 0:
        raise ValueError("unterminated string")
    return blob[pos:end].decode("utf-8", errors="replace"), end + 1


def parse_attributes(blob: bytes) -> BuildAttributes:
    values: list[tuple[int, int | str]] = []
    if not blob.startswith(b"A"):
        return BuildAttributes()
    pos = 1
    try:
        while pos + 4 <= len(blob):
            length = int.from_bytes(blob[pos : pos + 4], "little")
            end = min(pos + max(length, 4), len(blob))
            vendor, sub = _ntbs(blob, pos + 4)
            if vendor == "aeabi":
                _parse_subsections(blob[:end], sub, values)
            pos = end if length >= 4 else len(blob)
    except ValueError:
        pass
    return BuildAttributes(tuple(values))


def _parse_subsections(blob: bytes, pos: int, values: list[tuple[int, int | str]]) -> None:
    while pos + 5 <= len(blob):
        tag, body = _uleb(blob, pos)
        size = int.from_bytes(blob[body : body + 4], "little")
        end = min(pos + max(size, 5), len(blob))
        if tag == TAG_FILE:
            _parse_attrs(blob[:end], body + 4, values)
        pos = end


def _parse_attrs(blob: bytes, pos: int, values: list[tuple[int, int | str]]) -> None:
    while pos < len(blob):
        tag, pos = _uleb(blob, pos)
        value: int | str
        if tag == 32:  # Tag_compatibility: ULEB flag then a string
            _flag, pos = _uleb(blob, pos)
            value, pos = _ntbs(blob, pos)
        elif tag in _STRING_TAGS or (tag > 32 and tag % 2):
            value, pos = _ntbs(blob, pos)
        else:
            value, pos = _uleb(blob, pos)
        values.append((tag, value))
