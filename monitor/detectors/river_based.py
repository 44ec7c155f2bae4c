"""River's own anomaly detectors as per-patient detectors on the policy's 0..1 scale.

A river detector's raw score has no fixed scale (HalfSpaceTrees: 0..1 mass,
OneClassSVM: a margin, StandardAbsoluteDeviation: |z|), and what is "high"
differs per patient. So every raw score is calibrated against the patient's
own history of raw scores, the idea of river's `anomaly.QuantileFilter` (which
wraps each model here, so a sample it classifies as anomalous is not learned):
the patient's running median maps to 0, their running `q` quantile (default
0.995) to 0.5 (the policy's `anomaly_threshold`), and as much again above it
to 1. A score is thus "this patient's top half-percent", whatever the model.

The alert still names the vitals behind it and how far each is from the
patient's own baseline (a time-free exponentially weighted mean and variance
per vital, `river.stats.EWMean`/`EWVar`, used for the wording only):
per-vital detectors (`gaussian`, `sad`) name each vital whose own calibrated
score is at least half the top one; multivariate ones (`hst`, `oneclass-svm`)
attribute by leaving one vital out (replaced by its baseline mean) and naming
those whose removal lowers the raw score. As with `baseline-z`, only the
clinically bad direction counts (`monitor.detector.DIRECTION`): a falling
heart rate at sleep onset is not a deterioration, so a score whose vitals all
moved the harmless way is 0.

Event time: the sample's `ts_ms` decides how long a value stands (a streamed
vital 5 min, a spot check 2 h) and the warm-up span; the river models see
only the vitals (the current value of each, carried forward while it stands).

State is the river objects pickled (they are plain Python and Rust objects
with pickle support), zlib-compressed, base64 in the JSON checkpoint, with the
detector's name and a version: `to_state`/`load_state`.
"""

from __future__ import annotations

import base64
import io
import math
import pickle
import random
import zlib
from collections.abc import Callable
from typing import Any

from river import anomaly, stats

from monitor.detector import (
    CONTINUOUS_VALID_MS,
    DIRECTION,
    SPOT_VALID_MS,
    SPOT_WARMUP,
    STD_FLOOR,
    DetectorResult,
)
from monitor.vitals import CONTINUOUS, VitalSample

STATE_VERSION = 1
#: Wording baseline: a fading factor of 0.002 remembers ~500 samples (~40 min of a 5 s stream).
WORDING_FADING = 0.002
#: Calibrated score from which the vitals behind it are worked out (leave-one-out costs one
#: raw score per vital); below the policy's clear level (0.3) nobody reads them.
ATTRIBUTE_FROM = 0.25
_VITALS = tuple(DIRECTION)  # heart_rate, spo2, resp_rate, systolic_bp, temperature
_VALID_MS = {v: (CONTINUOUS_VALID_MS if v in CONTINUOUS else SPOT_VALID_MS) for v in _VITALS}


class _Calibrated:
    """One river model behind a `QuantileFilter`, plus a running median of its raw scores."""

    __slots__ = ("filter", "median", "n", "supervised")

    def __init__(self, model: Any, q: float, supervised: bool) -> None:
        self.filter = anomaly.QuantileFilter(model, q=q)
        self.median = stats.Quantile(0.5)
        self.n = 0
        self.supervised = supervised  # per-vital river detectors take (x, y)

    def raw(self, x: dict[str, float], y: float | None) -> float:
        model: Any = self.filter.anomaly_detector  # river is untyped: (x) or (x, y) by kind
        return float(model.score_one(x, y) if self.supervised else model.score_one(x))

    def calibrate(self, raw: float) -> float:
        hi = self.filter.quantile.get()
        mid = self.median.get()
        if hi is None or mid is None:
            return 0.0
        span = hi - mid
        if span <= 1e-12:
            return 0.0 if raw <= hi else 0.5
        c = 0.5 * (raw - mid) / span
        return 0.0 if c < 0.0 else (1.0 if c > 1.0 else c)

    def learn(self, x: dict[str, float], y: float | None, raw: float) -> None:
        # QuantileFilter.learn_one, without scoring twice: learn unless this patient's
        # own quantile classifies the sample as anomalous, then update the quantile.
        f: Any = self.filter
        if not f.classify(raw):
            if self.supervised:
                f.anomaly_detector.learn_one(x, y)
            else:
                f.anomaly_detector.learn_one(x)
        f.quantile.update(raw)
        self.median.update(raw)
        self.n += 1


