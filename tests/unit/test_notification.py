"""Page text and per-channel redaction; webhook signatures; retries, DLQ and offsets (no broker)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from alerts.model import Status
from alerts.notification import build_notification, parse_alert_event, reply_code
from alerts.routing import Recipient, Redaction
from streams.notify.signing import sign, verify

ALERT = {
    "alert_id": "phys-3f2a9c0d1e5b7a6c4d2e",
    "patient_id": "MRN-000417",
    "device_id": "wear-17",
    "status": "raised",
    "priority": "high",
    "kind": "news2",
    "ts": "2026-11-25T10:00:00.000Z",
    "emitted_at": "2026-11-25T10:00:00.120Z",
    "reasons": [
        {"vital": "spo2", "value": 88, "text": "SpO2 88 % (baseline 96.5 %)"},
        {"vital": "heart_rate", "value": 128, "text": "Heart rate 128/min"},
    ],
    "news2": {"total": 7, "components": {"spo2": 3}, "band": "high"},
    "detector": None,
    "bed": "12",
}
ADA = Recipient("ada", "Nurse Ada", "nurse", "pager", "bleep 4411")


def note(redaction: Redaction, **changes):
    event = parse_alert_event(orjson.dumps({**ALERT, **changes}))
    return build_notification(event, "raised", ADA, redaction, "http://console.example", "7A")


def test_full_page_says_who_where_how_bad_why_and_how_to_ack():
    n = note(Redaction.FULL)
    lines = n.text.splitlines()
    assert lines[0] == "[HIGH] NEW ALERT - 7A bed 12"
    assert "MRN-000417" in n.text
    assert "What changed: SpO2 88 % (baseline 96.5 %); Heart rate 128/min" in n.text
    assert "NEWS2 7 (high)" in n.text
    assert "http://console.example/console?alert=phys-3f2a9c0d1e5b7a6c4d2e" in n.text
    assert "wardwatch ack phys-3f2a9c0d1e5b7a6c4d2e --by NAME" in n.text
    assert f"reply ACK {reply_code(ALERT['alert_id'])}" in n.text and reply_code(ALERT["alert_id"]) == "3F2A9C"
    assert n.dedupe_key == "phys-3f2a9c0d1e5b7a6c4d2e|raised|ada/pager"
    assert n.to_wire()["patient_id"] == "MRN-000417"


@pytest.mark.parametrize("redaction", [Redaction.MINIMAL, Redaction.CLINICAL])
def test_pager_and_clinical_channels_never_carry_the_patient_id(redaction):
    n = note(redaction)
    wire = orjson.dumps(n.to_wire()).decode()
    assert "MRN-000417" not in n.text and "MRN-000417" not in wire
    assert "7A bed 12" in n.text and "HIGH" in n.text and "3F2A9C" in n.text


def test_minimal_redaction_keeps_only_location_priority_and_reply_code():
    n = note(Redaction.MINIMAL)
    wire = n.to_wire()
    assert "SpO2" not in n.text and "NEWS2" not in n.text
    assert "reasons" not in wire and "news2" not in wire
    assert (wire["ward"], wire["bed"], wire["priority"], wire["reply_code"]) == ("7A", "12", "high", "3F2A9C")


def test_clinical_redaction_keeps_reasons_and_news2():
    wire = note(Redaction.CLINICAL).to_wire()
    assert wire["news2"] == 7 and wire["reasons"][0].startswith("SpO2 88")


def test_escalation_and_stand_down_wording():
    event = parse_alert_event(orjson.dumps({**ALERT, "status": "escalated", "escalation_level": 1}))
    n = build_notification(
        event, "escalated-1-high", ADA, Redaction.MINIMAL, "http://c", "7A", "not acknowledged after 3 min"
    )
    assert "ESCALATED" in n.title and "Why you: not acknowledged after 3 min" in n.text
    done = parse_alert_event(orjson.dumps({**ALERT, "status": "acknowledged", "acknowledged_by": "Nurse Ben"}))
    n = build_notification(done, "acknowledged", ADA, Redaction.MINIMAL, "http://c", "7A", "stand down")
    assert n.status is Status.ACKNOWLEDGED
    assert "ACKNOWLEDGED by Nurse Ben: stand down" in n.title and "wardwatch ack" not in n.text


def test_alert_fields_parsed_from_the_contract():
    event = parse_alert_event(orjson.dumps({**ALERT, "ward": "7A", "escalation_level": 2}))
    assert (event.ward, event.bed, event.escalation_level, event.news2_total) == ("7A", "12", 2, 7)
    assert event.emitted_at_ms - event.ts_ms == 120


@pytest.mark.parametrize(
    "doc, message",
    [
        (b"{nope", "not valid JSON"),
        (orjson.dumps([1]), "JSON object"),
        (orjson.dumps({**ALERT, "alert_id": ""}), "alert_id"),
        (orjson.dumps({**ALERT, "status": "maybe"}), "maybe"),
        (orjson.dumps({**ALERT, "ts": "yesterday"}), "RFC 3339"),
    ],
)
def test_invalid_alerts_are_rejected_with_a_reason(doc, message):
    with pytest.raises(ValueError, match=message):
        parse_alert_event(doc)


def test_signature_verifies_and_rejects_tampering_and_replays():
    body, secret, ts = b'{"alert_id":"a"}', b"s3cret", 1_764_064_800
    signature = sign(secret, ts, body)
    assert signature.startswith("sha256=") and len(signature) == 71
    assert verify(secret, str(ts), body, signature, now=ts + 10)
    assert not verify(secret, str(ts), body + b" ", signature, now=ts + 10)
    assert not verify(b"other", str(ts), body, signature, now=ts + 10)
    assert not verify(secret, str(ts), body, signature, now=ts + 3600)  # a replay an hour later
    assert not verify(secret, "soon", body, signature, now=ts)


# ---- delivery plumbing with an in-memory producer and channel (no broker) ----


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []

    async def send_and_wait(self, topic, value, key=None):
        self.sent.append((topic, key, value))

    async def send(self, topic, value, key=None):
        self.sent.append((topic, key, value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def flush(self):
        pass

    def on(self, topic: str) -> list[dict]:
        return [orjson.loads(v) for t, _, v in self.sent if t == topic and v is not None]


class FlakyChannel:
    name, redaction = "pager", Redaction.MINIMAL

    def __init__(self, results) -> None:
        self.results, self.calls = list(results), 0

    async def send(self, notification):
        self.calls += 1
        return self.results.pop(0)

    async def close(self):
        pass


def deliverer(channel, producer):
    from alerts.routing import DeliveryPolicy
    from streams.notify.audit_writer import AuditWriter
    from streams.notify.deliver import Deliverer
    from streams.notify.state import DeliveryState

    policy = DeliveryPolicy(max_attempts=3, backoff_base_s=0.001, backoff_cap_s=0.002)
    return Deliverer(
        {"pager": channel},
        DeliveryState(producer, "notify-state"),
        AuditWriter(producer, "audit"),
        producer,
        "notify-dlq",
        policy,
    )


async def test_retries_until_delivered_then_never_sends_the_same_key_again():
    from streams.notify.channels import DeliveryResult

    producer = FakeProducer()
    channel = FlakyChannel(
        [
            DeliveryResult(False, True, "HTTP 500"),
            DeliveryResult(False, True, "timeout"),
            DeliveryResult(True, detail="HTTP 200"),
        ]
    )
    d, n = deliverer(channel, producer), note(Redaction.MINIMAL)
    event = parse_alert_event(orjson.dumps(ALERT))
    assert (await d.deliver(n, event)).value == "delivered"
    assert await d.deliver(n, event) is None and channel.calls == 3
    assert [a["outcome"] for a in producer.on("audit")] == ["failed", "failed", "delivered"]
    assert producer.on("notify-state") == [{"outcome": "delivered", "at": producer.on("notify-state")[0]["at"]}]
    assert not producer.on("notify-dlq")


async def test_rejected_or_exhausted_deliveries_go_to_the_dlq_with_the_reason():
    from streams.notify.channels import DeliveryResult

    producer = FakeProducer()
    channel = FlakyChannel([DeliveryResult(False, False, "HTTP 401")])
    d = deliverer(channel, producer)
    assert (await d.deliver(note(Redaction.MINIMAL), parse_alert_event(orjson.dumps(ALERT)))).value == "undeliverable"
    (letter,) = producer.on("notify-dlq")
    assert channel.calls == 1 and "HTTP 401 after 1 attempt" in letter["error"]
    assert letter["recipient"] == "ada/pager" and "MRN-000417" not in orjson.dumps(letter).decode()


def test_backoff_grows_with_jitter_and_is_capped():
    import random

    from alerts.routing import DeliveryPolicy
    from streams.notify.deliver import backoff_s

    policy, rng = DeliveryPolicy(6, 0.25, 2.0), random.Random(1)
    waits = [backoff_s(a, policy, rng) for a in range(1, 7)]
    assert 0.125 <= waits[0] <= 0.25 and all(1.0 <= w <= 2.0 for w in waits[3:])
    assert len({round(backoff_s(2, policy, rng), 6) for _ in range(5)}) == 5


def test_offsets_commit_only_below_the_oldest_message_in_flight():
    from aiokafka.structs import TopicPartition

    from streams.notify.offsets import OffsetTracker

    tp, t = TopicPartition("alerts", 0), OffsetTracker()
    for offset in (10, 11, 12):
        t.started(tp, offset)
    t.finished(tp, 11)
    t.finished(tp, 12)
    assert t.to_commit() == {tp: 10}  # 10 is still being delivered
    t.mark_committed({tp: 10})
    t.finished(tp, 10)
    assert t.to_commit() == {tp: 13} and t.busy == 0


async def test_delivery_state_of_long_resolved_alerts_is_tombstoned_and_stays_gone_after_restart(monkeypatch):
    """notify-state must not grow with every alert ever paged: keys of alerts resolved `keep` ago go."""
    from types import SimpleNamespace

    import streams.notify.state as state_mod
    from streams.notify.state import DeliveryState

    producer, hour = FakeProducer(), 3_600_000
    state = DeliveryState(producer, "notify-state")
    for key in ("A1|raised|ada/pager", "A1|escalated|bo/pager", "B2|raised|ada/pager"):
        await state.mark(key, "delivered", "2026-11-25T10:00:00Z")
    await state.close_chase("A1", now_ms=10 * hour)  # A1 resolved; B2 still open
    assert await state.prune(now_ms=33 * hour, keep_ms=24 * hour) == 0  # 23 h: still needed for replays
    assert await state.prune(now_ms=34 * hour, keep_ms=24 * hour) == 1
    tombstones = sorted(k.decode() for t, k, v in producer.sent if t == "notify-state" and v is None)
    assert tombstones == ["A1|done", "A1|escalated|bo/pager", "A1|raised|ada/pager"]
    assert not state.done("A1|raised|ada/pager") and state.done("B2|raised|ada/pager")

    async def replay(settings, topic):  # what a restart reads back (last value per key wins)
        return [SimpleNamespace(key=k, value=v) for t, k, v in producer.sent if t == topic]

    monkeypatch.setattr(state_mod, "read_topic", replay)
    again = DeliveryState(FakeProducer(), "notify-state")
    await again.load(None)
    assert again.outcomes == {"B2|raised|ada/pager": "delivered"} and not again.finished
    assert await again.prune(now_ms=100 * hour, keep_ms=24 * hour) == 0  # B2 never resolved: kept
