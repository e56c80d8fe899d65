"""extflash's loader generator: register-level QUADSPI, OCTOSPI and XSPI loaders (.stldr and CMSIS
FLM; quad chips, and octal chips in 8D-8D-8D or 8S-8S-8S) built from the project's own C
templates, per-family data and the chip database.

    cfg = plan_loader("STM32H743ZI", "W25Q128JV", 1, {"clk": "PB2", "ncs": "PB6", ...})
    result = build(cfg, "out/")          # out/<name>.stldr, out/<name>-src/ (the C project)
"""

from extflash.gen.build import BuildResult, ImageSize, build
from extflash.gen.clock import supported_families
from extflash.gen.config import LoaderConfig, plan_loader
from extflash.gen.generate import render
from extflash.gen.new import NewLoader, SelfTestFailed, new_loader

__all__ = ["BuildResult", "ImageSize", "LoaderConfig", "NewLoader", "SelfTestFailed", "build",
           "new_loader", "plan_loader", "render", "supported_families"]
