"""ST's OCTOSPI/XSPI kits (and the ART-Pi2) as shipped boards, used the way a user does.

Every kit board loads and its pins are the part's OCTOSPI/XSPI pins with the AF numbers of its
alternate-function table; ``extflash boards`` names each board's controller and port. The
HAL-style OCTOSPI/XSPI test loaders (tests/firmware/ospi_hal), built for each kit from the
board file's own wiring, program and verify through the CLI with ``--board <kit>``, and
``extflash test --board <kit>`` passes them in octal DTR (with DQS) and octal STR, and the
loader ``extflash new --board <kit>`` writes passes it too.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import ospi_hal.build as ob
import pytest
from cli_support import run

from extflash import board
from shipped_boards import OCTAL_BOARDS

# board file -> (chip, controller, IO-manager port or None without an IO manager, window)
KITS = {
    "stm32h7b3i-dk": ("MX25LM51245G", "OCTOSPI1", 1, 0x9000_0000),
    "stm32h735g-dk": ("MX25LM51245G", "OCTOSPI1", 1, 0x9000_0000),
    "b-u585i-iot02a": ("MX25LM51245G", "OCTOSPI2", 2, 0x7000_0000),
    "stm32l4r9i-disco": ("MX25LM51245G", "OCTOSPI1", 2, 0x9000_0000),  # port 2 swapped
    "stm32l562e-dk": ("MX25LM51245G", "OCTOSPI1", None, 0x9000_0000),
    "stm32h573i-dk": ("MX25LM51245G", "OCTOSPI1", None, 0x9000_0000),
    "stm32h7s78-dk": ("MX66UW1G45G", "XSPI2", 2, 0x7000_0000),
    "nucleo-h7s3l8": ("MX25UW25645G", "XSPI2", 2, 0x7000_0000),
    "art-pi2": ("W35T51NW", "XSPI2", 2, 0x7000_0000),
}
# The test loader speaks the Macronix OPI protocol (CR2 writes, inverted-opcode commands); the
# W35T51NW (Micron-style volatile registers, repeated opcodes) is not among its chips.
HAL_KITS = sorted(n for n, (chip, *_rest) in KITS.items() if chip in ob.OCTAL_CHIPS)


def test_every_kit_is_shipped() -> None:
    assert sorted(KITS) == OCTAL_BOARDS
    assert sorted(set(KITS) - {"art-pi2"}) == HAL_KITS


@pytest.mark.parametrize("name", sorted(KITS))
def test_kit_board_loads_and_its_pins_are_the_parts(name: str) -> None:
    b = board.load(name)
    (mem,) = b.memories
    chip, controller, port, window = KITS[name]
    assert (mem.chip, mem.controller, mem.port) == (chip, controller, port)
    assert b.part.family.controller(controller).window == window  # type: ignore[union-attr]
    # octal with DQS; every pin carries its signal with the AF number of the part's table
    assert {w.signal for w in mem.wires} == {"clk", "ncs", "dqs", *(f"io{i}" for i in range(8))}
    routes = board.octal_routes(b.part)
    route = routes[f"P{port}" if port else controller]
    for w in mem.wires:
        assert route[w.signal][w.pin] == w.af, (w.signal, w.pin)
    assert b.source and b.caveats  # where the wiring comes from, what is not modelled


def test_l4r9_port_2_is_driven_by_octospi1_as_a_swap() -> None:
    b = board.load("stm32l4r9i-disco")
    assert b.notes == ("OCTOSPIM port 2 driven by OCTOSPI1 (swapped; at reset it is OCTOSPI2)",)


def test_boards_command_names_controller_and_port() -> None:
    result = run("boards", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["boards"]}
    for name, (chip, controller, port, _window) in KITS.items():
        row = rows[name]
        assert (row["chip"], row["controller"], row["port"]) == (chip, controller, port)
        assert row["where"] == (f"{controller} port {port}" if port else controller)
        assert row["notes"]
    assert rows["stm32h743i-eval"]["where"] == "QUADSPI dual-flash"
    text = run("boards").output
    line = next(t for t in text.splitlines() if t.startswith("stm32h7s78-dk "))
    assert "MX66UW1G45G" in line and "XSPI2 port 2" in line


@pytest.fixture(scope="module")
def kit_loader(build_elf: Any) -> Any:
    """The HAL-style test loader for a kit, built from the board file's wiring."""

    def build(name: str, mode: str) -> Path:
        b = board.load(name)
        (mem,) = b.memories
        desc: dict[str, Any] = {"mcu": b.mcu_name, "chip": mem.chip, "mode": mode,
                                "controller": mem.controller,
                                "pins": {w.signal: (w.pin, w.af) for w in mem.wires}}
        if mem.port is not None:
            desc["port"] = mem.port
        lb = ob.loader_build(desc, f"{name}-{mode}")
        return Path(build_elf(lb.name, lb.sources, lb.linker_script, cflags=lb.cflags,
                              ldflags=lb.ldflags, cpu=lb.cpu))

    return build


@pytest.mark.parametrize("name", HAL_KITS)
def test_hal_style_loader_programs_and_verifies_with_board(name: str, kit_loader: Any,
                                                          tmp_path: Path) -> None:
    loader = kit_loader(name, "dtr")
    window = KITS[name][3]
    data = random.Random(name).randbytes(0x2345)  # a partial last page, odd length
    image = tmp_path / "image.bin"
    image.write_bytes(data)
    where = ["-l", str(loader), "--board", name, "--flash-file", str(tmp_path / "chip.bin")]
    address = hex(window + 0x10001)  # odd: 8D moves whole 16-bit words
    result = run("program", *where, "--address", address, "--verify", "--json", str(image))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["verified"]
    back = tmp_path / "back.bin"
    result = run("read", *where, "--address", address, "--size", str(len(data)), "-o", str(back))
    assert result.exit_code == 0, result.output
    assert back.read_bytes() == data


@pytest.mark.parametrize("mode", ["dtr", "str"])
@pytest.mark.parametrize("name", HAL_KITS)
def test_conformance_test_passes_on_the_kit(name: str, mode: str, kit_loader: Any) -> None:
    """Every check passes, none warns: memory-mapped after Init, Verify and CheckSum read the
    window byte by byte (odd addresses in 8D), STR loaders leave DQS unrouted."""
    result = run("test", str(kit_loader(name, mode)), "--board", name, "--timing", "instant",
                 "--json")
    report = json.loads(result.stdout)
    troubles = [(c["name"], c["detail"]) for c in report["checks"]
                if c["status"] not in ("pass", "info")]
    assert result.exit_code == 0 and report["passed"] and not troubles, troubles


@pytest.mark.parametrize("name", sorted(KITS))
def test_new_writes_a_loader_that_passes_on_the_kit(name: str, tmp_path: Path) -> None:
    out = tmp_path / "loader.stldr"
    result = run("new", "--board", name, "-o", str(out))
    assert result.exit_code == 0, result.output
    result = run("test", str(out), "--board", name, "--timing", "instant", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["passed"], result.output
