"""The MSH segment read leniently, and why a message may be refused as a whole.

`read_header` never fails: an ACK must echo what it can even of a message we
refuse. `MessageError` carries a refusal in the terms its ACK needs (MSA-1
code, ERR-3 condition, ERR-2 location, text).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
