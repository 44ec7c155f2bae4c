"""End to end on the real embedded broker: vitals in, alerts and dead letters out."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import consume_sync, produce_sync

pytestmark = pytest.mark.integration

T0 = 1_764_064_800_000  # 2025-11-25T10:00:00Z


def drifting_patient(pid: str, minutes: int = 150, step_s: int = 5) -> list[dict]:
    """Stable for an hour, then SpO2 falls and heart rate climbs steadily."""
    out = []
    for i in range(minutes * 60 // step_s):
        t = i * step_s
        drift = max(0.0, (t - 3600) / 60.0)  # minutes since deterioration began
        out.append(
            {
                "ts": T0 + t * 1000,
                "heart_rate": 72 + (i % 3) + 0.8 * drift,
                "spo2": max(80, 97 - (i % 2) - 0.25 * drift),
                "resp_rate": 15 + (i % 2) + 0.15 * drift,
            }
        )
    return out


def stable_patient(minutes: int = 150, step_s: int = 5) -> list[dict]:
    return [
        {"ts": T0 + i * step_s * 1000, "heart_rate": 70 + (i % 5), "spo2": 97 + (i % 2), "resp_rate": 14 + (i % 3)}
        for i in range(minutes * 60 // step_s)
    ]


def batches(pid: str, samples: list[dict], size: int = 60) -> list[tuple[bytes, bytes]]:
    return [
        (pid.encode(), orjson.dumps({"patient_id": pid, "device_id": "wear-1", "samples": samples[i : i + size]}))
        for i in range(0, len(samples), size)
    ]


def test_deteriorating_patient_raises_one_contract_alert_and_stable_ones_none(broker, worker):
    deteriorating, stable = "MRN-000417", "MRN-000988"
    messages = batches(deteriorating, drifting_patient(deteriorating)) + batches(stable, stable_patient())
    produce_sync(broker.bootstrap, "vitals", messages)
    total = sum(len(orjson.loads(v)["samples"]) for _, v in messages)
    worker.wait_metric("wardwatch_samples_processed_total", total)
    alerts = consume_sync(
        broker.bootstrap,
        "alerts",
        lambda rs: any(r["patient_id"] == deteriorating and r["status"] == "raised" for r in rs),
    )
    raised = [a for a in alerts if a["status"] == "raised" and a["kind"] in ("news2", "anomaly", "threshold")]
    assert [a["patient_id"] for a in raised] == [deteriorating], alerts
    alert = raised[0]
    for field in (
        "alert_id",
        "patient_id",
        "device_id",
        "status",
        "priority",
        "kind",
        "ts",
        "emitted_at",
        "reasons",
        "news2",
        "detector",
    ):
        assert field in alert
    assert alert["priority"] in ("high", "medium", "low")
    assert alert["device_id"] == "wear-1"
    assert alert["reasons"] and all(r["text"] for r in alert["reasons"])
    assert alert["ts"].endswith("Z")
    assert not [a for a in alerts if a["patient_id"] == stable]
    # One deterioration pages once: every physiological message shares the id.
    ids = {a["alert_id"] for a in alerts if a["patient_id"] == deteriorating and a["kind"] != "signal_loss"}
    assert len(ids) == 1


def test_batch_of_50_is_processed_like_50_singles(broker, worker):
    samples = stable_patient(minutes=5, step_s=6)[:50]
    single = [(b"A-1", orjson.dumps({"patient_id": "A-1", "device_id": "d", **s})) for s in samples]
    batch = [(b"B-1", orjson.dumps({"patient_id": "B-1", "device_id": "d", "samples": samples}))]
    produce_sync(broker.bootstrap, "vitals", single + batch)
    assert worker.wait_metric("wardwatch_samples_processed_total", 100) == 100
    assert worker.metric("wardwatch_inputs_rejected_total") == 0


def test_bad_input_goes_to_dlq_with_reason_and_worker_keeps_going(broker, worker):
    good = {"patient_id": "MRN-1", "device_id": "d", "ts": T0, "heart_rate": 80}
    bad = [
        (b"MRN-1", b"{not json"),
        (b"MRN-1", orjson.dumps({"patient_id": "MRN-1", "ts": T0, "heart_rate": "fast"})),
        (b"MRN-1", orjson.dumps({"patient_id": "MRN-1", "ts": T0, "spo2": 140})),
        (b"MRN-1", orjson.dumps({"patient_id": "MRN-1", "ts": T0, "systolic_bp": 70, "diastolic_bp": 90})),
        (None, b"\xff\xfe binary"),
        (b"x", orjson.dumps({"device_id": "d", "ts": T0, "heart_rate": 80})),
    ]
    produce_sync(broker.bootstrap, "vitals", [*bad, (b"MRN-1", orjson.dumps(good))])
    worker.wait_metric("wardwatch_samples_processed_total", 1)
    letters = consume_sync(broker.bootstrap, "vitals-dlq", lambda rs: len(rs) >= len(bad))
    assert len(letters) == len(bad)
    reasons = [d["error"] for d in letters]
    assert any("not valid JSON" in r for r in reasons)
    assert any("heart_rate must be a number" in r for r in reasons)
    assert any("spo2 140" in r for r in reasons)
    assert any("systolic_bp 70 must exceed diastolic_bp 90" in r for r in reasons)
    assert any("patient_id" in r for r in reasons)
    binary = [d for d in letters if d["payload_encoding"] == "base64"]
    assert len(binary) == 1
    for letter in letters:
        assert {"error", "payload", "payload_encoding", "topic", "partition", "offset", "received_at"} <= set(letter)
        assert letter["topic"] == "vitals"
    assert worker.metric("wardwatch_inputs_rejected_total") == len(bad)


def test_metrics_move_and_carry_no_patient_ids(broker, worker):
    produce_sync(broker.bootstrap, "vitals", batches("MRN-SECRET-42", stable_patient(minutes=3)))
    worker.wait_metric("wardwatch_samples_processed_total", 36)
    text = worker.metrics()
    assert "MRN-SECRET-42" not in text
    for name in (
        "wardwatch_samples_processed_total",
        "wardwatch_inputs_rejected_total",
        "wardwatch_alerts_total",
        "wardwatch_processing_seconds",
        "wardwatch_event_lag_seconds",
        "wardwatch_consumer_lag_messages",
    ):
        assert name in text
    assert "MRN-SECRET-42" not in worker.log()


def _essence(alert: dict) -> tuple:
    return (alert["patient_id"], alert["alert_id"], alert["status"], alert["priority"], alert["kind"], alert["ts"])


def test_batch_lane_publishes_exactly_what_the_faust_agent_path_publishes(broker, worker_factory):
    """The batch lane (streams/worker/fastlane.py) is a faster hand-off, not different behaviour: same input,
    including mis-keyed messages (re-keyed through the repartition topic) and a bad one, same outputs."""
    sick, well = "MRN-LANE-1", "MRN-LANE-2"
    messages = batches(sick, drifting_patient(sick), size=7) + batches(well, stable_patient(), size=7)
    messages[5] = (b"wrong-key", messages[5][1])  # must still reach MRN-LANE-1's state, in order
    messages.append((b"x", b'{"patient_id": "MRN-LANE-3", "device_id": "d", "ts": "yesterday", "spo2": 97}'))
    produce_sync(broker.bootstrap, "vitals", messages)
    total = sum(len(orjson.loads(v).get("samples", [])) for _, v in messages)
    outputs = {}
    for lane in ("1", "0"):
        alerts_topic, dlq_topic = f"alerts-lane{lane}", f"dlq-lane{lane}"
        w = worker_factory(
            WARDWATCH_APP_ID=f"ww-lane{lane}",
            WARDWATCH_BATCH_LANE=lane,
            WARDWATCH_TOPIC_ALERTS=alerts_topic,
            WARDWATCH_TOPIC_DLQ=dlq_topic,
        )
        w.wait_metric("wardwatch_samples_processed_total", total)
        sent = w.wait_metric("wardwatch_alerts_total", 1)
        alerts = consume_sync(broker.bootstrap, alerts_topic, lambda rs, sent=sent: len(rs) >= sent)
        letters = consume_sync(broker.bootstrap, dlq_topic, lambda rs: len(rs) >= 1)
        w.stop()  # before the wall-clock timers (10 s of silence) could add alerts to one run only
        outputs[lane] = (
            sorted(_essence(a) for a in alerts if a["kind"] != "signal_loss"),
            sorted(r["reason"] for r in letters),
        )
    assert outputs["1"] == outputs["0"]
    assert any(a[0] == sick and a[2] == "raised" for a in outputs["1"][0])
    assert not any(a[0] == well for a in outputs["1"][0])
    assert len(outputs["1"][1]) == 1


def test_unknown_detector_in_policy_stops_the_worker_at_start_naming_it(broker, worker_factory, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[wards.icu]\ndetector = "half-space-tree"\n', encoding="utf-8")
    w = worker_factory(start=False, WARDWATCH_CONFIG=str(policy))
    w.start(wait_ready=0)
    assert w.proc.wait(timeout=60) == 2
    assert "unknown detector 'half-space-tree'" in w.log() and "[wards.icu]" in w.log()


def test_a_detector_that_raises_dead_letters_the_sample_and_other_patients_go_on(broker, worker_factory, tmp_path):
    """The policy names a test detector that raises for one patient: that patient's samples go to the
    DLQ with reason detector_error (NEWS2 still pages for them), the other patient is detected as usual."""
    policy = tmp_path / "policy.toml"
    policy.write_text('detector = "tests.failing_detector:make"\n', encoding="utf-8")
    w = worker_factory(WARDWATCH_CONFIG=str(policy))
    bad = [{"ts": T0 + i * 5000, "heart_rate": 135, "spo2": 90, "resp_rate": 26} for i in range(40)]
    produce_sync(
        broker.bootstrap, "vitals", batches("MRN-BOOM-1", bad, size=20) + batches("MRN-2", drifting_patient("MRN-2"))
    )
    letters = consume_sync(broker.bootstrap, "vitals-dlq", lambda rs: len(rs) >= 40)
    assert len(letters) == 40 and all("detector_error" in d["error"] for d in letters)
    assert all("RuntimeError: deliberate test failure" in d["error"] for d in letters)
    alerts = consume_sync(
        broker.bootstrap, "alerts", lambda rs: {a["patient_id"] for a in rs} >= {"MRN-BOOM-1", "MRN-2"}, timeout=120
    )
    boom = [a for a in alerts if a["patient_id"] == "MRN-BOOM-1"]
    assert boom and all(a["kind"] != "anomaly" for a in boom)  # NEWS2 7+ still pages without the detector
    assert any(a["detector"] and a["detector"]["name"] == "failing-test" for a in alerts if a["patient_id"] == "MRN-2")
    assert w.proc.poll() is None
