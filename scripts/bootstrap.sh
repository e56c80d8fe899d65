#!/usr/bin/env bash
# Sets up everything extflash needs on a Debian/Ubuntu machine:
#   1. the Arm GNU toolchain (arm-none-eabi-gcc) that builds loaders, and a host C compiler
#      for the virtual board's native fast path, from Debian's packages,
#      Debian's chromium, the headless browser the HTML report's tests open pages in, and
#      gdb-multiarch, which the GDB server's tests drive;
#   2. a virtual environment in .venv with extflash and its development tools.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.extflash-installed

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

install_toolchain() {
    local packages=()
    command -v arm-none-eabi-gcc >/dev/null 2>&1 \
        || packages+=(gcc-arm-none-eabi libnewlib-arm-none-eabi)
    command -v "${CC:-cc}" >/dev/null 2>&1 || packages+=(gcc libc6-dev)
    # The HTML report's tests open the pages in a headless browser (tests/report).
    command -v chromium >/dev/null 2>&1 || packages+=(chromium)
    # The GDB server's tests drive a real gdb-multiarch (tests/xip).
    command -v gdb-multiarch >/dev/null 2>&1 || packages+=(gdb-multiarch)
    if [ ${#packages[@]} -eq 0 ]; then
        return
    fi
    say "installing ${packages[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        die "this machine has no apt-get. Install the Arm GNU toolchain (arm-none-eabi-gcc 12 or later)
       and a host C compiler (cc) with your package manager (macOS: 'brew install --cask gcc-arm-embedded'; Fedora:
       'dnf install arm-none-eabi-gcc-cs arm-none-eabi-newlib'), put it on PATH and run this again."
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo"
        else
            die "installing the toolchain needs root. Run:
       sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}
       then run this command again."
        fi
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${packages[@]}" >/dev/null
    command -v arm-none-eabi-gcc >/dev/null 2>&1 || die "the toolchain install did not provide arm-none-eabi-gcc"
    command -v "${CC:-cc}" >/dev/null 2>&1 || die "the install did not provide a host C compiler (${CC:-cc})"
}

install_python() {
    "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "extflash needs Python 3.11 or later ($PY is $("$PY" --version 2>&1))"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtual environment $VENV"
        "$PY" -m venv "$VENV" || die "could not create a virtual environment; on Debian/Ubuntu: apt-get install python3-venv"
    fi
    if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
        say "installing extflash and its development tools into $VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
        touch "$STAMP"
    fi
}

install_toolchain
install_python
say "ready: $("$VENV/bin/extflash" --version), $(arm-none-eabi-gcc --version | head -n 1)"
