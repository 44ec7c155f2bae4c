"""The notify loop: consume `alerts` and `alert-acks`, page, chase, stand down, audit.

Order of work for each polled batch: audit and deliver every message (alerts
of one id in order, different ids concurrently, so one slow gateway retry
does not hold up another patient's page), record delivery state, flush the
audit writes, and only then commit the offsets. A crash anywhere before the
commit replays the batch, and the durable dedupe keys skip what was done.
Escalation timers run beside the loop on the wall clock from the first page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, replace

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, TopicPartition

from alerts.acks import Ack, parse_ack
from alerts.model import Status
from alerts.notification import AlertEvent, build_notification, parse_alert_event
from alerts.routing import Chase, Page, Recipient, Routing, advance, due_page, escalate, first_page, start_chase
from streams.config import Settings
from streams.kafka import consumer, producer
from streams.notify import metrics
from streams.notify.audit_writer import AuditWriter
from streams.notify.channels import Channel
from streams.notify.deliver import Deliverer
from streams.notify.offsets import OffsetTracker
from streams.notify.state import DeliveryState
from streams.notify.wards import PatientWards

log = logging.getLogger("wardwatch.notify")


@dataclass(frozen=True, slots=True)
class NotifyOptions:
    routing: Routing
    group_id: str
    state_topic: str = "notify-state"
    wards_topic: str = "patient-wards"
    tick_s: float = 1.0
    max_age_s: float = 3600.0  # alerts emitted longer ago are audited, not paged (a replayed backlog)
    #: Delivery state of an alert is forgotten this long after it resolved (it only dedupes replays,
    #: which max_age_s bounds); the audit topic keeps what was sent.
    forget_after_s: float = 24 * 3600.0


#: The embedded broker does not end a long-poll fetch when data arrives, so a short fetch wait is
#: the page latency floor (p50 ~3 ms instead of ~140 ms); on Kafka it only costs idle polls.
_FETCH_WAIT_MS = 50
#: Seconds between sweeps forgetting the delivery state of long-resolved alerts.
_PRUNE_EVERY_S = 60
#: Messages being handled at once before polling pauses.
_MAX_IN_FLIGHT = 1000


def _now_ms() -> int:
    return int(time.time() * 1000)


class Notifier:
    def __init__(self, settings: Settings, options: NotifyOptions, channels: dict[str, Channel]) -> None:
        self.settings, self.options, self.routing, self.channels = settings, options, options.routing, channels
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.wards = PatientWards(settings, options.wards_topic)
        self.producer: AIOKafkaProducer | None = None
        self.offsets = OffsetTracker()
        self.tails: dict[str, asyncio.Task] = {}  # last queued task per alert id
        self.failure: BaseException | None = None
        self.state: DeliveryState
        self.audit: AuditWriter
        self.deliverer: Deliverer

    # ---- lifecycle ---------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        self.producer = await producer(self.settings)
        topics = self.settings.topics
        self.state = DeliveryState(self.producer, self.options.state_topic)
        self.audit = AuditWriter(self.producer, topics.audit)
        self.deliverer = Deliverer(self.channels, self.state, self.audit, self.producer, topics.notify_dlq,
                                   self.routing.delivery)
        follower = asyncio.create_task(self.wards.follow())
        cons: AIOKafkaConsumer | None = None
        timers: asyncio.Task | None = None
        try:
            await self.audit.config(self.routing)
            await asyncio.gather(self.state.load(self.settings), self.wards.loaded.wait())
            cons = await consumer(self.settings, topics.alerts, topics.acks, group_id=self.options.group_id,
                                  enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=500,
                                  fetch_max_wait_ms=_FETCH_WAIT_MS, **_group_timeouts(self.settings))
            metrics.READY.set(1)
            metrics.OPEN_CHASES.set(len(self.state.chases))
            timers = asyncio.create_task(self._timers(stop))
            log.info("notify consuming %s and %s as group %s (routing %s sha256:%s)", topics.alerts, topics.acks,
                     self.options.group_id, self.routing.source, self.routing.sha256[:12])
            await self._consume(cons, stop)
        finally:
            metrics.READY.set(0)
            for task in (timers, follower):
                if task:
                    task.cancel()
            await asyncio.gather(*(t for t in (timers, follower) if t), return_exceptions=True)
            if cons:
                await cons.stop()
            await self.audit.flush()
            await self.producer.stop()
            for channel in self.channels.values():
                await channel.close()

    async def _consume(self, cons: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Poll, hand each message to its alert's queue, commit what is safe; drain on stop."""
        while not stop.is_set():
            if self.failure:
                raise self.failure
            if self.offsets.busy >= _MAX_IN_FLIGHT:
                await asyncio.sleep(0.05)  # back-pressure: a dead gateway must not fill memory
            else:
                batch = await cons.getmany(timeout_ms=200)
                for tp, records in batch.items():
                    for record in records:
                        self._dispatch(tp, record)
            await self._commit(cons)
        deadline = time.monotonic() + 20
        while self.offsets.busy and time.monotonic() < deadline and not self.failure:
            await asyncio.sleep(0.05)
        await self._commit(cons)

    async def _commit(self, cons: AIOKafkaConsumer) -> None:
        """Audit lines first, then offsets: a committed alert always has its audit trail and state."""
        assigned = cons.assignment()
        offsets = {tp: o for tp, o in self.offsets.to_commit().items() if tp in assigned}
        if not offsets:
            return
        await self.audit.flush()
        try:
            await cons.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:  # a rebalance moved the partition: its new owner replays
            log.warning("offset commit skipped: %s", exc)
            return
        self.offsets.mark_committed(offsets)

    def _dispatch(self, tp: TopicPartition, record: ConsumerRecord) -> None:
        """Messages of one alert run in order (each waits for the previous); different alerts in parallel."""
        self.offsets.started(tp, record.offset)
        key = _alert_key(record.value)
        previous = self.tails.get(key)
        task = asyncio.create_task(self._handle(previous, tp, record))
        self.tails[key] = task
        task.add_done_callback(lambda t: self.tails.pop(key, None) if self.tails.get(key) is t else None)

    async def _handle(self, previous: asyncio.Task | None, tp: TopicPartition, record: ConsumerRecord) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            item = await self._parse(record)
            if item is not None:
                async with self.locks[item[1].alert_id]:
                    if isinstance(item[1], Ack):
                        await self._on_ack(item[1], item[0])
                    else:
                        await self._on_alert(item[1])
        except Exception as exc:  # Kafka down mid-write: stop uncommitted, a restart replays this message
            log.exception("handling %s@%d:%d failed", record.topic, record.partition, record.offset)
            self.failure = self.failure or exc
            return
        self.offsets.finished(tp, record.offset)

    async def _parse(self, record: ConsumerRecord) -> tuple[str, AlertEvent | Ack] | None:
        """(ack source, parsed message); an unusable message goes to notify-dlq with its reason."""
        is_ack = record.topic == self.settings.topics.acks
        try:
            item = parse_ack(record.value) if is_ack else parse_alert_event(record.value)
        except (ValueError, TypeError) as exc:
            metrics.MESSAGES.labels("invalid").inc()
            await self.deliverer.dead_letter(None, f"{record.topic}@{record.partition}:{record.offset}: {exc}",
                                             "invalid_input", payload=record.value or b"")
            return None
        metrics.MESSAGES.labels("acks" if is_ack else "alerts").inc()
        return (_ack_source(record.value) if is_ack else ""), item

    # ---- alerts ------------------------------------------------------------
    def _locate(self, event: AlertEvent) -> AlertEvent:
        pid = event.patient_id
        return replace(event, ward=event.ward or self.wards.ward(pid) or self.routing.default_ward,
                       bed=event.bed or self.wards.bed(pid))

    async def _on_alert(self, event: AlertEvent) -> None:
        event = self._locate(event)
        await self.audit.alert(event, event.ward or "")
        chase = self.state.chases.get(event.alert_id)
        now = _now_ms()
        if event.status in (Status.ACKNOWLEDGED, Status.RESOLVED):
            await self._close(chase, event, now)
            return
        if event.emitted_at_ms and self.options.max_age_s and now - event.emitted_at_ms > self.options.max_age_s * 1000:
            log.info("alert %s emitted %.0f s ago: audited, not paged", event.alert_id,
                     (now - event.emitted_at_ms) / 1000)
            return
        if chase is None:  # (an `escalated` seen first, e.g. notify started late, goes straight to its step)
            chase = start_chase(event.alert_id, event.patient_id, event.ward or "", event.priority, event.ts_ms, now)
        if event.status is Status.ESCALATED:
            chase, page = escalate(self.routing, chase, event.priority, event.escalation_level, now)
        else:
            page = first_page(self.routing, chase, now)  # for a replayed `raised`, dedupe skips what was sent
        await self._page(advance(chase, page), event, page)

    async def _page(self, chase: Chase, event: AlertEvent, page: Page) -> None:
        if not page.recipients:
            await self.deliverer.dead_letter(None, f"nobody on call for ward {chase.ward} at {chase.priority.value} "
                                             "priority: check the rota", "no_recipient", alert_id=chase.alert_id)
        await self._send(event, page.stage, page.reason, page.recipients)
        await self.state.save_chase(chase.with_paged([r.key for r in page.recipients]), event)
        metrics.OPEN_CHASES.set(len(self.state.chases))

    async def _send(self, event: AlertEvent, stage: str, why: str, recipients: tuple[Recipient, ...]) -> None:
        notes = []
        for r in recipients:
            channel = self.channels[r.channel]
            notes.append(build_notification(event, stage, r, channel.redaction, self.routing.console_url,
                                            event.ward or "", why))
        await asyncio.gather(*(self.deliverer.deliver(n, event) for n in notes))

    async def _close(self, chase: Chase | None, event: AlertEvent, now: int) -> None:
        """Stop chasing; tell whoever was paged (once: after `acknowledged`, `resolved` tells only the rest)."""
        if chase is None:
            return
        labels = (chase.priority.value, chase.ward)
        elapsed = max(0.0, (event.ts_ms - chase.raised_ts_ms) / 1000)
        if chase.acked_ms is None:
            if event.status is Status.ACKNOWLEDGED:
                metrics.TIME_TO_ACK.labels(*labels).observe(elapsed)
            chase = replace(chase, acked_ms=event.ts_ms)
        told = [k for k in chase.paged if self.state.done(f"{chase.alert_id}|{Status.ACKNOWLEDGED.value}|{k}")]
        keys = sorted(chase.paged - frozenset(told)) if event.status is Status.RESOLVED else sorted(chase.paged)
        paged = tuple(r for r in (self.routing.recipient(k) for k in keys) if r)
        await self._send(event, event.status.value, "stand down", paged)
        if event.status is Status.RESOLVED:
            metrics.TIME_TO_RESOLVE.labels(*labels).observe(elapsed)
            await self.state.close_chase(chase.alert_id, now)
            self.locks.pop(chase.alert_id, None)
        else:
            await self.state.save_chase(chase, self.state.events.get(chase.alert_id, event))
        metrics.OPEN_CHASES.set(len(self.state.chases))

    # ---- acks --------------------------------------------------------------
    async def _on_ack(self, ack: Ack, source: str) -> None:
        """An ack from staff stops the chase at once (the worker's `acknowledged` follows)."""
        await self.audit.ack(ack, source)
        chase = self.state.chases.get(ack.alert_id)
        if chase is None or chase.acked_ms is not None:
            return
        at = ack.ts_ms or _now_ms()
        metrics.TIME_TO_ACK.labels(chase.priority.value, chase.ward).observe(max(0.0, (at - chase.raised_ts_ms) / 1000))
        await self.state.save_chase(replace(chase, acked_ms=at), self.state.events[ack.alert_id])

    # ---- escalation timers -------------------------------------------------
    async def _timers(self, stop: asyncio.Event) -> None:
        next_prune = 0.0
        while not stop.is_set():
            await asyncio.sleep(self.options.tick_s)
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + _PRUNE_EVERY_S
                try:
                    await self.state.prune(_now_ms(), int(self.options.forget_after_s * 1000))
                except Exception:
                    log.exception("pruning the delivery state failed (retried in %d s)", _PRUNE_EVERY_S)
            for alert_id in list(self.state.chases):
                try:
                    await self._tick(alert_id)
                except Exception:  # a timer must never die: the next tick retries
                    log.exception("escalation timer of alert %s failed", alert_id)

    async def _tick(self, alert_id: str) -> None:
        async with self.locks[alert_id]:
            chase = self.state.chases.get(alert_id)
            page = due_page(self.routing, chase, _now_ms()) if chase else None
            if chase and page:
                await self._page(advance(chase, page), self.state.events[alert_id], page)
                await self.audit.flush()


def _alert_key(raw: bytes | None) -> str:
    """The alert id a message belongs to, cheaply (invalid messages share one queue)."""
    try:
        doc = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        return ""
    return str(doc.get("alert_id", "")) if isinstance(doc, dict) else ""


def _group_timeouts(settings: Settings) -> dict[str, int]:
    """Short group timeouts for the embedded broker, so a restarted notify takes over in seconds."""
    if not settings.fast_rebalance:
        return {}
    return {"session_timeout_ms": 6000, "heartbeat_interval_ms": 500, "rebalance_timeout_ms": 3000,
            "max_poll_interval_ms": 60000}


def _ack_source(raw: bytes | None) -> str:
    """Which channel an ack came from: its optional `source` or `channel` field, else `unspecified`."""
    try:
        doc = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        return "unknown"
    return str(doc.get("source") or doc.get("channel") or "unspecified") if isinstance(doc, dict) else "unknown"
