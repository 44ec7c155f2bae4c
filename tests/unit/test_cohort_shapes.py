"""Data shapes over the cohort (monitor/cohort/shapes.py): the robustness matrix's inputs must be
what they claim, or every cell of the matrix measures something else."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from monitor.cohort import CohortSpec, Scenario, generate_cohort, iter_plan_samples
from monitor.cohort.shapes import BURST_HR, DataShape, apply_bursts, base_spec, draw_bursts, iter_shaped_samples

SPEC = CohortSpec(n_patients=4, hours=4.0, seed=5, deteriorating_share=0.5)


def shaped(shape: DataShape, index: int = 0, spec: CohortSpec = SPEC, seed: int = 11) -> tuple[CohortSpec, list]:
    base = base_spec(spec, shape)
    plan = generate_cohort(base).plans[index]
    return base, list(iter_shaped_samples(base, plan, shape, seed))


def streamed(samples: list) -> list:
    return [s for s in samples if s.heart_rate is not None or s.spo2 is not None or s.resp_rate is not None]


def test_the_base_cohort_has_no_generator_artefacts_and_the_shape_rate():
    base = base_spec(SPEC, DataShape(sampling_s=1))
    assert base.artifacts is False and base.wearable_interval_s == (1, 1)
    assert base_spec(SPEC, DataShape(sampling_s=3600)).wearable_interval_s == (5, 5)


@pytest.mark.parametrize("period", [1.0, 5.0])
def test_streams_come_at_the_shape_interval(period):
    _, samples = shaped(DataShape(sampling_s=period))
    gaps = np.diff([s.ts_ms for s in streamed(samples)]) / 1000
    assert np.median(gaps) == pytest.approx(period, abs=0.1)


def test_one_minute_keeps_one_streamed_sample_a_minute():
    _spec, samples = shaped(DataShape(sampling_s=60))
    n = len(streamed(samples))
    assert abs(n - SPEC.hours * 60) <= 2
    assert min(np.diff([s.ts_ms for s in streamed(samples)])) > 1000  # never two in one bin


def test_hourly_charting_is_sets_holding_every_vital_from_the_spot_device():
    spec, samples = shaped(DataShape(sampling_s=3600))
    plan = generate_cohort(spec).plans[0]
    assert 3 <= len(samples) <= 5
    for s in samples:
        assert s.device_id == plan.spot_device
        assert s.heart_rate is not None and s.resp_rate is not None and s.spo2 is not None
    assert any(s.systolic_bp is not None for s in samples[1:])
    gaps = np.diff([s.ts_ms for s in samples]) / 3_600_000
    assert all(0.85 <= g <= 1.15 for g in gaps)


def test_bursts_move_hr_spo2_and_rr_together_and_only_flagged_ones_carry_motion():
    shape = DataShape(sampling_s=5, bursts_per_hour=6, burst_s=(20, 40), flagged_share=0.0)
    base = base_spec(SPEC, shape)
    plan = generate_cohort(base).plans[0]
    clean = list(iter_plan_samples(base, plan))
    rng = np.random.default_rng(1)
    bursts = draw_bursts(rng, base, plan, shape)
    assert bursts
    dirty = apply_bursts(clean, bursts)
    inside = [
        (c, d) for c, d in zip(clean, dirty, strict=False) if any(b.start_ms <= c.ts_ms < b.end_ms for b in bursts)
    ]
    assert inside
    for c, d in inside:
        assert BURST_HR[0] - 1 <= d.heart_rate - c.heart_rate <= BURST_HR[1] + 1 or d.heart_rate == 250
        assert d.spo2 < c.spo2 or d.spo2 == 50
        assert d.resp_rate > c.resp_rate or d.resp_rate == 60
        assert d.motion == c.motion  # unflagged: nothing says it is an artefact
    flagged = apply_bursts(clean, [dataclasses.replace(b, flagged=True) for b in bursts])
    in_burst = {c.ts_ms for c, _ in inside}
    assert all(f.motion >= 0.7 for f in flagged if f.ts_ms in in_burst)


def test_bursts_stay_out_of_the_deterioration_window():
    shape = DataShape(sampling_s=5, bursts_per_hour=30, burst_s=(30, 60), flagged_share=0.0)
    base = base_spec(SPEC, shape)
    sick = next(p for p in generate_cohort(base).plans if p.label.scenario is not Scenario.STABLE)
    bursts = draw_bursts(np.random.default_rng(2), base, sick, shape)
    assert bursts
    onset, must = sick.label.onset_ms, sick.label.must_alert_by_ms
    assert all(b.end_ms <= onset or b.start_ms >= must for b in bursts)


def test_missingness_leaves_out_about_its_share_of_values():
    _, full = shaped(DataShape(sampling_s=5))
    _, holed = shaped(DataShape(sampling_s=5, missing=0.25))
    had = sum(s.heart_rate is not None for s in full)
    kept = sum(s.heart_rate is not None for s in holed)
    assert 0.70 <= kept / had <= 0.80


def test_a_shape_is_reproducible_and_seeds_differ():
    shape = DataShape(sampling_s=60, bursts_per_hour=3, flagged_share=0.5, missing=0.1)
    assert shaped(shape)[1] == shaped(shape)[1]
    assert shaped(shape)[1] != shaped(shape, seed=12)[1]


def test_a_nonsense_shape_is_refused():
    with pytest.raises(ValueError):
        DataShape(flagged_share=1.5)
    with pytest.raises(ValueError):
        DataShape(burst_s=(30, 10))
