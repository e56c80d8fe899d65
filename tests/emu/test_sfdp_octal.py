"""SFDP of octal chips: read with 0x5A, parsed the JESD216 way by the project's parser, and
then used to drive the chip. If the tables did not describe the chip, the chip would not answer."""

from __future__ import annotations

import pytest
from test_nor import addr_cmd, last, make, op
from test_nor_octal import PATTERN

from extflash import chips
from extflash.emu.flash import sfdp
from extflash.emu.flash.nor import NorFlash
from extflash.emu.flash.octal import swap_pairs
from extflash.emu.spi import SpiCommand

OCTAL_WITH_SFDP = [c.name for c in chips.all() if c.octal and c.sfdp]


def read_sfdp(chip: NorFlash) -> bytes:
    return chip.transfer(addr_cmd(0x5A, 0, dummy=8, read=1024))


def send_spi(chip: NorFlash, command: bytes) -> None:
    """A write-type command as a host plays it from the sequence table (1S-1S-1S)."""
    if len(command) == 1:
        chip.transfer(op(command[0]))
    else:
        address = command[1:-1]
        chip.transfer(addr_cmd(command[0], int.from_bytes(address, "big"), width=len(address),
                               data=command[-1:]))
    assert last(chip) == ("ok", "")


def pair(opcode: int, extension: str) -> int:
    return opcode << 8 | (opcode ^ 0xFF if extension == "inverted" else opcode)


@pytest.mark.parametrize("name", OCTAL_WITH_SFDP)
def test_sfdp_alone_gets_a_host_to_8d_and_back_the_data(name: str) -> None:
    chip = make(name, timing="instant")
    chip.memory[0x80 : 0x80 + len(PATTERN)] = PATTERN
    info = sfdp.parse(read_sfdp(chip))
    octal = info.octal
    assert info.version == (1, 8) and octal is not None
    assert info.size == chip.spec.size
    assert octal.octal_dtr_volatile is True
    assert octal.sector_regions == ((chip.spec.size, (1 << len(chip.spec.erases)) - 1),)
    for command in octal.enter_8d:
        send_spi(chip, command)
    assert chip.protocol == "8D"
    assert octal.read_8d_opcode is not None
    read = SpiCommand(pair(octal.read_8d_opcode, octal.opcode_extension), instruction_lines=8,
                      instruction_bytes=2, instruction_dtr=True, address=0x80, address_bytes=4,
                      address_lines=8, address_dtr=True, dummy_cycles=octal.dummy_by_mhz[200],
                      data_lines=8, ddr=True, dqs=True, read_length=16)
    bus = chip.transfer(read)
    assert (swap_pairs(bus) if octal.dtr_byte_swapped else bus) == PATTERN[:16]
    spec_octal = chip.spec.octal
    assert spec_octal is not None
    assert octal.status_address_bytes == spec_octal.register_address_bytes
    assert octal.status_dummy == (8 if spec_octal.register_dummy["8D"] >= 8 else 4)
    assert octal.max_mhz["8D"] == max(r.max_mhz for r in spec_octal.reads if r.state == "8D")


def test_quad_chips_keep_the_jesd216b_layout() -> None:
    info = sfdp.parse(sfdp.build(chips.find("W25Q128JV")))
    assert info.version == (1, 6) and info.octal is None


@pytest.mark.parametrize("table", ["xspi", "sccr", "sector-map", "8d-sequence", "4bait"])
def test_tables_can_be_omitted(table: str) -> None:
    spec = chips.find("MX25LM51245G")
    full = sfdp.parse(sfdp.build(spec))
    info = sfdp.parse(sfdp.build(spec, omit=(table,)))
    assert info.size == full.size and info.octal is not None
    if table == "xspi":
        assert info.octal.read_8d_opcode is None
    elif table == "sccr":
        assert info.octal.octal_dtr_volatile is None
    elif table == "sector-map":
        assert info.octal.sector_regions == ()
    elif table == "8d-sequence":
        assert info.octal.enter_8d == ()
    else:
        assert info.four_byte_opcodes == ()


@pytest.mark.parametrize(("corrupt", "message"), [
    (("signature",), "no SFDP signature"),
    (("bfpt",), "runs past the image"),
])
def test_corrupted_images_get_one_clear_error(corrupt: tuple[str, ...], message: str) -> None:
    chip = make("MX25LM51245G")
    chip.sfdp_image = sfdp.build(chip.spec, corrupt=corrupt)
    with pytest.raises(sfdp.SfdpError, match=message):
        sfdp.parse(read_sfdp(chip))


def test_a_broken_optional_table_is_skipped_and_reported() -> None:
    """As hosts do (Linux: "Failed to parse optional parameter table"), the rest still counts."""
    chip = make("MX25LM51245G")
    chip.sfdp_image = sfdp.build(chip.spec, corrupt=("xspi",))
    info = sfdp.parse(read_sfdp(chip))
    assert info.problems == ("table 0xFF05 runs past the image (skipped)",)
    assert info.octal is not None and info.octal.read_8d_opcode is None
    assert info.octal.enter_8d and info.size == chip.spec.size


def test_register_map_names_the_volatile_register_base() -> None:
    info = sfdp.parse(sfdp.build(chips.find("S28HS512T")))
    assert info.octal is not None and info.octal.volatile_register_offset == 0x800000


def test_bfpt_omitted_is_no_sfdp() -> None:
    with pytest.raises(sfdp.SfdpError):
        sfdp.parse(sfdp.build(chips.find("MX25LM51245G"), omit=("bfpt",)))


def test_unknown_table_name() -> None:
    with pytest.raises(ValueError, match="unknown SFDP tables"):
        sfdp.build(chips.find("MX25LM51245G"), omit=("vendor",))


def test_sfdp_is_not_served_in_octal_states() -> None:
    chip = make("MX25LM51245G", timing="instant")
    for command in sfdp.parse(read_sfdp(chip)).octal.enter_8d:  # type: ignore[union-attr]
        send_spi(chip, command)
    assert read_sfdp(chip)[:4] == b"\xff" * 4  # hosts read SFDP before switching
