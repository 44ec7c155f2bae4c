"""The Faust worker: agents, the state table, timers, web endpoints.

One agent reads `vitals` and the internal repartition topic (messages whose
key did not match their patient are re-keyed there first, so each patient's
state lives on exactly one partition); another moves acks onto the patient's
partition. Per-patient state is a Faust table of compact bytes, written for
the patients that changed right before each offset commit (a Faust sensor
hook), so the changelog always covers what the committed offsets claim.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
import orjson
from faust.sensors import Sensor

from alerts.config import load_policy
from alerts.model import Alert, Status

from streams import metrics
from streams.config import Settings
from streams.deadletter import DeadLetter
from streams.processor import ACK_TAG, VITALS_TAG, Outcome, Processor, partition_for

log = logging.getLogger("wardwatch.worker")

TABLE_NAME = "patient_state"

#: Optional parts of the worker (web pages, ingest, listeners), each a module
#: with `register(worker)`; absent modules are skipped so parts land one by one.
EXTENSIONS: tuple[str, ...] = (
    "streams.ingest_http",
    "streams.mllp_server",
    "streams.console",
)


def utc_now_text() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def faust_settings(settings: Settings, partitions: int) -> dict[str, Any]:
    store = "rocksdb://" if settings.store.startswith("rocks") else "memory://"
    if store == "rocksdb://":
        store = "rocksdict://"
    conf: dict[str, Any] = dict(
        broker=[f"kafka://{h}" for h in settings.bootstrap_servers],
        store=store,
        datadir=str(settings.data_dir),
        topic_partitions=partitions,
        topic_replication_factor=settings.replication,
        consumer_auto_offset_reset="earliest",
        processing_guarantee=settings.processing_guarantee,
        web_enabled=True,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_host="127.0.0.1",
        producer_acks=-1,
        table_standby_replicas=0,
        broker_commit_interval=1.0,
        broker_credentials=None,
    )
    if settings.fast_rebalance:
        # The embedded broker: join the group in ~1 s instead of ~30 s.
        conf.update(broker_rebalance_timeout=2.0, broker_session_timeout=6.0, broker_heartbeat_interval=0.5)
    return conf


class CheckpointSensor(Sensor):
    """Writes dirty patient state to the table just before Faust commits offsets."""

    def __init__(self, worker: "Worker") -> None:
        super().__init__()
        self.worker = worker

    def on_commit_initiated(self, consumer: Any) -> Any:
        self.worker.checkpoint()
        return None


class Worker:
    def __init__(self, settings: Settings, partitions: int) -> None:
        self.settings = settings
        self.partitions = partitions
        self.app = faust.App(settings.app_id, **faust_settings(settings, partitions))
        topics = settings.topics
        self.repartition_name = topics.repartition(settings.app_id)
        raw = dict(key_serializer="raw", value_serializer="raw", partitions=partitions)
        self.input_topic = self.app.topic(topics.vitals, self.repartition_name, **raw)
        self.acks_topic = self.app.topic(topics.acks, **raw)
        self.repartition_topic = self.app.topic(self.repartition_name, **raw)
        self.alerts_topic = self.app.topic(topics.alerts, **raw)
        self.dlq_topic = self.app.topic(topics.dlq, key_serializer="raw", value_serializer="raw")
        self.table = self.app.Table(
            TABLE_NAME, default=None, partitions=partitions, use_partitioner=True,
            schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
        )
        self.processor = Processor(load_policy(settings.config_path), partitions, self._load)
        self.positions: dict[int, int] = {}
        self.app.agent(self.input_topic, name="wardwatch.vitals")(self._vitals_agent)
        self.app.agent(self.acks_topic, name="wardwatch.acks")(self._acks_agent)
        self.app.timer(1.0)(self._tick)
        self.add_page("/healthz", self._healthz)
        self.add_page("/readyz", self._readyz)
        self.app.monitor  # ensure monitor exists before adding sensors
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
        records = self.processor.checkpoint()
        for pid, blob in records:
            self.table[pid.encode()] = blob
        if records:
            metrics.CHECKPOINTS.inc(len(records))
            metrics.STATE_BYTES.set(sum(len(b) for _, b in records) / len(records))

    async def _on_revoked(self, app: Any, revoked: Any, **kwargs: Any) -> None:
        self.checkpoint()
        lost = {tp.partition for tp in revoked if tp.topic == self.settings.topics.vitals}
        if lost:
            self.processor.forget(lambda pid: partition_for(pid, self.partitions) not in lost)

    # ---- agents ----------------------------------------------------------
    async def _vitals_agent(self, stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            raw = event.value if isinstance(event.value, bytes) else bytes(event.value or b"")
            started = time.perf_counter()
            try:
                if msg.topic == self.repartition_name:
                    tag, body = raw[:1], raw[1:]
                    if tag == ACK_TAG:
                        out = self.processor.handle_ack(body, msg.topic, msg.partition, msg.offset, route=False)
                        metrics.MESSAGES.labels("ack").inc()
                    else:
                        out = self.processor.handle_vitals(body, msg.topic, msg.partition, msg.offset, route=False)
                        metrics.MESSAGES.labels("repartition").inc()
                    raw = body
                else:
                    out = self.processor.handle_vitals(raw, msg.topic, msg.partition, msg.offset)
                    metrics.MESSAGES.labels("vitals").inc()
                    self.positions[msg.partition] = msg.offset
                await self._publish(out, raw, VITALS_TAG)
            except Exception as exc:  # never let one message stop the ward
                log.exception("internal error on %s[%s]@%s", msg.topic, msg.partition, msg.offset)
                await self._dead_letter(DeadLetter(f"internal error: {exc!r}", "internal_error", raw, msg.topic,
                                                   msg.partition, msg.offset))
            metrics.PROCESSING.observe(time.perf_counter() - started)

    async def _acks_agent(self, stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            raw = event.value if isinstance(event.value, bytes) else bytes(event.value or b"")
            try:
                out = self.processor.handle_ack(raw, msg.topic, msg.partition, msg.offset, route=True)
                await self._publish(out, raw, ACK_TAG)
            except Exception as exc:
                log.exception("internal error on ack %s[%s]@%s", msg.topic, msg.partition, msg.offset)
                await self._dead_letter(DeadLetter(f"internal error: {exc!r}", "internal_error", raw, msg.topic,
                                                   msg.partition, msg.offset))

    async def _publish(self, out: Outcome, raw: bytes, tag: bytes) -> None:
        if out.forward_to is not None:
            await self.repartition_topic.send(key=out.forward_to.encode(), value=tag + raw)
            return
        for letter in out.dead_letters:
            await self._dead_letter(letter)
        if out.samples:
            metrics.SAMPLES.inc(out.samples)
            if out.newest_ts_ms:
                metrics.EVENT_LAG.set(max(0.0, time.time() - out.newest_ts_ms / 1000))
        await self._send_alerts(out.alerts)

    async def _send_alerts(self, alerts: list[Alert]) -> None:
        emitted = utc_now_text()
        for alert in alerts:
            await self.alerts_topic.send(key=alert.patient_id.encode(), value=orjson.dumps(alert.to_wire(emitted)))
            metrics.ALERTS.labels(alert.kind.value, alert.priority.value, alert.status.value).inc()
            log.info("alert %s %s %s priority=%s", alert.alert_id, alert.status.value, alert.kind.value,
                     alert.priority.value)

    async def _dead_letter(self, letter: DeadLetter) -> None:
        await self.dlq_topic.send(value=letter.to_bytes())
        metrics.REJECTED.labels(letter.reason).inc()
        log.info("dead-lettered input from %s[%s]@%s: %s", letter.topic, letter.partition, letter.offset,
                 letter.reason)

    # ---- timers and endpoints --------------------------------------------
    async def _tick(self) -> None:
        await self._send_alerts(self.processor.tick(time.time()))
        metrics.PATIENTS.set(len(self.processor.engines))
        self._consumer_lag()

    def _consumer_lag(self) -> None:
        try:
            consumer = self.app.consumer
            assigned = [tp for tp in consumer.assignment() if tp.topic == self.settings.topics.vitals]
        except Exception:
            return
        metrics.ASSIGNED_PARTITIONS.set(len(assigned))
        for tp in assigned:
            try:
                high = consumer.highwater(tp)
            except Exception:
                continue
            if high is None:
                continue
            done = self.positions.get(tp.partition, -1) + 1
            metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(0, high - done))
        metrics.READY.set(1 if self.ready() else 0)

    def ready(self) -> bool:
        app = self.app
        try:
            recovered = app.tables.recovery.completed.is_set()
        except Exception:
            recovered = False
        return bool(recovered and not app.rebalancing and not app.in_recovery)

    async def _healthz(self, web: Any, request: Any) -> Any:
        return web.json({"status": "alive"})

    async def _readyz(self, web: Any, request: Any) -> Any:
        ready = self.ready()
        body = {"ready": ready, "patients": len(self.processor.engines)}
        return web.json(body, status=200 if ready else 503)
