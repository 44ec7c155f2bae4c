"""The `alert-acks` record: staff (or a paging system) acknowledging or resolving."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson

from monitor.timestamps import format_ts, parse_ts


class AckAction(str, enum.Enum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Ack:
    alert_id: str
    patient_id: str
    by: str
    action: AckAction
    ts_ms: int | None = None
    source: str | None = None  # which channel it came from (cli, console, pager…), for the audit trail
    #: Who, verified: the signed-in account, its role and how it signed in (None: a self-declared name).
    by_user: str | None = None
    role: str | None = None
    auth: str | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "alert_id": self.alert_id,
            "patient_id": self.patient_id,
            "by": self.by,
            "action": self.action.value,
        }
        if self.ts_ms is not None:
            out["ts"] = format_ts(self.ts_ms)
        if self.source:
            out["source"] = self.source
        for name in ("by_user", "role", "auth"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        return out


def parse_ack(raw: bytes | str) -> Ack:
    """Validate an ack message; ValueError says what is wrong with it."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"ack is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("ack must be a JSON object")
    for name in ("alert_id", "patient_id", "by"):
        if not isinstance(doc.get(name), str) or not doc[name].strip():
            raise ValueError(f"ack needs a non-empty string {name}")
    try:
        action = AckAction(doc.get("action", "acknowledge"))
    except ValueError:
        raise ValueError(f"ack action must be acknowledge or resolve, got {doc.get('action')!r}") from None
    ts_ms = parse_ts(doc["ts"]) if doc.get("ts") is not None else None
    source = doc.get("source") if isinstance(doc.get("source"), str) else None
    who = {name: doc[name][:64] for name in ("by_user", "role", "auth") if isinstance(doc.get(name), str) and doc[name]}
    return Ack(doc["alert_id"], doc["patient_id"], doc["by"], action, ts_ms, source, **who)
