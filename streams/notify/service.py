"""The notify loop: consume `alerts` and `alert-acks`, page, chase, stand down, audit.

Order of work for each polled batch: audit and deliver every message (alerts
of one id in order, different ids concurrently, so one slow gateway retry
does not hold up another patient's page), record delivery state, flush the
audit writes, and only then commit the offsets. A crash anywhere before the
commit replays the batch, and the durable dedupe keys skip what was done.
Escalation timers run beside the loop on the wall clock from the first page.

The chase is decided and saved (durably, with the pages it means to send)
*before* any delivery starts, and deliveries run outside the alert's lock:
so the timers see the chase from the moment of the first page whatever a
slow or failing gateway is doing, and a restart resumes the pages whose
delivery had not finished. A page that cannot be delivered (retries
exhausted, gateway down) moves the chase up one step at once, with an
`escalation` audit record saying why (docs/failure-behaviour.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, TopicPartition

from alerts.acks import Ack, parse_ack
from alerts.audit import Outcome, stage_text
from alerts.model import Status
from alerts.notification import AlertEvent, build_notification, parse_alert_event
from alerts.routing import (
    Chase,
    Page,
    Recipient,
    Routing,
    advance,
    due_page,
    escalate,
    first_page,
    page_step,
    reroute,
    stage_name,
    start_chase,
)
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
        self.wards = PatientWards(settings, options.wards_topic, settings.topics.patients)
        self.wards.on_move = self._moved
        self.moves: set[asyncio.Task] = set()
        self.producer: AIOKafkaProducer | None = None
        self.offsets = OffsetTracker()
        self.tails: dict[str, asyncio.Task] = {}  # last queued task per alert id
        self.failure: BaseException | None = None
        self._background: set[asyncio.Task] = set()  # page deliveries started by timers or at start-up
        self.state: DeliveryState
        self.audit: AuditWriter
        self.deliverer: Deliverer

    # ---- lifecycle ---------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        self.producer = await producer(self.settings)
        topics = self.settings.topics
        self.state = DeliveryState(self.producer, self.options.state_topic)
        self.audit = AuditWriter(self.producer, topics.audit)
        self.deliverer = Deliverer(
            self.channels, self.state, self.audit, self.producer, topics.notify_dlq, self.routing.delivery
        )
        follower = asyncio.create_task(self.wards.follow())
        cons: AIOKafkaConsumer | None = None
        timers: asyncio.Task | None = None
        try:
            await self.audit.config(self.routing)
            await asyncio.gather(self.state.load(self.settings), self.wards.loaded.wait())
            for pid in {c.patient_id for c in self.state.chases.values()}:  # moved while notify was down
                await self._reroute(pid)
            cons = await consumer(
                self.settings,
                topics.alerts,
                topics.acks,
                group_id=self.options.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=500,
                fetch_max_wait_ms=_FETCH_WAIT_MS,
                **_group_timeouts(self.settings),
            )
            metrics.READY.set(1)
            metrics.OPEN_CHASES.set(len(self.state.chases))
            timers = asyncio.create_task(self._timers(stop))
            self._resume_unfinished()
            log.info(
                "notify consuming %s and %s as group %s (routing %s sha256:%s)",
                topics.alerts,
                topics.acks,
                self.options.group_id,
                self.routing.source,
                self.routing.sha256[:12],
            )
            await self._consume(cons, stop)
        finally:
            metrics.READY.set(0)
            for task in (timers, follower, *self.moves):
                if task:
                    task.cancel()
            await asyncio.gather(*(t for t in (timers, follower) if t), return_exceptions=True)
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
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
            deliver: Awaitable[None] | None = None
            if item is not None:
                async with self.locks[item[1].alert_id]:
                    if isinstance(item[1], Ack):
                        await self._on_ack(item[1], item[0])
                    else:
                        deliver = await self._on_alert(item[1])
            if deliver is not None:  # outside the lock: timers and acks of this alert go on meanwhile
                await deliver
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
            await self.deliverer.dead_letter(
                None,
                f"{record.topic}@{record.partition}:{record.offset}: {exc}",
                "invalid_input",
                payload=record.value or b"",
            )
            return None
        metrics.MESSAGES.labels("acks" if is_ack else "alerts").inc()
        return (_ack_source(record.value) if is_ack else ""), item

    # ---- alerts ------------------------------------------------------------
    def _locate(self, event: AlertEvent) -> AlertEvent:
        pid = event.patient_id
        return replace(
            event,
            ward=event.ward or self.wards.ward(pid) or self.routing.default_ward,
            bed=event.bed or self.wards.bed(pid),
        )

    async def _on_alert(self, event: AlertEvent) -> Awaitable[None] | None:
        """Decide (and save) what to page for this alert message; the caller delivers it, lock released."""
        event = self._locate(event)
        await self.audit.alert(event, event.ward or "")
        chase = self.state.chases.get(event.alert_id)
        now = _now_ms()
        if event.status in (Status.ACKNOWLEDGED, Status.RESOLVED):
            return await self._close(chase, event, now)
        if event.emitted_at_ms and self.options.max_age_s and now - event.emitted_at_ms > self.options.max_age_s * 1000:
            log.info(
                "alert %s emitted %.0f s ago: audited, not paged", event.alert_id, (now - event.emitted_at_ms) / 1000
            )
            return None
        if chase is None:  # (an `escalated` seen first, e.g. notify started late, goes straight to its step)
            chase = start_chase(event.alert_id, event.patient_id, event.ward or "", event.priority, event.ts_ms, now)
        if event.status is Status.ESCALATED:
            chase, page = escalate(self.routing, chase, event.priority, event.escalation_level, now)
        else:
            page = first_page(self.routing, chase, now)  # for a replayed `raised`, dedupe skips what was sent
        return self._deliver_page(await self._decide(advance(chase, page), event, page))

    async def _decide(self, chase: Chase, event: AlertEvent, page: Page) -> _PageJob:
        """Save the chase with this page before any delivery (call under the alert's lock): from here on the
        escalation timers count, whatever the delivery does, and a restart resumes the page."""
        if not page.recipients:
            await self.deliverer.dead_letter(
                None,
                f"nobody on call for ward {chase.ward} at {chase.priority.value} priority: check the rota",
                "no_recipient",
                alert_id=chase.alert_id,
            )
        await self.state.save_chase(
            chase.with_paged([r.key for r in page.recipients]),
            event,
            tuple((page.stage, page.reason, r.key) for r in page.recipients),
        )
        metrics.OPEN_CHASES.set(len(self.state.chases))
        return _PageJob(event, page)

    async def _deliver_page(self, job: _PageJob) -> None:
        """Deliver a decided page; if nobody on it could be reached, go up the chain now."""
        outcomes = await self._send(job.event, job.page.stage, job.page.reason, job.page.recipients)
        if outcomes and all(o is Outcome.UNDELIVERABLE for o in outcomes):
            await self._escalate_undeliverable(job)

    async def _escalate_undeliverable(self, job: _PageJob) -> None:
        """A page that cannot be delivered is itself a reason to page the next step (audited with why)."""
        alert_id, failed = job.event.alert_id, job.page
        async with self.locks[alert_id]:
            chase = self.state.chases.get(alert_id)
            if chase is None or chase.acked_ms is not None or chase.step > failed.step:
                return  # acknowledged, closed, or already further up the chain
            chain = self.routing.chain(chase.ward, chase.priority)
            step = failed.step + 1
            names = ", ".join(r.name for r in failed.recipients)
            if step >= len(chain):
                log.error(
                    "alert %s: %s to %s could not be delivered and the chain has no further step",
                    alert_id,
                    stage_text(failed.stage),
                    names,
                )
                return
            why = f"{stage_text(failed.stage)} to {names} could not be delivered"
            page = page_step(self.routing, chase, step, _now_ms(), stage_name(step, chase.priority), why)
            log.warning("alert %s: %s; escalating to step %d now", alert_id, why, page.step)
            await self.audit.escalation(
                alert_id,
                chase.patient_id,
                page.stage,
                chase.priority.value,
                chase.ward,
                why,
                event_ms=self.state.event_ms(alert_id),
            )
            job = await self._decide(advance(chase, page), self.state.events.get(alert_id, job.event), page)
            await self.audit.flush()
        self._spawn(self._deliver_page(job))

    def _spawn(self, coro: Any) -> None:
        """Run a page delivery beside the loop (a timer must not wait for a gateway's retries)."""
        task = asyncio.create_task(self._guarded(coro))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _guarded(self, coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Kafka down mid-write: stop; the restart resumes the saved page
            log.exception("a page delivery failed")
            self.failure = self.failure or exc

    def _resume_unfinished(self) -> None:
        """Pages decided before a restart whose delivery had not finished: deliver them now (dedupe skips
        what went out; a replayed alert message sending the same page waits on the in-flight one)."""
        resumed = 0
        for alert_id, chase in list(self.state.chases.items()):
            event = self.state.events.get(alert_id)
            if event is None or chase.acked_ms is not None:
                continue
            by_stage: dict[tuple[str, str], list[Recipient]] = {}
            for stage, why, key in self.state.unfinished(alert_id):
                recipient = self.routing.recipient(key)
                if recipient is not None:
                    by_stage.setdefault((stage, why), []).append(recipient)
            for (stage, why), recipients in by_stage.items():
                step = int(stage.split("-")[1]) if stage.startswith("escalated-") else 0
                self._spawn(self._deliver_page(_PageJob(event, Page(alert_id, step, stage, why, tuple(recipients)))))
                resumed += 1
        if resumed:
            log.info("resuming %d pages whose delivery had not finished before the restart", resumed)

    async def _send(
        self, event: AlertEvent, stage: str, why: str, recipients: tuple[Recipient, ...]
    ) -> list[Outcome | None]:
        notes = []
        for r in recipients:
            channel = self.channels[r.channel]
            notes.append(
                build_notification(event, stage, r, channel.redaction, self.routing.console_url, event.ward or "", why)
            )
        return list(await asyncio.gather(*(self.deliverer.deliver(n, event) for n in notes)))

    async def _close(self, chase: Chase | None, event: AlertEvent, now: int) -> Awaitable[None] | None:
        """Stop chasing now (saved, under the lock); return the stand-down to deliver once the lock is released
        (once: after `acknowledged`, `resolved` tells only the rest)."""
        if chase is None:
            return None
        labels = (chase.priority.value, chase.ward)
        elapsed = max(0.0, (event.ts_ms - chase.raised_ts_ms) / 1000)
        if chase.acked_ms is None:
            if event.status is Status.ACKNOWLEDGED:
                metrics.TIME_TO_ACK.labels(*labels).observe(elapsed)
            chase = replace(chase, acked_ms=event.ts_ms)
            await self.state.save_chase(chase, self.state.events.get(chase.alert_id, event))  # no timer pages now
        told = [k for k in chase.paged if self.state.done(f"{chase.alert_id}|{Status.ACKNOWLEDGED.value}|{k}")]
        keys = sorted(chase.paged - frozenset(told)) if event.status is Status.RESOLVED else sorted(chase.paged)
        paged = tuple(r for r in (self.routing.recipient(k) for k in keys) if r)
        return self._stand_down(chase, event, paged, now, elapsed)

    async def _stand_down(
        self, chase: Chase, event: AlertEvent, paged: tuple[Recipient, ...], now: int, elapsed: float
    ) -> None:
        """Tell whoever was paged; a resolved alert's chase is closed after (a crash before re-tells)."""
        await self._send(event, event.status.value, "stand down", paged)
        if event.status is Status.RESOLVED:
            async with self.locks[chase.alert_id]:
                metrics.TIME_TO_RESOLVE.labels(chase.priority.value, chase.ward).observe(elapsed)
                await self.state.close_chase(chase.alert_id, now)
            self.locks.pop(chase.alert_id, None)
        metrics.OPEN_CHASES.set(len(self.state.chases))

    # ---- transfers (ADT) ---------------------------------------------------
    def _moved(self, patient_id: str, old_ward: str | None, new_ward: str) -> None:
        """ADT moved a patient: re-route their open alerts (a task: the wards follower must not wait)."""
        task = asyncio.create_task(self._reroute(patient_id))
        self.moves.add(task)
        task.add_done_callback(self._move_done)

    def _move_done(self, task: asyncio.Task) -> None:
        self.moves.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("re-routing after a transfer failed: %r", task.exception())
            self.failure = self.failure or task.exception()  # stop uncommitted: a restart reconciles

    async def _reroute(self, patient_id: str) -> None:
        """Each open chase of the patient follows them to ADT's ward: audited, and its current step
        paged on the new ward unless it is already acknowledged (then the new ward is only recorded)."""
        new = self.wards.adt_ward(patient_id)
        if not new:
            return
        for alert_id in [a for a, c in self.state.chases.items() if c.patient_id == patient_id and c.ward != new]:
            job = None
            async with self.locks[alert_id]:
                chase = self.state.chases.get(alert_id)
                if chase is None or chase.ward == new:
                    continue
                now = _now_ms()
                moved, page = reroute(self.routing, chase, new, now)
                event = replace(self.state.events[alert_id], ward=new, bed=self.wards.bed(patient_id))
                await self.audit.reroute(alert_id, patient_id, now, chase.ward, new, chase.priority.value, event.ts_ms)
                log.info("alert %s re-routed after a transfer to ward %s", alert_id, new)
                if chase.acked_ms is None and page.recipients:
                    job = await self._decide(moved, event, page)  # saved first: a restart resumes the page
                else:
                    await self.state.save_chase(moved, event)
                await self.audit.flush()
            if job is not None:
                self._spawn(self._deliver_page(job))  # delivered outside the lock, like every page

    # ---- acks --------------------------------------------------------------
    async def _on_ack(self, ack: Ack, source: str) -> None:
        """An ack from staff stops the chase at once (the worker's `acknowledged` follows)."""
        await self.audit.ack(ack, source, event_ms=self.state.event_ms(ack.alert_id))
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
                if self.locks[alert_id].locked():
                    continue  # being decided right now: the next tick looks again (never wait behind it)
                try:
                    await self._tick(alert_id)
                except Exception:  # a timer must never die: the next tick retries
                    log.exception("escalation timer of alert %s failed", alert_id)

    async def _tick(self, alert_id: str) -> None:
        job = None
        async with self.locks[alert_id]:
            chase = self.state.chases.get(alert_id)
            page = due_page(self.routing, chase, _now_ms()) if chase else None
            if chase and page:
                job = await self._decide(advance(chase, page), self.state.events[alert_id], page)
                await self.audit.flush()
        if job is not None:
            self._spawn(self._deliver_page(job))


@dataclass(frozen=True, slots=True)
class _PageJob:
    """A page decided and saved with its chase, to be delivered."""

    event: AlertEvent
    page: Page


def _alert_key(raw: bytes | None) -> str:
    """The alert id a message belongs to, cheaply (invalid messages share one queue)."""
    try:
        doc = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        return ""
    return str(doc.get("alert_id", "")) if isinstance(doc, dict) else ""


def _group_timeouts(settings: Settings) -> dict[str, int]:
    """The worker's group liveness settings (a restarted or surviving notify takes over in seconds, as a
    worker does); shorter still on the embedded broker in tests."""
    if not settings.fast_rebalance:
        return {
            "session_timeout_ms": int(settings.session_timeout_s * 1000),
            "heartbeat_interval_ms": int(settings.heartbeat_interval_s * 1000),
            "rebalance_timeout_ms": int(settings.rebalance_timeout_s * 1000),
        }
    return {
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 500,
        "rebalance_timeout_ms": 3000,
        "max_poll_interval_ms": 60000,
    }


def _ack_source(raw: bytes | None) -> str:
    """Which channel an ack came from: its optional `source` or `channel` field, else `unspecified`."""
    try:
        doc = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        return "unknown"
    return str(doc.get("source") or doc.get("channel") or "unspecified") if isinstance(doc, dict) else "unknown"
