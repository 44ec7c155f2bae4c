"""One patient's samples as contract JSON objects, produced lazily in chunks.

Wearable samples (HR, SpO2, RR + quality) come every few seconds from the
current wearable; spot checks (temperature, BP and the nursing inputs) come
from the ward monitor on observation rounds. Both are plain dicts in the
contract's batch-sample shape (epoch-ms `ts`), ready to be put on the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from monitor.cohort.artifacts import Artifacts
from monitor.cohort.baselines import MEASUREMENT_SD
from monitor.cohort.plan import PatientPlan
from monitor.cohort.signals import true_values

#: Seconds of wearable data generated per numpy pass.
CHUNK_S = 3600.0
_WEARABLE = ("heart_rate", "spo2", "resp_rate")
_SPOT = ("temperature", "systolic_bp")

#: One sample in the contract's batch-sample JSON shape (epoch-ms `ts`, vitals, `quality`).
Sample = dict[str, Any]
WearableSample = tuple[str, Sample]  # (device id, sample)


def wearable_samples(
    plan: PatientPlan, start_ms: int, span_s: float, rng: np.random.Generator
) -> Iterator[WearableSample]:
    """Every wearable sample of the patient, in event-time order."""
    for index, (from_s, device, period) in enumerate(plan.wearables):
        until_s = plan.wearables[index + 1][0] if index + 1 < len(plan.wearables) else span_s
        first = np.ceil(from_s / period) * period + float(rng.uniform(0.0, period))
        chunk_start = first
        while chunk_start < until_s:
            chunk_end = min(chunk_start + CHUNK_S, until_s)
            t = np.arange(chunk_start, chunk_end, period, dtype=float)
            chunk_start = t[-1] + period if t.size else chunk_end
            t = t[~plan.artifacts.dropouts.contains(t)]
            if t.size:
                for sample in _wearable_chunk(plan, start_ms, t, rng):
                    yield device, sample


def _wearable_chunk(plan: PatientPlan, start_ms: int, t: np.ndarray, rng: np.random.Generator) -> list[Sample]:
    values = true_values(plan, _WEARABLE, t)
    n = t.size
    hr = values["heart_rate"] + rng.normal(0.0, MEASUREMENT_SD["heart_rate"], n)
    if plan.course is not None and plan.course.extra_hr_sd:
        after = plan.course.progress(t) > 0
        hr = hr + after * rng.normal(0.0, plan.course.extra_hr_sd, n)
    spo2 = values["spo2"] + rng.normal(0.0, MEASUREMENT_SD["spo2"], n)
    rr = values["resp_rate"] + rng.normal(0.0, MEASUREMENT_SD["resp_rate"], n)
    motion = _motion(plan, t, rng)
    hr, spo2, motion = _apply_motion_artifacts(plan.artifacts, t, hr, spo2, motion, rng)
    probe_off = plan.artifacts.probe_off.contains(t)
    ts = (start_ms + np.round(t * 1000.0)).astype(np.int64) + rng.integers(-30, 31, n)
    return _to_dicts(ts, hr, spo2, rr, motion, probe_off, rng)


def _motion(plan: PatientPlan, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Accelerometer activity 0..1: near 0 asleep, moderate while walking."""
    n = t.size
    asleep = plan.rhythm.sleep_depth(t) > 0.5
    active = plan.rhythm.active(t)
    base = rng.exponential(0.06, n)
    base = np.where(asleep, base * 0.3, base)
    base = np.where(active, rng.uniform(0.3, 0.6, n), base)
    return np.minimum(base, 1.0)


def _apply_motion_artifacts(
    artifacts: Artifacts, t: np.ndarray, hr: np.ndarray, spo2: np.ndarray, motion: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flagged motion corrupts some values; unflagged spikes corrupt them silently."""
    n = t.size
    moving = artifacts.motion.contains(t)
    if moving.any():
        motion = np.where(moving, rng.uniform(0.6, 1.0, n), motion)
        hr = np.where(moving & (rng.random(n) < 0.6), hr * rng.uniform(1.3, 1.9, n), hr)
        spo2 = np.where(moving & (rng.random(n) < 0.5), rng.uniform(72.0, 90.0, n), spo2)
    spiking = artifacts.spikes.contains(t)
    if spiking.any():
        hr = np.where(spiking, hr * rng.uniform(1.4, 2.0, n), hr)
        spo2 = np.where(spiking & (rng.random(n) < 0.5), rng.uniform(80.0, 90.0, n), spo2)
    return hr, spo2, motion


def _to_dicts(
    ts: np.ndarray,
    hr: np.ndarray,
    spo2: np.ndarray,
    rr: np.ndarray,
    motion: np.ndarray,
    probe_off: np.ndarray,
    rng: np.random.Generator,
) -> list[Sample]:
    hr_l = np.clip(np.round(hr), 25, 250).astype(int).tolist()
    spo2_l = np.clip(np.round(spo2), 50, 100).astype(int).tolist()
    rr_l = np.clip(np.round(rr), 2, 60).astype(int).tolist()
    motion_l = np.round(motion, 2).tolist()
    out = [
        {"ts": a, "heart_rate": b, "spo2": c, "resp_rate": d, "quality": {"motion": m}}
        for a, b, c, d, m in zip(ts.tolist(), hr_l, spo2_l, rr_l, motion_l, strict=True)
    ]
    if probe_off.any():
        for i in np.flatnonzero(probe_off).tolist():
            out[i] = _probe_off_sample(out[i], rng)
    return out


def _probe_off_sample(sample: Sample, rng: np.random.Generator) -> Sample:
    """Probe off: SpO2/pulse absent or implausible, flagged; RR (chest) remains."""
    off = {
        "ts": sample["ts"],
        "resp_rate": sample["resp_rate"],
        "quality": {"probe_off": True, "motion": sample["quality"]["motion"]},
    }
    if rng.random() < 0.5:
        off["spo2"] = int(rng.integers(0, 40))
        off["heart_rate"] = 0
    return off


def spot_samples(plan: PatientPlan, start_ms: int, rng: np.random.Generator) -> Iterator[Sample]:
    """Observation-round samples: temperature, BP and nursing input."""
    t = plan.spot_times_s
    if t.size == 0:
        return
    values = true_values(plan, _SPOT, t)
    temp = np.round(values["temperature"] + rng.normal(0.0, MEASUREMENT_SD["temperature"], t.size), 1)
    sbp = np.round(values["systolic_bp"] + rng.normal(0.0, MEASUREMENT_SD["systolic_bp"], t.size))
    pulse_pressure = plan.baseline.pulse_pressure * np.clip(sbp / 125.0, 0.6, 1.4)
    dbp = np.round(np.minimum(sbp - pulse_pressure + rng.normal(0.0, 3.0, t.size), sbp - 10))
    for i, t_s in enumerate(t.tolist()):
        consciousness = plan.course.consciousness(t_s) if plan.course else None
        yield {
            "ts": int(start_ms + round(t_s * 1000.0)),
            "temperature": float(temp[i]),
            "systolic_bp": int(sbp[i]),
            "diastolic_bp": int(max(dbp[i], 20)),
            "consciousness": consciousness.value if consciousness else "A",
            "on_oxygen": plan.baseline.on_oxygen,
            "spo2_scale": plan.baseline.spo2_scale,
        }
