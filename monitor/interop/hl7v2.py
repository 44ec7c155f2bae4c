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
  so the caller can log it). Own DTM parser: `hl7.parse_datetime` ignores
  trailing garbage and gets negative offsets under one hour wrong (-0030).
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
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import NoReturn

import hl7

from monitor.interop import units
from monitor.interop.result import (
    MESSAGE_ENTRY,
    EntryRejection,
    GatewayResult,
    Reading,
    RejectCode,
    ResultBuilder,
)
from monitor.limits import MAX_MESSAGE_BYTES

ENCODING_CHARACTERS: tuple[str, ...] = ("^~\\&", "^~\\&#")
ACCEPTED_PROCESSING_IDS: frozenset[str] = frozenset({"P"})


class AckCode(str, enum.Enum):
    """MSA-1, HL7 table 0008 (original mode)."""

    AA = "AA"  # accepted
    AE = "AE"  # error in the content; the sender should fix and resend
    AR = "AR"  # rejected: type, version or processing id we do not take


class ErrorCondition(str, enum.Enum):
    """ERR-3, HL7 table 0357; the value is the code, `text` its table text."""

    SEGMENT_SEQUENCE = "100"
    REQUIRED_FIELD_MISSING = "101"
    DATA_TYPE = "102"
    UNSUPPORTED_MESSAGE_TYPE = "200"
    UNSUPPORTED_EVENT = "201"
    UNSUPPORTED_PROCESSING_ID = "202"
    UNSUPPORTED_VERSION = "203"
    INTERNAL = "207"

    @property
    def text(self) -> str:
        return _CONDITION_TEXT[self]


_CONDITION_TEXT = {
    ErrorCondition.SEGMENT_SEQUENCE: "Segment sequence error",
    ErrorCondition.REQUIRED_FIELD_MISSING: "Required field missing",
    ErrorCondition.DATA_TYPE: "Data type error",
    ErrorCondition.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    ErrorCondition.UNSUPPORTED_EVENT: "Unsupported event code",
    ErrorCondition.UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    ErrorCondition.UNSUPPORTED_VERSION: "Unsupported version id",
    ErrorCondition.INTERNAL: "Application internal error",
}


@dataclass(frozen=True, slots=True)
class MdcVital:
    """An IEEE 11073-10101 observation code we map; `rank` orders rival sources."""

    code: int
    mnemonic: str
    vital: str
    rank: int = 0


#: Partition 2 (SCADA) codes: 2 × 65536 + term code, e.g. 147842 = 131072 + 16770.
MDC_VITALS: tuple[MdcVital, ...] = (
    MdcVital(147842, "MDC_ECG_HEART_RATE", "heart_rate", rank=0),  # 16770
    MdcVital(149530, "MDC_PULS_OXIM_PULS_RATE", "heart_rate", rank=1),  # 18458
    MdcVital(150456, "MDC_PULS_OXIM_SAT_O2", "spo2"),  # 19384
    MdcVital(151562, "MDC_RESP_RATE", "resp_rate"),  # 20490
    MdcVital(150021, "MDC_PRESS_BLD_NONINV_SYS", "systolic_bp"),  # 18949
    MdcVital(150022, "MDC_PRESS_BLD_NONINV_DIA", "diastolic_bp"),  # 18950
    MdcVital(150033, "MDC_PRESS_BLD_ART_SYS", "systolic_bp"),  # 18961
    MdcVital(150034, "MDC_PRESS_BLD_ART_DIA", "diastolic_bp"),  # 18962
    MdcVital(150344, "MDC_TEMP", "temperature"),  # 19272
    MdcVital(150364, "MDC_TEMP_BODY", "temperature"),  # 19292
)
_MDC_BY_KEY: dict[str, MdcVital] = {k: v for v in MDC_VITALS for k in (str(v.code), v.mnemonic)}

_WITHDRAWN_STATUS = {"X": "cannot be obtained", "W": "wrong (withdrawn)", "D": "deleted"}
_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DTM = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?(?:([+-])(\d{2})(\d{2}))?")
_ESCAPE = re.compile(r"\\([FSTRE])\\")
_ESCAPED = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}
_TRIGGER = re.compile(r"[A-Z0-9]{3}")
_MAX_ACK_TEXT = 80
_MAX_ERR_TEXT = 250


