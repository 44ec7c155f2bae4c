"""The issue's acceptance targets, checked against aggregated results.

Kept apart from the scoring so the thresholds are in one readable place and
the report can say plainly which are met and by how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alerts.evaluation.aggregate import PolicySpread
from alerts.evaluation.policies import Policy

RECALL_TARGET = 0.95
LEAD_TARGET_MIN = 30.0
FALSE_TARGET_PER_DAY = 1.0
#: "Stable across seeds": recall range within 10 points, false rate SD <= 0.5/day.
RECALL_RANGE_LIMIT = 0.10
FALSE_SD_LIMIT = 0.5
LEAD_SCENARIOS = ("sepsis", "respiratory_failure")


@dataclass(frozen=True, slots=True)
class TargetCheck:
    name: str
    target: str
    value: float | None
    met: bool | None  # None = cannot be judged (e.g. a single seed)


def check_targets(policies: Sequence[PolicySpread], seeds: int) -> tuple[TargetCheck, ...]:
    """Judge wardwatch's combined policy against the issue's targets."""
    ours = next(p for p in policies if p.policy == Policy.WARDWATCH.value)
    checks = [
        _at_least("recall before must-alert (mean over seeds)", ours.overall.recall.mean, RECALL_TARGET, "≥ 95 %"),
    ]
    for scenario in LEAD_SCENARIOS:
        lead = ours.scenario(scenario).lead_median_min.mean
        checks.append(_at_least(f"median lead vs NEWS2-only, {scenario} (min)", lead, LEAD_TARGET_MIN, "≥ 30 min"))
    false = ours.false_per_stable_day.mean
    checks.append(
        TargetCheck(
            "false alerts per stable patient-day",
            "≤ 1",
            false,
            None if false is None else false <= FALSE_TARGET_PER_DAY,
        )
    )
    if seeds >= 3:
        recall = ours.overall.recall
        spread = None if recall.high is None or recall.low is None else recall.high - recall.low
        checks.append(
            TargetCheck(
                "recall range across seeds",
                "≤ 10 points",
                spread,
                None if spread is None else spread <= RECALL_RANGE_LIMIT,
            )
        )
        sd = ours.false_per_stable_day.sd
        checks.append(
            TargetCheck(
                "false-alert rate SD across seeds", "≤ 0.5 / day", sd, None if sd is None else sd <= FALSE_SD_LIMIT
            )
        )
    else:
        checks.append(TargetCheck("stable across ≥ 3 seeds", "≥ 3 seeds", float(seeds), None))
    return tuple(checks)


def _at_least(name: str, value: float | None, limit: float, text: str) -> TargetCheck:
    return TargetCheck(name, text, value, None if value is None else value >= limit)
