"""ADT end to end: real broker, real worker, real `wardwatch notify`, a real HTTP paging gateway.

admit (HL7 v2 over a real MLLP client) -> vitals -> alert carrying the location -> transfer (HL7 v2
over HTTP) -> the open alert re-routed to the new ward's nurse (page + audit record) -> discharge
(FHIR Encounter over HTTP) -> episode resolved with reason `discharged` -> state forgotten.
"""

from __future__ import annotations

import time

import orjson
import pytest

from tests.conftest import consume_sync
from tests.integration import test_notify
from tests.integration.test_ingest import T0, TOKEN, hl7_oru, iso, mllp_session, msa, post, read_topic
from tests.integration.test_notify import audit_json, routing_file, wait_for

gateway = test_notify.gateway  # fixtures: a real paging gateway, a real `wardwatch notify`
notify = test_notify.notify

pytestmark = pytest.mark.integration

PATIENT = "MRN-ADT-0042"


def hl7_adt(trigger: str, control: str, ts_ms: int, pv1: str = "", patient: str = PATIENT) -> bytes:
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(ts_ms / 1000)) + "+0000"
    segments = [
        f"MSH|^~\\&|PAS|HOSP|WARDWATCH|HOSP|{stamp}||ADT^{trigger}^ADT_A01|{control}|P|2.5",
        f"EVN|{trigger}|{stamp}",
        f"PID|||{patient}^^^HOSP^MR",
        pv1 or "PV1||I",
    ]
    return "\r".join(segments).encode() + b"\r"


def fhir_discharge(ts_ms: int) -> bytes:
    return orjson.dumps(
        {
            "resourceType": "Encounter",
            "id": "enc-42",
            "meta": {"versionId": "3", "lastUpdated": iso(ts_ms)},
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": f"Patient/{PATIENT}"},
            "location": [{"location": {"reference": "Location/8B", "display": "8B"}, "status": "active"}],
        }
    )


def places(bootstrap: str, until) -> list[dict]:
    return [doc for key, doc in read_topic(bootstrap, "patients", until) if doc.get("patient_id") == PATIENT]


