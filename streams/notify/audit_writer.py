"""Appends audit records to the `audit` topic, keyed by alert_id.

Sends are not awaited one by one (a page must not wait for its audit line);
`flush()` awaits them all before the alerts offset is committed, so no
committed alert lacks its audit trail.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaProducer

from alerts.acks import Ack
from alerts.audit import AuditRecord, AuditType, Outcome
from alerts.notification import AlertEvent, Notification
from alerts.routing import Routing


def _now_ms() -> int:
    return int(time.time() * 1000)


class AuditWriter:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer, self.topic = producer, topic
        self._pending: list[asyncio.Future] = []

    async def _append(self, record: AuditRecord) -> None:
        record = record.with_id()
        self._pending.append(
            await self.producer.send(self.topic, record.to_bytes(), key=record.alert_id.encode() or None)
        )

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)

    async def alert(self, event: AlertEvent, ward: str) -> None:
        now = _now_ms()
        # Wall time of an alert is when the worker published it (emitted_at), not when notify read it:
        # a notify catching up after a restart must not move the page's moment.
        await self._append(
            AuditRecord(
                AuditType.ALERT,
                event.alert_id,
                event.patient_id,
                event.ts_ms,
                now,
                event_ms=event.ts_ms,
                wall_ms=event.emitted_at_ms or now,
                status=event.status.value,
                priority=event.priority.value,
                kind=event.kind,
                ward=ward,
                escalation_level=event.escalation_level,
                reasons=event.reasons,
                by=event.acknowledged_by,
            )
        )

    async def delivery(
        self, n: Notification, patient_id: str, attempt: int, outcome: Outcome, detail: str, sent_ms: int | None = None
    ) -> None:
        """`sent_ms`: when the attempt left (its place on the wall clock); an ack answering the page comes after it."""
        now = _now_ms()
        r = n.recipient
        await self._append(
            AuditRecord(
                AuditType.DELIVERY,
                n.alert_id,
                patient_id,
                now,
                now,
                event_ms=n.ts_ms or None,
                wall_ms=sent_ms or now,
                stage=n.stage,
                recipient=r.key,
                name=r.name,
                role=r.role,
                channel=r.channel,
                attempt=attempt,
                outcome=outcome,
                detail=detail or None,
                priority=n.priority.value,
                ward=n.ward,
            )
        )

    async def escalation(
        self,
        alert_id: str,
        patient_id: str,
        stage: str,
        priority: str,
        ward: str,
        why: str,
        event_ms: int | None = None,
    ) -> None:
        """Notify went up the chain ahead of the timer (e.g. the page before could not be delivered)."""
        now = _now_ms()
        await self._append(
            AuditRecord(
                AuditType.ESCALATION,
                alert_id,
                patient_id,
                now,
                now,
                event_ms=event_ms,
                wall_ms=now,
                stage=stage,
                priority=priority,
                ward=ward,
                detail=why,
            )
        )

    async def ack(self, ack: Ack, source: str, event_ms: int | None = None) -> None:
        """`event_ms`: event time of the alert state the person answered (the ack itself has only a wall clock)."""
        now = _now_ms()
        await self._append(
            AuditRecord(
                AuditType.ACK,
                ack.alert_id,
                ack.patient_id,
                ack.ts_ms or now,
                now,
                event_ms=event_ms,
                wall_ms=ack.ts_ms or now,
                by=ack.by,
                action=ack.action.value,
                source=source,
                by_user=ack.by_user,
                role=ack.role,
                auth=ack.auth,
                channel=ack.source or source,
            )
        )

    async def reroute(
        self,
        alert_id: str,
        patient_id: str,
        ts_ms: int,
        old_ward: str,
        new_ward: str,
        priority: str,
        event_ms: int | None = None,
    ) -> None:
        """An open alert follows its patient to another ward (ADT transfer); `event_ms`: the alert's event time."""
        now = _now_ms()
        await self._append(
            AuditRecord(
                AuditType.REROUTE,
                alert_id,
                patient_id,
                ts_ms,
                now,
                event_ms=event_ms,
                wall_ms=now,
                priority=priority,
                ward=new_ward,
                detail=f"patient transferred from {old_ward} to {new_ward}: paging {new_ward}'s on-call staff",
            )
        )

    async def config(self, routing: Routing) -> None:
        now = _now_ms()
        await self._append(
            AuditRecord(
                AuditType.CONFIG,
                "",
                "",
                now,
                now,
                wall_ms=now,
                routing_sha256=routing.sha256,
                routing_source=routing.source,
            )
        )
