"""What real wards do to telemetry: motion, probe-off, dropouts, device swaps,
duplicates and late messages, at rates seen in practice.

Rates are per hour of wear. Most artifacts are flagged the way devices flag
them (`quality.motion` high, `quality.probe_off`), but a share are not, as with
real sensors: an unflagged spike or a sliding probe produces values that look
like data, which is what a persistence delay exists to absorb. Long dropouts
are kept out of the window between a deterioration's onset and its deadline,
so every labelled episode is observable (a dropout there would test nothing
but the label).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monitor.cohort.intervals import Intervals, poisson_intervals

#: Chance that one message is delivered twice (at-least-once gateways).
DUPLICATE_RATE = 0.004
#: Chance that one message is delivered a few seconds late (out of order).
LATE_RATE = 0.01
LATE_S = (1.0, 8.0)


@dataclass(frozen=True)
class Artifacts:
    """Artifact schedule of one patient (seconds from cohort start)."""

    motion: Intervals
    spikes: Intervals
    probe_off: Intervals
    dropouts: Intervals
    swaps: tuple[float, ...]
    duplicate_rate: float = DUPLICATE_RATE
    late_rate: float = LATE_RATE

    @staticmethod
    def none() -> Artifacts:
        e = Intervals.empty()
        return Artifacts(e, e, e, e, (), 0.0, 0.0)


def draw_artifacts(rng: np.random.Generator, span_s: float, protect: tuple[float, float] | None) -> Artifacts:
    """Schedule artifacts; `protect` is a (start, end) no long dropout may touch."""
    motion = poisson_intervals(rng, span_s, per_hour=1.5, median_s=12.0, sigma=0.7, bounds_s=(3.0, 90.0))
    spikes = poisson_intervals(rng, span_s, per_hour=0.4, median_s=4.0, sigma=0.5, bounds_s=(1.0, 15.0))
    probe_off = _probe_off(rng, span_s)
    dropouts = _dropouts(rng, span_s, protect)
    swaps = _swaps(rng, span_s, dropouts)
    return Artifacts(motion, spikes, probe_off, dropouts, swaps)


def _probe_off(rng: np.random.Generator, span_s: float) -> Intervals:
    short = poisson_intervals(rng, span_s, per_hour=0.15, median_s=90.0, sigma=1.2, bounds_s=(10.0, 1800.0))
    long = poisson_intervals(rng, span_s, per_hour=0.01, median_s=2400.0, sigma=0.5, bounds_s=(900.0, 7200.0))
    return Intervals.of(np.r_[short.starts, long.starts], np.r_[short.ends, long.ends])


def _dropouts(rng: np.random.Generator, span_s: float, protect: tuple[float, float] | None) -> Intervals:
    """Seconds-to-minutes gaps, plus now and then one of hours (battery, out of range)."""
    short = poisson_intervals(rng, span_s, per_hour=0.12, median_s=45.0, sigma=1.3, bounds_s=(5.0, 1800.0))
    starts, ends = list(short.starts), list(short.ends)
    if rng.random() < 0.12 * span_s / 86400.0:
        start = float(rng.uniform(0.0, span_s))
        starts.append(start)
        ends.append(start + float(rng.uniform(3600.0, 3 * 3600.0)))
    if protect is not None:
        lo, hi = protect
        keep = [(a, b) for a, b in zip(starts, ends, strict=True) if b - a < 600.0 or b <= lo or a >= hi]
        starts, ends = [a for a, _ in keep], [b for _, b in keep]
    return Intervals.of(starts, ends)


def _swaps(rng: np.random.Generator, span_s: float, dropouts: Intervals) -> tuple[float, ...]:
    """Device changes, mostly at the end of a dropout (battery swapped)."""
    if rng.random() >= 0.3 * span_s / 86400.0:
        return ()
    if len(dropouts) and rng.random() < 0.7:
        return (float(dropouts.ends[int(rng.integers(len(dropouts)))]),)
    return (float(rng.uniform(0.0, span_s)),)
