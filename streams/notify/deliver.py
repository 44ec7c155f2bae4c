"""Delivering one notification: dedupe, retries with backoff and jitter, DLQ, audit, metrics.

At-least-once: a notification is retried until the channel accepts it or the
attempts run out (then it goes to `notify-dlq` with the reason). Its dedupe
key is recorded in the durable state only afterwards, and a key already there
is never sent again, so a restart neither drops nor double-pages.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime

import orjson
from aiokafka import AIOKafkaProducer

from alerts.audit import Outcome
from alerts.notification import AlertEvent, Notification
from alerts.routing import DeliveryPolicy
from streams.notify import metrics
from streams.notify.audit_writer import AuditWriter
from streams.notify.channels import Channel
from streams.notify.state import DeliveryState

log = logging.getLogger("wardwatch.notify")


def backoff_s(attempt: int, policy: DeliveryPolicy, rng: random.Random) -> float:
    """'Equal jitter': half the exponential step fixed, half random, so retries spread but never bunch at 0."""
    step = min(policy.backoff_cap_s, policy.backoff_base_s * 2 ** (attempt - 1))
    return step / 2 + rng.uniform(0, step / 2)


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Deliverer:
    def __init__(
        self,
        channels: dict[str, Channel],
        state: DeliveryState,
        audit: AuditWriter,
        producer: AIOKafkaProducer,
        dlq_topic: str,
        policy: DeliveryPolicy,
    ) -> None:
        self.channels, self.state, self.audit = channels, state, audit
        self.producer, self.dlq_topic, self.policy = producer, dlq_topic, policy
        self.rng = random.Random()
        self.inflight: set[str] = set()  # dedupe keys being sent now (a resumed page and its replay)

    async def deliver(self, n: Notification, event: AlertEvent) -> Outcome | None:
        """Send until accepted or given up; None when it was already done before (a replay)."""
        channel = self.channels[n.recipient.channel]
        if self.state.done(n.dedupe_key) or n.dedupe_key in self.inflight:
            metrics.DELIVERIES.labels(channel.name, "duplicate").inc()
            return None
        self.inflight.add(n.dedupe_key)
        try:
            return await self._attempts(n, event, channel)
        finally:
            self.inflight.discard(n.dedupe_key)

    async def _attempts(self, n: Notification, event: AlertEvent, channel: Channel) -> Outcome:
        for attempt in range(1, self.policy.max_attempts + 1):
            sent_ms = int(time.time() * 1000)  # the attempt's wall time: when the page left, not when it was logged
            started = time.perf_counter()
            result = await channel.send(n)
            metrics.DELIVERY_SECONDS.labels(channel.name).observe(time.perf_counter() - started)
            last = attempt == self.policy.max_attempts or not result.retryable
            outcome = Outcome.DELIVERED if result.ok else Outcome.UNDELIVERABLE if last else Outcome.FAILED
            metrics.DELIVERIES.labels(channel.name, outcome.value).inc()
            await self.audit.delivery(n, event.patient_id, attempt, outcome, result.detail, sent_ms)
            if outcome is Outcome.DELIVERED:
                if event.emitted_at_ms and n.stage == "raised":
                    metrics.ALERT_TO_DELIVERY.observe(max(0.0, time.time() - event.emitted_at_ms / 1000))
                await self.state.mark(n.dedupe_key, outcome.value, _now_text())
                return outcome
            if outcome is Outcome.UNDELIVERABLE:
                await self.dead_letter(
                    n, f"{channel.name}: {result.detail} after {attempt} attempt(s)", "channel_failed"
                )
                await self.state.mark(n.dedupe_key, outcome.value, _now_text())
                return outcome
            log.info("delivery %s failed (%s), attempt %d; retrying", n.dedupe_key, result.detail, attempt)
            await asyncio.sleep(backoff_s(attempt, self.policy, self.rng))
        return Outcome.UNDELIVERABLE  # not reached: the last attempt is final

    async def dead_letter(
        self, n: Notification | None, error: str, reason: str, alert_id: str = "", payload: bytes | None = None
    ) -> None:
        """Record what could not be delivered, and why, on `notify-dlq` (an access-controlled topic)."""
        doc = {"error": error, "reason": reason, "failed_at": _now_text(), "alert_id": n.alert_id if n else alert_id}
        if n is not None:
            doc.update(stage=n.stage, recipient=n.recipient.key, channel=n.recipient.channel, notification=n.to_wire())
        if payload is not None:
            doc["payload"] = payload.decode("utf-8", errors="replace")
        log.error("undeliverable: %s (alert %s)", error, doc["alert_id"])
        await self.producer.send_and_wait(self.dlq_topic, orjson.dumps(doc), key=doc["alert_id"].encode() or None)
