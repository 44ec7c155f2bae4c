"""Everything decided about one patient before a single sample is produced.

Planning is cheap (a few ms) and fully determined by (cohort seed, patient
index), so a worker process can rebuild any patient's plan from the spec alone
and samples can be generated lazily, chunk by chunk, without holding a
cohort's millions of samples in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.cohort.artifacts import Artifacts, draw_artifacts
from monitor.cohort.baselines import Baseline, draw_baseline
from monitor.cohort.identity import spot_monitor_id, wearable_id
from monitor.cohort.rhythm import Rhythm, draw_rhythm
from monitor.cohort.scenarios import Course, draw_course
from monitor.cohort.spec import CohortSpec, PatientLabel, Scenario

#: Long dropouts stay this far away from a labelled onset.
PROTECT_BEFORE_ONSET_S = 1800.0


@dataclass(frozen=True)
class PatientPlan:
    """One patient's physiology, course, artifacts and devices."""

    index: int
    label: PatientLabel
    baseline: Baseline
    rhythm: Rhythm
    course: Course | None
    artifacts: Artifacts
    wearables: tuple[tuple[float, str, int], ...]  # (from second, device id, period s)
    spot_device: str
    spot_times_s: np.ndarray
    noise_seed: tuple[int, ...]


def plan_patient(spec: CohortSpec, index: int, patient_id: str, scenario: Scenario, copd: bool) -> PatientPlan:
    """Draw one patient; the draw order is fixed so plans are reproducible."""
    seq = np.random.SeedSequence([spec.seed, index, 1])
    plan_seq, noise_seq = seq.spawn(2)
    rng = np.random.default_rng(plan_seq)
    span_s = spec.hours * 3600.0
    baseline = draw_baseline(rng, copd)
    start_hour = (spec.start_ms / 3_600_000.0) % 24.0
    rhythm = draw_rhythm(rng, start_hour, span_s)
    course = draw_course(rng, scenario, baseline.rest, span_s) if scenario.deteriorating else None
    protect = (course.onset_s - PROTECT_BEFORE_ONSET_S, course.must_alert_s) if course else None
    artifacts = draw_artifacts(rng, span_s, protect) if spec.artifacts else Artifacts.none()
    wearables = _wearables(rng, spec, artifacts.swaps)
    spot_times = _spot_times(rng, spec, span_s)
    label = PatientLabel(
        patient_id=patient_id,
        scenario=scenario,
        onset_ms=spec.start_ms + int(course.onset_s * 1000) if course else None,
        must_alert_by_ms=spec.start_ms + int(course.must_alert_s * 1000) if course else None,
        spo2_scale=baseline.spo2_scale,
    )
    return PatientPlan(
        index=index,
        label=label,
        baseline=baseline,
        rhythm=rhythm,
        course=course,
        artifacts=artifacts,
        wearables=wearables,
        spot_device=spot_monitor_id(rng),
        spot_times_s=spot_times,
        noise_seed=tuple(int(x) for x in noise_seq.generate_state(4)),
    )


def _wearables(
    rng: np.random.Generator, spec: CohortSpec, swaps: tuple[float, ...]
) -> tuple[tuple[float, str, int], ...]:
    low, high = spec.wearable_interval_s
    devices = []
    for start in (0.0, *swaps):
        devices.append((start, wearable_id(rng), int(rng.integers(low, high + 1))))
    return tuple(devices)


def _spot_times(rng: np.random.Generator, spec: CohortSpec, span_s: float) -> np.ndarray:
    """Nurse observation rounds: first within 30 min, then every 15–60 min."""
    low, high = spec.spot_check_min
    times = [float(rng.uniform(0.0, 1800.0))]
    while True:
        nxt = times[-1] + float(rng.uniform(low, high)) * 60.0
        if nxt >= span_s:
            break
        times.append(nxt)
    return np.array([t for t in times if t < span_s])
