"""Diagnostics for OCTOSPI/XSPI loaders, through the command line as a user meets them: the
HAL-style test loaders (tests/firmware/ospi_hal) built with one mistake each (``faults``), run on
the kit they are written for, and the words and exit code extflash answers with."""

from __future__ import annotations

import time
from pathlib import Path

import ospi_hal.build as ob
import pytest
from click.testing import CliRunner, Result

from extflash import diagnose
from extflash.cli import main
from extflash.runner import LoaderCallError

H7S7 = "h7s7-mx66uw-dtr-xspi2"  # MX66UW1G45G 8D-8D-8D on XSPI2, XSPIM port 2, 1.8 V
H7B3 = "h7b3-mx25lm-dtr"  # MX25LM51245G 8D-8D-8D on OCTOSPI1, OCTOSPIM port 1


@pytest.fixture(scope="module")
def loader(build_elf):
    def build(kit: str, *faults: str) -> tuple[Path, ob.LoaderBuild]:
        b = ob.loader_build({**ob.KITS[kit], "faults": faults})
        return build_elf(b.name, b.sources, b.linker_script, cflags=b.cflags,
                         ldflags=b.ldflags, cpu=b.cpu), b

    return build


def _pins(b: ob.LoaderBuild) -> str:
    """The loader's pins in the CLI's named --pins form: the board is wired as the kit is."""
    signals = [*(ob.QUAD_SIGNALS if b.mode == "quad" else ob.OCTAL_SIGNALS),
               *(("dqs",) if b.mode == "dtr" else ())]
    return ",".join(f"{s}=P{chr(ord('A') + port)}{number}"
                    for s, (port, number, _af) in zip(signals, b.pins, strict=True))


def run(loader, tmp_path: Path, kit: str, *faults: str, command: str = "program",
        extra: tuple[str, ...] = ()) -> Result:
    elf, b = loader(kit, *faults)
    kit_facts = ob.KITS[kit]
    where = ["-l", str(elf), "--mcu", kit_facts["mcu"], "--chip", kit_facts["chip"],
             "--pins", _pins(b)]
    if command == "program":
        image = tmp_path / "image.bin"
        image.write_bytes(bytes(range(256)) * 64)
        args = ["program", *where, "--address", hex(b.window + 0x10000), str(image)]
    else:
        args = [command, *where, "--address", hex(b.window), "--size", "4K"]
    result = CliRunner().invoke(main, [*args, *extra])
    assert "Traceback" not in result.output
    return result


def test_the_kit_loaders_run_clean(loader, tmp_path):
    for kit in (H7S7, H7B3):
        result = run(loader, tmp_path, kit)
        assert result.exit_code == 0, result.output
        assert "warning" not in result.output


