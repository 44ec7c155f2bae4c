"""FHIR R4 `Encounter` (with `location`, `Location` references or contained) → `AdtEvent`.

FHIR has no trigger events: each Encounter version is a snapshot of the
stay. It is read as the ADT event that produces that snapshot:
- planned → A04 register; arrived, triaged, in-progress, onleave → A01
  admit at the encounter's current location (a later version at another
  location moves the patient, exactly as a transfer would);
- finished → A03 discharge; cancelled, entered-in-error → A11 cancel admit;
- unknown → acknowledged and ignored (`ignored_event`), like an ADT trigger
  we do not use.
Location: the `Encounter.location` entries whose status is active (else
those without a status; planned and completed ones are not where the
patient is). Each entry names a Location by reference: a contained one
(`#id`) is read for its name and physical type, and its `partOf` chain is
followed; a plain `Location/id` reference gives its display text, else its
id. The physical type (wa ward, ro room, bd bed; on the entry or the
Location) says which is which; a single untyped location is the ward.
Patient = subject.reference without `Patient/` (or subject.identifier.value);
time = meta.lastUpdated, else period.end for finished, else period.start;
idempotency key = `Encounter/<id>/_history/<versionId>`, else a digest of the body.
Validated with the R4B models (see fhir.py for why R4B).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from fhir.resources.R4B.encounter import Encounter
from pydantic import ValidationError

from monitor.encounter import AdtEvent, AdtEventType, Location
from monitor.interop.result import EARLIEST_MS, LATEST_MS, MESSAGE_ENTRY, EntryRejection, GatewayResult, RejectCode
from monitor.limits import MAX_MESSAGE_BYTES
from monitor.timestamps import future_message, not_after_ms, parse_ts

_EVENT_OF_STATUS = {
    "planned": AdtEventType.REGISTER,
    "arrived": AdtEventType.ADMIT,
    "triaged": AdtEventType.ADMIT,
    "in-progress": AdtEventType.ADMIT,
    "onleave": AdtEventType.ADMIT,
    "finished": AdtEventType.DISCHARGE,
    "cancelled": AdtEventType.CANCEL_ADMIT,
    "entered-in-error": AdtEventType.CANCEL_ADMIT,
}
#: Location physical types (http://terminology.hl7.org/CodeSystem/location-physical-type) → our part.
_PART_OF_TYPE = {"wa": "ward", "ro": "room", "bd": "bed"}
_MAX_PARTOF_DEPTH = 8


class _Unusable(Exception):
    def __init__(self, code: RejectCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def is_encounter(raw: bytes | str) -> bool:
    """Is this JSON body a FHIR Encounter? (False for anything unreadable: the Observation parser says why.)"""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and doc.get("resourceType") == "Encounter"


def parse_fhir_encounter(
    raw: bytes | str, *, source: str = "", max_bytes: int = MAX_MESSAGE_BYTES, not_after: int | None = None
) -> GatewayResult:
    """One Encounter → a GatewayResult with one `adt_events` entry, an ignored status, or a rejection
    (a time beyond `not_after`, default wall clock + tolerance, is refused as for ADT v2)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    try:
        if len(raw) > max_bytes:
            raise _Unusable(RejectCode.OVERSIZE, f"body is {len(raw)} bytes, limit {max_bytes}")
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _Unusable(RejectCode.MALFORMED, f"not valid JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("resourceType") != "Encounter":
            raise _Unusable(RejectCode.UNSUPPORTED, "expected a FHIR Encounter")
        try:
            Encounter.model_validate(doc)
        except (ValidationError, ValueError, TypeError, RecursionError) as exc:
            raise _Unusable(RejectCode.INVALID_RESOURCE, f"invalid Encounter: {_condense(exc)}") from None
        status = str(doc.get("status") or "")
        event_type = _EVENT_OF_STATUS.get(status)
        if event_type is None:
            return GatewayResult(ignored_event=f"Encounter.status {status or '?'}"[:40])
        event = _event(doc, event_type, raw, source)
        limit = not_after_ms() if not_after is None else not_after
        if event.ts_ms > limit:
            raise _Unusable(RejectCode.BAD_TIMESTAMP, future_message(event.ts_ms, limit))
        return GatewayResult(adt_events=[event])
    except _Unusable as exc:
        return GatewayResult(rejections=[EntryRejection(MESSAGE_ENTRY, exc.reason, text[:65536], exc.code)])
    except Exception as exc:  # hostile input ends in a rejection, not a crash
        reason = f"cannot read Encounter: {type(exc).__name__}"
        return GatewayResult(rejections=[EntryRejection(MESSAGE_ENTRY, reason, text[:65536], RejectCode.INTERNAL)])


def _event(doc: dict[str, Any], event_type: AdtEventType, raw: bytes | str, source: str) -> AdtEvent:
    patient_id = _patient(doc)
    if not patient_id:
        raise _Unusable(
            RejectCode.MISSING_PATIENT_ID,
            "Encounter.subject names no patient (subject.reference Patient/<id> or subject.identifier.value)",
        )
    location = _location(doc)
    visits = doc.get("identifier") or []
    visit = next((str(i["value"]) for i in visits if isinstance(i, dict) and i.get("value")), None)
    return AdtEvent(
        event_type,
        patient_id,
        _time(doc, event_type),
        _control_id(doc, raw),
        location,
        None,
        visit or doc.get("id"),
        source,
    )


def _patient(doc: dict[str, Any]) -> str:
    subject = doc.get("subject") or {}
    ref = str(subject.get("reference") or "")
    if ref.startswith("Patient/") and len(ref) > 8:
        return ref[8:].split("/_history", 1)[0]
    identifier = subject.get("identifier") or {}
    return str(identifier.get("value") or "").strip()


def _time(doc: dict[str, Any], event_type: AdtEventType) -> int:
    period = doc.get("period") or {}
    meta = doc.get("meta") or {}
    candidates = [("meta.lastUpdated", meta.get("lastUpdated"))]
    if event_type is AdtEventType.DISCHARGE:
        candidates.append(("period.end", period.get("end")))
    candidates.append(("period.start", period.get("start")))
    for name, value in candidates:
        if value:
            try:
                ms = parse_ts(value)
            except (ValueError, TypeError) as exc:
                raise _Unusable(RejectCode.BAD_TIMESTAMP, f"{name}: {exc}") from None
            if not EARLIEST_MS <= ms < LATEST_MS:
                raise _Unusable(RejectCode.BAD_TIMESTAMP, f"{name} is before 1990 or after 2199")
            return ms
    raise _Unusable(RejectCode.BAD_TIMESTAMP, "no time: send meta.lastUpdated or period.start")


def _control_id(doc: dict[str, Any], raw: bytes | str) -> str:
    rid, version = doc.get("id"), (doc.get("meta") or {}).get("versionId")
    if rid and version:
        return f"Encounter/{rid}/_history/{version}"
    body = raw.encode() if isinstance(raw, str) else raw
    return "sha256:" + hashlib.sha256(body).hexdigest()[:32]


def _location(doc: dict[str, Any]) -> Location | None:
    entries = [e for e in doc.get("location") or [] if isinstance(e, dict)]
    current = [e for e in entries if e.get("status") == "active"] or [
        e for e in entries if e.get("status") in (None, "")
    ]
    if not current:
        return None
    contained = {
        str(r.get("id")): r
        for r in doc.get("contained") or []
        if isinstance(r, dict) and r.get("resourceType") == "Location"
    }
    parts: dict[str, str] = {}
    untyped: list[str] = []
    for entry in current:
        ref = entry.get("location") or {}
        target = (
            contained.get(str(ref.get("reference") or "")[1:])
            if str(ref.get("reference", "")).startswith("#")
            else None
        )
        name = _name(ref, target)
        kind = _physical_type(entry) or (_physical_type(target) if target else None)
        if kind:
            parts.setdefault(kind, name)
        elif name:
            untyped.append(name)
        for _ in range(_MAX_PARTOF_DEPTH):  # a contained Location's partOf chain: room in ward, bed in room
            parent_ref = (target or {}).get("partOf") or {}
            target = contained.get(str(parent_ref.get("reference") or "")[1:])
            if target is None:
                break
            parent_kind = _physical_type(target)
            if parent_kind:
                parts.setdefault(parent_kind, _name({}, target))
    if "ward" not in parts and untyped:
        parts["ward"] = untyped[0]
    loc = Location(parts.get("ward"), parts.get("room"), parts.get("bed"))
    return loc or None


def _name(ref: dict[str, Any], target: dict[str, Any] | None) -> str:
    if target is not None:
        return str(target.get("name") or target.get("id") or "")
    if ref.get("display"):
        return str(ref["display"])
    reference = str(ref.get("reference") or "")
    return reference.rsplit("/", 1)[-1] if reference else str((ref.get("identifier") or {}).get("value") or "")


def _physical_type(resource: dict[str, Any] | None) -> str | None:
    concept = (resource or {}).get("physicalType") or {}
    for coding in concept.get("coding") or []:
        part = _PART_OF_TYPE.get(str(coding.get("code") or "").lower())
        if part:
            return part
    return None


def _condense(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors()[:3]
        return "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
    return " ".join(str(exc).split())[:300]
