"""Crash a worker, lose nothing, forget nothing: real broker, real processes, real signals.

The reference is the same input folded through `Processor` in one
uninterrupted pass (no broker): the alerts a crashed-and-restarted pipeline
publishes must be exactly that set — compared on (alert_id, status, priority,
event ts) — with duplicates allowed only as exact repeats, and every alert
must carry the same detector score as the reference (a patient that fell back
into detector warm-up after a restart would score differently or not at all).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import orjson
import pytest

from alerts.config import load_policy
from streams.worker.processor import Processor
from tests.conftest import consume_sync, produce_sync

pytestmark = pytest.mark.integration

T0 = 1_764_064_800_000  # 2025-11-25T10:00:00Z
PHYSIOLOGICAL = ("news2", "anomaly", "threshold")


def patient_minute(minute: int, onset: int | None) -> list[dict]:
    """12 samples (one minute at 5 s) of a patient who is stable, then drifts from `onset` (minutes)."""
    out = []
    for j in range(12):
        t = minute * 60 + j * 5
        i = t // 5
        drift = 0.0 if onset is None else max(0.0, (t - onset * 60) / 60.0)
        out.append(
            {
                "ts": T0 + t * 1000,
                "heart_rate": 72 + (i % 3) + 0.8 * drift,
                "spo2": max(80, 97 - (i % 2) - 0.25 * drift),
                "resp_rate": 15 + (i % 2) + 0.15 * drift,
            }
        )
    return out


class Ward:
    """Deteriorating patients with staggered onsets and a stable one, cut into minute messages."""

    def __init__(self, prefix: str, onsets: tuple[int | None, ...] = (60, 66, 72, 78, None)) -> None:
        self.onsets = {f"{prefix}-{7301 + 17 * k:06d}": onset for k, onset in enumerate(onsets)}

    @property
    def patients(self) -> list[str]:
        return list(self.onsets)

    def messages(self, start: int, stop: int) -> list[tuple[bytes, bytes]]:
        """Minute messages [start, stop), interleaved across patients."""
        return [
            (
                pid.encode(),
                orjson.dumps({"patient_id": pid, "device_id": "wear-1", "samples": patient_minute(m, onset)}),
            )
            for m in range(start, stop)
            for pid, onset in self.onsets.items()
        ]

    @staticmethod
    def samples(messages: list[tuple[bytes, bytes]]) -> int:
        return sum(len(orjson.loads(v)["samples"]) for _, v in messages)


def key(alert: dict) -> tuple:
    """Identity of an alert state change. The event time of raise/escalate comes from the data; that of an
    acknowledgement or a timer-driven change also from the wall clock (timers), so it is left out."""
    timed = alert["status"] in ("raised", "escalated")
    return alert["alert_id"], alert["status"], alert["priority"], alert["ts"] if timed else None


def score(alert: dict) -> float | None:
    det = alert.get("detector")
    return None if det is None else round(det["score"], 9)


class Reference:
    """The uninterrupted run, in process."""

    def __init__(self) -> None:
        self.processor = Processor(load_policy(None), 4, lambda _: None)
        self.alerts: list[dict] = []
        self.offset = 0

    def feed(self, messages: list[tuple[bytes, bytes]]) -> None:
        for _, value in messages:
            self.offset += 1
            out = self.processor.handle_vitals(value, "vitals", 0, self.offset, route=False)
            self.alerts.extend(orjson.loads(orjson.dumps(a.to_wire("x"))) for a in out.alerts)

    def ack(self, raw: bytes) -> None:
        self.offset += 1
        out = self.processor.handle_ack(raw, "acks", 0, self.offset, route=False)
        assert not out.dead_letters, out.dead_letters
        self.alerts.extend(orjson.loads(orjson.dumps(a.to_wire("x"))) for a in out.alerts)

    def expected(self) -> dict[tuple, float | None]:
        return {key(a): score(a) for a in self.alerts if a["kind"] in PHYSIOLOGICAL}


def physiological(records: list[dict], patients: list[str]) -> list[dict]:
    return [r for r in records if r["kind"] in PHYSIOLOGICAL and r["patient_id"] in patients]


def wait_alerts(bootstrap: str, patients: list[str], want: set[tuple], timeout: float = 60.0) -> list[dict]:
    records = consume_sync(
        bootstrap, "alerts", lambda rs: want <= {key(r) for r in physiological(rs, patients)}, timeout=timeout
    )
    seen = {key(r) for r in physiological(records, patients)}
    assert want <= seen, f"missing alerts: {sorted(want - seen)}"
    return records


def assert_same_as_reference(records: list[dict], ref: Reference, patients: list[str]) -> dict[str, int]:
    """Equal sets, duplicates exact, detector scores as in the uninterrupted run; returns counts."""
    expected = ref.expected()
    seen = physiological(records, patients)
    keys = Counter(key(r) for r in seen)
    assert set(keys) == set(expected), (
        f"missing {sorted(set(expected) - set(keys))}, unexpected {sorted(set(keys) - set(expected))}"
    )
    for r in seen:
        # no warm-up after a restart: the detector is warm and scores as if nothing happened
        assert score(r) == expected[key(r)], (r, expected[key(r)])
    return {"expected": len(expected), "seen": len(seen), "duplicates": len(seen) - len(keys)}


def assert_no_patient_ids(logs: str, patients: list[str]) -> None:
    for pid in patients:
        assert pid not in logs, f"patient id {pid} in a worker log"


def test_kill9_at_several_points_then_restart_loses_and_forgets_nothing(broker, worker_factory):
    ward = Ward("MRN-K")
    patients = ward.patients
    chunk0, chunk1 = ward.messages(0, 70), ward.messages(70, 80)
    chunk2, chunk3 = ward.messages(80, 100), ward.messages(100, 130)
    ref = Reference()
    ref.feed(chunk0 + chunk1 + chunk2)
    open_id = next(a["alert_id"] for a in ref.alerts if a["patient_id"] == patients[0])
    ack = orjson.dumps(
        {
            "alert_id": open_id,
            "patient_id": patients[0],
            "by": "nurse-7",
            "action": "acknowledge",
            "ts": T0 + 100 * 60_000,
        }
    )
    before_ack = set(ref.expected())
    ref.ack(ack)
    ref.feed(chunk3)
    assert len(ref.expected()) >= 10  # enough state changes (raises, escalations, ack, resolves) to crash between
    workers = []

    # 1. Real SIGKILL: the first stretch is checkpointed and committed; the next is processed, not yet.
    w1 = worker_factory(WARDWATCH_LOG_FORMAT="json")
    workers.append(w1)
    produce_sync(broker.bootstrap, "vitals", chunk0)
    w1.wait_metric("wardwatch_samples_processed_total", Ward.samples(chunk0))
    w1.wait_metric("wardwatch_state_checkpoints_total", len(patients))
    time.sleep(1.5)  # one more commit interval: chunk0's offsets are committed
    produce_sync(broker.bootstrap, "vitals", chunk1)
    w1.wait_metric("wardwatch_samples_processed_total", Ward.samples(chunk0 + chunk1))
    w1.kill()

    # 2. Crash between publishing alerts and checkpointing/committing (test hook: exit after 3 alerts).
    produce_sync(broker.bootstrap, "vitals", chunk2)
    w2 = worker_factory(start=False, WARDWATCH_TEST_CRASH_AFTER_ALERTS="3", WARDWATCH_LOG_FORMAT="json")
    workers.append(w2)
    w2.start(wait_ready=0)
    assert w2.proc.wait(timeout=90) == 137, w2.log()[-3000:]

    # 3. A new worker resumes; the on-call nurse acknowledges patient 0's open episode.
    w3 = worker_factory(WARDWATCH_LOG_FORMAT="json")
    workers.append(w3)
    wait_alerts(broker.bootstrap, patients, before_ack)
    w3.wait_caught_up()  # w2 published these alerts; the ack is meant for w3's state after its replay
    produce_sync(broker.bootstrap, "alert-acks", [(patients[0].encode(), ack)])
    wait_alerts(broker.bootstrap, patients, {k for k in ref.expected() if k[0] == open_id and k[1] == "acknowledged"})

    # 4. Real SIGKILL at an arbitrary moment while the last stretch streams in.
    base = w3.metric("wardwatch_samples_processed_total")
    feeder = threading.Thread(
        target=lambda: [
            (produce_sync(broker.bootstrap, "vitals", chunk3[i : i + 10]), time.sleep(0.05))
            for i in range(0, len(chunk3), 10)
        ]
    )
    feeder.start()
    w3.wait_metric("wardwatch_samples_processed_total", base + Ward.samples(chunk3) // 3)
    w3.kill()
    feeder.join()

    # 5. The last worker finishes the stream.
    w4 = worker_factory(WARDWATCH_LOG_FORMAT="json")
    workers.append(w4)
    records = wait_alerts(broker.bootstrap, patients, set(ref.expected()))
    time.sleep(1.5)  # anything extra would show up now
    records = consume_sync(broker.bootstrap, "alerts", lambda rs: len(rs) >= len(records), timeout=10)
    counts = assert_same_as_reference(records, ref, patients)
    print(
        f"\ncrash test: alerts expected {counts['expected']}, seen {counts['seen']}, duplicates {counts['duplicates']}"
    )
    # (Usually some duplicates: alerts published again on replay. Their number depends on where the
    # commits fell, so it is reported, not asserted; any duplicate is an exact repeat, checked above.)

    # The acknowledged episode never pages again after the acknowledgement.
    acked = [r for r in records if r["alert_id"] == open_id]
    after_ack = [r for r in acked if r["ts"] > "2025-11-25T11:40" and r["status"] in ("raised", "escalated")]
    assert not after_ack, after_ack
    # No new episode ids: one physiological episode per deteriorating patient, none for the stable one.
    ids = {r["patient_id"]: set() for r in records}
    for r in physiological(records, patients):
        ids[r["patient_id"]].add(r["alert_id"])
    assert all(len(ids.get(pid, ())) == 1 for pid in patients[:4]), ids
    assert patients[4] not in ids

    # Structured logs: Faust's own lines are JSON too, alert lines carry the alert id; no patient ids.
    text = "\n".join(w.log() for w in workers)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    non_json = [line for line in lines if not line.startswith("{")]
    assert not non_json, non_json[:5]
    docs = [orjson.loads(line) for line in lines]
    # Faust/mode services log through their own loggers ("[^--Service]: Starting..."): same JSON format.
    assert any(d["msg"].startswith("[^-") for d in docs), [d["msg"] for d in docs][:20]
    alert_lines = [d for d in docs if d["msg"].startswith("alert ")]
    assert alert_lines and all(d["alert_id"] == d["correlation_id"] == d["msg"].split()[1] for d in alert_lines)
    assert_no_patient_ids(text, patients)


def test_sigterm_commits_and_exits_0_and_a_restart_reemits_nothing(broker, worker_factory):
    ward = Ward("MRN-T", onsets=(60, 70, None))
    patients = ward.patients
    first, second = ward.messages(0, 95), ward.messages(95, 120)
    ref = Reference()
    ref.feed(first)
    w1 = worker_factory()
    produce_sync(broker.bootstrap, "vitals", first)
    w1.wait_metric("wardwatch_samples_processed_total", Ward.samples(first))
    wait_alerts(broker.bootstrap, patients, set(ref.expected()))
    assert w1.stop() == 0, w1.log()[-3000:]
    assert "Traceback" not in w1.log()

    ref.feed(second)
    w2 = worker_factory()
    produce_sync(broker.bootstrap, "vitals", second)
    # Only the new stretch is processed: the first was committed with its state.
    w2.wait_metric("wardwatch_samples_processed_total", Ward.samples(second))
    records = wait_alerts(broker.bootstrap, patients, set(ref.expected()))
    time.sleep(1.5)
    records = consume_sync(broker.bootstrap, "alerts", lambda rs: len(rs) >= len(records), timeout=10)
    counts = assert_same_as_reference(records, ref, patients)
    assert counts["duplicates"] == 0, counts
    assert w2.metric("wardwatch_samples_processed_total") == Ward.samples(second)
    assert_no_patient_ids(w1.log() + w2.log(), patients)


def test_rocksdb_store_worker_killed_mid_stream_recovers_from_its_disk_and_the_changelog_tail(
    broker, worker_factory, tmp_path
):
    ward = Ward("MRN-D", onsets=(60, 68, None))
    patients = ward.patients
    first, second, third = ward.messages(0, 85), ward.messages(85, 100), ward.messages(100, 120)
    ref = Reference()
    ref.feed(first + second + third)
    env = {"WARDWATCH_STORE": "rocksdb", "WARDWATCH_DATA_DIR": str(tmp_path / "rocks")}
    w1 = worker_factory(**env)
    produce_sync(broker.bootstrap, "vitals", first)
    w1.wait_metric("wardwatch_samples_processed_total", Ward.samples(first))
    w1.wait_metric("wardwatch_state_checkpoints_total", len(patients))
    time.sleep(1.5)  # committed, and on local disk
    produce_sync(broker.bootstrap, "vitals", second)
    w1.wait_metric("wardwatch_samples_processed_total", Ward.samples(first + second))
    w1.kill()  # local RocksDB may now be ahead of the changelog, the changelog ahead of the offsets

    w2 = worker_factory(**env)  # same data directory
    assert "loaded from state" in w2.log()
    loaded = [line for line in w2.log().splitlines() if "loaded from state" in line][-1]
    assert f"{len(patients)} patients in memory" in loaded, loaded
    produce_sync(broker.bootstrap, "vitals", third)
    records = wait_alerts(broker.bootstrap, patients, set(ref.expected()))
    time.sleep(1.0)
    records = consume_sync(broker.bootstrap, "alerts", lambda rs: len(rs) >= len(records), timeout=10)
    counts = assert_same_as_reference(records, ref, patients)
    print(
        f"\nrocksdb crash test: alerts expected {counts['expected']}, seen {counts['seen']}, "
        f"duplicates {counts['duplicates']}"
    )
    assert_no_patient_ids(w1.log() + w2.log(), patients)
