"""Data shapes and artefacts layered over a cohort: the inputs of the robustness matrix.

The cohort generator has its own habits (its artefacts are mostly flagged,
its wearables stream every 1-5 s). A `DataShape` takes a clean cohort
(`artifacts=False`) and re-shapes each patient's stream independently of
those habits, so a policy tuned on the generator's own data is tested on
data it was not tuned on:

- **sampling**: 1 s or 5 s wearable streams; 1 min (a monitor exporting one
  value a minute); or, from 15 min up, intermittent observation sets only
  (spot-check monitor, nurse's round, EHR charting): at each set time the
  chart holds the latest value of every vital, as a nurse would write it down;
- **artefact bursts**: 10-60 s in which HR rises 25-60 /min, SpO2 falls
  4-12 % and RR rises 5-15 /min together (motion, shivering, a sliding
  probe), a share of them flagged by the device (`quality.motion` high) and
  the rest not: nothing in the values says which;
- **missingness**: each vital of each sample left out with a probability.

Bursts are kept out of a deteriorating patient's [onset, must-alert] window:
a burst there would page and count as a detection the physiology did not
earn. Everything is drawn from the cell's own seed, so a shape is
reproducible and two cells never share artefact draws.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from monitor.cohort.generator import iter_plan_samples
from monitor.cohort.plan import PatientPlan
from monitor.cohort.spec import CohortSpec
from monitor.vitals import VitalSample

#: From this interval up a patient is observed in sets, not streamed.
CHARTED_FROM_S = 900.0
#: Bursts: what moves, and by how much (issue #16).
BURST_HR = (25.0, 60.0)
BURST_SPO2 = (4.0, 12.0)
BURST_RR = (5.0, 15.0)
#: Device motion index set on a flagged burst's samples (the engine's limit is 0.6).
FLAGGED_MOTION = (0.7, 1.0)
#: A nurse's round is not on the minute: set times jitter by this share of the interval.
SET_JITTER = 0.1
_NUMERIC = ("heart_rate", "spo2", "resp_rate", "temperature", "systolic_bp", "diastolic_bp")
_STREAMED = ("heart_rate", "spo2", "resp_rate")
_SPOT_FIELDS = ("temperature", "systolic_bp", "diastolic_bp", "on_oxygen", "consciousness", "spo2_scale")


@dataclass(frozen=True, slots=True)
class DataShape:
    """How one matrix cell re-shapes every patient's data."""

    sampling_s: float = 5.0
    bursts_per_hour: float = 0.0
    burst_s: tuple[float, float] = (10.0, 60.0)
    flagged_share: float = 1.0
    missing: float = 0.0

    def __post_init__(self) -> None:
        if self.sampling_s < 1:
            raise ValueError("sampling_s must be at least 1 s")
        if not 0.0 <= self.flagged_share <= 1.0 or not 0.0 <= self.missing < 1.0:
            raise ValueError("flagged_share must be within 0..1 and missing within 0..<1")
        if not 0 < self.burst_s[0] <= self.burst_s[1]:
            raise ValueError("burst_s must be (low, high) with 0 < low <= high")

    @property
    def charted(self) -> bool:
        return self.sampling_s >= CHARTED_FROM_S


@dataclass(frozen=True, slots=True)
class Burst:
    start_ms: int
    end_ms: int
    hr: float
    spo2: float
    rr: float
    flagged: bool
    motion: float


def base_spec(spec: CohortSpec, shape: DataShape) -> CohortSpec:
    """The clean cohort a shape is laid over: no generator artefacts, wearables at the shape's rate."""
    period = int(min(max(shape.sampling_s, 1), 5)) if not shape.charted else 5
    return dataclasses.replace(spec, artifacts=False, wearable_interval_s=(period, period))


def draw_bursts(rng: np.random.Generator, spec: CohortSpec, plan: PatientPlan, shape: DataShape) -> list[Burst]:
    """Poisson-placed bursts over the stay, outside the patient's [onset, must-alert] window."""
    span_s = spec.hours * 3600.0
    count = int(rng.poisson(shape.bursts_per_hour * spec.hours)) if shape.bursts_per_hour > 0 else 0
    starts = np.sort(rng.uniform(0.0, span_s, count))
    label = plan.label
    out = []
    for start in starts.tolist():
        length = float(rng.uniform(*shape.burst_s))
        s_ms = spec.start_ms + int(start * 1000)
        e_ms = s_ms + int(length * 1000)
        flagged = bool(rng.random() < shape.flagged_share)
        burst = Burst(
            s_ms,
            e_ms,
            float(rng.uniform(*BURST_HR)),
            float(rng.uniform(*BURST_SPO2)),
            float(rng.uniform(*BURST_RR)),
            flagged,
            float(rng.uniform(*FLAGGED_MOTION)),
        )
        if (
            label.onset_ms is not None
            and label.must_alert_by_ms is not None
            and e_ms > label.onset_ms
            and s_ms < label.must_alert_by_ms
        ):
            continue
        out.append(burst)
    return out


