"""The Faust worker: agents, the state table, timers, web endpoints.

One agent reads `vitals` and the internal repartition topic (messages whose
key did not match their patient are re-keyed there first, so each patient's
state lives on exactly one partition); another moves acks onto the patient's
partition. Per-patient state is a Faust table of compact bytes, written for
the patients that changed right before each offset commit (a Faust sensor
hook; Faust then flushes the producer and commits), so the changelog always
covers what the committed offsets claim. Alerts go through the processor's
outbox (see streams/worker/processor.py), so a crash never separates an input's
state change from the alerts it caused. docs/durability.md has the argument.

Three repairs to Faust for this deployment, all at import time below:
- `rocksdict://` store: Faust's RocksDB store files a write under the
  *current event's* partition and asserts there is one; our checkpoints run
  in the commit task (no event) and a patient's partition is its key's
  murmur2, so this store files by key.
- changelog recovery highwater: Faust asks ListOffsets for the end of each
  changelog partition; tansu answers "base offset of the last batch + 1", so
  recovery ended early and dropped the tail of the last checkpoint. The end
  is taken from a fetch's high watermark instead (equal on Apache Kafka).
- fetch wait: tansu answers a fetch only when its max wait expires (it does
  not wake a waiting fetch when data arrives) and Faust hard-codes 1500 ms, so
  a caught-up worker saw each message up to 1.5 s late. The wait is
  WARDWATCH_FETCH_MAX_WAIT_MS (50 ms); on Apache Kafka it only adds idle fetches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import faust
from aiokafka.partitioner import murmur2
from faust.sensors import Sensor
from faust.stores import STORES
from faust.stores.rocksdb import Store as _RocksStore
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from alerts.config import load_policy
from alerts.model import Alert, Priority, Status
from monitor.compiled import summary as hot_path_summary
from streams import metrics
from streams.config import Settings
from streams.kafka import BrokerWatch, DeadLetter
from streams.worker import (
    ACK_TAG,
    OUT_ALERT,
    VITALS_TAG,
    Outcome,
    Processor,
    Staged,
    fastlane,
    partition_for,
)
from streams.worker.waiting import WaitReporter

log = logging.getLogger("wardwatch.worker")

TABLE_NAME = "patient_state"

#: Optional parts of the worker (web pages, ingest, listeners), each a module
#: with `register(worker)`; absent modules are skipped so parts land one by one.
EXTENSIONS: tuple[str, ...] = (
    "streams.ingest.http",
    "streams.ingest.mllp",
    "streams.console.web",
    "streams.adt.places",  # the patients table, the `adt` agent, alert locations, discharge retention
)


#: Test hook (tests/integration/test_durability.py): after this many alerts are
#: acknowledged by Kafka, the process dies at once (os._exit(137), like
#: SIGKILL): a crash between publishing an alert and checkpointing/committing,
#: a moment a signal from outside cannot aim at. Unset in production.
CRASH_AFTER_ALERTS = int(os.environ.get("WARDWATCH_TEST_CRASH_AFTER_ALERTS", "0") or 0)


class PatientRocksStore(_RocksStore):
    """Faust's RocksDB store (rocksdict driver), filing each key under its murmur2 partition."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("driver", "rocksdict")
        super().__init__(*args, **kwargs)

    def _partition_of(self, key: bytes) -> int:
        partitions = self.table.partitions or self.app.conf.topic_partitions
        return (murmur2(key) & 0x7FFFFFFF) % partitions

    def _set(self, key: bytes, value: bytes | None) -> None:
        partition = self._partition_of(key)
        self._key_index[key] = partition
        self._db_for_partition(partition).put(key, value)


STORES.aliases["rocksdict"] = f"{__name__}:PatientRocksStore"

#: aiokafka client settings for the highwater probe (set by Worker).
_PROBE_KWARGS: dict[str, Any] = {}
_list_offsets_highwaters = AIOKafkaConsumerThread._highwaters


