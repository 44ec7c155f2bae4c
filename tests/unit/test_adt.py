"""ADT: HL7 v2 and FHIR Encounter parsing, and the per-patient location state machine."""

from __future__ import annotations

import orjson
import pytest

from monitor.encounter import (
    LOG_SIZE,
    AdtEvent,
    AdtEventType,
    EncounterStatus,
    FoldOutcome,
    Location,
    PatientPlace,
    apply,
    change_between,
)
from monitor.interop.adt import is_adt, parse_adt_hl7v2
from monitor.interop.fhir_encounter import is_encounter, parse_fhir_encounter
from monitor.interop.hl7v2 import AckCode
from monitor.interop.result import RejectCode
from monitor.timestamps import parse_ts

T0 = parse_ts("2026-11-25T09:00:00Z")


def adt(
    trigger: str,
    control: str = "C1",
    pv1: str = "PV1||I|7B^12^3^HOSP||||||||||||||||V100",
    evn: str | None = "EVN|{t}|20261125100000+0100",
    pid: str = "PID|||MRN-1^^^HOSP^MR",
    processing: str = "P",
    extra: tuple[str, ...] = (),
) -> str:
    msh = f"MSH|^~\\&|PAS|HOSP|WARDWATCH|HOSP|20261125100005+0100||ADT^{trigger}^ADT_A01|{control}|{processing}|2.5"
    segments = [msh]
    if evn is not None:
        segments.append(evn.format(t=trigger))
    segments += [pid, pv1, *extra]
    return "\r".join(s for s in segments if s) + "\r"


# ---- HL7 v2 -----------------------------------------------------------------


@pytest.mark.parametrize("trigger", [t.value for t in AdtEventType])
def test_each_adt_trigger_parses_to_its_event(trigger: str) -> None:
    result = parse_adt_hl7v2(adt(trigger), source="test")
    assert result.ack_code is AckCode.AA, result.rejections
    (event,) = result.adt_events
    assert event.event_type is AdtEventType(trigger)
    assert event.patient_id == "MRN-1"
    assert event.location == Location("7B", "12", "3")
    assert event.visit == "V100"
    assert event.control_id == "PAS^HOSP|C1"  # MSH-10 within its sender (MSH-3, MSH-4)
    assert event.ts_ms == T0  # EVN-2 10:00 +01:00
    assert "MSA|AA|C1" in result.ack()


def test_evn6_event_occurred_wins_over_evn2_and_prior_location_is_read() -> None:
    raw = adt("A02", evn="EVN|A02|20261125100000+0100||||20261125095500+0100", pv1="PV1||I|8C^1^1|||7B^12^3")
    (event,) = parse_adt_hl7v2(raw).adt_events
    assert event.ts_ms == T0 - 5 * 60_000
    assert event.location == Location("8C", "1", "1")
    assert event.prior_location == Location("7B", "12", "3")


def test_no_evn_falls_back_to_msh7() -> None:
    (event,) = parse_adt_hl7v2(adt("A01", evn=None)).adt_events
    assert event.ts_ms == T0 + 5000


def test_unknown_adt_trigger_is_acknowledged_and_ignored() -> None:
    result = parse_adt_hl7v2(adt("A31"))
    assert result.ack_code is AckCode.AA
    assert result.ignored_event == "A31"
    assert not result.adt_events and not result.rejections
    assert "not used" in result.ack_text()


@pytest.mark.parametrize(
    ("raw", "code", "ack"),
    [
        (adt("A01", pid="PID|||"), RejectCode.MISSING_PATIENT_ID, AckCode.AE),
        (adt("A01", pid=""), RejectCode.MISSING_PATIENT_ID, AckCode.AE),
        (adt("A02", pv1="PV1||I|"), RejectCode.BAD_VALUE, AckCode.AE),
        (adt("A01", evn="EVN|A01|2026-11-25"), RejectCode.BAD_TIMESTAMP, AckCode.AE),
        (adt("A01", control=""), RejectCode.MALFORMED, AckCode.AE),
        (adt("A01", processing="T"), RejectCode.UNSUPPORTED, AckCode.AR),
        ("MSH#^~\\&|x", RejectCode.BAD_ENCODING, AckCode.AR),
        (b"\xff\xfe garbage", RejectCode.MALFORMED, AckCode.AR),
    ],
)
def test_malformed_adt_is_refused_with_a_reason(raw: str | bytes, code: RejectCode, ack: AckCode) -> None:
    result = parse_adt_hl7v2(raw)
    assert result.ack_code is ack
    assert not result.adt_events
    (rejection,) = result.rejections
    assert rejection.code is code and rejection.whole_message and rejection.reason
    assert f"MSA|{ack.value}|" in result.ack()


