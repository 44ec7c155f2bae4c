"""The audit trail a hospital shows a regulator, and the timeline rebuilt from it.

Pure. Every alert state change, delivery attempt, acknowledgement and routing
change is one `AuditRecord` on the `audit` topic (JSON, `schema` versioned,
keyed by alert_id). Records carry a deterministic `id` where a replay would
write the same fact twice (an alert message re-read after a restart), so the
timeline counts each fact once; delivery attempts are facts of their own and
each keeps its own id.

Two clocks, never mixed. Event time is the patient data's clock (a replay or
the demo's simulated ward runs it hours away from now); wall time is when a
person or process acted (the worker publishing, a page going out, a nurse
acknowledging). Every record carries both (`event_ts`, `wall_ts`; `ts` keeps
its schema-1 meaning for older readers), the timeline is ordered on wall time,
and durations are wall-clock durations, labelled so: an ack 8 s after the page
reads 8 s even when the simulated ward moved 90 minutes meanwhile.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from monitor.timestamps import format_ts, parse_ts

SCHEMA = 1


class AuditType(str, enum.Enum):
    ALERT = "alert"
    DELIVERY = "delivery"
    ACK = "ack"
    CONFIG = "config"
    ESCALATION = "escalation"  # notify went up the chain before the timer: `detail` says why
    REROUTE = "reroute"  # the patient moved (ADT transfer): an open alert now goes to the new ward's staff
    ACCESS = "access"  # an ingest credential added or revoked (`wardwatch gateway`)


class Outcome(str, enum.Enum):
    """Result of one delivery attempt (also the metric label)."""

    DELIVERED = "delivered"
    FAILED = "failed"  # will be retried
    UNDELIVERABLE = "undeliverable"  # gave up: sent to notify-dlq


@dataclass(frozen=True, slots=True)
class AuditRecord:
    type: AuditType
    alert_id: str
    patient_id: str
    ts_ms: int  # schema-1 `ts`: alert event time for alerts, wall clock for the others
    recorded_ms: int  # wall clock when notify wrote it
    id: str = ""
    #: Event time (the patient data's clock) of the alert state this record is about; None when unknown.
    event_ms: int | None = None
    #: Wall clock when it happened: the alert's emitted_at, the delivery attempt, the ack; else recorded_ms.
    wall_ms: int | None = None
    # alert
    status: str | None = None
    priority: str | None = None
    kind: str | None = None
    ward: str | None = None
    escalation_level: int | None = None
    reasons: tuple[str, ...] = ()
    # delivery
    stage: str | None = None
    recipient: str | None = None  # person/channel
    name: str | None = None
    role: str | None = None
    channel: str | None = None
    attempt: int | None = None
    outcome: Outcome | None = None
    detail: str | None = None
    # ack
    by: str | None = None
    action: str | None = None
    source: str | None = None  # channel the ack came from (console, cli, pager, ...)
    by_user: str | None = None  # the signed-in account behind `by` (None: a self-declared name)
    auth: str | None = None  # how that account signed in (password, oidc)
    # config
    routing_sha256: str | None = None
    routing_source: str | None = None
    gateway: str | None = None  # an ingest credential added or revoked (`wardwatch gateway`)

    def with_id(self) -> AuditRecord:
        """A deterministic id from the fact itself (replays write the same id)."""
        fact = (
            self.type.value,
            self.alert_id,
            self.status,
            self.priority,
            self.ts_ms,
            self.stage,
            self.recipient,
            self.attempt,
            self.by,
            self.action,
            self.routing_sha256,
            self.ward if self.type is AuditType.REROUTE else None,
            self.recorded_ms if self.type in (AuditType.DELIVERY, AuditType.CONFIG) else None,
        )
        return replace(self, id=hashlib.sha256(repr(fact).encode()).hexdigest()[:16])

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "type": self.type.value,
            "id": self.id,
            "alert_id": self.alert_id,
            "patient_id": self.patient_id,
            "ts": format_ts(self.ts_ms),
            "recorded_at": format_ts(self.recorded_ms),
            "wall_ts": format_ts(self.wall),
        }
        if self.event is not None:
            out["event_ts"] = format_ts(self.event)
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value not in (None, ()):
                out[name] = (
                    value.value if isinstance(value, enum.Enum) else list(value) if isinstance(value, tuple) else value
                )
        return out

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_wire())

    @property
    def event(self) -> int | None:
        """Event time; an alert record's own `ts` is one (records written before `event_ts` existed)."""
        if self.event_ms is not None:
            return self.event_ms
        return self.ts_ms if self.type is AuditType.ALERT else None

    @property
    def wall(self) -> int:
        """Wall time it happened; older records: `ts` of non-alert records is wall clock, else recorded_at."""
        if self.wall_ms is not None:
            return self.wall_ms
        return self.recorded_ms if self.type is AuditType.ALERT else self.ts_ms


