"""Deterioration courses: which vitals move, how far, how fast, and by when a
ward team must have been called.

Each scenario is a set of end-point changes reached over a ramp; each vital
follows its own curve (`progress ** exponent`) so, e.g. in sepsis, fever and
tachycardia lead and hypotension comes late, as on a ward. `must_alert_by` is
the moment the picture is clinically unambiguous (NEWS2 would reach the
urgent-response band with fresh observations), expressed as a fraction of the
ramp; tachyarrhythmia is a step, so its deadline is a fixed 15 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.cohort.spec import Scenario
from monitor.vitals import Consciousness


@dataclass(frozen=True, slots=True)
class Course:
    """One patient's deterioration, in seconds from cohort start."""

    scenario: Scenario
    onset_s: float
    ramp_s: float
    must_alert_s: float
    delta: dict[str, float]
    exponent: dict[str, float]
    extra_hr_sd: float = 0.0

    def progress(self, t: np.ndarray) -> np.ndarray:
        """0 before onset, rising to 1 at the end of the ramp."""
        return np.clip((t - self.onset_s) / self.ramp_s, 0.0, 1.0)

    def shift(self, name: str, t: np.ndarray) -> np.ndarray | None:
        """Change of `name` at times `t`, or None when the course leaves it alone."""
        size = self.delta.get(name)
        if size is None:
            return None
        return size * self.progress(t) ** self.exponent.get(name, 1.0)

    def consciousness(self, t_s: float) -> Consciousness:
        """ACVPU a nurse would chart at `t_s`."""
        p = float(self.progress(np.array([t_s]))[0])
        if self.scenario is Scenario.OPIOID:
            return Consciousness.P if p >= 0.95 else Consciousness.V if p >= 0.55 else Consciousness.A
        if self.scenario is Scenario.SEPSIS and p >= 0.85:
            return Consciousness.C
        return Consciousness.A


#: Ramp length (hours) range and the fraction of it after which alerting is overdue.
_RAMP_H: dict[Scenario, tuple[float, float]] = {
    Scenario.SEPSIS: (4.0, 7.0),
    Scenario.RESPIRATORY_FAILURE: (2.0, 4.0),
    Scenario.HYPOVOLAEMIA: (1.0, 3.0),
    Scenario.OPIOID: (0.5, 1.5),
    Scenario.TACHYARRHYTHMIA: (1 / 60, 1 / 60),
}
_MUST_FRACTION: dict[Scenario, float] = {
    Scenario.SEPSIS: 0.8,
    Scenario.RESPIRATORY_FAILURE: 0.75,
    Scenario.HYPOVOLAEMIA: 0.75,
    Scenario.OPIOID: 0.75,
}
TACHY_MUST_S = 900.0


def draw_course(rng: np.random.Generator, scenario: Scenario, rest: dict[str, float], span_s: float) -> Course:
    """Place and size one deterioration so its deadline falls inside the span."""
    low_h, high_h = _RAMP_H[scenario]
    ramp = float(rng.uniform(low_h, high_h)) * 3600.0
    earliest = min(6 * 3600.0, 0.25 * span_s)
    margin = min(3600.0, 0.05 * span_s)
    room = span_s - earliest - margin
    must_rel = TACHY_MUST_S if scenario is Scenario.TACHYARRHYTHMIA else ramp * _MUST_FRACTION[scenario]
    if must_rel > room:  # short cohorts: compress the course rather than lose the deadline
        ramp *= room / must_rel
        must_rel = room
    onset = float(rng.uniform(earliest, max(earliest, span_s - margin - must_rel)))
    delta, exponent, extra = _changes(rng, scenario, rest)
    return Course(scenario, onset, ramp, onset + must_rel, delta, exponent, extra)


def _changes(
    rng: np.random.Generator, scenario: Scenario, rest: dict[str, float]
) -> tuple[dict[str, float], dict[str, float], float]:
    u = rng.uniform
    if scenario is Scenario.SEPSIS:
        return (
            {
                "heart_rate": u(32, 48),
                "resp_rate": u(8, 12),
                "temperature": u(1.7, 2.5),
                "systolic_bp": -u(30, 45),
                "spo2": -u(1, 3),
            },
            {"temperature": 0.8, "heart_rate": 1.0, "resp_rate": 1.1, "systolic_bp": 1.5, "spo2": 1.5},
            0.0,
        )
    if scenario is Scenario.RESPIRATORY_FAILURE:
        return (
            {"spo2": -u(9, 13), "resp_rate": u(10, 14), "heart_rate": u(15, 25), "systolic_bp": u(0, 10)},
            {"spo2": 1.2, "resp_rate": 1.0, "heart_rate": 1.2},
            0.0,
        )
    if scenario is Scenario.HYPOVOLAEMIA:
        return (
            {"heart_rate": u(35, 50), "systolic_bp": -u(35, 50), "resp_rate": u(4, 7), "spo2": -u(0, 2)},
            {"heart_rate": 1.0, "systolic_bp": 1.3, "resp_rate": 1.2},
            0.0,
        )
    if scenario is Scenario.OPIOID:
        target_rr = u(4.5, 7.0)
        return (
            {
                "resp_rate": target_rr - rest["resp_rate"],
                "spo2": -u(8, 13),
                "heart_rate": -u(6, 14),
                "systolic_bp": -u(5, 15),
            },
            {"resp_rate": 0.9, "spo2": 1.3},
            0.0,
        )
    if scenario is Scenario.TACHYARRHYTHMIA:
        target_hr = u(138, 175)
        return ({"heart_rate": target_hr - rest["heart_rate"], "systolic_bp": -u(5, 20)}, {}, 7.0)
    raise ValueError(f"no course for {scenario}")
