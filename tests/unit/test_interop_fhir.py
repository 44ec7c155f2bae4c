"""FHIR R4 Observation/Bundle → contract messages: mapping rules and hostile input."""

from __future__ import annotations

import copy
import json
import random
import timeit
from pathlib import Path
from typing import Any

import orjson
import pytest

from monitor.interop.fhir import parse_fhir
from monitor.interop.result import MESSAGE_ENTRY, GatewayResult, RejectCode
from monitor.parse import ParseResult, parse_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "interop"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_doc(name: str) -> dict[str, Any]:
    return json.loads(fixture(name))


def assert_wire_valid(result: GatewayResult) -> None:
    """Whatever we produce must pass the contract parser untouched."""
    for message in result.messages:
        parsed = ParseResult()
        parse_document(orjson.loads(orjson.dumps(message)), parsed)
        assert parsed.rejections == [], (message, parsed.rejections)


def parse_doc(doc: dict[str, Any]) -> GatewayResult:
    result = parse_fhir(orjson.dumps(doc))
    assert_wire_valid(result)
    return result


def observation(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/P1"},
        "device": {"reference": "Device/D1"},
        "effectiveDateTime": "2026-11-25T10:00:00Z",
        "valueQuantity": {"value": 70, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def only_message(result: GatewayResult) -> dict[str, Any]:
    assert len(result.messages) == 1, result
    return result.messages[0]


# --------------------------------------------------------------- fixtures


def test_heart_rate_fixture() -> None:
    result = parse_fhir(fixture("fhir_heart_rate.json"))
    assert result.messages == [
        {"patient_id": "MRN-0042", "device_id": "mon-icu-12", "ts": "2026-11-25T09:00:00.000Z", "heart_rate": 72}
    ]
    assert result.rejections == [] and result.skipped_codes == [] and result.sample_count == 1
    assert_wire_valid(result)


def test_spo2_fixture_ratio_becomes_percent() -> None:
    message = only_message(parse_fhir(fixture("fhir_spo2.json")))
    assert message["spo2"] == 95 and message["device_id"] == "oxi-7"


def test_resp_rate_fixture_period_start_absolute_reference_per_second() -> None:
    message = only_message(parse_fhir(fixture("fhir_resp_rate.json")))
    assert message == {
        "patient_id": "MRN-0042",
        "device_id": "unknown",
        "ts": "2026-11-25T09:00:00.000Z",
        "resp_rate": 18,
    }


def test_temperature_fixture_fahrenheit() -> None:
    assert only_message(parse_fhir(fixture("fhir_temperature_f.json")))["temperature"] == 38.5


def test_bp_panel_fixture_kpa_and_mean_skipped() -> None:
    result = parse_fhir(fixture("fhir_bp_panel.json"))
    message = only_message(result)
    assert message["systolic_bp"] == pytest.approx(120.01) and message["diastolic_bp"] == pytest.approx(78.76)
    assert result.skipped_codes == ["http://loinc.org|8478-0"]
    assert_wire_valid(result)


def test_vitals_panel_fixture_all_components() -> None:
    result = parse_fhir(fixture("fhir_vitals_panel.json"))
    assert only_message(result) == {
        "patient_id": "MRN-0042",
        "device_id": "spot-9",
        "ts": "2026-11-25T10:30:00.000Z",
        "heart_rate": 88,
        "spo2": 94,
        "resp_rate": 21,
        "temperature": 38.4,
        "systolic_bp": 104,
        "diastolic_bp": 66,
    }
    assert result.skipped_codes == ["http://loinc.org|29463-7"]


def test_typical_bundle_merges_into_one_sample() -> None:
    result = parse_fhir(fixture("fhir_bundle_typical.json"))
    assert only_message(result) == {
        "patient_id": "MRN-0077",
        "device_id": "wear-17",
        "ts": "2026-11-25T10:00:00.250Z",
        "heart_rate": 72,
        "spo2": 97,
        "resp_rate": 16,
        "temperature": 36.8,
        "systolic_bp": 121,
        "diastolic_bp": 79,
    }
    assert_wire_valid(result)


def test_mixed_bundle_keeps_usable_entries_and_rejects_each_other_one() -> None:
    result = parse_fhir(fixture("fhir_bundle_mixed.json"))
    assert only_message(result) == {
        "patient_id": "MRN-0042",
        "device_id": "mon-icu-12",
        "ts": "2026-11-25T10:00:00.000Z",
        "heart_rate": 118,
        "temperature": 39,
        "systolic_bp": 96,
        "diastolic_bp": 58,
    }
    by_entry = {r.entry: r.code for r in result.rejections}
    assert by_entry == {
        "Bundle.entry[1]": RejectCode.UNSUPPORTED,
        "Bundle.entry[2]": RejectCode.BAD_TIMESTAMP,
        "Bundle.entry[3]": RejectCode.WITHDRAWN,
        "Bundle.entry[5]": RejectCode.BAD_UNIT,
        "Bundle.entry[6]": RejectCode.INVALID_RESOURCE,
        "Bundle.entry[8]": RejectCode.BAD_VALUE,
        "Bundle.entry[9]": RejectCode.UNSUPPORTED,
        "Bundle.entry[10]": RejectCode.MISSING_PATIENT_ID,
    }
    assert result.skipped_codes == ["http://loinc.org|29463-7"]
    reasons = {r.entry: r.reason for r in result.rejections}
    assert "Patient, not an Observation" in reasons["Bundle.entry[1]"]
    assert "no time zone" in reasons["Bundle.entry[2]"]
    assert "entered-in-error" in reasons["Bundle.entry[3]"]
    assert "'kg'" in reasons["Bundle.entry[5]"] and "spo2" in reasons["Bundle.entry[5]"]
    assert "flavour" in reasons["Bundle.entry[6]"] and "\n" not in reasons["Bundle.entry[6]"]
    payload = json.loads(next(r.payload for r in result.rejections if r.entry == "Bundle.entry[3]"))
    assert payload["resourceType"] == "Observation" and payload["status"] == "entered-in-error"
    assert_wire_valid(result)


def test_str_and_bytes_give_the_same_result() -> None:
    raw = fixture("fhir_bundle_mixed.json")
    assert parse_fhir(raw) == parse_fhir(raw.decode())


# ------------------------------------------------------- patient and device


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ({"reference": "Patient/MRN-9"}, "MRN-9"),
        ({"reference": "https://fhir.example.org/r4/Patient/MRN-9"}, "MRN-9"),
        ({"reference": "Patient/MRN-9/_history/4"}, "MRN-9"),
        ({"identifier": {"system": "urn:oid:1.2.3", "value": "MRN-9"}}, "MRN-9"),
    ],
)
def test_patient_from_subject(subject: dict[str, Any], expected: str) -> None:
    assert only_message(parse_doc(observation(subject=subject)))["patient_id"] == expected


