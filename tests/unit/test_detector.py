"""The river baseline detector: learns a patient's own normal, flags a sustained change."""

from __future__ import annotations

import random

import orjson
import pytest

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
    scores = [
        det.learn_and_score(_sample(n + i, 62 + rng.gauss(0, 2), 97 + rng.gauss(0, 0.6))).score for i in range(200)
    ]
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


def test_falling_asleep_is_not_deterioration():
    """HR 20/min under the day's baseline with SpO2 a little lower: deep sleep, not a page;
    the same departure upwards is."""

    def run(hr_shift: float) -> tuple[float, tuple[str, ...]]:
        rng = random.Random(11)
        det = BaselineDetector()
        n = _warm(det, rng, n=2000, hr=70.0)
        result = None
        for i in range(360):  # thirty minutes
            result = det.learn_and_score(_sample(n + i, 70 + hr_shift + rng.gauss(0, 2), 95.8 + rng.gauss(0, 0.3)))
        return result.score, tuple(c.vital for c in result.contributions)

    asleep, vitals = run(-20)
    assert asleep < 0.5 and "heart_rate" not in vitals
    racing, vitals = run(+20)
    assert racing >= 0.5 and "heart_rate" in vitals


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
        det.learn_and_score(
            VitalSample(
                "MRN-1", "w", T0 + i * 5000, heart_rate=62 + rng.gauss(0, 2), spo2=97, resp_rate=15, temperature=temp
            )
        )
    det.learn_and_score(VitalSample("MRN-1", "w", T0 + 720 * 5000, temperature=38.6))
    later = det.learn_and_score(_sample(721, 62, 97))  # no temperature in this sample
    assert any(c.vital == "temperature" and c.z > 4 for c in later.contributions)


def test_state_of_the_previous_version_still_loads():
    old = [T0, False, {"heart_rate": [2000, 71.5, 9.0, 72.0, T0 + 1000]}]  # v1: no version number
    det = BaselineDetector().load_state(old)
    assert det.baseline("heart_rate") == 71.5
    assert det.to_state()[-1] == 3


def test_state_of_an_unknown_version_is_rejected():
    import pytest

    with pytest.raises(ValueError):
        BaselineDetector().load_state([T0, False, {}, 99])


def _ramp(
    det: BaselineDetector,
    start: int,
    minutes: int,
    hr0: float,
    hr1: float,
    rng: random.Random,
    spo2: float = 97.0,
    rr: float = 15.0,
):
    """HR from hr0 to hr1 over `minutes`, learning as the engine would before it alerts (not frozen)."""
    steps = minutes * 12
    result = None
    for i in range(steps):
        hr = hr0 + (hr1 - hr0) * i / steps
        result = det.learn_and_score(_sample(start + i, hr + rng.gauss(0, 2), spo2 + rng.gauss(0, 0.3), rr))
    return result


def test_a_developing_deterioration_does_not_widen_its_own_yardstick():
    # Bleeding: HR climbs 30 /min over 90 min. Before the alert freezes learning the
    # baseline keeps learning; the part of the change beyond Z_HOLD SD must not
    # inflate the SD that measures it (it used to, ~x2.5 over such a ramp).
    rng = random.Random(11)
    det = BaselineDetector()
    n = _warm(det, rng, n=2000)  # ~2.8 h at HR 62
    sd_before = det.vitals["heart_rate"].std()
    result = _ramp(det, n, 90, 62, 92, rng)
    assert det.vitals["heart_rate"].std() < 1.3 * sd_before
    assert result.score >= 0.5
    assert result.contributions[0].vital == "heart_rate"


def test_a_wander_within_the_normal_range_is_learned_as_before(monkeypatch):
    # A shift of ~1 SD (waking up) is the patient's normal moving: the hold does not touch it.
    import monitor.detector as detector

    def run() -> tuple[float, float, float]:
        rng = random.Random(12)
        det = BaselineDetector()
        n = _warm(det, rng, n=2000)
        result = _ramp(det, n, 60, 62, 67, rng)
        result = _ramp(det, n + 720, 60, 67, 67, rng)
        return det.baseline("heart_rate"), det.vitals["heart_rate"].std(), result.score

    held = run()
    monkeypatch.setattr(detector, "Z_HOLD", 1e9)
    assert held == run()
    assert held[0] > 63.0 and held[2] == 0.0


def test_state_of_version_2_still_loads():
    v2 = [T0, False, {"spo2": [2000, 97.2, 0.3, 97.0, T0 + 1000, 96.8]}, 2]  # no half-hour mean yet
    det = BaselineDetector().load_state(v2)
    assert det.baseline("spo2") == 97.2
    assert det.vitals["spo2"].slow == 97.0  # starts at the current value: no trend claimed
    assert det.to_state()[-1] == 3


def _resp_decline(
    det: BaselineDetector,
    start: int,
    minutes: int,
    rng: random.Random,
    spo2_drop: float,
    rr_rise: float,
    motion: float | None = None,
):
    """SpO2 falling and resp rate rising linearly over `minutes`, with sensor noise."""
    steps = minutes * 12
    result = None
    for i in range(steps):
        f = i / steps
        result = det.learn_and_score(
            VitalSample(
                "MRN-1",
                "w",
                T0 + (start + i) * 5000,
                heart_rate=62 + rng.gauss(0, 2),
                spo2=97.5 - spo2_drop * f + rng.gauss(0, 0.6),
                resp_rate=15 + rr_rise * f + rng.gauss(0, 1.0),
                motion=motion,
            )
        )
    return result


