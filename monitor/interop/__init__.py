"""Gateway formats in, FHIR out: the pure half of hospital interoperability.

`parse_fhir` (FHIR R4 Observation/Bundle) and `parse_hl7v2` (HL7 v2 ORU^R01,
IHE PCD-01) turn what hospital gateways send into contract `vitals`
messages plus per-entry rejections; `build_ack` answers HL7 senders;
`MllpDecoder`/`frame` handle MLLP framing. No sockets, Kafka or Faust here:
the transports (HTTP, MLLP listener, producer) live in `streams/`.
"""

from monitor.interop.fhir import parse_fhir
from monitor.interop.hl7v2 import AckCode, ErrorCondition, Hl7Result, MessageError, build_ack, parse_hl7v2
from monitor.interop.mllp import FrameError, FrameErrorKind, MllpDecoder, frame
from monitor.interop.result import MESSAGE_ENTRY, EntryRejection, GatewayResult, RejectCode
from monitor.interop.units import to_contract

__all__ = [
    "MESSAGE_ENTRY",
    "AckCode",
    "EntryRejection",
    "ErrorCondition",
    "FrameError",
    "FrameErrorKind",
    "GatewayResult",
    "Hl7Result",
    "MessageError",
    "MllpDecoder",
    "RejectCode",
    "build_ack",
    "frame",
    "parse_fhir",
    "parse_hl7v2",
    "to_contract",
]
