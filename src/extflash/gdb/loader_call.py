"""A loader call to debug: the loader placed in RAM as the host places it, the core at its
``Init`` with the host's registers (R0 = 1, MSP above the image, LR at the return BKPT), so GDB
can break in Init, step and read the controller's registers. Reaching the return BKPT stops
the core (SIGTRAP at the BKPT): Init returned, R0 is its result."""

from __future__ import annotations

from pathlib import Path

from extflash import board as boards
from extflash.errors import InputError
from extflash.xip import ElfSymbols, OutputFn, OutputLog, Prepared, attach_output


def prepare_loader_call(board: boards.Board, loader: str | Path, *, function: str = "Init",
                        on_output: OutputFn | None = None, timing: str = "typical") -> Prepared:
    from extflash.api import make_driver
    from extflash.emu.virtual_board import VirtualBoard
    from extflash.loader.model import open_loader
    from extflash.target.emulated import EmulatedTarget

    opened = open_loader(loader)
    vboard = VirtualBoard(board, timing=timing)
    out = OutputLog(on_output)
    semihosting = attach_output(vboard.machine, out)
    driver = make_driver(EmulatedTarget(vboard), opened)
    address = driver.program.functions.get(function)  # type: ignore[attr-defined]
    if address is None:
        raise InputError(f"{Path(loader).name} has no {function} entry point to debug")
    driver.load()  # type: ignore[attr-defined]
    registers = driver.call_registers([1] if function == "Init" else [])  # type: ignore
    sp = registers.pop("sp")
    registers.pop("msp", None)
    prepared = Prepared(vboard, semihosting, ElfSymbols([Path(loader)]), out, sp, address & ~1,
                        registers)
    prepared.reset_core()
    return prepared
