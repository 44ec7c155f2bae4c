"""Score alert streams against the cohort's labels: pure arithmetic, no engine.

Definitions (the same for every policy, so comparisons are fair):
- An episode is *detected* when a physiological alert (kind news2, anomaly or
  threshold) *pages* within [onset, must_alert_by]: it is `raised`, or an
  alert already open steps up to a higher priority (an `escalated` that asks
  for a new acknowledgement because the patient got worse, not a no-ack
  reminder at the same priority). Delay = page - onset. Without the second
  case a patient who was already alerting (say, low priority for a high
  baseline NEWS2) when the arrhythmia began, and was paged at high priority
  within a minute, would count as missed.
- A physiological raise on a stable patient, or before onset on a
  deteriorating one, is a *false alert*. Raises after the deadline are late
  true alerts: neither detections nor false.
- Technical alerts (signal_loss, technical) are counted apart: they ask for a
  probe to be refitted, not for a clinical review.
- *Lead time vs NEWS2-only*: for one episode, NEWS2-only's first page after
  onset minus this policy's (any time, not capped by the deadline), so a
  policy that beats a late NEWS2 gets the credit it earned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from alerts.model import Alert, Kind, Priority, Status
from monitor.cohort import PatientLabel, Scenario

DAY_MS = 86_400_000


class AlertLike(Protocol):
    """Read-only, so both `Alert` and the frozen `AlertMark` satisfy it."""

    @property
    def alert_id(self) -> str: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def status(self) -> Status: ...
    @property
    def priority(self) -> Priority: ...
    @property
    def ts_ms(self) -> int: ...


@dataclass(frozen=True, slots=True)
class AlertMark:
    """The five fields scoring needs, cheap to pickle between processes."""

    alert_id: str
    kind: Kind
    status: Status
    priority: Priority
    ts_ms: int

    @staticmethod
    def of(alert: Alert) -> AlertMark:
        return AlertMark(alert.alert_id, alert.kind, alert.status, alert.priority, alert.ts_ms)


@dataclass(frozen=True, slots=True)
class EpisodeResult:
    """How one policy did on one labelled deterioration."""

    patient_id: str
    scenario: Scenario
    onset_ms: int
    must_alert_by_ms: int
    detected_ms: int | None
    first_after_onset_ms: int | None

    @property
    def detected(self) -> bool:
        return self.detected_ms is not None

    @property
    def delay_min(self) -> float | None:
        return None if self.detected_ms is None else (self.detected_ms - self.onset_ms) / 60_000


@dataclass(frozen=True, slots=True)
class PatientScore:
    """One policy on one patient: the episode (if any) and alert counts."""

    label: PatientLabel
    episode: EpisodeResult | None
    false_alerts: int
    false_exposure_days: float
    false_kinds: tuple[Kind, ...]  # the kind that opened each false alert
    physiological_raises: int
    technical_raises: int
    escalations: int
    days: float


def raise_times(alerts: Iterable[AlertLike]) -> list[int]:
    """Event times of physiological `raised` alerts, sorted."""
    return [ts for ts, _ in physiological_raises(alerts)]


def physiological_raises(alerts: Iterable[AlertLike]) -> list[tuple[int, Kind]]:
    """(event time, kind) of physiological `raised` alerts, sorted by time."""
    return sorted((a.ts_ms, a.kind) for a in alerts if a.kind.physiological and a.status is Status.RAISED)


def page_times(alerts: Iterable[AlertLike]) -> list[int]:
    """Event times of physiological pages: raises and priority step-ups, sorted.

    `alerts` must be in emission order (as the engine produced them), so each
    alert's previous priority is known.
    """
    priority: dict[str, int] = {}
    times = []
    for a in alerts:
        if not a.kind.physiological:
            continue
        rank, before = a.priority.rank, priority.get(a.alert_id)
        if a.status is Status.RAISED or (a.status is Status.ESCALATED and before is not None and rank > before):
            times.append(a.ts_ms)
        if before is None or rank > before:
            priority[a.alert_id] = rank
    return sorted(times)


def score_patient(label: PatientLabel, alerts: Sequence[AlertLike], start_ms: int, end_ms: int) -> PatientScore:
    """Score one patient's alerts against their label over [start_ms, end_ms)."""
    raised = physiological_raises(alerts)
    raises = [ts for ts, _ in raised]
    technical = sum(1 for a in alerts if not a.kind.physiological and a.status is Status.RAISED)
    escalations = sum(1 for a in alerts if a.kind.physiological and a.status is Status.ESCALATED)
    days = (end_ms - start_ms) / DAY_MS
    if label.onset_ms is None or label.must_alert_by_ms is None:
        kinds = tuple(kind for _, kind in raised)
        return PatientScore(label, None, len(raises), days, kinds, len(raises), technical, escalations, days)
    onset, must = label.onset_ms, label.must_alert_by_ms
    pages = page_times(alerts)
    in_window = [t for t in pages if onset <= t <= must]
    after = [t for t in pages if t >= onset]
    episode = EpisodeResult(
        label.patient_id,
        label.scenario,
        onset,
        must,
        in_window[0] if in_window else None,
        after[0] if after else None,
    )
    false_kinds = tuple(kind for ts, kind in raised if ts < onset)
    exposure = (onset - start_ms) / DAY_MS
    return PatientScore(
        label, episode, len(false_kinds), exposure, false_kinds, len(raises), technical, escalations, days
    )


