"""monitor.parse: every rejection reason, batch semantics, nursing input and ward."""

from __future__ import annotations

import orjson
import pytest

from monitor.limits import MAX_BATCH_SAMPLES, MAX_MESSAGE_BYTES
from monitor.parse import (
    MAX_WARD_CHARS,
    ParseResult,
    Rejection,
    RejectReason,
    SampleError,
    build_sample,
    parse_document,
    parse_message,
)
from monitor.vitals import Consciousness, VitalSample

TS = 1_764_064_800_000  # 2025-11-25T10:00:00Z in epoch ms


def msg(**fields: object) -> bytes:
    doc = {"patient_id": "MRN-0042", "device_id": "wear-17", "ts": TS}
    doc.update(fields)
    return orjson.dumps({k: v for k, v in doc.items() if v is not ...})


def only_rejection(raw: bytes | str) -> Rejection:
    result = parse_message(raw)
    assert result.samples == []
    assert len(result.rejections) == 1, result.rejections
    return result.rejections[0]


# ---- accepted forms ---------------------------------------------------------


def test_single_sample_full_contract() -> None:
    raw = msg(
        ts="2026-11-25T10:00:00.250Z",
        heart_rate=72,
        spo2=97,
        resp_rate=16,
        temperature=36.8,
        systolic_bp=121,
        diastolic_bp=79,
        on_oxygen=False,
        consciousness="A",
        spo2_scale=1,
        quality={"probe_off": False, "motion": 0.1},
    )
    result = parse_message(raw)
    assert result.rejections == []
    assert result.patient_id == "MRN-0042"
    (s,) = result.samples
    assert s.ts_ms == 1_795_600_800_250
    assert (s.heart_rate, s.spo2, s.resp_rate, s.temperature, s.systolic_bp, s.diastolic_bp) == (
        72.0,
        97.0,
        16.0,
        36.8,
        121.0,
        79.0,
    )
    assert isinstance(s.heart_rate, float)
    assert s.on_oxygen is False and s.consciousness is Consciousness.A and s.spo2_scale == 1
    assert s.probe_off is False and s.motion == 0.1
    assert s.device_id == "wear-17" and s.ward is None


def test_str_input_and_zone_offsets() -> None:
    a = parse_message(msg(ts="2026-11-25T11:00:00+01:00", heart_rate=70).decode()).samples[0]
    b = parse_message(msg(ts="2026-11-25T10:00:00Z", heart_rate=70)).samples[0]
    assert a.ts_ms == b.ts_ms


def test_batch_form_defaults_apply_per_sample_and_sample_overrides() -> None:
    raw = orjson.dumps(
        {
            "patient_id": "MRN-0042",
            "device_id": "wear-17",
            "on_oxygen": True,
            "spo2_scale": 2,
            "ward": "4B",
            "samples": [
                {"ts": TS, "heart_rate": 72, "spo2": 97},
                {"ts": TS + 1000, "heart_rate": 73, "on_oxygen": False, "ward": "ICU"},
            ],
        }
    )
    result = parse_message(raw)
    assert result.rejections == []
    first, second = result.samples
    assert first.on_oxygen is True and first.spo2_scale == 2 and first.ward == "4B"
    assert second.on_oxygen is False and second.spo2_scale == 2 and second.ward == "ICU"
    assert second.spo2 is None and second.ts_ms == TS + 1000
    assert {s.device_id for s in result.samples} == {"wear-17"}


def test_missing_device_id_is_unknown_and_non_string_is_text() -> None:
    assert parse_message(msg(device_id=..., heart_rate=70)).samples[0].device_id == "unknown"
    assert parse_message(msg(device_id=None, heart_rate=70)).samples[0].device_id == "unknown"
    assert parse_message(msg(device_id=17, heart_rate=70)).samples[0].device_id == "17"


def test_extreme_but_possible_values_are_data() -> None:
    s = parse_message(msg(heart_rate=0, spo2=0, resp_rate=80, temperature=14, systolic_bp=350, diastolic_bp=0)).samples[
        0
    ]
    assert s.heart_rate == 0 and s.spo2 == 0 and s.systolic_bp == 350


@pytest.mark.parametrize(
    "nursing",
    [
        {"on_oxygen": True},
        {"consciousness": "v"},
        {"spo2_scale": 2},
        {"ward": "4B"},
    ],
)
def test_nursing_only_samples_are_accepted(nursing: dict) -> None:
    result = parse_message(msg(**nursing))
    assert result.rejections == []
    (s,) = result.samples
    assert s.values() == {}
    if "consciousness" in nursing:
        assert s.consciousness is Consciousness.V