def test_is_adt_routes_only_adt_messages() -> None:
    assert is_adt(adt("A01").encode())
    assert not is_adt("MSH|^~\\&|GW|ICU|WW|H|20261125100005||ORU^R01|C1|P|2.6\r")
    assert not is_adt(b"\x00\x01")


# ---- FHIR Encounter ------------------------------------------------------------


def encounter(status: str = "in-progress", **extra: object) -> dict:
    doc: dict = {
        "resourceType": "Encounter",
        "id": "enc-1",
        "meta": {"versionId": "3", "lastUpdated": "2026-11-25T09:00:00Z"},
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/MRN-1"},
        "identifier": [{"value": "V100"}],
        "contained": [
            {"resourceType": "Location", "id": "ward", "name": "7B", "physicalType": {"coding": [{"code": "wa"}]}},
            {
                "resourceType": "Location",
                "id": "room",
                "name": "12",
                "partOf": {"reference": "#ward"},
                "physicalType": {"coding": [{"code": "ro"}]},
            },
            {
                "resourceType": "Location",
                "id": "bed",
                "name": "3",
                "partOf": {"reference": "#room"},
                "physicalType": {"coding": [{"code": "bd"}]},
            },
        ],
        "location": [
            {"location": {"reference": "Location/old-ward", "display": "6A"}, "status": "completed"},
            {"location": {"reference": "#bed"}, "status": "active"},
        ],
    }
    doc.update(extra)
    return doc


@pytest.mark.parametrize(
    ("status", "event_type"),
    [
        ("in-progress", AdtEventType.ADMIT),
        ("planned", AdtEventType.REGISTER),
        ("finished", AdtEventType.DISCHARGE),
        ("cancelled", AdtEventType.CANCEL_ADMIT),
        ("entered-in-error", AdtEventType.CANCEL_ADMIT),
    ],
)
def test_fhir_encounter_status_maps_to_event(status: str, event_type: AdtEventType) -> None:
    raw = orjson.dumps(encounter(status))
    assert is_encounter(raw)
    result = parse_fhir_encounter(raw)
    (event,) = result.adt_events
    assert event.event_type is event_type
    assert event.patient_id == "MRN-1"
    assert event.location == Location("7B", "12", "3")  # bed -> partOf room -> partOf ward
    assert event.control_id == "Encounter/enc-1/_history/3"
    assert event.visit == "V100"
    assert event.ts_ms == T0


def test_fhir_encounter_with_plain_location_reference_is_the_ward() -> None:
    doc = encounter(contained=None, location=[{"location": {"reference": "Location/8C"}}])
    doc.pop("contained")
    (event,) = parse_fhir_encounter(orjson.dumps(doc)).adt_events
    assert event.location == Location("8C")


def test_fhir_encounter_without_version_is_keyed_by_its_body() -> None:
    doc = encounter()
    doc["meta"] = {"lastUpdated": "2026-11-25T09:00:00Z"}
    first = parse_fhir_encounter(orjson.dumps(doc)).adt_events[0]
    again = parse_fhir_encounter(orjson.dumps(doc)).adt_events[0]
    assert first.control_id == again.control_id and first.control_id.startswith("sha256:")


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ({**encounter(), "subject": {"display": "someone"}}, RejectCode.MISSING_PATIENT_ID),
        ({**encounter(), "status": 7}, RejectCode.INVALID_RESOURCE),
        ({**encounter(), "meta": {}, "period": {}}, RejectCode.BAD_TIMESTAMP),
    ],
)
def test_bad_fhir_encounter_is_rejected(doc: dict, code: RejectCode) -> None:
    result = parse_fhir_encounter(orjson.dumps(doc))
    assert not result.adt_events
    assert result.rejections[0].code is code


def test_fhir_encounter_status_unknown_is_ignored() -> None:
    result = parse_fhir_encounter(orjson.dumps(encounter("unknown")))
    assert result.ignored_event and not result.adt_events and not result.rejections


# ---- the location state machine ----------------------------------------------------


def ev(kind: AdtEventType, minute: int, control: str, ward: str | None = None, bed: str | None = None) -> AdtEvent:
    loc = Location(ward, None, bed) if ward or bed else None
    return AdtEvent(kind, "MRN-1", T0 + minute * 60_000, control, loc)


def fold(*events: AdtEvent) -> PatientPlace:
    place = None
    for event in events:
        place, _ = apply(place, event)
    assert place is not None
    return place


A, T, D = AdtEventType.ADMIT, AdtEventType.TRANSFER, AdtEventType.DISCHARGE


