"""Detector names -> factories: which detector a ward runs is a policy setting.

The policy file says `detector = "<name>"` and, optionally, a
`[detector_params]` table (globally or per `[wards.<name>]`). Every name and
parameter is checked when the policy is loaded, by building one detector with
them, so a typo stops the worker at start (exit 2) with a message naming it
rather than on the first patient.

A factory takes the policy's warm-up settings (`warmup_samples`, `warmup_s`)
plus the detector's own parameters as keywords and returns a fresh
per-patient detector (the `PatientDetector` protocol in `monitor.detectors.base`).
Other code (the evaluator, the bench, tests) adds detectors with `register`;
a policy file may also name a factory of its own as "package.module:factory"
(imported at load; the data-science team's detector, or a test's).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: The detector the engine runs when the policy names none.
DEFAULT_DETECTOR = "baseline-z"


class DetectorConfigError(ValueError):
    """An unknown detector name or a bad parameter for one (a policy-file error)."""


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """A detector name and its parameters, as a policy file gives them (hashable)."""

    name: str = DEFAULT_DETECTOR
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, params: dict[str, Any] | None = None) -> DetectorSpec:
        return cls(name, tuple(sorted((params or {}).items())))

    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params)
        return f"{self.name}({args})" if args else self.name


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    factory: Callable[..., Any]
    summary: str
    params: dict[str, Any] = field(default_factory=dict)  # name -> default, from the factory's signature


_REGISTRY: dict[str, _Entry] = {}
#: Parameters every factory takes from the policy (not from `detector_params`).
_POLICY_ARGS = ("warmup_samples", "warmup_s")


def register(name: str, factory: Callable[..., Any], summary: str = "") -> None:
    """Make `name` choosable in a policy file; its parameters are `factory`'s keyword arguments."""
    sig = inspect.signature(factory)
    params = {
        p.name: p.default
        for p in sig.parameters.values()
        if p.name not in _POLICY_ARGS and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    _REGISTRY[name] = _Entry(name, factory, summary or (inspect.getdoc(factory) or "").split("\n")[0], params)


def names() -> list[str]:
    """Registered detector names (the built-in ones are loaded on first use)."""
    _load_builtins()
    return sorted(_REGISTRY)


def describe() -> list[tuple[str, str, dict[str, Any]]]:
    """(name, one-line summary, parameters with defaults) per registered detector."""
    _load_builtins()
    return [(e.name, e.summary, dict(e.params)) for _, e in sorted(_REGISTRY.items())]


def _entry(name: str) -> _Entry:
    if name == DEFAULT_DETECTOR and name not in _REGISTRY:
        from monitor.detectors.default import baseline_z

        register(DEFAULT_DETECTOR, baseline_z)
    entry = _REGISTRY.get(name)
    if entry is None:
        _load_builtins()
        entry = _REGISTRY.get(name)
    if entry is None and ":" in name:
        entry = _import(name)
    if entry is None:
        raise DetectorConfigError(f"unknown detector {name!r} (known: {', '.join(sorted(_REGISTRY))})")
    return entry


def _import(name: str) -> _Entry:
    """A detector of one's own, named "package.module:factory" in the policy file: imported and
    registered under that name. The policy file is the operator's, like the code it names."""
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise DetectorConfigError(f"detector {name!r}: cannot import it ({exc})") from None
    if not callable(factory):
        raise DetectorConfigError(f"detector {name!r}: {attr} is not callable")
    register(name, factory)
    return _REGISTRY[name]


def create(spec: DetectorSpec, warmup_samples: int = 120, warmup_s: float = 900.0) -> Any:
    """A fresh per-patient detector for `spec`; a bad name or parameter raises DetectorConfigError."""
    entry = _entry(spec.name)
    kwargs = spec.kwargs()
    for key in kwargs:
        if key not in entry.params:
            known = ", ".join(sorted(entry.params)) or "none"
            raise DetectorConfigError(f"detector {spec.name!r}: unknown parameter {key!r} (known: {known})")
    try:
        return entry.factory(warmup_samples=warmup_samples, warmup_s=warmup_s, **kwargs)
    except DetectorConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise DetectorConfigError(f"detector {spec}: bad parameter: {exc}") from None


def validate(spec: DetectorSpec, warmup_samples: int = 120, warmup_s: float = 900.0) -> None:
    """Raise DetectorConfigError naming the problem unless `spec` builds a detector."""
    detector = create(spec, warmup_samples, warmup_s)
    check = getattr(detector, "check", None)
    if callable(check):
        try:
            check()
        except (TypeError, ValueError) as exc:
            raise DetectorConfigError(f"detector {spec}: bad parameter: {exc}") from None


_loaded = False


def _load_builtins() -> None:
    """Register the built-in detectors once (late: river is imported only when asked for)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from monitor.detectors.builtin import BUILTINS

    for name, factory in BUILTINS.items():
        if name not in _REGISTRY:
            register(name, factory)
