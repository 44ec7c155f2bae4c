"""Per-patient anomaly detector that learns the patient's own baseline online.

Population limits miss the patient whose resting HR is 55 and is now 95, and
page for the athlete at 45. So each vital gets a baseline of the patient's
own: an exponentially weighted mean and variance (river-style `get()`/`n`
statistics) with a *time-based* memory of hours, so it follows the body clock
but not a deterioration that develops over hours. Two time scales:

* the *current* value is a medium-horizon exponential mean (minutes) of the
  wearable vitals (HR, SpO2, RR), so sensor noise and short bursts of activity
  do not look like a change; spot checks (BP, temperature) are one deliberate
  reading each and are used as they are, valid for a while;
* the *baseline* learns from that smoothed value (so noise does not inflate its
  variance), each value weighted by how long it held, with a memory of several
  hours.

Each vital scores how many baseline standard deviations the current value has
moved, in the clinically bad direction only (a rising SpO2 is not a
deterioration, and a falling HR is sleep far more often than illness).
Deterioration moves several vitals together (sepsis: HR, RR and
temperature up, BP down; bleeding: HR up, BP down; respiratory failure: SpO2
down, RR up), so the vitals are combined: the most deviant one plus, for every
other vital that moved the bad way, its excess beyond `Z_JOIN`. Two vitals at
2.25 SD together count like one at 4 SD. The combined z maps to a 0..1 score.

Learning is frozen by the caller while the patient is alerting, so the
detector does not learn the deterioration as the new normal; before that, a
value already far out the bad way is learned only slowly (`Z_HOLD`), so the
early part of a deterioration does not widen the yardstick that measures it.
A warm-up (count and time span) must pass before a vital may score.

A steady SpO2 fall or RR change is projected along its half-hour trend (never
beyond the last half-minute), so the smoothing does not make the detector see
it ten minutes late; the alert then says "falling 1.2 % in 20 min". HR and RR
measured while the accelerometer says the patient is walking are exertion:
neither scored nor learned.

Sparse data (#16): a continuous-kind vital (HR, SpO2, RR) that arrives
minutes to hours apart (a spot-check monitor, a nurse's observation round, an
EHR feed) is inferred to be *intermittent* from its own gaps (`SPARSE_GAP_S`):
each reading is then a deliberate measurement used as it is (no smoothing, no
trend), and it warms up by count AND time span like a spot check:
`SPOT_WARMUP` learned readings and `intermittent_warmup_s` (default 12 h) of the
patient's data, so a patient charted 4-hourly has a personal baseline after
about half a day to a day instead of never (120 readings at 4 h = 20 days).

State is a few numbers per vital, serialized explicitly (`to_state`), so a
checkpoint costs a few hundred bytes, not a pickled model graph.

River
-----
`BaselineDetector` is a `river.base.AnomalyDetector`: parameters in
`__init__`, `clone()`, `learn_one(x)` returning None and `score_one(x)` a float
in 0..1, so it runs in a `river.compose.Pipeline` and in river's evaluation
tools. `x` is one patient's vitals by contract name (`heart_rate`, `spo2`,
`resp_rate`, `temperature`, `systolic_bp`, `diastolic_bp`), plus the event time
under `x["t"]` (epoch milliseconds, or a `datetime`) and optionally the
accelerometer index under `x["motion"]`; `t` and `motion` are read and never
scored. The baseline is *time*-weighted, so without `t` it cannot learn: a
missing `t` is a `ValueError`. `explain_one(x)` gives the `DetectorResult`
(which vital, how far from own baseline). The engine calls the same code
through `learn_and_score(sample)` (one call per sample, no dict built).

>>> from river import compose
>>> model = compose.Discard("bed") | BaselineDetector(warmup_samples=30, warmup_s=600)
>>> t = 1_700_000_000_000
>>> for i in range(120):  # 10 min of a steady patient, every 5 s
...     model.learn_one({"t": t + i * 5000, "heart_rate": 72 + i % 3, "spo2": 97, "bed": 4})
>>> model.score_one({"t": t + 120 * 5000, "heart_rate": 73, "spo2": 97, "bed": 4})
0.0
>>> d = BaselineDetector(warmup_samples=30, warmup_s=600)
>>> for i in range(400):  # 33 min steady, then SpO2 slides 97 -> 90 over 10 min
...     d.learn_one({"t": t + i * 5000, "heart_rate": 72, "spo2": 97 - max(0, i - 280) * 0.06})
>>> d.score_one({"t": t + 400 * 5000, "heart_rate": 72, "spo2": 89.8}) > 0.5
True
>>> d.explain_one({"t": t + 400 * 5000, "heart_rate": 72, "spo2": 89.8}).contributions[0].vital
'spo2'
>>> d.clone().vitals  # same parameters, no state
{}

Why not river.stats.EWMean / EWVar for the baseline: they take one fixed
`fading_factor` per update (Rust, not settable per call), while vitals come at
irregular gaps (5 s from a wearable, 4 h from a nurse's round) and each value
must weigh by how long it held; a per-update `1 - exp(-dt / tau)` weight is
the whole point. They are also ~0.3 us a call through the Rust boundary, and
this detector does up to 15 such updates a sample inside a 20 us budget. The
idea is the exponentially weighted moving average/variance of irregularly
sampled series (Eckner, "Algorithms for unevenly spaced time series", 2012)
with a winsorized update (Huber-style robust online estimation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from river import base as river_base

from monitor.vitals import ACTIVE_MOTION, CONTINUOUS, EXERTION_VITALS, LABELS, UNITS, VitalSample, format_vital

NAME = "baseline-z"
VERSION = "4"
#: Version of `to_state`'s layout; version 1 had no trailing version number,
#: version 2 no half-hour mean (`slow`).
STATE_VERSION = 3
_STATE_VERSIONS = (1, 2, 3)

#: Which deviation is bad: -1 only falling, +1 only rising, 0 both.
#: HR only rising: relative to the patient's own day, HR falls most at sleep
#: onset, with SpO2, RR and BP a little lower too, and scoring that as a
#: multi-vital departure was three in four of the detector's false alerts on
#: stable patients. A slow heart that matters is absolute, not relative, and
#: pages on its own rules (NEWS2 scores HR <= 50; `hr_low` < 40 is high
#: priority); opioid toxicity is seen by its RR and SpO2.
DIRECTION: dict[str, int] = {
    "heart_rate": 1,
    "spo2": -1,
    "resp_rate": 0,
    "systolic_bp": -1,
    "temperature": 0,
}
#: Smallest standard deviation believed, per vital: a very steady baseline must
#: not turn ordinary physiological wander into a 10-sigma event. Set near the
#: typical spread of a well patient's smoothed value around their own hours-long
#: mean (sleep, body clock, activity): HR moves most and least specifically.
STD_FLOOR: dict[str, float] = {
    "heart_rate": 5.0,
    "spo2": 0.6,
    "resp_rate": 1.5,
    "systolic_bp": 8.0,
    "temperature": 0.25,
}
#: Memory of the baseline (s): long against a deterioration's development, short
#: against a day, so the body clock is followed but a slow slide is not.
BASELINE_TAU_S = 4 * 3600.0
#: Medium-horizon smoothing of the wearable vitals (s) before they are compared.
CURRENT_TAU_S = 600.0
#: Short smoothing (s) that tells whether a deviation is still there right now
#: (half a minute: a recovery clears promptly, one noisy reading does not).
QUICK_TAU_S = 30.0
#: How long a spot check (BP, temperature) stands as the current value (s), and
#: how long a wearable value may be missing before it no longer counts (s).
SPOT_VALID_S = 2 * 3600.0
CONTINUOUS_VALID_S = 300.0
#: A gap longer than this teaches the baseline no more than this (s).
MAX_LEARN_DT_S = 3600.0
#: The baseline learns a value at most this many of its SDs from its mean
#: (winsorized), so a developing deterioration neither drags the mean along
#: nor inflates the variance that would hide it.
LEARN_CLIP = 3.0
#: Before an alert freezes learning, a deterioration is already teaching the
#: baseline: the mean creeps after it and, worse, each value 3 SD out inflates
#: the variance (by ~x7 over an hour at a 4 h memory), so the SD that measures
#: the change grows with it and a bleed pages after its deadline, or not at
#: all. So a value more than Z_HOLD SDs from the baseline the clinically bad
#: way teaches the variance only as if it were Z_HOLD SDs out, at HOLD_RATE of
#: the usual rate, and the mean at HOLD_MEAN_RATE of it. Values within Z_HOLD
#: (a patient's normal wandering, waking up) are learned exactly as before; a
#: normal that really moved further is still learned, four times slower.
Z_HOLD = 2.0
HOLD_RATE = 0.25
HOLD_MEAN_RATE = 0.25
#: The trend of a wearable vital is its medium mean minus a half-hour mean
#: (SLOW_TAU_S): on a steady slope that is the change over the last
#: TREND_SPAN_MIN minutes, and it says how far the medium mean lags behind.
#: For the vitals in TREND_VITALS (respiratory failure and opioid toxicity
#: develop as a steady SpO2 fall and RR change), a value moving away from the
#: baseline is scored TREND_GAIN of that trend further along it, never beyond
#: what the last half-minute shows, so a steady slide is seen ~10 min sooner
#: while a burst (no half-hour trend) or a recovery (quick mean back) is not.
#: TREND_GAIN = CURRENT_TAU_S / (SLOW_TAU_S - CURRENT_TAU_S) is exactly the
#: medium mean's lag on a steady slope; more would extrapolate (tried: 1.0 doubled
#: the detector's false alerts for ~3 min more lead).
SLOW_TAU_S = 1800.0
TREND_SPAN_MIN = (SLOW_TAU_S - CURRENT_TAU_S) / 60.0
TREND_GAIN = CURRENT_TAU_S / (SLOW_TAU_S - CURRENT_TAU_S)
TREND_VITALS = frozenset({"spo2", "resp_rate"})
#: Accelerometer activity index (0..1, `quality.motion`) from which the patient
#: is up and about: HR and RR then rise with exertion, not illness, so while
#: it lasts they are neither scored from these readings nor learned as the
#: resting normal (the last resting value stands, for CONTINUOUS_VALID_S).
#: Motion from `motion_limit` (0.6) up is artefact and handled by the engine.
#: (ACTIVE_MOTION and EXERTION are monitor.vitals' ACTIVE_MOTION and EXERTION_VITALS.)
EXERTION = EXERTION_VITALS
#: Spot checks come every 15-60 min: this many learned readings warm them up.
SPOT_WARMUP = 3
#: A continuous-kind vital (HR, SpO2, RR) whose readings come more than this
#: far apart (s) is charted, not streamed: a wearable sends every few seconds
#: and a 1-min feed is still a stream, a spot-check round is 15 min to 4 h.
#: `_VitalBaseline.sparse` is an exponential average (rate SPARSE_RATE) of
#: "this gap was long", and the vital is intermittent while it is >= 0.5:
#: three long gaps in a row make it so; one or two dropouts in a stream do not
#: (two in a row, 7 and 4 min, happen in the generated cohort: 0.3 flagged them).
SPARSE_GAP_S = 120.0
SPARSE_RATE = 0.25
#: An intermittent vital also needs this much of the patient's data (s) before
#: it scores: a personal baseline should span a good part of the body clock,
#: not three readings in an hour. 12 h: a 4-hourly chart warms at its 4th
#: reading (12 h), an hourly one at 12 h.
INTERMITTENT_WARMUP_S = 12 * 3600.0

#: z-score at which the score starts rising from 0, and the span to reach 1.
Z_START = 2.0
Z_SPAN = 4.0
#: A further vital that moved the bad way adds its z beyond this to the top one.
#: Half an SD is the noise a smoothed vital wanders by; beyond it, a second
#: vital moving the bad way is corroboration (respiratory failure: RR up 2 SD,
#: SpO2 down 1.5 SD, HR up 1.5 SD is an early but clear picture). Measured on
#: the dev cohorts (seeds 7-9, 120 respiratory-failure episodes, 280 stable
#: patient-days), against 1.0: pages 8 min earlier (median), for +0.2 detector
#: false alerts per stable patient-day; HR's rising-only DIRECTION had removed
#: three quarters of them first. The README's evaluation has the sweep.
Z_JOIN = 0.5


@dataclass(frozen=True, slots=True)
class Contribution:
    vital: str
    value: float
    baseline: float
    std: float
    z: float
    #: How far the value moved, away from the baseline, over the last ~20 min
    #: (`TREND_SPAN_MIN`), when that movement counted towards `z`; else 0.
    trend: float = 0.0

    def text(self) -> str:
        side = "above" if self.z > 0 else "below"
        return (
            f"{LABELS[self.vital]} {format_vital(self.vital, self.value)} {side} own baseline "
            f"{format_vital(self.vital, self.baseline)} ({abs(self.z):.1f} SD{self.trend_text()})"
        )

    def trend_text(self) -> str:
        """'; falling 1.2 % in 20 min' when the trend counted, else ''."""
        if not self.trend:
            return ""
        way = "rising" if self.trend > 0 else "falling"
        size = f"{abs(self.trend):.1f}" if self.vital != "temperature" else f"{abs(self.trend):.2f}"
        unit = UNITS.get(self.vital, "")
        return f"; {way} {size}{'' if unit in ('%', '') else ' '}{unit} in {TREND_SPAN_MIN:.0f} min"


#: One deviation as the detector found it: Contribution's fields (vital, value, baseline, std, z, trend).
_Raw = tuple[str, float, float, float, float, float]


class DetectorResult:
    """A score with the deviations behind it (`contributions`, most deviant first).

    Immutable by convention, like a frozen dataclass. The detector hands over
    the deviations as plain tuples and the `Contribution` objects are only
    built when someone asks (an alert's reasons): most samples score 0 and
    nobody reads them, and building them was a third of the detector's cost.
    """

    __slots__ = ("_contributions", "_raw", "score", "warm")

    def __init__(self, score: float, warm: bool, contributions: tuple[Contribution, ...] = ()) -> None:
        self.score = score
        self.warm = warm
        self._contributions: tuple[Contribution, ...] | None = tuple(contributions)
        self._raw: list[_Raw] | None = None

    @classmethod
    def _of(cls, score: float, warm: bool, raw: list[_Raw]) -> DetectorResult:
        """From the detector's (vital, value, baseline, std, z, trend) tuples, unsorted."""
        result = cls.__new__(cls)
        result.score, result.warm, result._contributions, result._raw = score, warm, None, raw
        return result

    def named(self, z_join: float) -> tuple[str, ...]:
        """The vitals an alert names, in `contributions` order: the most deviant,
        then every other one beyond `z_join` SD (without building the objects)."""
        if self._contributions is not None:
            return tuple(c.vital for i, c in enumerate(self._contributions) if i == 0 or abs(c.z) > z_join)
        raw = self._raw or []
        if len(raw) > 1:
            raw = sorted(raw, key=_raw_size)
        return tuple(r[0] for i, r in enumerate(raw) if i == 0 or abs(r[4]) > z_join)

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        found = self._contributions
        if found is None:
            raw = self._raw or []
            if len(raw) > 1:
                raw = sorted(raw, key=_raw_size)
            found = self._contributions = tuple(Contribution(*r) for r in raw)
            self._raw = None
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DetectorResult):
            return NotImplemented
        return (self.score, self.warm, self.contributions) == (other.score, other.warm, other.contributions)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"DetectorResult(score={self.score!r}, warm={self.warm!r}, contributions={self.contributions!r})"