def test_probe_off_drops_probe_vitals_without_judging_them() -> None:
    # An impossible SpO2/HR from a probe that is off is not data: no rejection, not kept.
    raw = msg(heart_rate=999, spo2=150, resp_rate=18, quality={"probe_off": True})
    result = parse_message(raw)
    assert result.rejections == []
    (s,) = result.samples
    assert s.probe_off is True and s.heart_rate is None and s.spo2 is None and s.resp_rate == 18


def test_probe_off_alone_is_a_sample() -> None:
    (s,) = parse_message(msg(spo2=40, quality={"probe_off": True})).samples
    assert s.probe_off and s.values() == {}


def test_probe_off_does_not_excuse_other_vitals() -> None:
    rej = only_rejection(msg(spo2=40, resp_rate=200, quality={"probe_off": True}))
    assert rej.reason is RejectReason.IMPOSSIBLE_VALUE and "resp_rate" in rej.message


# ---- message-level rejections -----------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b'{"patient_id": "x",}', b"\xff\xfe"])
def test_malformed_json(raw: bytes) -> None:
    rej = only_rejection(raw)
    assert rej.reason is RejectReason.MALFORMED and rej.sample_index is None
    assert rej.describe().startswith("malformed: ")


@pytest.mark.parametrize("raw", [b"[]", b"42", b'"text"', b"null", b'[{"patient_id": "x"}]'])
def test_not_an_object(raw: bytes) -> None:
    rej = only_rejection(raw)
    assert rej.reason is RejectReason.NOT_AN_OBJECT
    assert parse_message(raw).patient_id is None


@pytest.mark.parametrize("pid", [..., None, "", "   ", 42, ["x"], {"id": "x"}])
def test_missing_patient_id(pid: object) -> None:
    rej = only_rejection(msg(patient_id=pid, heart_rate=70))
    assert rej.reason is RejectReason.MISSING_PATIENT_ID
    assert parse_message(msg(patient_id=pid, heart_rate=70)).patient_id is None


def test_oversize_message() -> None:
    raw = msg(heart_rate=70, note="x" * MAX_MESSAGE_BYTES)
    rej = only_rejection(raw)
    assert rej.reason is RejectReason.OVERSIZE and str(MAX_MESSAGE_BYTES) in rej.message


def test_oversize_batch() -> None:
    raw = orjson.dumps({"patient_id": "p", "samples": [{"ts": TS, "heart_rate": 70}] * (MAX_BATCH_SAMPLES + 1)})
    assert len(raw) <= MAX_MESSAGE_BYTES
    rej = only_rejection(raw)
    assert rej.reason is RejectReason.OVERSIZE and rej.sample_index is None
    at_limit = orjson.dumps({"patient_id": "p", "samples": [{"ts": TS, "heart_rate": 70}] * MAX_BATCH_SAMPLES})
    assert len(parse_message(at_limit).samples) == MAX_BATCH_SAMPLES


def test_empty_batch() -> None:
    rej = only_rejection(orjson.dumps({"patient_id": "p", "samples": []}))
    assert rej.reason is RejectReason.EMPTY_BATCH
    assert parse_message(orjson.dumps({"patient_id": "p", "samples": []})).patient_id == "p"


def test_samples_not_a_list() -> None:
    rej = only_rejection(orjson.dumps({"patient_id": "p", "samples": {"ts": TS, "heart_rate": 70}}))
    assert rej.reason is RejectReason.BAD_TYPE


# ---- sample-level rejections ------------------------------------------------


@pytest.mark.parametrize(
    "field,value",
    [
        ("heart_rate", "72"),
        ("heart_rate", True),
        ("spo2", [97]),
        ("resp_rate", {"v": 1}),
        ("temperature", "36.8"),
        ("systolic_bp", False),
        ("diastolic_bp", "80"),
        ("on_oxygen", "yes"),
        ("on_oxygen", 1),
        ("consciousness", "X"),
        ("consciousness", 1),
        ("spo2_scale", 3),
        ("spo2_scale", True),
        ("spo2_scale", "1"),
        ("quality", "bad"),
        ("quality", {"probe_off": "yes"}),
        ("quality", {"motion": "lots"}),
        ("quality", {"motion": True}),
    ],
)
def test_bad_types(field: str, value: object) -> None:
    extra = {} if field == "heart_rate" else {"heart_rate": 70}
    rej = only_rejection(msg(**{field: value, **extra}))
    assert rej.reason is RejectReason.BAD_TYPE, rej
    assert field.split(".")[0] in rej.message or "quality" in rej.message


