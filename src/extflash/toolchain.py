"""Finding and driving the Arm GNU toolchain (``arm-none-eabi-gcc``) that builds loaders.

extflash compiles its own loaders (examples, generated loaders, the on-target CRC routine and
the test suite's firmware) from C sources. This module is the one place that runs the compiler.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from extflash.errors import ToolchainError

log = logging.getLogger(__name__)

GCC = "arm-none-eabi-gcc"
INSTALL_HINT = (
    "install the Arm GNU toolchain: on Debian/Ubuntu "
    "'sudo apt-get install --no-install-recommends gcc-arm-none-eabi libnewlib-arm-none-eabi' "
    "(or run 'make bootstrap'); elsewhere put arm-none-eabi-gcc on PATH or set EXTFLASH_GCC"
)

# -mcpu / FPU flags per core name used in the family data files.
CORE_FLAGS: dict[str, tuple[str, ...]] = {
    "cortex-m0plus": ("-mcpu=cortex-m0plus", "-mfloat-abi=soft"),
    "cortex-m4": ("-mcpu=cortex-m4", "-mfloat-abi=soft"),
    "cortex-m7": ("-mcpu=cortex-m7", "-mfloat-abi=soft"),
    "cortex-m33": ("-mcpu=cortex-m33", "-mfloat-abi=soft"),
}


@dataclass(frozen=True)
class Toolchain:
    """The arm-none-eabi-gcc that builds loaders."""

    gcc: Path

    @property
    def version(self) -> str:
        cmd = [str(self.gcc), "--version"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        return out.stdout.splitlines()[0] if out.stdout else "unknown"

    def tool(self, name: str) -> Path:
        """Path of a sibling binutils tool (``objcopy``, ``size``, ``readelf``)."""
        sibling = self.gcc.with_name(self.gcc.name.replace("gcc", name))
        if sibling.exists():
            return sibling
        found = shutil.which(f"arm-none-eabi-{name}")
        if not found:
            raise ToolchainError(
                f"arm-none-eabi-{name} not found next to {self.gcc}", hint=INSTALL_HINT
            )
        return Path(found)

    def run(self, args: Sequence[str | os.PathLike[str]], *, what: str) -> str:
        cmd = [str(self.gcc), *map(str, args)]
        log.debug("running %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            raise ToolchainError(f"building {what} failed:\n{detail}")
        return proc.stderr

    def build(
        self,
        sources: Sequence[Path],
        output: Path,
        *,
        linker_script: Path | None = None,
        cflags: Sequence[str] = (),
        ldflags: Sequence[str] = (),
        include_dirs: Sequence[Path] = (),
        what: str | None = None,
    ) -> Path:
        """Compile and link ``sources`` into the ELF ``output`` in one gcc invocation."""
        output.parent.mkdir(parents=True, exist_ok=True)
        args: list[str | os.PathLike[str]] = [*cflags]
        for inc in include_dirs:
            args += ["-I", inc]
        if linker_script is not None:
            args += ["-T", linker_script]
        args += [*sources, *ldflags, "-o", output]
        self.run(args, what=what or output.name)
        return output


def find_toolchain() -> Toolchain:
    """The toolchain named by ``EXTFLASH_GCC`` or found on PATH; a clear error otherwise."""
    explicit = os.environ.get("EXTFLASH_GCC")
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise ToolchainError(
                f"EXTFLASH_GCC points to {explicit}, which does not exist", hint=INSTALL_HINT
            )
        return Toolchain(path)
    found = shutil.which(GCC)
    if not found:
        raise ToolchainError(f"{GCC} was not found on PATH", hint=INSTALL_HINT)
    return Toolchain(Path(found))