class _EWMean:
    """Exponentially weighted mean in river's style: `n` learned values, `get()`."""

    __slots__ = ("n", "value")

    def __init__(self, n: float = 0, value: float = 0.0) -> None:
        self.n = int(n)  # a count (compiled: a C long long), also when a checkpoint wrote 12.0
        self.value = float(value)

    def get(self) -> float:
        return self.value


class _EWVar:
    """Exponentially weighted variance around an `_EWMean` (`var.mean.n`, `var.get()`)."""

    __slots__ = ("mean", "value")

    def __init__(self, n: float = 0, mean: float = 0.0, var: float = 0.0) -> None:
        self.mean = _EWMean(n, mean)
        self.value = float(var)

    def get(self) -> float:
        return self.value

    def update(self, x: float, alpha: float, clip: float) -> None:
        """Learn `x` with weight `alpha`, its deviation limited to +-`clip` (winsorized)."""
        mean = self.mean
        if mean.n == 0:
            mean.value, mean.n = x, 1
            return
        diff = x - mean.value
        if diff > clip:
            diff = clip
        elif diff < -clip:
            diff = -clip
        incr = alpha * diff
        mean.value += incr
        self.value = (1.0 - alpha) * (self.value + diff * incr)
        mean.n += 1

    def update_held(self, x: float, alpha: float, clip: float, var_alpha: float, var_clip: float) -> None:
        """As `update`, but the variance learns `x` as if it were at most `var_clip`
        from the mean, with weight `var_alpha` (the mean learns as usual)."""
        mean = self.mean
        diff = x - mean.value
        d = var_clip if diff > var_clip else (-var_clip if diff < -var_clip else diff)
        self.value = (1.0 - var_alpha) * (self.value + d * (var_alpha * d))
        d = clip if diff > clip else (-clip if diff < -clip else diff)
        mean.value += alpha * d
        mean.n += 1


