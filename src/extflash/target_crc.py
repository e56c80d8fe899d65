"""The on-target CRC-32 routine: built from ``firmware/crc32.c`` with the Arm toolchain at first
use and cached, so skip-unchanged and checksums never depend on the loader's additive CheckSum.

The routine is position independent (it takes its nibble table as an argument), so the host can
place it anywhere in RAM next to the loader.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from extflash import cache
from extflash.errors import ToolchainError

POLY = 0xEDB88320
SYMBOL = "extflash_crc32"


def nibble_table() -> bytes:
    """The 16-entry table the routine expects (little-endian words)."""
    words = []
    for n in range(16):
        c = n
        for _ in range(4):
            c = (c >> 1) ^ POLY if c & 1 else c >> 1
        words.append(c.to_bytes(4, "little"))
    return b"".join(words)


@functools.cache
def routine() -> bytes:
    """Thumb machine code of ``extflash_crc32`` (ARMv6-M, runs on every Cortex-M)."""
    # imported here: a command imports this module for every loader call, and only the first
    # checksum of a process builds or reads the routine (subprocess and tempfile)
    import subprocess
    import tempfile

    from extflash.toolchain import find_toolchain

    source = (resources.files("extflash") / "firmware" / "crc32.c").read_text(encoding="utf-8")
    toolchain = find_toolchain()
    key = cache.digest((source + toolchain.version).encode(), 8)
    cached = cache.root() / f"crc32-{key}.bin"
    if cached.exists():
        return cached.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "crc32.c"
        src.write_text(source, encoding="utf-8")
        obj = Path(tmp) / "crc32.o"
        toolchain.run(
            [
                "-mcpu=cortex-m0plus",
                "-mthumb",
                "-Os",
                "-ffreestanding",
                "-fno-pic",
                "-fno-function-sections",
                "-c",
                src,
                "-o",
                obj,
            ],
            what="the CRC-32 routine",
        )
        binary = Path(tmp) / "crc32.bin"
        objcopy = toolchain.tool("objcopy")
        proc = subprocess.run(
            [str(objcopy), "-O", "binary", "-j", ".text", str(obj), str(binary)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ToolchainError(f"extracting the CRC-32 routine failed: {proc.stderr.strip()}")
        code = binary.read_bytes()
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = cached.with_suffix(".tmp")
    tmp_path.write_bytes(code)
    tmp_path.replace(cached)
    return code
