"""Two data shapes, one engine: continuous streams vs intermittent observation sets (issue #16 item 1).

Charted vitals (a spot-check monitor, a nurse's round, EHR charting) are one
deliberate measurement each: NEWS2 pages on the set with the chart's bands, a
repeat set confirms, escalates or clears, and a gap between rounds is not a
signal loss. A wearable is a stream and keeps persistence.
"""

from __future__ import annotations

import orjson

from alerts.engine import STREAM_MIN_GAPS, PatientEngine
from alerts.model import Kind, Priority, Status
from monitor.parse import parse_message
from monitor.vitals import Consciousness, Method, VitalSample
from tests.unit.test_policy_support import PID, T0, feed, of, sample, span

HOUR = 3600
#: NEWS2 11: RR 26 (3), SpO2 90 (3), SBP 95 (2), HR 115 (2), T 38.5 (1).
SICK = {"resp_rate": 26.0, "spo2": 90.0, "systolic_bp": 95.0, "heart_rate": 115.0, "temperature": 38.5}
#: NEWS2 5: RR 22 (2), SpO2 95 (1), SBP 105 (1), HR 95 (1).
FIVE = {"resp_rate": 22.0, "spo2": 95.0, "systolic_bp": 105.0, "heart_rate": 95.0, "temperature": 37.0}
#: NEWS2 7: FIVE with HR 115 (2) and SBP 105 (1) -> 2+1+1+2 = 6, plus T 38.5 (1) = 7.
SEVEN = dict(FIVE, heart_rate=115.0, temperature=38.5)
CALM = {"resp_rate": 16.0, "spo2": 97.0, "systolic_bp": 125.0, "heart_rate": 75.0, "temperature": 37.0}


def chart(t_s: float, device: str = "ehr", **values) -> VitalSample:
    return VitalSample(PID, device, T0 + int(t_s * 1000), **values)


def rounds(every_s: float, n: int, **values) -> list[VitalSample]:
    return [chart(i * every_s, **values) for i in range(n)]


def pages(alerts):
    return [(a.status, a.priority) for a in alerts if a.kind is not Kind.SIGNAL_LOSS]


def test_hourly_news2_of_7_or_more_pages_high_on_the_first_set_and_repeat_sets_confirm_quietly():
    engine = PatientEngine(PID)
    first = engine.process(chart(0, **SICK))
    assert [(a.status, a.priority, a.kind) for a in first] == [(Status.RAISED, Priority.HIGH, Kind.NEWS2)]
    assert first[0].news2.total == 11
    later = feed(engine, rounds(HOUR, 6, **SICK)[1:])
    assert of(later, Status.RAISED) == [] and not [a for a in later if a.kind is Kind.SIGNAL_LOSS]


def test_hourly_news2_5_pages_medium_on_the_first_set():
    alerts = PatientEngine(PID).process(chart(0, **FIVE))
    assert [(a.status, a.priority) for a in alerts] == [(Status.RAISED, Priority.MEDIUM)]


def test_a_single_3_on_a_set_pages_low_medium_at_once():
    alerts = PatientEngine(PID).process(chart(0, **dict(CALM, consciousness=Consciousness.C)))
    assert [(a.status, a.priority, a.news2.band) for a in alerts] == [(Status.RAISED, Priority.LOW, "low-medium")]


def test_a_repeat_set_escalates_when_worse_and_a_calm_set_clears_the_episode():
    engine = PatientEngine(PID)
    raised = engine.process(chart(0, **FIVE))
    assert pages(raised) == [(Status.RAISED, Priority.MEDIUM)]
    engine.acknowledge(raised[0].alert_id, "nurse.kim", "acknowledge", None)
    assert pages(engine.process(chart(HOUR / 2, **FIVE))) == []  # the same picture again: confirms, no page
    worse = engine.process(chart(HOUR, **SEVEN))
    assert pages(worse) == [(Status.ESCALATED, Priority.HIGH)]
    engine.acknowledge(worse[0].alert_id, "nurse.kim", "acknowledge", None)
    assert engine.process(chart(2 * HOUR, **CALM)) == []
    resolved = engine.tick(T0 + (2 * HOUR + 700) * 1000)
    assert [a.status for a in resolved] == [Status.RESOLVED]


