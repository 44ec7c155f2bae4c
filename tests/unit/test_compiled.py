"""The compiled hot path (monitor/compiled.py): used only when built from the current source,
and it gives exactly what plain Python gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import compiled
from monitor.compiled import HOT_PATH, CompiledFinder, compiled_path, status

ROOT = Path(__file__).resolve().parents[2]


def _stand_ins(directory: Path) -> dict[str, Path]:
    """A file named as each hot-path module's current build would be (the finder only looks at names)."""
    made = {}
    for name in HOT_PATH:
        made[name] = directory / f"{name}-{compiled._digest(compiled.source_of(name))}{compiled._SUFFIX}"
        made[name].write_bytes(b"stands for a build")
    return made


def test_a_build_of_another_source_is_never_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Edit a file and its old build must not shadow it: the build's name carries the source's hash."""
    monkeypatch.setenv("WARDWATCH_COMPILED_DIR", str(tmp_path))
    name = "monitor.news2"
    current = _stand_ins(tmp_path)[name]
    current.unlink()
    stale = tmp_path / f"{name}-{'0' * 20}{compiled._SUFFIX}"
    stale.write_bytes(b"not a module")
    assert compiled_path(name) is None
    assert CompiledFinder().find_spec(name, None) is None
    current.write_bytes(b"stands for a build")
    assert compiled_path(name) == current
    spec = CompiledFinder().find_spec(name, None)
    assert spec is not None and spec.origin == str(current)


def test_the_hot_path_is_compiled_as_a_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled modules share C types (a compiled engine reads the compiled policy's struct):
    one module without a current build (an edited file) makes every one of them plain Python."""
    monkeypatch.setenv("WARDWATCH_COMPILED_DIR", str(tmp_path))
    builds = _stand_ins(tmp_path)
    assert CompiledFinder().find_spec("alerts.engine", None) is not None
    builds["alerts.policy"].unlink()
    assert all(CompiledFinder().find_spec(name, None) is None for name in HOT_PATH)


def test_a_change_to_any_declaration_renames_every_build(tmp_path: Path) -> None:
    """A .pxd declares C types other modules compile against: changing one must rebuild them all."""
    for name in HOT_PATH:
        for suffix in (".py", ".pxd"):
            source = compiled.source_of(name).with_suffix(suffix)
            if source.exists():
                copy = tmp_path.joinpath(*name.split(".")).with_suffix(suffix)
                copy.parent.mkdir(exist_ok=True)
                copy.write_bytes(source.read_bytes())
    copy_of = {name: tmp_path.joinpath(*name.split(".")).with_suffix(".py") for name in HOT_PATH}
    before = {name: compiled._digest(copy_of[name]) for name in HOT_PATH}
    assert before == {name: compiled._digest(compiled.source_of(name)) for name in HOT_PATH}
    policy_types = copy_of["alerts.policy"].with_suffix(".pxd")
    assert policy_types.exists(), "the engine compiles against the policy's C layout"
    policy_types.write_text(policy_types.read_text() + "\n# changed\n")
    after = {name: compiled._digest(copy_of[name]) for name in HOT_PATH}
    assert all(after[name] != before[name] for name in HOT_PATH)


def test_pure_python_is_chosen_by_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDWATCH_COMPILED_DIR", str(tmp_path))
    _stand_ins(tmp_path)
    assert CompiledFinder().find_spec("monitor.latest", None) is not None
    monkeypatch.setenv("WARDWATCH_PURE_PYTHON", "1")
    assert CompiledFinder().find_spec("monitor.latest", None) is None
    assert CompiledFinder().find_spec("monitor.cohort", None) is None  # not on the hot path: Python's


def _golden(tmp_path: Path, pure: bool) -> str:
    env = dict(os.environ, WARDWATCH_PURE_PYTHON="1" if pure else "0")
    out = tmp_path / ("pure.txt" if pure else "compiled.txt")
    cmd = [sys.executable, "-m", "streams.bench.golden", "--patients", "8", "--hours", "6", "--out", str(out)]
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    return out.read_text()


def test_the_compiled_hot_path_gives_byte_identical_alerts_and_state(tmp_path: Path) -> None:
    """Every alert's wire JSON and every engine's checkpoint, compiled vs plain Python (golden output)."""
    if not all(status().values()):
        if os.environ.get("WARDWATCH_REQUIRE_COMPILED"):  # .ci/run: `make test` compiles it there
            pytest.fail(f"the hot path should have been compiled by `make test`; it is not: {status()}")
        pytest.skip("no compiled build of the current source (make venv builds it)")
    assert len(status()) == len(HOT_PATH)
    compiled_out, pure_out = _golden(tmp_path, pure=False), _golden(tmp_path, pure=True)
    assert compiled_out.count("\n") > 50
    assert compiled_out == pure_out


