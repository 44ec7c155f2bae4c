"""Per-patient anomaly detector that learns the patient's own baseline online.

Population limits miss the patient whose resting HR is 55 and is now 95, and
page for the athlete at 45. So each vital gets a river `stats.Var` (Welford
mean and variance) as the patient's baseline, with a bounded memory so the
baseline follows slow circadian drift, and a short exponential mean that
smooths sensor noise before it is compared with the baseline. The score is how
many baseline standard deviations the smoothed value has moved, in the
clinically bad direction only (a rising SpO2 is not a deterioration), mapped to
0..1.

Learning is frozen by the caller while the patient is alerting, so the
detector does not learn the deterioration as the new normal. A warm-up (count
and time span) must pass before it may score at all.

State is a few numbers per vital, serialized explicitly (`to_state`), so a
checkpoint costs ~200 bytes, not a pickled model graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from river import stats

from monitor.vitals import CONTINUOUS, LABELS, VitalSample, format_vital

NAME = "baseline-z"
VERSION = "1"

#: Which deviation is bad: -1 only falling, +1 only rising, 0 both.
DIRECTION: dict[str, int] = {
    "heart_rate": 0,
    "spo2": -1,
    "resp_rate": 0,
    "systolic_bp": -1,
    "temperature": 0,
}
#: Smallest standard deviation believed, per vital: a very steady baseline must
#: not turn measurement noise into a 10-sigma event.
STD_FLOOR: dict[str, float] = {
    "heart_rate": 4.0,
    "spo2": 1.0,
    "resp_rate": 2.0,
    "systolic_bp": 8.0,
    "temperature": 0.25,
}
#: The per-vital loop, precomputed: (vital, direction, smoothed?).
_PLAN = tuple((v, DIRECTION[v], v in CONTINUOUS) for v in DIRECTION)

#: z-score at which the score starts rising from 0, and the span to reach 1.
Z_START = 2.0
Z_SPAN = 4.0


@dataclass(frozen=True, slots=True)
class Contribution:
    vital: str
    value: float
    baseline: float
    std: float
    z: float

    def text(self) -> str:
        trend = "above" if self.z > 0 else "below"
        return (
            f"{LABELS[self.vital]} {format_vital(self.vital, self.value)} {trend} own baseline "
            f"{format_vital(self.vital, self.baseline)} ({abs(self.z):.1f} SD)"
        )


@dataclass(frozen=True, slots=True)
class DetectorResult:
    score: float
    warm: bool
    contributions: tuple[Contribution, ...]  # most deviant first


class _VitalBaseline:
    """One vital: river Var baseline with bounded memory + a fast smoothing mean."""

    __slots__ = ("var", "fast", "fast_ts")

    def __init__(self) -> None:
        self.var = stats.Var()
        self.fast: float | None = None
        self.fast_ts = 0

    def smooth(self, value: float, ts_ms: int, tau_s: float) -> float:
        if self.fast is None or tau_s <= 0:
            self.fast = value
        elif ts_ms <= self.fast_ts:
            pass
        else:
            alpha = 1.0 - math.exp(-(ts_ms - self.fast_ts) / 1000.0 / tau_s)
            self.fast += alpha * (value - self.fast)
        self.fast_ts = max(ts_ms, self.fast_ts)
        return self.fast

    def learn(self, value: float, memory: float) -> None:
        self.var.update(value)
        n = self.var.mean.n
        if n > memory:
            # Bounded memory: rescale counts so old samples fade exponentially.
            ratio = memory / n
            self.var.mean.n = memory
            self.var._S *= ratio

    def std(self, vital: str) -> float:
        variance = self.var.get() if self.var.mean.n > 1 else 0.0
        return max(math.sqrt(max(variance, 0.0)), STD_FLOOR[vital])


class BaselineDetector:
    """`learn_one` / `score_one` in river's style, over one patient's samples."""

    __slots__ = ("vitals", "first_ts", "frozen", "warmup_samples", "warmup_ms", "memory", "tau_s")

    def __init__(
        self,
        warmup_samples: int = 120,
        warmup_s: float = 900.0,
        memory: float = 2000.0,
        tau_s: float = 60.0,
    ) -> None:
        self.vitals: dict[str, _VitalBaseline] = {}
        self.first_ts: int | None = None
        self.frozen = False
        self.warmup_samples = warmup_samples
        self.warmup_ms = int(warmup_s * 1000)
        self.memory = memory
        self.tau_s = tau_s

    def _warm(self, base: _VitalBaseline, ts_ms: int) -> bool:
        return (
            base.var.mean.n >= self.warmup_samples
            and self.first_ts is not None
            and ts_ms - self.first_ts >= self.warmup_ms
        )

    def learn_and_score(self, sample: VitalSample, skip: frozenset[str] = frozenset()) -> DetectorResult:
        """Score the smoothed values, then learn from the raw ones unless frozen.

        `skip` names vitals whose values are not trustworthy right now (motion
        artefact), so they neither score nor teach the baseline.
        """
        ts = sample.ts_ms
        if self.first_ts is None:
            self.first_ts = ts
        time_warm = ts - self.first_ts >= self.warmup_ms
        contributions: list[Contribution] = []
        warm_any = False
        vitals, frozen = self.vitals, self.frozen
        for vital, direction, continuous in _PLAN:
            value = getattr(sample, vital)
            if value is None or (skip and vital in skip):
                continue
            base = vitals.get(vital)
            if base is None:
                base = vitals[vital] = _VitalBaseline()
            smoothed = base.smooth(value, ts, self.tau_s if continuous else 0.0)
            n = base.var.mean.n
            if time_warm and n >= self.warmup_samples:
                warm_any = True
                mean = base.var.mean.get()
                std = base.std(vital)  # once per vital: it is the costly part
                z = (smoothed - mean) / std
                if direction == 0 or (z * direction) > 0:
                    contributions.append(Contribution(vital, smoothed, mean, std, z))
            if not frozen:
                base.learn(value, self.memory)
        contributions.sort(key=lambda c: -abs(c.z))
        top = abs(contributions[0].z) if contributions else 0.0
        score = min(1.0, max(0.0, (top - Z_START) / Z_SPAN))
        return DetectorResult(score=score, warm=warm_any, contributions=tuple(contributions))

    def baseline(self, vital: str) -> float | None:
        base = self.vitals.get(vital)
        if base is None or base.var.mean.n < 1:
            return None
        return base.var.mean.get()

    def to_state(self) -> list:
        """Explicit, JSON-able state: [first_ts, frozen, {vital: [n, mean, var, fast, fast_ts]}]."""
        per_vital = {
            name: [b.var.mean.n, b.var.mean.get(), b.var.get() if b.var.mean.n > 1 else 0.0, b.fast, b.fast_ts]
            for name, b in self.vitals.items()
        }
        return [self.first_ts, self.frozen, per_vital]

    def load_state(self, state: list) -> "BaselineDetector":
        first_ts, frozen, per_vital = state
        self.first_ts = first_ts
        self.frozen = bool(frozen)
        for name, (n, mean, var, fast, fast_ts) in per_vital.items():
            base = _VitalBaseline()
            base.var = stats.Var._from_state(n=n, m=mean, var=var)
            base.fast = fast
            base.fast_ts = fast_ts
            self.vitals[name] = base
        return self
