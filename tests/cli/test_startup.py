"""Start-up: ``--version``, ``--help`` and ``info`` load neither the emulator nor the diagnostics
nor pyOCD. Each case runs in a fresh interpreter, where sys.modules shows what was imported."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import extflash
from extflash import board
from extflash.cli import UsageError

HEAVY = ("unicorn", "pyocd", "extflash.emu", "extflash.diagnose", "extflash.probe")

PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in sys.modules if m.startswith({heavy!r}))))
"""


def heavy_modules(body: str) -> list[str]:
    script = PROBE.format(body=body, heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    return list(json.loads(out.splitlines()[-1]))


def cli_run(*args: str) -> str:
    return f"""
from extflash.cli import main
try:
    main({list(args)!r})
except SystemExit:
    pass
"""


def test_importing_the_cli_loads_no_emulator() -> None:
    assert heavy_modules("import extflash.cli") == []


def test_importing_the_package_loads_no_emulator_until_used() -> None:
    assert heavy_modules("import extflash; extflash.__version__") == []
    assert "unicorn" in heavy_modules("import extflash; extflash.diagnose")


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["program", "--help"]])
def test_version_and_help_load_no_emulator(args: list[str]) -> None:
    assert heavy_modules(cli_run(*args)) == []


def test_info_loads_no_emulator(gen_loader: Any) -> None:
    stldr = Path(gen_loader(board.load("weact-h743")).stldr)
    assert heavy_modules(cli_run("info", str(stldr), "--json")) == []


def test_the_console_script_ends_once_everything_is_written() -> None:
    """``run`` skips the interpreter's teardown: exit handlers still run, every line is out and
    the exit code is the command's."""
    script = ("import atexit, sys\n"
              "from extflash.cli import run\n"
              "atexit.register(lambda: print('exit handler ran'))\n"
              "sys.argv = ['extflash', *sys.argv[1:]]\n"
              "run()\n")
    ok = subprocess.run([sys.executable, "-c", script, "--version"], capture_output=True,
                        text=True, check=False)
    assert ok.returncode == 0
    assert ok.stdout.splitlines() == [f"extflash, version {extflash.__version__}",
                                      "exit handler ran"]
    bad = subprocess.run([sys.executable, "-c", script, "no-such-command"], capture_output=True,
                         text=True, check=False)
    assert bad.returncode == UsageError.exit_code != 0
    assert "no command 'no-such-command'" in bad.stderr
    assert bad.stdout == "exit handler ran\n"


def test_a_profiled_command_line_ends_as_usual(tmp_path: Path) -> None:
    """With a profiler attached the console script leaves the interpreter's ending alone:
    ``python -m cProfile`` writes its report after the script returns."""
    report = tmp_path / "profile"
    script = Path(sys.executable).with_name("extflash")
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(report), str(script),
                    "--version"], capture_output=True, check=True)
    assert report.stat().st_size > 0


def test_the_collector_skips_start_up_objects_once_a_session_is_open(gen_loader: Any,
                                                                     tmp_path: Path) -> None:
    """The console script raises the young generation's threshold for the start-up; once the
    operation's session is open the objects made so far are frozen (the collector no longer
    walks them) and the interpreter's own threshold is back for what the operation makes."""
    stldr = Path(gen_loader(board.load("weact-h743")).stldr)
    script = ("import atexit, gc, json, sys\n"
              "from extflash.cli import run\n"
              "atexit.register(lambda: print(json.dumps([gc.get_threshold()[0],"
              " gc.get_freeze_count()])))\n"
              "sys.argv = ['extflash', *sys.argv[1:]]\n"
              "run()\n")
    default = gc.get_threshold()[0]
    out = tmp_path / "back.bin"
    read = subprocess.run([sys.executable, "-c", script, "read", "-l", str(stldr), "--board",
                           "weact-h743", "--address", "0x90000000", "--size", "16", "-o",
                           str(out)], capture_output=True, text=True, check=True)
    threshold, frozen = json.loads(read.stdout.splitlines()[-1])
    assert threshold == default and frozen > 10_000
    assert out.read_bytes() == b"\xff" * 16
    version = subprocess.run([sys.executable, "-c", script, "--version"], capture_output=True,
                             text=True, check=True)
    threshold, frozen = json.loads(version.stdout.splitlines()[-1])
    assert threshold > default and frozen == 0


def test_cached_data_files_need_neither_the_toml_parser_nor_openssl(tmp_path: Path) -> None:
    """A command whose board, chip and family files were parsed before reads them back from the
    cache: it imports no TOML parser, and names cache entries without loading OpenSSL."""
    script = ("import json, sys\n"
              "from extflash import board\n"
              "board.load('stm32h735g-dk').memories\n"
              "print(json.dumps(sorted(m for m in ('tomllib', '_hashlib', 'hashlib', 'difflib')"
              " if m in sys.modules)))\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}

    def imported() -> list[str]:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True, env=env).stdout
        return list(json.loads(out.splitlines()[-1]))

    assert "tomllib" in imported()  # the first run parses and fills the cache
    assert imported() == []