_OPTIONAL = (
    "status",
    "priority",
    "kind",
    "ward",
    "escalation_level",
    "reasons",
    "stage",
    "recipient",
    "name",
    "role",
    "channel",
    "attempt",
    "outcome",
    "detail",
    "by",
    "action",
    "source",
    "by_user",
    "auth",
    "routing_sha256",
    "routing_source",
    "gateway",
)


def parse_record(raw: bytes | str) -> AuditRecord:
    """Read one audit message; ValueError for anything not of a schema this code knows."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"audit record is not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"audit record of unknown schema {doc.get('schema') if isinstance(doc, dict) else None!r}")
    values: dict[str, Any] = {name: doc.get(name) for name in _OPTIONAL}
    values["reasons"] = tuple(doc.get("reasons") or ())
    values["outcome"] = Outcome(doc["outcome"]) if doc.get("outcome") else None
    return AuditRecord(
        type=AuditType(doc["type"]),
        alert_id=doc.get("alert_id", ""),
        patient_id=doc.get("patient_id", ""),
        ts_ms=parse_ts(doc["ts"]),
        recorded_ms=parse_ts(doc.get("recorded_at", doc["ts"])),
        id=doc.get("id", ""),
        event_ms=parse_ts(doc["event_ts"]) if doc.get("event_ts") else None,
        wall_ms=parse_ts(doc["wall_ts"]) if doc.get("wall_ts") else None,
        **values,
    )


# ---- timeline ---------------------------------------------------------------

#: The clock durations are measured on, as the table and the JSON say.
DURATION_CLOCK = "wall clock"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    wall_ms: int  # when it happened on the wall clock: the timeline's order
    event_ms: int | None  # the alert's event time (patient data clock), None when the record has none
    event: str  # raised, escalated, delivered, delivery failed, undeliverable, ack, acknowledged, resolved
    detail: str


@dataclass(frozen=True, slots=True)
class Episode:
    """Everything that happened to one alert, in wall-clock order; the moments below are wall clock."""

    alert_id: str
    patient_id: str
    ward: str | None
    routing_sha256: str | None
    entries: tuple[TimelineEntry, ...]
    raised_ms: int | None
    acknowledged_ms: int | None
    acknowledged_by: str | None
    resolved_ms: int | None
    paged: tuple[str, ...]  # names reached, in order

    def to_wire(self) -> dict[str, Any]:
        def seconds(end: int | None) -> float | None:
            return round((end - self.raised_ms) / 1000, 3) if end is not None and self.raised_ms is not None else None

        return {
            "alert_id": self.alert_id,
            "patient_id": self.patient_id,
            "ward": self.ward,
            "routing_sha256": self.routing_sha256,
            "raised_at": format_ts(self.raised_ms) if self.raised_ms is not None else None,
            "acknowledged_at": format_ts(self.acknowledged_ms) if self.acknowledged_ms is not None else None,
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": format_ts(self.resolved_ms) if self.resolved_ms is not None else None,
            "time_to_acknowledge_s": seconds(self.acknowledged_ms),
            "time_to_resolve_s": seconds(self.resolved_ms),
            "durations_clock": "wall",
            "order_clock": "wall",
            "paged": list(self.paged),
            "events": [
                {
                    "wall_ts": format_ts(e.wall_ms),
                    "event_ts": format_ts(e.event_ms) if e.event_ms is not None else None,
                    "event": e.event,
                    "detail": e.detail,
                }
                for e in self.entries
            ],
        }


_DELIVERY_EVENT: dict[Outcome | None, str] = {Outcome.DELIVERED: "delivered", Outcome.FAILED: "delivery failed"}


def _entry(r: AuditRecord) -> TimelineEntry:
    if r.type is AuditType.ALERT:
        level = f", escalation level {r.escalation_level}" if r.escalation_level else ""
        why = f": {'; '.join(r.reasons[:3])}" if r.reasons and r.status in ("raised", "escalated") else ""
        by = f" by {r.by}" if r.by else ""
        return TimelineEntry(r.wall, r.event, r.status or "?", f"{r.priority} {r.kind}{level}{by}{why}")
    if r.type is AuditType.DELIVERY:
        event = _DELIVERY_EVENT.get(r.outcome, "undeliverable")
        tail = f" ({r.detail})" if r.detail and r.outcome is not Outcome.DELIVERED else ""
        role = f" ({r.role})" if r.role else ""
        return TimelineEntry(
            r.wall,
            r.event,
            event,
            f"{stage_text(r.stage or '')} to {r.name}{role} via {r.channel}, attempt {r.attempt}{tail}",
        )
    if r.type is AuditType.ESCALATION:
        return TimelineEntry(r.wall, r.event, "escalated early", f"{stage_text(r.stage or '')}: {r.detail}")
    if r.type is AuditType.REROUTE:
        return TimelineEntry(r.wall, r.event, "rerouted", r.detail or f"to ward {r.ward}")
    if r.by_user:
        who = f" ({r.by_user}, {r.role}, signed in by {r.auth})"
    else:  # a paging system vouches for its recipient; a typed name vouches for nothing
        who = " (self-declared name)" if r.source in ("console", "cli", None) else ""
    return TimelineEntry(r.wall, r.event, "ack", f"{r.action} by {r.by}{who} via {r.source or 'unknown'}")


def stage_text(stage: str) -> str:
    """`escalated-1-high` -> `escalation step 1 (high)`; `acknowledged` -> `stand-down (acknowledged)`."""
    if stage.startswith("escalated-"):
        _, step, priority = stage.split("-", 2)
        return f"escalation step {step} ({priority})"
    if stage in ("acknowledged", "resolved"):
        return f"stand-down ({stage})"
    return "page" if stage == "raised" else stage


def _episode(alert_id: str, records: list[AuditRecord], routing: str | None) -> Episode:
    alerts = [r for r in records if r.type is AuditType.ALERT]

    def first(status: str) -> AuditRecord | None:
        return next((r for r in alerts if r.status == status), None)

    raised = first("raised") or (alerts[0] if alerts else None)
    ack = first("acknowledged")
    ack_msg = next((r for r in records if r.type is AuditType.ACK and r.action == "acknowledge"), None)
    resolved = first("resolved")
    resolve_msg = next((r for r in records if r.type is AuditType.ACK and r.action == "resolve"), None)
    paged = [r.name or "" for r in records if r.type is AuditType.DELIVERY and r.outcome is Outcome.DELIVERED]
    # All on the wall clock: the page, the person acting, the worker publishing the state change.
    acked_ms = min((x.wall for x in (ack, ack_msg) if x), default=None)
    resolved_ms = min((x.wall for x in (resolved, resolve_msg) if x), default=None)
    return Episode(
        alert_id=alert_id,
        patient_id=records[0].patient_id,
        ward=next((r.ward for r in alerts if r.ward), None),
        routing_sha256=routing,
        entries=tuple(_entry(r) for r in records),
        raised_ms=raised.wall if raised else None,
        acknowledged_ms=acked_ms,
        acknowledged_by=(ack_msg.by if ack_msg else None) or (ack.by if ack else None),
        resolved_ms=resolved_ms,
        paged=tuple(dict.fromkeys(paged)),
    )


def timelines(records: Iterable[AuditRecord], query: str) -> list[Episode]:
    """Episodes of the patient or alert `query`, each with the routing in force when it began."""
    seen: set[str] = set()
    ordered = []
    for r in sorted(records, key=lambda r: (r.wall, r.recorded_ms)):
        if r.id and r.id in seen:
            continue
        seen.add(r.id)
        ordered.append(r)
    configs = [r for r in ordered if r.type is AuditType.CONFIG]
    by_alert: dict[str, list[AuditRecord]] = {}
    for r in ordered:
        if r.type is not AuditType.CONFIG and query in (r.alert_id, r.patient_id):
            by_alert.setdefault(r.alert_id, []).append(r)
    out = []
    for alert_id, recs in by_alert.items():
        start = recs[0].wall
        routing = next((c.routing_sha256 for c in reversed(configs) if c.wall <= start), None)
        out.append(_episode(alert_id, recs, routing))
    return out


def render_table(episodes: list[Episode]) -> str:
    """The timeline as a terminal table, one block per episode."""
    blocks = []
    for ep in episodes:
        head = (
            f"alert {ep.alert_id}  patient {ep.patient_id}  ward {ep.ward or '?'}  "
            f"routing sha256:{(ep.routing_sha256 or '?')[:12]}"
        )
        columns = f"  {'wall clock (order)':<24}  {'event time (patient data)':<25}  {'event':<16} detail"
        rows = [
            f"  {format_ts(e.wall_ms):<24}  {format_ts(e.event_ms) if e.event_ms is not None else '-':<25}  "
            f"{e.event:<16} {e.detail}"
            for e in ep.entries
        ]
        summary = ep.to_wire()
        tail = (
            f"  time to acknowledge: {_fmt_s(summary['time_to_acknowledge_s'])}"
            f"   time to resolve: {_fmt_s(summary['time_to_resolve_s'])}"
            f"   ({DURATION_CLOCK}, from the raising alert's publication)"
        )
        blocks.append("\n".join([head, columns, *rows, tail]))
    return "\n\n".join(blocks)


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"