@pytest.mark.parametrize(
    "subject",
    [
        None,
        {"reference": "Group/ward-7"},
        {"reference": "urn:uuid:9a5f0000-0000-4000-8000-000000000000"},
        {"display": "Jane"},
    ],
)
def test_unusable_subject_rejected(subject: dict[str, Any] | None) -> None:
    result = parse_doc(observation(subject=subject))
    assert result.messages == []
    assert [r.code for r in result.rejections] == [RejectCode.MISSING_PATIENT_ID]


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ({"reference": "Device/mon-1"}, "mon-1"),
        (None, "unknown"),
        ({"display": "bedside monitor"}, "unknown"),
        ({"identifier": {"value": "EUI-0123"}}, "EUI-0123"),
        ({"reference": "DeviceMetric/hr-channel"}, "DeviceMetric/hr-channel"),
    ],
)
def test_device_from_reference(device: dict[str, Any] | None, expected: str) -> None:
    assert only_message(parse_doc(observation(device=device)))["device_id"] == expected


# ---------------------------------------------------------------- time


def test_effective_forms() -> None:
    base = {"effectiveDateTime": None}
    period = observation(**base, effectivePeriod={"start": "2026-11-25T11:00:00+01:00"})
    instant = observation(**base, effectiveInstant="2026-11-25T10:00:00.5Z")
    assert only_message(parse_doc(period))["ts"] == "2026-11-25T10:00:00.000Z"
    assert only_message(parse_doc(instant))["ts"] == "2026-11-25T10:00:00.500Z"
    fractional = observation(effectiveDateTime="2026-11-25T10:00:00.123456-02:30")
    assert only_message(parse_doc(fractional))["ts"] == "2026-11-25T12:30:00.123Z"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"effectiveDateTime": "2026-11-25T10:00:00"}, "no time zone"),
        ({"effectiveDateTime": "2026-11-25T10:00"}, "no time zone"),
        ({"effectiveDateTime": "2026-11-25"}, "no time of day"),
        ({"effectiveDateTime": "2026-11"}, "no time of day"),
        ({"effectiveDateTime": None, "effectivePeriod": {"start": "2026-11-25T10:00:00"}}, "no time zone"),
        ({"effectiveDateTime": None, "effectivePeriod": {"end": "2026-11-25T10:00:00Z"}}, "no effectiveDateTime"),
        ({"effectiveDateTime": None}, "no effectiveDateTime"),
    ],
)
def test_time_without_zone_or_time_of_day_rejected(overrides: dict[str, Any], fragment: str) -> None:
    result = parse_doc(observation(**overrides))
    assert result.messages == []
    assert [r.code for r in result.rejections] == [RejectCode.BAD_TIMESTAMP]
    assert fragment in result.rejections[0].reason


