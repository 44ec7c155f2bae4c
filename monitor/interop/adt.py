"""HL7 v2 ADT (admit, transfer, discharge, register, update, cancels) → `AdtEvent`, and its ACK.

Parsing is the `hl7` package's; like `parse_hl7v2` this never raises: any
bytes end in an `Hl7Result` whose ACK says what happened.

Mapping:
- event = MSH-9.2: A01 admit, A02 transfer, A03 discharge, A04 register,
  A08 update, A11 cancel admit, A12 cancel transfer, A13 cancel discharge.
  Any other ADT trigger (A05, A28, A31, A40, ...) is acknowledged AA and
  ignored: the sender did nothing wrong, wardwatch simply has no use for it
  (`ignored_event` is set so the caller counts it).
- patient = PID-3, first repetition, first component (as for ORU).
- location = PV1-3 (PL): point of care (the ward), room, bed; prior
  location PV1-6; visit number PV1-19 (first component).
- time = EVN-6 (event occurred), else EVN-2 (recorded), else MSH-7; a
  malformed time, or one beyond the clock + WARDWATCH_FUTURE_TOLERANCE_S, is an
  error (AE), never a fallback: the time orders events.
- idempotency key = MSH-10 (message control id, required) within its sender
  (MSH-3, MSH-4): `PAS^HOSP|ADT000101`.
AR for what we do not take (encoding characters, version, processing id);
AE for content errors (no PID-3, no time, a transfer without its new
location). Both are dead-lettered by the caller with the reason.
"""

from __future__ import annotations

from typing import NoReturn

import hl7

from monitor.encounter import AdtEvent, AdtEventType, Location
from monitor.interop.hl7_dtm import offset_of, parse_dtm
from monitor.interop.hl7_fields import decode, first, normalise, segment_id
from monitor.interop.hl7_header import AckCode, ErrorCondition, MessageError, MshHeader, read_header
from monitor.interop.hl7_result import Hl7Result
from monitor.interop.result import EARLIEST_MS, LATEST_MS, MESSAGE_ENTRY, EntryRejection, RejectCode
from monitor.limits import MAX_MESSAGE_BYTES
from monitor.timestamps import future_message, not_after_ms

ADT_MESSAGE_TYPE = "ADT"
ENCODING_CHARACTERS: tuple[str, ...] = ("^~\\&", "^~\\&#")
ACCEPTED_PROCESSING_IDS: frozenset[str] = frozenset({"P"})
#: Events that say where the patient now is: without PV1-3 they are unusable.
_NEEDS_LOCATION = frozenset({AdtEventType.TRANSFER})


class _Refused(Exception):
    def __init__(self, error: MessageError, code: RejectCode) -> None:
        super().__init__(error.reason)
        self.error = error
        self.code = code


def _refuse(
    code: RejectCode, condition: ErrorCondition, location: str, reason: str, ack: AckCode = AckCode.AE
) -> NoReturn:
    raise _Refused(MessageError(ack, condition, location, " ".join(reason.split())), code)


def is_adt(raw: bytes | str) -> bool:
    """Does this HL7 v2 input say MSH-9 = ADT? (Cheap: the header of the first 4 KiB.)"""
    try:
        return read_header(normalise(decode(raw[:4096]))).message_type.strip().upper() == ADT_MESSAGE_TYPE
    except Exception:
        return False


def parse_adt_hl7v2(
    raw: bytes | str,
    *,
    source: str = "",
    max_bytes: int = MAX_MESSAGE_BYTES,
    processing_ids: frozenset[str] = ACCEPTED_PROCESSING_IDS,
    not_after: int | None = None,
) -> Hl7Result:
    """One ADT message → an Hl7Result with one `adt_events` entry, an ignored event, or a rejection.

    `not_after` (default: wall clock + WARDWATCH_FUTURE_TOLERANCE_S): a later event time is refused
    (AE), since events are ordered by time and a future one would outrank every real one after it."""
    text = ""
    header = MshHeader()
    try:
        if len(raw) > max_bytes:
            text = decode(raw[:4096])
            _refuse(
                RejectCode.OVERSIZE,
                ErrorCondition.INTERNAL,
                "",
                f"message is {len(raw)} bytes, limit {max_bytes}",
                AckCode.AR,
            )
        text = normalise(decode(raw))
        header = read_header(text)
        _check_envelope(text, header, processing_ids)
        try:
            event_type = AdtEventType(header.trigger.strip().upper())
        except ValueError:
            return Hl7Result(header=header, ignored_event=header.trigger.strip().upper()[:3] or "?")
        event = _event(text, header, event_type, source)
        limit = not_after_ms() if not_after is None else not_after
        if event.ts_ms > limit:
            _refuse(RejectCode.BAD_TIMESTAMP, ErrorCondition.DATA_TYPE, "EVN^1^2", future_message(event.ts_ms, limit))
        return Hl7Result(header=header, adt_events=[event])
    except _Refused as exc:
        rejection = EntryRejection(MESSAGE_ENTRY, exc.error.reason, text, exc.code)
        return Hl7Result(rejections=[rejection], header=header, error=exc.error)
    except Exception as exc:  # hostile input ends in a rejection, not a crash
        reason = " ".join(f"cannot parse ADT message: {type(exc).__name__}: {exc}".split())
        error = MessageError(AckCode.AE, ErrorCondition.INTERNAL, "", reason)
        return Hl7Result(
            rejections=[EntryRejection(MESSAGE_ENTRY, reason, text, RejectCode.MALFORMED)], header=header, error=error
        )


