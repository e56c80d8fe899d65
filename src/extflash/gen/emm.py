"""The External Memory Manager's USER driver for a board's chip (``extflash new --kind
emm-driver``): ``stm32_user_driver.c`` with the ``EXTMEM_DRIVER_USER_*`` hooks written against the
XSPI HAL, and a README saying where it goes in a CubeMX H7R/S project.

Hook names, parameters and return codes follow ST's External Memory Manager (USER driver,
``EXTMEM_DRIVER_USER == 1``); the chip's commands come from the chip database through
:func:`extflash.gen.nor.nor_params` and, for an octal chip wired on eight data lines,
:func:`extflash.gen.nor.octal_params` (the same choices as the generated loaders: 8D-8D-8D with
DQS when the board wires it, else 8S-8S-8S).
"""

from __future__ import annotations

import logging
import string
from importlib import resources
from pathlib import Path

from extflash import board as boards
from extflash import chips
from extflash.errors import ConfigError
from extflash.gen.nor import Command, OctalParams, nor_params, octal_params, octal_top_hz

log = logging.getLogger(__name__)

FILES = ("stm32_user_driver.c", "README.md")
_LINES = {1: "1_LINE", 2: "2_LINES", 4: "4_LINES", 8: "8_LINES"}


def _mode(kind: str, lines: int) -> str:
    return f"HAL_XSPI_{kind}_{_LINES[lines]}" if lines else f"HAL_XSPI_{kind}_NONE"


def _protocol(cmd: Command) -> str:
    return f"{cmd.instruction_lines}-{cmd.address_lines}-{cmd.data_lines}"


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n % (1 << 20) else f"{n >> 20} MiB"


def _width(address_bytes: int) -> str:
    return f"HAL_XSPI_ADDRESS_{8 * address_bytes}_BITS" if address_bytes else "0u"


def _octal(board: boards.Board, chip: chips.ChipSpec) -> OctalParams | None:
    """The octal state the driver switches the chip to, or None (SPI/quad commands only).
    The read latency is the one the chip needs at its top octal clock: the driver does not
    know the XSPI clock the project picks, and more latency cycles are right at any clock."""
    memory = board.memories[0]
    if chip.octal is None or memory.wire("io7") is None:
        return None
    return octal_params(chip, octal_top_hz(chip), has_dqs=memory.wire("dqs") is not None)


def _frame(o: OctalParams) -> str:
    """``8D-8D-8D``: the octal state in the JEDEC instruction-address-data notation."""
    return f"{o.state}-{o.state}-{o.state}"


def _octal_setup(o: OctalParams) -> str:
    """The README's paragraph on the XSPI settings the octal state needs from CubeMX."""
    state = _frame(o)
    lines = [f"\nThe driver switches the chip to {state} in `EXTMEM_DRIVER_USER_Init` (after a "
             "reset to SPI from whichever state a boot or an application left it in). The XSPI's "
             "own settings come from CubeMX (`MX_XSPIn_Init`):\n"]
    if o.state == "8D":
        order = "Macronix" if o.macronix_order else "Micron"
        lines.append(f"- **Memory type {order}** (`HAL_XSPI_MEMTYPE_{order.upper()}`): the chip's "
                     f"byte order in 8D ({'D1, D0' if o.macronix_order else 'D0, D1'});")
        lines.append("- **Delay hold quarter cycle** enabled (`HAL_XSPI_DHQC_ENABLE`), as ST's "
                     "board support packages run 8D;")
        lines.append("- the **DQS** pin in the XSPI pin set: reads sample on the chip's strobe;"
                     if o.dqs else "- no DQS: reads sample on the XSPI clock;")
    lines.append(f"- the read latency is {o.read_dummy} cycles, what the chip needs at its top "
                 "clock, so any XSPI clock up to it is right.")
    return "\n".join(lines) + "\n"


def _octal_values(o: OctalParams | None) -> dict[str, str]:
    if o is None:
        return {"octal": "0", "octal_state": "PROTOCOL_SPI",
                "octal_text": "SPI commands only", "octal_setup": "", "octal_dqs": "0",
                "octal_inverted": "0", "config_write": "0x00", "config_address_width": "0u",
                "dummy_address": "0x0", "dummy_code": "0x00", "mode_address": "0x0",
                "mode_value": "0x00", "reg_address_mode": "HAL_XSPI_ADDRESS_NONE",
                "reg_dummy": "0"}
    return {
        "octal": "1", "octal_state": "PROTOCOL_" + o.state, "octal_dqs": str(int(o.dqs)),
        "octal_text": f"{_frame(o)}{' with DQS' if o.dqs else ''}",
        "octal_setup": _octal_setup(o),
        "octal_inverted": str(int(o.inverted)),
        "config_write": f"0x{o.config_write:02X}",
        "config_address_width": _width(o.config_address_bytes),
        "dummy_address": f"0x{o.dummy_address:X}", "dummy_code": f"0x{o.dummy_code:02X}",
        "mode_address": f"0x{o.mode_address:X}", "mode_value": f"0x{o.mode_value:02X}",
        "reg_address_mode": ("HAL_XSPI_ADDRESS_8_LINES" if o.register_address_bytes
                             else "HAL_XSPI_ADDRESS_NONE"),
        "reg_dummy": str(o.register_dummy),
    }


