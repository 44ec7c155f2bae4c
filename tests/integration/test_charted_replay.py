"""Charted observations (hourly sets, as a spot-check monitor, a nurse's round or an EHR feed send
them) through the real broker and worker.

1. Real PhysioNet 2012 stays from the committed slice: the worker pages exactly as
   `wardwatch evaluate --dataset` says the engine does, so the evaluator's real-data figures are
   the product's figures; the impossible value goes to the dead-letter topic.
2. The issue #16 targets for charted data (hourly NEWS2 >= 7 -> a high alert on the first such set;
   5-6 -> medium; a single 3 -> an alert; a calm patient charted 4-hourly for a day -> nothing).
   Observation sets page on arrival (`docs/data-shapes.md`).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from alerts.evaluation.charted import load_dataset
from alerts.evaluation.charted.replay import parse_sets
from alerts.evaluation.policies import EngineConfig
from alerts.evaluation.replay import run_engine
from alerts.model import Status
from monitor.news2 import score_news2
from tests.conftest import consume_sync, produce_sync

pytestmark = pytest.mark.integration

SLICE = Path(__file__).resolve().parents[1] / "fixtures" / "physionet2012"
#: Three raises (thresholds), one high NEWS2 raise, one impossible value, one calm stay.
STAYS = ("p12-132540", "p12-132584", "p12-132570", "p12-132539")
PHYSIOLOGICAL = ("news2", "anomaly", "threshold")
T0 = 1_764_064_800_000  # 2025-11-25T10:00:00Z
H = 3_600_000


def _messages(docs: list[dict]) -> list[tuple[bytes, bytes]]:
    return [(d["patient_id"].encode(), orjson.dumps(d)) for d in docs]


def test_real_charted_stays_page_through_the_worker_as_the_evaluator_replays_them(broker, worker):
    data = load_dataset(SLICE)
    stays = {s.patient_id: s for s in data.stays if s.patient_id in STAYS}
    expected, accepted, rejected = [], 0, 0
    for pid in STAYS:
        samples, bad = parse_sets(tuple(data.messages[pid]))
        accepted += len(samples)
        rejected += sum(bad.values())
        marks = run_engine(pid, EngineConfig(), samples, stays[pid].end_ms)
        expected += [
            (pid, m.kind.value, m.priority.value, m.ts_ms)
            for m in marks
            if m.status is Status.RAISED and m.kind.physiological
        ]
    assert rejected >= 1 and len(expected) >= 4  # the slice still holds what this test is about
    produce_sync(broker.bootstrap, "vitals", [m for pid in STAYS for m in _messages(data.messages[pid])])
    worker.wait_metric("wardwatch_samples_processed_total", accepted, timeout=120)
    letters = consume_sync(broker.bootstrap, "vitals-dlq", lambda rs: len(rs) >= rejected)
    assert len(letters) == rejected and all("impossible" in d["error"] or "must" in d["error"] for d in letters)

    def raises(records: list[dict]) -> list[tuple]:
        from monitor.timestamps import parse_ts

        return sorted(
            (r["patient_id"], r["kind"], r["priority"], parse_ts(r["ts"]))
            for r in records
            if r["status"] == "raised" and r["kind"] in PHYSIOLOGICAL
        )

    alerts = consume_sync(broker.bootstrap, "alerts", lambda rs: len(raises(rs)) >= len(expected), timeout=60)
    assert raises(alerts) == sorted(expected)


# ---- the charted-data targets ------------------------------------------------------------

CALM = {
    "heart_rate": 72,
    "resp_rate": 15,
    "spo2": 97,
    "systolic_bp": 124,
    "temperature": 36.8,
    "on_oxygen": False,
    "consciousness": "A",
}
NEWS2_7 = {**CALM, "resp_rate": 25, "heart_rate": 115, "systolic_bp": 105, "temperature": 38.6}  # 3+2+1+1
NEWS2_5 = {**CALM, "resp_rate": 22, "heart_rate": 112, "temperature": 38.4}  # 2+2+1
SINGLE_3 = {**CALM, "resp_rate": 8}  # 3, nothing else


def _sets(pid: str, every_h: float, values: list[dict]) -> list[dict]:
    return [
        {"patient_id": pid, "device_id": "obs-monitor-1", "ts": T0 + int(i * every_h * H), **v}
        for i, v in enumerate(values)
    ]


def _news2(values: dict) -> tuple[int, str]:
    score = score_news2(**dict(values.items()))
    return score.total, str(score.band)


def test_hourly_observation_sets_page_with_the_chart_bands_and_a_calm_chart_pages_nothing(broker, worker):
    assert _news2(NEWS2_7) == (7, "high") and _news2(NEWS2_5) == (5, "medium")
    assert _news2(SINGLE_3) == (3, "low-medium") and _news2(CALM) == (0, "none")
    cases = {
        "OBS-HIGH": _sets("OBS-HIGH", 1, [CALM, CALM, NEWS2_7, NEWS2_7, NEWS2_7, NEWS2_7]),
        "OBS-MEDIUM": _sets("OBS-MEDIUM", 1, [CALM, CALM, NEWS2_5, NEWS2_5, NEWS2_5, NEWS2_5]),
        "OBS-RED": _sets("OBS-RED", 1, [CALM, CALM, SINGLE_3, SINGLE_3, CALM, CALM]),
        "OBS-CALM": _sets("OBS-CALM", 4, [CALM] * 7),  # 4-hourly for a day
    }
    messages = [m for docs in cases.values() for m in _messages(docs)]
    produce_sync(broker.bootstrap, "vitals", messages)
    worker.wait_metric("wardwatch_samples_processed_total", len(messages), timeout=120)
    first = {pid: docs[2]["ts"] for pid, docs in cases.items()}

    def paged(records: list[dict]) -> set[str]:
        return {r["patient_id"] for r in records if r["kind"] in PHYSIOLOGICAL}

    alerts = consume_sync(
        broker.bootstrap, "alerts", lambda rs: {"OBS-HIGH", "OBS-MEDIUM", "OBS-RED"} <= paged(rs), timeout=30
    )
    from monitor.timestamps import parse_ts

    def on_first_set(pid: str) -> list[dict]:
        return [
            a
            for a in alerts
            if a["patient_id"] == pid and a["kind"] in PHYSIOLOGICAL and parse_ts(a["ts"]) == first[pid]
        ]

    assert any(a["priority"] == "high" for a in on_first_set("OBS-HIGH")), alerts
    assert any(a["priority"] == "medium" for a in on_first_set("OBS-MEDIUM")), alerts
    assert on_first_set("OBS-RED"), alerts
    assert not [a for a in alerts if a["patient_id"] == "OBS-CALM"], "a calm 4-hourly chart raised an alert"
    # hourly gaps between rounds are not a signal loss
    assert not [a for a in alerts if a["kind"] == "signal_loss"]