def _check_envelope(text: str, header: MshHeader, processing_ids: frozenset[str]) -> None:
    if not text.startswith("MSH"):
        _refuse(
            RejectCode.MALFORMED, ErrorCondition.SEGMENT_SEQUENCE, "MSH", "message does not start with MSH", AckCode.AR
        )
    encoding = text[4:].split(text[3], 1)[0] if len(text) > 4 else ""
    if text[3:4] != "|" or encoding not in ENCODING_CHARACTERS:
        _refuse(
            RejectCode.BAD_ENCODING,
            ErrorCondition.DATA_TYPE,
            "MSH^1^2",
            f"wrong encoding characters {text[3:4] + encoding[:8]!r} in MSH-1/MSH-2 (expected '|^~\\&')",
            AckCode.AR,
        )
    if "\rMSH|" in text:
        _refuse(
            RejectCode.UNSUPPORTED,
            ErrorCondition.SEGMENT_SEQUENCE,
            "MSH",
            "more than one message: send one ADT message per frame",
            AckCode.AR,
        )
    if header.message_type.strip().upper() != ADT_MESSAGE_TYPE:
        _refuse(
            RejectCode.UNSUPPORTED,
            ErrorCondition.UNSUPPORTED_MESSAGE_TYPE,
            "MSH^1^9",
            f"message type {header.message_type!r} is not ADT",
            AckCode.AR,
        )
    if header.processing_id and header.processing_id not in processing_ids:
        accepted = ", ".join(sorted(processing_ids))
        _refuse(
            RejectCode.UNSUPPORTED,
            ErrorCondition.UNSUPPORTED_PROCESSING_ID,
            "MSH^1^11",
            f"processing id {header.processing_id!r} is not accepted (only {accepted})",
            AckCode.AR,
        )
    if header.version and not header.version.startswith("2."):
        _refuse(
            RejectCode.UNSUPPORTED,
            ErrorCondition.UNSUPPORTED_VERSION,
            "MSH^1^12",
            f"version {header.version!r} is not HL7 v2",
            AckCode.AR,
        )
    if not header.control_id.strip():
        _refuse(
            RejectCode.MALFORMED,
            ErrorCondition.REQUIRED_FIELD_MISSING,
            "MSH^1^10",
            "MSH-10 message control id is empty: it is what makes a resent ADT message harmless",
        )


def _event(text: str, header: MshHeader, event_type: AdtEventType, source: str) -> AdtEvent:
    message = hl7.parse(text)
    segments: dict[str, hl7.Segment] = {}
    for segment in message:
        segments.setdefault(segment_id(segment), segment)
    pid = segments.get("PID")
    patient_id = first(pid, 3).strip() if pid is not None else ""
    if not patient_id:
        _refuse(
            RejectCode.MISSING_PATIENT_ID,
            ErrorCondition.REQUIRED_FIELD_MISSING,
            "PID^1^3",
            "PID-3 patient identifier is missing or empty",
        )
    pv1 = segments.get("PV1")
    location = _location(pv1, 3)
    if event_type in _NEEDS_LOCATION and location is None:
        _refuse(
            RejectCode.BAD_VALUE,
            ErrorCondition.REQUIRED_FIELD_MISSING,
            "PV1^1^3",
            f"{event_type.value} without PV1-3 (assigned patient location): where did the patient go?",
        )
    visit = first(pv1, 19).strip() or None if pv1 is not None else None
    return AdtEvent(
        event_type,
        patient_id,
        _time_ms(segments.get("EVN"), header),
        _event_key(header),
        location,
        _location(pv1, 6),
        visit,
        source,
    )


def _event_key(header: MshHeader) -> str:
    """The idempotency key: MSH-10 within its sender (MSH-3 application, MSH-4 facility).

    Control ids are unique per sending system only: a patient administration
    system and a bed manager both counting from 1 must not make one's transfer
    a "duplicate" of the other's admit.
    """
    sender = "^".join(p for p in (header.sending_application.split("^")[0], header.sending_facility.split("^")[0]) if p)
    return f"{sender}|{header.control_id.strip()}" if sender else header.control_id.strip()


def _location(pv1: hl7.Segment | None, number: int) -> Location | None:
    """A PL field: point of care ^ room ^ bed."""
    if pv1 is None:
        return None
    loc = Location(*(first(pv1, number, c).strip() or None for c in (1, 2, 3)))
    return loc or None


def _time_ms(evn: hl7.Segment | None, header: MshHeader) -> int:
    offset = offset_of(header.timestamp)
    candidates = [("MSH-7", header.timestamp)]
    if evn is not None:
        candidates = [("EVN-6", first(evn, 6)), ("EVN-2", first(evn, 2)), *candidates]
    for name, value in candidates:
        if value.strip():
            try:
                ms, _ = parse_dtm(value.strip(), offset)
            except ValueError as exc:
                _refuse(RejectCode.BAD_TIMESTAMP, ErrorCondition.DATA_TYPE, name.replace("-", "^1^"), f"{name}: {exc}")
            if not EARLIEST_MS <= ms < LATEST_MS:
                _refuse(
                    RejectCode.BAD_TIMESTAMP,
                    ErrorCondition.DATA_TYPE,
                    name.replace("-", "^1^"),
                    f"{name} is before 1990 or after 2199",
                )
            return ms
    _refuse(
        RejectCode.BAD_TIMESTAMP,
        ErrorCondition.REQUIRED_FIELD_MISSING,
        "EVN^1^2",
        "no event time in EVN-6, EVN-2 or MSH-7",
    )
