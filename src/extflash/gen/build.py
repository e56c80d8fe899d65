"""Building a planned loader: render the project, compile it with arm-none-eabi-gcc into a
``.stldr`` (and on request a CMSIS ``.FLM``), and measure it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from extflash.gen.config import LoaderConfig
from extflash.gen.generate import FLM_FLAGS, _safe, cflags, flm_sources, render, stldr_sources
from extflash.toolchain import Toolchain, find_toolchain

log = logging.getLogger(__name__)

LDFLAGS = ["-Wl,--gc-sections", "-lgcc"]
OUTPUT_SUFFIXES = (".stldr", ".flm")  # -o names a file with these, else a folder


@dataclass(frozen=True)
class ImageSize:
    """Allocated bytes of the loader image (StorageInfo / FlashDevice excluded)."""

    code: int  # .text + .rodata (executable and read-only)
    data: int  # initialised writable data
    bss: int

    @property
    def total(self) -> int:
        return self.code + self.data + self.bss


@dataclass(frozen=True)
class BuildResult:
    """A built loader: its .stldr (and .FLM), project folder, sizes, command."""

    stldr: Path
    flm: Path | None
    project: Path
    size: ImageSize
    flm_size: ImageSize | None
    command: tuple[str, ...]  # the gcc command line that built the .stldr


def measure(elf_path: Path, *, skip: tuple[str, ...] = (".info", "DevDscr")) -> ImageSize:
    code = data = bss = 0
    with elf_path.open("rb") as fh:
        for sec in ELFFile(fh).iter_sections():
            flags = sec["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC or sec.name in skip:
                continue
            if sec["sh_type"] == "SHT_NOBITS":
                bss += sec["sh_size"]
            elif flags & SH_FLAGS.SHF_EXECINSTR or not flags & SH_FLAGS.SHF_WRITE:
                code += sec["sh_size"]
            else:
                data += sec["sh_size"]
    return ImageSize(code, data, bss)


def build(config: LoaderConfig, out: Path | str, *, flm: bool = False,
          toolchain: Toolchain | None = None) -> BuildResult:
    """Build ``config`` into ``out`` (a directory, or the ``.stldr`` / ``.FLM`` file path to
    write; with ``x.FLM`` the ``.stldr`` is written beside it as ``x.stldr``).

    The C project is rendered next to the outputs (``<name>-src/``) so the user can rebuild it
    with its Makefile.
    """
    tc = toolchain or find_toolchain()
    out = Path(out)
    if out.suffix.lower() in OUTPUT_SUFFIXES:
        # a file name, never a folder named like a file: x.FLM also asks for the FLM
        out_dir, stem = out.parent, out.stem
        flm = flm or out.suffix.lower() == ".flm"
    else:
        out_dir, stem = out, _safe(config.name)
    project = render(config, out_dir / f"{stem}-src")
    flags = cflags(config)

    stldr = out_dir / f"{stem}.stldr"
    srcs = [project / s for s in (*stldr_sources(config), "board_config.c")]
    command = (str(tc.gcc), *flags, "-T", str(project / "stldr.ld"), *map(str, srcs), *LDFLAGS,
               "-o", str(stldr))
    tc.build(srcs, stldr, linker_script=project / "stldr.ld", cflags=flags, ldflags=LDFLAGS,
             what=f"loader {config.name}")
    size = measure(stldr)
    log.info("built %s: %d bytes code, %d data, %d bss", stldr, size.code, size.data, size.bss)

    flm_path: Path | None = None
    flm_size: ImageSize | None = None
    if flm:
        flm_path = out_dir / f"{stem}.FLM"
        fsrcs = [project / s for s in (*flm_sources(config), "board_config.c")]
        tc.build(fsrcs, flm_path, linker_script=project / "flm.ld", cflags=[*flags, *FLM_FLAGS],
                 ldflags=LDFLAGS, what=f"FLM {config.name}")
        flm_size = measure(flm_path)
    return BuildResult(stldr=stldr, flm=flm_path, project=project, size=size, flm_size=flm_size,
                       command=command)
