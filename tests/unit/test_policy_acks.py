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


# ---- re-paging is earned by the patient (issue #16 item 4) ----------------------
# NEWS2 6 steady on a wearable: RR 25 (3), SpO2 94 (1), HR 112 (2).
_SIX = {"resp_rate": 25.0, "spo2": 94.0, "heart_rate": 112.0}


def _acked_news2_6_episode():
    from alerts.engine import PatientEngine
    from alerts.model import Status
    from tests.unit.test_policy_support import PID, feed, span, warm

    engine = PatientEngine(PID)
    warm(engine, 3600)
    # 120 s persistence + 2 readings for the median of the stream to show it
    alerts = feed(engine, span(3600, 3740, step_s=5, **_SIX))
    raised = [a for a in alerts if a.status is Status.RAISED]
    assert [(a.kind.value, a.priority.value, a.news2.total) for a in raised] == [("news2", "medium", 6)]
    engine.acknowledge(raised[0].alert_id, "nurse.kim", "acknowledge", None)
    return engine, raised[0]


def test_after_an_ack_the_detector_catching_up_on_unchanged_physiology_does_not_re_page():
    """Was: re-paged at high 90 s after the ack (anomaly + NEWS2 agreement confirmed), then escalated twice."""
    from tests.unit.test_policy_support import feed, span

    engine, raised = _acked_news2_6_episode()
    later = feed(engine, span(3740, 3740 + 1800, step_s=5, **_SIX))
    assert later == []
    episode = next(iter(engine.policy.episodes.values()))
    assert episode.alert_id == raised.alert_id and episode.priority.value == "medium"


def test_after_an_ack_real_worsening_still_pages_and_its_new_level_has_its_own_no_ack_timer():
    from alerts.model import Status
    from tests.unit.test_policy_support import feed, span

    engine, raised = _acked_news2_6_episode()
    worse = feed(engine, span(3740, 3740 + 600, step_s=5, **dict(_SIX, spo2=91.0)))  # SpO2 scores 3: NEWS2 8
    pages = [(a.status, a.priority.value) for a in worse if a.status is not Status.RESOLVED]
    assert pages[0] == (Status.ESCALATED, "high")
    assert len(pages) == 3  # the rise, then the high level's two no-ack escalations (nobody acked it)
    assert {a.alert_id for a in worse} == {raised.alert_id}