def test_a_calm_patient_charted_4_hourly_for_a_day_gets_no_alert_of_any_kind():
    engine = PatientEngine(PID)
    alerts = feed(engine, rounds(4 * HOUR, 7, **CALM))
    alerts += engine.tick(T0 + 25 * HOUR * 1000)
    assert alerts == []
    assert engine.shape_of("ehr") is Method.OBSERVATION_SET


def test_three_chart_entries_within_2_min_do_not_make_a_stream_nor_a_signal_loss_at_the_next_round():
    engine = PatientEngine(PID)
    entries = [chart(t, **CALM) for t in (0, 50, 100)] + [chart(100 + h * HOUR, **CALM) for h in range(1, 6)]
    alerts = feed(engine, entries)
    alerts += engine.tick(T0 + 7 * HOUR * 1000)
    assert alerts == []
    assert engine.shape_of("ehr") is Method.OBSERVATION_SET


def test_a_wearable_becomes_a_stream_after_a_few_short_gaps_and_keeps_persistence():
    engine = PatientEngine(PID)
    feed(engine, span(0, 5 * (STREAM_MIN_GAPS + 1)))
    assert engine.shape_of("wear-1") is Method.CONTINUOUS
    feed(engine, span(30, 1200))
    # NEWS2 7 on the stream: no page on the first sample; the high band's 30 s persistence first.
    stream = span(1200, 1400, step_s=1, resp_rate=26.0, spo2=93.0, heart_rate=115.0)
    alerts = feed(engine, stream)
    raised = of(alerts, Status.RAISED)
    assert raised and (raised[0].ts_ms - T0) / 1000 >= 1200 + 25


def test_a_set_the_gateway_marks_as_observation_set_pages_on_arrival_even_beside_a_stream():
    engine = PatientEngine(PID)
    feed(engine, span(0, 1200))
    marked = VitalSample(PID, "spot-7", T0 + 1_200_500, **SICK, method=Method.OBSERVATION_SET)
    assert pages(engine.process(marked)) == [(Status.RAISED, Priority.HIGH)]


def test_the_gateway_marker_continuous_makes_a_stream_from_the_first_sample():
    engine = PatientEngine(PID)
    first = VitalSample(PID, "mon-1", T0, **SICK, method=Method.CONTINUOUS)
    assert engine.process(first) == []  # a stream: persistence, not on arrival
    assert engine.shape_of("mon-1") is Method.CONTINUOUS


def test_the_contract_marker_is_parsed_single_and_batch_and_a_bad_one_is_rejected_with_its_reason():
    one = parse_message(orjson.dumps({"patient_id": PID, "ts": T0, "heart_rate": 80, "method": "observation_set"}))
    assert one.samples[0].method is Method.OBSERVATION_SET
    assert one.samples[0].to_contract()["method"] == "observation_set"
    batch = parse_message(
        orjson.dumps(
            {
                "patient_id": PID,
                "method": "continuous",
                "samples": [{"ts": T0, "heart_rate": 80}, {"ts": T0 + 1000, "spo2": 97}],
            }
        )
    )
    assert [s.method for s in batch.samples] == [Method.CONTINUOUS] * 2
    assert parse_message(orjson.dumps({"patient_id": PID, "ts": T0, "heart_rate": 80})).samples[0].method is None
    bad = parse_message(orjson.dumps({"patient_id": PID, "ts": T0, "heart_rate": 80, "method": "guess"}))
    assert bad.samples == [] and bad.rejections[0].reason.value == "bad_type"
    assert "observation_set" in bad.rejections[0].message


def test_shapes_survive_the_state_round_trip_and_a_version_1_state_still_loads():
    engine = PatientEngine(PID)
    feed(engine, span(0, 600))
    restored = PatientEngine.from_bytes(engine.to_bytes())
    assert restored.shape_of("wear-1") is Method.CONTINUOUS and restored.stream_ms == engine.stream_ms
    doc = orjson.loads(engine.to_bytes())
    old = orjson.dumps([1, *doc[1:11]])  # the version-1 layout: no shapes
    migrated = PatientEngine.from_bytes(old)
    assert migrated.stream_ms == engine.policy.last_data_ms  # it was streaming: still taken as a stream
    assert migrated.process(sample(601)) == []


