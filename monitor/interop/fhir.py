"""FHIR R4 vital-sign Observations (single or in a Bundle) → contract messages.

Models: `fhir.resources` 8.x defaults to FHIR R5 (its top-level modules) and
ships the R4 family only as `fhir.resources.R4B` (FHIR 4.3.0) and STU3; there
is no 4.0.1 package. R4B changed nothing that matters here from R4 4.0.1
(Observation, Bundle and their datatypes have the same elements), whereas the
R5 models differ (e.g. Observation.subject targets, new elements) and would
accept or reject the wrong things. So R4 input is validated with R4B models.

How one input is read, and why:
- The Bundle envelope is validated without its entries, then each entry on
  its own: one bad entry must not sink the rest, and its rejection names it
  (`Bundle.entry[3]`, `Bundle.entry[3].component[1]`) with its original text.
- Codes are LOINC only (system http://loinc.org); any other code is counted
  in `skipped_codes`, never guessed. A panel (85353-1 vital signs, 85354-9
  blood pressure) is read through its components; a panel that only points
  at members (`hasMember`) carries no data itself and is passed over, its
  members arrive as their own entries.
- Patient = `subject.reference` without `Patient/` (or the logical
  `subject.identifier.value`); device = `device.reference` without
  `Device/`, else "unknown"; time = effectiveDateTime, effectiveInstant or
  effectivePeriod.start, which must carry a time of day and a zone.
- entered-in-error and cancelled Observations are withdrawn data: rejected.
- A valueQuantity is converted by `units.py` from its `code` (UCUM or MDC)
  or, failing that, its `unit` text; a comparator (<, >) is not a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.quantity import Quantity
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from monitor.interop import units
from monitor.interop.method import method_of
from monitor.interop.result import MESSAGE_ENTRY, GatewayResult, Reading, RejectCode, ResultBuilder
from monitor.limits import MAX_MESSAGE_BYTES
from monitor.patient_id import patient_id_problem
from monitor.vitals import Method

LOINC = "http://loinc.org"

#: LOINC codes of the vitals we read, to contract names.
LOINC_VITALS: dict[str, str] = {
    "8867-4": "heart_rate",
    "2708-6": "spo2",  # Oxygen saturation in Arterial blood
    "59408-5": "spo2",  # ... by Pulse oximetry
    "9279-1": "resp_rate",
    "8310-5": "temperature",
    "8480-6": "systolic_bp",
    "8462-4": "diastolic_bp",
}

#: Panels whose components carry the values: vital signs, blood pressure.
LOINC_PANELS: frozenset[str] = frozenset({"85353-1", "85354-9"})

#: Statuses that withdraw the data rather than report it.
WITHDRAWN_STATUSES: frozenset[str] = frozenset({"entered-in-error", "cancelled"})

_NO_ZONE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?")
_PAYLOAD_PREVIEW = 4096
_TOO_DEEP = "(entry nested too deeply to re-serialise; see the original body)"
#: Most entries one Bundle may carry (more: refused whole, 413). Each entry costs a model
#: validation (~0.1-1 ms) and, when bad, a rejection; 100,000 `{}` entries fit in 300 KB.
DEFAULT_MAX_BUNDLE_ENTRIES = 5000


class _Unusable(Exception):
    """One entry (or component) cannot be used; carries the rejection."""

    def __init__(self, code: RejectCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parse_fhir(
    raw: bytes | str, *, max_bytes: int = MAX_MESSAGE_BYTES, max_entries: int = DEFAULT_MAX_BUNDLE_ENTRIES
) -> GatewayResult:
    """Parse an Observation or a Bundle of them; never raises for bad input."""
    builder = ResultBuilder()
    try:
        _parse_body(raw, builder, max_bytes, max_entries)
    except Exception as exc:  # hostile input must end in a rejection, not a crash
        builder = ResultBuilder()
        reason = f"cannot read input: {type(exc).__name__}: {exc}"
        builder.reject(MESSAGE_ENTRY, RejectCode.INTERNAL, reason, _text(raw))
    return builder.build_into(GatewayResult())


def _parse_body(raw: bytes | str, builder: ResultBuilder, max_bytes: int, max_entries: int) -> None:
    if len(raw) > max_bytes:
        reason = f"body is {len(raw)} bytes, limit {max_bytes}"
        builder.reject(MESSAGE_ENTRY, RejectCode.OVERSIZE, reason, _text(raw[:_PAYLOAD_PREVIEW]))
        return
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        builder.reject(MESSAGE_ENTRY, RejectCode.MALFORMED, f"not valid JSON: {exc}", _text(raw))
        return
    kind = doc.get("resourceType") if isinstance(doc, dict) else None
    if kind == "Observation":
        _observation(doc, "Observation", _text(raw), builder)
    elif kind == "Bundle":
        _bundle(doc, _text(raw), builder, max_entries)
    else:
        what = f"a {kind}" if isinstance(kind, str) else "not a FHIR resource"
        reason = f"expected an Observation or a Bundle, got {what}"
        builder.reject(MESSAGE_ENTRY, RejectCode.UNSUPPORTED, reason, _text(raw))


def _bundle(doc: dict[str, Any], text: str, builder: ResultBuilder, max_entries: int) -> None:
    """Validate the envelope, then every entry independently (at most `max_entries` of them)."""
    entries = doc.get("entry", [])
    if isinstance(entries, list) and len(entries) > max_entries:
        reason = f"Bundle has {len(entries)} entries, limit {max_entries}: split it into several Bundles"
        builder.reject(MESSAGE_ENTRY, RejectCode.OVERSIZE, reason, text[:_PAYLOAD_PREVIEW])
        return
    try:
        Bundle.model_validate({k: v for k, v in doc.items() if k != "entry"})
    except (ValidationError, ValueError, TypeError) as exc:
        builder.reject(MESSAGE_ENTRY, RejectCode.INVALID_RESOURCE, f"invalid Bundle: {_condense(exc)}", text)
        return
    if not isinstance(entries, list):
        builder.reject(MESSAGE_ENTRY, RejectCode.INVALID_RESOURCE, "Bundle.entry must be a list", text)
        return
    for index, entry in enumerate(entries):
        label = f"Bundle.entry[{index}]"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        payload = _entry_text(resource if resource is not None else entry)
        if payload is None:
            builder.reject(label, RejectCode.MALFORMED, "entry is nested too deeply", _TOO_DEEP)
        elif not isinstance(resource, dict):
            builder.reject(label, RejectCode.UNSUPPORTED, "entry has no resource object", payload)
        elif resource.get("resourceType") != "Observation":
            kind = resource.get("resourceType")
            builder.reject(label, RejectCode.UNSUPPORTED, f"entry is a {kind}, not an Observation", payload)
        else:
            _observation(resource, label, payload, builder)


def _entry_text(value: Any) -> str | None:
    """An entry's own JSON for the DLQ; None when nested past orjson's depth limit."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return None


