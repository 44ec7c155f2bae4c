"""Event → alert latency under load: produce wall time to alert consumed wall time.

The ward's next stretch of data is produced at a fixed share of the measured
saturation rate (half, by default), paced in small steps, into the topic a
running worker consumes. Every `probe_interval_s` a probe patient (a fresh
id, so it opens its own episode) sends one batch whose samples cross a hard
limit (systolic BP 70 mmHg: `sbp_low` pages at once; SpO2 80 % over 31 s:
`spo2_critical` confirms within the message), so each probe raises an alert
as soon as its message is processed (the first alert of a probe is timed).
Latency is the wall time from just before the probe's send to the moment
this process reads the alert back; it therefore includes producer batching,
the broker (twice), the worker's fetch wait and queueing behind the ward
load, and this consumer's fetch (20 ms max wait).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

PROBE_PREFIX = "bench-probe-"


@dataclass(frozen=True)
class LatencyResult:
    p50_ms: float
    p99_ms: float
    max_ms: float
    probes: int
    answered: int
    offered_samples_per_s: float
    achieved_samples_per_s: float


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def probe_message(patient_id: str, now_ms: int) -> bytes:
    bad = {"heart_rate": 128, "spo2": 80, "resp_rate": 28, "systolic_bp": 70, "diastolic_bp": 40}
    return orjson.dumps(
        {
            "patient_id": patient_id,
            "device_id": "bench-probe",
            "samples": [{"ts": now_ms - 31_000, **bad}, {"ts": now_ms, **bad}],
        }
    )


async def measure_latency(
    bootstrap: str,
    vitals_topic: str,
    alerts_topic: str,
    load: list[tuple[bytes, bytes, int]],
    rate: float,
    duration_s: float,
    run_id: str,
    probe_interval_s: float = 0.1,
    settle_s: float = 10.0,
    progress: Callable[[float], None] | None = None,
) -> LatencyResult:
    """`load` is (key, value, samples) in send order; `rate` is samples/s to offer."""
    consumer = AIOKafkaConsumer(
        alerts_topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await consumer.start()
    await producer.start()
    sent_at: dict[str, float] = {}
    latencies: dict[str, float] = {}
    prefix = f"{PROBE_PREFIX}{run_id}-"
    stop = asyncio.Event()

    async def read_alerts() -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if key.startswith(prefix) and key in sent_at and key not in latencies:
                        latencies[key] = (now - sent_at[key]) * 1000.0

    reader = asyncio.create_task(read_alerts())
    offered = 0
    try:
        start = time.monotonic()
        next_probe = start
        probe_no = 0
        step = 0.01  # pace in 10 ms slices
        index = 0
        pending = []
        while True:
            now = time.monotonic()
            elapsed = now - start
            if elapsed >= duration_s:
                break
            due_samples = rate * elapsed
            while index < len(load) and offered < due_samples:
                key, value, n = load[index]
                pending.append(await producer.send(vitals_topic, value, key=key))
                offered += n
                index += 1
            if now >= next_probe:
                pid = f"{prefix}{probe_no:05d}"
                probe_no += 1
                raw = probe_message(pid, int(time.time() * 1000))
                sent_at[pid] = time.time()
                pending.append(await producer.send(vitals_topic, raw, key=pid.encode()))
                next_probe += probe_interval_s
            if len(pending) > 2000:
                pending = [f for f in pending if not f.done()]
            if progress:
                progress(elapsed / duration_s)
            await asyncio.sleep(step)
        elapsed = time.monotonic() - start
        await asyncio.gather(*pending)
        deadline = time.monotonic() + settle_s
        while len(latencies) < len(sent_at) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await reader
        await producer.stop()
        await consumer.stop()
    values = list(latencies.values())
    # A probe never answered counts as the settle timeout: it must not improve the tail.
    values += [settle_s * 1000.0] * (len(sent_at) - len(latencies))
    if not values:
        raise RuntimeError("no latency probe was sent")
    return LatencyResult(
        p50_ms=percentile(values, 50),
        p99_ms=percentile(values, 99),
        max_ms=max(values),
        probes=len(sent_at),
        answered=len(latencies),
        offered_samples_per_s=rate,
        achieved_samples_per_s=offered / elapsed if elapsed > 0 else 0.0,
    )
