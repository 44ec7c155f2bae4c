"""The charted-data replay (`wardwatch evaluate --dataset`) on the committed PhysioNet 2012 slice
and on hand-built charts with known answers."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from alerts.evaluation.chart_news2 import chart_news2_alerts
from alerts.evaluation.charted import load_dataset, run_charted
from alerts.evaluation.charted.dataset import DEFAULT_START_MS, DatasetError
from alerts.evaluation.charted.outcome import medium_open_since, summarise_alerts
from alerts.evaluation.charted.replay import StayTask, parse_sets, replay_stay
from alerts.evaluation.charted.scoring import auroc
from alerts.evaluation.scoring import AlertMark
from alerts.model import Kind, Priority, Status
from monitor.vitals import Consciousness, VitalSample

SLICE = Path(__file__).resolve().parents[1] / "fixtures" / "physionet2012"
T0 = DEFAULT_START_MS
H = 3_600_000


def chart(hour: float, **vitals: object) -> VitalSample:
    return VitalSample("p1", "chart", T0 + int(hour * H), **vitals)  # type: ignore[arg-type]


CALM = {
    "heart_rate": 72.0,
    "resp_rate": 16.0,
    "systolic_bp": 125.0,
    "temperature": 36.8,
    "spo2": 97.0,
    "on_oxygen": False,
    "consciousness": Consciousness.A,
}


# ---- the committed slice -------------------------------------------------------


def test_slice_loads_both_outcomes_in_time_order():
    data = load_dataset(SLICE)
    assert len(data.stays) == 48
    assert data.deaths == 16
    empty = [s.patient_id for s in data.stays if not data.messages.get(s.patient_id)]
    assert empty == ["p12-132595"]  # charted nothing (63 of the 4,000 stays): still a stay, never alerted
    for stay in data.stays:
        docs = data.messages.get(stay.patient_id, [])
        assert [d["ts"] for d in docs] == sorted(d["ts"] for d in docs)
        assert all(T0 <= d["ts"] <= stay.end_ms for d in docs)
        assert stay.end_ms - stay.start_ms == 48 * H


def test_slice_impossible_values_are_rejected_by_the_contract_parser_and_counted():
    data = load_dataset(SLICE)
    samples, rejected = parse_sets(tuple(data.messages["p12-132570"]))
    assert rejected.get("impossible_value", 0) >= 1
    assert len(samples) + sum(rejected.values()) == len(data.messages["p12-132570"])


def test_limit_keeps_the_first_stays():
    assert [s.patient_id for s in load_dataset(SLICE, limit=3).stays] == [
        s.patient_id for s in load_dataset(SLICE).stays[:3]
    ]


def test_a_missing_dataset_says_what_to_do(tmp_path):
    with pytest.raises(DatasetError, match=r"stays\.csv"):
        load_dataset(tmp_path)
    (tmp_path / "stays.csv").write_text("who,what\n")
    with pytest.raises(DatasetError, match="missing column"):
        load_dataset(tmp_path)


def test_replay_of_the_slice_writes_report_json_and_plot(tmp_path):
    report = run_charted(SLICE, tmp_path, workers=1, stream=io.StringIO())
    assert report.stays == 48 and report.deaths == 16
    assert report.rejected.get("impossible_value", 0) >= 1
    assert report.accepted + sum(report.rejected.values()) <= report.sets
    names = [p.policy for p in report.policies]
    assert names[:2] == ["fixed_limits", "news2_chart"] and "wardwatch" in names
    for p in report.policies:
        assert p.auroc is None or 0.0 <= p.auroc <= 1.0
        assert 0.0 <= (p.deaths_alerted or 0.0) <= 1.0
        assert p.pages_per_day >= p.episodes_per_day >= 0.0
    # NEWS2 on chart alerts on these ICU patients (sedated, ventilated): a baseline that does nothing
    # would make every comparison against it meaningless.
    assert report.policy("news2_chart").episodes_per_day > 0.5
    doc = orjson.loads((tmp_path / "report.json").read_bytes())
    assert doc["stays"] == 48 and len(doc["targets"]) == 3
    assert "ODC-By" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "charted.png").stat().st_size > 10_000


def test_cli_replays_a_dataset_and_refuses_a_missing_one(tmp_path, capsys):
    from streams.cli import main

    assert main(["evaluate", "--dataset", str(SLICE), "--limit", "6", "--no-plots", "--out", str(tmp_path)]) == 0
    assert "6 stays" in capsys.readouterr().out
    assert main(["evaluate", "--dataset", str(tmp_path / "nowhere")]) == 2
    assert "stays.csv" in capsys.readouterr().err


# ---- NEWS2 on every charted set ------------------------------------------------


def test_chart_news2_pages_on_the_first_set_with_the_band_priority():
    samples = [
        chart(0, **CALM),
        chart(1, **{**CALM, "resp_rate": 23.0, "heart_rate": 115.0, "temperature": 38.5}),  # 2+2+1 = 5
        chart(2, **{**CALM, "resp_rate": 26.0, "heart_rate": 135.0, "temperature": 39.5}),  # 3+3+2 = 8
        chart(3, **{**CALM, "resp_rate": 23.0, "heart_rate": 115.0, "temperature": 38.5}),  # back to 5
        chart(4, **CALM),
    ]
    marks, highest = chart_news2_alerts(samples)
    assert [(m.status, m.priority, (m.ts_ms - T0) // H) for m in marks] == [
        (Status.RAISED, Priority.MEDIUM, 1),
        (Status.ESCALATED, Priority.HIGH, 2),
        (Status.RESOLVED, Priority.HIGH, 4),
    ]
    assert highest == 8


def test_chart_news2_single_red_score_is_a_low_alert_and_old_values_expire():
    marks, _ = chart_news2_alerts([chart(0, **{**CALM, "resp_rate": 7.0}), chart(1, heart_rate=70.0)])
    assert [(m.status, m.priority) for m in marks] == [(Status.RAISED, Priority.LOW)]  # RR carried forward
    marks, _ = chart_news2_alerts([chart(0, **{**CALM, "resp_rate": 7.0}), chart(5, heart_rate=70.0)])
    assert [m.status for m in marks] == [Status.RAISED, Status.RESOLVED]  # RR older than 4 h no longer scores


# ---- per-stay outcome and AUROC -------------------------------------------------


def mark(hour: float, status: Status, priority: Priority, alert_id: str = "a", kind: Kind = Kind.NEWS2) -> AlertMark:
    return AlertMark(alert_id, kind, status, priority, T0 + int(hour * H))


def test_an_alert_open_when_the_window_begins_counts_for_it():
    opened = [mark(2, Status.RAISED, Priority.MEDIUM)]
    assert medium_open_since(opened, T0 + 24 * H)
    closed = [*opened, mark(10, Status.RESOLVED, Priority.MEDIUM)]
    assert not medium_open_since(closed, T0 + 24 * H)
    low = [mark(30, Status.RAISED, Priority.LOW)]
    assert not medium_open_since(low, T0 + 24 * H)
    stepped = [*low, mark(31, Status.ESCALATED, Priority.MEDIUM)]
    assert medium_open_since(stepped, T0 + 24 * H)


def test_summary_counts_episodes_pages_and_the_highest_level():
    alerts = [
        mark(1, Status.RAISED, Priority.LOW),
        mark(2, Status.ESCALATED, Priority.HIGH),
        mark(3, Status.ESCALATED, Priority.HIGH),
        mark(4, Status.RESOLVED, Priority.HIGH),
        mark(5, Status.RAISED, Priority.LOW, "t", Kind.TECHNICAL),
    ]
    out = summarise_alerts("x", alerts, T0 + 24 * H)
    # the step-up to high is a page; the second `escalated` at high is a no-ack reminder
    assert (out.episodes, out.pages, out.escalations, out.technical, out.max_level) == (1, 2, 1, 1, 3)
    assert not out.alerted_window
    assert out.high_within_hour_of_news2_7 is None
    assert summarise_alerts("x", alerts, T0, news2_7_ms=T0 + int(1.5 * H)).high_within_hour_of_news2_7
    assert not summarise_alerts("x", alerts, T0, news2_7_ms=T0 + 5 * H).high_within_hour_of_news2_7
    assert summarise_alerts("x", alerts[:1], T0, news2_7_ms=T0).high_within_hour_of_news2_7 is False


def test_auroc_known_answers():
    assert auroc([3, 2, 0, 0], [True, True, False, False]) == 1.0
    assert auroc([0, 0, 3, 2], [True, True, False, False]) == 0.0
    assert auroc([1, 1, 1, 1], [True, False, True, False]) == 0.5
    assert auroc([2, 1, 1, 0], [True, True, False, False]) == pytest.approx(0.875)
    assert auroc([1, 2], [True, True]) is None


def test_a_stay_replays_through_every_policy():
    data = load_dataset(SLICE, limit=2)
    from alerts.evaluation.runner import policy_configs

    stay = data.stays[0]
    run = replay_stay(StayTask(stay, tuple(data.messages[stay.patient_id]), policy_configs()))
    assert [o.policy for o in run.outcomes] == [
        "fixed_limits",
        "news2_chart",
        "news2_only",
        "detector_only",
        "wardwatch",
    ]
    assert run.accepted > 0


# ---- the converter from the Challenge's own files -------------------------------


def test_converter_turns_challenge_records_into_the_replay_input(tmp_path):
    from alerts.evaluation.charted.physionet2012 import convert

    src = tmp_path / "src"
    (src / "set-a").mkdir(parents=True)
    (src / "set-a" / "140001.txt").write_text(
        "Time,Parameter,Value\n00:00,RecordID,140001\n00:00,ICUType,3\n00:07,HR,88\n00:07,GCS,9\n"
        "00:07,MechVent,1\n00:37,NISysABP,0\n00:37,SysABP,95\n01:07,RespRate,22\n01:07,Temp,-17.8\n"
    )
    (src / "Outcomes-a.txt").write_text(
        "RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death\n140001,14,6,9,3,1\n"
    )
    convert(src, tmp_path / "out")
    data = load_dataset(tmp_path / "out")
    [stay] = data.stays
    assert stay.patient_id == "p12-140001" and stay.died
    docs = data.messages["p12-140001"]
    assert [(d["ts"] - T0) // 60_000 for d in docs] == [7, 37, 67]
    assert docs[0]["consciousness"] == "V" and docs[0]["on_oxygen"] is True
    assert docs[1]["systolic_bp"] == 0.0  # cuff as charted, impossible: the parser's to reject
    samples, rejected = parse_sets(tuple(docs))
    assert rejected == {"impossible_value": 2} and len(samples) == 1