class RiverDetector:
    """A river anomaly detector per patient (one model, or one per vital), calibrated to 0..1."""

    VERSION = "1"
    __slots__ = (
        "NAME",
        "first_ts",
        "frozen",
        "last",
        "make",
        "mean",
        "models",
        "per_vital",
        "q",
        "supervised",
        "var",
        "warmup_ms",
        "warmup_samples",
    )

    def __init__(
        self,
        name: str,
        make: Callable[[], Any],
        *,
        per_vital: bool,
        supervised: bool,
        q: float,
        warmup_samples: int,
        warmup_s: float,
    ) -> None:
        if not 0.5 < q < 1.0:
            raise ValueError(f"q must be between 0.5 and 1 (a high quantile of the patient's scores), got {q!r}")
        self.NAME = name
        self.make = make
        self.per_vital = per_vital
        self.supervised = supervised
        self.q = q
        self.warmup_samples = warmup_samples
        self.warmup_ms = int(warmup_s * 1000)
        self.frozen = False
        self.first_ts: int | None = None
        self.last: dict[str, tuple[float, int]] = {}  # vital -> (value, ts_ms)
        self.mean: dict[str, stats.EWMean] = {}
        self.var: dict[str, stats.EWVar] = {}
        self.models: dict[str, _Calibrated] = {}  # vital (per-vital) or "*" -> calibrated model

    def check(self) -> None:
        """Build one river model: a parameter river refuses fails at policy load, not on the first patient."""
        self.make()

    # ---- the engine's API ------------------------------------------------
    def learn_and_score(self, sample: VitalSample) -> DetectorResult:
        ts = sample.ts_ms
        if self.first_ts is None:
            self.first_ts = ts
        last = self.last
        for vital in _VITALS:
            value = getattr(sample, vital)
            if value is not None:
                last[vital] = (value, ts)
        x = {v: val for v, (val, at) in last.items() if ts - at <= _VALID_MS[v]}
        if not x:
            return DetectorResult(0.0, False)
        span_ok = ts - self.first_ts >= self.warmup_ms
        result = self._per_vital(x, span_ok, ts) if self.per_vital else self._joint(x, span_ok)
        if not self.frozen:
            for vital in sample_vitals(sample):
                value = last[vital][0]
                mean = self.mean.get(vital)
                if mean is None:
                    mean = self.mean[vital] = stats.EWMean(WORDING_FADING)
                    self.var[vital] = stats.EWVar(WORDING_FADING)
                mean.update(value)
                self.var[vital].update(value)
        return result

    def _model(self, key: str) -> _Calibrated:
        model = self.models.get(key)
        if model is None:
            model = self.models[key] = _Calibrated(self.make(), self.q, self.supervised)
        return model

    def _per_vital(self, x: dict[str, float], span_ok: bool, ts: int) -> DetectorResult:
        scores: list[tuple[float, str]] = []
        warm = False
        for vital, value in x.items():
            model = self._model(vital)
            raw = model.raw({}, value)
            need = self.warmup_samples if vital in CONTINUOUS else SPOT_WARMUP
            if span_ok and model.n >= need:
                warm = True
                c = model.calibrate(raw)
                if c > 0.0 and self._bad(vital, value):
                    scores.append((c, vital))
            if not self.frozen and self.last[vital][1] == ts:  # learn fresh readings, not carried ones
                model.learn({}, value, raw)
        if not scores:
            return DetectorResult(0.0, warm)
        top = max(scores)[0]
        named = [v for c, v in scores if c >= 0.5 * top]
        return DetectorResult._of(top, warm, [self._contribution(v, x[v]) for v in named])

    def _joint(self, x: dict[str, float], span_ok: bool) -> DetectorResult:
        model = self._model("*")
        raw = model.raw(x, None)
        warm = span_ok and model.n >= self.warmup_samples
        score = model.calibrate(raw) if warm else 0.0
        raws: list[tuple[str, float, float, float, float, float]] = []
        if score >= ATTRIBUTE_FROM:
            for vital in x:
                if vital not in self.mean or not self._bad(vital, x[vital]):
                    continue
                without = dict(x)
                without[vital] = self.mean[vital].get()
                if model.raw(without, None) < raw:
                    raws.append(self._contribution(vital, x[vital]))
            if not raws:
                score = 0.0  # only harmless-direction vitals drove it (sleep, a rising SpO2)
        if not self.frozen:
            model.learn(x, None, raw)
        return DetectorResult._of(score, warm, raws)

    def _bad(self, vital: str, value: float) -> bool:
        mean = self.mean.get(vital)
        if mean is None:
            return False
        diff = value - mean.get()
        direction = DIRECTION[vital]
        return diff != 0.0 and (direction == 0 or (diff > 0) == (direction > 0))

    def _contribution(self, vital: str, value: float) -> tuple[str, float, float, float, float, float]:
        mean = self.mean[vital].get() if vital in self.mean else value
        var = self.var[vital].get() if vital in self.var else 0.0
        floor = STD_FLOOR[vital]
        std = math.sqrt(var) if var > floor * floor else floor
        return (vital, value, mean, std, (value - mean) / std, 0.0)

    def baseline(self, vital: str) -> float | None:
        mean = self.mean.get(vital)
        return None if mean is None else mean.get()

    def is_warm(self, ts_ms: int) -> bool:
        if self.first_ts is None or ts_ms - self.first_ts < self.warmup_ms:
            return False
        return any(
            m.n >= (self.warmup_samples if k in CONTINUOUS or k == "*" else SPOT_WARMUP) for k, m in self.models.items()
        )

    # ---- state -------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """{"detector": name, "v": version, "pickle": base64(zlib(pickle))}: JSON-able, versioned."""
        payload = (
            self.first_ts,
            self.frozen,
            self.last,
            self.mean,
            self.var,
            {k: (m.filter, m.median, m.n) for k, m in self.models.items()},
        )
        buffer = io.BytesIO()
        _StatePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(payload)
        blob = zlib.compress(buffer.getvalue(), 6)
        return {"detector": self.NAME, "v": STATE_VERSION, "pickle": base64.b64encode(blob).decode("ascii")}

    def load_state(self, state: Any) -> RiverDetector:
        if not isinstance(state, dict) or state.get("detector") != self.NAME:
            raise ValueError(f"detector state is not a {self.NAME!r} state")
        if state.get("v") != STATE_VERSION:
            raise ValueError(f"{self.NAME} state version {state.get('v')!r} is not {STATE_VERSION}")
        # Only our own checkpoints are unpickled (the worker's state store, written by this code).
        first_ts, frozen, last, mean, var, models = pickle.loads(zlib.decompress(base64.b64decode(state["pickle"])))
        self.first_ts, self.frozen, self.mean, self.var = first_ts, frozen, mean, var
        self.last = {k: (v[0], v[1]) for k, v in last.items()}
        self.models = {}
        for key, (filt, median, n) in models.items():
            model = _Calibrated.__new__(_Calibrated)
            model.filter, model.median, model.n, model.supervised = filt, median, n, self.supervised
            self.models[key] = model
        return self


class _StatePickler(pickle.Pickler):
    """Pickles a random.Random as a fresh one: river's proba.Gaussian keeps one (2.5 KB of
    Mersenne Twister state) only to draw samples, which a detector never does; it was 60 % of
    the per-vital Gaussian detector's checkpoint."""

    def reducer_override(self, obj: object) -> Any:
        if type(obj) is random.Random:
            return random.Random, ()
        return NotImplemented


def sample_vitals(sample: VitalSample) -> list[str]:
    return [v for v in _VITALS if getattr(sample, v) is not None]
