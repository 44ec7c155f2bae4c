"""Replay one synthetic patient through every policy under test.

The patient's samples are generated once and fed, in arrival order, to one
`PatientEngine` per engine config plus the fixed-limit monitor, exactly as the
stream worker would feed them (duplicates and late samples included). Each
patient is independent, so this is the unit of work a process pool runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from alerts.engine import PatientEngine
from alerts.evaluation.fixed_limits import fixed_limit_alarms
from alerts.evaluation.policies import Policy
from alerts.evaluation.scoring import AlertMark
from monitor.cohort import CohortSpec, PatientLabel, PatientPlan, iter_plan_samples
from monitor.vitals import VitalSample


@dataclass(frozen=True, slots=True)
class NamedConfig:
    """An engine config and the name its results are reported under."""

    name: str
    config: Any


@dataclass(frozen=True, slots=True)
class ReplayTask:
    spec: CohortSpec
    plan: PatientPlan
    configs: tuple[NamedConfig, ...]
    fixed_limits: bool = True


@dataclass(frozen=True, slots=True)
class PolicyAlerts:
    name: str
    alerts: tuple[AlertMark, ...]


@dataclass(frozen=True, slots=True)
class PatientRun:
    """All alerts each policy produced for one patient."""

    label: PatientLabel
    results: tuple[PolicyAlerts, ...]
    samples: int
    seconds: float

    def alerts(self, name: str) -> tuple[AlertMark, ...]:
        for result in self.results:
            if result.name == name:
                return result.alerts
        raise KeyError(name)


def run_engine(patient_id: str, config: Any, samples: list[VitalSample], end_ms: int) -> tuple[AlertMark, ...]:
    """All alert state changes one engine emits for the stream, timers run to the end."""
    engine = PatientEngine(patient_id, config)
    out = []
    for sample in samples:
        out.extend(engine.process(sample))
    out.extend(engine.tick(end_ms))
    return tuple(AlertMark.of(a) for a in out)


def replay_patient(task: ReplayTask) -> PatientRun:
    """Run every configured policy over one patient (a process-pool task)."""
    started = time.perf_counter()
    spec, plan = task.spec, task.plan
    samples = list(iter_plan_samples(spec, plan))
    pid = plan.label.patient_id
    results = [PolicyAlerts(c.name, run_engine(pid, c.config, samples, spec.end_ms)) for c in task.configs]
    if task.fixed_limits:
        marks = tuple(AlertMark.of(a) for a in fixed_limit_alarms(samples))
        results.insert(0, PolicyAlerts(Policy.FIXED_LIMITS.value, marks))
    return PatientRun(plan.label, tuple(results), len(samples), time.perf_counter() - started)