#: Weights of the current, quick and slow means by gap (s), one table per tau_s.
_STEPS: dict[float, dict[float, tuple[float, float, float]]] = {}
#: Distinct gaps remembered per table; beyond it (a very irregular feed) they are computed each time.
_STEPS_MAX = 4096


def _step(dt: float, tau_s: float, steps: dict[float, tuple[float, float, float]]) -> tuple[float, float, float]:
    """(current, quick, slow) weights of a `dt` s gap, before the warm-up floors; remembered in `steps`."""
    a = 1.0 - math.exp(-dt / tau_s)
    q = 1.0 - math.exp(-dt / QUICK_TAU_S)
    w = dt / SLOW_TAU_S
    # 1 - exp(-w) to ~1e-9 for the usual few seconds, without the exp call
    w = w * (1.0 - 0.5 * w) if w < 1e-3 else 1.0 - math.exp(-w)
    step = (a, q, w)
    if len(steps) < _STEPS_MAX:
        steps[dt] = step
    return step


class _VitalBaseline:
    """One vital: the current (smoothed or spot) value and the slow baseline it teaches."""

    __slots__ = ("direction", "fast", "fast_ts", "floor", "need", "quick", "sd", "slow", "sparse", "var")

    def __init__(self, need: int, floor: float, direction: int, value: float, ts_ms: int) -> None:
        # Made with the vital's first value, which is taken and teaches nothing yet
        # (no value was held before it), so the means are never None.
        # The means are floats from the start: compiled (detector.pxd), they are C doubles,
        # and a first reading of 72 must read back as 72.0 either way (same checkpoint bytes).
        value = float(value)
        self.var = _EWVar()
        self.fast = value  # the current value: medium-horizon mean (or spot check)
        self.fast_ts = ts_ms
        self.quick = value  # a half-minute mean, to see a recovery at once
        self.slow = value  # a half-hour mean: with `fast`, the trend
        self.need = need  # learned values before this vital may score
        self.floor = floor  # STD_FLOOR of the vital
        self.sd = floor  # `std()` of the baseline as it stands, kept up to date by whoever changes `var`
        self.direction = direction  # DIRECTION of the vital: which way is bad
        self.sparse = 0.0  # how charted (not streamed) the vital's gaps look, 0..1 (SPARSE_GAP_S)

    def update(self, value: float, ts_ms: int, tau_s: float, learn: bool, memory_s: float) -> float:
        """Teach the baseline the value held since the last one, then take the new one."""
        fast = self.fast
        dt = (ts_ms - self.fast_ts) / 1000.0
        if dt <= 0.0:
            return fast
        var = self.var
        if learn:
            held = dt if dt < MAX_LEARN_DT_S else MAX_LEARN_DT_S
            n = var.mean.n
            alpha = held / (memory_s + held)
            if n and alpha * (n + 1) < 1.0:
                alpha = 1.0 / (n + 1)  # early on: a plain average of what has been seen
            sd = self.sd
            if n >= self.need or (n >= SPOT_WARMUP and self.sparse >= 0.5):
                diff = fast - var.mean.value
                direction = self.direction
                bad = -diff if direction < 0 else (diff if direction > 0 else abs(diff))
            else:
                bad = 0.0
            if bad > Z_HOLD * sd:
                var.update_held(fast, alpha * HOLD_MEAN_RATE, LEARN_CLIP * sd, alpha * HOLD_RATE, Z_HOLD * sd)
            else:
                var.update(fast, alpha, LEARN_CLIP * sd)
            # self.std(), inline (every learning step); the kept SD saved ~1.8 us/sample (ca744be)
            variance = var.value if var.mean.n > 1 else 0.0
            floor = self.floor
            self.sd = math.sqrt(variance) if variance > floor * floor else floor
        if tau_s > 0.0:
            # Data shape (#16): a continuous-kind vital charted minutes to hours
            # apart is used as it is, like a spot check. Only a long gap or a
            # vital that had one pays more than this one comparison (measured:
            # detector alone 5.99 vs v4's 6.02 us/sample, min of 7 interleaved
            # runs over 62,540 cohort samples, so within noise).
            if dt > SPARSE_GAP_S:
                sparse = self.sparse = self.sparse + SPARSE_RATE * (1.0 - self.sparse)
                if sparse >= 0.5:
                    tau_s = 0.0
            elif self.sparse:
                sparse = self.sparse * (1.0 - SPARSE_RATE)
                self.sparse = sparse if sparse > 0.01 else 0.0
        if tau_s > 0.0:
            # The three means' weights depend on dt alone, and a wearable's gaps
            # are the same few seconds over and over: computed once per gap.
            steps = _STEPS.get(tau_s)
            if steps is None:
                steps = _STEPS[tau_s] = {}
            step = steps.get(dt)
            if step is None:
                step = _step(dt, tau_s, steps)
            a, q, w = step
            n = var.mean.n
            if a * (n + 2) < 1.0:
                a = 1.0 / (n + 2)  # first values: their plain average, not the first one's echo
            fast += a * (value - fast)
            if q < a:
                q = a
            self.quick += q * (value - self.quick)
            if w < a and n < self.need:
                w = a
            self.slow += w * (value - self.slow)
        else:
            fast = self.quick = self.slow = float(value)  # a float compiled or not (checkpoint bytes)
        self.fast, self.fast_ts = fast, ts_ms
        return fast

    def std(self) -> float:
        variance = self.var.value if self.var.mean.n > 1 else 0.0
        floor = self.floor
        return math.sqrt(variance) if variance > floor * floor else floor


