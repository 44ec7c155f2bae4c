"""Normal daily life on a ward: sleep, getting up, and slow physiological drift.

These are the reasons a stable patient's vitals move, and so the things a
detector must learn to ignore: HR falls overnight and rises when the patient
walks to the bathroom; values wander slowly for no clinical reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.cohort.baselines import DRIFT_SD, MODELLED
from monitor.cohort.intervals import Intervals, poisson_intervals

#: Seconds over which falling asleep / waking up blends the sleep effect.
SLEEP_RAMP_S = 1200.0
#: Grid step of the precomputed drift; interpolated to sample times.
DRIFT_STEP_S = 60.0
#: Correlation time of the drift (Ornstein-Uhlenbeck tau).
DRIFT_TAU_S = 1800.0


@dataclass(frozen=True)
class Rhythm:
    """One patient's sleep, activity bouts and drift over the cohort span."""

    start_hour: float
    sleep: Intervals
    activity: Intervals
    drift: dict[str, np.ndarray]

    def circadian(self, t: np.ndarray) -> np.ndarray:
        """cos of the body clock: +1 at 16:00, -1 at 04:00 (UTC used as local)."""
        hour = self.start_hour + t / 3600.0
        return np.cos(2.0 * np.pi * (hour - 16.0) / 24.0)

    def sleep_depth(self, t: np.ndarray) -> np.ndarray:
        """0 awake .. 1 asleep, ramped at falling asleep and waking."""
        idx = self.sleep.index(t)
        inside = idx >= 0
        safe = np.maximum(idx, 0)
        if len(self.sleep) == 0:
            return np.zeros(t.shape)
        edge = np.minimum(t - self.sleep.starts[safe], self.sleep.ends[safe] - t)
        return np.where(inside, np.clip(edge / SLEEP_RAMP_S, 0.0, 1.0), 0.0)

    def active(self, t: np.ndarray) -> np.ndarray:
        return self.activity.contains(t)

    def drift_at(self, name: str, t: np.ndarray) -> np.ndarray:
        grid = self.drift[name]
        drift: np.ndarray = np.interp(t / DRIFT_STEP_S, np.arange(grid.size), grid)
        return drift


def draw_rhythm(rng: np.random.Generator, start_hour: float, span_s: float) -> Rhythm:
    """Nights of ~7.5 h starting around 23:00, bouts of activity while awake."""
    sleep_starts, sleep_ends = [], []
    first_day = -1
    for day in range(first_day, int(span_s // 86400) + 2):
        bedtime = (day * 24.0 + rng.normal(23.0, 0.7) - start_hour) * 3600.0
        length = float(np.clip(rng.normal(7.5, 0.9), 5.0, 10.0)) * 3600.0
        sleep_starts.append(bedtime)
        sleep_ends.append(bedtime + length)
    sleep = Intervals.of(sleep_starts, sleep_ends)
    bouts = poisson_intervals(rng, span_s, per_hour=0.9, median_s=300.0, sigma=0.6, bounds_s=(60.0, 1500.0))
    awake = ~sleep.contains(bouts.starts)
    activity = Intervals(bouts.starts[awake], bouts.ends[awake])
    return Rhythm(start_hour=start_hour, sleep=sleep, activity=activity, drift=_draw_drift(rng, span_s))


def _draw_drift(rng: np.random.Generator, span_s: float) -> dict[str, np.ndarray]:
    """An exact-discretisation OU path per vital on a 60 s grid."""
    steps = int(span_s // DRIFT_STEP_S) + 2
    phi = float(np.exp(-DRIFT_STEP_S / DRIFT_TAU_S))
    out: dict[str, np.ndarray] = {}
    for name in MODELLED:
        sd = DRIFT_SD[name]
        shocks = rng.normal(0.0, sd * np.sqrt(1.0 - phi * phi), size=steps)
        path = np.empty(steps)
        level = rng.normal(0.0, sd)
        for i in range(steps):
            level = phi * level + shocks[i]
            path[i] = level
        out[name] = path
    return out
