"""USART transmitters: TXE/TC set, TDR bytes captured, shown in the CLI output and the trace.

The machine-level test covers every family with a USART table; the end-to-end tests run the
generator's loader patched to print over USART1 from Init, as a user's debug build would.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from extflash import api, board, mcu
from extflash.cli import main
from extflash.emu.machine import Machine
from extflash.emu.periph.usart import Usart

PART_OF_FAMILY = {
    "stm32h7-qspi": "STM32H743VI",
    "stm32f7": "STM32F746NG",
    "stm32f4": "STM32F446RE",
    "stm32l4": "STM32L476RG",
    "stm32g4": "STM32G474RE",
}


def _write(m: Machine, address: int, value: int) -> None:
    m.mem_write(address, struct.pack("<I", value))


def _read(m: Machine, address: int) -> int:
    return int(struct.unpack("<I", m.mem_read(address, 4))[0])


@pytest.mark.parametrize("family", sorted(PART_OF_FAMILY))
def test_every_family_transmits_with_txe_and_tc_set(family: str) -> None:
    m = Machine(mcu.find_part(PART_OF_FAMILY[family]))
    usart = m.peripherals["USART2"]
    assert isinstance(usart, Usart)
    status = usart.by_name.get("ISR") or usart.by_name["SR"]
    data = usart.by_name.get("TDR") or usart.by_name["DR"]
    cr1 = usart.by_name["CR1"]
    ue_te = cr1.field("UE").mask | cr1.field("TE").mask
    # clock off: ignored, read as 0 (as the GPIO ports)
    _write(m, usart.base + cr1.offset, ue_te)
    assert _read(m, usart.base + status.offset) == 0
    # clock on (the RCC's USART2EN, wherever the family keeps it)
    for offset, mask in m.rcc._enables["USART2"]:
        _write(m, m.rcc.base + offset, _read(m, m.rcc.base + offset) | mask)
    sr = _read(m, usart.base + status.offset)
    assert sr & (1 << 7) and sr & (1 << 6)  # TXE (TXFNF) and TC, RM0433/RM0390 bit positions
    _write(m, usart.base + data.offset, ord("x"))  # UE/TE still clear: nothing goes out
    _write(m, usart.base + cr1.offset, ue_te)
    for ch in b"hi\r\n":
        _write(m, usart.base + data.offset, ch)
    assert m.console.text("USART2") == "hi\r\n"
    assert m.console.lines == [("USART2", "hi")]


DEBUG_PRINT = """
#define USART1_BASE 0x40011000u  /* RM0433 memory map */
#define RCC_APB2ENR (*(volatile uint32_t *)0x580244F0u)
#define U(off) (*(volatile uint32_t *)(USART1_BASE + (off)))

static void debug_print(const char *text)
{
    RCC_APB2ENR |= 1u << 4;             /* USART1EN */
    U(0x0Cu) = 64000000u / 115200u;     /* BRR */
    U(0x00u) = (1u << 3) | 1u;          /* CR1: TE, UE */
    while (*text) {
        while (!(U(0x1Cu) & (1u << 7))) /* ISR.TXE */
            ;
        U(0x28u) = (uint8_t)*text++;    /* TDR */
    }
    while (!(U(0x1Cu) & (1u << 6)))     /* ISR.TC */
        ;
}

int Init(void)
{
    debug_print("Init: hello from the loader\\r\\n");
    return loader_init();
}
"""


@pytest.fixture(scope="module")
def printing_loader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from extflash import gen
    from extflash.gen.build import LDFLAGS
    from extflash.gen.generate import cflags, stldr_sources
    from extflash.toolchain import find_toolchain

    out = tmp_path_factory.mktemp("usart")
    config = gen.plan_loader(board.load("weact-h743"))
    project = gen.render(config, out / "src")
    stldr_c = project / "stldr.c"
    text = stldr_c.read_text()
    original = "int Init(void)\n{\n    return loader_init();\n}\n"
    assert original in text
    stldr_c.write_text(text.replace(original, DEBUG_PRINT))
    path = out / "printing.stldr"
    srcs = [project / name for name in (*stldr_sources(config), "board_config.c")]
    find_toolchain().build(srcs, path, linker_script=project / "stldr.ld", cflags=cflags(config),
                           ldflags=LDFLAGS, what="printing loader")
    return path


def test_a_loader_printing_over_usart_runs_and_is_heard(printing_loader: Path) -> None:
    with api.open_session(printing_loader, board="weact-h743") as s:
        data = s.read(s.geometry.start, 64)
        console = s.target.machine.console  # type: ignore[attr-defined]
    assert data == b"\xff" * 64
    assert ("USART1", "Init: hello from the loader") in console.lines


def test_cli_shows_the_text_and_the_trace_decodes_it(printing_loader: Path, tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    result = CliRunner().invoke(
        main, ["read", "-l", str(printing_loader), "--board", "weact-h743", "--address",
               "0x90000000", "--size", "16", "-o", str(tmp_path / "out.bin"), "--trace",
               str(trace), "--trace-filter", "USART1"],
    )
    assert result.exit_code == 0, result.output
    assert "USART1: Init: hello from the loader" in result.output
    lines = trace.read_text().splitlines()
    assert any("USART1_TDR <- " in line and "sent 'I'" in line for line in lines), lines[:20]