class BaselineDetector(river_base.AnomalyDetector):
    """Each vital's departure from the patient's own time-weighted baseline, combined (a river AnomalyDetector).

    Parameters: `warmup_samples` and `warmup_s` (a streamed vital scores after
    this many learned values and this much of the patient's data; the policy
    file's settings), `memory` (s, the baseline's memory), `tau_s` (s, the
    smoothing of streamed vitals), `intermittent_warmup_s` (s of data a charted
    vital needs). The engine calls `learn_and_score(sample)`; river code calls
    `learn_one(x)` / `score_one(x)` (see the module docstring for `x`).
    """

    NAME = NAME
    VERSION = VERSION

    __slots__ = (
        "first_ts",
        "frozen",
        "intermittent_ms",
        "intermittent_warmup_s",
        "memory",
        "tau_s",
        "vitals",
        "warmup_ms",
        "warmup_s",
        "warmup_samples",
    )

    def __init__(
        self,
        warmup_samples: int = 120,
        warmup_s: float = 900.0,
        memory: float = BASELINE_TAU_S,
        tau_s: float = CURRENT_TAU_S,
        intermittent_warmup_s: float = INTERMITTENT_WARMUP_S,
    ) -> None:
        for name, value in (
            ("warmup_samples", warmup_samples),
            ("warmup_s", warmup_s),
            ("memory", memory),
            ("tau_s", tau_s),
            ("intermittent_warmup_s", intermittent_warmup_s),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if memory <= 0:
            raise ValueError(f"memory must be > 0 s, got {memory!r}")
        self.vitals: dict[str, _VitalBaseline] = {}
        self.first_ts: int | None = None
        self.frozen = False
        self.warmup_samples = warmup_samples
        self.warmup_s = warmup_s
        self.warmup_ms = int(warmup_s * 1000)
        self.memory = memory  # the baseline's memory (s)
        self.tau_s = tau_s
        self.intermittent_warmup_s = intermittent_warmup_s
        self.intermittent_ms = int(intermittent_warmup_s * 1000)

    # ---- river's API -------------------------------------------------------
    def learn_one(self, x: dict[Any, Any]) -> None:
        """Learn one set of vitals (`x["t"]` is the event time); scoring is `score_one`'s."""
        self.learn_and_score(sample_of(x))

    def score_one(self, x: dict[Any, Any]) -> float:
        """0..1: how far `x` departs from the baseline, combined over vitals; learns nothing."""
        return self.explain_one(x).score

    def explain_one(self, x: dict[str, Any]) -> DetectorResult:
        """The score of `x` with the vitals behind it, as `learn_and_score` would give it; learns nothing."""
        probe = BaselineDetector(
            self.warmup_samples, self.warmup_s, self.memory, self.tau_s, self.intermittent_warmup_s
        )
        # The baseline learns the value that held *until* x, then x is scored: a copy does both, so
        # score_one(x) then learn_one(x) gives exactly what the engine's one learn_and_score gives.
        probe.load_state(self.to_state())
        return probe.learn_and_score(sample_of(x))

    def is_warm(self, ts_ms: int) -> bool:
        """Whether any vital may score at `ts_ms` (the engine's `warm`)."""
        return any(self._warm(b, ts_ms) for b in self.vitals.values())

    def _new(self, vital: str, value: float, ts_ms: int) -> _VitalBaseline:
        """The vital's baseline, made with its first value (or a checkpoint's current one)."""
        need = self.warmup_samples if vital in CONTINUOUS else min(self.warmup_samples, SPOT_WARMUP)
        base = self.vitals[vital] = _VitalBaseline(need, STD_FLOOR[vital], DIRECTION[vital], value, ts_ms)
        return base

    def _warm(self, base: _VitalBaseline, ts_ms: int) -> bool:
        if self.first_ts is None or ts_ms - self.first_ts < self.warmup_ms:
            return False
        return base.var.mean.n >= base.need or self._sparse_warm(base, ts_ms)

    def _sparse_warm(self, base: _VitalBaseline, ts_ms: int) -> bool:
        """A charted continuous-kind vital: warm by count and time span (#16)."""
        return (
            base.sparse >= 0.5
            and base.var.mean.n >= SPOT_WARMUP
            and self.first_ts is not None
            and ts_ms - self.first_ts >= self.intermittent_ms
        )

    def learn_and_score(self, sample: VitalSample, skip: frozenset[str] = frozenset()) -> DetectorResult:
        """Update the current values (teaching the baseline unless frozen), then score them all.

        `skip` names vitals whose values are not trustworthy right now (motion
        artefact), so they neither score nor teach the baseline. A vital not in
        this sample still scores from its last value while that is recent.
        """
        ts = sample.ts_ms
        if self.first_ts is None:
            self.first_ts = ts
        motion = sample.motion
        if motion is not None and motion >= ACTIVE_MOTION:
            skip = skip | EXERTION if skip else EXERTION
        _learn(self, sample, ts, skip)
        if ts - self.first_ts < self.warmup_ms:
            return _COLD
        return _score(self, ts)

    def baseline(self, vital: str) -> float | None:
        base = self.vitals.get(vital)
        if base is None or base.var.mean.n < 1:
            return None
        return base.var.mean.value

    def to_state(self) -> list[Any]:
        """Explicit, JSON-able state: [first_ts, frozen, {vital: [n, mean, var, current, ts, quick, slow(,
        sparse)]}, 3]; `sparse` only for a vital that had a charted-looking gap, so a streamed patient's
        checkpoint is byte for byte what it was before the data shapes."""
        per_vital = {
            name: [b.var.mean.n, b.var.mean.value, b.var.value, b.fast, b.fast_ts, b.quick, b.slow]
            + ([b.sparse] if b.sparse else [])
            for name, b in self.vitals.items()
        }
        return [self.first_ts, self.frozen, per_vital, STATE_VERSION]

    def load_state(self, state: list[Any]) -> BaselineDetector:
        """Load `to_state` output; versions 1 (no trailing version, raw-value baseline, no quick
        mean) and 2 (no half-hour mean) still load: the missing means start at the current value."""
        if not isinstance(state, list) or len(state) not in (3, 4):
            raise ValueError("detector state is not [first_ts, frozen, vitals(, version)]")
        version = state[3] if len(state) == 4 else 1
        if version not in _STATE_VERSIONS:
            raise ValueError(f"detector state version {version!r} is not one of {_STATE_VERSIONS}")
        first_ts, frozen, per_vital = state[:3]
        self.first_ts = first_ts
        self.frozen = bool(frozen)
        self.vitals = {}
        for name, numbers in per_vital.items():
            if name not in DIRECTION or len(numbers) not in (5, 6, 7, 8):
                raise ValueError(f"detector state for {name!r} is not [n, mean, var, current, ts(, quick(, slow))]")
            n, mean, var, fast, fast_ts = numbers[:5]
            try:  # compiled, the fields are C numbers: a wrong type or a 2**64 is refused here, worded
                base = self._new(name, fast, int(fast_ts))
                base.var = _EWVar(n, mean, var)
                base.quick = float(numbers[5]) if len(numbers) >= 6 else base.fast
                base.slow = float(numbers[6]) if len(numbers) >= 7 else base.fast
                base.sparse = float(numbers[7]) if len(numbers) == 8 else 0.0
            except (TypeError, OverflowError) as exc:
                raise ValueError(f"detector state for {name!r} holds a number out of range: {exc}") from None
            if not _MIN_TS < base.fast_ts < _MAX_TS or not 0 <= base.var.mean.n < _MAX_COUNT:
                raise ValueError(f"detector state for {name!r} has a time or count out of range: {numbers!r}")
            base.sd = base.std()
        return self


def _learn(det: BaselineDetector, sample: VitalSample, ts: int, skip: frozenset[str]) -> None:
    """`learn_and_score`'s first half: each vital of the sample updates its baseline.

    A function, not a method, so that compiled (detector.pxd) its locals are C types
    and the baselines C structs (with the scoring below: ~3 us a sample less).
    """
    vitals = det.vitals
    learn = not det.frozen
    tau, memory = det.tau_s, det.memory
    for vital, _direction, continuous in _PLAN:
        value = getattr(sample, vital)
        if value is None or (skip and vital in skip):
            continue
        base = vitals.get(vital)
        if base is None:
            det._new(vital, value, ts)
        else:
            base.update(value, ts, tau if continuous else 0.0, learn, memory)


def _score(det: BaselineDetector, ts: int) -> DetectorResult:
    """`learn_and_score`'s second half: every warm vital's deviation, combined."""
    vitals = det.vitals
    contributions: list[_Raw] = []  # (vital, value, baseline, std, z, trend), as Contribution's fields
    warm_any = False
    top = 0.0
    extra = 0.0
    trending = TREND_GAIN > 0.0
    for vital, direction, valid_ms, trends in _SCORE_PLAN:
        base = vitals.get(vital)
        if base is None:
            continue
        mean_ = base.var.mean
        if mean_.n < base.need:
            if not det._sparse_warm(base, ts):
                continue
            valid_ms = SPOT_VALID_MS  # a charted reading stands like a spot check
        warm_any = True
        if ts - base.fast_ts > valid_ms:
            continue
        mean = mean_.value
        std = base.sd
        # A deviation counts as far as both the last ten minutes and the last
        # minute show it: sustained (not a burst) and still there (a recovery
        # clears at once, not when the slow mean has caught up).
        current = base.fast
        quick = base.quick
        trend = 0.0
        if trends and trending:
            # Moving steadily away from the baseline (the ten-minute mean is
            # ahead of the half-hour mean): the ten-minute mean lags, so the
            # value is projected along its trend, never beyond the last minute.
            drift = current - base.slow
            if drift * (current - mean) > 0.0:
                current += TREND_GAIN * drift
                trend = drift
        if (quick - mean) * (current - mean) <= 0.0:
            current = mean
        elif abs(quick - mean) < abs(current - mean):
            current = quick
        z = (current - mean) / std
        bad = -z if direction < 0 else (z if direction > 0 else abs(z))
        if bad <= 0.0:
            continue
        contributions.append((vital, current, mean, std, z, trend))
        if bad > top:
            if top > Z_JOIN:
                extra += top - Z_JOIN
            top = bad
        elif bad > Z_JOIN:
            extra += bad - Z_JOIN
    score = (top + extra - Z_START) / Z_SPAN
    score = 0.0 if score < 0.0 else (1.0 if score > 1.0 else score)
    return DetectorResult._of(score, warm_any, contributions)


_X_META = ("t", "motion")
#: Event times (ms) a baseline can hold: compiled (detector.pxd) they are C long longs, and the
#: difference of two of them must not wrap (the hostile review's checkpoint at -2**63 froze a
#: vital's baseline, compiled only). Counts stay where a double is still exact.
_MIN_TS, _MAX_TS = -(2**62), 2**62
_MAX_COUNT = 2**53


def sample_of(x: dict[str, Any], patient_id: str = "", device_id: str = "river") -> VitalSample:
    """A river feature dict -> VitalSample: the vitals by contract name, event time under "t"
    (epoch ms, or a datetime), the accelerometer index under "motion"; other keys are ignored."""
    t = x.get("t")
    if isinstance(t, datetime):
        t = int(t.timestamp() * 1000)
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise ValueError(f'x["t"] must be the event time (epoch ms or datetime), got {t!r}')
    if not _MIN_TS < t < _MAX_TS:  # NaN too; compiled, event times are 64-bit integers
        raise ValueError(f'x["t"] must be epoch milliseconds within +-2**62, got {t!r}')

    def number(key: str) -> float | None:
        value = x.get(key)
        return None if value is None else float(value)

    return VitalSample(
        patient_id,
        device_id,
        int(t),
        heart_rate=number("heart_rate"),
        spo2=number("spo2"),
        resp_rate=number("resp_rate"),
        temperature=number("temperature"),
        systolic_bp=number("systolic_bp"),
        diastolic_bp=number("diastolic_bp"),
        motion=number("motion"),
    )


def _raw_size(c: _Raw) -> float:
    return -abs(c[4])


_COLD = DetectorResult(0.0, False)
#: The per-vital loop, precomputed: (vital, direction, continuous?); with one std per
#: sample it cost about 1.8 µs/sample less (c3e28b3).
_PLAN = tuple((v, DIRECTION[v], v in CONTINUOUS) for v in DIRECTION)
CONTINUOUS_VALID_MS = int(CONTINUOUS_VALID_S * 1000)
SPOT_VALID_MS = int(SPOT_VALID_S * 1000)
#: The scoring loop's plan: (vital, direction, how long its current value stands in ms, trend scored?).
_SCORE_PLAN = tuple((v, d, CONTINUOUS_VALID_MS if c else SPOT_VALID_MS, v in TREND_VITALS) for v, d, c in _PLAN)