@dataclass(frozen=True, slots=True)
class ScenarioStats:
    """Detection quality over one group of episodes (a scenario or all)."""

    scenario: str
    episodes: int
    detected: int
    recall: float | None
    delay_median_min: float | None
    delay_p90_min: float | None
    lead_median_min: float | None
    lead_n: int


@dataclass(frozen=True, slots=True)
class KindRate:
    """False alerts opened by one physiological kind, per stable patient-day."""

    kind: str
    per_day: float


@dataclass(frozen=True, slots=True)
class PolicyStats:
    """Everything reported for one policy on one cohort."""

    policy: str
    overall: ScenarioStats
    scenarios: tuple[ScenarioStats, ...]
    stable_patient_days: float
    false_per_stable_day: float | None
    false_stable_by_kind: tuple[KindRate, ...]
    false_pre_onset_per_day: float | None
    alerts_per_patient_day: float
    technical_per_patient_day: float
    escalations_per_patient_day: float
    #: The raises behind `false_per_stable_day` (its uncertainty needs the count).
    false_stable_alerts: int = 0

    def scenario(self, name: str) -> ScenarioStats:
        return next(s for s in self.scenarios if s.scenario == name)


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def lead_minutes(episode: EpisodeResult, reference: EpisodeResult | None) -> float | None:
    """How much earlier this policy paged than the reference (positive = earlier)."""
    if reference is None or episode.first_after_onset_ms is None or reference.first_after_onset_ms is None:
        return None
    return (reference.first_after_onset_ms - episode.first_after_onset_ms) / 60_000


def group_stats(
    name: str, episodes: Sequence[EpisodeResult], reference: dict[str, EpisodeResult] | None
) -> ScenarioStats:
    delays = [e.delay_min for e in episodes if e.delay_min is not None]
    leads = [lead for e in episodes if (lead := lead_minutes(e, (reference or {}).get(e.patient_id))) is not None]
    return ScenarioStats(
        scenario=name,
        episodes=len(episodes),
        detected=len(delays),
        recall=len(delays) / len(episodes) if episodes else None,
        delay_median_min=percentile(delays, 50),
        delay_p90_min=percentile(delays, 90),
        lead_median_min=percentile(leads, 50) if reference is not None else None,
        lead_n=len(leads),
    )


def summarise(
    policy: str, scores: Sequence[PatientScore], reference: dict[str, EpisodeResult] | None = None
) -> PolicyStats:
    """Aggregate patient scores; `reference` = NEWS2-only episodes, for lead time."""
    episodes = [s.episode for s in scores if s.episode is not None]
    scenarios = tuple(
        group_stats(sc.value, [e for e in episodes if e.scenario is sc], reference)
        for sc in Scenario
        if sc.deteriorating
    )
    stable = [s for s in scores if s.episode is None]
    stable_days = sum(s.days for s in stable)
    pre_days = sum(s.false_exposure_days for s in scores if s.episode is not None)
    all_days = sum(s.days for s in scores) or float("nan")
    return PolicyStats(
        policy=policy,
        overall=group_stats("all", episodes, reference),
        scenarios=scenarios,
        stable_patient_days=stable_days,
        false_per_stable_day=sum(s.false_alerts for s in stable) / stable_days if stable_days else None,
        false_stable_by_kind=tuple(
            KindRate(kind.value, sum(s.false_kinds.count(kind) for s in stable) / stable_days if stable_days else 0.0)
            for kind in Kind
            if kind.physiological
        ),
        false_pre_onset_per_day=(
            sum(s.false_alerts for s in scores if s.episode is not None) / pre_days if pre_days else None
        ),
        alerts_per_patient_day=sum(s.physiological_raises for s in scores) / all_days,
        technical_per_patient_day=sum(s.technical_raises for s in scores) / all_days,
        escalations_per_patient_day=sum(s.escalations for s in scores) / all_days,
        false_stable_alerts=sum(s.false_alerts for s in stable),
    )


def episodes_by_patient(scores: Iterable[PatientScore]) -> dict[str, EpisodeResult]:
    return {s.label.patient_id: s.episode for s in scores if s.episode is not None}
