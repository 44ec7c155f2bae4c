"""Durable delivery state: what was delivered to whom, and which alerts are being chased.

Kept on the compacted topic `notify-state` and read back in full at start, so
a restarted notify neither re-pages a person for a status they already got
nor forgets an unacknowledged alert's escalation timer. Keys:
`alert_id|stage|person/channel` -> {"outcome"} for deliveries, and
`alert_id|chase` -> the chase (a tombstone once it is closed),
`alert_id|done` -> when its chase closed on `resolved`.
The value is written *after* the delivery and *before* the alerts offset is
committed: a crash in between re-sends, and the gateway dedupes on the
`X-Wardwatch-Delivery` header (the same key).

Delivery keys are only needed while an alert can still be replayed into a
page; `prune` tombstones those of alerts resolved long enough ago, so the
topic (and the notifier's start-up read and memory) stays proportional to the
recent alerts, not to every alert ever paged. The audit topic keeps the story.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from alerts.model import Priority, Status
from alerts.notification import AlertEvent
from alerts.routing import Chase
from streams.config import Settings
from streams.notify.read_all import read_topic

log = logging.getLogger("wardwatch.notify")

#: How many closed alerts keep their event time for late acks (a few hours of a busy hospital).
CLOSED_EVENTS_KEPT = 10_000
_CHASE = "|chase"
_DONE = "|done"


def _alert_of(key: str) -> str:
    return key.split("|", 1)[0]


def _event_to_wire(e: AlertEvent) -> dict[str, Any]:
    return {
        "alert_id": e.alert_id,
        "patient_id": e.patient_id,
        "status": e.status.value,
        "priority": e.priority.value,
        "kind": e.kind,
        "ts_ms": e.ts_ms,
        "reasons": list(e.reasons),
        "news2_total": e.news2_total,
        "news2_band": e.news2_band,
        "ward": e.ward,
        "bed": e.bed,
        "escalation_level": e.escalation_level,
        "acknowledged_by": e.acknowledged_by,
        "emitted_at_ms": e.emitted_at_ms,
    }


def _event_from_wire(doc: dict[str, Any]) -> AlertEvent:
    return AlertEvent(
        **{
            **doc,
            "status": Status(doc["status"]),
            "priority": Priority(doc["priority"]),
            "reasons": tuple(doc["reasons"]),
        }
    )


#: A page decided but maybe not yet delivered: (stage, why, recipient key). Saved with its chase before
#: any delivery starts, so a restart resumes it (its dedupe key says whether it already went out).
Pending = tuple[str, str, str]


def chase_to_wire(chase: Chase, event: AlertEvent, pending: tuple[Pending, ...] = ()) -> dict[str, Any]:
    return {
        "pending": [list(p) for p in pending],
        "alert_id": chase.alert_id,
        "patient_id": chase.patient_id,
        "ward": chase.ward,
        "priority": chase.priority.value,
        "raised_ts_ms": chase.raised_ts_ms,
        "started_ms": chase.started_ms,
        "step": chase.step,
        "paged": sorted(chase.paged),
        "acked_ms": chase.acked_ms,
        "event": _event_to_wire(event),
    }


def chase_from_wire(doc: dict[str, Any]) -> tuple[Chase, AlertEvent]:
    chase = Chase(
        doc["alert_id"],
        doc["patient_id"],
        doc["ward"],
        Priority(doc["priority"]),
        doc["raised_ts_ms"],
        doc["started_ms"],
        doc["step"],
        frozenset(doc["paged"]),
        doc.get("acked_ms"),
    )
    return chase, _event_from_wire(doc["event"])


class DeliveryState:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer, self.topic = producer, topic
        self.outcomes: dict[str, str] = {}
        self.chases: dict[str, Chase] = {}
        self.events: dict[str, AlertEvent] = {}  # latest alert message of each chase: the text of its pages
        #: Event time of recently closed alerts: an ack read after the alert's `resolved` (the two topics
        #: are not ordered against each other) still gets its event clock in the audit trail.
        self.closed_event_ms: OrderedDict[str, int] = OrderedDict()
        self.keys_of: dict[str, set[str]] = {}  # alert_id -> its delivery keys (what prune tombstones)
        self.finished: dict[str, int] = {}  # alert_id -> wall ms its chase closed on `resolved`
        self.pending: dict[str, tuple[Pending, ...]] = {}  # alert_id -> pages decided, delivery maybe unfinished

    async def load(self, settings: Settings) -> None:
        """Replay the whole state topic (last value per key wins, as compaction would keep)."""
        for record in await read_topic(settings, self.topic):
            key = (record.key or b"").decode()
            if key.endswith(_CHASE):
                alert_id = key[: -len(_CHASE)]
                if record.value is None:
                    self.chases.pop(alert_id, None)
                    self.events.pop(alert_id, None)
                    self.pending.pop(alert_id, None)
                else:
                    doc = orjson.loads(record.value)
                    self.chases[alert_id], self.events[alert_id] = chase_from_wire(doc)
                    self.pending[alert_id] = tuple(tuple(p) for p in doc.get("pending", ()))  # type: ignore[misc]
            elif key.endswith(_DONE):
                alert_id = key[: -len(_DONE)]
                if record.value is None:
                    self.finished.pop(alert_id, None)
                else:
                    self.finished[alert_id] = int(orjson.loads(record.value)["at_ms"])
            elif record.value is None:
                self.outcomes.pop(key, None)
                self.keys_of.get(_alert_of(key), set()).discard(key)
            else:
                self.outcomes[key] = orjson.loads(record.value)["outcome"]
                self.keys_of.setdefault(_alert_of(key), set()).add(key)
        log.info(
            "delivery state loaded: %d deliveries, %d open chases, %d resolved alerts kept",
            len(self.outcomes),
            len(self.chases),
            len(self.finished),
        )

    def done(self, key: str) -> bool:
        return key in self.outcomes

    async def mark(self, key: str, outcome: str, at: str) -> None:
        self.outcomes[key] = outcome
        self.keys_of.setdefault(_alert_of(key), set()).add(key)
        await self.producer.send_and_wait(self.topic, orjson.dumps({"outcome": outcome, "at": at}), key=key.encode())

    def unfinished(self, alert_id: str) -> tuple[Pending, ...]:
        """Pages of this alert decided earlier whose delivery has not finished (no outcome recorded)."""
        return tuple(p for p in self.pending.get(alert_id, ()) if not self.done(f"{alert_id}|{p[0]}|{p[2]}"))

    async def save_chase(self, chase: Chase, event: AlertEvent, add: tuple[Pending, ...] = ()) -> None:
        """Write the chase (and its unfinished pages plus `add`) and wait for Kafka to have it."""
        pending = tuple(dict.fromkeys(self.unfinished(chase.alert_id) + add))
        self.chases[chase.alert_id], self.events[chase.alert_id] = chase, event
        self.pending[chase.alert_id] = pending
        await self.producer.send_and_wait(
            self.topic, orjson.dumps(chase_to_wire(chase, event, pending)), key=(chase.alert_id + _CHASE).encode()
        )

    async def close_chase(self, alert_id: str, now_ms: int) -> None:
        """Stop chasing (the alert resolved at wall `now_ms`) and start the clock after which `prune` forgets it."""
        closed = self.events.pop(alert_id, None)
        if closed is not None:
            self.closed_event_ms[alert_id] = closed.ts_ms
            while len(self.closed_event_ms) > CLOSED_EVENTS_KEPT:
                self.closed_event_ms.popitem(last=False)
        self.pending.pop(alert_id, None)
        if self.chases.pop(alert_id, None) is not None:
            await self.producer.send_and_wait(self.topic, None, key=(alert_id + _CHASE).encode())
        self.finished[alert_id] = now_ms
        await self.producer.send_and_wait(self.topic, orjson.dumps({"at_ms": now_ms}), key=(alert_id + _DONE).encode())

    def event_ms(self, alert_id: str) -> int | None:
        """The alert's latest event time, open or recently closed (None: never seen)."""
        known = self.events.get(alert_id)
        return known.ts_ms if known is not None else self.closed_event_ms.get(alert_id)

    async def prune(self, now_ms: int, keep_ms: int) -> int:
        """Tombstone the delivery keys of alerts resolved at least `keep_ms` ago; returns how many alerts."""
        old = [a for a, at in self.finished.items() if now_ms - at >= keep_ms and a not in self.chases]
        for alert_id in old:
            keys = [*sorted(self.keys_of.pop(alert_id, ())), alert_id + _DONE]
            for key in keys:
                self.outcomes.pop(key, None)
                await self.producer.send(self.topic, None, key=key.encode())
            del self.finished[alert_id]
        if old:
            await self.producer.flush()
            log.info("forgot the delivery state of %d alerts resolved over %.0f h ago", len(old), keep_ms / 3.6e6)
        return len(old)
