"""From samples to `vitals` messages, as gateways would deliver them.

Wearable samples are batched per device (up to `batch_seconds` per message);
spot checks travel as single-form messages from the ward monitor. Delivery
artifacts are applied per patient here: a few messages arrive twice, a few
arrive seconds late. Patients are merged with a heap over per-patient
generators, so a 200-patient day streams in constant memory.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

import numpy as np

from monitor.cohort.artifacts import LATE_S
from monitor.cohort.plan import PatientPlan
from monitor.cohort.samples import Sample, WearableSample, spot_samples, wearable_samples

#: One `vitals` message as JSON, single-form or batch (`samples`), ready for the wire.
Message = dict[str, Any]
Keyed = tuple[int, int, int, Message]  # (arrival ms, patient index, sequence, message)


def patient_messages(
    plan: PatientPlan, start_ms: int, span_s: float, batch_seconds: float
) -> Iterator[tuple[int, Message]]:
    """(arrival key ms, message) of one patient, in arrival order."""
    rng = np.random.default_rng(list(plan.noise_seed))
    pid = plan.label.patient_id
    wearable = _batches(pid, wearable_samples(plan, start_ms, span_s, rng), batch_seconds)
    spots = (_single(pid, plan.spot_device, s) for s in spot_samples(plan, start_ms, rng))
    ordered = heapq.merge(wearable, spots, key=_first_ts)
    yield from _deliver(ordered, plan, rng)


def _first_ts(message: Message) -> int:
    samples = message.get("samples")
    ts: int = samples[0]["ts"] if samples else message["ts"]
    return ts


def _single(patient_id: str, device_id: str, sample: Sample) -> Message:
    return {"patient_id": patient_id, "device_id": device_id, **sample}


def _batches(patient_id: str, samples: Iterator[WearableSample], batch_seconds: float) -> Iterator[Message]:
    """Group consecutive samples of one device spanning < batch_seconds."""
    if batch_seconds <= 0:
        for device, sample in samples:
            yield _single(patient_id, device, sample)
        return
    window_ms = int(batch_seconds * 1000)
    device_now: str | None = None
    batch: list[Sample] = []
    first = 0
    for device, sample in samples:
        if batch and (device != device_now or sample["ts"] - first >= window_ms):
            yield {"patient_id": patient_id, "device_id": device_now, "samples": batch}
            batch = []
        if not batch:
            device_now, first = device, sample["ts"]
        batch.append(sample)
    if batch:
        yield {"patient_id": patient_id, "device_id": device_now, "samples": batch}


def _deliver(ordered: Iterator[Message], plan: PatientPlan, rng: np.random.Generator) -> Iterator[tuple[int, Message]]:
    """Apply duplicates and late delivery; yield in arrival-key order."""
    dup_rate, late_rate = plan.artifacts.duplicate_rate, plan.artifacts.late_rate
    pending: list[tuple[int, int, Message]] = []
    seq = 0
    for message in ordered:
        ts = _first_ts(message)
        while pending and pending[0][0] <= ts:
            key, _, held = heapq.heappop(pending)
            yield key, held
        if late_rate and rng.random() < late_rate:
            seq += 1
            heapq.heappush(pending, (ts + int(rng.uniform(*LATE_S) * 1000), seq, message))
        else:
            yield ts, message
        if dup_rate and rng.random() < dup_rate:
            seq += 1
            heapq.heappush(pending, (ts + int(rng.uniform(0.0, 2000.0)), seq, dict(message)))
    while pending:
        key, _, held = heapq.heappop(pending)
        yield key, held


def merge_patients(streams: list[Iterator[tuple[int, Message]]]) -> Iterator[Message]:
    """Merge per-patient arrival-ordered streams into one, lazily."""
    keyed = [_tag(index, stream) for index, stream in enumerate(streams)]
    for _, _, message in heapq.merge(*keyed, key=lambda item: (item[0], item[1])):
        yield message


def _tag(index: int, stream: Iterator[tuple[int, Message]]) -> Iterator[tuple[int, int, Message]]:
    for key, message in stream:
        yield key, index, message