async def fetch_highwaters(listed: dict, timeout: float = 10.0) -> dict:
    """Correct ListOffsets' end offsets with a fetch's high watermark (tansu reports the last batch's base + 1)."""
    from aiokafka import AIOKafkaConsumer

    need = {tp: end for tp, end in listed.items() if end}
    if not need or not _PROBE_KWARGS:
        return dict(listed)
    probe = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **_PROBE_KWARGS)
    await probe.start()
    result = dict(listed)
    try:
        probe.assign(list(need))
        for tp, end in need.items():
            probe.seek(tp, max(0, end - 1))
        deadline = time.monotonic() + timeout
        todo = set(need)
        while todo and time.monotonic() < deadline:
            await probe.getmany(*todo, timeout_ms=200, max_records=1)
            for tp in list(todo):
                high = probe.highwater(tp)
                if high is not None:
                    result[tp] = max(need[tp], high)
                    todo.discard(tp)
        if todo:
            log.warning("changelog highwater probe timed out for %d partitions", len(todo))
    finally:
        await probe.stop()
    return result


async def _fetched_highwaters(self: Any, partitions: Any) -> Any:
    listed = await _list_offsets_highwaters(self, partitions)
    if self.consumer.in_transaction:
        return listed
    return await fetch_highwaters(dict(listed))


AIOKafkaConsumerThread._highwaters = _fetched_highwaters

FETCH_MAX_WAIT_MS = int(os.environ.get("WARDWATCH_FETCH_MAX_WAIT_MS", "50"))
_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer


def _short_fetch_wait(self: Any, transport: Any) -> Any:
    consumer = _create_worker_consumer(self, transport)
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by aiokafka's Fetcher at start()
    return consumer


AIOKafkaConsumerThread._create_worker_consumer = _short_fetch_wait


def faust_credentials(settings: Settings) -> Any:
    """Faust's own consumer/producer get the same TLS/SASL as our aiokafka clients."""
    sec = settings.security
    if sec.protocol == "PLAINTEXT":
        return None
    ssl_context = None
    if sec.protocol in ("SSL", "SASL_SSL"):
        import ssl

        ssl_context = ssl.create_default_context(cafile=sec.ssl_cafile)
    if sec.sasl_mechanism:
        return faust.SASLCredentials(
            username=sec.sasl_username,
            password=sec.sasl_password,
            mechanism=sec.sasl_mechanism,
            ssl_context=ssl_context,
        )
    return faust.SSLCredentials(ssl_context)


#: Label children bound once: `.labels()` per message is measurable at 10k msg/s.
_VITALS_MESSAGES = metrics.MESSAGES.labels("vitals")
_REPARTITIONED = metrics.MESSAGES.labels("repartition")
_ACK_MESSAGES = metrics.MESSAGES.labels("ack")


def faust_settings(settings: Settings, partitions: int) -> dict[str, Any]:
    store = "rocksdict://" if settings.store.startswith("rocks") else "memory://"
    conf: dict[str, Any] = {
        "broker": [f"kafka://{h}" for h in settings.bootstrap_servers],
        "store": store,
        "datadir": str(settings.data_dir),
        "topic_partitions": partitions,
        "topic_replication_factor": settings.replication,
        "consumer_auto_offset_reset": "earliest",
        "processing_guarantee": settings.processing_guarantee,
        "web_enabled": True,
        "web_port": settings.web_port,
        "web_bind": settings.web_host,
        "web_host": "127.0.0.1",
        "producer_acks": -1,
        "table_standby_replicas": 0,
        "broker_commit_interval": 1.0,
        "broker_credentials": faust_credentials(settings),
    }
    # Group liveness from settings (default session 6 s, heartbeat 1 s, rebalance 10 s): Faust's own
    # defaults (60 s / 3 s / 60 s) left a SIGKILLed worker's patients unwatched for over a minute.
    # Heartbeats come from the consumer's own thread (AIOKafkaConsumerThread), so a busy event loop
    # does not miss them.
    conf.update(
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        consumer_group_instance_id=settings.group_instance_id,
    )
    if settings.fast_rebalance:
        # Tests on the embedded broker: join the group in ~1 s.
        conf.update(broker_rebalance_timeout=2.0, broker_session_timeout=6.0, broker_heartbeat_interval=0.5)
    return conf


