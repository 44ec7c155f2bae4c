"""PatientEngine: settings per patient from nursing input, and what it feeds the policy."""

from __future__ import annotations

from alerts.config import PolicyBook, PolicyConfig, load_policy
from alerts.engine import PatientEngine
from alerts.model import Kind, Status
from monitor.vitals import Consciousness
from tests.unit.test_policy_support import PID, WARM_S, feed, of, sample, span, warm


def test_a_single_config_still_works_as_before():
    engine = PatientEngine(PID, PolicyConfig(threshold=False, anomaly=False, news2=False))
    warm(engine)
    assert feed(engine, span(WARM_S, WARM_S + 600, step_s=1, spo2=70.0)) == []


def test_the_ward_from_nursing_input_picks_the_ward_settings(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('[[wards.resp.thresholds]]\nname = "spo2_critical"\nlimit = 90\nclear = 92\n', encoding="utf-8")
    book = load_policy(path)
    resp, general = PatientEngine(PID, book), PatientEngine("MRN-2", book)
    feed(resp, [sample(0, ward="resp"), *span(5, WARM_S)])
    warm(general)
    assert resp.ward == "resp" and resp.config is book.for_ward("resp")
    dip = span(WARM_S, WARM_S + 100, step_s=1, spo2=88.0)
    assert [a.kind for a in of(feed(resp, dip), Status.RAISED)] == [Kind.THRESHOLD]
    assert of(feed(general, dip), Status.RAISED) == []
    restored = PatientEngine.from_bytes(resp.to_bytes(), book)
    assert restored.ward == "resp" and restored.config is book.for_ward("resp")


def test_spo2_scale_2_from_nursing_input_moves_the_hypoxaemia_limit():
    copd, other = PatientEngine(PID), PatientEngine("MRN-2")
    feed(copd, [sample(0, spo2_scale=2, spo2=92.0), *span(5, WARM_S, spo2=92.0)])
    assert feed(other, span(0, WARM_S, spo2=92.0)) == []
    dip = span(WARM_S, WARM_S + 100, step_s=1, spo2=83.0)
    assert of(feed(copd, dip), Status.RAISED) == []
    assert [a.kind for a in of(feed(other, dip), Status.RAISED)] == [Kind.THRESHOLD]
    assert PatientEngine.from_bytes(copd.to_bytes()).spo2_scale == 2


def test_a_book_without_wards_behaves_like_its_default():
    a, b = PatientEngine(PID, PolicyBook()), PatientEngine(PID)
    stream = span(0, WARM_S) + span(WARM_S, WARM_S + 400, step_s=1, spo2=80.0)
    assert feed(a, stream) == feed(b, stream)


def test_learning_is_frozen_while_the_patient_is_alerting():
    engine = PatientEngine(PID)
    warm(engine)
    feed(engine, span(WARM_S, WARM_S + 60, step_s=1, spo2=80.0))
    assert engine.policy.alerting and engine.detector.frozen
    n = engine.detector.vitals["spo2"].var.mean.n
    feed(engine, span(WARM_S + 60, WARM_S + 120, step_s=1, spo2=80.0))
    assert engine.detector.vitals["spo2"].var.mean.n == n


def test_late_and_duplicate_samples_do_not_re_run_detection():
    engine = PatientEngine(PID)
    warm(engine)
    before = engine.samples
    assert engine.process(sample(WARM_S - 5, spo2=60.0)) == []
    assert engine.process(sample(100, spo2=60.0)) == []
    assert engine.samples == before


def test_probe_off_pauses_news2_and_anomaly_but_not_other_vitals():
    engine = PatientEngine(PID, PolicyConfig(anomaly=False, news2=False))
    warm(engine)
    alerts = feed(engine, span(WARM_S, WARM_S + 200, step_s=1, probe_off=True, resp_rate=35.0))
    raised = of(alerts, Status.RAISED)
    assert sorted(a.kind.value for a in raised) == ["technical", "threshold"]
    rr = next(a for a in raised if a.kind is Kind.THRESHOLD)
    assert rr.reasons[0].vital == "resp_rate"
    assert rr.suppressed == ("heart_rate: probe off", "spo2: probe off")  # visible on the physiological alert


def test_with_the_probe_off_news2_still_pages_on_the_other_parameters_and_says_so():
    engine = PatientEngine(PID, PolicyConfig(anomaly=False, threshold=False))
    warm(engine)
    confused = span(WARM_S, WARM_S + 300, step_s=2, probe_off=True, consciousness=Consciousness.V)
    raised = [a for a in of(feed(engine, confused), Status.RAISED) if a.kind is Kind.NEWS2]
    assert len(raised) == 1
    assert "spo2" not in raised[0].news2.components and raised[0].news2.components["consciousness"] == 3
    assert raised[0].suppressed


def test_reasons_worded_on_demand_are_the_reasons_worded_every_sample(monkeypatch):
    """The anomaly condition's reasons are worded only when an alert carries them: the alerts
    and the saved state must be exactly what wording them on every sample gave."""
    import dataclasses

    import orjson

    from alerts import rules
    from monitor.cohort import CohortSpec, generate_cohort, iter_plan_samples

    spec = CohortSpec(n_patients=5, hours=8, seed=3, deteriorating_share=1.0)

    def run() -> tuple[list[bytes], list[bytes]]:
        wires, states = [], []
        for plan in generate_cohort(spec).plans:
            engine = PatientEngine(plan.label.patient_id)
            for i, s in enumerate(iter_plan_samples(spec, plan)):
                wires += [orjson.dumps(a.to_wire("t")) for a in engine.process(s)]
                if i % 5000 == 0:
                    states.append(engine.to_bytes())
                    engine = PatientEngine.from_bytes(states[-1])
            states.append(engine.to_bytes())
        return wires, states

    lazy = run()
    anomaly_reasons = [orjson.loads(w)["reasons"] for w in lazy[0] if orjson.loads(w)["kind"] == "anomaly"]
    assert any(len(r) >= 2 for r in anomaly_reasons)  # the case that matters: several vitals named
    plain = rules.anomaly_condition

    def worded_at_once(*args, **kwargs):
        cond = plain(*args, **kwargs)
        return None if cond is None else dataclasses.replace(cond, reasons=cond.worded(), word=None, vitals=())

    monkeypatch.setattr(rules, "anomaly_condition", worded_at_once)
    assert run() == lazy
