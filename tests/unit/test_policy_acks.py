"""Acknowledgements: who may change what, and what they cannot bring back to life."""

from __future__ import annotations

import pytest

from alerts.engine import PatientEngine
from alerts.model import Status
from alerts.policy import AckError
from tests.unit.test_policy_support import PID, WARM_S, feed, of, span, warm


def _raised() -> tuple[PatientEngine, str]:
    engine = PatientEngine(PID)
    warm(engine)
    raised = of(feed(engine, span(WARM_S, WARM_S + 60, step_s=1, spo2=80.0)), Status.RAISED)
    return engine, raised[0].alert_id


def test_an_ack_for_an_unknown_alert_is_rejected_with_a_reason():
    engine, _ = _raised()
    with pytest.raises(AckError) as err:
        engine.acknowledge("phys-nope", "nurse.kim", "acknowledge", None)
    assert err.value.reason == "unknown_alert"


def test_a_resolved_alert_cannot_be_acknowledged_into_life_again():
    engine, alert_id = _raised()
    feed(engine, span(WARM_S + 60, WARM_S + 1500))  # recovers; resolves after the hold
    assert alert_id not in {e.alert_id for e in engine.policy.episodes.values()}
    for action in ("acknowledge", "resolve"):
        with pytest.raises(AckError) as err:
            engine.acknowledge(alert_id, "nurse.kim", action, None)
        assert err.value.reason == "alert_resolved"
    assert engine.policy.episodes == {}


def test_an_unknown_action_is_rejected():
    engine, alert_id = _raised()
    with pytest.raises(AckError) as err:
        engine.acknowledge(alert_id, "nurse.kim", "snooze", None)
    assert err.value.reason == "bad_ack"


def test_staff_resolve_closes_the_episode_with_who_did_it():
    engine, alert_id = _raised()
    out = engine.acknowledge(alert_id, "dr.o", "resolve", 1)
    assert [(a.status, a.acknowledged_by, a.alert_id) for a in out] == [(Status.RESOLVED, "dr.o", alert_id)]
    assert out[0].ts_ms == engine.policy.now_ms  # the policy clock, not the ack's ts (1 ms after 1970)
