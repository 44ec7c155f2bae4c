"""What parsing one HL7 v2 message yields: a GatewayResult plus what its ACK needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.interop.hl7_ack import build_ack
from monitor.interop.hl7_header import AckCode, MessageError, MshHeader
from monitor.interop.result import EntryRejection, GatewayResult


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
        if self.rejections and not self.messages and not self.adt_events:
            return AckCode.AE
        return AckCode.AA

    def ack_text(self) -> str:
        """MSA-3: what happened, in counts (no patient data)."""
        if self.error is not None:
            return self.error.reason
        if self.adt_events:
            return f"accepted ADT {self.header.trigger}"
        if self.ignored_event is not None:
            return f"ADT {self.ignored_event} acknowledged, not used"
        text = f"accepted {_count(self.sample_count, 'sample')}"
        if self.rejections:
            text += f", rejected {_count(len(self.rejections), 'row')}: {_why(self.rejections)}"
        if self.skipped_codes:
            text += f", skipped {_count(len(self.skipped_codes), 'unknown code')}"
        return text

    def ack(self, *, control_id: str | None = None, now: datetime | None = None) -> str:
        """The ACK for this result (code and text as above)."""
        return build_ack(self, self.ack_code, self.ack_text(), control_id=control_id, now=now)


def _why(rejections: list[EntryRejection]) -> str:
    """The rejection causes by code (a closed set: no patient data), first entry named.

    So a gateway engineer reading an AE sees what to fix (`future_timestamp at
    OBX[2]`) without the dead-letter topic; the DLQ record holds the details.
    """
    codes = list(dict.fromkeys(r.code.value for r in rejections))
    first = rejections[0]
    text = f"{codes[0]} at {first.entry}"
    if len(codes) > 1:
        text += f" (also {', '.join(codes[1:])})"
    return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
