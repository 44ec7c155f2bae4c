"""End to end on the real broker: a desaturation pages, an ack over Kafka stops its escalation.

Two patients desaturate the same way; one is acknowledged over `alert-acks`
(with a wall-clock `ts` a year away from the replay's event time), the other
is not. Both keep desaturating in event time: the unacknowledged one escalates,
the acknowledged one stays quiet. An ack for an unknown alert lands in the DLQ
with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from tests.conftest import consume_sync, produce_sync

pytestmark = pytest.mark.integration

T0 = 1_764_064_800_000  # 2025-11-25T10:00:00Z
WARM_S = 1200
PHYSIOLOGICAL = ("news2", "anomaly", "threshold")


def samples(start_s: int, end_s: int, step_s: int, spo2: float | None = None) -> list[dict]:
    return [
        {
            "ts": T0 + t * 1000,
            "heart_rate": 72 + t % 3,
            "spo2": spo2 if spo2 is not None else 97 - t % 2,
            "resp_rate": 15,
        }
        for t in range(start_s, end_s, step_s)
    ]


def batches(pid: str, items: list[dict], size: int = 60) -> list[tuple[bytes, bytes]]:
    return [
        (pid.encode(), orjson.dumps({"patient_id": pid, "device_id": "wear-9", "samples": items[i : i + size]}))
        for i in range(0, len(items), size)
    ]


def ack(alert_id: str, pid: str) -> tuple[bytes, bytes]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    doc = {"alert_id": alert_id, "patient_id": pid, "by": "nurse.kim", "action": "acknowledge", "ts": now}
    return pid.encode(), orjson.dumps(doc)


def physiological(records: list[dict], pid: str, status: str) -> list[dict]:
    return [r for r in records if r["patient_id"] == pid and r["kind"] in PHYSIOLOGICAL and r["status"] == status]


def test_ack_over_kafka_stops_escalation_and_unknown_acks_go_to_the_dlq(broker, worker):
    acked, ignored = "MRN-ACK-1", "MRN-NOACK-2"
    phase1 = samples(0, WARM_S, 5) + samples(WARM_S, WARM_S + 60, 1, spo2=80)
    produce_sync(broker.bootstrap, "vitals", batches(acked, phase1) + batches(ignored, phase1))
    alerts = consume_sync(
        broker.bootstrap, "alerts", lambda rs: all(physiological(rs, pid, "raised") for pid in (acked, ignored))
    )
    raised = physiological(alerts, acked, "raised")
    assert len(raised) == 1, alerts
    alert_id = raised[0]["alert_id"]
    assert raised[0]["priority"] == "high"

    produce_sync(broker.bootstrap, "alert-acks", [ack(alert_id, acked), ack("phys-000000000000deadbeef", acked)])
    alerts = consume_sync(broker.bootstrap, "alerts", lambda rs: physiological(rs, acked, "acknowledged"))
    acknowledged = physiological(alerts, acked, "acknowledged")
    assert [(a["alert_id"], a["acknowledged_by"]) for a in acknowledged] == [(alert_id, "nurse.kim")]
    # Stamped in event time, not the nurse's wall clock.
    assert acknowledged[0]["ts"].startswith("2025-11-25")

    letters = consume_sync(
        broker.bootstrap, "vitals-dlq", lambda rs: any(r.get("reason") == "unknown_alert" for r in rs)
    )
    unknown = [r for r in letters if r.get("reason") == "unknown_alert"]
    assert len(unknown) == 1 and "phys-000000000000deadbeef" in unknown[0]["error"]
    assert orjson.loads(unknown[0]["payload"])["by"] == "nurse.kim"  # the original ack, for follow-up

    # Both keep desaturating for another 10 minutes of event time.
    phase2 = samples(WARM_S + 60, WARM_S + 660, 1, spo2=80)
    produce_sync(broker.bootstrap, "vitals", batches(acked, phase2) + batches(ignored, phase2))
    total = 2 * (len(phase1) + len(phase2))
    worker.wait_metric("wardwatch_samples_processed_total", total)
    alerts = consume_sync(broker.bootstrap, "alerts", lambda rs: len(physiological(rs, ignored, "escalated")) >= 2)
    steps = physiological(alerts, ignored, "escalated")
    assert [s.get("escalation_level") for s in steps] == [1, 2]
    assert physiological(alerts, acked, "escalated") == []
    assert {a["alert_id"] for a in alerts if a["patient_id"] == acked and a["kind"] in PHYSIOLOGICAL} == {alert_id}
    # Time to acknowledge is measured from the raise, per priority.
    assert acknowledged[0]["raised_ts"] == raised[0]["ts"]
    assert worker.metric('wardwatch_time_to_acknowledge_seconds_count{priority="high"}') == 1
