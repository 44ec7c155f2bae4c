"""Watch the broker and the topics the worker needs; say what is missing; put topics back.

Faust's consumer and producer retry a lost broker quietly, and a broker that
came back empty (the embedded broker keeps topics in memory) left the worker
in table recovery forever while ingest answered 202 / AA. Every few seconds
this lists the broker's topics (one metadata request) and keeps the answer:

- `/readyz` is not ready while the broker is unreachable or a required topic
  is missing, and its body names which (`kafka` in `waiting_for`, `kafka_problem`);
- ingest refuses (HTTP 503 + Retry-After, MLLP AR) while that is so, instead
  of accepting what it cannot deliver to a working pipeline;
- the change is logged once when it happens and then every `REPEAT_S`;
- missing topics are created again (same partition count) so the pipeline
  can resume; state that lived only in the lost changelog is gone with the
  broker, which is why a production broker keeps its data on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streams.config import Settings

log = logging.getLogger("wardwatch.health")

#: Seconds between checks; a broker outage is noticed within this (plus the request timeout).
CHECK_EVERY_S = 2.0
#: Seconds an admin request may take before the broker counts as unreachable.
REQUEST_TIMEOUT_S = 5.0
#: An ongoing problem is logged again this often.
REPEAT_S = 15.0


@dataclass
class KafkaStatus:
    """The last check's answer."""

    reachable: bool = True
    missing: tuple[str, ...] = ()
    error: str = ""
    checked_at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.reachable and not self.missing

    def brief(self) -> str:
        """The problem in words fit for a gateway (no broker address, no topic names); empty when fine."""
        if not self.reachable:
            return "the Kafka broker is unreachable"
        if self.missing:
            return "topics are missing on the Kafka broker"
        return ""

    def problem(self) -> str:
        """In words, for /readyz, the log and the ingest refusal; empty when fine."""
        if not self.reachable:
            return f"Kafka broker unreachable ({self.error})"
        if self.missing:
            return "required topics missing on the broker: " + ", ".join(self.missing)
        return ""


def required_topics(settings: Settings, changelog: str) -> tuple[str, ...]:
    t = settings.topics
    return (t.vitals, t.alerts, t.acks, t.dlq, t.repartition(settings.app_id), changelog)


class BrokerWatch:
    def __init__(self, settings: Settings, partitions: int, changelog: str) -> None:
        self.settings, self.partitions = settings, partitions
        self.required = required_topics(settings, changelog)
        self.changelog = changelog
        self.status = KafkaStatus()
        self._last_log = 0.0
        self._admin: AIOKafkaAdminClient | None = None

    def ok(self) -> bool:
        return self.status.ok

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # the watch must never die
                log.exception("broker check failed")

    async def check(self) -> KafkaStatus:
        before = self.status
        try:
            existing = await asyncio.wait_for(self._list_topics(), REQUEST_TIMEOUT_S)
        except (TimeoutError, KafkaError, OSError) as exc:
            await self._drop_admin()
            status = KafkaStatus(False, (), str(exc) or type(exc).__name__)
        else:
            status = KafkaStatus(True, tuple(t for t in self.required if t not in existing))
        self.status = status
        self._report(before, status)
        if status.reachable and status.missing:
            await self._recreate(status.missing)
        return status

    async def _list_topics(self) -> set[str]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.settings.bootstrap_servers,
                request_timeout_ms=int(REQUEST_TIMEOUT_S * 1000),
                **self.settings.security.aiokafka_kwargs(),
            )
            try:
                await admin.start()
            except BaseException:
                await admin.close()
                raise
            self._admin = admin
        return set(await self._admin.list_topics())

    async def _drop_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):  # a broken client may fail to close; it is dropped anyway
                await admin.close()

    def _report(self, before: KafkaStatus, now: KafkaStatus) -> None:
        moment = time.monotonic()
        if now.ok:
            if not before.ok:
                log.warning("Kafka is back: broker reachable and every required topic present")
            return
        if before.problem() != now.problem() or moment - self._last_log >= REPEAT_S:
            self._last_log = moment
            log.error("not ready: %s; ingest refuses (503 / AR) until this clears", now.problem())

    async def _recreate(self, missing: tuple[str, ...]) -> None:
        """Put missing topics back (the broker lost them, e.g. an in-memory broker restarted)."""
        assert self._admin is not None
        for name in missing:
            try:
                configs = {"cleanup.policy": "compact"} if name == self.changelog else {}
                await self._admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=self.partitions,
                            replication_factor=self.settings.replication,
                            topic_configs=configs,
                        )
                    ]
                )
                log.warning(
                    "re-created missing topic %s (%d partitions): what it held before is lost", name, self.partitions
                )
            except TopicAlreadyExistsError:
                pass
            except KafkaError as exc:
                log.error("could not re-create topic %s: %s", name, exc)
