"""The per-sample hot path, compiled with Cython when it was built from exactly this source.

Why: every sample of a ward goes through the same ten modules (parse, the
latest-vitals view, NEWS2, the baseline detector, the engine, its rules,
policy and stream view). Written out by hand in Python they had reached the
interpreter's floor; compiled unchanged with Cython (pure-Python mode, no
annotations taken as C types) the same code costs about a third less per
sample (`wardwatch bench` measures both in one run and prints the ratio).

How it stays safe:
- The source stays the truth. A compiled module is used only if it was built
  from the very bytes of its `.py` file: the extension's file name carries
  the source's sha256 (with the C types of the `.pxd` files), and this finder
  hashes the sources at import. The hot path is used compiled as a whole or
  not at all (the modules share C types), so edit one file and the next
  import is pure Python again, until `make venv` (or
  ``python -m monitor.build_compiled build``) rebuilds it. A stale build can
  never shadow new code.
- No build, no compiler, another Python, or ``WARDWATCH_PURE_PYTHON=1``:
  everything imports as plain Python, with the same results (the golden
  digest is the same either way: ``python -m streams.bench.golden``).
- The builds live outside the source tree (``build/compiled/``, or
  ``WARDWATCH_COMPILED_DIR``), so nothing next to the `.py` files changes.

    python -m monitor.build_compiled build    # compile the hot path (needs a C compiler)
    python -m monitor.build_compiled status   # which modules import compiled, which pure

This module imports nothing outside the standard library: `monitor` and
`alerts` install its finder from their package `__init__`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

#: The modules every sample runs through; nothing else is worth a compiler.
HOT_PATH: tuple[str, ...] = (
    "monitor.vitals",
    "monitor.parse",
    "monitor.news2",
    "monitor.latest",
    "monitor.detector",
    "alerts.model",
    "alerts.conditions",
    "alerts.rules",
    "alerts.stream_view",
    "alerts.policy",
    "alerts.engine",
)
#: Part of every build's name: bump it when the compiler options below change.
BUILD_FORMAT = "2"
#: Cython directives: Python semantics throughout. Annotations are not C types (an int
#: annotation would reject a bool or a big int), `binding` keeps functions introspectable,
#: and `nonecheck` makes a None where a .pxd declares a class an AttributeError, as in
#: Python, instead of a read through a null struct (a segfault kills the whole worker).
DIRECTIVES = {"language_level": 3, "annotation_typing": False, "binding": True, "nonecheck": True}
_ROOT = Path(__file__).resolve().parent.parent
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def build_dir() -> Path:
    """Where compiled modules are kept (``WARDWATCH_COMPILED_DIR`` or build/compiled/)."""
    return Path(os.environ.get("WARDWATCH_COMPILED_DIR") or _ROOT / "build" / "compiled")


def source_of(name: str) -> Path:
    return _ROOT.joinpath(*name.split(".")).with_suffix(".py")


def _declarations(root: Path) -> bytes:
    """Every hot-path module's C types (.pxd) in the tree at `root`, each tagged with its module."""
    found = []
    for name in HOT_PATH:
        declarations = root.joinpath(*name.split(".")).with_suffix(".pxd")
        if declarations.exists():
            found.append(f"\0{name}.pxd\0".encode() + declarations.read_bytes())
    return b"".join(found)


def _digest(source: Path, declarations: bytes | None = None) -> str:
    """The build's identity: the source and every hot-path module's C types (.pxd files).

    All of them, not only its own: a module's C code reads the structs that the
    others' .pxd files declare (the engine reads the policy's fields directly), so a
    change to any declaration must rebuild every module that might read it. A caller
    digesting all the modules passes `_declarations` once instead of reading them per module.
    """
    h = hashlib.sha256(BUILD_FORMAT.encode())
    h.update(source.read_bytes())
    # the tree the source is in (the checkout, or a build's copy)
    h.update(_declarations(source.parent.parent) if declarations is None else declarations)
    return h.hexdigest()[:20]


def compiled_path(name: str, declarations: bytes | None = None) -> Path | None:
    """The compiled module built from `name`'s current source, if there is one."""
    try:  # an unreadable source or build directory means plain Python, never a failed import
        path = build_dir() / build_name(name, _digest(source_of(name), declarations))
        return path if path.is_file() else None
    except OSError:
        return None


def whole_build() -> dict[str, Path] | None:
    """Every hot-path module's current build, or None if one is missing.

    All compiled or all Python: the compiled modules share C types (a compiled
    engine refuses a policy class that is not the compiled one), so one edited
    module makes the whole hot path plain Python until it is rebuilt.
    """
    try:
        declarations = _declarations(_ROOT)
    except OSError:
        return None
    builds = {}
    for name in HOT_PATH:
        path = compiled_path(name, declarations)
        if path is None:
            return None
        builds[name] = path
    return builds


def build_name(name: str, digest: str) -> str:
    """A build's file name: the module, the digest of the source it was made from, the ABI."""
    return f"{name}-{digest}{_SUFFIX}"


def pure_python() -> bool:
    return os.environ.get("WARDWATCH_PURE_PYTHON", "") not in ("", "0")


class CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the hot-path modules' compiled builds; anything else (or no build) is left to Python.

    Compiled or not is decided once, at the first hot-path import, and holds for the
    process: decided again per module, a build finishing (or a `git pull`) between two
    imports gave a compiled engine next to a plain-Python policy class, and the import
    failed ("LatestVitals size changed", hostile review).
    """

    def __init__(self) -> None:
        self._decided = False
        self._builds: dict[str, Path] | None = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in HOT_PATH:
            return None
        if not self._decided:
            self._builds = None if pure_python() else whole_build()
            self._decided = True
            _mark_used(self._builds)
        if self._builds is None:
            return None
        compiled = self._builds[fullname]
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(compiled))
        return importlib.util.spec_from_file_location(fullname, compiled, loader=loader)


def _mark_used(builds: dict[str, Path] | None) -> None:
    """Touch the builds a process uses: `build_compiled` prunes another source's builds only
    after a week unwritten, and a deployment restarted within that keeps its own."""
    for path in (builds or {}).values():
        with contextlib.suppress(OSError):  # a read-only build directory: nothing is pruned there either
            os.utime(path)


def install() -> None:
    """Put the finder first on `sys.meta_path`, once (both packages call it)."""
    if not any(isinstance(f, CompiledFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, CompiledFinder())


def is_compiled(module: ModuleType) -> bool:
    return (getattr(module, "__file__", None) or "").endswith(_SUFFIX)


def status() -> dict[str, bool]:
    """Each hot-path module: imported compiled (True) or as Python (False)."""
    import importlib

    return {name: is_compiled(importlib.import_module(name)) for name in HOT_PATH}


def summary() -> str:
    """One line for a log or a report: how the hot path runs in this process."""
    done = status()
    count = sum(done.values())
    return f"compiled ({count}/{len(done)} modules)" if count else "plain Python"
