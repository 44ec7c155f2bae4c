"""Alarm burden before and after the policy, on a synthetic ward day.

"Before" is what a bare monitor would sound: every time any condition the
rules know (a hard limit, a NEWS2 band of low-medium or worse, a departure
from baseline, a probe off, motion, a data gap) crosses its raise level. "After" is what the policy pages:
episodes raised, and notifications (raised + escalated). Sensitivity is the
share of deteriorating patients with a physiological alert after their onset
(and by the time their deterioration was unambiguous).

Pure: it replays `monitor.cohort` through `PatientEngine` in event time, so
the figures are reproducible. `python -m alerts.fatigue_report` prints them.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass

from alerts.config import DEFAULT_CONFIG, PolicyBook, PolicyConfig
from alerts.engine import PatientEngine
from alerts.model import Alert, Status
from alerts.policy import AlertPolicy, Observation
from monitor.cohort import CohortSpec, PatientLabel, generate_cohort, iter_patient_samples
from monitor.vitals import VitalSample

#: The simulator's default ward (`wardwatch simulate` defaults), over one day.
DEFAULT_WARD = CohortSpec(n_patients=20, hours=24.0, seed=7, deteriorating_share=0.3)


@dataclass(frozen=True, slots=True)
class PatientFigures:
    """One patient's day: raw condition onsets and what the policy made of them."""

    label: PatientLabel
    raw_crossings: tuple[tuple[str, int], ...]  # (condition key, onsets)
    raised_physiological: int
    raised_technical: int
    escalated: int
    first_physiological_ms: int | None  # first physiological raise at/after onset

    @property
    def raw_total(self) -> int:
        return sum(n for _, n in self.raw_crossings)


@dataclass(frozen=True, slots=True)
class FatigueFigures:
    spec: CohortSpec
    patients: tuple[PatientFigures, ...]

    @property
    def patient_days(self) -> float:
        return len(self.patients) * self.spec.hours / 24.0

    def per_patient_day(self, count: float) -> float:
        return count / self.patient_days

    @property
    def raw(self) -> int:
        return sum(p.raw_total for p in self.patients)

    @property
    def raised(self) -> int:
        return sum(p.raised_physiological + p.raised_technical for p in self.patients)

    @property
    def raised_physiological(self) -> int:
        return sum(p.raised_physiological for p in self.patients)

    @property
    def notifications(self) -> int:
        return self.raised + sum(p.escalated for p in self.patients)

    @property
    def raw_by_condition(self) -> tuple[tuple[str, int], ...]:
        total: Counter[str] = Counter()
        for p in self.patients:
            total.update(dict(p.raw_crossings))
        return tuple(sorted(total.items(), key=lambda kv: -kv[1]))

    def deteriorating(self) -> tuple[PatientFigures, ...]:
        return tuple(p for p in self.patients if p.label.onset_ms is not None)

    def alerted_share(self, in_time: bool = False) -> float:
        det = self.deteriorating()
        if not det:
            return 0.0
        hits = [
            p
            for p in det
            if p.first_physiological_ms is not None
            and (not in_time or p.first_physiological_ms <= (p.label.must_alert_by_ms or 0))
        ]
        return len(hits) / len(det)

    @property
    def stable_with_physiological_alert(self) -> int:
        return sum(1 for p in self.patients if p.label.onset_ms is None and p.raised_physiological)


class _CountingPolicy(AlertPolicy):
    """The engine's own policy, also counting what a bare monitor would sound.

    A raw onset is a sample on which a condition is at its *raise* level
    (hysteresis does not count) after a sample on which it was not.
    """

    def __init__(self, patient_id: str, config: PolicyConfig) -> None:
        super().__init__(patient_id, config)
        self.raw: Counter[str] = Counter()
        self._on: set[str] = set()

    def observe(self, obs: Observation, continuous: bool) -> list[Alert]:
        present = {c.key: c for c in obs.conditions}
        for key in obs.evaluated:
            cond = present.get(key)
            if cond is not None and cond.at_raise:
                if key not in self._on:
                    self.raw[key] += 1
                    self._on.add(key)
            else:
                self._on.discard(key)
        return super().observe(obs, continuous)