def test_admit_transfer_discharge() -> None:
    place = fold(ev(A, 0, "c1", "7B", "3"), ev(T, 10, "c2", "ICU", "1"))
    assert place.status is EncounterStatus.ADMITTED and place.location == Location("ICU", None, "1")
    place = fold(ev(A, 0, "c1", "7B", "3"), ev(T, 10, "c2", "ICU", "1"), ev(D, 20, "c3"))
    assert place.status is EncounterStatus.DISCHARGED
    assert place.state.discharged_ts_ms == T0 + 20 * 60_000
    assert place.location == Location("ICU", None, "1")  # where they were when discharged


def test_transfer_before_its_admit_keeps_the_transfer_location() -> None:
    in_order = fold(ev(A, 0, "c1", "7B"), ev(T, 10, "c2", "ICU"))
    reordered = fold(ev(T, 10, "c2", "ICU"), ev(A, 0, "c1", "7B"))
    assert reordered.location == in_order.location == Location("ICU")
    assert reordered.status is EncounterStatus.ADMITTED


def test_repeated_admit_is_a_duplicate_and_changes_nothing() -> None:
    place = fold(ev(A, 0, "c1", "7B"), ev(T, 10, "c2", "ICU"))
    again, outcome = apply(place, ev(A, 0, "c1", "7B"))
    assert outcome is FoldOutcome.DUPLICATE and again == place
    # A resend under the same control id with other content is still the same message.
    again, outcome = apply(place, ev(A, 30, "c1", "5A"))
    assert outcome is FoldOutcome.DUPLICATE and again.location == Location("ICU")


def test_discharge_that_overtakes_a_transfer_still_ends_discharged() -> None:
    place = fold(ev(A, 0, "c1", "7B"), ev(D, 30, "c3"), ev(T, 10, "c2", "ICU"))
    assert place.status is EncounterStatus.DISCHARGED and place.location == Location("ICU")


def test_cancel_admit_undoes_the_admit() -> None:
    place = fold(ev(A, 0, "c1", "7B"), ev(AdtEventType.CANCEL_ADMIT, 5, "c2"))
    assert place.status is EncounterStatus.UNKNOWN and place.location is None


def test_cancel_transfer_goes_back_to_the_previous_location() -> None:
    place = fold(ev(A, 0, "c1", "7B", "3"), ev(T, 10, "c2", "ICU", "1"), ev(AdtEventType.CANCEL_TRANSFER, 15, "c3"))
    assert place.location == Location("7B", None, "3")
    assert place.status is EncounterStatus.ADMITTED


def test_cancel_transfer_arriving_before_a_later_transfer_cancels_the_right_one() -> None:
    place = fold(
        ev(A, 0, "c1", "7B"), ev(T, 10, "c2", "ICU"), ev(T, 30, "c4", "8C"), ev(AdtEventType.CANCEL_TRANSFER, 15, "c3")
    )
    assert place.location == Location("8C")  # the ICU move was cancelled, the later move stands


def test_cancel_discharge_goes_back_to_admitted() -> None:
    place = fold(ev(A, 0, "c1", "7B"), ev(D, 10, "c2"), ev(AdtEventType.CANCEL_DISCHARGE, 12, "c3"))
    assert place.status is EncounterStatus.ADMITTED and place.location == Location("7B")
    assert place.state.discharged_ts_ms is None


def test_cancel_without_its_event_uses_its_own_fields() -> None:
    place = fold(ev(AdtEventType.CANCEL_TRANSFER, 5, "c1", "7B"))
    assert place.location == Location("7B")


def test_update_changes_location_not_status() -> None:
    place = fold(ev(A, 0, "c1", "7B", "3"), ev(AdtEventType.UPDATE, 5, "c2", "7B", "4"))
    assert place.status is EncounterStatus.ADMITTED and place.location == Location("7B", None, "4")
    place = fold(ev(AdtEventType.REGISTER, 0, "c1", "OPD"))
    assert place.status is EncounterStatus.REGISTERED


def test_long_history_folds_into_base_and_rejects_older_events() -> None:
    events = [ev(T, i, f"c{i}", f"W{i}") for i in range(LOG_SIZE + 5)]
    place = fold(*events)
    assert len(place.log) == LOG_SIZE and place.location == Location(f"W{LOG_SIZE + 4}")
    _, outcome = apply(place, ev(T, 0, "late", "OLD"))
    assert outcome is FoldOutcome.STALE


