"""Issue #15 items 5, 6, 8, 9 at unit level (the socket-level checks are tests/integration/test_hostile_ingest.py)."""

from __future__ import annotations

import threading

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.interop.mllp import FrameErrorKind, MllpDecoder, frame
from monitor.interop.result import EntryRejection, GatewayResult, RejectCode
from monitor.parse import RejectReason, parse_message
from monitor.patient_id import MAX_PATIENT_ID_CHARS, patient_id_problem
from streams.ingest import http as ingest_http
from streams.ingest import submit as common
from streams.ingest.limits import IngestLimits
from streams.kafka.deadletter import DeadLetter
from streams.webauth import token_matches

T0 = 1_764_064_800_000


def test_non_utf8_token_fails_the_check_instead_of_raising() -> None:
    undecodable = b"Bearer \xff\xfe".decode("utf-8", "surrogateescape")[7:]  # what aiohttp hands over
    assert token_matches(undecodable, ("secret",)) is False
    assert token_matches("\ud800", ("secret",)) is False
    assert token_matches("secret", ("secret",)) is True


@pytest.mark.parametrize(
    "patient_id, ok",
    [
        ("MRN-000417", True),
        ("Ålesund-7 Müller", True),
        ("x" * MAX_PATIENT_ID_CHARS, True),
        ("x" * (MAX_PATIENT_ID_CHARS + 1), False),
        ("MRN\r\nforged", False),
        ("MRN\x1b[31m", False),
        ("MRN\x00", False),
        ("MRN\x7f", False),
        ("MRN\x85", False),
        ("MRN\u2028", False),
    ],
)
def test_patient_id_rules(patient_id: str, ok: bool) -> None:
    problem = patient_id_problem(patient_id)
    assert (problem is None) is ok
    if problem:
        assert patient_id not in problem  # the reason never echoes the value


def test_kafka_contract_json_checks_the_patient_id_too() -> None:
    result = parse_message(orjson.dumps({"patient_id": "MRN\n1", "ts": T0, "spo2": 97}))
    assert [r.reason for r in result.rejections] == [RejectReason.BAD_PATIENT_ID] and not result.samples


def test_http_body_that_cannot_be_written_is_refused_at_parse_time() -> None:
    deep = b'{"patient_id": "A", "ts": 1764064800000, "spo2": 97, "x": ' + b"[" * 300 + b"]" * 300 + b"}"
    result = common.parse_vitals_body(deep)
    assert not result.messages and [r.code for r in result.rejections] == [RejectCode.MALFORMED]
    assert common.http_status(result) == 400


def test_garbage_run_spans_reads_until_a_frame_or_a_pause() -> None:
    decoder = MllpDecoder()
    for _ in range(2000):
        assert decoder.feed(b"g") == [] and decoder.pop_errors() == []
    assert decoder.garbage_pending
    [run] = decoder.flush_garbage()
    assert run.kind is FrameErrorKind.GARBAGE and run.size == 2000
    assert run.describe() == "MLLP garbage: 2000 bytes discarded"  # no bytes of the input
    decoder.feed(b"zz")
    assert decoder.feed(frame("ok")) == [b"ok"]
    assert [e.size for e in decoder.pop_errors()] == [2]


def test_many_rejections_are_grouped_per_code() -> None:
    rejections = [
        EntryRejection(f"Bundle.entry[{i}]", "entry has no resource object", "{}", RejectCode.UNSUPPORTED)
        for i in range(100_000)
    ]
    rejections.append(EntryRejection("Bundle.entry[100000]", "bad", "{}", RejectCode.BAD_VALUE))
    letters = common.dead_letters(GatewayResult(rejections=rejections), b"raw", "ingest/fhir")
    assert [(letter.reason, letter.count) for letter in letters] == [("unsupported", 100_000), ("bad_value", 1)]
    assert letters[0].error.startswith("100000 entries rejected as unsupported")
    few = common.dead_letters(GatewayResult(rejections=rejections[:3]), b"raw", "ingest/fhir")
    assert [letter.count for letter in few] == [1, 1, 1]


def test_dead_letter_payload_is_capped_below_the_broker_limit() -> None:
    wire = DeadLetter("why", "bad_patient_id", b"\xff" * 2_000_000, "ingest/vitals", None, None).to_bytes()
    assert len(wire) < 1_000_000 and b"payload cut to its first" in wire


def test_limits_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("WARDWATCH_MLLP_IDLE_TIMEOUT_S", "90")
    monkeypatch.setenv("WARDWATCH_FHIR_MAX_ENTRIES", "250")
    limits = IngestLimits.from_env()
    assert limits.mllp_idle_timeout_s == 90 and limits.fhir_max_entries == 250
    assert limits.mllp_frame_deadline_s == IngestLimits().mllp_frame_deadline_s
    assert IngestLimits().mllp_idle_timeout_s <= 120
    monkeypatch.setenv("WARDWATCH_HTTP_BODY_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="WARDWATCH_HTTP_BODY_TIMEOUT_S"):
        IngestLimits.from_env()


class _Pipeline:
    async def submit(self, result: GatewayResult, raw: bytes, source: str, gateway: str | None = None) -> None:
        return None


async def test_bodies_are_parsed_off_the_event_loop(monkeypatch) -> None:
    loop_thread = threading.current_thread()
    seen: list[threading.Thread] = []
    real_parse = ingest_http.parse

    def spy(*args, **kwargs):
        seen.append(threading.current_thread())
        return real_parse(*args, **kwargs)

    monkeypatch.setattr(ingest_http, "parse", spy)
    ingest = ingest_http.IngestWeb(_Pipeline(), common.IngestAccess(("tok",)))
    client = TestClient(TestServer(ingest_http.aiohttp_app(ingest)))
    await client.start_server()
    try:
        body = orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{}] * 10})
        resp = await client.post("/ingest/fhir", data=body, headers={"Authorization": "Bearer tok"})
        assert resp.status == 422
    finally:
        await client.close()
    assert seen and all(thread is not loop_thread for thread in seen)
