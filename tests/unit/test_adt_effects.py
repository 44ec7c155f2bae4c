"""What ADT does downstream of parsing: engine (ward settings, discharge), alert locations, routing."""

from __future__ import annotations

import asyncio

import orjson

from alerts.config import load_policy
from alerts.engine import PatientEngine
from alerts.model import Kind, Priority, Status
from alerts.notification import parse_alert_event
from alerts.routing import load_routing, parse_routing, reroute, start_chase
from monitor.encounter import Location
from streams.config import Settings
from streams.notify.wards import PatientWards
from streams.worker import Processor
from tests.unit.test_policy_support import PID, T0, WARM_S, feed, of, sample, span, warm

RESP_POLICY = '[[wards.resp.thresholds]]\nname = "spo2_critical"\nlimit = 90\nclear = 92\n'


def raised_threshold(engine: PatientEngine, spo2: float = 80.0) -> list:
    warm(engine)
    return of(feed(engine, span(WARM_S, WARM_S + 100, step_s=1, spo2=spo2)), Status.RAISED)


def test_adt_ward_picks_the_ward_settings_and_wins_over_the_vitals_ward(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(RESP_POLICY, encoding="utf-8")
    book = load_policy(path)
    by_adt = PatientEngine(PID, book)
    by_adt.follow_ward("resp")
    assert [a.kind for a in raised_threshold(by_adt, spo2=88.0)] == [Kind.THRESHOLD]
    assert raised_threshold(PatientEngine("MRN-4", book), spo2=88.0) == []  # the default ward does not page
    # The vitals say "general", ADT says "resp": ADT wins, and the vitals' ward is still remembered.
    both = PatientEngine("MRN-2", book)
    both.follow_ward("resp")
    feed(both, [sample(0, pid="MRN-2", ward="general")])
    assert both.ward == "general" and both.config is book.for_ward("resp")
    restored = PatientEngine.from_bytes(both.to_bytes(), book)
    assert restored.adt_ward == "resp" and restored.config is book.for_ward("resp")
    # Without ADT the vitals' ward still applies (no regression for sites without an ADT feed).
    plain = PatientEngine("MRN-3", book)
    feed(plain, [sample(0, pid="MRN-3", ward="resp")])
    assert plain.config is book.for_ward("resp")


def test_discharge_resolves_open_episodes_with_reason_and_stops_signal_loss():
    engine = PatientEngine(PID)
    assert raised_threshold(engine)
    out = engine.discharge(T0 + (WARM_S + 200) * 1000)
    assert [(a.status, a.extra.get("resolved_reason")) for a in out] == [(Status.RESOLVED, "discharged")]
    assert not engine.policy.episodes
    # The device streams on for a while, then is taken off: hours of silence, no signal loss...
    feed(engine, span(WARM_S + 200, WARM_S + 300, step_s=5))
    assert engine.tick(T0 + (WARM_S + 4 * 3600) * 1000) == []
    restored = PatientEngine.from_bytes(engine.to_bytes())
    assert restored.discharged_ms == engine.discharged_ms and restored.policy.discharged
    # ... and a cancelled discharge (A13) monitors as before: a new stream, then silence, pages.
    engine.readmit()
    start = WARM_S + 5 * 3600
    feed(engine, span(start, start + 60, step_s=5))
    lost = engine.tick(T0 + (start + 3600) * 1000)
    assert lost and {a.kind for a in lost} == {Kind.SIGNAL_LOSS} and lost[0].status is Status.RAISED


def test_data_after_discharge_still_pages_a_real_deterioration():
    """A wrong or early discharge must never silence a patient who is still monitored."""
    engine = PatientEngine(PID)
    warm(engine)
    engine.discharge(T0 + WARM_S * 1000)
    dip = span(WARM_S + 5, WARM_S + 200, step_s=1, spo2=80.0)
    assert of(feed(engine, dip), Status.RAISED)


def test_alerts_carry_the_location_asked_once_per_alert():
    processor = Processor(load_policy(None), 4, lambda pid: None)
    asked: list[str] = []

    def locate(pid: str) -> Location | None:
        asked.append(pid)
        return Location("7A", "12", "3")

    processor.locate = locate
    engine = processor.engine(PID)
    alerts = raised_threshold(engine)
    staged = processor.stage_alerts(alerts)
    assert orjson.loads(staged[0].value)["location"] == {"ward": "7A", "room": "12", "bed": "3"}
    assert asked == [PID] * len(alerts)
    processor.locate = lambda pid: None
    assert "location" not in orjson.loads(processor.stage_alerts(alerts)[0].value)


def test_processor_forgets_only_patients_discharged_before_the_cutoff_with_nothing_to_send():
    processor = Processor(load_policy(None), 4, lambda pid: None, outbox=True)
    gone, pending, admitted = processor.engine("A"), processor.engine("B"), processor.engine("C")
    gone.discharge(1000)
    pending.discharge(1000)
    processor.outbox["B"] = {1: object()}  # type: ignore[dict-item]
    assert processor.discharged_before(2000) == ["A"] and processor.discharged_before(500) == []
    processor.drop("A")
    assert "A" not in processor.engines and admitted is processor.engines["C"]


ROUTING = """
version = 1
timezone = "UTC"
[channels.pager]
type = "console"
[people.ada]
contacts = [{ channel = "pager", address = "1" }]
[people.ben]
contacts = [{ channel = "pager", address = "2" }]
[people.chen]
contacts = [{ channel = "pager", address = "3" }]
[[rota]]
role = "nurse"
person = "ada"
ward = "7A"
[[rota]]
role = "nurse"
person = "ben"
ward = "8B"
[[rota]]
role = "charge_nurse"
person = "chen"
[escalation]
high = [{ role = "nurse" }, { role = "charge_nurse", after_minutes = 3 }]
medium = [{ role = "nurse" }]
low = [{ role = "nurse" }]
"""


def test_reroute_pages_the_new_wards_staff_up_to_the_current_step_once():
    routing = parse_routing(ROUTING)
    chase = start_chase("a1", PID, "7A", Priority.HIGH, 0, 0, step=1).with_paged(["ada/pager", "chen/pager"])
    moved, page = reroute(routing, chase, "8B", 0)
    assert moved.ward == "8B" and moved.step == 1
    assert [r.person for r in page.recipients] == ["ben"]  # chen covers every ward: already paged
    assert page.stage == "transferred-8B" and page.reason == "patient transferred from 7A to 8B"
    fresh = start_chase("a2", PID, "7A", Priority.HIGH, 0, 0)
    assert [r.person for r in reroute(routing, fresh, "8B", 0)[1].recipients] == ["ben"]
    assert load_routing(None)  # the demo routing still parses


def test_notify_reads_the_alert_location_and_adt_wins_over_patient_wards():
    event = parse_alert_event(
        orjson.dumps(
            {
                "alert_id": "a1",
                "patient_id": PID,
                "status": "raised",
                "priority": "high",
                "kind": "news2",
                "ts": "2026-11-25T09:00:00Z",
                "location": {"ward": "8B", "room": "4", "bed": "1"},
            }
        )
    )
    assert (event.ward, event.bed) == ("8B", "1")

    async def run() -> list[tuple]:
        wards = PatientWards(Settings(), "patient-wards", "patients")
        moves: list[tuple] = []
        wards.on_move = lambda *args: moves.append(args)
        wards._apply(orjson.dumps({"patient_id": PID, "ward": "5C"}), "patient-wards")
        place = {"patient_id": PID, "status": "admitted", "location": {"ward": "7A", "room": None, "bed": "3"}}
        wards._apply(orjson.dumps(place), "patients", PID.encode())
        assert (wards.ward(PID), wards.bed(PID)) == ("7A", "3") and moves == []  # initial read: no re-route
        wards.loaded.set()
        wards._apply(orjson.dumps({**place, "location": {"ward": "8B"}}), "patients", PID.encode())
        wards._apply(None, "patients", PID.encode())  # tombstone: back to the patient-wards record
        assert wards.ward(PID) == "5C"
        return moves

    assert asyncio.run(run()) == [(PID, "7A", "8B")]


def test_terminal_line_and_ward_filter_use_the_alert_location():
    import argparse

    from alerts.format import alert_line
    from streams.cli.alerts import matches

    doc = {
        "alert_id": "a1",
        "patient_id": PID,
        "status": "raised",
        "priority": "high",
        "kind": "news2",
        "ts": "2026-11-25T09:00:00.000Z",
        "location": {"ward": "8B", "room": "4", "bed": "1"},
    }
    assert "@ 8B room 4 bed 1" in alert_line(doc)
    args = argparse.Namespace(priority=None, status=None, kind=None, ward="8B")
    assert matches(doc, args) and not matches({**doc, "location": {"ward": "7A"}}, args)


def test_settle_is_idempotent_so_a_replayed_duplicate_still_catches_the_engine_up():
    """A crash after the patients write but before the engine checkpoint replays the event as a duplicate."""
    from monitor.encounter import AdtEvent, AdtEventType, apply
    from streams.adt.places import settle

    processor = Processor(load_policy(None), 4, lambda pid: None)
    assert raised_threshold(processor.engine(PID))
    admit = AdtEvent(AdtEventType.ADMIT, PID, T0, "c1", Location("7A"))
    place, _ = apply(None, admit)
    place, _ = apply(place, AdtEvent(AdtEventType.DISCHARGE, PID, T0 + (WARM_S + 200) * 1000, "c2"))
    resolved = settle(processor, place)
    assert [a.extra.get("resolved_reason") for a in resolved] == ["discharged"]
    assert settle(processor, place) == []  # the replayed duplicate: nothing twice
    fresh = Processor(load_policy(None), 4, lambda pid: None)  # the engine as checkpointed before the crash
    assert raised_threshold(fresh.engine(PID)) and len(settle(fresh, place)) == 1
    back, _ = apply(place, AdtEvent(AdtEventType.CANCEL_DISCHARGE, PID, T0 + (WARM_S + 300) * 1000, "c3"))
    settle(processor, back)
    engine = processor.engines[PID]
    assert engine.discharged_ms is None and not engine.policy.discharged and engine.adt_ward == "7A"


def test_convert_prints_adt_events_of_an_adt_file(capsys):
    from pathlib import Path

    from streams.cli.convert import detect, gateway_to_vitals

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
    for name, event in (("hl7_adt_a02.hl7", "A02"), ("fhir_encounter_finished.json", "A03")):
        raw = (fixtures / name).read_bytes()
        assert gateway_to_vitals(raw, detect(raw) or "") == 0
        out, err = capsys.readouterr()
        assert orjson.loads(out)["event"] == event and "1 ADT events" in err


def test_console_card_shows_the_location_and_follows_a_transfer():
    from streams.console.view import ConsoleView

    base = {
        "alert_id": "a1",
        "patient_id": PID,
        "device_id": "wear-1",
        "priority": "high",
        "kind": "news2",
        "ts": "2026-11-25T09:00:00.000Z",
        "emitted_at": "2026-11-25T09:00:00.000Z",
        "reasons": [],
        "news2": None,
        "detector": None,
    }
    view = ConsoleView()
    card = view.apply_alert({**base, "status": "raised", "location": {"ward": "7A", "room": "12", "bed": "3"}})
    assert card["location"] == "7A room 12 bed 3"
    card = view.apply_alert({**base, "status": "escalated", "location": {"ward": "8B", "bed": "1"}})
    assert card["location"] == "8B bed 1"


def test_console_ward_from_an_alert_location_is_not_overridden_by_the_vitals_ward():
    """Nurses see their wards' alerts (identity): the ward must be ADT's, as the alert's location says."""
    from streams.console.view import ConsoleView

    view = ConsoleView()
    card = view.apply_alert(
        {
            "alert_id": "a1",
            "patient_id": PID,
            "status": "raised",
            "priority": "high",
            "kind": "news2",
            "ts": "2026-11-25T09:00:00.000Z",
            "reasons": [],
            "location": {"ward": "8B", "bed": "1"},
        }
    )
    view.apply_vitals(
        {"patient_id": PID, "device_id": "wear-1", "ts": "2026-11-25T09:00:05.000Z", "spo2": 95, "ward": "general"}
    )
    assert card["ward"] == "8B" and view.ward_of("a1") == "8B"
    view.apply_vitals(
        {"patient_id": "MRN-9", "device_id": "wear-2", "ts": "2026-11-25T09:00:05.000Z", "spo2": 95, "ward": "general"}
    )
    assert view.wards["MRN-9"] == "general"  # without ADT the vitals' ward still counts
