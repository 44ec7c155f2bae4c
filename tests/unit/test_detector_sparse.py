"""#16 item 3: personal baselines from charted (intermittent) vitals, by time span and count."""

from __future__ import annotations

import random

from alerts.engine import PatientEngine
from monitor.detector import BaselineDetector
from monitor.vitals import VitalSample

T0 = 1_764_064_800_000
H = 3_600_000


def _chart(i: int, hours: float, hr: float, spo2: float, rr: float) -> VitalSample:
    return VitalSample(
        "MRN-C",
        "ehr",
        T0 + int(i * hours * H),
        heart_rate=hr,
        spo2=spo2,
        resp_rate=rr,
        systolic_bp=120.0,
        temperature=36.8,
    )


def _calm(det: BaselineDetector, hours: float, sets: int, rng: random.Random) -> list[bool]:
    warm = []
    for i in range(sets):
        result = det.learn_and_score(
            _chart(i, hours, 72 + rng.gauss(0, 3), 97 + rng.gauss(0, 0.5), 16 + rng.gauss(0, 1))
        )
        # the charted continuous-kind vitals (BP and temperature warm as spot checks, as before)
        warm.append(
            result.warm
            and all(det._warm(det.vitals[v], T0 + int(i * hours * H)) for v in ("heart_rate", "spo2", "resp_rate"))
        )
    return warm


def test_a_patient_charted_4_hourly_has_a_personal_baseline_after_about_a_day():
    det = BaselineDetector()
    warm = _calm(det, 4.0, 7, random.Random(3))  # 0, 4, ..., 24 h
    first = warm.index(True)
    assert 12 <= first * 4 <= 24  # not after three readings in a row, not after 20 days (120 x 4 h)
    assert all(warm[first:])


def test_hourly_chart_warms_by_time_span_not_by_three_readings():
    det = BaselineDetector()
    warm = _calm(det, 1.0, 14, random.Random(4))
    assert warm.index(True) == 12  # INTERMITTENT_WARMUP_S


def test_the_baseline_detector_scores_a_charted_deterioration_and_names_the_vitals():
    det = BaselineDetector()
    rng = random.Random(5)
    _calm(det, 4.0, 7, rng)
    result = det.learn_and_score(_chart(7, 4.0, 118, 91, 27))
    assert result.warm and result.score >= 0.85
    named = {c.vital for c in result.contributions}
    assert {"heart_rate", "spo2", "resp_rate"} <= named
    calm = det.learn_and_score(_chart(8, 4.0, 73, 97, 16))
    assert calm.score < 0.3


def test_a_stream_with_dropouts_stays_a_stream():
    """Two long dropouts in a row in a 5 s stream (seen in the generated cohort) do not make it charted."""
    det = BaselineDetector()
    ts = T0
    for i in range(600):
        ts += 5000 if i not in (300, 301) else 420_000
        det.learn_and_score(VitalSample("MRN-S", "w", ts, heart_rate=70.0 + i % 3, spo2=97.0, resp_rate=15.0))
    assert all(b.sparse < 0.5 for b in det.vitals.values())
    # and a continuous patient's checkpoint has no shape field once it decayed (byte-identical to v4)
    assert all(len(v) == 7 for v in det.to_state()[2].values())


def test_charted_shape_survives_a_checkpoint():
    det = BaselineDetector()
    _calm(det, 4.0, 5, random.Random(6))
    state = det.to_state()
    again = BaselineDetector().load_state(state)
    assert again.to_state() == state and again.vitals["heart_rate"].sparse >= 0.5


def test_engine_pages_a_charted_deterioration_through_the_detector():
    engine = PatientEngine("MRN-C")
    rng = random.Random(7)
    for i in range(7):
        engine.process(_chart(i, 4.0, 72 + rng.gauss(0, 3), 97 + rng.gauss(0, 0.5), 16 + rng.gauss(0, 1)))
    assert engine.warm
