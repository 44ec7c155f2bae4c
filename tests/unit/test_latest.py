"""The per-patient latest-vitals view: freshness, ordering, memory and checkpoints."""

from __future__ import annotations

import json

import orjson
import pytest

from monitor.latest import (
    HOUR_MS,
    MINUTE_MS,
    STATE_FIELDS,
    STATE_VERSION,
    Freshness,
    LatestVitals,
    ScoredView,
)
from monitor.news2 import score_news2
from monitor.vitals import Consciousness, VitalSample

T0 = 1_764_064_800_000  # 2025-11-25T10:00:00Z
FRESH = Freshness()


def sample(ts_ms: int = T0, **vitals: object) -> VitalSample:
    return VitalSample(
        patient_id="MRN-884",
        device_id="wear-17",
        ts_ms=ts_ms,
        **vitals,  # type: ignore[arg-type]
    )


FULL = {
    "heart_rate": 72.0,
    "spo2": 97.0,
    "resp_rate": 16.0,
    "temperature": 36.8,
    "systolic_bp": 121.0,
    "diastolic_bp": 79.0,
    "on_oxygen": False,
    "consciousness": Consciousness.A,
    "spo2_scale": 1,
}


def view_of(*samples: VitalSample) -> LatestVitals:
    view = LatestVitals()
    for s in samples:
        view.update(s)
    return view


# --- basics and ages ---------------------------------------------------------------


def test_empty_view_scores_nothing() -> None:
    scored = LatestVitals().score(T0, FRESH)
    assert isinstance(scored, ScoredView)
    assert scored.news2 == score_news2()
    assert scored.used == {} and scored.values == {} and scored.expired == ()


def test_full_sample_is_scored_and_ages_are_reported() -> None:
    view = view_of(sample(**FULL))
    scored = view.score(T0 + 2_500, FRESH)
    assert scored.news2.complete and scored.news2.total == 0
    assert scored.used == {
        "resp_rate": 2_500,
        "spo2": 2_500,
        "on_oxygen": 2_500,
        "systolic_bp": 2_500,
        "heart_rate": 2_500,
        "consciousness": 2_500,
        "temperature": 2_500,
        "spo2_scale": 2_500,
    }
    assert scored.values == {
        "resp_rate": 16.0,
        "spo2": 97.0,
        "on_oxygen": False,
        "systolic_bp": 121.0,
        "heart_rate": 72.0,
        "consciousness": "A",
        "temperature": 36.8,
        "spo2_scale": 1,
    }
    assert scored.expired == ()


def test_ages_differ_per_vital() -> None:
    view = view_of(
        sample(T0, systolic_bp=95.0, temperature=38.4),
        sample(T0 + 3 * HOUR_MS, heart_rate=115.0, spo2=93.0, resp_rate=22.0),
    )
    scored = view.score(T0 + 3 * HOUR_MS + 1_000, FRESH)
    assert scored.used == {
        "resp_rate": 1_000,
        "spo2": 1_000,
        "systolic_bp": 3 * HOUR_MS + 1_000,
        "heart_rate": 1_000,
        "temperature": 3 * HOUR_MS + 1_000,
    }
    assert scored.news2.components == {
        "resp_rate": 2,
        "spo2": 2,
        "on_oxygen": 0,
        "systolic_bp": 2,
        "heart_rate": 2,
        "consciousness": 0,
        "temperature": 1,
    }
    assert scored.news2.total == 9 and scored.news2.band == "high"


def test_value_from_the_future_has_age_zero() -> None:
    scored = view_of(sample(T0 + 400, heart_rate=80.0)).score(T0, FRESH)
    assert scored.used == {"heart_rate": 0}


def test_diastolic_is_kept_but_not_a_news2_input() -> None:
    view = view_of(sample(diastolic_bp=60.0, systolic_bp=100.0))
    assert view.get("diastolic_bp") == (60.0, T0)
    scored = view.score(T0, FRESH)
    assert "diastolic_bp" not in scored.used and "diastolic_bp" not in scored.values
    assert view.get("temperature") is None