@dataclass(frozen=True, slots=True)
class _Source:
    """Who, which device and when, shared by every value of one Observation."""

    patient_id: str
    device_id: str
    ts_ms: int
    payload: str
    method: Method | None = None

    def reading(self, vital: str, value: float, where: str) -> Reading:
        return Reading(
            self.patient_id, self.device_id, self.ts_ms, vital, value, where, self.payload, method=self.method
        )


def _observation(doc: dict[str, Any], label: str, payload: str, builder: ResultBuilder) -> None:
    """Turn one Observation into readings, or into a rejection with its reason."""
    try:
        obs = _validated(doc)
        code = _known_code(obs.code)
        if code is None:
            builder.skip(_code_label(obs.code))
            return
        if obs.status in WITHDRAWN_STATUSES:
            raise _Unusable(RejectCode.WITHDRAWN, f"status is {obs.status}: withdrawn, not data")
        source = _Source(_patient_id(obs.subject), _device_id(obs.device), _effective_ms(obs), payload, _method(obs))
    except _Unusable as exc:
        builder.reject(label, exc.code, exc.reason, payload)
        return
    if code in LOINC_PANELS:
        _panel(obs, label, source, builder)
    else:
        _add(LOINC_VITALS[code], obs.valueQuantity, obs.dataAbsentReason, label, source, builder)


def _panel(obs: Observation, label: str, source: _Source, builder: ResultBuilder) -> None:
    """Each component of a panel is read, and rejected, on its own."""
    if not obs.component:
        if not obs.hasMember:
            reason = "panel has neither components nor members"
            builder.reject(label, RejectCode.BAD_VALUE, reason, source.payload)
        return
    for index, component in enumerate(obs.component):
        code = _known_code(component.code)
        if code is None or code in LOINC_PANELS:
            builder.skip(_code_label(component.code))
            continue
        where = f"{label}.component[{index}]"
        _add(LOINC_VITALS[code], component.valueQuantity, component.dataAbsentReason, where, source, builder)


def _add(
    vital: str,
    quantity: Quantity | None,
    absent: CodeableConcept | None,
    where: str,
    source: _Source,
    builder: ResultBuilder,
) -> None:
    try:
        builder.add(source.reading(vital, _value(vital, quantity, absent), where))
    except _Unusable as exc:
        builder.reject(where, exc.code, exc.reason, source.payload)


def _validated(doc: dict[str, Any]) -> Observation:
    """Model-validate, after a clearer check for the most common time mistake."""
    for name, value in _effective_texts(doc):
        if isinstance(value, str) and _NO_ZONE.fullmatch(value):
            raise _Unusable(RejectCode.BAD_TIMESTAMP, f"{name} {value!r} has no time zone (add Z or +hh:mm)")
    try:
        return Observation.model_validate(doc)
    except (ValidationError, ValueError, TypeError, RecursionError) as exc:
        raise _Unusable(RejectCode.INVALID_RESOURCE, f"invalid Observation: {_condense(exc)}") from None


