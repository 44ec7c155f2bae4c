"""The river baseline detector: learns a patient's own normal, flags a sustained change."""

from __future__ import annotations

import random

import orjson

from monitor.detector import BaselineDetector
from monitor.vitals import VitalSample

T0 = 1_764_064_800_000


def _sample(i: int, hr: float, spo2: float, rr: float = 15.0, step_s: int = 5) -> VitalSample:
    return VitalSample("MRN-1", "w", T0 + i * step_s * 1000, heart_rate=hr, spo2=spo2, resp_rate=rr)


def _warm(det: BaselineDetector, rng: random.Random, n: int = 400, hr: float = 62.0) -> int:
    for i in range(n):
        det.learn_and_score(_sample(i, hr + rng.gauss(0, 2), 97 + rng.gauss(0, 0.6)))
    return n


def test_not_warm_before_warmup_so_it_cannot_alert():
    det = BaselineDetector(warmup_samples=120, warmup_s=900)
    result = det.learn_and_score(_sample(0, 140, 85))
    assert not result.warm and result.score == 0.0


def test_learns_own_baseline_and_scores_noise_low():
    rng = random.Random(1)
    det = BaselineDetector()
    n = _warm(det, rng)
    assert abs(det.baseline("heart_rate") - 62) < 1.5
    scores = [det.learn_and_score(_sample(n + i, 62 + rng.gauss(0, 2), 97 + rng.gauss(0, 0.6))).score
              for i in range(200)]
    assert max(scores) < 0.3


def test_sustained_change_scores_high_and_names_the_vital():
    rng = random.Random(2)
    det = BaselineDetector()
    n = _warm(det, rng)
    det.frozen = True  # the policy freezes learning while alerting
    result = None
    for i in range(240):  # twenty minutes at HR 95: normal for a population, not for this patient
        result = det.learn_and_score(_sample(n + i, 95 + rng.gauss(0, 2), 97))
    assert result is not None and result.score > 0.8
    top = result.contributions[0]
    assert top.vital == "heart_rate" and top.z > 4
    assert "own baseline 62" in top.text()


def test_rising_spo2_is_not_an_anomaly():
    rng = random.Random(3)
    det = BaselineDetector()
    n = _warm(det, rng)
    for i in range(60):
        result = det.learn_and_score(_sample(n + i, 62, 100))
    assert all(c.vital != "spo2" for c in result.contributions)


def test_frozen_learning_keeps_the_baseline():
    rng = random.Random(4)
    det = BaselineDetector()
    n = _warm(det, rng)
    before = det.baseline("heart_rate")
    det.frozen = True
    for i in range(300):
        det.learn_and_score(_sample(n + i, 120, 97))
    assert det.baseline("heart_rate") == before


def test_state_round_trips_exactly_and_is_compact():
    rng = random.Random(5)
    det = BaselineDetector()
    n = _warm(det, rng)
    state = orjson.loads(orjson.dumps(det.to_state()))
    copy = BaselineDetector().load_state(state)
    assert len(orjson.dumps(state)) < 1024
    probe = _sample(n + 1, 80, 95)
    a, b = det.learn_and_score(probe), copy.learn_and_score(probe)
    assert a.score == b.score and a.contributions == b.contributions


def test_a_brief_burst_is_smoothed_away():
    rng = random.Random(6)
    det = BaselineDetector()
    n = _warm(det, rng)
    result = None
    for i in range(12):  # one minute of HR 95 (a walk to the bathroom)
        result = det.learn_and_score(_sample(n + i, 95, 97))
    assert result is not None and result.score < 0.3


def test_vitals_moving_together_score_more_than_either_alone():
    def run(hr: float, spo2: float, rr: float) -> float:
        rng = random.Random(7)
        det = BaselineDetector()
        n = _warm(det, rng)
        det.frozen = True
        result = None
        for i in range(360):  # thirty minutes
            result = det.learn_and_score(_sample(n + i, hr, spo2, rr))
        return result.score

    base_hr = 62.0
    hr_only = run(base_hr + 14, 97, 15)  # ~2.8 SD
    rr_only = run(base_hr, 97, 18.75)  # ~2.5 SD
    both = run(base_hr + 14, 97, 18.75)
    assert both > hr_only and both > rr_only and both >= 0.5 > max(hr_only, rr_only)


def test_falling_temperature_spot_checks_count_between_readings():
    rng = random.Random(8)
    det = BaselineDetector()
    for i in range(720):  # one hour of wearable data, a temperature every 10 min
        temp = 36.8 + rng.gauss(0, 0.05) if i % 120 == 0 else None
        det.learn_and_score(VitalSample("MRN-1", "w", T0 + i * 5000, heart_rate=62 + rng.gauss(0, 2),
                                        spo2=97, resp_rate=15, temperature=temp))
    det.learn_and_score(VitalSample("MRN-1", "w", T0 + 720 * 5000, temperature=38.6))
    later = det.learn_and_score(_sample(721, 62, 97))  # no temperature in this sample
    assert any(c.vital == "temperature" and c.z > 4 for c in later.contributions)


def test_state_of_the_previous_version_still_loads():
    old = [T0, False, {"heart_rate": [2000, 71.5, 9.0, 72.0, T0 + 1000]}]  # v1: no version number
    det = BaselineDetector().load_state(old)
    assert det.baseline("heart_rate") == 71.5
    assert det.to_state()[-1] == 2


def test_state_of_an_unknown_version_is_rejected():
    import pytest

    with pytest.raises(ValueError):
        BaselineDetector().load_state([T0, False, {}, 99])
