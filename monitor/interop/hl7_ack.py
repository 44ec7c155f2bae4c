"""HL7 v2 original-mode acknowledgements (ACK: MSH, MSA, ERR).

An ACK is built for any input, however broken: echoed header fields are
stripped of separators and control characters, so even garbage yields a
well-formed ACK the sender can read.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import hl7

from monitor.interop.hl7_fields import clean, decode, escape, normalise
from monitor.interop.hl7_header import AckCode, ErrorCondition, MessageError, MshHeader, read_header

_TRIGGER = re.compile(r"[A-Z0-9]{3}")
_MAX_ACK_TEXT = 80
_MAX_ERR_TEXT = 250


def build_ack(
    source: Any,
    code: AckCode,
    text: str = "",
    *,
    control_id: str | None = None,
    now: datetime | None = None,
    condition: ErrorCondition | None = None,
    location: str | None = None,
) -> str:
    """An original-mode ACK (MSH, MSA, and ERR when not AA), segments ended by CR.

    `source` is the received message (bytes, str or `hl7.Message`) or its
    Hl7Result; its sending and receiving application/facility are swapped,
    MSA-2 echoes its control id. ERR-3's condition and ERR-2's location come
    from the result's message-level error unless given. Echoed fields are
    stripped of separators, so even garbage input yields a well-formed ACK.
    """
    header, error = _ack_source(source)
    segments = [_ack_msh(header, control_id, now), _msa(code, header.control_id, text)]
    if code is not AckCode.AA:
        condition = condition or (error.condition if error else ErrorCondition.INTERNAL)
        location = location if location is not None else (error.location if error else "")
        segments.append(_err(condition, location, text))
    return "\r".join(segments) + "\r"


def _ack_source(source: Any) -> tuple[MshHeader, MessageError | None]:
    header = getattr(source, "header", None)
    if isinstance(header, MshHeader):  # an Hl7Result
        return header, getattr(source, "error", None)
    try:
        raw = str(source) if isinstance(source, hl7.Message) else normalise(decode(source))
        return read_header(raw), None
    except Exception:
        return MshHeader(), None


def _ack_msh(header: MshHeader, control_id: str | None, now: datetime | None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    trigger = header.trigger if _TRIGGER.fullmatch(header.trigger) else ""
    message_type = f"ACK^{trigger}^ACK" if trigger else "ACK"
    version = header.version if re.fullmatch(r"2\.\d{1,2}(\.\d{1,2})?", header.version) else "2.6"
    processing = clean(header.processing_id, keep="")[:3] or "P"
    fields = [
        "MSH",
        "^~\\&",
        clean(header.receiving_application) or "WARDWATCH",
        clean(header.receiving_facility),
        clean(header.sending_application),
        clean(header.sending_facility),
        moment.strftime("%Y%m%d%H%M%S+0000"),
        "",
        message_type,
        clean(control_id or uuid.uuid4().hex[:20].upper(), keep=""),
        processing,
        version,
    ]
    return fields[0] + "|" + "|".join(fields[1:])


def _msa(code: AckCode, control_id: str, text: str) -> str:
    return f"MSA|{code.value}|{clean(control_id, keep='')[:199]}|{escape(text[:_MAX_ACK_TEXT])}"


def _err(condition: ErrorCondition, location: str, text: str) -> str:
    """v2.5+ ERR: ERR-2 location, ERR-3 HL7 error code, ERR-4 severity E, ERR-8 user message."""
    code = f"{condition.value}^{condition.text}^HL70357"
    return f"ERR||{clean(location)}|{code}|E||||{escape(text[:_MAX_ERR_TEXT])}"