@dataclass(frozen=True, slots=True)
class MshHeader:
    """The MSH fields an ACK needs, as sent (still HL7-escaped)."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    timestamp: str = ""
    message_type: str = ""
    trigger: str = ""
    control_id: str = ""
    processing_id: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class MessageError:
    """Why the whole message was refused, in the terms its ACK needs."""

    ack: AckCode
    condition: ErrorCondition
    location: str
    reason: str


@dataclass
class Hl7Result(GatewayResult):
    """A GatewayResult plus what the ACK needs: the header and any message-level error."""

    header: MshHeader = field(default_factory=MshHeader)
    error: MessageError | None = None
    assumed_utc: bool = False

    @property
    def control_id(self) -> str:
        """MSH-10 of the input, echoed in MSA-2."""
        return self.header.control_id

    @property
    def ack_code(self) -> AckCode:
        """AR/AE for a refused message or one with nothing usable, else AA.

        A message with some rejected rows is AA: its good rows were taken,
        the bad ones are dead-lettered, and an AE would make the gateway
        resend (and duplicate) the good ones.
        """
        if self.error is not None:
            return self.error.ack
        if self.rejections and not self.messages:
            return AckCode.AE
        return AckCode.AA

    def ack_text(self) -> str:
        """MSA-3: what happened, in counts (no patient data)."""
        if self.error is not None:
            return self.error.reason
        text = f"accepted {_count(self.sample_count, 'sample')}"
        if self.rejections:
            text += f", rejected {_count(len(self.rejections), 'row')}"
        if self.skipped_codes:
            text += f", skipped {_count(len(self.skipped_codes), 'unknown code')}"
        return text

    def ack(self, *, control_id: str | None = None, now: datetime | None = None) -> str:
        """The ACK for this result (code and text as above)."""
        return build_ack(self, self.ack_code, self.ack_text(), control_id=control_id, now=now)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


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
            text = _decode(raw[:4096])
            reason = f"message is {len(raw)} bytes, limit {max_bytes}"
            _refuse(RejectCode.OVERSIZE, ErrorCondition.INTERNAL, "", reason)
        text = _normalise(_decode(raw))
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


def _decode(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _normalise(text: str) -> str:
    """CR segment ends, no MLLP framing bytes or surrounding whitespace."""
    text = text.strip().strip("\x0b\x1c").strip()
    return text.replace("\r\n", "\r").replace("\n", "\r")


def read_header(text: str) -> MshHeader:
    """MSH fields read leniently (for the ACK even of a message we refuse)."""
    if not text.startswith("MSH") or len(text) < 4:
        return MshHeader()
    separator = text[3]
    fields = text.split("\r", 1)[0].split(separator)
    component = fields[1][:1] if len(fields) > 1 and fields[1] else "^"

    def msh(n: int) -> str:
        return fields[n - 1] if len(fields) >= n else ""

    type_parts = msh(9).split(component)
    return MshHeader(
        sending_application=msh(3),
        sending_facility=msh(4),
        receiving_application=msh(5),
        receiving_facility=msh(6),
        timestamp=msh(7),
        message_type=type_parts[0],
        trigger=type_parts[1] if len(type_parts) > 1 else "",
        control_id=msh(10),
        processing_id=msh(11).split(component)[0],
        version=msh(12).split(component)[0],
    )


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
    if not any(_segment_id(s) == "PID" for s in segments):
        reason = "message has no PID segment"
        _refuse(RejectCode.MISSING_PATIENT_ID, ErrorCondition.SEGMENT_SEQUENCE, "PID", reason, AckCode.AE)
    msh = segments[0]
    context = _Context(
        msh_time=_first(msh, 7),
        default_device=_first(msh, 3) or "unknown",
        default_offset=_offset_of(_first(msh, 7)),
    )
    builder = ResultBuilder()
    obx_count = 0
    for segment, line in zip(segments[1:], lines[1:]):
        kind = _segment_id(segment)
        if kind == "PID":
            context.patient_id = _patient_id(segment)
            context.obr_time = ""
        elif kind == "OBR":
            context.obr_time = _first(segment, 7)
        elif kind == "OBX":
            obx_count += 1
            _observation(segment, line, f"OBX[{obx_count}]", context, builder)
    result = Hl7Result(header=header, assumed_utc=context.assumed_utc)
    builder.build_into(result)
    return result


def _patient_id(pid: hl7.Segment) -> str:
    patient_id = _first(pid, 3).strip()
    if not patient_id:
        reason = "PID-3 patient identifier is empty"
        condition = ErrorCondition.REQUIRED_FIELD_MISSING
        _refuse(RejectCode.MISSING_PATIENT_ID, condition, "PID^1^3", reason, AckCode.AE)
    return patient_id


def _observation(
    obx: hl7.Segment, payload: str, label: str, context: _Context, builder: ResultBuilder
) -> None:
    """One OBX row (`payload` is its original text): a reading, a skipped code, a rejection, or structure."""
    if context.patient_id is None:
        reason = "OBX before any PID segment"
        _refuse(RejectCode.MISSING_PATIENT_ID, ErrorCondition.SEGMENT_SEQUENCE, "OBX", reason, AckCode.AE)
    spec = _mdc_vital(obx)
    if spec is None:
        if _field(obx, 2) or _field(obx, 5):
            builder.skip("^".join(_first(obx, 3, c) for c in (1, 2, 3)))
        return
    try:
        status = _first(obx, 11).upper()
        if status in _WITHDRAWN_STATUS:
            raise _Unusable(RejectCode.WITHDRAWN, f"result status {status}: {_WITHDRAWN_STATUS[status]}")
        value = _numeric_value(obx)
        converted = _convert(spec.vital, value, obx)
        ts_ms = _time_ms(obx, context)
    except _Unusable as exc:
        builder.reject(label, exc.code, f"{spec.mnemonic}: {exc.reason}", payload)
        return
    device = _first(obx, 18) or context.default_device
    builder.add(Reading(context.patient_id, device, ts_ms, spec.vital, converted, label, payload, spec.rank))


def _mdc_vital(obx: hl7.Segment) -> MdcVital | None:
    """The mapped MDC code of OBX-3 (by code or reference id), if it is MDC at all."""
    system = _first(obx, 3, 3)
    if system not in ("MDC", ""):
        return None
    return _MDC_BY_KEY.get(_first(obx, 3, 1)) or _MDC_BY_KEY.get(_first(obx, 3, 2))


def _numeric_value(obx: hl7.Segment) -> float:
    """OBX-5 as a number: NM, or SN whose comparator is absent or '='."""
    value_type = _first(obx, 2).upper()
    raw = _field(obx, 5)
    if value_type == "SN":
        comparator, number = _first(obx, 5, 1), _first(obx, 5, 2)
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
    offered = [_first(obx, 6, c) for c in (1, 2, 4, 5)]
    try:
        return units.to_contract(vital, value, *offered)
    except ValueError as exc:
        raise _Unusable(RejectCode.BAD_UNIT, str(exc)) from None


def _time_ms(obx: hl7.Segment, context: _Context) -> int:
    for name, text in (("OBX-14", _first(obx, 14)), ("OBR-7", context.obr_time), ("MSH-7", context.msh_time)):
        if text.strip():
            try:
                ms, assumed = parse_dtm(text.strip(), context.default_offset)
            except ValueError as exc:
                raise _Unusable(RejectCode.BAD_TIMESTAMP, f"{name}: {exc}") from None
            context.assumed_utc = context.assumed_utc or assumed
            return ms
    raise _Unusable(RejectCode.BAD_TIMESTAMP, "no time in OBX-14, OBR-7 or MSH-7")


def parse_dtm(text: str, default_offset: timedelta | None = None) -> tuple[int, bool]:
    """HL7 DTM (YYYYMMDDHHMM[SS[.S…]][±HHMM]) → (epoch ms, True if UTC was assumed).

    Minute precision at least: a date alone does not say when a vital was
    measured. Without an offset, `default_offset` (MSH-7's) applies, else UTC.
    """
    match = _DTM.fullmatch(text)
    if not match:
        raise ValueError(f"{text[:40]!r} is not an HL7 time YYYYMMDDHHMM[SS[.S]][+/-ZZZZ]")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = match.groups()
    offset, assumed = default_offset or timedelta(0), default_offset is None
    if sign:
        if int(off_h) > 14 or int(off_m) > 59:
            raise ValueError(f"{text!r} has an impossible zone offset")
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
        assumed = False
    micro = int((fraction or "0").ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, timezone(offset)
        )
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    return round(moment.timestamp() * 1000), assumed


def _offset_of(text: str) -> timedelta | None:
    """The zone offset written in a DTM, or None."""
    match = _DTM.fullmatch(text.strip())
    if not match or not match.group(8):
        return None
    sign, hours, minutes = match.group(8), int(match.group(9)), int(match.group(10))
    if hours > 14 or minutes > 59:
        return None
    return timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)


def _segment_id(segment: hl7.Segment) -> str:
    try:
        return str(segment[0])
    except Exception:
        return ""


def _field(segment: hl7.Segment, number: int) -> str:
    """Raw (escaped) text of a field, '' when absent."""
    return str(segment(number)) if number < len(segment) else ""


def _first(segment: hl7.Segment, number: int, component: int = 1) -> str:
    """First repetition's component (first subcomponent) of a field, unescaped; '' when absent.

    Walks python-hl7's containers directly: same path as
    `Segment.extract_field`, at a fraction of its cost (it builds an
    Accessor on every call; this is the hot loop). Unescaping is our own
    because `hl7.util.unescape` logs the field's content at ERROR level on a
    malformed escape: a privacy leak and a log flood on hostile input.
    """
    if number >= len(segment):
        return ""
    node: object = segment[number]
    node = node[0] if node else ""  # first repetition, or the leaf text
    if isinstance(node, str):
        value = node if component == 1 else ""
    elif component > len(node):
        value = ""
    else:
        node = node[component - 1]
        while not isinstance(node, str):
            node = node[0] if node else ""
        value = node
    return _unescape(value) if "\\" in value else value


def _unescape(value: str) -> str:
    """The separator escapes (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\); others stay verbatim."""
    return _ESCAPE.sub(lambda m: _ESCAPED[m.group(1)], value)


# --------------------------------------------------------------------- ACKs


def build_ack(
    source: bytes | str | Hl7Result | hl7.Message,
    code: AckCode,
    text: str = "",
    *,
    control_id: str | None = None,
    now: datetime | None = None,
    condition: ErrorCondition | None = None,
    location: str | None = None,
) -> str:
    """An original-mode ACK (MSH, MSA, and ERR when not AA), segments ended by CR.

    `source` is the received message (raw or parsed) or its Hl7Result; its
    sending and receiving application/facility are swapped, MSA-2 echoes its
    control id. ERR-3's condition and ERR-2's location come from the
    result's message-level error unless given. Echoed fields are stripped of
    separators, so even garbage input yields a well-formed ACK.
    """
    header, error = _ack_source(source)
    segments = [_ack_msh(header, control_id, now), _msa(code, header.control_id, text)]
    if code is not AckCode.AA:
        condition = condition or (error.condition if error else ErrorCondition.INTERNAL)
        location = location if location is not None else (error.location if error else "")
        segments.append(_err(condition, location, text))
    return "\r".join(segments) + "\r"


def _ack_source(source: bytes | str | Hl7Result | hl7.Message) -> tuple[MshHeader, MessageError | None]:
    if isinstance(source, Hl7Result):
        return source.header, source.error
    try:
        raw = str(source) if isinstance(source, hl7.Message) else _normalise(_decode(source))
        return read_header(raw), None
    except Exception:
        return MshHeader(), None


def _ack_msh(header: MshHeader, control_id: str | None, now: datetime | None) -> str:
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    trigger = header.trigger if _TRIGGER.fullmatch(header.trigger) else ""
    message_type = f"ACK^{trigger}^ACK" if trigger else "ACK"
    version = header.version if re.fullmatch(r"2\.\d{1,2}(\.\d{1,2})?", header.version) else "2.6"
    processing = _clean(header.processing_id, keep="")[:3] or "P"
    fields = [
        "MSH",
        "^~\\&",
        _clean(header.receiving_application) or "WARDWATCH",
        _clean(header.receiving_facility),
        _clean(header.sending_application),
        _clean(header.sending_facility),
        moment.strftime("%Y%m%d%H%M%S+0000"),
        "",
        message_type,
        _clean(control_id or uuid.uuid4().hex[:20].upper(), keep=""),
        processing,
        version,
    ]
    return fields[0] + "|" + "|".join(fields[1:])


def _msa(code: AckCode, control_id: str, text: str) -> str:
    return f"MSA|{code.value}|{_clean(control_id, keep='')[:199]}|{escape(text[:_MAX_ACK_TEXT])}"


def _err(condition: ErrorCondition, location: str, text: str) -> str:
    """v2.5+ ERR: ERR-2 location, ERR-3 HL7 error code, ERR-4 severity E, ERR-8 user message."""
    code = f"{condition.value}^{condition.text}^HL70357"
    return f"ERR||{_clean(location)}|{code}|E||||{escape(text[:_MAX_ERR_TEXT])}"


def escape(text: str) -> str:
    """Text safe inside an HL7 field with the standard encoding characters."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    out = flat.replace("\\", "\\E\\")
    for char, sequence in (("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        out = out.replace(char, sequence)
    return out


def _clean(value: str, keep: str = "^&") -> str:
    """An echoed header value without separators, escapes or control characters."""
    banned = set("|~\\^&") - set(keep)
    return "".join(ch for ch in value if ch.isprintable() and ch not in banned)[:227]
