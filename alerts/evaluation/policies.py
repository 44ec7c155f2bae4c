"""The alerting policies compared by the evaluator, and the engine config of each.

Three run the real engine with sources switched off (so they share every
policy rule: persistence, hysteresis, one-episode-one-id); the fourth is a
classic bedside monitor with fixed limits and no policy at all, the status quo
wardwatch has to beat.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from alerts.engine import EngineConfig


class Policy(str, enum.Enum):
    """A way to decide when to page; values appear in reports and JSON."""

    FIXED_LIMITS = "fixed_limits"
    NEWS2_ONLY = "news2_only"
    DETECTOR_ONLY = "detector_only"
    WARDWATCH = "wardwatch"

    # Shadows str.title() on purpose: reports read `policy.title` as the policy's display name.
    @property
    def title(self) -> str:  # type: ignore[override]
        return _TITLES[self]

    @property
    def uses_engine(self) -> bool:
        return self is not Policy.FIXED_LIMITS


_TITLES = {
    Policy.FIXED_LIMITS: "Fixed bedside limits",
    Policy.NEWS2_ONLY: "NEWS2 only",
    Policy.DETECTOR_ONLY: "Detector only",
    Policy.WARDWATCH: "wardwatch (combined)",
}

#: Every policy, in report order (status quo first, ours last).
ALL_POLICIES: tuple[Policy, ...] = tuple(Policy)


def engine_config(policy: Policy, base: Any = None) -> Any:
    """The engine config of `policy`, derived from `base` (default: engine defaults)."""
    cfg = base if base is not None else EngineConfig()
    if policy is Policy.NEWS2_ONLY:
        return dataclasses.replace(cfg, anomaly=False, threshold=False)
    if policy is Policy.DETECTOR_ONLY:
        return dataclasses.replace(cfg, news2=False, threshold=False)
    if policy is Policy.WARDWATCH:
        return cfg
    raise ValueError(f"{policy.value} does not run the engine")