@pytest.mark.parametrize("moment", ["1970-01-01T00:00:00Z", "2300-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z"])
def test_time_outside_plausible_range_rejected(moment: str) -> None:
    result = parse_doc(observation(effectiveDateTime=moment))
    assert result.messages == [] and [r.code for r in result.rejections] == [RejectCode.BAD_TIMESTAMP]


def test_garbage_time_is_a_validation_rejection() -> None:
    result = parse_doc(observation(effectiveDateTime="yesterday at tea time"))
    assert [r.code for r in result.rejections] == [RejectCode.INVALID_RESOURCE]


# --------------------------------------------------------- status and codes


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_withdrawn_status_rejected(status: str) -> None:
    result = parse_doc(observation(status=status))
    assert result.messages == [] and result.rejections[0].code is RejectCode.WITHDRAWN
    assert status in result.rejections[0].reason


@pytest.mark.parametrize("status", ["final", "amended", "corrected", "preliminary"])
def test_reporting_statuses_accepted(status: str) -> None:
    assert parse_doc(observation(status=status)).sample_count == 1


@pytest.mark.parametrize(
    ("code", "vital", "value", "unit"),
    [
        ("8867-4", "heart_rate", 70, "/min"),
        ("2708-6", "spo2", 95, "%"),
        ("59408-5", "spo2", 95, "%"),
        ("9279-1", "resp_rate", 14, "/min"),
        ("8310-5", "temperature", 37.5, "Cel"),
        ("8480-6", "systolic_bp", 130, "mm[Hg]"),
        ("8462-4", "diastolic_bp", 85, "mm[Hg]"),
    ],
)
def test_single_observation_codes(code: str, vital: str, value: float, unit: str) -> None:
    doc = observation(
        code={"coding": [{"system": "http://loinc.org", "code": code}]},
        valueQuantity={"value": value, "system": "http://unitsofmeasure.org", "code": unit},
    )
    assert only_message(parse_doc(doc))[vital] == value


