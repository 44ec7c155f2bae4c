"""Saturation throughput of a real worker over a pre-filled vitals topic.

The topic is filled before the worker starts, so the worker is never waiting
for input: from its first processed sample to the last it runs flat out. The
rate is read from `wardwatch_samples_processed_total` on its /metrics, the
same counter ops and the integration tests use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from streams.bench.workers import BenchTopics, BenchWorker, last_busy_scrape, saturation_rate

SAMPLES_METRIC = "wardwatch_samples_processed_total"


@dataclass(frozen=True)
class PipelineResult:
    samples_per_s: float
    samples: float
    seconds: float
    startup_s: float
    #: samples per CPU second of the worker over the same window: what the rate
    #: would be with a core to itself (the machine is shared, wall rates are not).
    samples_per_cpu_s: float
    cpu_share: float  # worker CPU seconds / wall seconds over the window


#: Scrapes of the worker's /metrics while it is timed. Every 50 ms they cost the measured
#: worker ~6 % of its CPU (py-spy: prometheus_client's exposition thread), which the baseline
#: never pays; every 200 ms about a quarter of that (a real Prometheus scrapes every 15 s).
PIPELINE_POLL_S = 0.2


def run_pipeline(
    bootstrap: str,
    app_id: str,
    topics: BenchTopics,
    workdir: Path,
    expected: int,
    partitions: int,
    progress: Callable[[float], None] | None = None,
    timeout: float = 600.0,
) -> tuple[PipelineResult, BenchWorker]:
    """Start a worker on the pre-filled topic, time it to `expected` samples; the worker is left running."""
    worker = BenchWorker(bootstrap, app_id, topics, workdir, partitions).start()
    cpu: list[tuple[float, float]] = []
    try:
        trace = worker.wait_metric(
            SAMPLES_METRIC, expected, timeout=timeout, poll=PIPELINE_POLL_S, on_poll=progress, cpu=cpu
        )
    except BaseException:
        worker.stop()
        raise
    first = next((t for t, v in trace if v > 0), trace[-1][0])
    rate, done, seconds = saturation_rate(trace, expected)
    per_cpu, share = cpu_rate(trace, cpu, expected)
    return PipelineResult(rate, done, seconds, first - worker.started_at, per_cpu, share), worker


def cpu_rate(trace: list[tuple[float, float]], cpu: list[tuple[float, float]], total: float) -> tuple[float, float]:
    """(samples per worker CPU second, CPU share) over the saturation window (same polls)."""
    points = [(t, v, c) for (t, v), (_, c) in zip(trace, cpu, strict=False)]
    start = next(((t, v, c) for t, v, c in points if v > 0), None)
    end = next(((t, v, c) for t, v, c in points if v >= total), points[-1] if points else None)
    if start is not None:  # the same window as saturation_rate
        end = last_busy_scrape(points, start, total) or end
    if start is None or end is None or end[2] <= start[2] or end[0] <= start[0]:
        return 0.0, 0.0
    used = end[2] - start[2]
    return (end[1] - start[1]) / used, used / (end[0] - start[0])
