"""Alert (wire form of the `alerts` topic) → FHIR R4 Bundle for an EHR.

One alert state change becomes a `collection` Bundle holding a DetectedIssue
(the alert) and, when the alert carries a NEWS2 summary, an Observation of
the score that the DetectedIssue cites as evidence. Plain dicts are built
(no model objects on the hot path); the tests validate the output with the
`fhir.resources.R4B` models, R4B being the R4-family release that
fhir.resources 8.x ships (its top level is R5, where DetectedIssue.patient
became `subject`).

Mappings, and why:
- status: raised/escalated → `preliminary` (paged, not yet reviewed by a
  clinician); acknowledged/resolved → `final` (a person has seen it, or it
  is over). DetectedIssue has no "resolved": acknowledgement and resolution
  are recorded as `mitigation` entries, which is what that element is for.
- severity: priority high → `high`, medium → `moderate`, low → `low`.
- identifier = alert_id (system ALERT_ID_SYSTEM), so an EHR can dedupe the
  state changes of one episode as consumers of the topic do; code.text =
  kind; identifiedDateTime = ts; detail = the reasons' texts joined.
- NEWS2 Observation: SNOMED CT 1104051000000101 (UK edition, RCP NEWS2
  total score; LOINC has no NEWS2 total), valueInteger = total, category
  `survey` (FHIR's category for scored assessments), one component per
  scored parameter, band as interpretation text. No SNOMED display is
  asserted (the text says what it is) so a terminology server cannot flag
  a wording we have not verified.
- fullUrls are name-based UUIDs of (alert_id, status, ts): exporting the same
  state change twice yields the identical Bundle.
"""

from __future__ import annotations

import uuid
from typing import Any

from alerts.model import Kind, News2Summary, Priority, Reason, Status
from monitor.timestamps import format_ts, parse_ts

ALERT_ID_SYSTEM = "urn:wardwatch:alert-id"
ALERT_KIND_SYSTEM = "urn:wardwatch:alert-kind"
NEWS2_PARAMETER_SYSTEM = "urn:wardwatch:news2-parameter"
SNOMED = "http://snomed.info/sct"
NEWS2_SNOMED_CODE = "1104051000000101"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

ISSUE_STATUS: dict[Status, str] = {
    Status.RAISED: "preliminary",
    Status.ESCALATED: "preliminary",
    Status.ACKNOWLEDGED: "final",
    Status.RESOLVED: "final",
}

SEVERITY: dict[Priority, str] = {
    Priority.HIGH: "high",
    Priority.MEDIUM: "moderate",
    Priority.LOW: "low",
}

NEWS2_PARAMETER_LABELS: dict[str, str] = {
    "resp_rate": "respiration rate",
    "spo2": "oxygen saturation",
    "on_oxygen": "air or oxygen",
    "systolic_bp": "systolic blood pressure",
    "heart_rate": "pulse",
    "consciousness": "consciousness",
    "temperature": "temperature",
}

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:wardwatch:fhir-export")


def alert_to_fhir(alert_wire: dict[str, Any]) -> dict[str, Any]:
    """A FHIR R4 `collection` Bundle for one alert message; ValueError if it is not one."""
    alert_id = _required_text(alert_wire, "alert_id")
    patient_id = _required_text(alert_wire, "patient_id")
    status = Status(_required_text(alert_wire, "status"))
    priority = Priority(_required_text(alert_wire, "priority"))
    kind = Kind(_required_text(alert_wire, "kind")).value
    ts = format_ts(parse_ts(alert_wire.get("ts")))
    news2 = _news2(alert_wire.get("news2"))
    device_id = alert_wire.get("device_id")

    entries: list[dict[str, Any]] = []
    evidence_url = None
    if news2 is not None:
        evidence_url = _full_url(alert_id, status, ts, "news2")
        observation = _news2_observation(news2, patient_id, device_id, ts)
        entries.append({"fullUrl": evidence_url, "resource": observation})
    issue = _detected_issue(alert_wire, alert_id, patient_id, status, priority, kind, ts, evidence_url)
    entries.insert(0, {"fullUrl": _full_url(alert_id, status, ts, "issue"), "resource": issue})
    emitted_at = alert_wire.get("emitted_at")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": format_ts(parse_ts(emitted_at)) if emitted_at else ts,
        "entry": entries,
    }


def _detected_issue(
    alert_wire: dict[str, Any],
    alert_id: str,
    patient_id: str,
    status: Status,
    priority: Priority,
    kind: str,
    ts: str,
    evidence_url: str | None,
) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "identifier": [{"system": ALERT_ID_SYSTEM, "value": alert_id}],
        "status": ISSUE_STATUS[status],
        "code": {"coding": [{"system": ALERT_KIND_SYSTEM, "code": kind}], "text": kind},
        "severity": SEVERITY[priority],
        "patient": {"reference": f"Patient/{patient_id}"},
        "identifiedDateTime": ts,
    }
    detail = "; ".join(r.text for r in _reasons(alert_wire.get("reasons")) if r.text)
    if detail:
        issue["detail"] = detail
    if evidence_url:
        issue["evidence"] = [{"detail": [{"reference": evidence_url}]}]
    mitigation = _mitigation(status, ts, alert_wire.get("acknowledged_by"))
    if mitigation:
        issue["mitigation"] = mitigation
    return issue


def _mitigation(status: Status, ts: str, acknowledged_by: Any) -> list[dict[str, Any]]:
    """Acknowledgement and resolution, the actions taken on the issue."""
    if status not in (Status.ACKNOWLEDGED, Status.RESOLVED):
        return []
    action: dict[str, Any] = {"action": {"text": status.value}, "date": ts}
    if isinstance(acknowledged_by, str) and acknowledged_by:
        action["author"] = {"display": acknowledged_by}
    return [action]


def _news2_observation(news2: News2Summary, patient_id: str, device_id: Any, ts: str) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]}],
        "code": {
            "coding": [{"system": SNOMED, "code": NEWS2_SNOMED_CODE}],
            "text": "NEWS2 total score (Royal College of Physicians)",
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": ts,
        "valueInteger": news2.total,
    }
    if isinstance(device_id, str) and device_id and device_id != "unknown":
        observation["device"] = {"reference": f"Device/{device_id}"}
    if news2.band:
        observation["interpretation"] = [{"text": f"NEWS2 clinical risk: {news2.band}"}]
    components = [_component(name, score) for name, score in news2.components.items()]
    if components:
        observation["component"] = components
    return observation


def _component(name: str, score: int) -> dict[str, Any]:
    label = NEWS2_PARAMETER_LABELS.get(name, name)
    return {
        "code": {
            "coding": [{"system": NEWS2_PARAMETER_SYSTEM, "code": name}],
            "text": f"NEWS2 {label} score",
        },
        "valueInteger": score,
    }


def _news2(raw: Any) -> News2Summary | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not _is_int(raw.get("total")):
        raise ValueError("news2 must be an object with an integer total")
    components = raw.get("components") or {}
    if not isinstance(components, dict) or not all(_is_int(v) for v in components.values()):
        raise ValueError("news2.components must map parameter names to integer scores")
    band = raw.get("band")
    band_text = band if isinstance(band, str) else ""
    return News2Summary(total=raw["total"], components=dict(components), band=band_text)


def _reasons(raw: Any) -> list[Reason]:
    if not raw:
        return []
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise ValueError("reasons must be a list of objects")
    return [Reason.from_wire(r) for r in raw]


def _required_text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"alert field {name!r} must be a non-empty string")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _full_url(alert_id: str, status: Status, ts: str, part: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{alert_id}|{status.value}|{ts}|{part}')}"
