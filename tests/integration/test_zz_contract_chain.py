"""The whole chain a safety officer audits, on the real broker, validated against the contract.

vitals -> worker -> alerts -> notify (console channel) -> audit, an ack and a
resolve from the CLI, then the CLI's refusal to ack a resolved alert and the
audit timeline with both clocks. Every message read goes through the
contract recorder (tests/conftest.py); the last test reports how many real
messages were validated in this session. Named test_zz_* so it runs after
the other integration tests and its count covers theirs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from contract import errors
from tests.conftest import CONTRACT, ROOT, consume_sync, produce_sync

pytestmark = pytest.mark.integration

T0 = 1_764_064_800_000  # 2025-11-25T10:00:00Z: event time a year from the wall clock, as in a replay
PID = "MRN-CHAIN-1"


def _samples(start_s: int, end_s: int, step_s: int, spo2: float | None = None) -> list[dict]:
    return [
        {
            "ts": T0 + t * 1000,
            "heart_rate": 72 + t % 3,
            "spo2": spo2 if spo2 is not None else 97 - t % 2,
            "resp_rate": 15,
        }
        for t in range(start_s, end_s, step_s)
    ]


def _batches(items: list[dict], size: int = 60) -> list[tuple[bytes, bytes]]:
    return [
        (PID.encode(), orjson.dumps({"patient_id": PID, "device_id": "wear-9", "samples": items[i : i + size]}))
        for i in range(0, len(items), size)
    ]


def _cli(*args: str, bootstrap: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args, "--bootstrap", bootstrap],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _of(records: list[dict], status: str) -> list[dict]:
    return [r for r in records if r.get("patient_id") == PID and r.get("status") == status]


@pytest.fixture
def notify(broker, tmp_path: Path):
    env = {**os.environ, "WARDWATCH_KAFKA_BOOTSTRAP": broker.bootstrap, "WARDWATCH_FAST_REBALANCE": "1"}
    command = [sys.executable, "-m", "streams.cli", "notify", "--metrics-port", "0", "--max-age", "0"]
    with open(tmp_path / "notify.log", "ab") as log:  # closed once the service has stopped
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        yield proc
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_alert_page_ack_resolve_audit_chain_matches_the_contract(broker, worker, notify) -> None:
    b = broker.bootstrap
    produce_sync(b, "vitals", _batches(_samples(0, 1200, 5) + _samples(1200, 1260, 1, spo2=80)))
    alerts = consume_sync(b, "alerts", lambda rs: _of(rs, "raised"))
    alert_id = _of(alerts, "raised")[0]["alert_id"]
    consume_sync(b, "audit", lambda rs: any(r["type"] == "delivery" and r["alert_id"] == alert_id for r in rs))

    acked = _cli("ack", alert_id, "--by", "Nurse Ada", bootstrap=b)
    assert acked.returncode == 0, acked.stderr
    consume_sync(b, "alerts", lambda rs: _of(rs, "acknowledged"))
    resolved = _cli("ack", alert_id, "--by", "Dr Lee", "--resolve", bootstrap=b)
    assert resolved.returncode == 0, resolved.stderr
    consume_sync(b, "alerts", lambda rs: _of(rs, "resolved"))

    # The CLI has looked the alert up: acknowledging a resolved alert warns and sends nothing.
    late = _cli("ack", alert_id, "--by", "Nurse Ada", bootstrap=b)
    assert late.returncode == 1 and "already resolved" in late.stderr, late
    acks = consume_sync(b, "alert-acks", lambda rs: len(rs) >= 2, timeout=10)
    assert [(a["by"], a["action"]) for a in acks] == [("Nurse Ada", "acknowledge"), ("Dr Lee", "resolve")]
    assert all(not errors("alert-acks", a) for a in acks)

    audit = consume_sync(
        b,
        "audit",
        lambda rs: any(r.get("status") == "resolved" for r in rs) and sum(r["type"] == "ack" for r in rs) >= 2,
    )
    assert all(r["wall_ts"] and (r["type"] == "config" or r["event_ts"]) for r in audit)
    consume_sync(b, "notify-state", lambda rs: len(rs) >= 3, timeout=20)

    timeline = _cli("audit", alert_id, "--json", bootstrap=b)
    assert timeline.returncode == 0, timeline.stderr
    (episode,) = orjson.loads(timeline.stdout)["episodes"]
    walls = [e["wall_ts"] for e in episode["events"]]
    assert walls == sorted(walls), "the timeline is ordered on the wall clock"
    assert all(e["event_ts"] for e in episode["events"]), "every row carries the event time too"
    assert episode["durations_clock"] == "wall"
    # Wall clock: the ack came seconds after the page, though event time sits a year back.
    assert 0 <= episode["time_to_acknowledge_s"] <= 120
    assert episode["time_to_resolve_s"] >= episode["time_to_acknowledge_s"]
    table = _cli("audit", alert_id, bootstrap=b)
    assert "wall clock" in table.stdout and "event time" in table.stdout and "(wall clock" in table.stdout

    missing = _cli("audit", "phys-nonexistent", bootstrap=b)
    assert missing.returncode == 1 and "check the id" in missing.stderr


def test_contract_count_of_real_messages_validated(capsys) -> None:
    """Reports (and requires) the real messages this session validated against contract/schemas."""
    summary = CONTRACT.summary()
    with capsys.disabled():
        print("\n" + summary)
    for topic in ("vitals", "alerts", "audit", "alert-acks", "notify-state"):
        assert CONTRACT.valid[topic] > 0, f"no {topic} message validated: {summary}"
