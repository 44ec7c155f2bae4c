"""Scenario tests of the alert policy, driven by event time through the pure engine.

Each reads like a bedside story: a short dip, a sustained drop, a flapping
probe, an ack, no ack, a probe off, a recovery. No broker, no clock.
"""

from __future__ import annotations

from alerts.config import PolicyConfig
from alerts.engine import PatientEngine
from alerts.ids import episode_id
from alerts.model import EpisodeClass, Kind, Priority, Status
from tests.unit.test_policy_support import PID, T0, WARM_S, at_s, feed, of, sample, span, warm

PHYSIOLOGICAL = {Kind.NEWS2, Kind.ANOMALY, Kind.THRESHOLD}


def physiological(alerts):
    return [a for a in alerts if a.kind in PHYSIOLOGICAL]


def test_a_stable_patient_never_pages():
    engine = PatientEngine(PID)
    assert feed(engine, span(0, 4 * 3600)) == []


def test_a_10_s_spo2_dip_does_not_page_however_deep():
    engine = PatientEngine(PID)
    warm(engine)
    dip = span(WARM_S, WARM_S + 10, step_s=1, spo2=70.0)
    after = span(WARM_S + 10, WARM_S + 3600)
    assert feed(engine, dip + after) == []


def test_a_sustained_spo2_drop_pages_once_with_an_explained_reason():
    engine = PatientEngine(PID)
    warm(engine)
    alerts = feed(engine, span(WARM_S, WARM_S + 600, step_s=1, spo2=82.0))
    raised = of(alerts, Status.RAISED)
    assert len(raised) == 1
    alert = raised[0]
    assert alert.kind is Kind.THRESHOLD and alert.priority is Priority.HIGH
    # Integral criterion: 3 %·s per second under 85 % reaches 60 %·s only at 20 s (> the 15 s minimum).
    assert 15 <= at_s(alert.ts_ms) - WARM_S <= 30
    assert {a.alert_id for a in alerts} == {alert.alert_id}
    spo2 = next(r for r in alert.reasons if r.vital == "spo2")
    assert spo2.value == 82.0 and spo2.limit == 85.0 and 95.5 <= spo2.baseline <= 97.5
    assert "SpO2 82% below limit 85%" in spo2.text and "baseline" in spo2.text
    assert alert.onset_ts_ms == T0 + WARM_S * 1000
    assert alert.alert_id == episode_id(PID, EpisodeClass.PHYSIOLOGICAL, alert.onset_ts_ms)


def test_a_flapping_signal_yields_one_episode_and_resolves_once_after_the_hold():
    engine = PatientEngine(PID)
    warm(engine)
    t, alerts = WARM_S, []
    for _ in range(8):  # 45 s desaturated, 90 s fine, eight times over
        alerts += feed(engine, span(t, t + 45, step_s=1, spo2=80.0))
        alerts += feed(engine, span(t + 45, t + 135, step_s=1))
        t += 135
    alerts += feed(engine, span(t, t + 1800))
    assert len(of(alerts, Status.RAISED)) == 1
    assert len({a.alert_id for a in physiological(alerts)}) == 1
    resolved = of(alerts, Status.RESOLVED)
    assert len(resolved) == 1
    # Clear once the last dip has faded (the detector's smoothing lags a minute); then the 600 s hold.
    assert t - 90 + 600 <= at_s(resolved[0].ts_ms) <= t - 90 + 600 + 120


def test_no_ack_escalates_exactly_once_per_step_even_with_ticks_in_between():
    engine = PatientEngine(PID)
    warm(engine)
    alerts = []
    for s in span(WARM_S, WARM_S + 1200, step_s=1, spo2=80.0):
        alerts += engine.process(s)
        alerts += engine.tick(s.ts_ms + 1500)  # a worker's wall-clock tick running a bit ahead
        alerts += engine.tick(s.ts_ms + 700)  # and an older one arriving late
    raised = of(alerts, Status.RAISED)[0]
    escalated = of(alerts, Status.ESCALATED)
    assert [a.extra["escalation_level"] for a in escalated] == [1, 2]  # max_escalations = 2
    assert [a.ts_ms - raised.ts_ms for a in escalated] == [120_000, 240_000]  # high: every 120 s
    assert all(a.priority is Priority.HIGH for a in escalated)


