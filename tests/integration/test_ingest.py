"""Gateway ingest end to end: HL7 v2 over a real MLLP socket and FHIR/JSON over HTTP into the real broker.

`WARDWATCH_INGEST_LOAD=2000 pytest tests/integration/test_ingest.py -k throughput -s` also measures
ingest requests/s per format (8 concurrent HTTP clients, 4 persistent MLLP connections).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.conftest import consume_sync

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
TOKEN = "gw-token-2026"
T0 = 1_795_597_200_000  # 2026-11-25T09:00:00Z
ACK_END = b"\x1c\r"


def hl7_oru(patient: str, control: str, ts_ms: int, spo2: int, rr: int, hr: int) -> bytes:
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(ts_ms / 1000)) + "+0000"
    segments = [
        f"MSH|^~\\&|MONGW^0123456789ABCDEF^EUI-64|ICU|WARDWATCH|HOSP|{stamp}||ORU^R01^ORU_R01|{control}|P|2.6",
        f"PID|||{patient}^^^HOSP^MR",
        f"OBR|1|||182777000^monitoring of patient^SCT|||{stamp}",
        f"OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|{spo2}|262688^MDC_DIM_PERCENT^MDC|||||R|||{stamp}||||bed-7",
        f"OBX|2|NM|151562^MDC_RESP_RATE^MDC|1.3.1.1|{rr}|264928^MDC_DIM_RESP_PER_MIN^MDC|||||R|||{stamp}||||bed-7",
        f"OBX|3|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|{hr}|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||{stamp}||||bed-7",
    ]
    return "\r".join(segments).encode() + b"\r"


def fhir_bundle(patient: str, times_ms: list[int], spo2: int, rr: int) -> bytes:
    def obs(code: str, value: int, unit: str, ucum: str, ts_ms: int) -> dict:
        return {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                "subject": {"reference": f"Patient/{patient}"},
                "device": {"reference": "Device/bed-7"},
                "effectiveDateTime": iso(ts_ms),
                "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": ucum},
            }
        }

    entries = [e for t in times_ms for e in (obs("59408-5", spo2, "%", "%", t), obs("9279-1", rr, "/min", "/min", t))]
    return orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})


def iso(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts_ms / 1000))


def fixture_hl7(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"\n", b"\r")


def mllp_session(port: int, frames: list[bytes], raw: bytes = b"") -> list[str]:
    """Send MLLP frames on one connection, one at a time (each waits for its ACK), then `raw`; return ACKs."""
    acks: list[str] = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        buffer = b""
        for message in frames:
            sock.sendall(b"\x0b" + message + ACK_END)
            while ACK_END not in buffer:
                chunk = sock.recv(65536)
                assert chunk, "connection closed before the ACK"
                buffer += chunk
            ack, buffer = buffer.split(ACK_END, 1)
            acks.append(ack.lstrip(b"\x0b").decode())
        if raw:
            sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
    acks += [a.lstrip(b"\x0b").decode() for a in buffer.split(ACK_END) if a.strip()]
    return acks


def msa(ack: str) -> list[str]:
    line = next(s for s in ack.split("\r") if s.startswith("MSA|"))
    return line.split("|")


def post(
    port: int, path: str, body: bytes, token: str | None = TOKEN, content_type: str = "application/json"
) -> tuple[int, dict]:
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def read_topic(bootstrap: str, topic: str, until, timeout: float = 30.0) -> list[tuple[bytes | None, dict]]:
    """(key, decoded value) records of `topic` from the start, until `until(records)` holds."""

    async def run() -> list[tuple[bytes | None, dict]]:
        from aiokafka import AIOKafkaConsumer

        cons = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None, enable_auto_commit=False
        )
        await cons.start()
        records: list[tuple[bytes | None, dict]] = []
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and not until(records):
                for recs in (await cons.getmany(timeout_ms=300)).values():
                    records.extend((r.key, orjson.loads(r.value)) for r in recs)
        finally:
            await cons.stop()
        return records

    return asyncio.run(run())


def samples_of(records: list[tuple[bytes | None, dict]], patient: str) -> list[dict]:
    out = []
    for key, doc in records:
        if doc.get("patient_id") == patient:
            assert key == patient.encode()
            out += doc.get("samples") or [doc]
    return out


def test_mllp_and_fhir_feeds_reach_vitals_and_page_for_a_deteriorating_patient(broker, worker_factory):
    worker = worker_factory(WARDWATCH_INGEST_TOKENS=f"retired-token,{TOKEN}")
    # Ready means the ingest producer is connected too: the first message must not get AR "unavailable".
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/readyz", timeout=5) as resp:
        assert orjson.loads(resp.read())["waiting_for"] == []
    mllp_port = int(worker.env["WARDWATCH_MLLP_PORT"])
    patient = "MRN-0099"
    # Minutes 0-3 by HL7 over MLLP (one persistent connection), minutes 3-5 by a FHIR Bundle over HTTP.
    hl7_times = [T0 + i * 20_000 for i in range(10)]
    acks = mllp_session(mllp_port, [hl7_oru(patient, f"C{i}", t, 80, 30, 125) for i, t in enumerate(hl7_times)])
    assert [msa(a)[1:3] for a in acks] == [["AA", f"C{i}"] for i in range(10)]
    assert all("accepted 1 sample" in a for a in acks)
    fhir_times = [T0 + 200_000 + i * 20_000 for i in range(6)]
    status, reply = post(
        worker.web_port, "/ingest/fhir", fhir_bundle(patient, fhir_times, 80, 30), content_type="application/fhir+json"
    )
    assert (status, reply) == (202, {"accepted_samples": 6, "rejected": 0, "skipped_codes": []})
    status, reply = post(worker.web_port, "/ingest/fhir", (FIXTURES / "fhir_bundle_typical.json").read_bytes())
    assert status == 202 and reply["rejected"] == 0 and reply["accepted_samples"] >= 1

    records = read_topic(
        broker.bootstrap, "vitals", lambda rs: len(samples_of(rs, patient)) >= 16 and samples_of(rs, "MRN-0077")
    )
    samples = samples_of(records, patient)
    assert samples[0] == {
        "patient_id": patient,
        "device_id": "bed-7",
        "ts": "2026-11-25T09:00:00.000Z",
        "heart_rate": 125,
        "spo2": 80,
        "resp_rate": 30,
    }
    assert [s["ts"] for s in samples[10:]] == [iso(t).replace("Z", ".000Z") for t in fhir_times]
    assert all(s["spo2"] == 80 and s["resp_rate"] == 30 for s in samples)
    typical = samples_of(records, "MRN-0077")
    assert typical and typical[0]["device_id"] == "wear-17" and typical[0]["heart_rate"] == 72

    alerts = consume_sync(
        broker.bootstrap, "alerts", lambda rs: any(r["patient_id"] == patient and r["status"] == "raised" for r in rs)
    )
    raised = [a for a in alerts if a["patient_id"] == patient and a["status"] == "raised"]
    assert raised and raised[0]["kind"] in ("news2", "threshold") and raised[0]["priority"] == "high", alerts
    assert raised[0]["news2"]["band"] == "high" and raised[0]["device_id"] == "bed-7", raised
    assert worker.metric('wardwatch_ingest_requests_total{format="mllp",outcome="accepted"}') == 10
    assert worker.metric('wardwatch_ingest_requests_total{format="fhir",outcome="accepted"}') == 2


def test_hostile_input_is_refused_with_a_reason_and_dead_lettered(broker, worker_factory):
    worker = worker_factory(WARDWATCH_INGEST_TOKENS=TOKEN)
    mllp_port = int(worker.env["WARDWATCH_MLLP_PORT"])

    # MLLP: a frame cut short by the next start byte, a good frame, an unfinished one at close.
    acks = mllp_session(mllp_port, [], raw=(FIXTURES / "mllp_truncated.bin").read_bytes())
    assert sorted(msa(a)[1] for a in acks) == ["AA", "AR", "AR"], acks
    assert all("truncated" in msa(a)[3] for a in acks if msa(a)[1] == "AR")
    wrong, missing = mllp_session(
        mllp_port, [fixture_hl7("hl7_wrong_encoding.hl7"), fixture_hl7("hl7_missing_pid.hl7")]
    )
    assert msa(wrong)[1] == "AR" and "encoding characters" in msa(wrong)[3]
    assert msa(missing)[1:4] == ["AE", "MSG00003", "message has no PID segment"]

    # HTTP: token, size, content.
    body = fixture_hl7("hl7_pcd01_oru.hl7")
    assert post(worker.web_port, "/ingest/hl7v2", body, token="not-the-token")[0] == 401
    assert post(worker.web_port, "/ingest/hl7v2", body, token=None)[0] == 401
    status, reply = post(worker.web_port, "/ingest/vitals", b"[" + b" " * 2_000_000 + b"]")
    assert status == 413 and "larger than 1048576" in reply["error"]
    status, reply = post(
        worker.web_port, "/ingest/hl7v2", fixture_hl7("hl7_missing_pid.hl7"), content_type="text/plain"
    )
    assert status == 422 and reply["ack_code"] == "AE" and reply["error"] == "message has no PID segment"
    status, reply = post(worker.web_port, "/ingest/vitals", b"{not json")
    assert status == 400 and "not valid JSON" in reply["error"]
    status, reply = post(worker.web_port, "/ingest/fhir", (FIXTURES / "fhir_bundle_mixed.json").read_bytes())
    assert status == 202 and reply["accepted_samples"] == 1 and reply["rejected"] == 8
    assert reply["skipped_codes"] == ["http://loinc.org|29463-7"]
    assert {r["entry"] for r in reply["rejections"]} >= {"Bundle.entry[3]", "Bundle.entry[10]"}

    letters = [
        doc
        for _, doc in read_topic(
            broker.bootstrap, "vitals-dlq", lambda rs: sum(d["topic"] == "ingest/fhir" for _, d in rs) >= 8
        )
    ]
    fhir = [d for d in letters if d["topic"] == "ingest/fhir"]
    assert len(fhir) == 8 and all(d["error"].startswith("Bundle.entry[") and d["payload"] for d in fhir)
    assert any(d["reason"] == "withdrawn" and "entered-in-error" in d["payload"] for d in fhir)
    by_source = {d["topic"] for d in letters}
    assert {"ingest/mllp", "ingest/hl7v2", "ingest/vitals"} <= by_source
    mllp = [d for d in letters if d["topic"] == "ingest/mllp"]
    assert len(mllp) == 4  # two truncated frames, wrong encoding, missing PID
    assert worker.metric("wardwatch_ingest_skipped_codes_total") == 1
    assert worker.metric('wardwatch_ingest_requests_total{format="fhir",outcome="partial"}') == 1
    assert worker.metric('wardwatch_ingest_requests_total{format="hl7v2",outcome="unauthorized"}') == 2
    assert worker.metric('wardwatch_ingest_requests_total{format="vitals",outcome="oversize"}') == 1
    assert "MRN-0042" not in worker.metrics()


def test_without_tokens_ingest_answers_not_configured(broker, worker_factory):
    worker = worker_factory(WARDWATCH_INGEST_TOKENS="")
    status, reply = post(
        worker.web_port, "/ingest/vitals", b'{"patient_id": "MRN-1", "ts": 0, "heart_rate": 70}', token="anything"
    )
    assert status == 401 and "not configured" in reply["error"]
    (ack,) = mllp_session(int(worker.env["WARDWATCH_MLLP_PORT"]), [fixture_hl7("hl7_pcd01_oru.hl7")])
    assert msa(ack)[1] == "AR" and "not configured" in msa(ack)[3]
    assert worker.metric('wardwatch_ingest_requests_total{format="mllp",outcome="not_configured"}') == 1
    assert worker.metric("wardwatch_samples_processed_total") == 0


@pytest.mark.skipif(not os.environ.get("WARDWATCH_INGEST_LOAD"), reason="set WARDWATCH_INGEST_LOAD=<requests>")
def test_ingest_throughput(broker, worker_factory):
    """Ingest requests/s per format on this machine (load client, worker and broker share the cores)."""
    worker = worker_factory(WARDWATCH_INGEST_TOKENS=TOKEN)
    count = int(os.environ["WARDWATCH_INGEST_LOAD"])
    results = asyncio.run(_load(worker.web_port, int(worker.env["WARDWATCH_MLLP_PORT"]), count))
    print()
    for name, (rate, outcomes) in results.items():
        print(f"{name:34s} {rate:7.0f} requests/s  {outcomes}")
    for _, outcomes in results.values():
        assert set(outcomes) <= {202, "AA"}


async def _load(port: int, mllp_port: int, count: int, max_s: float = 60.0) -> dict:
    import aiohttp

    async def http(path: str, bodies: list[bytes], content_type: str, clients: int = 8) -> tuple[float, dict]:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type}
        todo, outcomes = list(bodies), {}

        async def client() -> None:
            async with aiohttp.ClientSession(headers=headers) as session:
                while todo and time.perf_counter() - started < max_s:
                    async with session.post(f"http://127.0.0.1:{port}{path}", data=todo.pop()) as resp:
                        await resp.read()
                        outcomes[resp.status] = outcomes.get(resp.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return sum(outcomes.values()) / (time.perf_counter() - started), outcomes

    async def mllp(messages: list[bytes], connections: int = 4) -> tuple[float, dict]:
        todo, outcomes = list(messages), {}

        async def connection() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", mllp_port)
            while todo and time.perf_counter() - started < max_s:
                writer.write(b"\x0b" + todo.pop() + ACK_END)
                await writer.drain()
                code = msa((await reader.readuntil(ACK_END)).decode())[1]
                outcomes[code] = outcomes.get(code, 0) + 1
            writer.close()

        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(connections)))
        return sum(outcomes.values()) / (time.perf_counter() - started), outcomes

    def vitals(i: int) -> dict:
        return {"patient_id": f"LOAD-{i % 200}", "device_id": "d", "ts": T0 + i * 1000, "heart_rate": 70 + i % 20}

    typical = (FIXTURES / "fhir_bundle_typical.json").read_text()
    hl7 = [hl7_oru(f"LOAD-{i % 200}", f"L{i}", T0 + i * 1000, 97, 16, 70) for i in range(count)]
    return {
        "vitals JSON (1 sample)": await http(
            "/ingest/vitals", [orjson.dumps(vitals(i)) for i in range(count)], "application/json"
        ),
        "vitals NDJSON (10 lines)": await http(
            "/ingest/vitals",
            [b"\n".join(orjson.dumps(vitals(i * 10 + j)) for j in range(10)) for i in range(count)],
            "application/x-ndjson",
        ),
        "FHIR Bundle (5 Observations)": await http(
            "/ingest/fhir",
            [typical.replace("MRN-0077", f"LOAD-{i % 200}").encode() for i in range(count)],
            "application/fhir+json",
        ),
        "HL7 v2 over HTTP (3 OBX)": await http("/ingest/hl7v2", hl7, "text/plain"),
        "HL7 v2 over MLLP (3 OBX, 4 conns)": await mllp(hl7),
    }
