"""Operating a worker: broker not there yet, readiness, consumer lag, configuration errors."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import orjson
import pytest

from streams.config import Settings
from streams.kafka.broker import EmbeddedBroker, free_port
from tests.conftest import WorkerProcess, produce_sync

pytestmark = pytest.mark.integration

T0 = 1_764_064_800_000


def readyz(worker: WorkerProcess) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/readyz", timeout=1) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_worker_started_before_its_broker_waits_with_clear_logs_then_processes(tmp_path):
    port = free_port()
    worker = WorkerProcess(f"127.0.0.1:{port}", tmp_path)
    broker = EmbeddedBroker(port=port, log_path=tmp_path / "broker.log")
    try:
        worker.start(wait_ready=0)
        deadline = time.monotonic() + 20
        while "not reachable" not in worker.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "not reachable" in worker.log() and "retrying in" in worker.log(), worker.log()
        assert worker.proc.poll() is None  # waiting, not crash-looping
        broker.start()
        worker.wait_ready(60)
        msgs = [
            (
                b"MRN-LATE-1",
                orjson.dumps(
                    {
                        "patient_id": "MRN-LATE-1",
                        "device_id": "d",
                        "samples": [{"ts": T0 + i * 5000, "heart_rate": 70 + i % 3} for i in range(20)],
                    }
                ),
            )
        ]
        produce_sync(broker.bootstrap, "vitals", msgs)
        worker.wait_metric("wardwatch_samples_processed_total", 20)
        assert "MRN-LATE-1" not in worker.log()
    finally:
        worker.stop()
        broker.stop()


def test_readiness_follows_recovery_and_lag_comes_from_the_fetch_highwater(broker, worker_factory):
    worker = worker_factory(start=False)
    worker.start(wait_ready=0)
    statuses = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, body = readyz(worker)
        except OSError:
            time.sleep(0.1)
            continue
        statuses.append(status)
        if status == 200:
            break
        time.sleep(0.1)
    assert statuses and statuses[-1] == 200, worker.log()[-3000:]
    assert 503 in statuses  # the web server answers before the partitions are recovered, and says so
    assert body["ready"] is True and body["partitions"] == [0, 1, 2, 3]
    assert worker.metric("wardwatch_ready") in (0.0, 1.0)

    # Several batches on one partition: tansu's ListOffsets would say "last batch base + 1".
    pid = "MRN-LAG-1"
    msgs = [
        (
            pid.encode(),
            orjson.dumps({"patient_id": pid, "device_id": "d", "ts": T0 + i * 5000, "heart_rate": 70 + i % 3}),
        )
        for i in range(40)
    ]
    produce_sync(broker.bootstrap, "vitals", msgs)
    worker.wait_metric("wardwatch_samples_processed_total", 40)
    time.sleep(2.5)  # the lag gauge is refreshed by the 1 s timer
    lines = [line for line in worker.metrics().splitlines() if line.startswith("wardwatch_consumer_lag_messages{")]
    assert len(lines) == 4, lines
    assert all(line.endswith(" 0.0") for line in lines), lines
    assert worker.metric("wardwatch_ready") == 1.0
    assert worker.metric("wardwatch_assigned_partitions") == 4


def test_settings_reject_unknown_guarantee_store_and_log_format(monkeypatch):
    monkeypatch.setenv("WARDWATCH_PROCESSING_GUARANTEE", "exactly_once")
    assert Settings.from_env().processing_guarantee == "exactly_once"
    for name, value in (
        ("WARDWATCH_PROCESSING_GUARANTEE", "exactly-twice"),
        ("WARDWATCH_STORE", "tape"),
        ("WARDWATCH_LOG_FORMAT", "xml"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError, match=name):
            Settings.from_env()
        monkeypatch.delenv(name)
