"""Per-policy figures over all stays: burden, death vs survivor shares, AUROC.

- Episodes / pages per patient-day: the alarm burden a ward would carry.
- Deaths alerted: share of in-hospital deaths with a medium or high alert
  open at some time in the last 24 h of their record; the same share among
  survivors is the price (a policy alerting on everyone scores 100 % on both).
- AUROC: how well each stay's highest alert level (0 none, 1 low, 2 medium,
  3 high) ranks deaths above survivors; ties count one half (Mann-Whitney U
  / (n_died * n_survived), from scipy). 0.5 = no better than chance.
- High within an hour of NEWS2 7: of the stays whose charted NEWS2 reached 7,
  how many had a high alert open within an hour of the first such set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import mannwhitneyu

from alerts.evaluation.charted.replay import StayRun


@dataclass(frozen=True, slots=True)
class ChartedPolicyStats:
    policy: str
    stays: int
    patient_days: float
    episodes_per_day: float
    pages_per_day: float
    escalations_per_day: float
    technical_per_day: float
    deaths_alerted: float | None
    survivors_alerted: float | None
    auroc: float | None
    stays_alerted: float
    news2_7_stays: int
    high_within_hour_of_news2_7: int


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Area under the ROC curve of `scores` for `positive` (None if one class is empty)."""
    pos = [s for s, p in zip(scores, positive, strict=False) if p]
    neg = [s for s, p in zip(scores, positive, strict=False) if not p]
    if not pos or not neg:
        return None
    if len(set(pos) | set(neg)) == 1:
        return 0.5
    u = mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return float(u) / (len(pos) * len(neg))


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def policy_stats(policy: str, runs: Sequence[StayRun]) -> ChartedPolicyStats:
    outcomes = [r.outcome(policy) for r in runs]
    days = sum(r.stay.days for r in runs) or float("nan")
    died = [r.stay.died for r in runs]
    return ChartedPolicyStats(
        policy=policy,
        stays=len(runs),
        patient_days=days,
        episodes_per_day=sum(o.episodes for o in outcomes) / days,
        pages_per_day=sum(o.pages for o in outcomes) / days,
        escalations_per_day=sum(o.escalations for o in outcomes) / days,
        technical_per_day=sum(o.technical for o in outcomes) / days,
        deaths_alerted=_share([o.alerted_window for o, d in zip(outcomes, died, strict=False) if d]),
        survivors_alerted=_share([o.alerted_window for o, d in zip(outcomes, died, strict=False) if not d]),
        auroc=auroc([o.max_level for o in outcomes], died),
        stays_alerted=_share([o.max_level > 0 for o in outcomes]) or 0.0,
        news2_7_stays=sum(o.high_within_hour_of_news2_7 is not None for o in outcomes),
        high_within_hour_of_news2_7=sum(bool(o.high_within_hour_of_news2_7) for o in outcomes),
    )


def max_news2_auroc(runs: Sequence[StayRun]) -> float | None:
    """AUROC of the highest charted NEWS2 total (a score, not a policy): the chart's ceiling."""
    return auroc([r.max_news2 for r in runs], [r.stay.died for r in runs])
