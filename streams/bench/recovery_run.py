"""How long a worker takes to get its patients back, per state store.

`measure_recovery(bootstrap, n_patients, store)` writes `n_patients` realistic
per-patient states (a warmed-up engine with an open episode, serialized as the
worker checkpoints it) straight into a fresh app's changelog topic, then starts
a real `wardwatch worker` process and times it until `/readyz` says ready
(every patient recovered and loaded into memory). With the RocksDB store it
then stops the worker (SIGTERM), updates 1 % of the patients in the changelog
and starts it again on the same data directory: the restart reads local disk
plus that changelog tail instead of the whole changelog.

Timings reported: `ready_s` (process start to ready: interpreter, Faust,
group join, recovery, load) and `recovery_s` (the worker's own
`wardwatch_recovery_seconds`: from partition assignment to ready = changelog
recovery + loading the patients into memory; the consumer-group join before
it is excluded).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson

from streams.kafka import free_port

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 4
T0 = 1_764_064_800_000
_TEMPLATE_ID = "RB-TEMPLATE-0"  # same length as the generated ids, so the blob is patched in place

Progress = Callable[[str], None]


def template_state() -> bytes:
    """One patient's checkpoint after 90 min of vitals (warm detector, an open episode)."""
    from alerts.config import load_policy
    from alerts.engine import PatientEngine
    from monitor.parse import parse_message

    engine = PatientEngine(_TEMPLATE_ID, load_policy(None).for_ward(None))
    for minute in range(90):
        drift = max(0.0, minute - 60.0)
        samples = [
            {
                "ts": T0 + (minute * 60 + j * 5) * 1000,
                "heart_rate": 72 + j % 3 + 0.8 * drift,
                "spo2": max(80, 97 - j % 2 - 0.25 * drift),
                "resp_rate": 15 + j % 2 + 0.15 * drift,
            }
            for j in range(12)
        ]
        for sample in parse_message(orjson.dumps({"patient_id": _TEMPLATE_ID, "samples": samples})).samples:
            engine.process(sample)
    engine.offsets["vitals:0"] = 90
    return engine.to_bytes()


def patient_id(i: int) -> str:
    return f"RB-{i:010d}"


def _blob(template: bytes, pid: str) -> bytes:
    assert len(pid) == len(_TEMPLATE_ID)
    return template.replace(_TEMPLATE_ID.encode(), pid.encode())


async def _write_changelog(bootstrap: str, app_id: str, template: bytes, ids: list[str], progress: Progress) -> int:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"{app_id}-patient_state-changelog"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    written = 0
    try:
        for n, pid in enumerate(ids, 1):
            blob = _blob(template, pid)
            written += len(blob)
            await producer.send(topic, blob, key=pid.encode())  # default partitioner = the worker's murmur2
            if n % 2000 == 0:
                progress(f"  changelog: {n}/{len(ids)} patient states written")
        await producer.flush()
    finally:
        await producer.stop()
    return written


def _metric(port: int, name: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


class _Worker:
    def __init__(self, bootstrap: str, app_id: str, store: str, data_dir: Path, log_path: Path) -> None:
        self.metrics_port, self.web_port = free_port(), free_port()
        self.env = {
            **os.environ,
            "WARDWATCH_KAFKA_BOOTSTRAP": bootstrap,
            "WARDWATCH_APP_ID": app_id,
            "WARDWATCH_STORE": store,
            "WARDWATCH_DATA_DIR": str(data_dir),
            "WARDWATCH_METRICS_PORT": str(self.metrics_port),
            "WARDWATCH_WEB_PORT": str(self.web_port),
            "WARDWATCH_WEB_HOST": "127.0.0.1",
            "WARDWATCH_FAST_REBALANCE": "1",
            "WARDWATCH_MLLP_PORT": str(free_port()),
            "WARDWATCH_PARTITIONS": str(PARTITIONS),
            # a vitals topic of its own, so the partition count is ours on a shared broker
            "WARDWATCH_TOPIC_VITALS": f"{app_id}-vitals",
        }
        self.env.pop("WARDWATCH_TEST_CRASH_AFTER_ALERTS", None)
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def run_until_ready(self, timeout: float) -> dict:
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited {self.proc.returncode}; log: {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        body = orjson.loads(resp.read())
                        ready_s = time.monotonic() - started
                        return {
                            "ready_s": round(ready_s, 2),
                            "recovery_s": round(_metric(self.metrics_port, "wardwatch_recovery_seconds") or 0, 2),
                            "patients_loaded": body.get("patients"),
                        }
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready in {timeout:.0f} s; log: {self.log_path}")

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def measure_recovery(
    bootstrap: str, n_patients: int, store: str, progress: object = None, timeout: float = 600.0
) -> dict:
    """Recovery time of `n_patients` patients' state with `store` ("memory" or "rocksdb"); see module doc.

    `progress`: a callable taking a line of text, or an object with `update(text)` (a status line).
    Returns {"store", "patients", "state_bytes_per_patient", "changelog_bytes",
    "cold": {"ready_s", "recovery_s", "patients_loaded"}, "restart": {...}}.
    """
    say = _sayer(progress)
    store = "rocksdb" if store.startswith("rocks") else "memory"
    app_id = f"wardwatch-recovery-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="wardwatch-recovery-"))
    try:
        template = template_state()
        ids = [patient_id(i) for i in range(n_patients)]
        say(f"writing {n_patients} patient states ({len(template)} B each) to {app_id}'s changelog")
        written = asyncio.run(_write_changelog(bootstrap, app_id, template, ids, say))
        result: dict = {
            "store": store,
            "patients": n_patients,
            "state_bytes_per_patient": round(written / n_patients),
            "changelog_bytes": written,
        }
        say(f"cold start ({store} store): recovering every patient from the changelog")
        worker = _Worker(bootstrap, app_id, store, workdir / "data", workdir / "worker-cold.log")
        try:
            result["cold"] = worker.run_until_ready(timeout)
        finally:
            rc = worker.stop()
        say(
            f"  ready in {result['cold']['ready_s']} s (worker recovery {result['cold']['recovery_s']} s, "
            f"{result['cold']['patients_loaded']} patients); stopped with exit code {rc}"
        )
        tail = ids[: max(1, n_patients // 100)]
        asyncio.run(_write_changelog_tail(bootstrap, app_id, template, tail))
        what = "local RocksDB plus the changelog tail" if store == "rocksdb" else "the whole changelog again"
        say(f"restart after {len(tail)} more state updates: recovering from {what}")
        worker = _Worker(bootstrap, app_id, store, workdir / "data", workdir / "worker-warm.log")
        try:
            result["restart"] = worker.run_until_ready(timeout)
        finally:
            worker.stop()
        say(
            f"  ready in {result['restart']['ready_s']} s (worker recovery {result['restart']['recovery_s']} s, "
            f"{result['restart']['patients_loaded']} patients)"
        )
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _sayer(progress: object) -> Progress:
    if progress is None:
        return lambda _msg: None
    if callable(progress):
        return progress  # type: ignore[return-value]
    update = getattr(progress, "update", None)
    if callable(update):
        return lambda msg: update(msg.strip())
    return lambda _msg: None


async def _write_changelog_tail(bootstrap: str, app_id: str, template: bytes, ids: list[str]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for pid in ids:
            await producer.send(f"{app_id}-patient_state-changelog", _blob(template, pid), key=pid.encode())
        await producer.flush()
    finally:
        await producer.stop()