# --- expiry ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("heart_rate", 95.0), ("spo2", 95.0), ("resp_rate", 18.0)])
def test_continuous_vitals_expire_after_five_minutes(name: str, value: float) -> None:
    view = view_of(sample(**{name: value}))
    assert view.score(T0 + 5 * MINUTE_MS, FRESH).used == {name: 5 * MINUTE_MS}
    late = view.score(T0 + 5 * MINUTE_MS + 1, FRESH)
    assert late.used == {} and late.values == {}
    assert late.expired == (name,)
    assert name not in late.news2.components


@pytest.mark.parametrize(("name", "value"), [("systolic_bp", 85.0), ("temperature", 34.0)])
def test_spot_checks_expire_after_four_hours(name: str, value: float) -> None:
    view = view_of(sample(**{name: value}), sample(T0 + 4 * HOUR_MS, heart_rate=70.0))
    assert view.score(T0 + 4 * HOUR_MS, FRESH).news2.components[name] == 3
    late = view.score(T0 + 4 * HOUR_MS + 1, FRESH)
    assert late.expired == (name,)
    assert late.news2.total == 0 and name not in late.news2.components
    assert not late.news2.complete


def test_expiry_is_configurable() -> None:
    view = view_of(sample(temperature=39.5, heart_rate=72.0))
    strict = Freshness(temperature=HOUR_MS, heart_rate=10_000)
    scored = view.score(T0 + HOUR_MS + 1, strict)
    assert scored.expired == ("heart_rate", "temperature")
    assert view.score(T0 + HOUR_MS, strict).used == {"temperature": HOUR_MS}


def test_expired_is_in_chart_order_and_mixed_with_used() -> None:
    view = view_of(
        sample(T0, **FULL),
        sample(T0 + 2 * HOUR_MS, heart_rate=80.0, spo2=96.0, resp_rate=18.0),
    )
    scored = view.score(T0 + 2 * HOUR_MS + 30_000, FRESH)
    assert scored.expired == ()
    scored = view.score(T0 + 5 * HOUR_MS, FRESH)
    assert scored.expired == ("resp_rate", "spo2", "systolic_bp", "heart_rate", "temperature")
    assert set(scored.used) == {"on_oxygen", "consciousness"}


@pytest.mark.parametrize("limit", [0, -1, 1.5, True, "300000", None])
def test_freshness_rejects_non_positive_or_non_int_limits(limit: object) -> None:
    with pytest.raises(ValueError, match=r"Freshness\.spo2"):
        Freshness(spo2=limit)  # type: ignore[arg-type]


def test_freshness_defaults() -> None:
    assert FRESH.max_age_ms("heart_rate") == FRESH.spo2 == FRESH.resp_rate == 300_000
    assert FRESH.systolic_bp == FRESH.diastolic_bp == FRESH.temperature == 4 * HOUR_MS
    assert FRESH.on_oxygen == FRESH.consciousness == 12 * HOUR_MS


# --- nursing inputs ----------------------------------------------------------------


def test_nursing_inputs_are_remembered_until_changed() -> None:
    view = view_of(
        sample(T0, on_oxygen=True, consciousness=Consciousness.C),
        sample(T0 + 10 * MINUTE_MS, heart_rate=72.0),
        sample(T0 + 20 * MINUTE_MS, spo2=97.0, on_oxygen=None, consciousness=None),
    )
    scored = view.score(T0 + 20 * MINUTE_MS, FRESH)
    assert scored.values["on_oxygen"] is True and scored.values["consciousness"] == "C"
    assert scored.used["on_oxygen"] == 20 * MINUTE_MS
    assert scored.news2.components["on_oxygen"] == 2
    assert scored.news2.components["consciousness"] == 3

    view.update(sample(T0 + 30 * MINUTE_MS, on_oxygen=False, consciousness=Consciousness.A))
    scored = view.score(T0 + 31 * MINUTE_MS, FRESH)
    assert scored.values["on_oxygen"] is False and scored.values["consciousness"] == "A"
    assert scored.used["on_oxygen"] == MINUTE_MS


def test_restating_a_nursing_input_refreshes_it() -> None:
    view = view_of(
        sample(T0, on_oxygen=True),
        sample(T0 + 11 * HOUR_MS, on_oxygen=True),
    )
    assert view.score(T0 + 13 * HOUR_MS, FRESH).used == {"on_oxygen": 2 * HOUR_MS}