def test_escalations_missed_during_a_dropout_come_out_once_each_at_their_due_time():
    engine = PatientEngine(PID)
    warm(engine)
    raised = of(feed(engine, span(WARM_S, WARM_S + 40, step_s=1, spo2=80.0)), Status.RAISED)[0]
    later = engine.tick(raised.ts_ms + 3600_000)
    again = engine.tick(raised.ts_ms + 3700_000)
    steps = of(physiological(later), Status.ESCALATED)
    assert [a.ts_ms - raised.ts_ms for a in steps] == [120_000, 240_000]
    assert of(again, Status.ESCALATED) == []
    assert [a.kind for a in of(later, Status.RAISED)] == [Kind.SIGNAL_LOSS]


def test_an_ack_stops_escalation_and_the_ack_clock_is_not_the_policy_clock():
    engine = PatientEngine(PID)
    warm(engine)
    raised = of(feed(engine, span(WARM_S, WARM_S + 40, step_s=1, spo2=80.0)), Status.RAISED)[0]
    wall_clock = T0 + 400 * 86_400_000  # the nurse's ack comes from 'now', a year after this replay
    acked = engine.acknowledge(raised.alert_id, "nurse.kim", "acknowledge", wall_clock)
    assert [a.status for a in acked] == [Status.ACKNOWLEDGED]
    assert acked[0].acknowledged_by == "nurse.kim"
    assert acked[0].ts_ms <= T0 + (WARM_S + 40) * 1000  # stamped in event time
    assert acked[0].extra["acknowledged_at"].startswith("2026-12")
    rest = feed(engine, span(WARM_S + 40, WARM_S + 1800, step_s=1, spo2=80.0))
    assert of(rest, Status.ESCALATED) == []
    assert engine.acknowledge(raised.alert_id, "nurse.kim", "acknowledge", None) == []  # idempotent
    # Recovery still resolves on event time (a wall-clock ack would have pushed the cooldown a year out).
    rest = feed(engine, span(WARM_S + 1800, WARM_S + 3600))
    assert [a.status for a in physiological(rest)] == [Status.RESOLVED]
    assert engine.policy.cooldown_until[EpisodeClass.PHYSIOLOGICAL] < T0 + 86_400_000


def test_a_rise_in_priority_re_notifies_once_and_needs_a_new_ack():
    cfg = PolicyConfig(anomaly=False, news2=False)
    engine = PatientEngine(PID, cfg)
    warm(engine)
    first = of(feed(engine, span(WARM_S, WARM_S + 90, step_s=1, heart_rate=150.0)), Status.RAISED)
    assert [a.priority for a in first] == [Priority.MEDIUM]
    engine.acknowledge(first[0].alert_id, "dr.o", "acknowledge", None)
    worse = feed(engine, span(WARM_S + 90, WARM_S + 200, step_s=1, heart_rate=150.0, spo2=80.0))
    assert [(a.status, a.priority) for a in worse] == [(Status.ESCALATED, Priority.HIGH)]
    assert worse[0].alert_id == first[0].alert_id
    steps = of(feed(engine, span(WARM_S + 200, WARM_S + 600, step_s=1, spo2=80.0)), Status.ESCALATED)
    assert [a.extra.get("escalation_level") for a in steps] == [1, 2]  # its own no-ack ladder
    assert steps[0].ts_ms - worse[0].ts_ms == 120_000


