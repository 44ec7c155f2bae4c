"""Durable delivery state: what was delivered to whom, and which alerts are being chased.

Kept on the compacted topic `notify-state` and read back in full at start, so
a restarted notify neither re-pages a person for a status they already got
nor forgets an unacknowledged alert's escalation timer. Keys:
`alert_id|stage|person/channel` -> {"outcome"} for deliveries, and
`alert_id|chase` -> the chase (a tombstone once it is closed).
The value is written *after* the delivery and *before* the alerts offset is
committed: a crash in between re-sends, and the gateway dedupes on the
`X-Wardwatch-Delivery` header (the same key).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from alerts.model import Priority, Status
from alerts.notification import AlertEvent
from alerts.routing import Chase
from streams.config import Settings
from streams.notify.read_all import read_topic

log = logging.getLogger("wardwatch.notify")

_CHASE = "|chase"


def _event_to_wire(e: AlertEvent) -> dict[str, Any]:
    return {"alert_id": e.alert_id, "patient_id": e.patient_id, "status": e.status.value,
            "priority": e.priority.value, "kind": e.kind, "ts_ms": e.ts_ms, "reasons": list(e.reasons),
            "news2_total": e.news2_total, "news2_band": e.news2_band, "ward": e.ward, "bed": e.bed,
            "escalation_level": e.escalation_level, "acknowledged_by": e.acknowledged_by,
            "emitted_at_ms": e.emitted_at_ms}


def _event_from_wire(doc: dict[str, Any]) -> AlertEvent:
    return AlertEvent(**{**doc, "status": Status(doc["status"]), "priority": Priority(doc["priority"]),
                         "reasons": tuple(doc["reasons"])})


def chase_to_wire(chase: Chase, event: AlertEvent) -> dict[str, Any]:
    return {"alert_id": chase.alert_id, "patient_id": chase.patient_id, "ward": chase.ward,
            "priority": chase.priority.value, "raised_ts_ms": chase.raised_ts_ms, "started_ms": chase.started_ms,
            "step": chase.step, "paged": sorted(chase.paged), "acked_ms": chase.acked_ms,
            "event": _event_to_wire(event)}


def chase_from_wire(doc: dict[str, Any]) -> tuple[Chase, AlertEvent]:
    chase = Chase(doc["alert_id"], doc["patient_id"], doc["ward"], Priority(doc["priority"]), doc["raised_ts_ms"],
                  doc["started_ms"], doc["step"], frozenset(doc["paged"]), doc.get("acked_ms"))
    return chase, _event_from_wire(doc["event"])


class DeliveryState:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer, self.topic = producer, topic
        self.outcomes: dict[str, str] = {}
        self.chases: dict[str, Chase] = {}
        self.events: dict[str, AlertEvent] = {}  # latest alert message of each chase: the text of its pages

    async def load(self, settings: Settings) -> None:
        """Replay the whole state topic (last value per key wins, as compaction would keep)."""
        for record in await read_topic(settings, self.topic):
            key = (record.key or b"").decode()
            if key.endswith(_CHASE):
                alert_id = key[: -len(_CHASE)]
                if record.value is None:
                    self.chases.pop(alert_id, None)
                    self.events.pop(alert_id, None)
                else:
                    self.chases[alert_id], self.events[alert_id] = chase_from_wire(orjson.loads(record.value))
            elif record.value is not None:
                self.outcomes[key] = orjson.loads(record.value)["outcome"]
        log.info("delivery state loaded: %d deliveries, %d open chases", len(self.outcomes), len(self.chases))

    def done(self, key: str) -> bool:
        return key in self.outcomes

    async def mark(self, key: str, outcome: str, at: str) -> None:
        self.outcomes[key] = outcome
        await self.producer.send_and_wait(self.topic, orjson.dumps({"outcome": outcome, "at": at}), key=key.encode())

    async def save_chase(self, chase: Chase, event: AlertEvent) -> None:
        self.chases[chase.alert_id], self.events[chase.alert_id] = chase, event
        await self.producer.send_and_wait(self.topic, orjson.dumps(chase_to_wire(chase, event)),
                                          key=(chase.alert_id + _CHASE).encode())

    async def close_chase(self, alert_id: str) -> None:
        self.events.pop(alert_id, None)
        if self.chases.pop(alert_id, None) is not None:
            await self.producer.send_and_wait(self.topic, None, key=(alert_id + _CHASE).encode())
