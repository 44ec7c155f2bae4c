"""Shared fixtures: the real embedded broker, real worker processes, real clients.

Integration tests start tansu on a free port (milliseconds), run `wardwatch
worker` as a subprocess exactly as production does, and talk to both with
aiokafka. Nothing is mocked where the broker is the point.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams.kafka.broker import EmbeddedBroker, free_port

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

#: Topics wardwatch writes: every message a test reads from them must match the contract.
OUTPUT_TOPICS = frozenset({"alerts", "vitals-dlq", "audit", "notify-dlq", "notify-state"})


class ContractRecorder:
    """Validates every real message the integration tests produce or consume against contract/schemas.

    Session-wide, through the `produce`/`consume` helpers below. A message
    read from an output topic that breaks its schema fails the test that read
    it (the code drifted from docs/contract.md). Inputs written by tests are
    validated too but may be invalid on purpose (hostile-input tests): they
    are counted apart, never failed, since the worker must dead-letter them.
    """

    def __init__(self) -> None:
        from collections import Counter

        self.valid: Counter[str] = Counter()
        self.invalid_inputs: Counter[str] = Counter()

    def check(self, topic: str, value: bytes | dict | None, produced_by_test: bool) -> None:
        from contract import TOPIC_SCHEMAS, errors

        if topic not in TOPIC_SCHEMAS or value is None:
            return
        if isinstance(value, (bytes, bytearray)):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                self.invalid_inputs[topic] += 1
                assert produced_by_test, f"{topic}: wardwatch wrote a message that is not JSON: {value[:200]!r}"
                return
        problems = errors(topic, value)
        if not problems:
            self.valid[topic] += 1
            return
        self.invalid_inputs[topic] += 1
        if not produced_by_test and topic in OUTPUT_TOPICS:
            raise AssertionError(
                f"a message on {topic} breaks contract/schemas/{TOPIC_SCHEMAS[topic]} "
                f"(docs/contract.md):\n  " + "\n  ".join(problems[:5]) + f"\nmessage: {value}"
            )

    def total(self) -> int:
        return sum(self.valid.values())

    def summary(self) -> str:
        by_topic = ", ".join(f"{t} {n}" for t, n in sorted(self.valid.items()))
        rejected = sum(self.invalid_inputs.values())
        return (
            f"contract: {self.total()} real messages validated against contract/schemas ({by_topic or 'none'}); "
            f"{rejected} deliberately invalid test inputs seen"
        )


CONTRACT = ContractRecorder()


@pytest.fixture(scope="session")
def contract_recorder() -> ContractRecorder:
    return CONTRACT


def pytest_terminal_summary(terminalreporter) -> None:
    if CONTRACT.total() or CONTRACT.invalid_inputs:
        terminalreporter.write_line(CONTRACT.summary())


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(log_path=tmp_path / "broker.log") as b:
        yield b


class WorkerProcess:
    """A `wardwatch worker` child process with its ports and log."""

    def __init__(self, bootstrap: str, workdir: Path, app_id: str = "wardwatch-test", **env: str) -> None:
        self.metrics_port = free_port()
        self.web_port = free_port()
        self.log_path = workdir / f"worker-{self.web_port}.log"
        self.env = {
            **os.environ,
            "WARDWATCH_KAFKA_BOOTSTRAP": bootstrap,
            "WARDWATCH_APP_ID": app_id,
            "WARDWATCH_METRICS_PORT": str(self.metrics_port),
            "WARDWATCH_WEB_PORT": str(self.web_port),
            "WARDWATCH_WEB_HOST": "127.0.0.1",
            "WARDWATCH_DATA_DIR": str(workdir / f"data-{self.web_port}"),
            # Faster group joins in tests; WARDWATCH_TEST_FAST_REBALANCE=0 runs the suite on the default
            # (production) group settings, e.g. the crash and rebalance tests (docs/durability.md).
            "WARDWATCH_FAST_REBALANCE": os.environ.get("WARDWATCH_TEST_FAST_REBALANCE", "1"),
            "WARDWATCH_MLLP_PORT": str(free_port()),
            **env,
        }
        self.proc: subprocess.Popen | None = None

    def start(self, wait_ready: float = 60.0) -> WorkerProcess:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait_ready:
            self.wait_ready(wait_ready)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/readyz", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"worker not ready in {timeout} s:\n{self.log()}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return resp.read().decode()

    def metric(self, name: str) -> float:
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name) and not line.startswith("#"):
                head, _, value = line.rpartition(" ")
                if head == name or head.startswith(name + "{"):
                    total += float(value)
        return total

    def wait_metric(self, name: str, at_least: float, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        value = 0.0
        while time.monotonic() < deadline:
            try:
                value = self.metric(name)
            except OSError:
                value = 0.0
            if value >= at_least:
                return value
            time.sleep(0.2)
        raise AssertionError(f"{name} stayed at {value} < {at_least}:\n{self.log()[-4000:]}")

    def wait_caught_up(self, timeout: float = 60.0) -> None:
        """Until every vitals partition this worker owns reports zero consumer lag.

        A restarted worker replays from its last commit; input from another
        topic (an ack) produced before it has caught up is ordered against the
        replay by chance, so tests that mean "after the replay" wait for this.
        """
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while time.monotonic() < deadline:
            try:
                text = self.metrics()
            except OSError:
                text = ""
            lines = [ln for ln in text.splitlines() if ln.startswith("wardwatch_consumer_lag_messages{")]
            owned = [ln for ln in text.splitlines() if ln.startswith("wardwatch_assigned_partitions ")]
            wanted = int(float(owned[0].rpartition(" ")[2])) if owned else -1
            if wanted > 0 and len(lines) == wanted and all(ln.endswith(" 0.0") for ln in lines):
                return
            time.sleep(0.2)
        raise AssertionError(f"worker never caught up in {timeout} s: {lines}\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL, timeout=10)


@pytest.fixture
def worker_factory(broker: EmbeddedBroker, tmp_path: Path) -> Iterator:
    started: list[WorkerProcess] = []

    def make(start: bool = True, **env: str) -> WorkerProcess:
        w = WorkerProcess(broker.bootstrap, tmp_path, **env)
        started.append(w)
        return w.start() if start else w

    yield make
    for w in started:
        w.stop()


@pytest.fixture
def worker(worker_factory) -> WorkerProcess:
    return worker_factory()


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    prod = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await prod.start()
    try:
        for key, value in messages:
            CONTRACT.check(topic, value, produced_by_test=True)
            await prod.send_and_wait(topic, value, key=key)
    finally:
        await prod.stop()


async def consume(bootstrap: str, topic: str, until, timeout: float = 60.0) -> list[dict]:
    """Read `topic` from the start until `until(records)` is true or time runs out."""
    from aiokafka import AIOKafkaConsumer

    cons = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None, enable_auto_commit=False
    )
    await cons.start()
    records: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = await cons.getmany(timeout_ms=300)
            for recs in batch.values():
                for r in recs:
                    if r.value is None:
                        continue  # a tombstone on a compacted topic (notify-state): no message
                    doc = orjson.loads(r.value)
                    CONTRACT.check(topic, doc, produced_by_test=topic not in OUTPUT_TOPICS)
                    records.append(doc)
            if until(records):
                return records
    finally:
        await cons.stop()
    return records


def produce_sync(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    asyncio.run(produce(bootstrap, topic, messages))


def consume_sync(bootstrap: str, topic: str, until, timeout: float = 60.0) -> list[dict]:
    return asyncio.run(consume(bootstrap, topic, until, timeout))
