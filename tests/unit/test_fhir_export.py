"""Alert → FHIR R4 Bundle, validated with the fhir.resources R4B models."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.observation import Observation

from alerts.fhir_export import NEWS2_SNOMED_CODE, SNOMED, alert_to_fhir
from alerts.model import Alert, DetectorInfo, Kind, News2Summary, Priority, Reason, Status

TS_MS = 1_764_064_800_000  # 2025-11-25T10:00:00Z


def alert(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "alert_id": "P0001-physiological-1764064700000",
        "patient_id": "MRN-0042",
        "device_id": "wear-17",
        "status": Status.RAISED,
        "priority": Priority.HIGH,
        "kind": Kind.NEWS2,
        "ts_ms": TS_MS,
        "reasons": (
            Reason(vital="spo2", value=88, baseline=96.5, limit=91, score=3, text="SpO2 88 % (baseline 96.5 %)"),
            Reason(vital="resp_rate", value=26, score=3, text="Resp rate 26 /min"),
        ),
        "news2": News2Summary(total=7, components={"resp_rate": 3, "spo2": 3, "heart_rate": 1}, band="high"),
        "detector": DetectorInfo(name="news2", version="1", score=7),
    }
    fields.update(overrides)
    return Alert(**fields).to_wire(emitted_at="2025-11-25T10:00:01.500Z")


def resources(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}


def validated(bundle: dict[str, Any]) -> Bundle:
    """Round-trip through JSON (what an EHR receives) and the R4B models."""
    model = Bundle.model_validate_json(orjson.dumps(bundle))
    for entry in model.entry or []:
        assert entry.resource is not None
    return model


def test_bundle_validates_and_holds_issue_and_score() -> None:
    bundle = alert_to_fhir(alert())
    model = validated(bundle)
    assert model.type == "collection"
    assert [type(e.resource) for e in model.entry] == [DetectedIssue, Observation]
    assert bundle["timestamp"] == "2025-11-25T10:00:01.500Z"


def test_detected_issue_mapping() -> None:
    issue = resources(alert_to_fhir(alert()))["DetectedIssue"]
    DetectedIssue.model_validate(issue)
    assert issue["identifier"] == [{"system": "urn:wardwatch:alert-id", "value": "P0001-physiological-1764064700000"}]
    assert issue["status"] == "preliminary" and issue["severity"] == "high"
    assert issue["patient"] == {"reference": "Patient/MRN-0042"}
    assert issue["identifiedDateTime"] == "2025-11-25T10:00:00.000Z"
    assert issue["code"]["text"] == "news2"
    assert issue["detail"] == "SpO2 88 % (baseline 96.5 %); Resp rate 26 /min"
    assert "mitigation" not in issue


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.RAISED, "preliminary"),
        (Status.ESCALATED, "preliminary"),
        (Status.ACKNOWLEDGED, "final"),
        (Status.RESOLVED, "final"),
    ],
)
def test_status_mapping(status: Status, expected: str) -> None:
    bundle = alert_to_fhir(alert(status=status, acknowledged_by="nurse.kim"))
    validated(bundle)
    issue = resources(bundle)["DetectedIssue"]
    assert issue["status"] == expected
    if status in (Status.ACKNOWLEDGED, Status.RESOLVED):
        assert issue["mitigation"] == [
            {"action": {"text": status.value}, "date": "2025-11-25T10:00:00.000Z", "author": {"display": "nurse.kim"}}
        ]


@pytest.mark.parametrize(
    ("priority", "severity"), [(Priority.HIGH, "high"), (Priority.MEDIUM, "moderate"), (Priority.LOW, "low")]
)
def test_severity_mapping(priority: Priority, severity: str) -> None:
    assert resources(alert_to_fhir(alert(priority=priority)))["DetectedIssue"]["severity"] == severity


def test_news2_observation() -> None:
    bundle = alert_to_fhir(alert())
    observation = resources(bundle)["Observation"]
    model = Observation.model_validate(observation)
    assert model.code.coding[0].system == SNOMED and model.code.coding[0].code == NEWS2_SNOMED_CODE
    assert observation["valueInteger"] == 7 and observation["status"] == "final"
    assert observation["subject"] == {"reference": "Patient/MRN-0042"}
    assert observation["device"] == {"reference": "Device/wear-17"}
    assert observation["effectiveDateTime"] == "2025-11-25T10:00:00.000Z"
    assert observation["interpretation"] == [{"text": "NEWS2 clinical risk: high"}]
    scores = {c["code"]["coding"][0]["code"]: c["valueInteger"] for c in observation["component"]}
    assert scores == {"resp_rate": 3, "spo2": 3, "heart_rate": 1}
    assert observation["component"][0]["code"]["text"] == "NEWS2 respiration rate score"
    issue = resources(bundle)["DetectedIssue"]
    assert issue["evidence"] == [{"detail": [{"reference": bundle["entry"][1]["fullUrl"]}]}]


def test_alert_without_news2_has_only_the_issue() -> None:
    bundle = alert_to_fhir(alert(kind=Kind.SIGNAL_LOSS, news2=None, reasons=()))
    validated(bundle)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["DetectedIssue"]
    issue = bundle["entry"][0]["resource"]
    assert "detail" not in issue and "evidence" not in issue and issue["code"]["text"] == "signal_loss"


def test_unknown_device_is_not_referenced() -> None:
    observation = resources(alert_to_fhir(alert(device_id="unknown")))["Observation"]
    assert "device" not in observation


def test_export_is_deterministic_per_state_change() -> None:
    first, again = alert_to_fhir(alert()), alert_to_fhir(alert())
    assert first == again
    escalated = alert_to_fhir(alert(status=Status.ESCALATED))
    assert escalated["entry"][0]["fullUrl"] != first["entry"][0]["fullUrl"]
    assert all(e["fullUrl"].startswith("urn:uuid:") for e in first["entry"])


def test_epoch_ts_and_missing_emitted_at() -> None:
    wire = alert()
    wire["ts"] = TS_MS
    wire["emitted_at"] = None
    bundle = alert_to_fhir(wire)
    validated(bundle)
    assert bundle["timestamp"] == "2025-11-25T10:00:00.000Z"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"alert_id": ""}, "alert_id"),
        ({"patient_id": None}, "patient_id"),
        ({"status": "snoozed"}, "snoozed"),
        ({"priority": "critical"}, "critical"),
        ({"kind": "vibes"}, "vibes"),
        ({"ts": "yesterday"}, "RFC 3339"),
        ({"ts": "2025-11-25T10:00:00"}, "time zone"),
        ({"news2": {"total": "7"}}, "news2"),
        ({"news2": {"total": 7, "components": {"spo2": "3"}}}, "components"),
        ({"reasons": "low SpO2"}, "reasons"),
    ],
)
def test_malformed_alerts_raise_value_error(change: dict[str, Any], fragment: str) -> None:
    wire = alert()
    wire.update(change)
    with pytest.raises(ValueError, match=fragment):
        alert_to_fhir(wire)
