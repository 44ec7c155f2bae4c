"""Sets of time intervals (seconds from cohort start) and fast membership tests.

Artifacts, sleep and activity are all "between a and b" facts; keeping them as
sorted, merged arrays lets a whole chunk of sample times be classified with one
`searchsorted` instead of a Python loop per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Intervals:
    """Sorted, non-overlapping half-open intervals [start, end) in seconds."""

    starts: np.ndarray
    ends: np.ndarray

    @staticmethod
    def empty() -> Intervals:
        return Intervals(np.zeros(0), np.zeros(0))

    @staticmethod
    def of(starts: np.ndarray | list[float], ends: np.ndarray | list[float]) -> Intervals:
        """Build from unsorted, possibly overlapping pieces (merged here)."""
        s = np.asarray(starts, dtype=float)
        e = np.asarray(ends, dtype=float)
        if s.size == 0:
            return Intervals.empty()
        order = np.argsort(s)
        s, e = s[order], e[order]
        out_s, out_e = [s[0]], [e[0]]
        for a, b in zip(s[1:], e[1:], strict=True):
            if a <= out_e[-1]:
                out_e[-1] = max(out_e[-1], b)
            else:
                out_s.append(a)
                out_e.append(b)
        return Intervals(np.array(out_s), np.array(out_e))

    def __len__(self) -> int:
        return int(self.starts.size)

    def index(self, t: np.ndarray) -> np.ndarray:
        """Index of the interval containing each time, or -1."""
        if self.starts.size == 0:
            return np.full(t.shape, -1, dtype=np.int64)
        idx = np.searchsorted(self.starts, t, side="right") - 1
        safe = np.maximum(idx, 0)
        inside = (idx >= 0) & (t < self.ends[safe])
        return np.where(inside, idx, -1)

    def contains(self, t: np.ndarray) -> np.ndarray:
        return self.index(t) >= 0

    def overlaps(self, start: float, end: float) -> bool:
        """True when any interval intersects [start, end)."""
        return bool(np.any((self.starts < end) & (self.ends > start)))

    def total(self) -> float:
        return float(np.sum(self.ends - self.starts))


def poisson_intervals(
    rng: np.random.Generator,
    span_s: float,
    per_hour: float,
    median_s: float,
    sigma: float,
    bounds_s: tuple[float, float],
) -> Intervals:
    """Randomly placed events (Poisson) with log-normal durations, clipped."""
    count = int(rng.poisson(per_hour * span_s / 3600.0))
    starts = rng.uniform(0.0, span_s, size=count)
    lengths = np.clip(rng.lognormal(np.log(median_s), sigma, size=count), *bounds_s)
    return Intervals.of(starts, starts + lengths)
