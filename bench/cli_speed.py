"""The main job as a user runs it: ``extflash program … --verify`` and ``extflash read`` through
the command line, default timing and default diagnostics, on the virtual board (``make bench``).

For each board (the NUCLEO-H743ZI's QUADSPI and the STM32H735G-DK's OCTOSPI with its octal
MX25LM51245G in 8D-8D-8D) and each loader style:

* HAL-style: tests/firmware/halstyle, written like CubeMX/community loaders (byte-wise DR with
  FTF polling, auto-polling WEL/WIP, 64 KiB sectors, SysTick interrupt tick); on OCTOSPI the
  HAL-order driver of tests/firmware/ospi_hal on the H735G-DK wiring with a W25Q128 (an
  OCTOSPI kit of bench/ospi_cli_speed.py);
* word-wise: the generator's loader (32-bit DR accesses), on both boards;
* register-level: tests/firmware/faulty built without faults (NUCLEO-H743ZI wiring only; byte-wise
  DR with FTF polling, each page read back and compared, 4 KiB erases), and on OCTOSPI the
  word-wise register-level variant of tests/firmware/ospi_hal;

each held to the target of its DR width: 8-bit DR (the HAL-style and QUADSPI register-level
loaders) >= 10 MB/s, 32-bit DR (the generator's, the OCTOSPI register-level) >= 30 MB/s;

it programs and verifies an N MiB image through the CLI (a new process, as a user runs it,
start-up included), then does the same program through ``api.open_session`` as a Python script
in a new process and in this process (the CLI's overhead over the API, with and without the
interpreter's start-up and the imports), reads the programmed chip back through the CLI (through the
memory-mapped window once a first ``Read()`` and the window agree) and through the loader's
``Read()`` alone (API). Last, the start-up
time of ``extflash --version`` against a bare ``python -c pass``. One run prints every figure,
each MB/s target marked met (+) or missed (-), and ends with the verdicts: the CLI's overhead
over the same program as an API script, and the targets this run missed.

Each figure is the fastest of ``--runs`` runs (3): this shared 2-core host's speed moves by 10-20 %
from one run to the next, and the CLI's and the API script's runs alternate, so the CLI's
overhead compares the two at the same moments.

MB/s is 10^6 bytes per wall second. Virtual s is the target time the CLI reports (datasheet
typical chip times): the machine fast-forwards busy polling, so wall time is the emulator's own.

    .venv/bin/python bench/cli_speed.py [--mib 16] [--runs 3] [--board NAME ...]
                                        [--styles hal,word,reg]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "tests" / "firmware"
sys.path[:0] = [str(ROOT / "bench"), str(FIRMWARE), str(ROOT / "tests" / "emu"),
                str(ROOT / "tests")]

from run import build_halstyle  # noqa: E402

from extflash import api, board, gen  # noqa: E402
from extflash.image import Chunk, from_chunks  # noqa: E402
from extflash.toolchain import find_toolchain  # noqa: E402

EXTFLASH = [str(Path(sys.executable).with_name("extflash"))]  # the console script users run
REGISTER_LEVEL_BOARD = "nucleo-h743zi-w25q128"  # the wiring tests/firmware/faulty is written for
BOARDS = ("nucleo-h743zi-w25q128", "stm32h735g-dk")  # QUADSPI; OCTOSPI (octal chip, 8D)
OSPI_KITS = ("h735-w25q128", "h735-w25q128-ll")  # OCTOSPI1 on H735G-DK wiring
# program+verify by the loader's DR width (8-bit: "byte", 32-bit: "word"), then the reads
TARGETS = {"byte": 10.0, "word": 30.0, "read-window": 50.0, "read-loader": 20.0}
DR_WIDTH = {"hal": "byte", "word": "word", "reg": "byte"}  # the QUADSPI loader styles


@dataclass
class Row:
    board: str
    loader: str
    what: str
    nbytes: int
    wall_s: float
    virtual_s: float | None = None
    target: float | None = None
    note: str = ""
    cpu_s: float | None = None  # CPU seconds of the process(es) doing it

    @property
    def mb_s(self) -> float:
        return self.nbytes / self.wall_s / 1e6 if self.wall_s else float("inf")

    @property
    def cpu_mb_s(self) -> float | None:
        return self.nbytes / self.cpu_s / 1e6 if self.cpu_s else None


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: on a shared host it moves far less
    with other jobs' load than wall time does."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def build_register_level(out: Path) -> Path:
    elf = out / "register-level.elf"
    flags = ["-mcpu=cortex-m7", "-mthumb", "-Os", "-ffunction-sections", "-fdata-sections",
             "-nostdlib", "-nostartfiles", "-Wall", "-Werror"]
    find_toolchain().build([FIRMWARE / "faulty" / "loader.c"], elf,
                           linker_script=FIRMWARE / "faulty" / "h7.ld", cflags=flags,
                           ldflags=["-lgcc"], include_dirs=[FIRMWARE / "include"],
                           what="register-level loader")
    return elf


def loaders(brd: board.Board, styles: Sequence[str], out: Path) -> list[tuple[str, str, Path]]:
    """(style, label, path) of the loaders to measure on ``brd``."""
    found = []
    quadspi = brd.memories[0].controller == "QUADSPI"  # tests/firmware/halstyle is QUADSPI's
    if "hal" in styles and quadspi:
        found.append(("hal", "HAL-style (8-bit DR)", build_halstyle(brd, out)))
    if "word" in styles:
        stldr = gen.build(gen.plan_loader(brd), out / f"gen-{brd.name}").stldr
        found.append(("word", "generated (32-bit DR)", Path(stldr)))
    if "reg" in styles and brd.name.lower() == REGISTER_LEVEL_BOARD:
        found.append(("reg", "register-level (8-bit DR)", build_register_level(out)))
    return found


def cli(args: Sequence[str]) -> tuple[float, dict[str, Any]]:
    """Wall time of one ``extflash`` process, and its --json result."""
    wall, _cpu, result = cli_timed(args)
    return wall, result


def cli_timed(args: Sequence[str]) -> tuple[float, float, dict[str, Any]]:
    """Wall and CPU time of one ``extflash`` process, and its --json result."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    done = subprocess.run([*EXTFLASH, *args, "--json"], capture_output=True, text=True,
                          check=False)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    if done.returncode != 0:
        raise SystemExit(f"extflash {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return wall, cpu, json.loads(done.stdout)


API_SCRIPT = """
import sys
from pathlib import Path
from extflash import api, board
from extflash.image import Chunk, from_chunks
loader, name, image, base = sys.argv[1:]
img = from_chunks([Chunk(int(base, 0), Path(image).read_bytes(), "bench")], source="bench")
with api.open_session(Path(loader), board=board.load(name)) as s:
    assert s.program(img, verify=True).report.verified
"""


def api_script(loader: Path, board_name: str, image_file: Path, base: int) -> tuple[float, float]:
    """Wall and CPU time of the same program as a Python script in a new process: a user's
    script pays the interpreter's start-up and the imports as the CLI does, and its teardown at
    the end, which the console script skips."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    subprocess.run([sys.executable, "-c", API_SCRIPT, str(loader), board_name, str(image_file),
                    hex(base)], check=True)
    return time.perf_counter() - t0, cpu_seconds() - c0


def startup(command: Sequence[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fastest(timings: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The run with the least wall time (its CPU time and result with it)."""
    return min(timings, key=lambda t: t[0])


def measure(brd: board.Board, style: str, label: str, path: Path, size: int,
            tmp: Path, runs: int) -> list[Row]:
    rows = []
    with api.open_session(path, board=brd) as s:
        base = s.geometry.start
    data = random.Random(1).randbytes(size)
    image_file = tmp / "image.bin"
    image_file.write_bytes(data)
    chip_file = tmp / f"{brd.name}-{style}.chip"  # the programmed chip, for the CLI read
    where = ["-l", str(path), "--board", brd.name, "--flash-file", str(chip_file)]
    program_runs, script_runs = [], []
    for _ in range(runs):  # the CLI and the same program as a script, one after the other
        chip_file.unlink(missing_ok=True)
        program_runs.append(cli_timed(["program", *where, "--address", hex(base), "--verify",
                                       str(image_file)]))
        script_runs.append(api_script(path, brd.name, image_file, base))
    wall, cpu, res = fastest(program_runs)
    assert res["verified"] and res["bytes_written"] == size, res
    mib = size >> 20
    cli_row = Row(brd.name, label, f"CLI program+verify {mib} MiB", size, wall,
                  res["target_time_s"], TARGETS[DR_WIDTH[style]],
                  "new process, start-up included", cpu)
    rows.append(cli_row)
    script_wall, script_cpu = fastest(script_runs)
    rows.append(Row(brd.name, label, f"API script program+verify {mib} MiB", size, script_wall,
                    None, None, "new process, imports included; CLI overhead "
                    f"{wall / script_wall - 1:+.0%} wall, {cpu / script_cpu - 1:+.0%} CPU",
                    script_cpu))
    img = from_chunks([Chunk(base, data, "bench")], source="bench")
    api_runs, loader_runs = [], []
    for _ in range(runs):  # the program, then the loader's Read() of it in the same session
        t0, c0 = time.perf_counter(), cpu_seconds()
        with api.open_session(path, board=brd) as s:
            rep = s.program(img, verify=True).report
            api_runs.append((time.perf_counter() - t0, cpu_seconds() - c0, rep))
            s.driver.begin("read")
            driver: Any = s.driver
            machine = s.target.machine  # type: ignore[attr-defined]
            t_virtual = machine.clock.now_fs
            t0, c0 = time.perf_counter(), cpu_seconds()
            back = driver.read_through_loader(base, size)
            loader_runs.append((time.perf_counter() - t0, cpu_seconds() - c0,
                                (machine.clock.now_fs - t_virtual) / 1e15))
            assert back == data
    api_wall, api_cpu, rep = fastest(api_runs)
    assert rep.verified
    rows.append(Row(brd.name, label, f"API program+verify {mib} MiB", size, api_wall,
                    rep.target_time_s, None, "session opened in-process; CLI overhead "
                    f"{cli_row.wall_s / api_wall - 1:+.0%} wall, {cpu / api_cpu - 1:+.0%} CPU",
                    api_cpu))
    loader_wall, loader_cpu, loader_virtual = fastest(loader_runs)
    loader_row = Row(brd.name, label, f"API read {mib} MiB via Read()", size, loader_wall,
                     loader_virtual, TARGETS["read-loader"],
                     "the loader's Read(); the CLI reads through the window", loader_cpu)
    out = tmp / "back.bin"
    wall, cpu, _ = fastest([cli_timed(["read", *where, "--address", hex(base), "--size",
                                       str(size), "-o", str(out)]) for _ in range(runs)])
    assert out.read_bytes() == data
    rows.append(Row(brd.name, label, f"CLI read {mib} MiB", size, wall, None,
                    TARGETS["read-window"], "the programmed chip; start-up included", cpu))
    rows.append(loader_row)
    return rows


def measure_octospi_kit(name: str, size: int, tmp: Path, runs: int) -> list[Row]:
    """An OCTOSPI/XSPI kit of bench/ospi_cli_speed.py (test loaders of tests/firmware/ospi_hal on
    a board given inline): program+verify and read through the CLI."""
    import ospi_cli_speed as ospi  # imports this module: loaded only when needed

    elf, b = ospi.build(name, tmp)
    kit = ospi.ob.KITS[name]
    register_level = bool(kit.get("register_level", False))
    label = "register-level (32-bit DR)" if register_level else "HAL-style (8-bit DR)"
    image_file = tmp / "image.bin"
    data = random.Random(1).randbytes(size)
    image_file.write_bytes(data)
    where = ["-l", str(elf), "--mcu", kit["mcu"], "--chip", kit["chip"],
             "--pins", ospi.pins(b), "--flash-file", str(tmp / f"{name}.chip")]
    mib = size >> 20
    program_runs = []
    for _ in range(runs):
        (tmp / f"{name}.chip").unlink(missing_ok=True)
        program_runs.append(cli_timed(["program", *where, "--address", hex(b.window),
                                       "--verify", str(image_file)]))
    wall, cpu, res = fastest(program_runs)
    assert res["verified"], res
    rows = [Row(name, label, f"CLI program+verify {mib} MiB", size, wall, res["target_time_s"],
                TARGETS["word" if register_level else "byte"], "new process, start-up included",
                cpu)]
    out = tmp / "back.bin"
    wall, cpu, _ = fastest([cli_timed(["read", *where, "--address", hex(b.window), "--size",
                                       str(size), "-o", str(out)]) for _ in range(runs)])
    assert out.read_bytes() == data
    rows.append(Row(name, label, f"CLI read {mib} MiB", size, wall, None, TARGETS["read-window"],
                    "the programmed chip; start-up included", cpu))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=16, help="image size (default 16 MiB)")
    ap.add_argument("--board", action="append",
                    help="board(s) to measure (default: NUCLEO-H743ZI, QUADSPI, all styles; "
                         "STM32H735G-DK, OCTOSPI, the generator's loader); test loaders on "
                         "other OCTOSPI/XSPI wirings: --ospi-kit")
    ap.add_argument("--styles", default="hal,word,reg",
                    help="loader styles: hal, word, reg (default all)")
    ap.add_argument("--ospi-kit", action="append",
                    help="OCTOSPI/XSPI kits of bench/ospi_cli_speed.py (default: H735 HAL-style "
                         "and register-level; 'none' for none)")
    ap.add_argument("--runs", type=int, default=3,
                    help="each figure is the fastest of so many runs, the CLI's and the API "
                         "script's one after the other (default 3: this host's speed moves by "
                         "10-20 %% from run to run)")
    args = ap.parse_args(argv)
    # the CLI's modules compiled once beforehand, as an installed package ships them
    compileall.compile_dir(ROOT / "src" / "extflash", quiet=1)
    kits = [k for k in (args.ospi_kit or OSPI_KITS) if k != "none"]
    names = args.board or list(BOARDS)
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    size = args.mib << 20
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in names:
            brd = board.load(name)
            for style, label, path in loaders(brd, styles, tmp):
                rows += measure(brd, style, label, path, size, tmp, args.runs)
        for kit in kits:
            rows += measure_octospi_kit(kit, size, tmp, args.runs)
        floor = engine_floor(tmp)
    version = startup([*EXTFLASH, "--version"])
    bare = startup([sys.executable, "-c", "pass"])
    print(f"extflash through the CLI, {args.mib} MiB, typical chip timing, default diagnostics "
          f"(EXTFLASH_NATIVE={os.environ.get('EXTFLASH_NATIVE', 'auto')})")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} "
          "CPUs; MB/s is per wall second, CPU MB/s per CPU second of the process(es); each "
          f"figure the fastest of {args.runs} runs")
    header = (f"{'board':<24} {'loader':<26} {'operation':<32} {'wall s':>7} {'MB/s':>7} "
              f"{'CPU s':>7} {'CPU MB/s':>8} {'target':>7} {'virtual s':>9}  note")
    print(header)
    print("-" * len(header))
    for r in rows:
        # the target and whether this run met it (+) or not (-)
        target = (f"{r.target:6.0f}{'+' if r.mb_s >= r.target else '-'}" if r.target is not None
                  else f"{'':>7}")
        virtual = f"{r.virtual_s:9.3f}" if r.virtual_s is not None else f"{'-':>9}"
        cpu = f"{r.cpu_s:7.2f}" if r.cpu_s is not None else f"{'-':>7}"
        cpu_rate = f"{r.cpu_mb_s:8.2f}" if r.cpu_mb_s is not None else f"{'-':>8}"
        print(f"{r.board:<24} {r.loader:<26} {r.what:<32} {r.wall_s:7.2f} {r.mb_s:7.2f} "
              f"{cpu} {cpu_rate} {target} {virtual}  {r.note}")
    print(f"start-up: extflash --version {version * 1e3:.0f} ms, python -c pass "
          f"{bare * 1e3:.0f} ms ({version / bare:.0f}x; target <= 10x)")
    overheads = []  # the CLI's program over the same program as an API script (target 10 %)
    for r in rows:
        if r.what.startswith("CLI program+verify"):
            script = next((o for o in rows if (o.board, o.loader) == (r.board, r.loader)
                           and o.what.startswith("API script")), None)
            if script is not None:
                overheads.append(r.wall_s / script.wall_s - 1)
    if overheads:
        print(f"CLI overhead over the same program as an API script: "
              f"{', '.join(f'{o:+.0%}' for o in overheads)} (target <= +10 %: "
              f"{sum(o <= 0.10 for o in overheads)} of {len(overheads)} met)")
    missed = [r for r in rows if r.target is not None and r.mb_s < r.target]
    print(f"targets ({'set for 16 MiB; ' if args.mib != 16 else ''}start-up "
          f"{'met' if version <= 10 * bare else 'missed'}): {len(missed)} of "
          f"{sum(r.target is not None for r in rows)} MB/s targets missed"
          + "".join(f"; {r.board} {r.loader} {r.what}: {r.mb_s:.1f} < {r.target:.0f}"
                    for r in missed))
    print(f"engine ceiling (bench/engine_floor.py, 256-byte pages): unicorn alone runs a "
          f"HAL-style byte loop at {floor['plain']:.1f} MB/s, {floor['count']:.1f} MB/s with the "
          "instruction count exact virtual time needs")


def engine_floor(tmp: Path) -> dict[str, float]:
    """MB/s of the engine alone on the HAL-style byte loop (no Python, no chip, no verify)."""
    import engine_floor as ef

    harness, image = ef.build(tmp / "floor")
    plain, _ = ef.measure(harness, image, 1_000_000, 0, 256, 3)
    counted, _ = ef.measure(harness, image, 1_000_000, 1, 256, 3)
    return {"plain": 1e3 / plain, "count": 1e3 / counted}


if __name__ == "__main__":
    main()
