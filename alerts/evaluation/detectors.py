"""`--detectors a,b,c`: compare anomaly detectors through the same engine and policy.

The seam for whoever adds detectors (issue #17): a detector name maps to the
engine config that runs it. Two ways to plug in, tried in this order:

1. `register(name, make_config)`: `make_config(base_config) -> engine config`,
   called from the module that defines the detector (import it before the
   evaluation runs, e.g. in `alerts/evaluation/__init__.py` or the detector
   package's `__init__`);
2. an engine config with a `detector` field: the name is set there
   (`dataclasses.replace(base, detector=name)`), and the engine is expected to
   refuse a name it does not know when it builds the detector.

Each name is reported as its own policy, `wardwatch[name]`, next to the
default `wardwatch`, NEWS2-only and fixed limits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from alerts.engine import EngineConfig
from alerts.evaluation.replay import NamedConfig

ConfigFactory = Callable[[Any], Any]
_FACTORIES: dict[str, ConfigFactory] = {}


class UnknownDetector(ValueError):
    """A `--detectors` name nothing can run; the message lists what can."""


def register(name: str, make_config: ConfigFactory) -> None:
    """Make `name` usable in `--detectors`: `make_config(base) -> engine config`."""
    _FACTORIES[name] = make_config


def known() -> list[str]:
    """Detector names the evaluator can run now."""
    names = set(_FACTORIES)
    try:  # a registry in the domain package, if the detector side provides one
        from monitor import detectors as registry  # type: ignore[attr-defined]
    except ImportError:
        registry = None
    for attr in ("DETECTORS", "REGISTRY"):
        table = getattr(registry, attr, None)
        if isinstance(table, dict):
            names.update(str(k) for k in table)
    if callable(getattr(registry, "names", None)):
        names.update(registry.names())
    return sorted(names)


def detector_config(name: str, base: Any = None) -> Any:
    """The engine config that runs detector `name` (everything else as `base`)."""
    cfg = base if base is not None else EngineConfig()
    if name in _FACTORIES:
        return _FACTORIES[name](cfg)
    if "detector" in {f.name for f in dataclasses.fields(cfg)}:
        names = known()
        if names and name not in names:
            raise UnknownDetector(f"unknown detector {name!r}; known: {', '.join(names)}")
        return dataclasses.replace(cfg, detector=name)
    raise UnknownDetector(
        f"cannot run detector {name!r}: this engine has one detector and no 'detector' setting; "
        f"known: {', '.join(known()) or 'none registered'} (see alerts/evaluation/detectors.py)"
    )


def detector_configs(names: Sequence[str], base: Any = None) -> tuple[NamedConfig, ...]:
    """One `wardwatch[name]` config per name, in the order given."""
    return tuple(NamedConfig(f"wardwatch[{n}]", detector_config(n, base)) for n in names)


def parse_names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())