def test_non_finite_numbers_are_bad_types() -> None:
    # orjson writes NaN as null, so build the samples directly.
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(SampleError) as info:
            build_sample({"ts": TS, "heart_rate": value}, "p", "d")
        assert info.value.reason is RejectReason.BAD_TYPE
    with pytest.raises(SampleError) as info:
        build_sample({"ts": TS, "heart_rate": 70, "quality": {"motion": float("nan")}}, "p", "d")
    assert info.value.reason is RejectReason.BAD_TYPE


@pytest.mark.parametrize(
    "ts,fragment",
    [
        ("2026-11-25T10:00:00", "no time zone"),
        ("2026-11-25 10:00:00", "no time zone"),
        ("yesterday", "not RFC 3339"),
        ("", "not RFC 3339"),
        (1_764_064_800, "seconds"),
        (1_764_064_800.5, "seconds"),
        (10**16, "seconds"),
        (True, "boolean"),
        ([TS], "got list"),
        (..., "missing"),
        (None, "missing"),
    ],
)
def test_bad_timestamp(ts: object, fragment: str) -> None:
    rej = only_rejection(msg(ts=ts, heart_rate=70))
    assert rej.reason is RejectReason.BAD_TIMESTAMP
    assert fragment in rej.message


def test_float_epoch_ms_is_accepted() -> None:
    assert parse_message(msg(ts=TS + 0.7, heart_rate=70)).samples[0].ts_ms == TS


def test_no_vital() -> None:
    rej = only_rejection(msg())
    assert rej.reason is RejectReason.NO_VITAL and "heart_rate" in rej.message
    rej = only_rejection(msg(quality={"motion": 0.2}))
    assert rej.reason is RejectReason.NO_VITAL


@pytest.mark.parametrize(
    "fields,vital",
    [
        ({"heart_rate": 301}, "heart_rate"),
        ({"heart_rate": -1}, "heart_rate"),
        ({"spo2": 100.5}, "spo2"),
        ({"resp_rate": 81}, "resp_rate"),
        ({"temperature": 98.6}, "temperature"),
        ({"temperature": 13.9}, "temperature"),
        ({"systolic_bp": 0}, "systolic_bp"),
        ({"systolic_bp": 351}, "systolic_bp"),
        ({"diastolic_bp": 251}, "diastolic_bp"),
        ({"systolic_bp": 80, "diastolic_bp": 80}, "must exceed"),
        ({"systolic_bp": 70, "diastolic_bp": 90}, "must exceed"),
        ({"heart_rate": 70, "quality": {"motion": -0.1}}, "motion"),
    ],
)
def test_impossible_values(fields: dict, vital: str) -> None:
    rej = only_rejection(msg(**fields))
    assert rej.reason is RejectReason.IMPOSSIBLE_VALUE
    assert vital in rej.message


def test_sbp_above_dbp_is_fine() -> None:
    (s,) = parse_message(msg(systolic_bp=81, diastolic_bp=80)).samples
    assert (s.systolic_bp, s.diastolic_bp) == (81, 80)


# ---- batches: one bad sample rejects only itself -----------------------------


def test_per_sample_rejection_in_a_batch_keeps_the_others() -> None:
    raw = orjson.dumps(
        {
            "patient_id": "p",
            "device_id": "d",
            "samples": [
                {"ts": TS, "heart_rate": 70},
                {"ts": TS + 1000, "heart_rate": 400},
                "not an object",
                {"ts": "naive 10:00", "heart_rate": 71},
                {"ts": TS + 4000},
                {"ts": TS + 5000, "spo2": "97"},
                {"ts": TS + 6000, "heart_rate": 72, "spo2": 96},
            ],
        }
    )
    result = parse_message(raw)
    assert [s.ts_ms for s in result.samples] == [TS, TS + 6000]
    assert [(r.reason, r.sample_index) for r in result.rejections] == [
        (RejectReason.IMPOSSIBLE_VALUE, 1),
        (RejectReason.NOT_AN_OBJECT, 2),
        (RejectReason.BAD_TIMESTAMP, 3),
        (RejectReason.NO_VITAL, 4),
        (RejectReason.BAD_TYPE, 5),
    ]
    assert result.rejections[0].describe().startswith("impossible_value: sample 1: ")
    assert result.patient_id == "p"


def test_bad_batch_default_rejects_each_sample() -> None:
    raw = orjson.dumps(
        {
            "patient_id": "p",
            "consciousness": "Z",
            "samples": [{"ts": TS, "heart_rate": 70}, {"ts": TS + 1, "heart_rate": 71, "consciousness": "A"}],
        }
    )
    result = parse_message(raw)
    assert [s.ts_ms for s in result.samples] == [TS + 1]
    assert [(r.reason, r.sample_index) for r in result.rejections] == [(RejectReason.BAD_TYPE, 0)]


