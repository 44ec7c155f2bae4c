"""Restart-to-ready time of a worker that owns `n_patients` patients' state.

If `streams.bench.recovery_run.measure_recovery(bootstrap, n_patients, store)`
exists (the recovery work's own measurement) it is used. Otherwise this
minimal version runs: one worker folds a short batch for each of
`n_patients` patients and checkpoints their state to its changelog; it is
stopped; a second worker with the same app id (and an empty local store for
the memory store, so it must read the whole changelog) is started, and the
figure is the wall time from its process start to /readyz answering 200.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from streams.bench.kafka import create_topics, fill
from streams.bench.workers import BenchTopics, BenchWorker
from streams.worker import TABLE_NAME


def external_measure() -> Callable[..., dict] | None:
    try:
        module = importlib.import_module("streams.bench.recovery_run")
    except ModuleNotFoundError as exc:
        if exc.name == "streams.bench.recovery_run":
            return None
        raise
    return getattr(module, "measure_recovery", None)


def seconds_of(result: dict[str, Any]) -> float:
    """The restart-to-ready seconds in the external measurement's dict.

    `streams.bench.recovery_run` reports {"cold": {"ready_s", "recovery_s", ...},
    "restart": {...}}: the figure is the restart's process start → /readyz.
    """
    for phase in ("restart", "cold"):
        inner = result.get(phase)
        if isinstance(inner, dict) and isinstance(inner.get("ready_s"), (int, float)):
            return float(inner["ready_s"])
    for key in ("recovery_s", "seconds", "ready_s", "restart_to_ready_s", "recovery_seconds"):
        if isinstance(result.get(key), (int, float)):
            return float(result[key])
    numbers = [v for k, v in result.items() if isinstance(v, (int, float)) and k.endswith("_s")]
    if numbers:
        return float(numbers[0])
    raise ValueError(f"measure_recovery returned no seconds: {result!r}")


def patient_batches(n_patients: int, samples: list[dict], run_id: str) -> list[tuple[bytes, bytes]]:
    """One batch message per patient, each the same short stretch of a generated patient."""
    out = []
    for i in range(n_patients):
        pid = f"bench-rec-{run_id}-{i:06d}"
        out.append((pid.encode(), orjson.dumps({"patient_id": pid, "device_id": "bench", "samples": samples})))
    return out


def measure_recovery_minimal(
    bootstrap: str,
    n_patients: int,
    workdir: Path,
    run_id: str,
    partitions: int,
    samples: list[dict],
    progress: Callable[[str], None] | None = None,
    store: str = "memory",
    ready_timeout: float = 120.0,
) -> dict[str, float]:
    topics = BenchTopics(f"bench-{run_id}-rec")
    app_id = f"bench-{run_id}-rec"
    messages = patient_batches(n_patients, samples, run_id)
    asyncio.run(create_topics(bootstrap, [topics.vitals], partitions))
    asyncio.run(fill(bootstrap, topics.vitals, messages))
    expected = n_patients * len(samples)
    env = {"WARDWATCH_STORE": store}
    first = BenchWorker(bootstrap, app_id, topics, workdir, partitions, extra_env=env).start()
    try:
        if progress:
            progress("writing state")
        first.wait_metric("wardwatch_samples_processed_total", expected, timeout=600)
        first.wait_metric("wardwatch_state_checkpoints_total", n_patients, timeout=120)
        time.sleep(1.5)  # one more commit interval: the changelog producer has flushed
    finally:
        first.stop()
    if progress:
        progress("restarting")
    second = BenchWorker(bootstrap, app_id, topics, workdir, partitions, extra_env=env)
    if store == "memory":
        second.workdir = workdir / "restart"
        second.workdir.mkdir(exist_ok=True)
    second.start()
    ready = True
    try:
        seconds = second.wait_ready(timeout=ready_timeout, poll=0.02)
    except RuntimeError:
        # Never ready: report the timeout as a lower bound rather than no number.
        second.check_alive()
        seconds, ready = ready_timeout, False
    finally:
        second.stop()
    return {
        "recovery_s": seconds,
        "ready": ready,
        "patients": n_patients,
        "changelog": f"{app_id}-{TABLE_NAME}-changelog",
    }