def patient_figures(
    label: PatientLabel, samples: list[VitalSample], config: PolicyConfig | PolicyBook
) -> PatientFigures:
    """Replay one patient; count raw condition onsets and policy alerts."""
    engine = PatientEngine(label.patient_id, config)
    policy = engine.policy = _CountingPolicy(label.patient_id, engine.config)
    raw: Counter[str] = policy.raw
    alerts: list[Alert] = []
    last_continuous: int | None = None
    for sample in samples:
        alerts.extend(engine.process(sample))
        if sample.heart_rate is not None or sample.spo2 is not None or sample.resp_rate is not None:
            if last_continuous is not None and sample.ts_ms - last_continuous > engine.config.signal_loss_s * 1000:
                raw["signal_loss"] += 1
            last_continuous = max(last_continuous or 0, sample.ts_ms)
    if samples:
        alerts.extend(engine.tick(max(s.ts_ms for s in samples)))
    raised = [a for a in alerts if a.status is Status.RAISED]
    physiological = [a for a in raised if a.kind.physiological]
    onset = label.onset_ms
    after_onset = [a.ts_ms for a in physiological if onset is not None and a.ts_ms >= onset]
    return PatientFigures(
        label=label,
        raw_crossings=tuple(sorted(raw.items())),
        raised_physiological=len(physiological),
        raised_technical=len(raised) - len(physiological),
        escalated=sum(1 for a in alerts if a.status is Status.ESCALATED),
        first_physiological_ms=min(after_onset) if after_onset else None,
    )


def fatigue_figures(
    spec: CohortSpec = DEFAULT_WARD, config: PolicyConfig | PolicyBook = DEFAULT_CONFIG
) -> FatigueFigures:
    """The whole ward's figures (a day of 20 patients takes well under a minute)."""
    cohort = generate_cohort(spec)
    patients = tuple(
        patient_figures(label, list(iter_patient_samples(cohort, label.patient_id)), config) for label in cohort.labels
    )
    return FatigueFigures(spec, patients)


def format_figures(f: FatigueFigures) -> str:
    """The closing-note table, in words."""
    det = f.deteriorating()
    lines = [
        f"ward: {len(f.patients)} patients x {f.spec.hours:g} h (seed {f.spec.seed}, "
        f"{len(det)} deteriorating) = {f.patient_days:g} patient-days",
        f"before the policy: {f.raw} raw condition onsets = {f.per_patient_day(f.raw):.1f} per patient-day",
        "  by condition: " + ", ".join(f"{k} {n}" for k, n in f.raw_by_condition),
        f"after the policy: {f.raised} alerts raised = {f.per_patient_day(f.raised):.1f} per patient-day "
        f"({f.per_patient_day(f.raised_physiological):.1f} physiological); "
        f"{f.notifications} notifications incl. escalations = {f.per_patient_day(f.notifications):.1f}",
        f"deteriorating patients alerted: {f.alerted_share():.0%} after onset, "
        f"{f.alerted_share(in_time=True):.0%} by the must-alert time",
        f"stable patients with a physiological alert: {f.stable_with_physiological_alert} "
        f"of {len(f.patients) - len(det)}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--patients", type=int, default=DEFAULT_WARD.n_patients)
    p.add_argument("--hours", type=float, default=DEFAULT_WARD.hours)
    p.add_argument("--seed", type=int, default=DEFAULT_WARD.seed)
    args = p.parse_args(argv)
    spec = CohortSpec(
        n_patients=args.patients, hours=args.hours, seed=args.seed, deteriorating_share=DEFAULT_WARD.deteriorating_share
    )
    print(format_figures(fatigue_figures(spec)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
