"""ADT on the ingest routes without a broker: HTTP status, ACK codes, what is submitted (a fake pipeline)."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.ingest.mllp import MllpServer
from streams.ingest.submit import IngestAccess, dead_letters
from streams.kafka.broker import free_port
from tests.unit.test_adt import adt, encounter
from tests.unit.test_ingest_auth import AUTH, TOKENS, FakePipeline, client_for, mllp_exchange, msa_code

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "interop"


async def test_http_adt_answers_aa_ae_and_ignored_with_the_hl7_ack() -> None:
    pipeline = FakePipeline()
    client = await client_for(pipeline, IngestAccess(TOKENS))
    try:
        resp = await client.post("/ingest/hl7v2", data=(FIXTURES / "hl7_adt_a02.hl7").read_bytes(), headers=AUTH)
        reply = await resp.json()
        assert resp.status == 202 and reply["ack_code"] == "AA" and reply["accepted_events"] == ["A02"]
        assert "MSA|AA|ADT000102" in reply["ack"]
        resp = await client.post("/ingest/hl7v2", data=adt("A02", pv1="PV1||I"), headers=AUTH)
        reply = await resp.json()
        assert resp.status == 422 and reply["ack_code"] == "AE" and "PV1-3" in reply["error"]
        resp = await client.post("/ingest/hl7v2", data=adt("A40"), headers=AUTH)
        reply = await resp.json()
        assert resp.status == 202 and reply["ack_code"] == "AA" and reply["ignored_event"] == "A40"
        resp = await client.post("/ingest/fhir", data=orjson.dumps(encounter("finished")), headers=AUTH)
        assert resp.status == 202 and (await resp.json())["accepted_events"] == ["A03"]
        resp = await client.post("/ingest/fhir", data=orjson.dumps({**encounter(), "subject": {}}), headers=AUTH)
        assert resp.status == 422
    finally:
        await client.close()
    submitted = [(len(r.adt_events), len(r.rejections), source) for r, _, source in pipeline.submitted]
    assert submitted == [
        (1, 0, "ingest/hl7v2"),
        (0, 1, "ingest/hl7v2"),
        (0, 0, "ingest/hl7v2"),
        (1, 0, "ingest/fhir"),
        (0, 1, "ingest/fhir"),
    ]
    bad, raw, source = pipeline.submitted[1]
    (letter,) = dead_letters(bad, raw, source)  # the refused A02 goes to the DLQ with its reason and bytes
    assert "PV1-3" in letter.error and letter.payload == raw


async def test_mllp_takes_oru_and_adt_on_one_connection() -> None:
    oru = (FIXTURES / "hl7_pcd01_oru.hl7").read_bytes().replace(b"\n", b"\r")
    pipeline = FakePipeline()
    server = MllpServer(pipeline, IngestAccess(TOKENS), "127.0.0.1", free_port())
    await server.start()
    try:
        frames = [oru, adt("A01").encode(), adt("A03", pid="PID|||").encode(), adt("A31").encode()]
        acks = await mllp_exchange(server.port, b"".join(b"\x0b" + f + b"\x1c\r" for f in frames))
    finally:
        await server.close()
    assert [msa_code(a) for a in acks] == ["AA", "AA", "AE", "AA"]
    assert [len(r.adt_events) for r, _, _ in pipeline.submitted] == [0, 1, 0, 0]
    assert pipeline.submitted[0][0].messages  # the ORU still reaches vitals
