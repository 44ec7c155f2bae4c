"""The page a nurse reads: one glance says who, where, how bad, why, and how to acknowledge.

Pure. `AlertEvent` is an `alerts` message as notify needs it (parsed once,
validated); `build_notification` words it for one recipient on one channel,
keeping no more patient data than the channel is approved for (`Redaction`):
a pager gets bed/ward, priority and a reply code, never a patient identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from alerts.model import Priority, Status
from alerts.routing import Recipient, Redaction
from monitor.timestamps import format_ts, parse_ts

SCHEMA = 1


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One `alerts` message: the contract's fields notify uses, plus optional location."""

    alert_id: str
    patient_id: str
    status: Status
    priority: Priority
    kind: str
    ts_ms: int
    reasons: tuple[str, ...] = ()
    news2_total: int | None = None
    news2_band: str | None = None
    ward: str | None = None
    bed: str | None = None
    escalation_level: int | None = None
    acknowledged_by: str | None = None
    emitted_at_ms: int | None = None


def _reason_texts(doc: dict[str, Any]) -> tuple[str, ...]:
    reasons = doc.get("reasons") or []
    return tuple(str(r.get("text")) for r in reasons if isinstance(r, dict) and r.get("text"))


def parse_alert_event(raw: bytes | str) -> AlertEvent:
    """Validate an `alerts` message; ValueError says what is wrong (it then goes to the DLQ)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"alert is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("alert must be a JSON object")
    for name in ("alert_id", "patient_id"):
        if not isinstance(doc.get(name), str) or not doc[name]:
            raise ValueError(f"alert needs a non-empty string {name}")
    try:
        status, priority = Status(doc.get("status")), Priority(doc.get("priority"))
    except ValueError as exc:
        raise ValueError(f"alert has {exc}") from None
    news2 = found if isinstance(found := doc.get("news2"), dict) else {}
    level = doc.get("escalation_level")
    emitted = doc.get("emitted_at")
    # `location` (ward, room, bed: ADT, else the vitals' ward) is what the worker writes; a bare
    # `ward`/`bed` (older producers, tests) still counts when it has none.
    location = found if isinstance(found := doc.get("location"), dict) else {}
    ward = location.get("ward") or doc.get("ward")
    bed = location.get("bed") or doc.get("bed")
    return AlertEvent(
        alert_id=doc["alert_id"],
        patient_id=doc["patient_id"],
        status=status,
        priority=priority,
        kind=str(doc.get("kind", "")),
        ts_ms=parse_ts(doc.get("ts")),
        reasons=_reason_texts(doc),
        news2_total=news2.get("total"),
        news2_band=news2.get("band"),
        ward=str(ward) if ward else None,
        bed=str(bed) if bed else None,
        escalation_level=level if isinstance(level, int) and not isinstance(level, bool) else None,
        acknowledged_by=doc.get("acknowledged_by") or None,
        emitted_at_ms=parse_ts(emitted) if emitted else None,
    )


def reply_code(alert_id: str) -> str:
    """Six characters a pager user can reply with (`ACK 3F2A9C`); the gateway maps it back."""
    return alert_id.rpartition("-")[2][:6].upper()


def ack_url(console_url: str, alert_id: str) -> str:
    return f"{console_url}/console?alert={alert_id}"


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one recipient; `dedupe_key` is alert_id|stage|recipient."""

    alert_id: str
    stage: str  # raised | escalated-<step>-<priority> | acknowledged | resolved
    status: Status
    priority: Priority
    recipient: Recipient
    redaction: Redaction
    ward: str
    bed: str | None
    title: str
    text: str
    ack_url: str
    reply_code: str
    why: str = ""  # why this person is paged now (raised, not acknowledged after 3 min, ...)
    patient_id: str | None = None  # None when the channel may not carry it
    reasons: tuple[str, ...] = ()
    news2_total: int | None = None
    ts_ms: int = 0

    @property
    def dedupe_key(self) -> str:
        return f"{self.alert_id}|{self.stage}|{self.recipient.key}"

    def to_wire(self) -> dict[str, Any]:
        """The webhook body: only what the redaction level lets through."""
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "delivery_id": self.dedupe_key,
            "alert_id": self.alert_id,
            "stage": self.stage,
            "status": self.status.value,
            "priority": self.priority.value,
            "ward": self.ward,
            "bed": self.bed,
            "title": self.title,
            "text": self.text,
            "ack_url": self.ack_url,
            "reply_code": self.reply_code,
            "why": self.why,
            "ts": format_ts(self.ts_ms),
            "recipient": {
                "person": self.recipient.person,
                "name": self.recipient.name,
                "role": self.recipient.role,
                "address": self.recipient.address,
            },
        }
        if self.redaction is not Redaction.MINIMAL:
            out["reasons"] = list(self.reasons)
            out["news2"] = self.news2_total
        if self.redaction is Redaction.FULL:
            out["patient_id"] = self.patient_id
        return out


def _location(ward: str, bed: str | None) -> str:
    return f"{ward} bed {bed}" if bed else ward


def _headline(event: AlertEvent, stage: str) -> str:
    if event.status in (Status.ACKNOWLEDGED, Status.RESOLVED):
        who = f" by {event.acknowledged_by}" if event.acknowledged_by else ""
        return f"{event.status.value.upper()}{who}: stand down"
    return "ESCALATED" if stage.startswith("escalated") else "NEW ALERT"


def _body(event: AlertEvent, redaction: Redaction, why: str) -> list[str]:
    lines = [f"Patient {event.patient_id}"] if redaction is Redaction.FULL else []
    if redaction is not Redaction.MINIMAL:
        if event.reasons:
            lines.append("What changed: " + "; ".join(event.reasons[:4]))
        if event.news2_total is not None:
            lines.append(f"NEWS2 {event.news2_total}" + (f" ({event.news2_band})" if event.news2_band else ""))
    if why and why != "raised":
        lines.append(f"Why you: {why}")
    return lines


def _how_to_ack(event: AlertEvent, link: str, code: str) -> list[str]:
    if event.status in (Status.ACKNOWLEDGED, Status.RESOLVED):
        return []
    return [f"Acknowledge: reply ACK {code} or open {link}", f"  or run: wardwatch ack {event.alert_id} --by NAME"]


def build_notification(
    event: AlertEvent,
    stage: str,
    recipient: Recipient,
    redaction: Redaction,
    console_url: str,
    ward: str,
    why: str = "",
) -> Notification:
    """Word `event` for `recipient`: priority and place first, then what changed, then how to ack."""
    location = _location(ward, event.bed)
    link, code = ack_url(console_url, event.alert_id), reply_code(event.alert_id)
    title = f"[{event.priority.value.upper()}] {_headline(event, stage)} - {location}"
    lines = [title, *_body(event, redaction, why), *_how_to_ack(event, link, code)]
    full = redaction is not Redaction.MINIMAL
    return Notification(
        alert_id=event.alert_id,
        stage=stage,
        status=event.status,
        priority=event.priority,
        recipient=recipient,
        redaction=redaction,
        ward=ward,
        bed=event.bed,
        title=title,
        text="\n".join(lines),
        ack_url=link,
        reply_code=code,
        why=why,
        patient_id=event.patient_id if redaction is Redaction.FULL else None,
        reasons=event.reasons if full else (),
        news2_total=event.news2_total if full else None,
        ts_ms=event.ts_ms,
    )