def test_expired_nursing_inputs_fall_back_to_score_defaults() -> None:
    view = view_of(sample(T0, on_oxygen=True, consciousness=Consciousness.V))
    assert view.score(T0 + 12 * HOUR_MS, FRESH).news2.total == 5
    late = view.score(T0 + 12 * HOUR_MS + 1, FRESH)
    assert late.expired == ("on_oxygen", "consciousness")
    assert late.news2.components == {"on_oxygen": 0, "consciousness": 0}
    assert late.values == {}


def test_scale_2_is_remembered_and_never_expires() -> None:
    view = view_of(sample(T0, spo2_scale=2, on_oxygen=True))
    later = T0 + 30 * 24 * HOUR_MS
    view.update(sample(later, spo2=97.0, on_oxygen=True))
    scored = view.score(later + 1_000, FRESH)
    assert scored.values["spo2_scale"] == 2
    assert scored.used["spo2_scale"] == 30 * 24 * HOUR_MS + 1_000
    assert scored.news2.components["spo2"] == 3  # ≥97 on O2, scale 2
    assert "spo2_scale" not in scored.expired


def test_scale_2_on_air_once_oxygen_expired() -> None:
    view = view_of(sample(T0, spo2_scale=2, on_oxygen=True))
    later = T0 + 13 * HOUR_MS
    view.update(sample(later, spo2=97.0))
    scored = view.score(later, FRESH)
    assert scored.expired == ("on_oxygen",)
    assert scored.news2.components["spo2"] == 0  # ≥93 on air, scale 2
    assert scored.values["spo2_scale"] == 2


def test_scale_is_reported_only_when_spo2_is_scored() -> None:
    view = view_of(sample(spo2_scale=2, heart_rate=70.0))
    assert view.score(T0, FRESH).used == {"heart_rate": 0}
    assert view.get("spo2_scale") == (2, T0)


# --- ordering and signal quality ------------------------------------------------------


def test_out_of_order_sample_does_not_override_newer_values() -> None:
    view = view_of(
        sample(T0 + 5_000, heart_rate=120.0, on_oxygen=True),
        sample(T0 + 1_000, heart_rate=70.0, spo2=95.0, on_oxygen=False),
    )
    scored = view.score(T0 + 6_000, FRESH)
    assert scored.values["heart_rate"] == 120.0
    assert scored.values["on_oxygen"] is True
    # a vital the newer sample did not carry is still taken from the older one
    assert scored.values["spo2"] == 95.0
    assert scored.used == {"spo2": 5_000, "on_oxygen": 1_000, "heart_rate": 1_000}


def test_duplicate_timestamp_replaces() -> None:
    view = view_of(sample(T0, heart_rate=70.0), sample(T0, heart_rate=71.0))
    assert view.get("heart_rate") == (71.0, T0)


def test_old_events_are_still_data() -> None:
    """A backfill from years ago is scored against its own event time."""
    old = 946_684_800_000  # 2000-01-01
    scored = view_of(sample(old, resp_rate=26.0)).score(old + 1_000, FRESH)
    assert scored.news2.components["resp_rate"] == 3


def test_probe_off_sample_spo2_and_pulse_are_not_kept() -> None:
    view = view_of(
        sample(T0, spo2=97.0, heart_rate=72.0),
        sample(T0 + 1_000, spo2=70.0, heart_rate=30.0, resp_rate=18.0, probe_off=True),
    )
    assert view.get("spo2") == (97.0, T0)
    assert view.get("heart_rate") == (72.0, T0)
    assert view.get("resp_rate") == (18.0, T0 + 1_000)


# --- checkpoints -------------------------------------------------------------------


def _busy_view() -> LatestVitals:
    return view_of(
        sample(T0, **FULL),
        sample(T0 + 1_234, heart_rate=88.125, spo2=93.5, spo2_scale=2, on_oxygen=True),
        sample(T0 + 9_999, temperature=36.849999999999994, consciousness=Consciousness.P),
        sample(T0 + 2_000, resp_rate=30.0),  # out of order, newer than FULL's
    )


