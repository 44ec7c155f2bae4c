"""The import rule of docs/architecture.md, read from the source (AST), not from a running process.

- `monitor/` and `alerts/` are pure: no Kafka, Faust, HTTP or `streams` import,
  so the domain runs (and is tested, benchmarked, evaluated) without a broker.
- Layers only point down: monitor <- alerts <- streams; inside `streams/`
  each package may import only the packages below it (`ALLOWED`).
- A package is entered through its public names: a module outside
  `streams/<pkg>/` imports `from streams.<pkg> import name`, never
  `streams.<pkg>.<module>` (the package may move its files freely).
- No import cycle: not between modules anywhere, not between packages.

Imports inside functions count (they run too); imports under
`if TYPE_CHECKING:` do not (they never run). Tests may import anything.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("monitor", "alerts", "streams")
PURE = ("monitor", "alerts")
#: Top-level names a pure package must never import (transport, framework, or the Kafka-facing package).
TRANSPORT = frozenset(
    {
        "faust",
        "mode",
        "aiokafka",
        "kafka",
        "aiohttp",
        "http",
        "httpx",
        "requests",
        "urllib3",
        "socketserver",
        "websockets",
        "streams",
        "tansu",
        "calfkit",
    }
)
#: streams/ modules that stay flat: the ground floor every package may use.
GROUND = frozenset(
    {"streams", "streams.config", "streams.logs", "streams.metrics", "streams.webauth", "streams.exports"}
)
#: streams package -> streams packages it may import (besides the ground floor, monitor and alerts).
ALLOWED: dict[str, frozenset[str]] = {
    "streams.kafka": frozenset(),
    "streams.identity": frozenset(),
    "streams.worker": frozenset({"streams.kafka"}),
    "streams.ingest": frozenset({"streams.kafka", "streams.identity", "streams.adt"}),
    "streams.adt": frozenset({"streams.kafka", "streams.worker"}),
    "streams.console": frozenset({"streams.kafka", "streams.identity"}),
    "streams.notify": frozenset({"streams.kafka"}),
    "streams.bench": frozenset({"streams.kafka", "streams.worker"}),
    "streams.cli": frozenset(
        {
            "streams.kafka",
            "streams.worker",
            "streams.ingest",
            "streams.console",
            "streams.notify",
            "streams.bench",
            "streams.identity",
        }
    ),
}


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # most specific module of ours it names (or the raw name if not ours)
    name: str | None  # `from target import name`, when name is not itself a module
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _type_checking_block(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                for other in child.orelse:  # type: ignore[attr-defined]
                    walk(other)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            walk(child)

    walk(tree)
    return found


def imports_of(module: str, source: str, known: set[str], is_package: bool = False) -> list[Import]:
    """Every import `module` (whose text is `source`) makes, resolved against the modules in `known`."""
    out: list[Import] = []
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend(Import(module, alias.name, None, node.lineno) for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if sub in known:
                out.append(Import(module, sub, None, node.lineno))
            else:
                out.append(Import(module, base, alias.name, node.lineno))
    return out


def all_imports() -> list[Import]:
    files = source_files()
    known = set(files)
    return [
        imp
        for mod, path in files.items()
        for imp in imports_of(mod, path.read_text(encoding="utf-8"), known, path.name == "__init__.py")
    ]


def transport_violations(imports: list[Import]) -> list[str]:
    return [
        f"{i.source}:{i.line} imports {i.target}"
        for i in imports
        if i.source.split(".")[0] in PURE and i.target.split(".")[0] in TRANSPORT
    ]


def layer_violations(imports: list[Import]) -> list[str]:
    bad = []
    for i in imports:
        top, target_top = i.source.split(".")[0], i.target.split(".")[0]
        if top == "monitor" and target_top in ("alerts", "streams"):
            bad.append(f"{i.source}:{i.line} (monitor) imports {i.target}")
        if top == "alerts" and target_top == "streams":
            bad.append(f"{i.source}:{i.line} (alerts) imports {i.target}")
    return bad


def streams_package(module: str) -> str | None:
    """`streams.worker.app` -> `streams.worker`; a ground module -> None."""
    parts = module.split(".")
    if parts[0] != "streams" or module in GROUND:
        return None
    return ".".join(parts[:2])


def streams_rule_violations(imports: list[Import], public: dict[str, set[str]]) -> list[str]:
    bad = []
    for i in imports:
        src, dst = streams_package(i.source), streams_package(i.target)
        if src is None and i.source.startswith("streams") and dst is not None:
            bad.append(f"{i.source}:{i.line}: ground module imports package {dst}")
        if src is None or dst is None or src == dst:
            continue
        if dst not in ALLOWED:
            bad.append(
                f"{i.source}:{i.line}: imports {dst}, a flat module outside the ground floor: move it into "
                "the package of its concept, or give a new package its line in ALLOWED"
            )
        elif dst not in ALLOWED.get(src, frozenset()):
            bad.append(f"{i.source}:{i.line}: {src} may not import {dst} (ALLOWED in {__name__})")
        elif i.target != dst and not _exposed_module(i.target, dst, public):
            bad.append(f"{i.source}:{i.line}: imports {i.target}, an internal of {dst}: use `from {dst} import ...`")
        elif i.name is not None and i.name not in public.get(dst, set()):
            bad.append(f"{i.source}:{i.line}: {i.name} is not in {dst}.__all__")
    return bad


def _exposed_module(target: str, package: str, public: dict[str, set[str]]) -> bool:
    """`from streams.bench import report`: a submodule the package offers whole (in its `__all__`)."""
    parent, _, leaf = target.rpartition(".")
    return parent == package and leaf in public.get(package, set())


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node, or a node importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def module_edges(imports: list[Import]) -> dict[str, set[str]]:
    known = set(source_files())
    edges: dict[str, set[str]] = {}
    for i in imports:
        if i.target in known and i.target != i.source:
            # `from pkg import name` from inside pkg names pkg/__init__; that is not a cycle with pkg's own modules
            if i.source.startswith(i.target + "."):
                continue
            edges.setdefault(i.source, set()).add(i.target)
    return edges


def package_edges(imports: list[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for i in imports:
        src, dst = streams_package(i.source), streams_package(i.target)
        if src and dst and src != dst:
            edges.setdefault(src, set()).add(dst)
    return edges


def public_names() -> dict[str, set[str]]:
    return {pkg: set(getattr(importlib.import_module(pkg), "__all__", ())) for pkg in ALLOWED}


# --- the rules ---------------------------------------------------------------------------------


def test_pure_packages_import_no_kafka_http_or_streams() -> None:
    assert transport_violations(all_imports()) == []


def test_layers_point_down_monitor_alerts_streams() -> None:
    assert layer_violations(all_imports()) == []


def test_streams_packages_import_only_allowed_packages_through_public_names() -> None:
    assert streams_rule_violations(all_imports(), public_names()) == []


def test_every_streams_package_is_in_the_rule() -> None:
    packages = {f"streams.{p.parent.name}" for p in (ROOT / "streams").glob("*/__init__.py")}
    assert packages == set(ALLOWED), "a new streams/ package needs its line in ALLOWED and docs/architecture.md"


def test_flat_streams_modules_are_only_the_ground_floor() -> None:
    """New Kafka/HTTP-facing code goes into a package named for its concept (streams/adt/, not streams/adt.py)."""
    flat = {module_name(p) for p in (ROOT / "streams").glob("*.py")}
    assert flat <= GROUND, f"move {sorted(flat - GROUND)} into a package (see docs/architecture.md)"


def test_streams_packages_have_no_cycle() -> None:
    assert cycles(package_edges(all_imports())) == []


def test_no_import_cycle_between_modules() -> None:
    assert cycles(module_edges(all_imports())) == []


def test_public_names_resolve() -> None:
    for pkg, names in public_names().items():
        module = importlib.import_module(pkg)
        for name in names:
            assert getattr(module, name) is not None, f"{pkg}.{name}"


def test_modules_named_by_string_exist() -> None:
    """The CLI table and the worker's extensions import by name and skip what is missing: a stale name
    would silently drop a command or the ingest listeners."""
    from streams.cli import COMMANDS
    from streams.worker import EXTENSIONS

    for name in [*COMMANDS.values(), *EXTENSIONS]:
        assert importlib.util.find_spec(name) is not None, name


# --- the checks catch what they claim to catch -------------------------------------------------


def _parsed(module: str, source: str) -> list[Import]:
    return imports_of(module, source, set(source_files()))


@pytest.mark.parametrize(
    "line",
    [
        "import faust",
        "from aiokafka import AIOKafkaConsumer",
        "import aiohttp.web",
        "from streams.cli import main",
        "from http import HTTPStatus",
        "def f():\n    import faust\n",
    ],
)
def test_checker_flags_transport_in_pure_package(line: str) -> None:
    assert transport_violations(_parsed("monitor.detector", line))
    assert transport_violations(_parsed("alerts.engine", line))


def test_checker_ignores_type_checking_imports() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import faust\n"
    assert transport_violations(_parsed("monitor.detector", source)) == []


def test_checker_flags_internal_and_upward_imports() -> None:
    public = {"streams.kafka": {"consumer"}, "streams.worker": {"Processor"}}
    assert streams_rule_violations(_parsed("streams.bench.x", "from streams.worker.processor import Processor"), public)
    assert streams_rule_violations(_parsed("streams.kafka.x", "from streams.worker import Processor"), public)
    assert streams_rule_violations(_parsed("streams.bench.x", "from streams.kafka import secret"), public)
    assert streams_rule_violations(_parsed("streams.bench.x", "from streams.kafka import consumer"), public) == []


def test_checker_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
