"""Pure per-sample cost of the domain: parse + PatientEngine.process, no Kafka.

This is the floor under any pipeline figure: what one sample costs in
monitor (validation, latest-vitals view, NEWS2, baseline detector) and
alerts (rules, policy, alert records) on one core. It runs in-process on the
same generated ward the pipeline gets, so the mix of duplicates, late
samples, probe-off and deteriorations matches.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

from alerts.config import DEFAULT_CONFIG, PolicyConfig
from alerts.engine import PatientEngine
from monitor.parse import parse_message


@dataclass(frozen=True)
class DomainResult:
    samples: int
    parse_us: float
    engine_us: float
    alerts: int
    engines: dict[str, PatientEngine] = field(repr=False)

    @property
    def us_per_sample(self) -> float:
        return self.parse_us + self.engine_us


#: CPU time of this process, not wall time: on a shared machine another
#: process taking the core must not count as domain cost.
clock = time.process_time


def measure_domain(
    messages: list[tuple[bytes, bytes]], repeats: int = 3, config: PolicyConfig | None = None
) -> DomainResult:
    """Best of `repeats` passes over the batched messages, streamed as the worker sees them.

    Two passes each time: parse alone, then parse + process with fresh
    engines; the engine's share is the difference. Nothing parsed is kept
    between messages (as in the worker), so the garbage collector works as
    it does in production rather than over a growing heap of results.
    `config` runs the engines with another policy (e.g. another detector).
    """
    cfg = config if config is not None else DEFAULT_CONFIG
    best_parse = best_total = float("inf")
    samples = alerts = 0
    engines: dict[str, PatientEngine] = {}
    for _ in range(repeats):
        gc.collect()
        n = 0
        t0 = clock()
        for _, raw in messages:
            n += len(parse_message(raw).samples)
        t1 = clock()
        engines = {}
        a = 0
        gc.collect()
        t2 = clock()
        for _, raw in messages:
            result = parse_message(raw)
            pid = result.patient_id
            if pid is None:
                continue
            engine = engines.get(pid)
            if engine is None:
                engine = engines[pid] = PatientEngine(pid, cfg)
            for sample in result.samples:
                a += len(engine.process(sample))
        t3 = clock()
        samples, alerts = n, a
        best_parse = min(best_parse, (t1 - t0) / max(1, n) * 1e6)
        best_total = min(best_total, (t3 - t2) / max(1, n) * 1e6)
    return DomainResult(samples, best_parse, max(0.0, best_total - best_parse), alerts, engines)


def measure_domain_pure(patients: int, hours: float, batch_seconds: float, repeats: int = 3) -> float:
    """`measure_domain`'s µs per sample on the same ward with the hot path as plain Python.

    A child process with ``WARDWATCH_PURE_PYTHON=1`` (monitor/compiled.py): the
    compiled modules are chosen at import, so the comparison needs its own
    interpreter. The bench prints the ratio of the two, measured in one run.
    """
    import os
    import subprocess
    import sys

    code = (
        "from streams.bench.data import generate_ward\n"
        "from streams.bench.domain import measure_domain\n"
        f"ward = generate_ward({patients!r}, {hours!r}, {batch_seconds!r})\n"
        f"print(measure_domain(ward.batched, repeats={repeats!r}).us_per_sample)\n"
    )
    env = dict(os.environ, WARDWATCH_PURE_PYTHON="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])