def test_probe_off_gives_a_technical_alert_and_no_physiological_one():
    engine = PatientEngine(PID)
    warm(engine)
    alerts = feed(engine, span(WARM_S, WARM_S + 900, step_s=2, spo2=40.0, heart_rate=190.0, probe_off=True))
    assert physiological(alerts) == []
    raised = of(alerts, Status.RAISED)
    assert [a.kind for a in raised] == [Kind.TECHNICAL]
    assert at_s(raised[0].ts_ms) - WARM_S == 30  # probe_off_s
    assert raised[0].suppressed == ("heart_rate: probe off", "spo2: probe off")
    assert raised[0].to_wire()["suppressed"] == ["heart_rate: probe off", "spo2: probe off"]
    back = feed(engine, span(WARM_S + 900, WARM_S + 2400))
    assert [(a.kind, a.status) for a in back] == [(Kind.TECHNICAL, Status.RESOLVED)]


def test_sustained_motion_suppresses_and_raises_a_technical_alert_instead():
    engine = PatientEngine(PID)
    warm(engine)
    alerts = feed(engine, span(WARM_S, WARM_S + 300, step_s=1, spo2=78.0, motion=0.9))
    assert physiological(alerts) == []
    assert [(a.kind, a.status) for a in alerts] == [(Kind.TECHNICAL, Status.RAISED)]
    assert "motion artefact" in alerts[0].suppressed[0]


def test_an_open_episode_does_not_resolve_while_the_signal_is_bad():
    engine = PatientEngine(PID, PolicyConfig(escalate_after_s={"high": 0, "medium": 0, "low": 0}))
    warm(engine)
    raised = of(feed(engine, span(WARM_S, WARM_S + 60, step_s=1, spo2=80.0)), Status.RAISED)
    assert raised
    bad = feed(engine, span(WARM_S + 60, WARM_S + 1500, step_s=2, probe_off=True))
    assert [a.kind for a in bad] == [Kind.TECHNICAL]  # raised; the desaturation stays open
    physio = next(a for a in raised if a.kind in PHYSIOLOGICAL)
    assert EpisodeClass.PHYSIOLOGICAL in engine.policy.episodes
    good = feed(engine, span(WARM_S + 1500, WARM_S + 2400))
    resolved = [a for a in of(good, Status.RESOLVED) if a.alert_id == physio.alert_id]
    assert len(resolved) == 1 and at_s(resolved[0].ts_ms) == WARM_S + 1500 + 600


def test_recovery_resolves_after_the_hold_time_and_not_before():
    engine = PatientEngine(PID)
    warm(engine)
    feed(engine, span(WARM_S, WARM_S + 120, step_s=1, spo2=80.0))
    # 86-87 % is above the clear level (88 %)? No: it stays active by hysteresis until >= 88 %.
    held = feed(engine, span(WARM_S + 120, WARM_S + 900, step_s=1, spo2=86.0))
    assert of(held, Status.RESOLVED) == []
    recovered_at = WARM_S + 900
    alerts = feed(engine, span(recovered_at, recovered_at + 599, step_s=1))
    assert of(alerts, Status.RESOLVED) == []
    alerts = feed(engine, span(recovered_at + 599, recovered_at + 700, step_s=1))
    resolved = of(alerts, Status.RESOLVED)
    assert len(resolved) == 1 and at_s(resolved[0].ts_ms) >= recovered_at + 600


def test_after_a_resolve_the_cooldown_asks_twice_the_persistence():
    cfg = PolicyConfig(anomaly=False, news2=False)
    engine = PatientEngine(PID, cfg)
    warm(engine)
    first = feed(engine, span(WARM_S, WARM_S + 70, step_s=1, heart_rate=150.0))
    assert at_s(of(first, Status.RAISED)[0].ts_ms) == WARM_S + 60  # hr_high: 60 s
    feed(engine, span(WARM_S + 70, WARM_S + 1300))  # resolves after the hold
    t = WARM_S + 1300
    second = of(feed(engine, span(t, t + 200, step_s=1, heart_rate=150.0)), Status.RAISED)
    assert len(second) == 1 and at_s(second[0].ts_ms) == t + 120
    assert second[0].alert_id != of(first, Status.RAISED)[0].alert_id


