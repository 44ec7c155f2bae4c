"""`wardwatch demo` before anything starts: busy ports, whose metrics, what it prints."""

from __future__ import annotations

import socket
import subprocess
import sys

from alerts.format import alert_line
from streams.cli.demo import _Status
from streams.cli.demo_view import DemoView
from streams.kafka import free_port
from tests.conftest import ROOT


def test_busy_port_is_one_line_naming_port_option_and_variable_exit_2(tmp_path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "demo",
                "--metrics-port",
                str(busy),
                "--web-port",
                str(free_port()),
                "--mllp-port",
                str(free_port()),
                "--notify-metrics-port",
                "0",
                "--logs",
                str(tmp_path / "demo"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(busy) in lines[0] and "--metrics-port" in lines[0] and "WARDWATCH_METRICS_PORT" in lines[0]
    assert "Traceback" not in proc.stderr and "samples processed" not in proc.stdout + proc.stderr
    assert not (tmp_path / "demo" / "broker.log").exists()  # nothing was started


def test_metrics_of_a_process_that_is_not_our_worker_are_not_reported(capsys) -> None:
    from prometheus_client import CollectorRegistry, Counter, ProcessCollector, start_http_server

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # this (pytest) process started long before "our worker"
    Counter("wardwatch_samples_processed", "samples", registry=registry).inc(12345)
    port = free_port()
    start_http_server(port, registry=registry)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        status = _Status(port, worker, logs="data/demo")
        status.spawned += 3600  # as if the worker were spawned an hour after the process serving the port
        status.maybe_print(force=True)
        status.last = (0.0, 0.0)
        status.maybe_print()
    finally:
        worker.kill()
        worker.wait()
    err = capsys.readouterr().err
    assert "12,345" not in err and "samples processed" not in err
    assert "starting" in err


def _alert(ts: str, status: str = "raised", **extra) -> dict:
    return {
        "alert_id": f"phys-{ts}",
        "patient_id": "MRN1",
        "status": status,
        "priority": "low",
        "kind": "news2",
        "ts": f"2026-12-02T{ts}Z",
        "reasons": [{"vital": "spo2", "text": "SpO2 88% scores 3"}],
        **extra,
    }


def test_demo_holds_lines_back_and_prints_alerts_of_different_polls_in_event_time_order() -> None:
    view = DemoView("alerts", started=0.0, hold_s=1.5)
    page = {
        "type": "delivery",
        "outcome": "delivered",
        "name": "Ward nurse",
        "role": "nurse",
        "channel": "console",
        "stage": "raised",
        "alert_id": "phys-11:11:30",
    }
    assert view.lines([("alerts", _alert("11:36:51")), ("audit", {"type": "alert", "alert_id": "x"})], now=10.0) == []
    assert view.lines([("alerts", _alert("11:11:30")), ("audit", page)], now=10.5) == []  # a later poll, earlier ts
    lines = view.lines([], now=12.0)
    assert lines[0].startswith("first alert after")
    assert [line[:8] for line in lines[1:3]] == ["11:11:30", "11:36:51"]
    assert "-> paged Ward nurse (nurse) via console (page)" in lines[3]
    assert len(lines) == 4
    view.lines([("alerts", _alert("12:00:00"))], now=12.1)
    assert [line[:8] for line in view.lines([], now=12.2, flush=True)] == ["12:00:00"]  # the demo's end


def test_resolved_line_does_not_repeat_the_episodes_reasons_beside_a_normal_score() -> None:
    line = alert_line(_alert("12:00:00", "resolved", news2={"total": 0, "band": "none"}))
    assert "NEWS2 0" in line and "SpO2 88%" not in line and "episode closed" in line
    assert "SpO2 88%" in alert_line(_alert("12:00:00", "raised"))


def test_a_partition_running_ahead_while_the_worker_catches_up_does_not_reorder_the_lines() -> None:
    # Partition 0 has reached 12:08 (a RESOLVED) while partition 1 is still at 11:30; its 11:40 RAISED
    # arrives 5 s later, after the plain hold: the watermark keeps 12:08 back until partition 1 passes it.
    view = DemoView("alerts", started=0.0, hold_s=1.5, partitions=2, max_hold_s=20.0)
    assert view.lines([("alerts", _alert("12:08:00", "resolved"), 0), ("alerts", _alert("11:30:00"), 1)], now=1.0) == []
    lines = view.lines([], now=3.0)
    assert [line[:8] for line in lines if line[:2].isdigit()] == ["11:30:00"]  # 12:08 waits for partition 1
    assert view.lines([("alerts", _alert("11:40:00"), 1)], now=6.0) == []  # held its own 1.5 s
    assert [line[:8] for line in view.lines([], now=7.6)] == ["11:40:00"]  # partition 1 is still behind 12:08
    # Partition 1 passes 12:08: the RESOLVED is due at once (it has long waited its hold).
    assert [line[:8] for line in view.lines([("alerts", _alert("12:10:00"), 1)], now=8.0)] == ["12:08:00"]
    assert view.lines([], now=9.6) == []  # 12:10 waits: partition 0 may still send something before it
    assert [line[:8] for line in view.lines([], now=28.0)] == ["12:10:00"]  # at most max_hold


def test_a_silent_partition_holds_a_line_back_at_most_max_hold() -> None:
    view = DemoView("alerts", started=0.0, hold_s=1.5, partitions=4, max_hold_s=10.0)
    view.lines([("alerts", _alert("11:00:00"), 0)], now=0.0)
    assert view.lines([], now=5.0) == []
    assert [line[:8] for line in view.lines([], now=10.0) if line[:2].isdigit()] == ["11:00:00"]
