"""Mutated real loaders: open() returns a Loader or raises LoaderFormatError, and info/lint on
what it returns do not crash either. Bounded: a few hundred examples, no deadline."""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extflash import loader
from extflash.errors import LoaderFormatError
from extflash.loader import elf
from extflash.loader.lint import lint

LoaderFile = Callable[[str], Path]
SEEDS = ("h7-info0", "f7-cubeide", "h7-stripped", "g4-keil-size0", "flm", "l4-rwpi")


def _field_offsets(data: bytes) -> list[tuple[int, str]]:
    """Header, section-header and symbol fields worth overwriting (offset, struct format)."""
    parsed = elf.parse(data, "seed")
    fields = [(32, "<I"), (48, "<H"), (50, "<H"), (28, "<I"), (44, "<H"), (24, "<I")]
    shoff = struct.unpack_from("<I", data, 32)[0]
    for sec in parsed.sections:
        base = shoff + sec.index * 40
        fields += [(base, "<I"), (base + 16, "<I"), (base + 20, "<I"), (base + 24, "<I"),
                   (base + 12, "<I")]
    symtab = next((s for s in parsed.sections if s.type == elf.SHT_SYMTAB), None)
    if symtab is not None:
        for i in range(1, symtab.size // 16):
            at = symtab.offset + i * 16
            fields += [(at, "<I"), (at + 4, "<I"), (at + 8, "<I"), (at + 14, "<H")]
    return fields


def _check(data: bytes) -> None:
    try:
        ld = loader.from_bytes(data, "fuzzed.stldr")
    except LoaderFormatError:
        return
    loader.render_info(loader.info_dict(ld))
    for mcu_name in (None, "STM32H743ZI"):
        lint(ld, mcu_name)
    if ld.kind == "flm":
        with contextlib.suppress(LoaderFormatError):
            ld.relocate(0x20000000)


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 30), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 30), st.just(0)),
    st.tuples(st.just("field"), st.integers(0, 1 << 30),
              st.sampled_from([0, 1, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x1000, 200, 136])),
)


@pytest.fixture(scope="module")
def seeds(loader_file: LoaderFile) -> list[tuple[bytes, list[tuple[int, str]]]]:
    out = []
    for name in SEEDS:
        data = loader_file(name).read_bytes()
        out.append((data, _field_offsets(data)))
    return out


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed_index=st.integers(0, len(SEEDS) - 1), mutations=st.lists(mutation, min_size=1,
                                                                      max_size=3))
def test_mutated_loaders_never_crash(seeds: list[tuple[bytes, list[tuple[int, str]]]],
                                     seed_index: int,
                                     mutations: list[tuple[str, int, int]]) -> None:
    data, fields = seeds[seed_index]
    blob = bytearray(data)
    for kind, where, value in mutations:
        if kind == "flip" and blob:
            blob[where % len(blob)] ^= 1 << value
        elif kind == "truncate":
            del blob[where % (len(blob) + 1):]
        elif kind == "field":
            offset, fmt = fields[where % len(fields)]
            if offset + struct.calcsize(fmt) <= len(blob):
                struct.pack_into(fmt, blob, offset, value & (0xFFFF if fmt == "<H" else
                                                             0xFFFFFFFF))
    _check(bytes(blob))
