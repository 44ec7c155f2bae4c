"""A condition is one reason to page that is true right now for one patient.

The rules (`alerts/rules.py`) turn scores into conditions; the policy decides,
from how long and how deep they have held, whether and when they page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alerts.model import EpisodeClass, Kind, Priority, Reason


@dataclass(frozen=True, slots=True)
class Condition:
    """One reason to page, as seen on one sample.

    `valid_s` is how long this one observation may stand for the patient: a
    wearable value is superseded within seconds, so a condition not seen again
    within `max_gap_s` starts over; a spot-check BP stands until the next round.
    """

    key: str  # stable per source, e.g. "news2", "anomaly", "threshold:spo2_critical"
    kind: Kind
    priority: Priority
    persistence_s: float
    integral: float = 0.0  # depth × seconds that also confirms it; 0 = not used
    depth: float = 0.0
    reasons: tuple[Reason, ...] = ()
    valid_s: float = 60.0
    # False when only hysteresis holds it (between the clear and raise levels):
    # it keeps the persistence clock running but cannot open or raise an episode.
    at_raise: bool = True
    # Reasons worded only when an alert is about to carry them: the anomaly
    # condition holds on every sample of an open episode, and wording it (~6 µs)
    # each time was a twentieth of the domain cost for text nobody read.
    # `vitals` names, in order, the vitals `word()` returns reasons for.
    word: Callable[[], tuple[Reason, ...]] | None = None
    vitals: tuple[str, ...] = ()

    def worded(self) -> tuple[Reason, ...]:
        return self.reasons if self.word is None else self.word()

    @property
    def episode_class(self) -> EpisodeClass:
        # The policy asks this of every condition on every sample: a lookup, not
        # EpisodeClass.of's two property calls (same answer for every Kind).
        episode_class = _CLASS_OF_KIND.get(self.kind)
        return episode_class if episode_class is not None else EpisodeClass.of(self.kind)


_CLASS_OF_KIND: dict[Kind, EpisodeClass] = {kind: EpisodeClass.of(kind) for kind in Kind}