# fault(s) -> (kit, command, exit code, what the output must say)
CASES: dict[str, tuple[str, str, int, tuple[str, ...]]] = {
    "STR_IN_DTR": (H7S7, "program", 1, (
        "error: Init(0x1) returned 0x0",
        "the loader sent READ STATUS (0x05FA) in octal STR (instruction phase 8S, IDTR=0) while "
        "MX66UW1G45G is in octal DTR (8D-8D-8D)",
        "read the instruction as 0x0505 and ignored it",
        "0x05FA 8S-8D-8D",  # the frame as sent, phase by phase
        "fix: once the chip is in octal DTR, send every command with DTR on every phase")),
    "STR_IN_DTR on OCTOSPI": (H7B3, "program", 1, (
        "while MX25LM51245G is in octal DTR (8D-8D-8D)", "CCR.IDTR/ADDTR/ABDTR/DDTR")),
    "SPI_WREN": (H7S7, "erase", 1, (
        "error: SectorErase(0x70000000, 0x70000000) returned 0x0",
        "the loader sent WRITE ENABLE (0x06) as an SPI command (1-0-0, 1 line) while "
        "MX66UW1G45G is in octal DTR",
        # the rejected command is kept although thousands of status polls followed it
        "bank 1: 0x06 1-0-0 -> rejected",
        "fix: once the chip is in OPI send WRITE ENABLE on 8 lines as the two-byte instruction "
        "0x06F9")),
    "READ_DUMMY": (H7S7, "program", 1, (
        "error: verify failed",
        "the chip holds what was written, but indirect reads wait 4 dummy cycles while "
        "MX66UW1G45G was configured for a read latency of 6 clocks",
        "the controller samples too early", "hint: set the read dummy cycles (TCR.DCYC",
        "to 6")),
    "REG_DUMMY": (H7S7, "program", 1, (
        "error: Init(0x1) returned 0x0",
        "register reads (READ STATUS (0x05FA)) wait 4 dummy cycles while MX66UW1G45G answers "
        "them after 5 in octal DTR (8D-8D-8D)",
        "bank 1: 0x05FA 8D-8D-8D addr=0x00000000(4B) dummy=4 DQS read 2B  (x",  # folded repeats
        "fix: use 5 dummy cycles for status, ID and configuration reads in 8D")),
    "NO_DQS": (H7S7, "program", 1, (
        "error: verify failed", "indirect reads in octal DTR run without DQS (DQSE=0)",
        "one beat before the data is valid", "hint: set CCR.DQSE for every read")),
    # extflash reads back through Read() and programs; hosts reading the window would not
    "MAPPED_OPCODE": (H7S7, "program", 0, (
        "warning: Init() left XSPI2 memory-mapped with reads the chip does not answer: "
        "memory-mapped reads use 0xEC13, the 8S read of MX66UW1G45G, while the chip is in "
        "octal DTR (8D-8D-8D)", "fix: read with the 8D read command (0xEE11)")),
    "NO_PORT_SUPPLY": (H7S7, "program", 1, (
        "flash commands reached the chip",
        "the XSPIM port 2 I/O supply is off (PWR_CSR2.EN_XSPIM2=0)",
        "fix: switch the port's supply on before using it: PWR_CSR2.EN_XSPIM2=1")),
    "OTHER_PORT": (H7S7, "program", 1, (
        "the board wires the memory to XSPIM port 2, but XSPIM CR (MODE=1, MUXEN=0) puts XSPI2 "
        "on port 1", "XSPIM now: port 1 CLK, NCS, DQS, IO[3:0], IO[7:4] from XSPI2",
        "fix: give XSPI2 port 2 in the XSPIM")),
    "OTHER_PORT on OCTOSPI": (H7B3, "program", 1, (
        "the board wires the memory to OCTOSPIM port 1, but OCTOSPIM P1CR has the port's CLK "
        "disabled", "OCTOSPIM now: port 1 from no controller, port 2 CLK, NCS, DQS, IO[3:0], "
        "IO[7:4] from OCTOSPI1",
        "fix: give OCTOSPI1 port 1 in the OCTOSPIM")),
    "NO_IO_SPEED": (H7S7, "program", 0, (
        "warning: XSPI2 drives the 1.65-2 V MX66UW1G45G through XSPIM port 2 at 32 MHz without "
        "the I/O speed optimisation (SBS_CCCSR.XSPI2_IOHSLV=0)",)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mistake_is_named(loader, tmp_path, case):
    kit, command, code, words = CASES[case]
    result = run(loader, tmp_path, kit, case.split()[0], command=command)
    assert result.exit_code == code, result.output
    for w in words:
        assert w in result.output, w


def test_hang_on_a_flag_that_never_comes(loader, tmp_path):
    start = time.monotonic()
    result = run(loader, tmp_path, H7S7, "SPI_WREN", "NO_TIMEOUT", command="erase")
    took = time.monotonic() - start
    assert result.exit_code == 1
    out = result.output
    assert "error: SectorErase(0x70000000, 0x70000000) did not return" in out
    assert "SectorErase() waits for XSPI2_SR to change; it keeps reading 0x00000024 (FTF=1 " \
           "BUSY=1) in HAL_WaitForFlag" in out
    assert ("automatic polling reads status 0x00 and waits for (status & 0x02) == 0x02, and it "
            "never comes: the loader sent WRITE ENABLE (0x06) as an SPI command") in out
    assert took < 30  # stopped when the hang was proven, not at the host's timeout


def test_trace_of_an_octospi_run(loader, tmp_path):
    """The trace names the OCTOSPI/XSPI command set-up and keeps the rejected command."""
    out = tmp_path / "erase.txt"
    result = run(loader, tmp_path, H7S7, "SPI_WREN", command="erase",
                 extra=("--trace", str(out), "--trace-filter", "XSPI2,flash"))
    assert result.exit_code == 1
    text = out.read_text()
    assert "XSPI2_IR <- 0x0000EE11 (command: 0xEE11 8D-8D-8D, 4-byte address, 6 dummy, DQS)" \
        in text
    assert "bank 1: 0x06 1-0-0 -> rejected: opcode on 1 line(s) while the chip is in octal DTR" \
        in text
    assert "RCC_" not in text


@pytest.mark.parametrize("faults", [("SPI_WREN",), ("NO_PORT_SUPPLY",),
                                    ("SPI_WREN", "NO_TIMEOUT")])
def test_a_replayed_octospi_failure_is_explained_as_under_the_full_watch(loader, faults):
    """The command line's replay mode (calls on the native lane, the failure replayed under the
    full watch) explains an XSPI failure as the full watch does."""
    elf, b = loader(H7S7, *faults)
    board = ob.kit_board(H7S7, b)
    diagnoses = []
    for replay in (False, True):
        session, watch = diagnose.open_session(elf, board=board, replay_on_failure=replay)
        with session, pytest.raises(LoaderCallError) as info:
            session.driver.begin("erase")
            session.driver.erase_sectors(session.driver.geometry.sectors[:1])
        diagnoses.append(diagnose.explain(info.value, watch))
    full, replayed = diagnoses
    assert (replayed.kind, replayed.cause, replayed.details, replayed.fix) == (
        full.kind, full.cause, full.details, full.fix)