def test_signal_loss_only_for_a_continuous_stream_and_it_resolves_when_data_returns():
    engine = PatientEngine(PID)
    feed(engine, span(0, 600))
    lost = engine.tick(T0 + 600_000 + 300_000)
    assert [(a.kind, a.status, a.priority) for a in lost] == [(Kind.SIGNAL_LOSS, Status.RAISED, Priority.MEDIUM)]
    assert lost[0].ts_ms == T0 + 595_000 + 120_000  # last sample + signal_loss_s
    assert "No data from device wear-1" in lost[0].reasons[0].text
    back = engine.process(sample(1000))
    assert [(a.kind, a.status) for a in back] == [(Kind.SIGNAL_LOSS, Status.RESOLVED)]

    spot = PatientEngine("MRN-SPOT")  # BP and temperature rounds only, plus one nurse-taken pulse
    alerts = feed(spot, [sample(0, pid="MRN-SPOT", heart_rate=80.0, spo2=None, resp_rate=None)])
    for i in range(1, 8):
        alerts += spot.process(
            sample(
                i * 3600,
                pid="MRN-SPOT",
                heart_rate=None,
                spo2=None,
                resp_rate=None,
                systolic_bp=125.0,
                diastolic_bp=80.0,
                temperature=36.9,
            )
        )
    alerts += spot.tick(T0 + 9 * 3_600_000)
    assert [a for a in alerts if a.kind is Kind.SIGNAL_LOSS] == []


def test_staff_resolve_while_it_persists_needs_a_new_confirmation_and_a_new_id():
    engine = PatientEngine(PID, PolicyConfig(anomaly=False, news2=False))
    warm(engine)
    first = of(feed(engine, span(WARM_S, WARM_S + 40, step_s=1, spo2=80.0)), Status.RAISED)[0]
    closed = engine.acknowledge(first.alert_id, "dr.o", "resolve", None)
    assert [(a.status, a.acknowledged_by) for a in closed] == [(Status.RESOLVED, "dr.o")]
    again = of(feed(engine, span(WARM_S + 40, WARM_S + 100, step_s=1, spo2=80.0)), Status.RAISED)
    assert len(again) == 1 and again[0].alert_id != first.alert_id
    assert at_s(again[0].ts_ms) >= WARM_S + 40 + 15


def test_same_input_gives_the_same_alerts_and_ids():
    def run():
        engine = PatientEngine(PID)
        warm(engine)
        return feed(engine, span(WARM_S, WARM_S + 900, step_s=1, spo2=80.0) + span(WARM_S + 900, WARM_S + 2400))

    assert run() == run()


def test_a_news2_flickering_between_medium_and_low_is_one_sustained_condition():
    engine = PatientEngine(PID, PolicyConfig(anomaly=False))
    warm(engine)
    t, alerts = WARM_S, []
    while t < WARM_S + 400:  # 5 (medium) for 20 s, 4 (low) for 20 s, ...
        alerts += feed(engine, span(t, t + 20, step_s=2, resp_rate=21.0, heart_rate=112.0, spo2=95.0))
        alerts += feed(engine, span(t + 20, t + 40, step_s=2, resp_rate=21.0, heart_rate=112.0, spo2=96.0))
        t += 40
    raised = of(alerts, Status.RAISED)
    assert [(a.kind, a.priority) for a in raised] == [(Kind.NEWS2, Priority.MEDIUM)]
    assert 120 <= at_s(raised[0].ts_ms) - WARM_S <= 140  # the first medium sample after 120 s


def test_a_sustained_low_news2_band_never_pages():
    engine = PatientEngine(PID, PolicyConfig(anomaly=False))
    warm(engine)
    assert feed(engine, span(WARM_S, WARM_S + 3600, resp_rate=21.0, heart_rate=100.0)) == []