def test_unknown_and_foreign_codes_are_skipped_and_counted() -> None:
    docs = bundle(
        observation(code={"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}),
        observation(code={"coding": [{"system": "http://snomed.info/sct", "code": "8867-4"}]}),
        observation(code={"text": "pain score"}),
        observation(code={"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "147842"}]}),
    )
    result = parse_doc(docs)
    assert result.messages == [] and result.rejections == []
    assert result.skipped_codes == [
        "http://loinc.org|29463-7",
        "http://snomed.info/sct|8867-4",
        "text:pain score",
        "urn:iso:std:iso:11073:10101|147842",
    ]


def test_second_coding_can_be_the_known_one() -> None:
    doc = observation(
        code={"coding": [{"system": "urn:local", "code": "HR"}, {"system": "http://loinc.org", "code": "8867-4"}]}
    )
    assert parse_doc(doc).sample_count == 1


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("overrides", "code", "fragment"),
    [
        (
            {"valueQuantity": {"value": 70, "comparator": ">", "code": "/min"}},
            RejectCode.BAD_VALUE,
            "not an exact value",
        ),
        ({"valueQuantity": None, "valueString": "70"}, RejectCode.BAD_VALUE, "no valueQuantity"),
        ({"valueQuantity": None, "dataAbsentReason": {"text": "probe off"}}, RejectCode.BAD_VALUE, "probe off"),
        ({"valueQuantity": {"unit": "/min", "code": "/min"}}, RejectCode.BAD_VALUE, "no valueQuantity value"),
        ({"valueQuantity": {"value": 70}}, RejectCode.BAD_UNIT, "no unit"),
        ({"valueQuantity": {"value": 70, "unit": "kg", "code": "kg"}}, RejectCode.BAD_UNIT, "'kg'"),
        ({"valueQuantity": {"value": 70, "code": "%"}}, RejectCode.BAD_UNIT, "not a heart_rate unit"),
        ({"valueQuantity": {"value": 400, "code": "/min"}}, RejectCode.IMPOSSIBLE_VALUE, "physical possibility"),
        ({"valueQuantity": {"value": "seventy", "code": "/min"}}, RejectCode.INVALID_RESOURCE, "valueQuantity"),
    ],
)
def test_unusable_values_rejected(overrides: dict[str, Any], code: RejectCode, fragment: str) -> None:
    result = parse_doc(observation(**overrides))
    assert result.messages == []
    assert [r.code for r in result.rejections] == [code]
    assert fragment in result.rejections[0].reason


def test_unit_text_used_when_code_missing() -> None:
    doc = observation(
        code={"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
        valueQuantity={"value": 98.6, "unit": "°F"},
    )
    assert only_message(parse_doc(doc))["temperature"] == 37


def test_panel_component_rejections_are_per_component() -> None:
    panel = fixture_doc("fhir_vitals_panel.json")
    panel["component"][0]["valueQuantity"] = {"value": 88, "code": "kg"}
    panel["component"][1]["valueQuantity"]["value"] = 140
    result = parse_doc(panel)
    assert {r.entry for r in result.rejections} == {"Observation.component[0]", "Observation.component[1]"}
    assert set(only_message(result)) >= {"resp_rate", "temperature", "systolic_bp", "diastolic_bp"}
    assert "heart_rate" not in only_message(result) and "spo2" not in only_message(result)


def test_systolic_not_above_diastolic_rejects_both_components_only() -> None:
    panel = fixture_doc("fhir_vitals_panel.json")
    panel["component"][4]["valueQuantity"]["value"] = 60  # systolic 60 < diastolic 66
    result = parse_doc(panel)
    assert {r.entry for r in result.rejections} == {"Observation.component[4]", "Observation.component[5]"}
    assert all(r.code is RejectCode.IMPOSSIBLE_VALUE for r in result.rejections)
    message = only_message(result)
    assert "systolic_bp" not in message and "diastolic_bp" not in message and message["heart_rate"] == 88


def test_panel_with_members_only_carries_nothing_itself() -> None:
    panel = observation(
        code={"coding": [{"system": "http://loinc.org", "code": "85353-1"}]},
        valueQuantity=None,
        hasMember=[{"reference": "Observation/hr-1"}],
    )
    result = parse_doc(panel)
    assert result.messages == [] and result.rejections == [] and result.skipped_codes == []


def test_empty_panel_rejected() -> None:
    panel = observation(code={"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}, valueQuantity=None)
    assert [r.code for r in parse_doc(panel).rejections] == [RejectCode.BAD_VALUE]


# --------------------------------------------------------------- merging


def test_same_patient_device_time_merge_other_devices_stay_apart() -> None:
    result = parse_doc(
        bundle(
            observation(),
            observation(
                code={"coding": [{"system": "http://loinc.org", "code": "9279-1"}]},
                valueQuantity={"value": 15, "code": "/min"},
            ),
            observation(device={"reference": "Device/D2"}, valueQuantity={"value": 71, "code": "/min"}),
            observation(subject={"reference": "Patient/P2"}),
        )
    )
    assert [(m["patient_id"], m["device_id"]) for m in result.messages] == [("P1", "D1"), ("P1", "D2"), ("P2", "D1")]
    assert result.messages[0]["heart_rate"] == 70 and result.messages[0]["resp_rate"] == 15
    assert result.sample_count == 3


def test_several_times_become_a_sorted_batch() -> None:
    result = parse_doc(
        bundle(
            observation(effectiveDateTime="2026-11-25T10:00:02Z", valueQuantity={"value": 72, "code": "/min"}),
            observation(effectiveDateTime="2026-11-25T10:00:00Z", valueQuantity={"value": 70, "code": "/min"}),
            observation(effectiveDateTime="2026-11-25T10:00:01Z", valueQuantity={"value": 71, "code": "/min"}),
        )
    )
    message = only_message(result)
    assert [s["heart_rate"] for s in message["samples"]] == [70, 71, 72]
    assert message["samples"][0]["ts"] == "2026-11-25T10:00:00.000Z"
    assert result.sample_count == 3


def test_duplicate_vital_at_same_moment_first_wins_second_superseded() -> None:
    result = parse_doc(bundle(observation(), observation(valueQuantity={"value": 90, "code": "/min"})))
    assert only_message(result)["heart_rate"] == 70
    assert result.superseded == ["Bundle.entry[1]"]


# ---------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", RejectCode.MALFORMED),
        (b"{not json", RejectCode.MALFORMED),
        (b"\xff\xfe\x00garbage", RejectCode.MALFORMED),
        (b"[1, 2, 3]", RejectCode.UNSUPPORTED),
        (b'"Observation"', RejectCode.UNSUPPORTED),
        (b"null", RejectCode.UNSUPPORTED),
        (b'{"hello": "world"}', RejectCode.UNSUPPORTED),
        (b'{"resourceType": "Patient", "id": "x"}', RejectCode.UNSUPPORTED),
        (b'{"resourceType": "Bundle", "type": "collection", "timestamp": "teatime"}', RejectCode.INVALID_RESOURCE),
        (b'{"resourceType": "Bundle", "type": "collection", "colour": "red"}', RejectCode.INVALID_RESOURCE),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": {"a": 1}}', RejectCode.INVALID_RESOURCE),
        (b"[" * 5000 + b"]" * 5000, RejectCode.MALFORMED),
    ],
)
def test_unreadable_bodies_are_one_whole_message_rejection(raw: bytes, code: RejectCode) -> None:
    result = parse_fhir(raw)
    assert result.messages == []
    assert len(result.rejections) == 1
    assert result.rejections[0].entry == MESSAGE_ENTRY and result.rejections[0].whole_message
    assert result.rejections[0].code is code


def test_oversize_body_refused_before_parsing() -> None:
    huge = orjson.dumps(bundle(*[observation()] * 20000))
    result = parse_fhir(huge)
    assert [r.code for r in result.rejections] == [RejectCode.OVERSIZE]
    assert len(result.rejections[0].payload) <= 4096
    assert parse_fhir(huge, max_bytes=len(huge), max_entries=20000).sample_count == 1


def test_empty_bundle_is_not_an_error() -> None:
    result = parse_fhir(b'{"resourceType": "Bundle", "type": "collection"}')
    assert result.messages == [] and result.rejections == []


@pytest.mark.parametrize(
    "entry",
    [None, 17, "text", [], {"resource": None}, {"resource": []}, {"resource": {"resourceType": 5}}, {"fullUrl": "x"}],
)
def test_odd_entries_rejected_individually(entry: Any) -> None:
    doc = {"resourceType": "Bundle", "type": "collection", "entry": [entry, {"resource": observation()}]}
    result = parse_doc(doc)
    assert result.sample_count == 1
    assert [r.entry for r in result.rejections] == ["Bundle.entry[0]"]


def test_too_deep_entry_rejected_alone() -> None:
    nested: list[Any] = []
    node = nested
    for _ in range(600):
        node.append([])
        node = node[0]
    deep = observation(extension=[{"url": "urn:x", "valueString": "y", "junk": nested}])
    result = parse_fhir(json.dumps(bundle(deep, observation())))
    assert result.sample_count == 1
    assert [(r.entry, r.code) for r in result.rejections] == [("Bundle.entry[0]", RejectCode.MALFORMED)]


def test_random_bytes_never_raise() -> None:
    rng = random.Random(20261125)
    for _ in range(300):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        result = parse_fhir(raw)
        assert result.messages == [] and len(result.rejections) == 1


def _mutate(value: Any, rng: random.Random) -> Any:
    """Replace one random node of a JSON tree with a hostile value."""
    hostile = [None, "", 0, -1, 1e308, True, [], {}, "Patient/", "2026-13-45T99:99:99Z", {"$ref": 1}, "\x00"]
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        value[key] = _mutate(value[key], rng)
        return value
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        value[index] = _mutate(value[index], rng)
        return value
    return rng.choice(hostile)


def test_mutated_bundles_never_raise_and_output_stays_valid() -> None:
    rng = random.Random(7)
    original = fixture_doc("fhir_bundle_mixed.json")
    for _ in range(300):
        doc = _mutate(copy.deepcopy(original), rng)
        result = parse_fhir(orjson.dumps(doc))
        assert_wire_valid(result)
        for rejection in result.rejections:
            assert rejection.reason and "\n" not in rejection.reason
            assert rejection.code is not RejectCode.INTERNAL, rejection.reason


# ------------------------------------------------------------ throughput


def test_throughput_typical_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    raw = fixture("fhir_bundle_typical.json")
    runs = 300
    seconds = timeit.timeit(lambda: parse_fhir(raw), number=runs)
    rate = runs / seconds
    with capsys.disabled():
        print(f"\nFHIR Bundle of 5 Observations: {rate:,.0f} messages/s ({seconds / runs * 1e6:,.0f} µs each)")
    assert rate > 50


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"method": {"text": "Spot check"}}, "observation_set"),
        (
            {
                "method": {
                    "coding": [{"system": "urn:example", "code": "continuous", "display": "Continuous monitoring"}]
                }
            },
            "continuous",
        ),
        ({"device": {"reference": "Device/D1", "display": "Nurse observation set"}}, "observation_set"),
        ({}, None),
    ],
)
def test_observation_method_or_device_becomes_the_contract_method_marker(
    overrides: dict[str, Any], expected: str | None
) -> None:
    produced = only_message(parse_doc(observation(**overrides)))
    assert produced["heart_rate"] == 70 and produced.get("method") == expected
