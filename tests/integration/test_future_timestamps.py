"""A future-dated sample cannot switch monitoring off (issue #15 item 1): on every path it is refused with
`future_timestamp` and dead-lettered, and the real samples after it still raise the alert.

Real broker, a real worker process, real HTTP and MLLP clients. Without the check a sample dated
9999-12-31 was accepted (202 / AA), moved the patient's clock to year 9999, and every later real sample
was "late" and ignored: critical vitals raised nothing.
"""

from __future__ import annotations

import time

import orjson
import pytest

from tests.conftest import consume_sync, produce_sync
from tests.integration.test_ingest import TOKEN, fhir_bundle, hl7_oru, iso, mllp_session, msa, post, read_topic

pytestmark = pytest.mark.integration

Y2199_MS = 7_198_000_000_000  # 2198-02-05: valid epoch ms, far in the future


def _critical(pid: str, start_ms: int, n: int = 10) -> bytes:
    samples = [{"ts": start_ms + i * 20_000, "heart_rate": 125, "spo2": 80, "resp_rate": 30} for i in range(n)]
    return orjson.dumps({"patient_id": pid, "device_id": "bed-3", "samples": samples})


def test_future_samples_are_dead_lettered_on_every_path_and_later_real_samples_still_alert(broker, worker_factory):
    worker = worker_factory(WARDWATCH_INGEST_TOKENS=TOKEN, WARDWATCH_FUTURE_TOLERANCE_S="60")
    now = int(time.time() * 1000)
    kafka_patient, http_patient = "MRN-FUT-0001", "MRN-FUT-0002"

    # Kafka contract JSON, straight onto the topic: year 9999 text and year-2198 epoch ms, then real vitals.
    produce_sync(
        broker.bootstrap,
        "vitals",
        [
            (
                kafka_patient.encode(),
                orjson.dumps({"patient_id": kafka_patient, "ts": "9999-12-31T23:59:59Z", "heart_rate": 70}),
            ),
            (kafka_patient.encode(), orjson.dumps({"patient_id": kafka_patient, "ts": Y2199_MS, "spo2": 97})),
            (kafka_patient.encode(), _critical(kafka_patient, now - 200_000)),
        ],
    )

    # HTTP contract JSON: wholly future -> 422; NDJSON with one good and one future line -> 202 partial.
    status, reply = post(
        worker.web_port,
        "/ingest/vitals",
        orjson.dumps({"patient_id": http_patient, "ts": "9999-12-31T23:59:59Z", "heart_rate": 70}),
    )
    assert status == 422 and reply["rejections"][0]["code"] == "future_timestamp", reply
    ndjson = b"\n".join(
        [
            orjson.dumps({"patient_id": http_patient, "ts": Y2199_MS, "heart_rate": 70}),
            _critical(http_patient, now - 200_000),
        ]
    )
    status, reply = post(worker.web_port, "/ingest/vitals", ndjson, content_type="application/x-ndjson")
    assert status == 202 and reply["accepted_samples"] == 10 and reply["rejected"] == 1, reply
    assert reply["rejections"][0]["code"] == "future_timestamp"
    # Within the tolerance: a device clock a little ahead is fine.
    status, reply = post(
        worker.web_port,
        "/ingest/vitals",
        orjson.dumps({"patient_id": "MRN-FUT-0009", "ts": now + 30_000, "heart_rate": 70}),
    )
    assert status == 202, reply

    # FHIR: a bundle with one future time among good ones keeps the good ones.
    bundle = orjson.loads(fhir_bundle("MRN-FUT-0003", [now - 60_000, now - 40_000], 95, 16))
    bundle["entry"][1]["resource"]["effectiveDateTime"] = iso(Y2199_MS)
    status, reply = post(worker.web_port, "/ingest/fhir", orjson.dumps(bundle), content_type="application/fhir+json")
    assert status == 202 and reply["rejected"] == 1, reply
    assert reply["rejections"][0] == {
        "entry": "Bundle.entry[1]",
        "code": "future_timestamp",
        "reason": reply["rejections"][0]["reason"],
    }
    only = bundle["entry"][1]["resource"]
    del only["effectiveDateTime"]
    only["effectivePeriod"] = {"start": iso(Y2199_MS)}
    status, reply = post(worker.web_port, "/ingest/fhir", orjson.dumps(only), content_type="application/fhir+json")
    assert status == 422 and reply["rejections"][0]["code"] == "future_timestamp", reply

    # HL7 v2 over HTTP and over MLLP: OBX-14 / OBR-7 in 2198.
    status, reply = post(
        worker.web_port, "/ingest/hl7v2", hl7_oru("MRN-FUT-0004", "F1", Y2199_MS, 97, 16, 70), content_type="text/plain"
    )
    assert status == 422 and reply["ack_code"] == "AE", reply
    (ack,) = mllp_session(int(worker.env["WARDWATCH_MLLP_PORT"]), [hl7_oru("MRN-FUT-0005", "F2", Y2199_MS, 97, 16, 70)])
    assert msa(ack)[1] == "AE", ack  # the reason of each row goes to the DLQ (checked below)
    assert "future_timestamp at OBX[" in msa(ack)[3], ack  # and the ACK says which cause, where

    # Every refusal is in the DLQ with its reason, from each path.
    want = {"vitals", "ingest/vitals", "ingest/fhir", "ingest/hl7v2", "ingest/mllp"}
    letters = [
        d
        for _, d in read_topic(
            broker.bootstrap,
            "vitals-dlq",
            lambda rs: want <= {d["topic"] for _, d in rs if d.get("reason") == "future_timestamp"},
        )
    ]
    future = [d for d in letters if d["reason"] == "future_timestamp"]
    assert want <= {d["topic"] for d in future}, letters
    assert sum(d["topic"] == "vitals" for d in future) == 2

    # The real, critical samples after the future ones still page, for both patients.
    alerts = consume_sync(
        broker.bootstrap,
        "alerts",
        lambda rs: {kafka_patient, http_patient} <= {r["patient_id"] for r in rs if r["status"] == "raised"},
        timeout=60,
    )
    raised = {r["patient_id"] for r in alerts if r["status"] == "raised"}
    assert {kafka_patient, http_patient} <= raised, alerts
    assert all(r["ts"] < iso(now + 120_000) for r in alerts), "an alert carries a future time"
