"""Charted vitals through the real broker and worker (issue #16): an observation set pages on arrival.

Hourly sets from an EHR feed (no wearable, no method marker: the worker infers
the data shape from the gaps): NEWS2 >= 7 pages high on the first such set,
5-6 medium, a single 3 pages; a calm patient charted 4-hourly for a day gets
no alert of any kind (no NEWS2, no signal loss at the gaps between rounds).
"""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import consume_sync, produce_sync

pytestmark = pytest.mark.integration

T0 = 1_764_064_800_000  # 2025-11-25T10:00:00Z
HOUR_MS = 3_600_000
#: NEWS2 11: RR 26 (3), SpO2 90 (3), SBP 95 (2), HR 115 (2), T 38.5 (1).
SICK = {"resp_rate": 26, "spo2": 90, "systolic_bp": 95, "heart_rate": 115, "temperature": 38.5}
#: NEWS2 5: RR 22 (2), SpO2 95 (1), SBP 105 (1), HR 95 (1).
FIVE = {"resp_rate": 22, "spo2": 95, "systolic_bp": 105, "heart_rate": 95, "temperature": 37.0}
CALM = {"resp_rate": 16, "spo2": 97, "systolic_bp": 125, "heart_rate": 75, "temperature": 37.0}
#: A single 3: new confusion, everything else normal.
CONFUSED = {**CALM, "consciousness": "C"}


def charted(pid: str, every_ms: int, rounds: int, values: dict) -> list[tuple[bytes, bytes]]:
    return [
        (pid.encode(), orjson.dumps({"patient_id": pid, "device_id": "ehr-3", "ts": T0 + i * every_ms, **values}))
        for i in range(rounds)
    ]


def test_observation_sets_page_on_arrival_with_the_chart_bands_and_a_calm_chart_never_pages(broker, worker):
    calm, high, medium, single3 = "MRN-CH-CALM", "MRN-CH-HIGH", "MRN-CH-MED", "MRN-CH-LM"
    messages = (
        charted(calm, 4 * HOUR_MS, 7, CALM)
        + charted(high, HOUR_MS, 6, SICK)
        + charted(medium, HOUR_MS, 6, FIVE)
        + charted(single3, HOUR_MS, 1, CONFUSED)
    )
    produce_sync(broker.bootstrap, "vitals", messages)
    worker.wait_metric("wardwatch_samples_processed_total", len(messages))

    def raised(records: list[dict], pid: str) -> list[dict]:
        return [r for r in records if r["patient_id"] == pid and r["status"] == "raised"]

    alerts = consume_sync(broker.bootstrap, "alerts", lambda rs: all(raised(rs, p) for p in (high, medium, single3)))
    first = {pid: raised(alerts, pid)[0] for pid in (high, medium, single3)}
    assert (first[high]["kind"], first[high]["priority"], first[high]["news2"]["total"]) == ("news2", "high", 11)
    assert first[high]["ts"] == first[high]["onset_ts"]  # on the first such set, not an hour later
    assert (first[medium]["priority"], first[medium]["news2"]["total"]) == ("medium", 5)
    assert (first[single3]["priority"], first[single3]["news2"]["band"]) == ("low", "low-medium")
    assert [r for r in alerts if r["patient_id"] == calm] == []
    for pid in (high, medium):  # later rounds confirm the same episode: no second raise, no signal loss
        assert len(raised(alerts, pid)) == 1
        assert not [r for r in alerts if r["patient_id"] == pid and r["kind"] == "signal_loss"]
