"""The contract's three forms agree: docs/contract.md, contract/schemas, and the code.

The integration tests validate real messages against the schemas
(tests/conftest.py); these tests hold the schemas' closed sets to the code's
enums, check the code's own message builders against the schemas, and hold
the document's lists of topics, variables and metric names to the code.
"""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

import contract
from alerts.acks import Ack, AckAction
from alerts.audit import AuditType, Outcome
from alerts.model import Alert, DetectorInfo, Kind, News2Summary, Priority, Reason, Status
from monitor.interop.result import RejectCode
from monitor.parse import RejectReason
from streams.config import WORKER_ENVIRONMENT
from streams.kafka import DeadLetter
from tests.conftest import ROOT
from tests.unit.test_audit import scenario

DOC = (ROOT / "docs" / "contract.md").read_text()
T0 = 1_764_064_800_000


def _enum(topic: str, *path: str) -> set:
    node = contract.schema(topic)
    for key in path:
        node = node[key]
    if "$ref" in node:
        common = contract._load("common.schema.json")["$defs"]
        node = common[node["$ref"].rsplit("/", 1)[1]]
    return set(node["enum"])


@pytest.mark.parametrize("topic", sorted(contract.TOPIC_SCHEMAS))
def test_every_schema_is_valid_json_schema_and_named_in_the_document(topic: str) -> None:
    Draft202012Validator.check_schema(contract.schema(topic))
    assert f"`{topic}`" in DOC


def test_closed_sets_in_the_schemas_are_the_codes_enums() -> None:
    assert _enum("alerts", "properties", "status") == {s.value for s in Status}
    assert _enum("alerts", "properties", "priority") == {p.value for p in Priority}
    assert _enum("alerts", "properties", "kind") == {k.value for k in Kind}
    assert _enum("alert-acks", "properties", "action") == {a.value for a in AckAction}
    assert _enum("audit", "properties", "type") == {t.value for t in AuditType}
    assert _enum("audit", "properties", "outcome") == {o.value for o in Outcome}
    dlq = _enum("vitals-dlq", "properties", "reason")
    code = {r.value for r in RejectReason} | {c.value for c in RejectCode}
    assert code <= dlq, f"reasons the code writes but the contract does not list: {code - dlq}"
    for reason in dlq:
        assert f"`{reason}`" in DOC


def test_messages_the_code_builds_conform() -> None:
    alert = Alert(
        "phys-1",
        "MRN-1",
        "wear-1",
        Status.RAISED,
        Priority.HIGH,
        Kind.NEWS2,
        T0,
        reasons=(Reason("spo2", "SpO2 88 %", value=88, baseline=96.5, limit=91, score=3),),
        news2=News2Summary(7, {"spo2": 3, "resp_rate": 2}, "high"),
        detector=DetectorInfo("d", "4", 0.9),
        onset_ts_ms=T0 - 20_000,
        raised_ts_ms=T0,
        extra={"escalation_level": 1},
    )
    assert contract.errors("alerts", alert.to_wire(emitted_at="2026-12-02T19:00:00.000Z")) == []
    assert contract.errors("alert-acks", Ack("phys-1", "MRN-1", "Ada", AckAction.RESOLVE, T0, "cli").to_wire()) == []
    for payload in (b'{"patient_id": 1}', b"\xff\xfe"):
        letter = DeadLetter("bad", "bad_type", payload, "vitals", 0, 7).to_wire()
        assert contract.errors("vitals-dlq", letter) == []
    for record in scenario():
        assert contract.errors("audit", record.to_wire()) == [], record


def test_schemas_catch_drift() -> None:
    good = {
        "alert_id": "a",
        "patient_id": "p",
        "device_id": "d",
        "status": "raised",
        "priority": "high",
        "kind": "news2",
        "ts": "2026-12-02T19:00:00.000Z",
        "emitted_at": None,
        "reasons": [],
        "news2": None,
        "detector": None,
    }
    assert contract.errors("alerts", good) == []
    assert contract.errors("alerts", {**good, "new_optional_field": 1}) == []  # additive: allowed
    assert contract.errors("alerts", {**good, "status": "closed"})
    assert contract.errors("alerts", {**good, "ts": 1764064800000})
    assert contract.errors("alerts", {k: v for k, v in good.items() if k != "reasons"})
    assert contract.errors("vitals", {"patient_id": "p", "ts": 1764064800000, "heart_rate": 72}) == []
    assert contract.errors("vitals", {"patient_id": "p", "ts": 1764064800000})  # no vital
    assert contract.errors("vitals", {"patient_id": "p", "samples": [{"ts": 1, "spo2": 97}], "consciousness": "X"})


def test_document_lists_every_environment_variable_the_code_reads() -> None:
    for name, _, _ in WORKER_ENVIRONMENT:
        assert f"`{name}`" in DOC, name
    used = set()
    for path in (ROOT / "streams").rglob("*.py"):
        used |= set(re.findall(r"WARDWATCH_[A-Z0-9_]+", path.read_text()))
    used = {u for u in used if not u.startswith("WARDWATCH_TEST_")}
    assert not {u for u in used if f"`{u}`" not in DOC}, "undocumented: add them to docs/contract.md"


def test_document_lists_every_metric_name() -> None:
    names = set()
    for path in (ROOT / "streams").rglob("metrics.py"):
        names |= set(re.findall(r'"(wardwatch_[a-z_]+)"', path.read_text()))
    assert names and not {n for n in names if f"`{n}`" not in DOC}


def test_readme_and_docs_never_send_readers_outside_the_repository() -> None:
    for path in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        assert "shared/DESIGN" not in path.read_text(), path