def test_an_unreadable_build_directory_means_plain_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hostile review: `is_file` raised PermissionError out of the finder, and every import failed."""

    def denied(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_file", denied)
    assert compiled_path("monitor.news2") is None
    assert CompiledFinder().find_spec("monitor.news2", None) is None


def test_prune_keeps_another_checkouts_recent_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two checkouts sharing a build directory must not delete each other's builds."""
    import time as _time

    from monitor import build_compiled

    monkeypatch.setenv("WARDWATCH_COMPILED_DIR", str(tmp_path))
    recent = tmp_path / compiled.build_name("alerts.rules", "1" * 20)
    old = tmp_path / compiled.build_name("alerts.rules", "2" * 20)
    recent.write_bytes(b"another checkout's build")
    old.write_bytes(b"a build nobody wrote for weeks")
    week_ago = _time.time() - build_compiled.PRUNE_AFTER_S - 60
    os.utime(old, (week_ago, week_ago))
    build_compiled._prune(tmp_path)
    assert recent.exists() and not old.exists()


def test_compiled_or_not_is_decided_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hostile review: a build finishing between two hot-path imports gave a compiled engine
    next to a plain-Python latest-vitals class ("size changed"). The first lookup decides."""
    monkeypatch.setenv("WARDWATCH_COMPILED_DIR", str(tmp_path))
    builds = _stand_ins(tmp_path)
    missing = builds["alerts.engine"].read_bytes()
    builds["alerts.engine"].unlink()
    finder = CompiledFinder()
    assert finder.find_spec("monitor.latest", None) is None
    builds["alerts.engine"].write_bytes(missing)  # the build completes
    assert finder.find_spec("alerts.engine", None) is None  # this process stays plain Python
    assert CompiledFinder().find_spec("alerts.engine", None) is not None  # the next one compiles


def test_a_build_in_use_is_not_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hostile review: another checkout's prune removed a running deployment's builds after a week.
    Loading the builds touches them, so a week counts from the last start, not the build."""
    import time as _time

    from monitor import build_compiled

    monkeypatch.setenv("WARDWATCH_COMPILED_DIR", str(tmp_path))
    week_ago = _time.time() - build_compiled.PRUNE_AFTER_S - 60
    builds = _stand_ins(tmp_path)
    for path in builds.values():
        os.utime(path, (week_ago, week_ago))
    assert CompiledFinder().find_spec("alerts.engine", None) is not None  # a process starts on them
    # the deployment's sources are not this checkout's any more (the next release was pulled)
    monkeypatch.setattr(build_compiled, "_digest", lambda source, declarations=None: "f" * 20)
    build_compiled._prune(tmp_path)
    assert all(path.exists() for path in builds.values())


def _declared(pxd: Path) -> dict[str, set[str]]:
    """Each `cdef class` of a .pxd -> the attribute names it declares (`__dict__` included)."""
    import re

    field = re.compile(r"\s+cdef (?:public |readonly )?(?:long long|[\w.]+) ([\w, ]+)$")
    classes: dict[str, set[str]] = {}
    current: set[str] | None = None
    for line in pxd.read_text().splitlines():
        if m := re.match(r"cdef class (\w+)", line):
            current = classes.setdefault(m.group(1), set())
        elif current is not None and (m := field.match(line)):
            current.update(name.strip() for name in m.group(1).split(","))
    return classes


def _assigned(source: Path, cls: str) -> set[str]:
    """Every `self.<name> = …` (or augmented) inside class `cls` of a .py."""
    import ast

    tree = ast.parse(source.read_text())
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls]
    names = set()
    for sub in ast.walk(node):
        targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target] if isinstance(sub, ast.AugAssign) else []
        for target in targets:
            for t in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    names.add(t.attr)
    return names


def test_every_attribute_a_compiled_class_sets_is_declared_in_its_pxd() -> None:
    """A `cdef class` without `__dict__` refuses an undeclared attribute, but only when compiled:
    a new field added to the .py and not to the .pxd would pass every plain-Python run."""
    checked = 0
    for name in HOT_PATH:
        pxd = compiled.source_of(name).with_suffix(".pxd")
        if not pxd.exists():
            continue
        for cls, declared in _declared(pxd).items():
            assigned = _assigned(compiled.source_of(name), cls)
            if "__dict__" not in declared:
                assert assigned <= declared, f"{name}.{cls} sets {sorted(assigned - declared)} not in {pxd.name}"
            module = __import__(name, fromlist=[cls])
            slots = set(getattr(getattr(module, cls), "__slots__", ()))
            if slots:
                assert slots == declared, f"{name}.{cls}: __slots__ and {pxd.name} differ"
            checked += 1
    assert checked >= 7
