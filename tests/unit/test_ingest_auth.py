"""Ingest access rules and request handling without a broker (a fake pipeline stands in for Kafka)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.interop.result import GatewayResult
from streams.ingest import http as ingest_http
from streams.ingest import submit as common
from streams.ingest.mllp import MllpServer
from streams.ingest.submit import IngestAccess, is_loopback_host, parse_vitals_body
from streams.kafka.broker import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
TOKENS = ("old-token", "new-token")
T0 = 1_764_064_800_000


class FakePipeline:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.submitted: list[tuple[GatewayResult, bytes, str]] = []

    async def submit(self, result: GatewayResult, raw: bytes, source: str, gateway: str | None = None) -> None:
        if self.fail:
            raise common.Unavailable("broker down")
        self.submitted.append((result, raw, source))


# ---- who may send --------------------------------------------------------------------
def test_tokens_rotate_and_compare_exactly() -> None:
    access = IngestAccess.for_listener(TOKENS, "0.0.0.0", "test", insecure=False)
    assert access.configured
    assert access.allows("old-token") and access.allows("new-token")
    for wrong in (None, "", "new-token ", "NEW-TOKEN", "new-toke", "old-token,new-token"):
        assert not access.allows(wrong)


def test_without_tokens_nothing_is_allowed() -> None:
    access = IngestAccess.for_listener((), "0.0.0.0", "test", insecure=False)
    assert not access.configured and not access.allows(None) and not access.allows("anything")


def test_insecure_flag_is_honoured_on_loopback_only(caplog) -> None:
    loopback = IngestAccess.for_listener((), "127.0.0.1", "test", insecure=True)
    assert loopback.configured and loopback.allows(None)
    with caplog.at_level(logging.WARNING, logger="wardwatch.ingest"):
        public = IngestAccess.for_listener((), "0.0.0.0", "HTTP ingest", insecure=True)
    assert not public.configured and not public.allows(None)
    assert any("ignored" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_insecure_flag_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("WARDWATCH_INGEST_INSECURE", "1")
    assert IngestAccess.for_listener((), "::1", "test").insecure
    assert not IngestAccess.for_listener((), "10.0.0.5", "test").insecure
    monkeypatch.setenv("WARDWATCH_INGEST_INSECURE", "0")
    assert not IngestAccess.for_listener((), "127.0.0.1", "test").insecure


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("", False),
        ("::", False),
        ("192.168.1.4", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


# ---- contract JSON bodies --------------------------------------------------------------
def test_vitals_body_forms() -> None:
    single = parse_vitals_body(orjson.dumps({"patient_id": "A", "ts": T0, "heart_rate": 70}))
    assert single.sample_count == 1 and not single.rejections
    array = parse_vitals_body(orjson.dumps([{"patient_id": "A", "ts": T0, "spo2": 97}, {"ts": T0, "spo2": 97}]))
    assert array.sample_count == 1 and [r.entry for r in array.rejections] == ["[1]"]
    lines = (
        b'{"patient_id": "A", "ts": 1764064800000, "spo2": 97}\n\n{"patient_id": "B", "ts": 1764064800000, "spo2": 96}'
    )
    assert parse_vitals_body(lines).sample_count == 2  # several lines without the NDJSON content type
    assert parse_vitals_body(b"", ndjson=True).rejections[0].reason == "body holds no message"
    assert parse_vitals_body(b"{oops").rejections[0].code.value == "malformed"


def test_a_bad_batch_sample_is_cut_out_and_rejected_alone() -> None:
    batch = {
        "patient_id": "A",
        "device_id": "d",
        "samples": [{"ts": T0, "spo2": 97}, {"ts": T0 + 1000, "spo2": 140}, {"ts": T0 + 2000, "spo2": 96}],
    }
    result = parse_vitals_body(orjson.dumps(batch))
    assert [s["spo2"] for s in result.messages[0]["samples"]] == [97, 96]
    (rejection,) = result.rejections
    assert rejection.entry == "samples[1]" and "spo2 140" in rejection.reason
    assert orjson.loads(rejection.payload) == {"ts": T0 + 1000, "spo2": 140}
    (letter,) = common.dead_letters(result, b"raw", "ingest/vitals")
    assert letter.topic == "ingest/vitals" and letter.error.startswith("samples[1]: spo2 140")


# ---- HTTP handlers ---------------------------------------------------------------------
async def client_for(pipeline: FakePipeline, access: IngestAccess) -> TestClient:
    client = TestClient(TestServer(ingest_http.aiohttp_app(ingest_http.IngestWeb(pipeline, access))))
    await client.start_server()
    return client


AUTH = {"Authorization": "Bearer new-token"}


async def test_http_auth_answers() -> None:
    pipeline = FakePipeline()
    client = await client_for(pipeline, IngestAccess(TOKENS))
    try:
        body = orjson.dumps({"patient_id": "A", "ts": T0, "heart_rate": 70})
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic bmV3LXRva2Vu"}):
            resp = await client.post("/ingest/vitals", data=body, headers=headers)
            assert resp.status == 401 and "Bearer" in resp.headers["WWW-Authenticate"]
        resp = await client.post("/ingest/vitals", data=body, headers={"Authorization": "Bearer old-token"})
        assert resp.status == 202 and await resp.json() == {"accepted_samples": 1, "rejected": 0, "skipped_codes": []}
        assert pipeline.submitted[0][2] == "ingest/vitals"
    finally:
        await client.close()
    client = await client_for(pipeline, IngestAccess())
    try:
        resp = await client.post("/ingest/fhir", data=b"{}", headers=AUTH)
        assert resp.status == 401 and "not configured" in (await resp.json())["error"]
    finally:
        await client.close()


async def test_http_body_limit_and_broker_failure() -> None:
    client = await client_for(FakePipeline(), IngestAccess(TOKENS))
    try:
        resp = await client.post("/ingest/vitals", data=b"[" + b" " * common.MAX_BODY_BYTES + b"]", headers=AUTH)
        assert resp.status == 413

        async def chunks():  # no Content-Length: the limit holds while reading
            for _ in range(20):
                yield b" " * 65536

        resp = await client.post("/ingest/vitals", data=chunks(), headers=AUTH)
        assert resp.status == 413
    finally:
        await client.close()
    client = await client_for(FakePipeline(fail=True), IngestAccess(TOKENS))
    try:
        resp = await client.post("/ingest/hl7v2", data=(FIXTURES / "hl7_pcd01_oru.hl7").read_bytes(), headers=AUTH)
        assert resp.status == 503 and resp.headers["Retry-After"] == str(common.RETRY_AFTER_S)
    finally:
        await client.close()


async def test_http_partial_input_keeps_the_good_and_counts_the_bad() -> None:
    pipeline = FakePipeline()
    client = await client_for(pipeline, IngestAccess(TOKENS))
    try:
        ndjson = b'{"patient_id": "A", "ts": 1764064800000, "spo2": 97}\nnot json\n'
        resp = await client.post(
            "/ingest/vitals", data=ndjson, headers={**AUTH, "Content-Type": "application/x-ndjson"}
        )
        reply = await resp.json()
        assert resp.status == 202 and reply["accepted_samples"] == 1 and reply["rejected"] == 1
        assert reply["rejections"][0]["entry"] == "line 2"
        resp = await client.post("/ingest/fhir", data=(FIXTURES / "fhir_bundle_mixed.json").read_bytes(), headers=AUTH)
        reply = await resp.json()
        assert resp.status == 202 and (reply["accepted_samples"], reply["rejected"]) == (1, 8)
        resp = await client.post("/ingest/fhir", data=b"<Observation/>", headers=AUTH)
        assert resp.status == 400
        resp = await client.post("/ingest/hl7v2", data=(FIXTURES / "hl7_wrong_encoding.hl7").read_bytes(), headers=AUTH)
        reply = await resp.json()
        assert resp.status == 400 and reply["ack_code"] == "AR" and "MSA|AR|MSG00006" in reply["ack"]
    finally:
        await client.close()


async def test_a_parser_crash_is_a_rejection_not_a_500(monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise RecursionError("deep")

    monkeypatch.setattr(ingest_http.adt_gateway, "parse_fhir", boom)  # the FHIR parser behind the ADT switch
    pipeline = FakePipeline()
    client = await client_for(pipeline, IngestAccess(TOKENS))
    try:
        resp = await client.post("/ingest/fhir", data=b"{}", headers=AUTH)
        assert resp.status == 422 and "RecursionError" in (await resp.json())["error"]
        assert pipeline.submitted[0][0].rejections[0].code.value == "internal"  # dead-lettered
    finally:
        await client.close()


# ---- MLLP --------------------------------------------------------------------------------
async def mllp_exchange(port: int, payload: bytes) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return [a.lstrip(b"\x0b").decode() for a in data.split(b"\x1c\r") if a.strip()]


def msa_code(ack: str) -> str:
    return next(s for s in ack.split("\r") if s.startswith("MSA|")).split("|")[1]


@pytest.mark.parametrize(
    "access, fail, expected",
    [
        (IngestAccess(TOKENS), False, ["AA", "AE"]),
        (IngestAccess(), False, ["AR", "AR"]),  # not configured
        (IngestAccess(TOKENS), True, ["AR", "AR"]),  # broker down: AR, resend later
    ],
)
async def test_mllp_answers(access: IngestAccess, fail: bool, expected: list[str]) -> None:
    good = (FIXTURES / "hl7_pcd01_oru.hl7").read_bytes().replace(b"\n", b"\r")
    missing_pid = (FIXTURES / "hl7_missing_pid.hl7").read_bytes()
    pipeline = FakePipeline(fail=fail)
    server = MllpServer(pipeline, access, "127.0.0.1", free_port())
    await server.start()
    try:
        acks = await mllp_exchange(server.port, b"\x0b" + good + b"\x1c\r\n\x0b" + missing_pid + b"\x1c\r")
    finally:
        await server.close()
    assert [msa_code(a) for a in acks] == expected
    if access.configured and not fail:
        assert [s for _, _, s in pipeline.submitted] == ["ingest/mllp", "ingest/mllp"]
    if not access.configured:
        assert "not configured" in acks[0] and not pipeline.submitted


# ---- produce-and-wait --------------------------------------------------------------------
class FakeProducer:
    """aiokafka-like: send() returns a future the 'broker' resolves (or fails) later."""

    def __init__(self, fail_topics: tuple[str, ...] = ()) -> None:
        self.fail_topics = fail_topics
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future:
        self.sent.append((topic, value, key))
        future = asyncio.get_running_loop().create_future()
        if topic in self.fail_topics:
            future.set_exception(ConnectionError("broker gone"))
        else:
            future.set_result(object())
        return future


async def test_pipeline_waits_for_the_broker_and_reports_failures() -> None:
    from streams.config import Settings

    pipeline = common.IngestPipeline(Settings())
    result = parse_vitals_body(b'{"patient_id": "MRN-7", "ts": 1764064800000, "spo2": 97}\n{"oops": 1}', ndjson=True)
    with pytest.raises(common.Unavailable, match="not connected"):
        await pipeline.submit(result, b"raw", "ingest/vitals")
    pipeline.producer = FakeProducer()
    await pipeline.submit(result, b"raw", "ingest/vitals")
    (vitals, dlq) = pipeline.producer.sent
    assert vitals[0] == "vitals" and vitals[2] == b"MRN-7"  # keyed by patient
    assert dlq[0] == "vitals-dlq" and orjson.loads(dlq[1])["topic"] == "ingest/vitals"
    pipeline.producer = FakeProducer(fail_topics=("vitals",))
    with pytest.raises(common.Unavailable, match="did not acknowledge"):
        await pipeline.submit(result, b"raw", "ingest/vitals")
    pipeline.producer = FakeProducer(fail_topics=("vitals-dlq",))
    await pipeline.submit(result, b"raw", "ingest/vitals")  # the sender still gets its reasons