def test_place_round_trips_through_bytes() -> None:
    place = fold(ev(A, 0, "c1", "7B", "3"), ev(T, 10, "c2", "ICU"), ev(D, 20, "c3"))
    back = PatientPlace.from_bytes(place.to_bytes())
    assert back == place
    doc = orjson.loads(place.to_bytes())
    assert doc["status"] == "discharged" and doc["location"] == {"ward": "ICU", "room": None, "bed": None}
    with pytest.raises(ValueError):
        PatientPlace.from_bytes(b"{}")


def test_change_between_names_discharge_readmission_and_moves() -> None:
    admitted = fold(ev(A, 0, "c1", "7B"))
    moved = fold(ev(A, 0, "c1", "7B"), ev(T, 10, "c2", "ICU"))
    out = fold(ev(A, 0, "c1", "7B"), ev(D, 10, "c2"))
    back = fold(ev(A, 0, "c1", "7B"), ev(D, 10, "c2"), ev(AdtEventType.CANCEL_DISCHARGE, 11, "c3"))
    assert change_between(admitted, moved).moved and change_between(admitted, moved).ward_to == "ICU"
    assert change_between(admitted, out).discharged
    assert change_between(out, back).readmitted
    assert not change_between(None, admitted).discharged


# ---- the fixtures the docs use --------------------------------------------------------


def test_documented_adt_fixtures_parse_to_admit_transfer_discharge() -> None:
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
    admit = parse_adt_hl7v2((fixtures / "hl7_adt_a01.hl7").read_bytes()).adt_events[0]
    transfer = parse_adt_hl7v2((fixtures / "hl7_adt_a02.hl7").read_bytes()).adt_events[0]
    discharge = parse_fhir_encounter((fixtures / "fhir_encounter_finished.json").read_bytes()).adt_events[0]
    assert (admit.event_type, admit.location, admit.visit) == (A, Location("7A", "12", "3"), "V20261125-42")
    assert (transfer.event_type, transfer.location, transfer.prior_location) == (
        T,
        Location("ICU", "2", "1"),
        Location("7A", "12", "3"),
    )
    assert (discharge.event_type, discharge.location) == (D, Location("ICU", None, "1"))
    place = fold(transfer, discharge, admit)  # any arrival order
    assert place.status is EncounterStatus.DISCHARGED and place.ward == "ICU"


def test_location_in_reads_only_the_current_location() -> None:
    place = fold(ev(A, 0, "c1", "7B", "3"), ev(T, 10, "c2", "ICU", "1"))
    assert PatientPlace.location_in(place.to_bytes()) == Location("ICU", None, "1")
    assert PatientPlace.location_in(b"not json") is None
    assert PatientPlace.location_in(fold(ev(AdtEventType.CANCEL_ADMIT, 0, "c1")).to_bytes()) is None


def test_same_control_id_from_another_sender_is_not_a_duplicate() -> None:
    admit = parse_adt_hl7v2(adt("A01", control="1")).adt_events[0]
    other = adt("A02", control="1", pv1="PV1||I|ICU^1^1", evn="EVN|A02|20261125101000+0100").replace(
        "|PAS|HOSP|", "|BEDMGR|HOSP|"
    )
    transfer = parse_adt_hl7v2(other).adt_events[0]
    place, _ = apply(None, admit)
    place, outcome = apply(place, transfer)
    assert outcome is FoldOutcome.APPLIED and place.ward == "ICU"


def test_future_adt_is_refused_so_it_cannot_outrank_real_events() -> None:
    """Events are ordered by time: one dated next year would pin the location until then."""
    hl7 = parse_adt_hl7v2(adt("A02"), not_after=T0 - 1)
    assert hl7.ack_code is AckCode.AE and hl7.rejections[0].code is RejectCode.BAD_TIMESTAMP
    assert "beyond" in hl7.rejections[0].reason and not hl7.adt_events
    fhir = parse_fhir_encounter(orjson.dumps(encounter()), not_after=T0 - 1)
    assert not fhir.adt_events and fhir.rejections[0].code is RejectCode.BAD_TIMESTAMP
    assert parse_adt_hl7v2(adt("A02"), not_after=T0).adt_events  # at the limit: taken


def test_adt_and_patients_messages_conform_to_the_contract() -> None:
    import contract

    events = [ev(A, 0, "c1", "7B", "3"), ev(T, 10, "c2", "ICU"), ev(D, 20, "c3")]
    place = fold(*events)
    for event in events:
        assert contract.errors("adt", orjson.loads(event.to_bytes())) == []
    assert contract.errors("patients", orjson.loads(place.to_bytes())) == []
    assert contract.errors("patients", {**orjson.loads(place.to_bytes()), "status": "gone"})  # drift is caught
