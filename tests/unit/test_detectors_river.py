"""River at the core: the default is a river AnomalyDetector, river's own detectors plug in."""

from __future__ import annotations

import random

import orjson
import pytest
from river import base, compose

from monitor.detector import BaselineDetector
from monitor.detectors import registry
from monitor.detectors.registry import DetectorSpec
from monitor.vitals import VitalSample

T0 = 1_764_064_800_000
RIVER = ("hst", "gaussian", "oneclass-svm", "sad")


def _x(i: int, rng: random.Random, drift: float = 0.0) -> dict:
    return {
        "t": T0 + i * 5000,
        "heart_rate": 72 + rng.gauss(0, 2) + 1.2 * drift,
        "spo2": 97 + rng.gauss(0, 0.5) - 0.4 * drift,
        "resp_rate": 15 + rng.gauss(0, 1) + 0.4 * drift,
    }


def _sample(x: dict) -> VitalSample:
    return VitalSample("MRN-1", "w", x["t"], heart_rate=x["heart_rate"], spo2=x["spo2"], resp_rate=x["resp_rate"])


def test_default_detector_is_a_river_anomaly_detector_with_river_api():
    det = BaselineDetector(warmup_samples=60, memory=7200.0)
    assert isinstance(det, base.AnomalyDetector)
    rng = random.Random(1)
    assert det.learn_one(_x(0, rng)) is None
    assert isinstance(det.score_one(_x(1, rng)), float)
    twin = det.clone()
    assert twin.memory == 7200.0 and twin.warmup_samples == 60 and twin.vitals == {}
    with pytest.raises(ValueError, match='x\\["t"\\]'):
        det.learn_one({"heart_rate": 70})


def test_default_in_a_pipeline_scores_like_the_engine_path():
    """learn_one/score_one over dicts give exactly what the engine's learn_and_score gives."""
    rng = random.Random(2)
    xs = [_x(i, rng, drift=max(0.0, (i - 700) / 12)) for i in range(900)]
    model = compose.Discard("bed") | BaselineDetector()
    engine_side = BaselineDetector()
    for x in xs:
        score = model.score_one({**x, "bed": 3})
        model.learn_one({**x, "bed": 3})
        assert score == engine_side.learn_and_score(_sample(x)).score
    assert score > 0.5


def test_score_one_learns_nothing():
    det = BaselineDetector()
    rng = random.Random(3)
    for i in range(200):
        det.learn_one(_x(i, rng))
    before = orjson.dumps(det.to_state())
    det.score_one(_x(200, rng, drift=20))
    assert orjson.dumps(det.to_state()) == before


@pytest.mark.parametrize("name", RIVER)
def test_river_detector_calibrated_explained_and_checkpointed(name):
    det = registry.create(DetectorSpec.of(name), warmup_samples=120, warmup_s=900)
    rng = random.Random(4)
    xs = [_x(i, rng, drift=max(0.0, (i - 2400) / 12)) for i in range(2700)]  # 3 h 20 min calm, then a slide
    results = []
    for i, x in enumerate(xs):
        if i == 1800:  # a restart half way: the checkpoint carries on exactly
            state = orjson.loads(orjson.dumps(det.to_state()))
            fresh = registry.create(DetectorSpec.of(name), warmup_samples=120, warmup_s=900).load_state(state)
            twin = registry.create(DetectorSpec.of(name), warmup_samples=120, warmup_s=900).load_state(state)
            assert len(orjson.dumps(state)) < 64 * 1024
            det = fresh
        result = det.learn_and_score(_sample(x))
        results.append(result)
        if i >= 1800:
            assert twin.learn_and_score(_sample(x)).score == result.score
    assert all(0.0 <= r.score <= 1.0 for r in results)
    calm = [r.score for r in results[600:2400]]
    assert sum(s >= 0.5 for s in calm) / len(calm) < 0.05  # the patient's own top few percent at most
    late = [r for r in results[2400:] if r.score >= 0.5]
    assert late, f"{name} never scored the slide"
    named = {c.vital for r in late for c in r.contributions}
    assert named & {"heart_rate", "spo2", "resp_rate"}
    assert det.baseline("heart_rate") is not None and det.is_warm(xs[-1]["t"])


@pytest.mark.parametrize("name", RIVER)
def test_frozen_river_detector_learns_nothing(name):
    det = registry.create(DetectorSpec.of(name))
    rng = random.Random(5)
    for i in range(300):
        det.learn_and_score(_sample(_x(i, rng)))
    det.frozen = True
    probe = {"heart_rate": 80.0, "spo2": 95.0, "resp_rate": 18.0}
    before = {
        k: (m.n, m.raw(probe if k == "*" else {}, None if k == "*" else probe[k]))
        for k, m in det.models.items()
        if k == "*" or k in probe
    }
    for i in range(300, 400):
        det.learn_and_score(_sample(_x(i, rng, drift=10)))
    after = {
        k: (m.n, m.raw(probe if k == "*" else {}, None if k == "*" else probe[k]))
        for k, m in det.models.items()
        if k == "*" or k in probe
    }
    assert after == before
