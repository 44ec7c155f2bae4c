"""Mean and spread of each reported number across seeds.

One seed is one synthetic ward; a result is only trusted if it holds across
several, so every headline number is reported as mean, SD and range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from alerts.evaluation.scoring import PolicyStats, ScenarioStats

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Spread:
    """Mean, sample SD, min and max of one number over seeds (None values skipped)."""

    mean: float | None
    sd: float | None
    low: float | None
    high: float | None
    n: int

    @staticmethod
    def of(values: Sequence[float | None]) -> Spread:
        xs = [float(v) for v in values if v is not None and not math.isnan(v)]
        if not xs:
            return Spread(None, None, None, None, 0)
        mean = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
        return Spread(mean, sd, min(xs), max(xs), len(xs))


@dataclass(frozen=True, slots=True)
class GroupSpread:
    scenario: str
    episodes: int
    recall: Spread
    delay_median_min: Spread
    delay_p90_min: Spread
    lead_median_min: Spread


@dataclass(frozen=True, slots=True)
class PolicySpread:
    """One policy's numbers over all seeds."""

    policy: str
    overall: GroupSpread
    scenarios: tuple[GroupSpread, ...]
    false_per_stable_day: Spread
    false_stable_by_kind: tuple[tuple[str, Spread], ...]
    false_pre_onset_per_day: Spread
    alerts_per_patient_day: Spread
    technical_per_patient_day: Spread
    escalations_per_patient_day: Spread

    def scenario(self, name: str) -> GroupSpread:
        return next(s for s in self.scenarios if s.scenario == name)


def _spread(items: Sequence[T], value: Callable[[T], float | None]) -> Spread:
    return Spread.of([value(item) for item in items])


def _group(groups: Sequence[ScenarioStats]) -> GroupSpread:
    def pick(value: Callable[[ScenarioStats], float | None]) -> Spread:
        return _spread(groups, value)

    return GroupSpread(
        scenario=groups[0].scenario,
        episodes=sum(g.episodes for g in groups),
        recall=pick(lambda g: g.recall),
        delay_median_min=pick(lambda g: g.delay_median_min),
        delay_p90_min=pick(lambda g: g.delay_p90_min),
        lead_median_min=pick(lambda g: g.lead_median_min),
    )


def aggregate_policy(per_seed: Sequence[PolicyStats]) -> PolicySpread:
    """Combine one policy's stats from several seeds."""
    first = per_seed[0]

    def pick(value: Callable[[PolicyStats], float | None]) -> Spread:
        return _spread(per_seed, value)

    def pick_kind(i: int) -> Spread:
        """The i-th kind's false raises per stable day (a function, so `i` is bound per call)."""
        return pick(lambda p: p.false_stable_by_kind[i].per_day)

    return PolicySpread(
        policy=first.policy,
        overall=_group([p.overall for p in per_seed]),
        scenarios=tuple(_group([p.scenario(s.scenario) for p in per_seed]) for s in first.scenarios),
        false_per_stable_day=pick(lambda p: p.false_per_stable_day),
        false_stable_by_kind=tuple((rate.kind, pick_kind(i)) for i, rate in enumerate(first.false_stable_by_kind)),
        false_pre_onset_per_day=pick(lambda p: p.false_pre_onset_per_day),
        alerts_per_patient_day=pick(lambda p: p.alerts_per_patient_day),
        technical_per_patient_day=pick(lambda p: p.technical_per_patient_day),
        escalations_per_patient_day=pick(lambda p: p.escalations_per_patient_day),
    )
