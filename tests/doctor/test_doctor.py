"""`extflash doctor` against each failure the virtual probe can play: its words and exit code.

Each case is a board file (a shipped board plus ``supply`` and a ``[faults]`` table) opened
through the virtual probe ``virtual:<board file>``, as a user would point the doctor at a board.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from extflash import board
from extflash.cli import main

NUCLEO = "nucleo-h743zi-w25q128"  # pyOCD's built-in H743 target always connects under reset
DISCO = "stm32h747i-disco"  # no built-in target: the generic cortex_m connects as asked


def board_file(tmp_path: Path, base: str, faults: str = "", supply: str = "ldo") -> str:
    """``base`` with a supply scheme and a [faults] table, as a board file."""
    text = (board._boards_dir() / f"{base}.toml").read_text(encoding="utf-8")
    head, sep, tail = text.partition("\n[")
    path = tmp_path / f"{base}-faulty.toml"
    path.write_text(f'{head}\nsupply = "{supply}"\n{sep}{tail}'
                    + (f"\n[faults]\n{faults}\n" if faults else ""), encoding="utf-8")
    return str(path)


def doctor(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["doctor", *args])
    assert "Traceback" not in res.output, res.output
    return res.exit_code, res.output


def doctor_on(tmp_path: Path, base: str, faults: str = "", *args: str) -> tuple[int, str]:
    return doctor("--probe", f"virtual:{board_file(tmp_path, base, faults)}", *args)


# (board, [faults], exit code, words the report must hold)
CASES = [
    (NUCLEO, "probe_busy = true", 3, "another program holds it"),
    (NUCLEO, 'probe_firmware = "V2J20S4"', 3, "probe firmware V2J20S4 is too old"),
    (DISCO, 'probe_firmware = "V2J25S4"', 0, "the Cortex-M4 of the STM32H747 (AP3) cannot be"),
    (DISCO, "max_swd_hz = 1_000_000", 0, "a lower SWD frequency made the difference"),
    (DISCO, 'low_power = "stop"\ndbgmcu_low_power = true', 0, "ok  normal connection"),
    (NUCLEO, "rdp = 1", 1, "read-protected: RDP level 1 (option byte 0xBB)"),
    (NUCLEO, "rdp = 2", 3, "RDP level 2"),
    (NUCLEO, "boot_address = 0x08100000", 0, "0x08100000 points at erased memory"),
    (NUCLEO, "iwdg_hardware = true", 0, "IWDG1_SW = 1"),
]


@pytest.mark.parametrize(("base", "faults", "code", "words"), CASES)
def test_case(tmp_path, base, faults, code, words):
    found, out = doctor_on(tmp_path, base, faults)
    assert found == code and words in out, out


def test_a_healthy_board(tmp_path):
    code, out = doctor_on(tmp_path, NUCLEO)
    assert code == 0, out
    assert "STM32H742/743/745/747/750/753/755/757 (DEV_ID 0x450), revision Y" in out
    assert "flash size: 2048 KiB" in out and "Cortex-M7 halted" in out
    assert "rdp 0xAA (level 0), iwdg software, boot_add0 0x08000000" in out
    assert "the board is ready for extflash" in out


def test_json_report(tmp_path):
    code, out = doctor_on(tmp_path, NUCLEO, "iwdg_hardware = true", "--json")
    data = json.loads(out)
    assert code == 0 and data["schema"].startswith("extflash.doctor") and data["ok"]
    assert data["chip"]["option_bytes"]["iwdg"] == "hardware"
    assert "iwdg-hardware" in [f["code"] for f in data["findings"]]


def test_the_mcu_is_needed():
    code, out = doctor()
    assert code == 2 and "extflash doctor needs the MCU: --mcu PART or --board NAME" in out


def test_no_probe_on_the_board(tmp_path):
    code, out = doctor_on(tmp_path, NUCLEO, "no_probe = true")
    assert code == 3 and "no debug probe found" in out


def test_no_probe():
    code, out = doctor("--probe", "virtual:no-such-board", "--mcu", "STM32H743ZI")
    assert code == 3 and "no debug probe found with ID 'virtual:no-such-board'" in out
    assert "udev rules" in out


@pytest.mark.parametrize(("volts", "words"), [("0.0", "no target voltage: the probe measures "
                                                       "0.00 V"),
                                              ("1.2", "target voltage too low: 1.20 V")])
def test_target_voltage(tmp_path, volts, words):
    code, out = doctor_on(tmp_path, NUCLEO, f"target_voltage = {volts}")
    assert code == 3 and words in out and "normal connection" not in out


@pytest.mark.parametrize("faults", ["swd_remapped = true", 'low_power = "stop"'])
def test_application_silences_swd_under_reset_makes_the_difference(tmp_path, faults):
    code, out = doctor_on(tmp_path, DISCO, faults)
    assert code == 0, out
    assert "FAIL normal connection: no answer at 4 MHz" in out
    assert "connecting under reset made the difference" in out
    assert "use --connect under-reset" in out and "DBGMCU" in out


def test_supply_lockup_and_its_recovery(tmp_path):
    code, out = doctor_on(tmp_path, NUCLEO, 'app_supply = "smps"')
    assert code == 3, out
    assert "not even under reset" in out and "H7 supply lock-up" in out and "board's ldo" in out
    assert "hold NRST: no DPIDR with NRST held either" in out
    assert "BOOT0 high" in out and "power it again" in out and "erase" in out
    # the recovery: BOOT0 high, the system bootloader runs instead of the application
    code, out = doctor_on(tmp_path, NUCLEO, 'app_supply = "smps"\nboot0 = true')
    assert code == 0, out


def test_supply_lockup_only_after_the_next_power_on():
    from extflash.probe import VirtualSystem

    system = VirtualSystem.for_board(NUCLEO)
    system.supply = "ldo"
    system.inject(app_supply="smps")  # the application writes PWR_CR3 now ...
    assert system.dp.answering  # ... and this session goes on
    system.power_cycle()
    assert not system.dp.answering and system.silent_reason == "supply lock-up"
    system.inject(boot0=True)
    system.power_cycle()
    assert system.dp.answering


def test_boot_address_in_the_unmapped_external_window(tmp_path):
    code, out = doctor_on(tmp_path, NUCLEO, "boot_address = 0x90000000")
    assert code == 0, out
    assert "boot_add0 0x90000000" in out
    assert "points into the external-memory window, which nothing maps at reset" in out


def test_dual_core_option_bytes(tmp_path):
    code, out = doctor_on(tmp_path, DISCO)
    assert code == 0, out
    assert "bcm4 1" in out and "the Cortex-M4 boots (BCM4 = 1)" in out
    code, out = doctor_on(tmp_path, DISCO, "bcm4 = false")
    assert "bcm4 0" in out and "the Cortex-M4 does not boot (option byte BCM4 = 0)" in out


def test_unknown_fault_is_a_clear_error(tmp_path):
    code, out = doctor_on(tmp_path, NUCLEO, "smoke = true")
    assert code == 3 and "unknown fault 'smoke'" in out


def test_target_probe_failure_runs_the_walk(tmp_path, gen_loader):
    stldr = str(gen_loader(board.load(DISCO)).stldr)
    faulty = board_file(tmp_path, DISCO, "swd_remapped = true")
    res = CliRunner().invoke(main, ["checksum", "--loader", stldr, "--target", "probe",
                                    "--probe", f"virtual:{faulty}",
                                    "--board", DISCO, "--address", "0x90000000", "--size", "16"])
    assert res.exit_code == 3, res.output
    assert "no target answers" in res.output
    assert "extflash doctor: the normal connection got no answer; connecting under reset made " \
           "the difference" in res.output


def test_target_probe_failure_names_the_board_supply(tmp_path, gen_loader):
    stldr = str(gen_loader(board.load(NUCLEO)).stldr)
    faulty = board_file(tmp_path, NUCLEO, 'app_supply = "smps"')
    res = CliRunner().invoke(main, ["checksum", "--loader", stldr, "--target", "probe",
                                    "--probe", f"virtual:{faulty}", "--board", faulty,
                                    "--address", "0x90000000", "--size", "16"])
    assert res.exit_code == 3, res.output
    assert "H7 supply lock-up" in res.output and "board's ldo" in res.output



def test_hardware_watchdog_resets_an_erase(tmp_path, gen_loader):
    """The doctor's IWDG warning is what `program` then meets: the erase is cut by a reset."""
    stldr = str(gen_loader(board.load(NUCLEO)).stldr)
    app = tmp_path / "app.bin"
    app.write_bytes(bytes(range(256)) * 64)
    faulty = board_file(tmp_path, NUCLEO, "iwdg_hardware = true\niwdg_timeout_s = 0.02")
    res = CliRunner().invoke(main, ["program", str(app), "--address", "0x90000000",
                                    "--loader", stldr, "--target", "probe", "--probe",
                                    f"virtual:{faulty}", "--mcu", "STM32H743ZI", "-q"])
    assert res.exit_code == 1, res.output
    assert "was cut short by a reset of the chip" in res.output
    assert "DHCSR.S_RESET_ST" in res.output and "IWDG" in res.output