def _warm_resp(det: BaselineDetector, rng: random.Random, n: int = 2000) -> int:
    for i in range(n):
        det.learn_and_score(
            VitalSample(
                "MRN-1",
                "w",
                T0 + i * 5000,
                heart_rate=62 + rng.gauss(0, 2),
                spo2=97.5 + rng.gauss(0, 0.6),
                resp_rate=15 + rng.gauss(0, 1.0),
            )
        )
    return n


def test_a_slow_spo2_fall_counts_its_trend_before_news2_moves(monkeypatch):
    # Respiratory failure developing: SpO2 97.5 -> 96 and RR 15 -> 19 over 40 min.
    # NEWS2 still scores SpO2 0 (>= 96 %) and RR 0 (<= 20); the detector must
    # already see the fall, and say it is a trend.
    import monitor.detector as detector

    def run() -> object:
        rng = random.Random(21)
        det = BaselineDetector()
        n = _warm_resp(det, rng)
        return _resp_decline(det, n, 40, rng, spo2_drop=1.5, rr_rise=4.0)

    result = run()
    spo2 = next(c for c in result.contributions if c.vital == "spo2")
    assert spo2.trend < 0 and "falling" in spo2.text()
    assert result.score > 0.0
    monkeypatch.setattr(detector, "TREND_GAIN", 0.0)
    without = run()
    assert result.score > without.score
    spo2_without = next(c for c in without.contributions if c.vital == "spo2")
    assert spo2.z < spo2_without.z  # further below baseline with its trend


def test_a_stable_noisy_patient_claims_no_trend():
    rng = random.Random(22)
    det = BaselineDetector()
    n = _warm_resp(det, rng)
    result = _resp_decline(det, n, 120, rng, spo2_drop=0.0, rr_rise=0.0)
    assert result.score == 0.0
    assert all(abs(c.trend) < 0.5 * c.std for c in result.contributions)


def test_exertion_is_not_deterioration():
    # HR and RR up while the accelerometer says the patient is walking: not scored,
    # and not learned as their resting normal; the same rise at rest is scored.
    def run(motion: float | None) -> tuple[float, float]:
        rng = random.Random(23)
        det = BaselineDetector()
        n = _warm(det, rng, n=2000)
        result = None
        for i in range(240):  # twenty minutes
            result = det.learn_and_score(
                VitalSample(
                    "MRN-1",
                    "w",
                    T0 + (n + i) * 5000,
                    heart_rate=90 + rng.gauss(0, 2),
                    spo2=97,
                    resp_rate=20 + rng.gauss(0, 1.0),
                    motion=motion,
                )
            )
        return result.score, det.baseline("heart_rate")

    walking, walking_baseline = run(0.45)
    resting, _ = run(0.02)
    assert walking == 0.0 and resting >= 0.5
    assert abs(walking_baseline - 62) < 1.0


def test_out_of_range_numbers_in_a_checkpoint_or_a_river_sample_are_a_worded_value_error() -> None:
    """Compiled, a baseline's event time is a C long long and its count a C integer: a checkpoint
    or a river `x` outside 64 bits must still be a ValueError (what the worker's restore and
    river's callers handle), never an OverflowError from the compiled module."""
    d = BaselineDetector(warmup_samples=3, warmup_s=0)
    t = 1_700_000_000_000
    for i in range(5):
        d.learn_one({"t": t + i * 5000, "heart_rate": 70.0 + i})
    state = d.to_state()
    for bad in (2**64, float("inf"), "soon"):
        broken = [state[0], state[1], {"heart_rate": [*state[2]["heart_rate"][:4], bad]}, state[3]]
        with pytest.raises(ValueError):
            BaselineDetector().load_state(broken)
    broken = [state[0], state[1], {"heart_rate": [2**70, *state[2]["heart_rate"][1:]]}, state[3]]
    with pytest.raises(ValueError):
        BaselineDetector().load_state(broken)
    with pytest.raises(ValueError):
        d.learn_one({"t": 2**64, "heart_rate": 72.0})
    # Within 64 bits but where a difference of two times wraps (the hostile review's case: the
    # compiled baseline froze for good and a rising HR never alerted; plain Python alerted).
    for wraps in (-(2**63) + 1000, 2**63 - 1000):
        broken = [state[0], state[1], {"heart_rate": [*state[2]["heart_rate"][:4], wraps]}, state[3]]
        with pytest.raises(ValueError):
            BaselineDetector().load_state(broken)
        with pytest.raises(ValueError):
            d.learn_one({"t": wraps, "heart_rate": 72.0})
    broken = [state[0], state[1], {"heart_rate": [2**63 - 1, *state[2]["heart_rate"][1:]]}, state[3]]
    with pytest.raises(ValueError):
        BaselineDetector().load_state(broken)
    assert BaselineDetector().load_state(state).to_state() == state
