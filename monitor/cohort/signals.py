"""The patient's true physiology at given times, before any sensor sees it.

Sum of independent, explainable parts: resting value, body clock, sleep,
activity, slow drift and (after onset) the deterioration course. Vectorised
over a chunk of sample times so one hour of 1 Hz data costs a few numpy calls.
"""

from __future__ import annotations

import numpy as np

from monitor.cohort.baselines import ACTIVITY_EFFECT, SLEEP_EFFECT
from monitor.cohort.plan import PatientPlan


def true_values(plan: PatientPlan, names: tuple[str, ...], t: np.ndarray) -> dict[str, np.ndarray]:
    """Noise-free value of each vital in `names` at times `t` (s from start)."""
    rhythm = plan.rhythm
    clock = rhythm.circadian(t)
    sleep = rhythm.sleep_depth(t)
    active = rhythm.active(t).astype(float)
    out: dict[str, np.ndarray] = {}
    for name in names:
        value = (
            plan.baseline.rest[name]
            + plan.baseline.circadian_amplitude[name] * clock
            + SLEEP_EFFECT[name] * sleep
            + ACTIVITY_EFFECT[name] * active
            + rhythm.drift_at(name, t)
        )
        if plan.course is not None:
            shift = plan.course.shift(name, t)
            if shift is not None:
                value = value + shift
        out[name] = value
    return out
