"""A package's public names, imported on first use (PEP 562).

Why lazy: the bench runs `python -m streams.bench.memory` and
`python -m streams.bench.baseline` in fresh interpreters and measures their RSS
and throughput; `wardwatch --help` imports every command module. An eager
package `__init__` would drag Faust, aiohttp and the whole bench into each of
them and change what is measured. With `public(...)`, `from streams.worker
import Processor` imports `streams.worker.processor` and nothing else, exactly
as the flat modules did.

Other packages import only these names (tests/unit/test_architecture.py holds
that rule); a package's own modules import each other directly.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def public(
    package: str, names: dict[str, tuple[str, ...]], modules: tuple[str, ...] = ()
) -> tuple[list[str], Callable[[str], Any]]:
    """`__all__` and a module `__getattr__` for `package`.

    `names` is {module: (name, ...)}: names other packages may import.
    `modules` are submodules offered whole (used as a namespace, e.g. `metrics.serve`).
    """
    where = {name: module for module, exported in names.items() for name in exported}

    def __getattr__(name: str) -> Any:
        if name in modules:
            return import_module(f"{package}.{name}")
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{module}"), name)

    return sorted([*where, *modules]), __getattr__
