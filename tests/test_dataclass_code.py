"""The dataclass methods of extflash's classes come from the per-user cache of compiled code
(extflash/dataclass_code.py): the same behaviour as compiled at each start, written once, read
back by the next process, a damaged file passed by, and other modules' classes left alone."""

from __future__ import annotations

import dataclasses
import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from extflash import dataclass_code

SOURCE = """
from __future__ import annotations
import dataclasses

@dataclasses.dataclass(frozen=True)
class Frozen:
    name: str
    size: int = 4
    parts: tuple[int, ...] = ()

@dataclasses.dataclass
class Plain:
    items: list[int] = dataclasses.field(default_factory=list)
    count: int = 0
"""


def define(module: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": module}
    sys.modules[module] = type(sys)(module)
    try:
        exec(compile(SOURCE, f"<{module}>", "exec"), namespace)
    finally:
        del sys.modules[module]
    return namespace


def behaviour(ns: dict[str, Any]) -> list[Any]:
    frozen, plain = ns["Frozen"]("a", parts=(1, 2)), ns["Plain"]()
    plain.items.append(3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen.size = 5
    return [repr(frozen), frozen == ns["Frozen"]("a", 4, (1, 2)), hash(frozen) == hash(
        ns["Frozen"]("a", 4, (1, 2))), repr(plain), plain == ns["Plain"]([3]),
        ns["Plain"]().items is not ns["Plain"]().items, dataclasses.astuple(frozen)]


def test_cached_methods_behave_as_compiled_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataclass_code, "_codes", {})
    monkeypatch.setattr(dataclass_code, "_used", set())
    ours = define("extflash.example")
    assert len(dataclass_code._codes) >= 6  # Frozen's six methods, Plain's three
    cached = define("extflash.example")  # now from the cache
    stock = define("someone.else")
    assert behaviour(ours) == behaviour(cached) == behaviour(stock)
    assert ours["Frozen"].__init__.__code__.co_code == stock["Frozen"].__init__.__code__.co_code


def test_other_modules_classes_are_compiled_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataclass_code, "_codes", {})
    define("someone.else")
    assert dataclass_code._codes == {}


def run(cache_home: Path) -> str:
    script = ("import extflash.api, extflash.emu.machine\n"
              "from extflash import dataclass_code as d\n"
              "print(d._added, len(d._used))\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True).stdout.split()


def test_the_next_process_compiles_nothing(tmp_path: Path) -> None:
    added, used = run(tmp_path)
    file = Path(tmp_path / "extflash" / f"dataclass-code-{sys.implementation.cache_tag}.bin")
    assert added == "True" and int(used) > 50 and file.stat().st_size > 0
    assert run(tmp_path) == ["False", used]
    file.write_bytes(b"\x00damaged")
    assert run(tmp_path) == ["True", used]  # passed by, and written anew
    assert run(tmp_path) == ["False", used]


def test_texts_no_process_used_in_the_last_writes_leave_the_file(tmp_path: Path) -> None:
    """A class that changed leaves its old texts behind: the file keeps a text while a process
    among those that wrote it the last KEEP_SAVES times used it."""
    file = Path(tmp_path / "extflash" / f"dataclass-code-{sys.implementation.cache_tag}.bin")
    _added, used = run(tmp_path)
    texts = marshal.loads(file.read_bytes())
    stale = {f"{text}\n# an older version of the class": entry
             for text, entry in list(texts.items())[:20]}
    first = next(iter(texts))
    for n in range(dataclass_code.KEEP_SAVES):
        held = {**marshal.loads(file.read_bytes()), **(stale if n == 0 else {})}
        del held[first]  # the process compiles it again, so it writes the file
        file.write_bytes(marshal.dumps(held))
        assert run(tmp_path) == ["True", used]
        left = marshal.loads(file.read_bytes())
        assert set(texts) == set(left) - set(stale)
        assert bool(set(stale) & set(left)) == (n < dataclass_code.KEEP_SAVES - 1)


def test_every_dataclass_of_the_package_has_a_docstring() -> None:
    """``@dataclass`` writes a class without a docstring one from ``inspect.signature(cls)``
    when the class is defined: 5.5 ms of the command line's imports for the 62 classes
    ``extflash program`` defined without one. So each class says what it is."""
    import ast

    missing = []
    for path in sorted((Path(dataclass_code.__file__).parent).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.ClassDef) and ast.get_docstring(node) is None
                    and any(ast.unparse(d).split("(")[0] in ("dataclass", "dataclasses.dataclass")
                            for d in node.decorator_list)):
                missing.append(f"{path.name}:{node.lineno} {node.name}")
    assert not missing, missing