class CheckpointSensor(Sensor):
    """Writes dirty patient state to the table just before Faust commits offsets;
    times rebalance + recovery and brings recovered patients into memory."""

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    def on_commit_initiated(self, consumer: Any) -> Any:
        self.worker.checkpoint()
        return None

    def on_rebalance_start(self, app: Any) -> dict:
        self.worker.synced = False
        self.worker.report_waiting()
        return {"time_start": time.monotonic()}

    def on_rebalance_return(self, app: Any, state: dict) -> None:
        state["time_return"] = time.monotonic()  # partitions assigned: table recovery starts

    def on_rebalance_end(self, app: Any, state: dict) -> None:
        now = time.monotonic()
        self.worker.after_recovery(now - state.get("time_start", now), now - state.get("time_return", now))


class Worker:
    def __init__(self, settings: Settings, partitions: int) -> None:
        self.settings = settings
        self.partitions = partitions
        self.app = faust.App(settings.app_id, **faust_settings(settings, partitions))
        topics = settings.topics
        self.repartition_name = topics.repartition(settings.app_id)
        raw = {"key_serializer": "raw", "value_serializer": "raw", "partitions": partitions}
        self.input_topic = self.app.topic(topics.vitals, self.repartition_name, **raw)
        self.acks_topic = self.app.topic(topics.acks, **raw)
        self.repartition_topic = self.app.topic(self.repartition_name, **raw)
        self.alerts_topic = self.app.topic(topics.alerts, **raw)
        self.dlq_topic = self.app.topic(topics.dlq, key_serializer="raw", value_serializer="raw")
        # key_type/value_type bytes: Faust picks the changelog's serializers from
        # them (raw); with only a schema it wrote raw but recovered as JSON.
        self.table = self.app.Table(
            TABLE_NAME,
            default=None,
            partitions=partitions,
            use_partitioner=True,
            key_type=bytes,
            value_type=bytes,
            schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
        )
        self.processor = Processor(
            load_policy(settings.config_path),
            partitions,
            self._load,
            outbox=True,
            future_tolerance_s=settings.future_tolerance_s,
        )
        self.positions: dict[int, int] = {}
        self.synced = False  # recovered patients loaded since the last rebalance
        self.waiting = WaitReporter(settings)
        self._wait_task: asyncio.Future | None = None
        self.alerts_delivered = 0
        self._lag_labels: set[int] = set()
        #: Broker reachable and every topic present (docs/failure-behaviour.md); gates /readyz and ingest.
        self.broker_watch = BrokerWatch(settings, partitions, f"{settings.app_id}-{TABLE_NAME}-changelog")
        self._background: set[asyncio.Future] = set()
        #: Parts that must be up before /readyz says so (e.g. the ingest producer: a gateway
        #: sent to a "ready" worker must not get "Kafka unavailable" back).
        self.readiness_checks: dict[str, Callable[[], bool]] = {"kafka": self.broker_watch.ok}
        _PROBE_KWARGS.clear()
        _PROBE_KWARGS.update(bootstrap_servers=settings.bootstrap_servers, **settings.security.aiokafka_kwargs())
        self.app.agent(self.input_topic, name="wardwatch.vitals")(self._vitals_agent)
        if settings.batch_lane and settings.processing_guarantee != "exactly_once":
            fastlane.install(self.app, (topics.vitals, self.repartition_name), self._lane_record)
        self.app.agent(self.acks_topic, name="wardwatch.acks")(self._acks_agent)
        self.app.timer(1.0)(self._tick)
        self.app.task(self._watch_broker)
        self.add_page("/healthz", self._healthz)
        self.add_page("/readyz", self._readyz)
        self.app.monitor  # noqa: B018  the property creates the monitor on first read; sensors need it to exist
        self.app.sensors.add(CheckpointSensor(self))
        self.app.on_partitions_revoked.connect(self._on_revoked)
        self._register_extensions()

    def add_page(self, path: str, handler: Any) -> None:
        """Serve `handler(request)` on the worker's web server (Faust passes its View first)."""

        async def page(view: Any, request: Any) -> Any:
            return await handler(view, request)

        page.__name__ = "page_" + path.strip("/").replace("/", "_")
        self.app.page(path)(page)

    def _register_extensions(self) -> None:
        import importlib

        for name in EXTENSIONS:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue
                raise
            module.register(self)

    # ---- state -----------------------------------------------------------
    def _load(self, patient_id: str) -> bytes | None:
        return self.table.get(patient_id.encode())

    def checkpoint(self) -> None:
        """Write every changed patient (state + outbox) to the table; Faust sends it to the changelog."""
        records = self.processor.checkpoint()
        for pid, blob in records:
            self.table[pid.encode()] = blob
        if records:
            metrics.CHECKPOINTS.inc(len(records))
            metrics.STATE_BYTES.set(sum(len(b) for _, b in records) / len(records))

    def assigned_partitions(self) -> set[int]:
        try:
            return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == self.settings.topics.vitals}
        except Exception:
            return set()

    async def _on_revoked(self, app: Any, revoked: Any, **kwargs: Any) -> None:
        # Faust has already waited for the agents and committed (our sensor
        # checkpointed then); write whatever timers changed since, and make
        # sure it is in the changelog before another worker recovers from it.
        self.checkpoint()
        try:
            await self.app.producer.flush()
        except Exception:
            log.warning("producer flush on revoke failed", exc_info=True)

    def after_recovery(self, took: float, recovery: float = 0.0) -> None:
        """The assignment is recovered: drop patients that moved away, load the ones we now own."""
        owned = self.assigned_partitions()
        self.processor.forget(lambda pid: partition_for(pid, self.partitions) in owned)
        started = time.monotonic()
        items: Iterable[tuple[str, bytes]] = (
            (key.decode(), value)
            for key, value in self.table.items()
            if partition_for(key.decode(), self.partitions) in owned
        )
        loaded = self.processor.load_all(items)
        resend = self.processor.take_resend()
        if resend:
            self._spawn(self._send_staged(resend))
        self.synced = True
        load = time.monotonic() - started
        metrics.RECOVERY_SECONDS.set(recovery + load)
        metrics.PATIENTS.set(len(self.processor.engines))
        log.info(
            "ready: %d input partitions, %d patients in memory (%d loaded from state), %d staged outputs "
            "resent; table recovery %.2f s + loading %.2f s (whole rebalance %.2f s); hot path %s",
            len(owned),
            len(self.processor.engines),
            loaded,
            len(resend),
            recovery,
            load,
            took + load,
            hot_path_summary(),
        )

    def _spawn(self, coro: Any) -> None:
        fut = asyncio.ensure_future(coro)
        self._background.add(fut)
        fut.add_done_callback(self._background.discard)

    # ---- agents ----------------------------------------------------------
    async def _vitals_agent(self, stream: Any) -> None:
        """Faust's per-message path; idle while the batch lane (streams/worker/fastlane.py) takes the input."""
        async for event in stream.events():
            msg = event.message
            await self.handle_input(msg.topic, msg.partition, msg.offset, _raw_bytes(event.value))

    async def _lane_record(self, record: Any) -> None:
        await self.handle_input(record.topic, record.partition, record.offset, _raw_bytes(record.value))

    async def handle_input(self, topic: str, partition: int, offset: int, raw: bytes) -> None:
        """One `vitals` or repartition message, start to finish; bad input is dead-lettered, never raised."""
        started = time.perf_counter()
        try:
            if topic == self.repartition_name:
                tag, body = raw[:1], raw[1:]
                if tag == ACK_TAG:
                    out = self.processor.handle_ack(body, topic, partition, offset, route=False)
                    _ACK_MESSAGES.inc()
                else:
                    out = self.processor.handle_vitals(body, topic, partition, offset, route=False)
                    _REPARTITIONED.inc()
                raw = body
            else:
                out = self.processor.handle_vitals(raw, topic, partition, offset)
                _VITALS_MESSAGES.inc()
                self.positions[partition] = offset
            if self.processor.resend:  # a patient loaded lazily with unacknowledged outputs: those first
                await self._send_staged(self.processor.take_resend())
            await self._publish(out, raw, VITALS_TAG)
        except Exception as exc:  # never let one message stop the ward
            log.exception("internal error on %s[%s]@%s", topic, partition, offset)
            await self._dead_letter(
                DeadLetter(f"internal error: {exc!r}", "internal_error", raw, topic, partition, offset)
            )
        metrics.PROCESSING.observe(time.perf_counter() - started)

    async def _acks_agent(self, stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            raw = _raw_bytes(event.value)
            try:
                out = self.processor.handle_ack(raw, msg.topic, msg.partition, msg.offset, route=True)
                await self._publish(out, raw, ACK_TAG)
            except Exception as exc:
                log.exception("internal error on ack %s[%s]@%s", msg.topic, msg.partition, msg.offset)
                await self._dead_letter(
                    DeadLetter(f"internal error: {exc!r}", "internal_error", raw, msg.topic, msg.partition, msg.offset)
                )

    async def _publish(self, out: Outcome, raw: bytes, tag: bytes) -> None:
        if out.forward_to is not None:
            await self.repartition_topic.send(key=out.forward_to.encode(), value=tag + raw)
            return
        if not out.letters_staged:  # inputs that changed no state: sent before the offset commits
            for letter in out.dead_letters:
                await self._dead_letter(letter)
        if out.samples:
            metrics.SAMPLES.inc(out.samples)
            if out.newest_ts_ms:
                metrics.EVENT_LAG.set(max(0.0, time.time() - out.newest_ts_ms / 1000))
        if out.staged:
            await self._send_staged(out.staged)

    async def _send_alerts(self, alerts: list[Alert]) -> None:
        """Publish alert state changes (staged in the outbox first: call right after the state change)."""
        if alerts:
            await self._send_staged(self.processor.stage_alerts(alerts))

    async def _send_staged(self, staged: list[Staged]) -> None:
        for entry in staged:
            if entry.kind == OUT_ALERT:
                fut = await self.alerts_topic.send(key=entry.patient_id.encode(), value=entry.value)
                alert = entry.alert
                if alert is not None:
                    metrics.ALERTS.labels(alert.kind.value, alert.priority.value, alert.status.value).inc()
                    if alert.status is Status.ACKNOWLEDGED and alert.raised_ts_ms is not None:
                        waited = max(0.0, (alert.ts_ms - alert.raised_ts_ms) / 1000)
                        metrics.ACK_SECONDS.labels(alert.priority.value).observe(waited)
                    log.info(
                        "alert %s %s %s priority=%s",
                        alert.alert_id,
                        alert.status.value,
                        alert.kind.value,
                        alert.priority.value,
                        extra={"alert_id": alert.alert_id},
                    )
                else:
                    log.info("resent staged alert after recovery")
            else:
                fut = await self.dlq_topic.send(value=entry.value)
                metrics.REJECTED.labels(_letter_reason(entry.value)).inc()
                log.info("dead-lettered part of an input")
            fut.add_done_callback(lambda f, e=entry: self._delivered(f, e))

    def _delivered(self, fut: Any, entry: Staged) -> None:
        if fut.cancelled() or fut.exception() is not None:
            log.error(
                "publishing a staged %s failed (kept for resend after restart): %r",
                entry.kind,
                None if fut.cancelled() else fut.exception(),
            )
            return
        self.processor.delivered(entry)
        if entry.kind == OUT_ALERT:
            self.alerts_delivered += 1
            if CRASH_AFTER_ALERTS and self.alerts_delivered >= CRASH_AFTER_ALERTS:
                log.warning("test hook: exiting after %d alerts, before checkpoint and commit", self.alerts_delivered)
                logging.shutdown()
                os._exit(137)

    async def _dead_letter(self, letter: DeadLetter) -> None:
        await self.dlq_topic.send(value=letter.to_bytes())
        metrics.REJECTED.labels(letter.reason).inc()
        log.info("dead-lettered input from %s[%s]@%s: %s", letter.topic, letter.partition, letter.offset, letter.reason)

    # ---- timers and endpoints --------------------------------------------
    async def _watch_broker(self) -> None:
        await self.broker_watch.run()

    def report_waiting(self) -> None:
        """A rebalance started: say at once what the worker waits for, then every few seconds until it is
        processing again (a silent minute looked like a hang)."""
        log.info("not processing while the consumer group rebalances: %s", self.waiting.rebalance_text())
        if self._wait_task is None or self._wait_task.done():
            self.waiting.since = time.monotonic()
            self._wait_task = asyncio.ensure_future(self._report_until_ready())

    async def _report_until_ready(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.ready():
                self.waiting.done()
                return
            self.waiting.report(self.wait_reason())

    def wait_reason(self) -> str:
        """What stands between this worker and processing, in words for the log and /readyz."""
        app = self.app
        if not self.assigned_partitions() or app.rebalancing:
            return self.waiting.rebalance_text()
        if app.in_recovery or not app.tables.recovery.completed.is_set():
            return "recovering patient state from the changelog topic"
        problem = self.broker_watch.status.problem()
        if problem:
            return problem
        pending = sorted(name for name, check in self.readiness_checks.items() if not check())
        if pending:
            return "waiting for " + ", ".join(pending)
        return "loading recovered patients"

    async def _tick(self) -> None:
        # Timers only run for patients this worker owns: not while partitions move.
        if self.synced and not self.app.rebalancing:
            await self._send_alerts(self.processor.tick(time.time()))
        metrics.PATIENTS.set(len(self.processor.engines))
        self._open_episodes()
        self._consumer_lag()

    def _open_episodes(self) -> None:
        """Open episodes by priority across this worker's patients (a few µs per patient, once a second)."""
        counts = dict.fromkeys(Priority, 0)
        for engine in self.processor.engines.values():
            for episode in engine.policy.episodes.values():
                counts[episode.priority] += 1
        for priority, count in counts.items():
            metrics.OPEN_EPISODES.labels(priority.value).set(count)

    def _consumer_lag(self) -> None:
        try:
            consumer = self.app.consumer
            assigned = [tp for tp in consumer.assignment() if tp.topic == self.settings.topics.vitals]
        except Exception:
            return
        metrics.ASSIGNED_PARTITIONS.set(len(assigned))
        owned = {tp.partition for tp in assigned}
        for gone in [p for p in self._lag_labels if p not in owned]:
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(str(gone))  # moved to another worker: reported there now
            self._lag_labels.discard(gone)
            self.positions.pop(gone, None)
        for tp in assigned:
            try:
                high = consumer.highwater(tp)  # from the last fetch response: right on tansu too
            except Exception:
                continue
            if high is None:
                continue
            if tp.partition in self.positions:
                done = self.positions[tp.partition] + 1
            else:  # nothing processed here yet: the committed offset is where we stand
                done = getattr(consumer, "_committed_offset", {}).get(tp) or 0
            metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, high - done))
            self._lag_labels.add(tp.partition)
        metrics.READY.set(1 if self.ready() else 0)

    def ready(self) -> bool:
        app = self.app
        try:
            recovered = app.tables.recovery.completed.is_set()
        except Exception:
            recovered = False
        return bool(
            recovered
            and self.synced
            and not app.rebalancing
            and not app.in_recovery
            and all(check() for check in self.readiness_checks.values())
        )

    async def _healthz(self, web: Any, request: Any) -> Any:
        return web.json({"status": "alive"})

    async def _readyz(self, web: Any, request: Any) -> Any:
        ready = self.ready()
        body = {
            "ready": ready,
            "reason": "" if ready else self.wait_reason(),
            "kafka_problem": self.broker_watch.status.problem(),
            "patients": len(self.processor.engines),
            "waiting_for": sorted(name for name, check in self.readiness_checks.items() if not check()),
            "partitions": sorted(self.assigned_partitions()),
            "pending_outputs": self.processor.pending(),
        }
        return web.json(body, status=200 if ready else 503)


def _raw_bytes(value: Any) -> bytes:
    """A record's value as bytes (a tombstone's None as empty: it is dead-lettered, not dropped)."""
    return value if isinstance(value, bytes) else bytes(value or b"")


def _letter_reason(value: bytes) -> str:
    import orjson

    try:
        return str(orjson.loads(value).get("reason") or "unknown")
    except Exception:
        return "unknown"