def test_batch_probe_off_per_sample() -> None:
    raw = orjson.dumps(
        {
            "patient_id": "p",
            "samples": [
                {"ts": TS, "spo2": 250, "quality": {"probe_off": True}},
                {"ts": TS + 1000, "spo2": 250},
            ],
        }
    )
    result = parse_message(raw)
    assert len(result.samples) == 1 and result.samples[0].probe_off
    assert [(r.reason, r.sample_index) for r in result.rejections] == [(RejectReason.IMPOSSIBLE_VALUE, 1)]


# ---- ward ---------------------------------------------------------------------


def test_ward_is_parsed_and_round_trips() -> None:
    (s,) = parse_message(msg(heart_rate=70, ward="Cardiology 4B")).samples
    assert s.ward == "Cardiology 4B"
    contract = s.to_contract()
    assert contract["ward"] == "Cardiology 4B"
    (again,) = parse_message(orjson.dumps(contract)).samples
    assert again == s
    assert "ward" not in parse_message(msg(heart_rate=70)).samples[0].to_contract()


def test_ward_at_the_length_limit_is_accepted() -> None:
    (s,) = parse_message(msg(heart_rate=70, ward="W" * MAX_WARD_CHARS)).samples
    assert s.ward == "W" * MAX_WARD_CHARS


@pytest.mark.parametrize("ward", ["", "   ", "W" * (MAX_WARD_CHARS + 1), 4, True, ["4B"], {"name": "4B"}])
def test_bad_ward_is_bad_type(ward: object) -> None:
    rej = only_rejection(msg(heart_rate=70, ward=ward))
    assert rej.reason is RejectReason.BAD_TYPE and "ward" in rej.message


def test_bad_ward_in_batch_rejects_only_that_sample() -> None:
    raw = orjson.dumps(
        {
            "patient_id": "p",
            "ward": "4B",
            "samples": [{"ts": TS, "heart_rate": 70}, {"ts": TS + 1, "heart_rate": 70, "ward": ""}],
        }
    )
    result = parse_message(raw)
    assert [s.ward for s in result.samples] == ["4B"]
    assert [(r.reason, r.sample_index) for r in result.rejections] == [(RejectReason.BAD_TYPE, 1)]


# ---- shared entry points ----------------------------------------------------------


def test_parse_document_matches_parse_message() -> None:
    doc = {"patient_id": "p", "samples": [{"ts": TS, "heart_rate": 70}, {"ts": TS, "heart_rate": 999}]}
    result = ParseResult()
    parse_document(doc, result)
    direct = parse_message(orjson.dumps(doc))
    assert result.samples == direct.samples and result.rejections == direct.rejections


def test_round_trip_of_to_contract() -> None:
    sample = VitalSample(
        "p",
        "d",
        TS,
        heart_rate=70.0,
        spo2=95.0,
        on_oxygen=True,
        consciousness=Consciousness.C,
        spo2_scale=2,
        probe_off=False,
        motion=0.3,
        ward="ICU",
    )
    (again,) = parse_message(orjson.dumps(sample.to_contract())).samples
    assert again == sample


def test_rejection_reasons_are_the_metric_labels() -> None:
    assert {r.value for r in RejectReason} >= {
        "malformed",
        "not_an_object",
        "missing_patient_id",
        "bad_type",
        "bad_timestamp",
        "no_vital",
        "impossible_value",
        "oversize",
        "empty_batch",
    }


@pytest.mark.parametrize(
    "quality",
    [
        {"motion": 0.1},
        {"motion": 0.0},
        {"motion": -0.0},
        {"motion": 0},
        {"motion": 2.5, "probe_off": False},
        {"motion": 0.1, "probe_off": None},
        {"motion": 0.1, "probe_off": True},
        {"motion": 0.1, "probe_off": 0},
        {"motion": -0.1},
        {"motion": float("nan")},
        {"motion": float("inf")},
        {"motion": True},
        {"motion": "0.1"},
        {"probe_off": False},
        {},
        [],
        "x",
    ],
)
def test_the_inline_quality_case_accepts_and_rejects_as_the_general_check(quality: object) -> None:
    """build_sample's inline case for the usual {"motion": x} must agree with _quality on any input."""
    from monitor.parse import _quality

    doc = {"ts": TS, "heart_rate": 80.0, "quality": quality}
    try:
        expected: object = _quality(quality)
    except SampleError as exc:
        expected = (exc.reason, str(exc))
    try:
        sample = build_sample(doc, "MRN-0042", "wear-17")
        got: object = (sample.probe_off, sample.motion)
    except SampleError as exc:
        got = (exc.reason, str(exc))
    assert repr(got) == repr(expected)
