"""The policy file chooses the detector: names, parameters, per-ward choice, guard rails."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import PolicyConfig, load_policy
from alerts.engine import PatientEngine
from monitor.detector import BaselineDetector
from monitor.detectors import registry
from monitor.detectors.registry import DetectorConfigError, DetectorSpec
from monitor.detectors.river_based import RiverDetector
from monitor.vitals import VitalSample

RIVER = ("hst", "gaussian", "oneclass-svm", "sad")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_names_include_the_default_and_four_river_detectors():
    assert {"baseline-z", *RIVER} <= set(registry.names())


def test_unknown_detector_name_is_an_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="unknown detector 'isolation-forrest'"):
        load_policy(_write(tmp_path, 'detector = "isolation-forrest"\n'))


def test_unknown_or_bad_parameter_is_an_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="unknown parameter 'n_tree'"):
        load_policy(_write(tmp_path, 'detector = "hst"\n[detector_params]\nn_tree = 5\n'))
    with pytest.raises(ValueError, match=r"nu must be a number in 0\.0\.\.1\.0"):
        load_policy(_write(tmp_path, 'detector = "oneclass-svm"\n[detector_params]\nnu = 3\n'))
    with pytest.raises(ValueError, match=r"\[wards.icu\].*memory"):
        load_policy(_write(tmp_path, "[wards.icu.detector_params]\nmemory = -1\n"))


def test_a_ward_chooses_its_own_detector_and_parameters(tmp_path):
    book = load_policy(
        _write(
            tmp_path,
            """
[detector_params]
memory = 7200.0
[wards.icu]
detector = "hst"
[wards.icu.detector_params]
n_trees = 5
""",
        )
    )
    assert book.default.detector == "baseline-z" and book.default.detector_params == {"memory": 7200.0}
    icu = book.for_ward("icu")
    assert icu.detector_spec == DetectorSpec.of("hst", {"n_trees": 5})  # baseline-z's memory not carried over
    engine = PatientEngine("p1", book)
    assert isinstance(engine.detector, BaselineDetector) and engine.detector.memory == 7200.0
    engine.process(VitalSample("p1", "d", 1_700_000_000_000, heart_rate=70.0, ward="icu"))
    assert isinstance(engine.detector, RiverDetector) and engine.detector.NAME == "hst"


def test_default_policy_builds_the_fast_default_detector():
    assert type(PatientEngine("p", PolicyConfig()).detector) is BaselineDetector


def test_create_rejects_unknown_parameter_directly():
    with pytest.raises(DetectorConfigError, match=r"known: .*window_size"):
        registry.create(DetectorSpec.of("gaussian", {"windowsize": 3}))


def test_engine_checkpoint_of_a_river_detector_round_trips_and_a_policy_change_starts_fresh():
    cfg = PolicyConfig(detector="gaussian")
    engine = PatientEngine("p1", cfg)
    for i in range(300):
        engine.process(
            VitalSample(
                "p1", "d", 1_700_000_000_000 + i * 5000, heart_rate=70.0 + i % 4, spo2=97.0, resp_rate=15.0 + i % 2
            )
        )
    raw = engine.to_bytes()
    again = PatientEngine.from_bytes(raw, cfg)
    assert again.detector.NAME == "gaussian" and again.detector.models.keys() == engine.detector.models.keys()
    assert again.detector.models["heart_rate"].n == engine.detector.models["heart_rate"].n
    # the ward's policy now runs the default: the gaussian state is dropped, the patient re-warms
    switched = PatientEngine.from_bytes(raw, PolicyConfig())
    assert isinstance(switched.detector, BaselineDetector) and switched.detector.vitals == {}