def _effective_texts(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    period = doc.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    return [("effectiveDateTime", doc.get("effectiveDateTime")), ("effectivePeriod.start", start)]


def _known_code(concept: CodeableConcept | None) -> str | None:
    """The first LOINC code we map (a vital or a panel), else None."""
    for coding in (concept.coding or []) if concept else []:
        if coding.system == LOINC and (coding.code in LOINC_VITALS or coding.code in LOINC_PANELS):
            return coding.code
    return None


def _code_label(concept: CodeableConcept | None) -> str:
    """How a skipped code is counted: FHIR token form `system|code`."""
    codings = (concept.coding or []) if concept else []
    if codings:
        return f"{codings[0].system or ''}|{codings[0].code or ''}"
    return f"text:{concept.text}" if concept and concept.text else "(no code)"


def _patient_id(subject: Reference | None) -> str:
    return _checked_patient_id(_subject_id(subject))


def _checked_patient_id(patient_id: str) -> str:
    problem = patient_id_problem(patient_id)
    if problem is not None:
        raise _Unusable(RejectCode.BAD_PATIENT_ID, f"subject: {problem}")
    return patient_id


def _subject_id(subject: Reference | None) -> str:
    if subject is not None and subject.reference:
        found = _id_after(subject.reference, "Patient")
        if found:
            return found
        if len(subject.reference) > 200:
            raise _Unusable(RejectCode.MISSING_PATIENT_ID, "subject is not a Patient/<id> reference")
        reason = f"subject {subject.reference!r} is not a Patient/<id> reference"
        raise _Unusable(RejectCode.MISSING_PATIENT_ID, reason)
    if subject is not None and subject.identifier is not None and subject.identifier.value:
        return subject.identifier.value
    raise _Unusable(RejectCode.MISSING_PATIENT_ID, "Observation has no subject Patient reference")


def _method(obs: Observation) -> Method | None:
    """The data shape from `method` (codes, displays, text) or the device's display, if they say."""
    texts: list[str | None] = []
    if obs.method is not None:
        texts.append(obs.method.text)
        texts.extend(t for c in obs.method.coding or () for t in (c.code, c.display))
    if obs.device is not None:
        texts.append(obs.device.display)
    return method_of(texts)


def _device_id(device: Reference | None) -> str:
    if device is not None and device.reference:
        return _id_after(device.reference, "Device") or device.reference
    if device is not None and device.identifier is not None and device.identifier.value:
        return device.identifier.value
    return "unknown"


def _id_after(reference: str, resource_type: str) -> str | None:
    """`123` from `Patient/123`, `https://x/fhir/Patient/123/_history/2`; else None."""
    parts = reference.split("/")
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == resource_type and parts[index + 1]:
            return parts[index + 1]
    return None


def _effective_ms(obs: Observation) -> int:
    if obs.effectiveDateTime is not None:
        return _moment_ms(obs.effectiveDateTime, "effectiveDateTime")
    if obs.effectiveInstant is not None:
        return _moment_ms(obs.effectiveInstant, "effectiveInstant")
    if obs.effectivePeriod is not None and obs.effectivePeriod.start is not None:
        return _moment_ms(obs.effectivePeriod.start, "effectivePeriod.start")
    raise _Unusable(RejectCode.BAD_TIMESTAMP, "Observation has no effectiveDateTime or effectivePeriod.start")


def _moment_ms(value: datetime | date | str, name: str) -> int:
    """Epoch ms of a FHIR dateTime that names an instant (time of day and zone)."""
    if not isinstance(value, datetime):
        raise _Unusable(RejectCode.BAD_TIMESTAMP, f"{name} {str(value)!r} has no time of day")
    if value.tzinfo is None:
        raise _Unusable(RejectCode.BAD_TIMESTAMP, f"{name} {value.isoformat()!r} has no time zone")
    return round(value.timestamp() * 1000)


def _value(vital: str, quantity: Quantity | None, absent: CodeableConcept | None) -> float:
    """The contract-unit value of a valueQuantity, or why there is none."""
    if quantity is None or quantity.value is None:
        why = f" (dataAbsentReason: {_concept_text(absent)})" if absent else ""
        raise _Unusable(RejectCode.BAD_VALUE, f"{vital} has no valueQuantity value{why}")
    if quantity.comparator:
        reason = f"{vital} value is '{quantity.comparator}{quantity.value}', not an exact value"
        raise _Unusable(RejectCode.BAD_VALUE, reason)
    try:
        return units.to_contract(vital, float(quantity.value), quantity.code, quantity.unit)
    except ValueError as exc:
        raise _Unusable(RejectCode.BAD_UNIT, str(exc)) from None


def _concept_text(concept: CodeableConcept) -> str:
    if concept.text:
        return concept.text
    codes = [c.code or c.display or "" for c in concept.coding or []]
    return ", ".join(codes) or "unspecified"


def _condense(exc: Exception, most: int = 3) -> str:
    """A pydantic error report as one line: the first few `location: message`."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for error in exc.errors()[:most]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", "")))
    extra = exc.error_count() - most
    if extra > 0:
        parts.append(f"and {extra} more")
    return " ".join("; ".join(parts).split())


def _text(raw: bytes | str) -> str:
    """Original text for the DLQ; undecodable bytes stay visible as escapes."""
    return raw if isinstance(raw, str) else raw.decode("utf-8", "backslashreplace")