def test_admit_alert_with_location_transfer_reroutes_discharge_resolves(
    broker, worker_factory, gateway, notify, tmp_path
):
    gw = gateway()
    worker = worker_factory(WARDWATCH_INGEST_TOKENS=TOKEN, WARDWATCH_DISCHARGE_RETENTION_S="2")
    proc = notify(routing_file(tmp_path, gw.port, charge_after_min=60))  # nurse Ada on 7A, nurse Ben on 8B
    mllp_port = int(worker.env["WARDWATCH_MLLP_PORT"])

    # Admit to 7A room 12 bed 3 over MLLP; a trigger we do not use and a broken A02 on the same connection.
    admit, ignored, broken = mllp_session(
        mllp_port,
        [
            hl7_adt("A01", "ADT1", T0 - 60_000, "PV1||I|7A^12^3||||||||||||||||V42"),
            hl7_adt("A31", "ADT2", T0 - 50_000),
            hl7_adt("A02", "ADT3", T0 - 40_000),  # a transfer without PV1-3: where to?
        ],
    )
    assert msa(admit)[1:3] == ["AA", "ADT1"] and msa(ignored)[1:3] == ["AA", "ADT2"]
    assert msa(broken)[1:3] == ["AE", "ADT3"] and "PV1-3" in broken
    assert places(broker.bootstrap, lambda rs: any(d.get("patient_id") == PATIENT for _, d in rs))[-1]["location"] == {
        "ward": "7A",
        "room": "12",
        "bed": "3",
    }

    # Vitals of a deteriorating patient (ORU over MLLP): the alert says where the patient is.
    oru = [hl7_oru(PATIENT, f"V{i}", T0 + i * 20_000, 80, 30, 125) for i in range(16)]
    assert all(msa(a)[1] == "AA" for a in mllp_session(mllp_port, oru))
    alerts = consume_sync(
        broker.bootstrap, "alerts", lambda rs: any(r["patient_id"] == PATIENT and r["status"] == "raised" for r in rs)
    )
    raised = next(a for a in alerts if a["patient_id"] == PATIENT and a["status"] == "raised")
    assert raised["location"] == {"ward": "7A", "room": "12", "bed": "3"}
    aid = raised["alert_id"]
    wait_for(lambda: f"{aid}|raised|ada/pager" in gw.pages(), 30, "page to the 7A nurse", proc.log)
    page = gw.pages()[f"{aid}|raised|ada/pager"].body
    assert (page["ward"], page["bed"]) == ("7A", "3")

    # Transfer to 8B over HTTP (HL7 v2 body): the open alert now pages 8B's nurse, and the audit says why.
    status, reply = post(
        worker.web_port,
        "/ingest/hl7v2",
        hl7_adt("A02", "ADT4", T0 + 400_000, "PV1||I|8B^4^1"),
        content_type="application/hl7-v2",
    )
    assert status == 202 and reply["ack_code"] == "AA" and reply["accepted_events"] == ["A02"], reply
    wait_for(
        lambda: f"{aid}|transferred-8B|ben/pager" in gw.pages(),
        30,
        "re-routed page to the 8B nurse",
        lambda: proc.log() + str([(r.delivery_id, r.status) for r in gw.received]),
    )
    moved = gw.pages()[f"{aid}|transferred-8B|ben/pager"].body
    assert moved["ward"] == "8B" and moved["why"] == "patient transferred from 7A to 8B"
    # A resent A02 (same control id) changes nothing.
    assert (
        post(
            worker.web_port,
            "/ingest/hl7v2",
            hl7_adt("A02", "ADT4", T0 + 400_000, "PV1||I|8B^4^1"),
            content_type="application/hl7-v2",
        )[0]
        == 202
    )

    # Discharge as a FHIR Encounter: the episode resolves with reason `discharged`, both nurses stand down.
    status, reply = post(
        worker.web_port, "/ingest/fhir", fhir_discharge(T0 + 500_000), content_type="application/fhir+json"
    )
    assert status == 202 and reply["accepted_events"] == ["A03"], reply
    alerts = consume_sync(
        broker.bootstrap, "alerts", lambda rs: any(r["alert_id"] == aid and r["status"] == "resolved" for r in rs)
    )
    resolved = next(a for a in alerts if a["alert_id"] == aid and a["status"] == "resolved")
    assert resolved["resolved_reason"] == "discharged" and resolved["location"]["ward"] == "8B"
    wait_for(
        lambda: {f"{aid}|resolved|ada/pager", f"{aid}|resolved|ben/pager"} <= set(gw.pages()),
        30,
        "stand-down of both nurses",
        proc.log,
    )
    final = places(broker.bootstrap, lambda rs: any(d.get("status") == "discharged" for _, d in rs))[-1]
    assert final["status"] == "discharged" and final["location"]["ward"] == "8B" and final["visit"] == "enc-42"

    # The retention (2 s; the discharge is days old by the wall clock) forgets the patient's state.
    worker.wait_metric("wardwatch_patients_forgotten_total", 1, timeout=30)
    text = worker.metrics()
    assert PATIENT not in text
    assert worker.metric('wardwatch_adt_messages_total{event="other",outcome="ignored"}') == 1
    assert worker.metric('wardwatch_adt_messages_total{event="A02",outcome="rejected"}') == 1
    assert worker.metric('wardwatch_adt_events_folded_total{outcome="duplicate"}') == 1
    letters = consume_sync(broker.bootstrap, "vitals-dlq", lambda rs: any("PV1-3" in r["error"] for r in rs))
    assert any(r["topic"] == "ingest/mllp" and "PV1-3" in r["error"] for r in letters)

    events = [e["event"] for e in audit_json(broker.bootstrap, aid)["episodes"][0]["events"]]
    assert "rerouted" in events and "resolved" in events, events
