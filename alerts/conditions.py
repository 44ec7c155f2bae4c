"""A condition is one reason to page that is true right now for one patient.

The rules (`alerts/rules.py`) turn scores into conditions; the policy decides,
from how long and how deep they have held, whether and when they page.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.model import EpisodeClass, Kind, Priority, Reason


@dataclass(frozen=True, slots=True)
class Condition:
    key: str  # stable per source, e.g. "news2", "anomaly", "threshold:spo2_critical"
    kind: Kind
    priority: Priority
    persistence_s: float
    integral: float = 0.0  # depth × seconds that also confirms it; 0 = not used
    depth: float = 0.0
    reasons: tuple[Reason, ...] = ()

    @property
    def episode_class(self) -> EpisodeClass:
        return EpisodeClass.of(self.kind)
