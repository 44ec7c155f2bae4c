"""`wardwatch bench`: the quick run on the real embedded broker, and its pure helpers.

No timing is asserted anywhere: this machine is shared and the numbers of a
quick run are not meaningful. What is checked is that every measurement runs
end to end and reports exactly the documented keys, as positive numbers.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from streams.bench.latency import percentile, probe_message
from streams.bench.report import KEYS, table, verdict
from streams.bench.workers import parse_metric, saturation_rate
from streams.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_json_has_exactly_the_keys_as_positive_numbers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "bench", "--quick", "--json", "--quiet", "--keep", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log"))
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n{logs}"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout  # --json: one object, nothing else on stdout
    result = json.loads(lines[0])
    assert list(result) == list(KEYS)
    for key, value in result.items():
        assert type(value) in (int, float), (key, value)
        assert math.isfinite(value) and value > 0, (key, value)
    assert result["ratio"] == pytest.approx(result["pipeline_samples_per_s"] / result["baseline_samples_per_s"])
    assert result["latency_p99_ms"] >= result["latency_p50_ms"]


def test_bench_help_has_an_example() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    help_text = sub.choices["bench"].format_help()
    assert "example:" in help_text and "wardwatch bench --quick --json" in help_text


def test_saturation_rate_excludes_start_up_and_work_done_before_the_first_poll() -> None:
    trace = [(0.0, 0.0), (5.0, 0.0), (5.05, 1000.0), (6.05, 11000.0), (7.05, 21000.0), (8.05, 31000.0)]
    rate, done, seconds = saturation_rate(trace, 31000)
    assert (done, seconds) == (20000, pytest.approx(2.0))
    assert rate == pytest.approx(10000)


def test_saturation_rate_is_not_biased_by_the_poll_that_sees_the_end() -> None:
    """10,000/s until done at 3.0 s; the scrape that sees the total comes 0.19 s later."""
    trace = [(1.0, 0.0), (1.2, 2000.0), (1.4, 4000.0), (2.2, 12000.0), (2.8, 18000.0), (3.19, 20000.0)]
    rate, done, seconds = saturation_rate(trace, 20000)
    assert rate == pytest.approx(10000)
    assert (done, seconds) == (16000, pytest.approx(1.6))


def test_saturation_rate_when_everything_lands_between_two_polls() -> None:
    rate, done, seconds = saturation_rate([(1.0, 0.0), (1.5, 500.0)], 500)
    assert done == 500 and seconds == pytest.approx(0.5) and rate == pytest.approx(1000)


def test_parse_metric_sums_label_sets_and_skips_comments_and_other_names() -> None:
    text = (
        "# HELP wardwatch_samples_processed_total x\n"
        "wardwatch_samples_processed_total 12.0\n"
        "wardwatch_samples_processed_created 1.7e9\n"
        'wardwatch_alerts_total{kind="news2"} 2.0\n'
        'wardwatch_alerts_total{kind="anomaly"} 3.0\n'
    )
    assert parse_metric(text, "wardwatch_samples_processed_total") == 12
    assert parse_metric(text, "wardwatch_alerts_total") == 5


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_probe_message_raises_an_alert_within_its_one_message() -> None:
    from alerts.engine import PatientEngine
    from monitor.parse import parse_message

    result = parse_message(probe_message("bench-probe-x-00001", 1_764_064_800_000))
    assert not result.rejections and len(result.samples) == 2
    engine = PatientEngine("bench-probe-x-00001")
    alerts = [a for s in result.samples for a in engine.process(s)]
    assert alerts and alerts[0].status.value == "raised"  # the bench times the first alert of each probe


def test_table_lists_every_key_with_its_verdict() -> None:
    results = dict.fromkeys(KEYS, 1.0)
    text = table(results, {"ratio": "note"})
    assert len(text.splitlines()) == len(KEYS) + 2
    assert "MISSED" in verdict("ratio", 0.5) and "met" in verdict("ratio", 0.9)
    assert verdict("latency_p50_ms", 1.0) == ""


def test_cpu_rate_uses_the_same_window_as_the_rate() -> None:
    """One core fully busy at 10,000/s reads 10,000 per CPU second (hostile review: 9,045)."""
    from streams.bench.pipeline import cpu_rate

    trace = [(1.0, 0.0), (1.2, 2000.0), (1.4, 4000.0), (2.2, 12000.0), (2.8, 18000.0), (3.19, 20000.0)]
    cpu = [(t, t) for t, _ in trace]  # the worker's CPU seconds advance with the wall clock
    per_cpu, share = cpu_rate(trace, cpu, 20000)
    assert per_cpu == pytest.approx(10000) and share == pytest.approx(1.0)


def test_the_bench_asks_the_worker_for_only_the_metrics_it_reads(tmp_path: Path) -> None:
    """A whole /metrics exposition cost the timed worker ~7 ms of CPU a scrape; the bench polls
    five times a second, so it must ask for the two series it reads (prometheus_client's
    `name[]`), through a real HTTP server with a process collector like the worker's."""
    import urllib.request

    from prometheus_client import CollectorRegistry, Counter, ProcessCollector, start_http_server

    from streams.bench.workers import CPU_METRIC, BenchWorker
    from streams.kafka import free_port

    registry = CollectorRegistry(auto_describe=True)  # as streams/metrics.py's
    ProcessCollector(registry=registry)
    done = Counter("wardwatch_samples_processed", "samples", ["partition"], registry=registry)
    other = Counter("wardwatch_other_things", "many series the bench never reads", ["n"], registry=registry)
    for n in range(200):
        other.labels(str(n)).inc()
    done.labels("0").inc(5)
    done.labels("1").inc(7)
    worker = BenchWorker("127.0.0.1:1", "app", None, tmp_path)  # type: ignore[arg-type]
    worker.metrics_port = free_port()
    server, thread = start_http_server(worker.metrics_port, addr="127.0.0.1", registry=registry)
    try:
        values = worker.try_metrics("wardwatch_samples_processed_total", CPU_METRIC)
        assert values is not None and values[0] == 12.0 and values[1] > 0.0
        with urllib.request.urlopen(worker.metrics_url("wardwatch_samples_processed_total", CPU_METRIC)) as resp:
            text = resp.read().decode()
        assert "wardwatch_other_things" not in text and "wardwatch_samples_processed_total" in text
    finally:
        server.shutdown()
        thread.join(5)