def driver_values(board: boards.Board) -> dict[str, str]:
    """The template's substitutions for ``board``'s first memory."""
    memory = board.memories[0]
    family = board.part.family
    spec = family.controller(memory.controller)
    if spec is None or spec.kind != "xspi":
        raise ConfigError(
            f"the External Memory Manager's USER driver uses the XSPI HAL: {board.name}'s "
            f"memory is on {memory.controller}, not an XSPI controller",
            hint="choose an XSPI part (STM32H7R/S) and its XSPI pins")
    chip = chips.find(memory.chip)
    nor = nor_params(chip)
    if nor.read.mode_bytes > 1:
        raise ConfigError(f"{chip.name}: the read command's {nor.read.mode_bytes} mode bytes "
                          "are not supported by the USER driver template")
    instance = memory.controller[len(memory.controller.rstrip("0123456789")):] or "1"
    o = _octal(board, chip)
    # after Init an octal chip takes every command in its octal state: two-byte opcodes,
    # 4-byte addresses, data on eight lines
    read = Command(o.read_opcode, 8, 8, 8, 0, o.read_dummy) if o else nor.read
    program = Command(o.program_opcode, 8, 8, 8) if o else nor.program
    octal_protocol = _frame(o) if o else ""
    return {
        **_octal_values(o),
        "chip": chip.name, "controller": memory.controller,
        "part": f"{board.part.part.name}{board.part.suffix}",
        "handle": f"hxspi{instance}", "map_address": f"0x{spec.window:08X}",
        "size": f"0x{chip.size:X}", "size_log2": str(chip.size.bit_length() - 1),
        "page_size": str(chip.page_size), "sector_size": f"0x{nor.sector_size:X}",
        "sector_size_text": _size(nor.sector_size),
        "manufacturer": f"0x{chip.manufacturer_id:02X}",
        "address_width": _width(nor.address_bytes),
        "enter_4b": str(int(nor.enter_4byte)),
        "has_reset": str(int(chip.reset == (0x66, 0x99))),
        "read_opcode": f"0x{read.opcode:02X}",
        "read_protocol": octal_protocol or _protocol(read),
        "read_opcode_text": f"{read.opcode:02X}h",
        "read_address_mode": _mode("ADDRESS", read.address_lines),
        "read_data_mode": _mode("DATA", read.data_lines),
        "read_mode_bytes": str(read.mode_bytes),
        "read_alt_mode": _mode("ALT_BYTES", read.address_lines if read.mode_bytes else 0),
        "read_dummy": str(read.dummy),
        "program_opcode": f"0x{program.opcode:02X}",
        "program_protocol": octal_protocol or _protocol(program),
        "program_opcode_text": f"{program.opcode:02X}h",
        "program_address_mode": _mode("ADDRESS", program.address_lines),
        "program_data_mode": _mode("DATA", program.data_lines),
        "erase_sector": f"0x{nor.erase_sector:02X}", "erase_chip": f"0x{nor.erase_chip:02X}",
        "erase_sector_text": f"{nor.erase_sector:02X}h",
        "erase_chip_text": f"{nor.erase_chip:02X}h",
        "qe_register": str(nor.qe_register), "qe_bit": f"0x{nor.qe_bit:02X}",
        "status_write": str(nor.status_write),
        "timeout_page": str(nor.timeout_page_ms), "timeout_sector": str(nor.timeout_sector_ms),
        "timeout_chip": str(nor.timeout_chip_ms), "timeout_wrsr": str(nor.timeout_wrsr_ms),
    }


def write_emm_driver(board: boards.Board, out_dir: Path | str) -> list[Path]:
    """Write ``stm32_user_driver.c`` and ``README.md`` for ``board`` into ``out_dir``."""
    values = driver_values(board)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    templates = resources.files("extflash.gen") / "templates" / "emm"
    written = []
    for name in FILES:
        text = string.Template(templates.joinpath(name).read_text(encoding="utf-8"))
        path = out / name
        path.write_text(text.substitute(values), encoding="utf-8")
        written.append(path)
    log.info("wrote the USER driver for %s in %s", values["chip"], out)
    return written
