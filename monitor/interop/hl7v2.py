"""HL7 v2 ORU^R01 (IHE PCD-01 "Communicate PCD Data") → contract messages, and ACKs.

Parsing is the `hl7` package's; what this module adds is the PCD-01 reading
and a stance toward hostile input: `parse_hl7v2` returns rejections for ANY
bytes and never raises, because an MLLP listener that crashes on one bad
frame stops a ward's monitoring.

Mapping (DESIGN.md "Mapping from gateway formats"):
- patient = PID-3, first repetition, first component. A message without PID
  or with an empty PID-3 is rejected whole (AE): its rows belong to nobody.
- time = OBX-14, else the enclosing OBR-7, else MSH-7. A malformed time
  rejects the row rather than falling back (a wrong time is worse than none).
  Zone: the offset written in the DTM; without one, HL7 v2 says the sender's
  local zone applies, so MSH-7's offset is used when it has one, and when no
  offset is written anywhere the time is taken as UTC (`assumed_utc` is set
  so the caller can log it); see hl7_dtm.py.
- device = OBX-18 first component (PCD-01 equipment instance id), else
  MSH-3 first component (sending application), else "unknown".
- OBX-3 first component is an MDC code (the reference id in the second
  component is accepted too); codes from other systems and unknown codes are
  counted in `skipped_codes`. PCD-01 containment rows (MDS/VMD/channel: no
  value type, no value) are structure, not data, and are passed over.
- OBX-5 must be numeric (NM, or SN without comparator); OBX-6 (MDC or UCUM)
  is converted by `units.py`; OBX-11 X (cannot be obtained), W (wrong) and
  D (deleted) withdraw the row.
- Message level: MSH-1/MSH-2 must be "|" and "^~\\&" (a 2.7 "#" truncation
  character is allowed); only ORU^R01, processing id P (training and debug
  data must never page anyone) and versions 2.x; one message per input.
  Rejections for the message type, version or processing id are AR; errors
  in the content (missing PID, no control id) are AE.
Input bytes are read as UTF-8, falling back to ISO 8859-1 (HL7's other
common charset, and a decoding that cannot fail); CR LF or LF segment
endings are accepted as CR, and stray MLLP framing bytes are stripped.

The parts live next door, each a file with one job: hl7_header (MSH, ACK
codes), hl7_fields (field access, escapes), hl7_dtm (times), hl7_mdc (codes),
hl7_result (Hl7Result) and hl7_ack (ACKs). Their public names are re-exported
here, so `from monitor.interop.hl7v2 import build_ack, parse_dtm, ...` works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

import hl7

from monitor.interop import units
from monitor.interop.hl7_ack import build_ack
from monitor.interop.hl7_dtm import offset_of, parse_dtm
from monitor.interop.hl7_fields import decode, escape, field, first, normalise, segment_id
from monitor.interop.hl7_header import AckCode, ErrorCondition, MessageError, MshHeader, read_header
from monitor.interop.hl7_mdc import MDC_VITALS, MdcVital, mdc_vital
from monitor.interop.hl7_result import Hl7Result
from monitor.interop.method import method_of
from monitor.interop.result import (
    MESSAGE_ENTRY,
    EntryRejection,
    Reading,
    RejectCode,
    ResultBuilder,
)
from monitor.limits import MAX_MESSAGE_BYTES
from monitor.patient_id import patient_id_problem

__all__ = [
    "ACCEPTED_PROCESSING_IDS",
    "ENCODING_CHARACTERS",
    "MDC_VITALS",
    "AckCode",
    "ErrorCondition",
    "Hl7Result",
    "MdcVital",
    "MessageError",
    "MshHeader",
    "build_ack",
    "escape",
    "parse_dtm",
    "parse_hl7v2",
    "read_header",
]

ENCODING_CHARACTERS: tuple[str, ...] = ("^~\\&", "^~\\&#")
ACCEPTED_PROCESSING_IDS: frozenset[str] = frozenset({"P"})

_WITHDRAWN_STATUS = {"X": "cannot be obtained", "W": "wrong (withdrawn)", "D": "deleted"}
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


class _Refused(Exception):
    def __init__(self, error: MessageError, code: RejectCode) -> None:
        super().__init__(error.reason)
        self.error = error
        self.code = code


class _Unusable(Exception):
    def __init__(self, code: RejectCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parse_hl7v2(
    raw: bytes | str,
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
    processing_ids: frozenset[str] = ACCEPTED_PROCESSING_IDS,
) -> Hl7Result:
    """Parse one ORU^R01; never raises: anything unusable becomes a rejection."""
    text = ""
    header = MshHeader()
    try:
        if len(raw) > max_bytes:
            text = decode(raw[:4096])
            reason = f"message is {len(raw)} bytes, limit {max_bytes}"
            _refuse(RejectCode.OVERSIZE, ErrorCondition.INTERNAL, "", reason)
        text = normalise(decode(raw))
        header = read_header(text)
        _check_envelope(text, header, processing_ids)
        return _parse_message(text, header)
    except _Refused as exc:
        return _refusal(header, exc.error, exc.code, text)
    except Exception as exc:  # hostile input must end in a rejection, not a crash
        reason = " ".join(f"cannot parse message: {type(exc).__name__}: {exc}".split())
        error = MessageError(AckCode.AE, ErrorCondition.INTERNAL, "", reason)
        return _refusal(header, error, RejectCode.MALFORMED, text)


def _refuse(
    code: RejectCode, condition: ErrorCondition, location: str, reason: str, ack: AckCode = AckCode.AR
) -> NoReturn:
    """Stop parsing: the whole message is refused (AR unless said otherwise)."""
    raise _Refused(MessageError(ack, condition, location, " ".join(reason.split())), code)


def _refusal(header: MshHeader, error: MessageError, code: RejectCode, text: str) -> Hl7Result:
    rejection = EntryRejection(MESSAGE_ENTRY, error.reason, text, code)
    return Hl7Result(rejections=[rejection], header=header, error=error)


def _check_envelope(text: str, header: MshHeader, processing_ids: frozenset[str]) -> None:
    """Refuse, before parsing, what we must not or cannot read."""
    if not text.startswith("MSH"):
        reason = "message does not start with MSH"
        _refuse(RejectCode.MALFORMED, ErrorCondition.SEGMENT_SEQUENCE, "MSH", reason)
    encoding = text[4:].split(text[3], 1)[0] if len(text) > 4 else ""
    if text[3:4] != "|" or encoding not in ENCODING_CHARACTERS:
        got = text[3:4] + encoding[:8]
        reason = f"wrong encoding characters {got!r} in MSH-1/MSH-2 (expected '|^~\\&')"
        _refuse(RejectCode.BAD_ENCODING, ErrorCondition.DATA_TYPE, "MSH^1^2", reason)
    if "\rMSH|" in text:
        reason = "more than one message: send one ORU^R01 per frame"
        _refuse(RejectCode.UNSUPPORTED, ErrorCondition.SEGMENT_SEQUENCE, "MSH", reason)
    if header.message_type != "ORU":
        reason = f"message type {header.message_type!r} is not ORU^R01"
        _refuse(RejectCode.UNSUPPORTED, ErrorCondition.UNSUPPORTED_MESSAGE_TYPE, "MSH^1^9", reason)
    if header.trigger != "R01":
        reason = f"trigger event {header.trigger!r} is not R01"
        _refuse(RejectCode.UNSUPPORTED, ErrorCondition.UNSUPPORTED_EVENT, "MSH^1^9^1^2", reason)
    if header.processing_id and header.processing_id not in processing_ids:
        accepted = ", ".join(sorted(processing_ids))
        reason = f"processing id {header.processing_id!r} is not accepted (only {accepted})"
        _refuse(RejectCode.UNSUPPORTED, ErrorCondition.UNSUPPORTED_PROCESSING_ID, "MSH^1^11", reason)
    if header.version and not header.version.startswith("2."):
        reason = f"version {header.version!r} is not HL7 v2"
        _refuse(RejectCode.UNSUPPORTED, ErrorCondition.UNSUPPORTED_VERSION, "MSH^1^12", reason)
    if not header.control_id.strip():
        reason = "MSH-10 message control id is empty"
        _refuse(RejectCode.MALFORMED, ErrorCondition.REQUIRED_FIELD_MISSING, "MSH^1^10", reason, AckCode.AE)


@dataclass(slots=True)
class _Context:
    """What OBX rows inherit from the segments before them."""

    msh_time: str
    default_device: str
    default_offset: timedelta | None
    patient_id: str | None = None
    obr_time: str = ""
    assumed_utc: bool = False


def _parse_message(text: str, header: MshHeader) -> Hl7Result:
    message = hl7.parse(text)
    segments = list(message)
    lines = text.split("\r")
    if len(lines) != len(segments):  # never seen; keep payloads right regardless
        lines = [str(s) for s in segments]
    if not any(segment_id(s) == "PID" for s in segments):
        reason = "message has no PID segment"
        _refuse(RejectCode.MISSING_PATIENT_ID, ErrorCondition.SEGMENT_SEQUENCE, "PID", reason, AckCode.AE)
    msh = segments[0]
    context = _Context(
        msh_time=first(msh, 7),
        default_device=first(msh, 3) or "unknown",
        default_offset=offset_of(first(msh, 7)),
    )
    builder = ResultBuilder()
    obx_count = 0
    for segment, line in zip(segments[1:], lines[1:], strict=True):
        kind = segment_id(segment)
        if kind == "PID":
            context.patient_id = _patient_id(segment)
            context.obr_time = ""
        elif kind == "OBR":
            context.obr_time = first(segment, 7)
        elif kind == "OBX":
            obx_count += 1
            _observation(segment, line, f"OBX[{obx_count}]", context, builder)
    result = Hl7Result(header=header, assumed_utc=context.assumed_utc)
    builder.build_into(result)
    if not (result.messages or result.rejections or result.skipped_codes or result.superseded):
        # e.g. a message cut after PID: answering AA would tell the gateway its vitals arrived.
        where = "no OBX segment" if not obx_count else "no OBX row with a value (only structure)"
        reason = f"message has {where}: no vital sign to take"
        _refuse(RejectCode.NO_VITAL, ErrorCondition.REQUIRED_FIELD_MISSING, "OBX", reason, AckCode.AE)
    return result


def _patient_id(pid: hl7.Segment) -> str:
    patient_id = first(pid, 3).strip()
    if not patient_id:
        reason = "PID-3 patient identifier is empty"
        condition = ErrorCondition.REQUIRED_FIELD_MISSING
        _refuse(RejectCode.MISSING_PATIENT_ID, condition, "PID^1^3", reason, AckCode.AE)
    problem = patient_id_problem(patient_id)
    if problem is not None:
        _refuse(RejectCode.BAD_PATIENT_ID, ErrorCondition.DATA_TYPE, "PID^1^3", f"PID-3 {problem}", AckCode.AE)
    return patient_id


def _observation(obx: hl7.Segment, payload: str, label: str, context: _Context, builder: ResultBuilder) -> None:
    """One OBX row (`payload` is its original text): a reading, a skipped code, a rejection, or structure."""
    if context.patient_id is None:
        reason = "OBX before any PID segment"
        _refuse(RejectCode.MISSING_PATIENT_ID, ErrorCondition.SEGMENT_SEQUENCE, "OBX", reason, AckCode.AE)
    spec = _mdc_vital(obx)
    if spec is None:
        if field(obx, 2) or field(obx, 5):
            builder.skip("^".join(first(obx, 3, c) for c in (1, 2, 3)))
        return
    try:
        status = first(obx, 11).upper()
        if status in _WITHDRAWN_STATUS:
            raise _Unusable(RejectCode.WITHDRAWN, f"result status {status}: {_WITHDRAWN_STATUS[status]}")
        value = _numeric_value(obx)
        converted = _convert(spec.vital, value, obx)
        ts_ms = _time_ms(obx, context)
    except _Unusable as exc:
        builder.reject(label, exc.code, f"{spec.mnemonic}: {exc.reason}", payload)
        return
    device = first(obx, 18) or context.default_device
    method = method_of(first(obx, 17, c) for c in (1, 2, 4, 5))  # OBX-17 observation method (CWE)
    builder.add(Reading(context.patient_id, device, ts_ms, spec.vital, converted, label, payload, spec.rank, method))


def _mdc_vital(obx: hl7.Segment) -> MdcVital | None:
    """The mapped MDC code of OBX-3 (by code or reference id), if it is MDC at all."""
    system = first(obx, 3, 3)
    if system not in ("MDC", ""):
        return None
    return mdc_vital(first(obx, 3, 1), first(obx, 3, 2))


def _numeric_value(obx: hl7.Segment) -> float:
    """OBX-5 as a number: NM, or SN whose comparator is absent or '='."""
    value_type = first(obx, 2).upper()
    raw = field(obx, 5)
    if value_type == "SN":
        comparator, number = first(obx, 5, 1), first(obx, 5, 2)
        rest = raw.split("^")[2:]
        if comparator not in ("", "=") or any(rest):
            raise _Unusable(RejectCode.BAD_VALUE, f"structured numeric {raw!r} is not an exact value")
        raw = number
    elif value_type not in ("NM", ""):
        raise _Unusable(RejectCode.BAD_VALUE, f"value type {value_type!r} is not numeric (NM)")
    raw = raw.strip()
    if not raw:
        raise _Unusable(RejectCode.BAD_VALUE, "OBX-5 has no value")
    if not _NUMERIC.fullmatch(raw):
        raise _Unusable(RejectCode.BAD_VALUE, f"OBX-5 {raw[:40]!r} is not numeric")
    return float(raw)


def _convert(vital: str, value: float, obx: hl7.Segment) -> float:
    """OBX-6 is a CWE: try its identifier, text and alternate identifier."""
    offered = [first(obx, 6, c) for c in (1, 2, 4, 5)]
    try:
        return units.to_contract(vital, value, *offered)
    except ValueError as exc:
        raise _Unusable(RejectCode.BAD_UNIT, str(exc)) from None


def _time_ms(obx: hl7.Segment, context: _Context) -> int:
    for name, text in (("OBX-14", first(obx, 14)), ("OBR-7", context.obr_time), ("MSH-7", context.msh_time)):
        if text.strip():
            try:
                ms, assumed = parse_dtm(text.strip(), context.default_offset)
            except ValueError as exc:
                raise _Unusable(RejectCode.BAD_TIMESTAMP, f"{name}: {exc}") from None
            context.assumed_utc = context.assumed_utc or assumed
            return ms
    raise _Unusable(RejectCode.BAD_TIMESTAMP, "no time in OBX-14, OBR-7 or MSH-7")
