"""Test loaders for the loader package: built from tests/firmware/loaders in every layout.

``loader_file("h7-info0")`` builds (once per session) the variant named in ``VARIANTS`` and
returns the path of the ELF. Each variant is the same small C loader with a different layout,
family or defect chosen by -D options, linker script and post-link step.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from extflash.toolchain import Toolchain

ENTRY_NAMES = ("StorageInfo", "Init", "Write", "SectorErase", "Read", "MassErase", "Verify",
               "CheckSum", "DeInit")
PIC = ("-fPIC", "-msingle-pic-base", "-mpic-register=r9", "-mno-pic-data-is-text-relative")
HARD_SP = ("-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")
HARD_DP = ("-mfloat-abi=hard", "-mfpu=fpv5-d16")
# Peripheral bases per family (CMSIS device headers), as -D options for qspi_loader.c.
H7_QSPI = ()
H7_OSPI = ("-DOCTOSPI", "-DOCTOSPIM_BASE=0x5200B400u")
F7_QSPI = ("-DRCC_BASE=0x40023800u", "-DGPIO_BASE=0x40020400u", "-DCTRL_BASE=0xA0001000u",
           "-DRCC_EN_OFFSET=0x38u")
L4_QSPI = ("-DRCC_BASE=0x40021000u", "-DGPIO_BASE=0x48000400u", "-DCTRL_BASE=0xA0001000u",
           "-DRCC_EN_OFFSET=0x50u")
G0_SPI = ("-DRCC_BASE=0x40021000u", "-DGPIO_BASE=0x50000400u", "-DCTRL_BASE=0x40003800u",
          "-DRCC_EN_OFFSET=0x3Cu")
LOADER_SOURCES = ("loaders/qspi_loader.c", "loaders/storage_info.c")
OCTAL_SOURCES = ("octal/octal_loader.c", "loaders/storage_info.c")


@dataclass(frozen=True)
class Variant:
    cflags: tuple[str, ...] = ()
    ld: str = "loaders/info0.ld"
    origin: int = 0x24000004
    cpu: str = "cortex-m7"
    defsyms: tuple[str, ...] = ()
    post: str | None = None  # "strip" | "iar-names"
    sources: tuple[str, ...] = LOADER_SOURCES
    ldflags: tuple[str, ...] = field(default=())


GOOD = ("-DCLEAR_BSS",)
VARIANTS: dict[str, Variant] = {
    # layouts
    "h7-info0": Variant(GOOD),
    "f7-cubeide": Variant((*GOOD, *F7_QSPI, "-DDEV_START=0x90000000u", "-DSECTOR_COUNT=4096u",
                           "-DSECTOR_SIZE=0x1000u", "-DDEV_PAGE=0x1000u"),
                          ld="loaders/cubeide.ld", origin=0x20000004),
    "h7-top-of-ram": Variant(GOOD, ld="loaders/top_of_ram.ld", defsyms=("INFO_ADDR=0x2407FF00",)),
    "h7-stripped": Variant(GOOD, post="strip"),
    "l4-iar": Variant((*GOOD, *L4_QSPI, "-DSECTOR2_COUNT=16u", "-DSECTOR2_SIZE=0x20000u"),
                      origin=0x20000004, cpu="cortex-m4", post="iar-names"),
    "g4-keil-size0": Variant((*GOOD, *L4_QSPI, "-DSI_SYMBOL=DevInfoBlob"), ld="loaders/keil.ld",
                             origin=0x20000004, cpu="cortex-m4"),
    "h7-size136": Variant((*GOOD, "-DSECTOR_NUM=2"),),
    "h7-ospi": Variant((*GOOD, *H7_OSPI, "-DDEV_START=0x90000000u")),
    "l4-rwpi": Variant((*GOOD, *L4_QSPI, *PIC), origin=0x20000004, cpu="cortex-m4"),
    "flm": Variant(PIC, ld="loaders/flm.ld", sources=("loaders/flm_algo.c",),
                   ldflags=("-Wl,--emit-relocs",)),
    # one defect each
    "no-storage-info": Variant((*GOOD, "-DNO_STORAGE_INFO")),
    "bad-size-sum": Variant((*GOOD, "-DDEV_SIZE=0x3D0900u")),
    "bad-page": Variant((*GOOD, "-DDEV_PAGE=0x300u")),
    "page-over-sector": Variant((*GOOD, "-DDEV_PAGE=0x20000u")),
    "bad-start": Variant((*GOOD, "-DDEV_START=0x60000000u")),
    "bad-erase-value": Variant((*GOOD, "-DDEV_ERASE=0x55u")),
    "bad-type": Variant((*GOOD, "-DDEV_TYPE=42")),
    "bad-padding": Variant((*GOOD, "-DPAD1=0x5A")),
    "unterminated-name": Variant((*GOOD, '-DDEV_NAME="' + "N" * 100 + '"')),
    "wrong-base": Variant(GOOD, origin=0x24000100),
    "outside-ram": Variant(GOOD, origin=0x60000004),
    "too-large": Variant((*GOOD, "-DBIG_BSS=0x80000")),
    "missing-entries": Variant((*GOOD, "-DNO_WRITE", "-DNO_SECTOR_ERASE", "-DNO_READ")),
    "bss-not-cleared": Variant(()),
    "interrupts": Variant((*GOOD, *F7_QSPI, "-DUSE_VECTORS"), ld="loaders/cubeide.ld",
                          origin=0x20000004),
    "hal-no-tick": Variant((*GOOD, "-DHAL_TICK_NO_SOURCE")),
    "g0-dwt": Variant((*GOOD, *G0_SPI, "-DUSE_DWT"), origin=0x20000004, cpu="cortex-m0plus"),
    "hard-float": Variant((*GOOD, *L4_QSPI, *HARD_SP, "-DUSE_FLOAT"), origin=0x20000004,
                          cpu="cortex-m4"),
    "double": Variant((*GOOD, *F7_QSPI, *HARD_DP, "-DUSE_DOUBLE"), origin=0x20000004),
    # register-level OCTOSPI/XSPI loaders (tests/firmware/octal)
    "h7rs-xspi2": Variant(("-DFAM_H7RS", "-DDEV_START=0x70000000u"), origin=0x20000004,
                          sources=OCTAL_SOURCES),
    "u5-octospi1": Variant(("-DFAM_U5",), origin=0x20000004, cpu="cortex-m33",
                           sources=OCTAL_SOURCES),
    "h7b3-octospi1": Variant(("-DFAM_H7B3",), sources=OCTAL_SOURCES),
    "h7rs-xspi2-axi": Variant(("-DFAM_H7RS", "-DDEV_START=0x70000000u"), sources=OCTAL_SOURCES),
}


def _post_process(kind: str, elf: Path, toolchain: Toolchain) -> Path:
    out = elf.with_name(f"{elf.stem}-{kind}.elf")
    if kind == "strip":
        keep = [arg for name in ENTRY_NAMES for arg in ("-K", name)]
        cmd = [str(toolchain.tool("strip")), "-s", *keep, "-o", str(out), str(elf)]
    else:  # IAR section names (GNU ld cannot name output sections with spaces)
        renames = [("--rename-section", f"{a}={b}") for a, b in
                   ((".prog", "P1 ro"), (".bss", "P2 ui"), (".info", "P3"))]
        cmd = [str(toolchain.tool("objcopy")), *[x for r in renames for x in r], str(elf),
               str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def loader_file(build_elf: Callable[..., Path], toolchain: Toolchain,
                tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    cache: dict[str, Path] = {}
    out_dir = tmp_path_factory.mktemp("loaders")

    def get(name: str) -> Path:
        if name in cache:
            return cache[name]
        v = VARIANTS[name]
        defsyms = [f"-Wl,--defsym={d}" for d in (f"RAM_ORIGIN={v.origin:#x}", *v.defsyms)]
        path = build_elf(f"loader-{name}", list(v.sources), v.ld, cflags=list(v.cflags),
                         ldflags=[*defsyms, *v.ldflags], cpu=v.cpu)
        if v.post:
            path = _post_process(v.post, path, toolchain)
        suffix = ".FLM" if name == "flm" else ".stldr"
        final = out_dir / f"{name}{suffix}"
        shutil.copyfile(path, final)
        cache[name] = final
        return final

    return get