def test_when_the_stream_stops_its_values_do_not_stand_in_for_a_chart():
    engine = PatientEngine(PID)
    feed(engine, span(0, 600, heart_rate=135.0, resp_rate=26.0))  # a wearable with a worrying RR and HR
    engine.tick(T0 + 600_000 + 1_800_000)
    # 30 min later a spot check of BP and temperature only: the wearable's 30-min-old values are not scored.
    alerts = engine.process(chart(2400, device="spot-1", systolic_bp=125.0, temperature=37.0))
    assert [a for a in alerts if a.kind is Kind.NEWS2] == []
    assert engine.policy.last_news2.total == 0


def test_a_monitor_streaming_once_a_minute_can_confirm_persistence():
    """Was: with 60 s between samples and max_gap_s 60 s, every track started over and nothing confirmed."""
    from alerts.config import PolicyConfig

    engine = PatientEngine(PID, PolicyConfig(anomaly=False))
    feed(engine, span(0, 3600, step_s=60.5))  # a bedside monitor, once a minute (and a little late)
    assert engine.shape_of("wear-1") is Method.CONTINUOUS
    alerts = feed(engine, span(3600, 3600 + 900, step_s=60.5, resp_rate=26.0, spo2=93.0, heart_rate=115.0))
    raised = of(alerts, Status.RAISED)
    assert [a.kind for a in raised] == [Kind.NEWS2]
    # a step of three vitals at once is first held as a suspected artefact (90 s), then confirms
    assert (raised[0].ts_ms - T0) / 1000 - 3600 <= 90 + 3 * 60.5


def test_the_first_sample_of_a_wearable_reporting_sensor_quality_is_not_an_observation_set():
    """Was: a patient's first wearable sample (SpO2 90, one noisy reading) paged low on arrival."""
    engine = PatientEngine(PID)
    assert engine.process(sample(0, spo2=90.0, motion=0.05)) == []
    assert feed(engine, span(1, 600, motion=0.05)) == []


def _losses(alerts):
    return [a for a in alerts if a.kind is Kind.SIGNAL_LOSS]


def test_a_once_a_minute_stream_missing_one_reading_is_not_a_signal_loss():
    """Was: a 1/min monitor that missed one reading (a 2 min gap) raised signal_loss at
    once, and closed it at the next reading: ~21 technical alerts per patient per 12 h
    with 25 % of readings missing on an independent generator."""
    engine = PatientEngine(PID)
    feed(engine, span(0, 1800, step_s=60))
    assert engine.policy.cadence_ms == 60_000
    # one reading missed: the next one 120 s after the last
    alerts = feed(engine, span(1860, 2400, step_s=60)) + engine.tick(T0 + 2_400_000)
    assert _losses(alerts) == []


def test_a_once_a_minute_stream_silent_for_three_intervals_is_a_signal_loss_then_and_not_before():
    engine = PatientEngine(PID)
    feed(engine, span(0, 1800, step_s=60))  # last reading at 1740 s
    assert _losses(engine.tick(T0 + (1740 + 179) * 1000)) == []
    lost = _losses(engine.tick(T0 + (1740 + 180) * 1000))
    assert [(a.status, a.ts_ms) for a in lost] == [(Status.RAISED, T0 + (1740 + 180) * 1000)]
    assert lost[0].reasons[0].limit == 180.0  # the gap it was judged by, in the alert


def test_a_fast_stream_keeps_the_two_minute_signal_loss_and_a_restart_keeps_the_cadence():
    fast = PatientEngine(PID)
    feed(fast, span(0, 600, step_s=5))  # last at 595 s
    assert _losses(fast.tick(T0 + (595 + 120) * 1000))  # signal_loss_s, as before
    slow = PatientEngine(PID)
    feed(slow, span(0, 1800, step_s=60))
    restored = PatientEngine.from_bytes(slow.to_bytes())
    assert restored.policy.cadence_ms == 60_000
    assert _losses(restored.tick(T0 + (1740 + 150) * 1000)) == []