def _streamed(sample: VitalSample) -> bool:
    return sample.heart_rate is not None or sample.spo2 is not None or sample.resp_rate is not None


def apply_bursts(samples: list[VitalSample], bursts: list[Burst]) -> list[VitalSample]:
    """Shift the streamed vitals of every sample inside a burst; flagged bursts set the motion index."""
    if not bursts:
        return samples
    starts = [b.start_ms for b in bursts]
    out = []
    for s in samples:
        i = bisect.bisect_right(starts, s.ts_ms) - 1
        if i < 0 or s.ts_ms >= bursts[i].end_ms or not _streamed(s) or s.probe_off:
            out.append(s)
            continue
        b = bursts[i]
        out.append(
            dataclasses.replace(
                s,
                heart_rate=None if s.heart_rate is None else float(min(round(s.heart_rate + b.hr), 250)),
                spo2=None if s.spo2 is None else float(max(round(s.spo2 - b.spo2), 50)),
                resp_rate=None if s.resp_rate is None else float(min(round(s.resp_rate + b.rr), 60)),
                motion=max(s.motion or 0.0, b.motion) if b.flagged else s.motion,
            )
        )
    return out


def decimate(samples: list[VitalSample], period_s: float, rng: np.random.Generator) -> list[VitalSample]:
    """Keep the first streamed sample of each `period_s` bin (random phase); spot checks pass."""
    period_ms = int(period_s * 1000)
    phase = int(rng.uniform(0, period_ms))
    out, last_bin = [], None
    for s in samples:
        if not _streamed(s):
            out.append(s)
            continue
        b = (s.ts_ms - phase) // period_ms
        if b != last_bin:
            out.append(s)
            last_bin = b
    return out


def chart_sets(
    samples: list[VitalSample], spec: CohortSpec, period_s: float, device_id: str, rng: np.random.Generator
) -> list[VitalSample]:
    """Observation sets every `period_s` (jittered): the latest value of every vital at that moment."""
    streamed = [s for s in samples if _streamed(s) and not s.probe_off]
    spots = [s for s in samples if not _streamed(s)]
    stream_ts = [s.ts_ms for s in streamed]
    spot_ts = [s.ts_ms for s in spots]
    period_ms = period_s * 1000.0
    t = spec.start_ms + float(rng.uniform(0, min(period_ms, 1_800_000)))
    out = []
    while t < spec.end_ms:
        ts = int(t)
        fields: dict[str, object] = {}
        i = bisect.bisect_right(stream_ts, ts) - 1
        if i >= 0:
            w = streamed[i]
            fields.update(
                heart_rate=w.heart_rate,
                spo2=w.spo2,
                resp_rate=w.resp_rate,
                motion=w.motion if (w.motion or 0.0) >= FLAGGED_MOTION[0] else None,
            )
        j = bisect.bisect_right(spot_ts, ts) - 1
        if j >= 0:
            spot = spots[j]
            fields.update({k: getattr(spot, k) for k in _SPOT_FIELDS})
        if any(fields.get(k) is not None for k in _NUMERIC):
            first = streamed[0] if streamed else samples[0]
            out.append(VitalSample(first.patient_id, device_id, ts, **fields))  # type: ignore[arg-type]
        t += period_ms * (1.0 + float(rng.uniform(-SET_JITTER, SET_JITTER)))
    return out


def drop_values(samples: list[VitalSample], share: float, rng: np.random.Generator) -> list[VitalSample]:
    """Leave each vital of each sample out with probability `share`; a sample left empty is not sent."""
    out = []
    for s in samples:
        gone = {k: None for k in _NUMERIC if getattr(s, k) is not None and rng.random() < share}
        if not gone:
            out.append(s)
            continue
        if all(gone.get(k, getattr(s, k)) is None for k in _NUMERIC):
            continue
        out.append(dataclasses.replace(s, **gone))  # type: ignore[arg-type]
    return out


def iter_shaped_samples(spec: CohortSpec, plan: PatientPlan, shape: DataShape, seed: int) -> Iterator[VitalSample]:
    """One patient's samples under `shape`, in time order. `spec` must be `base_spec(...)`'s."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, plan.index, 16]))
    samples = list(iter_plan_samples(spec, plan))
    samples = apply_bursts(samples, draw_bursts(rng, spec, plan, shape))
    if shape.charted:
        samples = chart_sets(samples, spec, shape.sampling_s, plan.spot_device, rng)
    elif shape.sampling_s > 5:
        samples = decimate(samples, shape.sampling_s, rng)
    if shape.missing > 0:
        samples = drop_values(samples, shape.missing, rng)
    yield from samples