@pytest.mark.parametrize("view", [LatestVitals(), _busy_view(), view_of(sample(heart_rate=72))])
def test_state_round_trips_exactly_through_json(view: LatestVitals) -> None:
    state = view.to_state()
    for encoded in (json.loads(json.dumps(state)), orjson.loads(orjson.dumps(state))):
        back = LatestVitals.from_state(encoded)
        assert back == view
        assert back.to_state() == state
        assert [type(x) for x in back.to_state()] == [type(x) for x in state]
        for name in STATE_FIELDS:
            assert back.get(name) == view.get(name)
        assert back.score(T0 + 60_000, FRESH) == view.score(T0 + 60_000, FRESH)


def test_state_is_compact_plain_data() -> None:
    state = _busy_view().to_state()
    assert state[0] == STATE_VERSION
    assert len(state) == 1 + 2 * len(STATE_FIELDS)
    assert all(x is None or type(x) in (int, float, bool, str) for x in state)
    assert "P" in state  # consciousness as its letter


def test_restored_consciousness_is_the_enum() -> None:
    back = LatestVitals.from_state(json.loads(json.dumps(_busy_view().to_state())))
    value, _ = back.get("consciousness")  # type: ignore[misc]
    assert value is Consciousness.P


def test_restored_view_keeps_updating_by_event_time() -> None:
    back = LatestVitals.from_state(_busy_view().to_state())
    back.update(sample(T0, temperature=40.0))  # older than the held 36.85 at T0+9999
    assert back.get("temperature") == (36.849999999999994, T0 + 9_999)


def _state_with(name: str, value: object, ts: object = T0) -> list[object]:
    state = LatestVitals().to_state()
    i = 1 + 2 * STATE_FIELDS.index(name)
    state[i], state[i + 1] = value, ts
    return state


BAD_STATES = [
    None,
    {"v": 1},
    [],
    [STATE_VERSION],
    LatestVitals().to_state()[:-1],
    [2, *LatestVitals().to_state()[1:]],
    [True, *LatestVitals().to_state()[1:]],
    _state_with("heart_rate", "72"),
    _state_with("heart_rate", True),
    _state_with("heart_rate", 72.0, ts=None),
    _state_with("heart_rate", 72.0, ts=1.7e12),
    _state_with("heart_rate", 72.0, ts="2026-01-01"),
    _state_with("heart_rate", None, ts=T0),
    _state_with("consciousness", "X"),
    _state_with("consciousness", 1),
    _state_with("on_oxygen", 1),
    _state_with("spo2_scale", 3),
    _state_with("spo2_scale", True),
]


@pytest.mark.parametrize("state", BAD_STATES)
def test_malformed_state_raises_value_error(state: object) -> None:
    with pytest.raises(ValueError):
        LatestVitals.from_state(state)  # type: ignore[arg-type]


def test_view_is_unhashable_and_compares_by_content() -> None:
    assert LatestVitals() == LatestVitals()
    assert _busy_view() != LatestVitals()
    with pytest.raises(TypeError):
        hash(LatestVitals())
    assert "heart_rate" in repr(_busy_view())


def test_news2_of_is_the_views_news2_and_values_without_provenance() -> None:
    view = view_of(
        sample(T0, **FULL),
        sample(T0 + 3 * HOUR_MS, spo2_scale=2, on_oxygen=True, spo2=93.0),
        sample(T0 + 4 * HOUR_MS, heart_rate=130.0, resp_rate=24.0),
    )
    short = Freshness(heart_rate=MINUTE_MS, spo2=MINUTE_MS, resp_rate=MINUTE_MS)
    for now in (
        T0 - MINUTE_MS,
        T0,
        T0 + HOUR_MS,
        T0 + 3 * HOUR_MS + 30_000,
        T0 + 4 * HOUR_MS + 10 * MINUTE_MS,
        T0 + 20 * HOUR_MS,
    ):
        for fresh in (FRESH, short):
            scored = view.score(now, fresh)
            news2, values = view.news2_of(now, fresh)
            assert news2 == scored.news2
            assert list(values.items()) == list(scored.values.items())
    assert LatestVitals().news2_of(T0, FRESH)[0] == LatestVitals().score(T0, FRESH).news2
