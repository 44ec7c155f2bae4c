"""A minute-by-minute picture of one patient, for the timeline plots.

Replays one patient like `replay.py` but also records what a chart would show:
each vital's last value per minute and the NEWS2 of the still-fresh inputs
(the same rolling view the engine scores), next to each policy's alerts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.config import PolicyConfig
from alerts.engine import freshness_of
from alerts.evaluation.fixed_limits import fixed_limit_alarms
from alerts.evaluation.policies import Policy
from alerts.evaluation.replay import NamedConfig, PolicyAlerts, run_engine
from alerts.evaluation.scoring import AlertMark
from monitor.cohort import CohortSpec, PatientLabel, PatientPlan, iter_plan_samples
from monitor.latest import LatestVitals

TRACE_VITALS: tuple[str, ...] = ("heart_rate", "spo2", "resp_rate", "systolic_bp", "temperature")
MINUTE_MS = 60_000


@dataclass(frozen=True)
class Trace:
    """Per-minute values (NaN = nothing that minute) and every policy's alerts."""

    label: PatientLabel
    minutes_ms: np.ndarray
    vitals: dict[str, np.ndarray]
    news2: np.ndarray
    results: tuple[PolicyAlerts, ...]


def trace_patient(
    spec: CohortSpec, plan: PatientPlan, configs: tuple[NamedConfig, ...], freshness_config: PolicyConfig
) -> Trace:
    """Record one patient's chart and alerts (main process; one per scenario)."""
    samples = list(iter_plan_samples(spec, plan))
    n = int((spec.end_ms - spec.start_ms) // MINUTE_MS) + 1
    grid = spec.start_ms + np.arange(n, dtype=np.int64) * MINUTE_MS
    vitals = {v: np.full(n, np.nan) for v in TRACE_VITALS}
    news2 = np.full(n, np.nan)
    view = LatestVitals()
    fresh = freshness_of(freshness_config)
    for sample in samples:
        view.update(sample)
        i = min(max(int((sample.ts_ms - spec.start_ms) // MINUTE_MS), 0), n - 1)
        for name in TRACE_VITALS:
            value = getattr(sample, name)
            if value is not None:
                vitals[name][i] = value
        news2[i] = view.score(sample.ts_ms, fresh).news2.total
    pid = plan.label.patient_id
    results = [PolicyAlerts(c.name, run_engine(pid, c.config, samples, spec.end_ms)) for c in configs]
    fixed = tuple(AlertMark.of(a) for a in fixed_limit_alarms(samples))
    results.insert(0, PolicyAlerts(Policy.FIXED_LIMITS.value, fixed))
    return Trace(plan.label, grid, vitals, news2, tuple(results))
