"""HL7 v2 ORU^R01 (IHE PCD-01) parsing, ACKs and MLLP framing, including hostile input."""

from __future__ import annotations

import random
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hl7
import orjson
import pytest

from monitor.interop.hl7v2 import (
    MDC_VITALS,
    AckCode,
    ErrorCondition,
    Hl7Result,
    build_ack,
    escape,
    parse_dtm,
    parse_hl7v2,
)
from monitor.interop.mllp import FrameErrorKind, MllpDecoder, frame
from monitor.interop.result import MESSAGE_ENTRY, GatewayResult, RejectCode
from monitor.parse import ParseResult, parse_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "interop"
NOW = datetime(2026, 11, 25, 9, 0, 5, tzinfo=UTC)

MSH = "MSH|^~\\&|MONGW^0123456789ABCDEF^EUI-64|ICU|WARDWATCH|HOSP|20261125100005+0100||ORU^R01^ORU_R01|C1|P|2.6"
PID = "PID|||MRN-1^^^HOSP^MR"
OBR = "OBR|1|||182777000^monitoring of patient^SCT|||20261125100000+0100"
HR = "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R"


def message(*segments: str) -> str:
    return "\r".join(segments) + "\r"


def fixture(name: str) -> str:
    """Fixtures are stored with LF for reading; senders use CR."""
    return (FIXTURES / name).read_text().replace("\n", "\r")


def assert_wire_valid(result: GatewayResult) -> None:
    for produced in result.messages:
        parsed = ParseResult()
        parse_document(orjson.loads(orjson.dumps(produced)), parsed)
        assert parsed.rejections == [], (produced, parsed.rejections)


def parse(text: str) -> Hl7Result:
    result = parse_hl7v2(text)
    assert_wire_valid(result)
    return result


def ack_fields(ack: str) -> hl7.Message:
    assert ack.endswith("\r") and "\n" not in ack
    return hl7.parse(ack)


# --------------------------------------------------------------- fixtures


def test_pcd01_fixture() -> None:
    result = parse(fixture("hl7_pcd01_oru.hl7"))
    assert result.error is None and result.control_id == "MSG00001"
    assert result.messages == [
        {
            "patient_id": "MRN-0042",
            "device_id": "0123456789ABCDEF",
            "samples": [
                {"ts": "2026-11-25T08:59:00.000Z", "systolic_bp": 128, "diastolic_bp": 82},
                {"ts": "2026-11-25T09:00:00.000Z", "heart_rate": 72, "spo2": 96, "resp_rate": 18, "temperature": 37.2},
            ],
        }
    ]
    assert result.superseded == ["OBX[3]"]  # pulse rate 74 lost to ECG heart rate 72
    assert result.rejections == [] and result.skipped_codes == []  # the MDS containment row is structure
    assert result.sample_count == 2 and result.ack_code is AckCode.AA and not result.assumed_utc


def test_pulse_rate_used_when_no_ecg() -> None:
    pulse = "OBX|1|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.2.1.2|74|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R"
    assert parse(message(MSH, PID, OBR, pulse)).messages[0]["heart_rate"] == 74
    ecg_after = parse(message(MSH, PID, OBR, pulse, HR))
    assert ecg_after.messages[0]["heart_rate"] == 72 and ecg_after.superseded == ["OBX[1]"]


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_segment_endings_and_mllp_bytes_tolerated(ending: str) -> None:
    text = fixture("hl7_pcd01_six_obx.hl7").replace("\r", ending)
    expected = parse(fixture("hl7_pcd01_six_obx.hl7")).messages
    assert parse(text).messages == expected
    assert parse_hl7v2(frame(text)).messages == expected
    assert parse_hl7v2(text.encode()).messages == expected


def test_six_obx_fixture_fractional_seconds() -> None:
    result = parse(fixture("hl7_pcd01_six_obx.hl7"))
    assert result.messages == [
        {
            "patient_id": "MRN-0077",
            "device_id": "0123456789ABCDEF",
            "ts": "2026-11-25T10:00:00.250Z",
            "heart_rate": 72,
            "spo2": 97,
            "resp_rate": 16,
            "systolic_bp": 121,
            "diastolic_bp": 79,
            "temperature": 36.8,
        }
    ]


def test_missing_pid_fixture_rejects_whole_message() -> None:
    raw = fixture("hl7_missing_pid.hl7")
    result = parse_hl7v2(raw)
    assert result.messages == [] and result.ack_code is AckCode.AE
    assert result.error is not None and result.error.condition is ErrorCondition.SEGMENT_SEQUENCE
    [rejection] = result.rejections
    assert rejection.entry == MESSAGE_ENTRY and rejection.code is RejectCode.MISSING_PATIENT_ID
    assert rejection.payload == raw.strip()
    ack = ack_fields(result.ack(control_id="A1", now=NOW))
    assert str(ack.segment("MSA")(1)) == "AE" and str(ack.segment("MSA")(2)) == "MSG00003"
    assert str(ack.segment("ERR")(3)) == "100^Segment sequence error^HL70357"


def test_unknown_codes_fixture() -> None:
    result = parse(fixture("hl7_unknown_codes.hl7"))
    assert result.skipped_codes == [
        "188736^MDC_MASS_BODY_ACTUAL^MDC",
        "8867-4^Heart rate^LN",
        "999999^MDC_MADE_UP^MDC",
    ]
    assert result.messages == [
        {"patient_id": "MRN-0042", "device_id": "MONGW", "ts": "2026-11-25T10:00:00.000Z", "spo2": 95}
    ]
    assert result.assumed_utc  # no offset anywhere in that message
    assert "skipped 3 unknown codes" in result.ack_text()


def test_wrong_units_fixture() -> None:
    result = parse(fixture("hl7_wrong_units.hl7"))
    assert result.messages == [
        {
            "patient_id": "MRN-0099",
            "device_id": "MONGW",
            "ts": "2026-11-25T10:00:00.000Z",  # OBR-7 05:00 without offset takes MSH-7's -0500
            "temperature": 37,
            "systolic_bp": 120.01,
            "diastolic_bp": 75.01,
        }
    ]
    assert not result.assumed_utc
    reasons = {r.entry: (r.code, r.reason) for r in result.rejections}
    assert reasons["OBX[1]"][0] is RejectCode.BAD_UNIT and "'kg'" in reasons["OBX[1]"][1]
    assert reasons["OBX[3]"] == (RejectCode.BAD_UNIT, reasons["OBX[3]"][1]) and "no unit" in reasons["OBX[3]"][1]
    assert reasons["OBX[6]"][0] is RejectCode.BAD_VALUE and "'---'" in reasons["OBX[6]"][1]
    assert reasons["OBX[7]"][0] is RejectCode.WITHDRAWN
    assert reasons["OBX[8]"][0] is RejectCode.BAD_UNIT and "not a resp_rate unit" in reasons["OBX[8]"][1]
    assert set(reasons) == {"OBX[1]", "OBX[3]", "OBX[6]", "OBX[7]", "OBX[8]"}
    assert result.ack_code is AckCode.AA and result.ack_text() == (
        "accepted 1 sample, rejected 5 rows: bad_unit at OBX[1] (also bad_value, withdrawn)"
    )
    assert next(r.payload for r in result.rejections if r.entry == "OBX[6]").startswith("OBX|6|NM|151562")


def test_wrong_encoding_fixture() -> None:
    result = parse_hl7v2(fixture("hl7_wrong_encoding.hl7"))
    assert result.ack_code is AckCode.AR and result.messages == []
    assert result.rejections[0].code is RejectCode.BAD_ENCODING
    assert "encoding characters" in result.rejections[0].reason
    ack = ack_fields(result.ack(control_id="A1", now=NOW))
    assert str(ack.segment("MSA")(2)) == "MSG00006"
    assert str(ack.segment("ERR")(2)) == "MSH^1^2"


# ------------------------------------------------------------ mapping rules


@pytest.mark.parametrize("spec", MDC_VITALS, ids=lambda s: s.mnemonic)
def test_every_mdc_code_maps(spec) -> None:
    unit = {
        "heart_rate": "264864^MDC_DIM_BEAT_PER_MIN^MDC",
        "spo2": "262688^MDC_DIM_PERCENT^MDC",
        "resp_rate": "264928^MDC_DIM_RESP_PER_MIN^MDC",
        "temperature": "268192^MDC_DIM_DEGC^MDC",
        "systolic_bp": "266016^MDC_DIM_MMHG^MDC",
        "diastolic_bp": "266016^MDC_DIM_MMHG^MDC",
    }[spec.vital]
    value = {"temperature": "37.5"}.get(spec.vital, "60")
    row = f"OBX|1|NM|{spec.code}^{spec.mnemonic}^MDC|1|{value}|{unit}|||||F"
    assert parse(message(MSH, PID, OBR, row)).messages[0][spec.vital] == float(value)
    assert spec.code - 2 * 65536 > 0  # partition 2 (SCADA)


def test_reference_id_alone_identifies_the_code() -> None:
    row = "OBX|1|NM|^MDC_PULS_OXIM_SAT_O2^MDC|1|93|%^percent^UCUM|||||R"
    assert parse(message(MSH, PID, OBR, row)).messages[0]["spo2"] == 93


def test_patient_is_pid3_first_repetition_first_component() -> None:
    pid = "PID|||MRN-7^^^HOSP^MR~NHS-999^^^NHS^NH||Doe^Jane"
    assert parse(message(MSH, pid, OBR, HR)).messages[0]["patient_id"] == "MRN-7"


@pytest.mark.parametrize("pid", ["PID|||", "PID", "PID|||^^^HOSP^MR", "PID|||   "])
def test_empty_pid3_rejects_whole_message(pid: str) -> None:
    result = parse_hl7v2(message(MSH, pid, OBR, HR))
    assert result.messages == [] and result.ack_code is AckCode.AE
    assert result.error is not None and result.error.location == "PID^1^3"
    assert result.error.condition is ErrorCondition.REQUIRED_FIELD_MISSING


def test_obx_before_pid_rejects_whole_message() -> None:
    result = parse_hl7v2(message(MSH, OBR, HR, PID))
    assert result.ack_code is AckCode.AE and result.rejections[0].code is RejectCode.MISSING_PATIENT_ID


def test_two_patient_groups() -> None:
    result = parse(message(MSH, PID, OBR, HR, "PID|||MRN-2", OBR, HR.replace("|72|", "|90|")))
    assert [(m["patient_id"], m["heart_rate"]) for m in result.messages] == [("MRN-1", 72), ("MRN-2", 90)]


@pytest.mark.parametrize(
    ("obx14", "obr7", "msh7", "expected"),
    [
        ("20261125103000+0100", "20261125100000+0100", "20261125100005+0100", "2026-11-25T09:30:00.000Z"),
        ("", "20261125100000+0100", "20261125100005+0100", "2026-11-25T09:00:00.000Z"),
        ("", "", "20261125100005+0100", "2026-11-25T09:00:05.000Z"),
        ("20261125100000", "", "20261125100005+0200", "2026-11-25T08:00:00.000Z"),
        ("20261125100000", "", "20261125100005", "2026-11-25T10:00:00.000Z"),
    ],
)
def test_time_precedence_and_zone(obx14: str, obr7: str, msh7: str, expected: str) -> None:
    msh = MSH.replace("20261125100005+0100", msh7)
    obr = f"OBR|1|||182777000^monitoring of patient^SCT|||{obr7}"
    row = f"{HR}|||{obx14}"
    assert parse(message(msh, PID, obr, row)).messages[0]["ts"] == expected


def test_no_time_anywhere_rejects_row() -> None:
    msh = MSH.replace("20261125100005+0100", "")
    obr = "OBR|1|||182777000^monitoring of patient^SCT"
    result = parse(message(msh, PID, obr, HR))
    assert result.messages == [] and result.rejections[0].code is RejectCode.BAD_TIMESTAMP


@pytest.mark.parametrize("moment", ["19700101000000+0000", "99991231235959-1400", "00010101000000+1400"])
def test_time_outside_plausible_range_rejects_row(moment: str) -> None:
    result = parse(message(MSH, PID, OBR, f"{HR}|||{moment}"))
    assert result.messages == [] and [r.code for r in result.rejections] == [RejectCode.BAD_TIMESTAMP]


def test_malformed_obx14_rejects_row_without_falling_back() -> None:
    result = parse(message(MSH, PID, OBR, f"{HR}|||2026-11-25T10:00"))
    assert result.messages == [] and result.rejections[0].code is RejectCode.BAD_TIMESTAMP
    assert "OBX-14" in result.rejections[0].reason


@pytest.mark.parametrize(
    ("text", "expected", "assumed"),
    [
        ("20261125100000+0100", datetime(2026, 11, 25, 9, 0, tzinfo=UTC), False),
        ("20261125100000-0030", datetime(2026, 11, 25, 10, 30, tzinfo=UTC), False),
        ("20261125100000.5+0000", datetime(2026, 11, 25, 10, 0, 0, 500000, tzinfo=UTC), False),
        ("20261125100000.1234-0500", datetime(2026, 11, 25, 15, 0, 0, 123400, tzinfo=UTC), False),
        ("202611251000+0100", datetime(2026, 11, 25, 9, 0, tzinfo=UTC), False),
        ("20261125100000", datetime(2026, 11, 25, 10, 0, tzinfo=UTC), True),
    ],
)
def test_parse_dtm(text: str, expected: datetime, assumed: bool) -> None:
    assert parse_dtm(text) == (round(expected.timestamp() * 1000), assumed)


def test_parse_dtm_default_offset() -> None:
    ms, assumed = parse_dtm("20261125100000", timedelta(hours=2))
    assert ms == round(datetime(2026, 11, 25, 8, tzinfo=UTC).timestamp() * 1000) and not assumed


@pytest.mark.parametrize(
    "text",
    [
        "20261125",
        "2026112510",
        "20261325100000",
        "20261125250000",
        "20261125100000+2500",
        "20261125100000+0160",
        "20261125100000Z",
        "20261125100000+01",
        "20261125100000.12345",
        "2026-11-25T10:00:00Z",
        "x",
        "",
    ],
)
def test_parse_dtm_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_dtm(text)


@pytest.mark.parametrize(
    ("msh3", "obx18", "expected"),
    [
        ("MONGW^0123^EUI-64", "ABCDEF0123456789^EUI-64", "ABCDEF0123456789"),
        ("MONGW^0123^EUI-64", "", "MONGW"),
        ("", "", "unknown"),
    ],
)
def test_device_precedence(msh3: str, obx18: str, expected: str) -> None:
    msh = MSH.replace("MONGW^0123456789ABCDEF^EUI-64", msh3)
    row = f"{HR}|||20261125100000+0100||||{obx18}"
    assert parse(message(msh, PID, OBR, row)).messages[0]["device_id"] == expected


@pytest.mark.parametrize(
    ("status", "usable"),
    [
        ("F", True),
        ("R", True),
        ("C", True),
        ("P", True),
        ("", True),
        ("X", False),
        ("W", False),
        ("D", False),
        ("x", False),
    ],
)
def test_result_status(status: str, usable: bool) -> None:
    row = HR.replace("|||||R", f"|||||{status}")
    result = parse(message(MSH, PID, OBR, row))
    assert (result.sample_count == 1) is usable
    if not usable:
        assert result.rejections[0].code is RejectCode.WITHDRAWN


@pytest.mark.parametrize(
    ("value_type", "value", "ok"),
    [
        ("NM", "72", True),
        ("NM", "+72.0", True),
        ("NM", " 72 ", True),
        ("", "72", True),
        ("SN", "^72", True),
        ("SN", "=^72", True),
        ("NM", "---", False),
        ("NM", "7O", False),
        ("NM", "1e2", False),
        ("NM", "72^bpm", False),
        ("NM", "72~73", False),
        ("NM", "", False),
        ("NM", "NaN", False),
        ("SN", ">^250", False),
        ("SN", "^1^-^3", False),
        ("ST", "72", False),
        ("CWE", "72^seventy-two", False),
    ],
)
def test_numeric_values(value_type: str, value: str, ok: bool) -> None:
    row = f"OBX|1|{value_type}|147842^MDC_ECG_HEART_RATE^MDC|1|{value}|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R"
    result = parse(message(MSH, PID, OBR, row))
    assert (result.sample_count == 1) is ok, result
    if not ok:
        assert result.rejections[0].code is RejectCode.BAD_VALUE and result.ack_code is AckCode.AE


def test_impossible_value_and_inverted_pressure_rejected() -> None:
    rows = [
        HR.replace("|72|", "|400|"),
        "OBX|2|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1|70|266016^MDC_DIM_MMHG^MDC|||||R",
        "OBX|3|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1|90|266016^MDC_DIM_MMHG^MDC|||||R",
        "OBX|4|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1|97|262688^MDC_DIM_PERCENT^MDC|||||R",
    ]
    result = parse(message(MSH, PID, OBR, *rows))
    assert {r.entry for r in result.rejections} == {"OBX[1]", "OBX[2]", "OBX[3]"}
    assert all(r.code is RejectCode.IMPOSSIBLE_VALUE for r in result.rejections)
    assert result.messages[0] == {
        "patient_id": "MRN-1",
        "device_id": "MONGW",
        "ts": "2026-11-25T09:00:00.000Z",
        "spo2": 97,
    }


def test_foreign_coding_system_skipped_not_guessed() -> None:
    row = "OBX|1|NM|147842^Heart rate^99LOCAL|1|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R"
    result = parse(message(MSH, PID, OBR, row))
    assert result.messages == [] and result.skipped_codes == ["147842^Heart rate^99LOCAL"]


def test_ucum_unit_in_obx6() -> None:
    row = "OBX|1|NM|150344^MDC_TEMP^MDC|1|98.6|[degF]^degrees Fahrenheit^UCUM|||||R"
    assert parse(message(MSH, PID, OBR, row)).messages[0]["temperature"] == 37


# ------------------------------------------------------- message-level refusals


@pytest.mark.parametrize(
    ("text", "ack", "condition", "code"),
    [
        (
            "MSH#^~\\&#MONGW#ICU#WW#HOSP#20261125100005##ORU^R01#C1#P#2.6\rPID###MRN-1",
            AckCode.AR,
            ErrorCondition.DATA_TYPE,
            RejectCode.BAD_ENCODING,
        ),
        (MSH.replace("^~\\&", "^~\\"), AckCode.AR, ErrorCondition.DATA_TYPE, RejectCode.BAD_ENCODING),
        (MSH.replace("^~\\&", "^~\\&#X"), AckCode.AR, ErrorCondition.DATA_TYPE, RejectCode.BAD_ENCODING),
        (
            MSH.replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01"),
            AckCode.AR,
            ErrorCondition.UNSUPPORTED_MESSAGE_TYPE,
            RejectCode.UNSUPPORTED,
        ),
        (
            MSH.replace("ORU^R01^ORU_R01", "ORU^R30"),
            AckCode.AR,
            ErrorCondition.UNSUPPORTED_EVENT,
            RejectCode.UNSUPPORTED,
        ),
        (MSH.replace("|P|2.6", "|T|2.6"), AckCode.AR, ErrorCondition.UNSUPPORTED_PROCESSING_ID, RejectCode.UNSUPPORTED),
        (MSH.replace("|P|2.6", "|D|2.6"), AckCode.AR, ErrorCondition.UNSUPPORTED_PROCESSING_ID, RejectCode.UNSUPPORTED),
        (MSH.replace("|P|2.6", "|P|3.0"), AckCode.AR, ErrorCondition.UNSUPPORTED_VERSION, RejectCode.UNSUPPORTED),
        (MSH.replace("|C1|", "||"), AckCode.AE, ErrorCondition.REQUIRED_FIELD_MISSING, RejectCode.MALFORMED),
        ("PID|||MRN-1\r" + MSH, AckCode.AR, ErrorCondition.SEGMENT_SEQUENCE, RejectCode.MALFORMED),
        ("", AckCode.AR, ErrorCondition.SEGMENT_SEQUENCE, RejectCode.MALFORMED),
        ("MSH", AckCode.AR, ErrorCondition.DATA_TYPE, RejectCode.BAD_ENCODING),
        (
            message(MSH, PID, OBR, HR) + message(MSH, PID, OBR, HR),
            AckCode.AR,
            ErrorCondition.SEGMENT_SEQUENCE,
            RejectCode.UNSUPPORTED,
        ),
    ],
)
def test_message_level_refusals(text: str, ack: AckCode, condition: ErrorCondition, code: RejectCode) -> None:
    full = text if "PID" in text or not text.startswith("MSH|") else message(text, PID, OBR, HR)
    result = parse_hl7v2(full)
    assert result.messages == [] and result.ack_code is ack
    assert result.error is not None and result.error.condition is condition
    assert [r.code for r in result.rejections] == [code] and result.rejections[0].whole_message
    ack_message = ack_fields(result.ack(control_id="A1", now=NOW))
    assert str(ack_message.segment("MSA")(1)) == ack.value
    assert str(ack_message.segment("ERR")(3)).startswith(condition.value + "^")


def test_accepted_processing_ids_are_configurable() -> None:
    text = message(MSH.replace("|P|2.6", "|T|2.6"), PID, OBR, HR)
    assert parse_hl7v2(text, processing_ids=frozenset({"P", "T"})).sample_count == 1


def test_oversize_message_refused() -> None:
    rows = [HR.replace("OBX|1", f"OBX|{i}") for i in range(20000)]
    text = message(MSH, PID, OBR, *rows)
    result = parse_hl7v2(text.encode())
    assert result.ack_code is AckCode.AR and result.rejections[0].code is RejectCode.OVERSIZE
    assert len(result.rejections[0].payload) <= 4096
    assert parse_hl7v2(text, max_bytes=len(text)).sample_count == 1  # all at one moment: one sample


def test_latin1_bytes_decoded() -> None:
    raw = message(MSH, "PID|||MRN-1||Müller^Jürgen", OBR, HR).encode("latin-1")
    assert parse(raw.decode("latin-1")).sample_count == 1
    assert parse_hl7v2(raw).sample_count == 1


def test_random_bytes_never_raise_and_ack_stays_well_formed() -> None:
    rng = random.Random(11)
    prefixes = [b"", b"MSH|^~\\&|", b"MSH|^~\\&|A|B|C|D|2026||ORU^R01|X|P|2.6\r", b"\x0b"]
    for _ in range(500):
        raw = rng.choice(prefixes) + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400)))
        result = parse_hl7v2(raw)
        assert isinstance(result, Hl7Result)
        assert_wire_valid(result)
        ack = ack_fields(build_ack(raw, result.ack_code, result.ack_text(), control_id="A1", now=NOW))
        assert str(ack.segment("MSA")(1)) in ("AA", "AE", "AR")
        assert len(ack.segment("MSH")) == 13
        ack_fields(result.ack(now=NOW))


def test_mutated_messages_never_raise() -> None:
    rng = random.Random(3)
    original = fixture("hl7_pcd01_oru.hl7")
    alphabet = "|^~\\&\r\n0123456789.+-X ORUPIDMSH"
    for _ in range(1000):
        chars = list(original)
        for _ in range(rng.randrange(1, 8)):
            position = rng.randrange(len(chars))
            action = rng.random()
            if action < 0.4:
                del chars[position]
            elif action < 0.8:
                chars[position] = rng.choice(alphabet)
            else:
                chars.insert(position, rng.choice(alphabet))
        result = parse_hl7v2("".join(chars))
        assert_wire_valid(result)
        for rejection in result.rejections:
            assert rejection.reason and "\r" not in rejection.reason


# -------------------------------------------------------------------- ACKs


def test_ack_accept_swaps_applications_and_echoes_control_id() -> None:
    raw = fixture("hl7_pcd01_oru.hl7")
    ack = build_ack(raw, AckCode.AA, "ok", control_id="ACK0001", now=NOW)
    assert ack == (
        "MSH|^~\\&|WARDWATCH|HOSP|MONGW^0123456789ABCDEF^EUI-64|ICU-WEST|20261125090005+0000||ACK^R01^ACK|ACK0001|P|2.6\r"
        "MSA|AA|MSG00001|ok\r"
    )
    parsed = ack_fields(ack)
    assert str(parsed.segment("MSH")(9)) == "ACK^R01^ACK"


def test_ack_from_result_raw_and_parsed_agree() -> None:
    raw = fixture("hl7_pcd01_oru.hl7")
    result = parse_hl7v2(raw)
    kwargs = {"control_id": "A9", "now": NOW}
    from_result = build_ack(result, AckCode.AA, "ok", **kwargs)
    assert from_result == build_ack(raw, AckCode.AA, "ok", **kwargs)
    assert from_result == build_ack(raw.encode(), AckCode.AA, "ok", **kwargs)
    assert from_result == build_ack(hl7.parse(raw), AckCode.AA, "ok", **kwargs)
    assert result.ack(**kwargs) == build_ack(raw, AckCode.AA, "accepted 2 samples", **kwargs)


def test_ack_error_has_err_segment_and_escaped_text() -> None:
    ack = build_ack(
        message(MSH, PID),
        AckCode.AE,
        "bad | value ^ with & separators ~ and \\ backslash\r\nand a new line",
        control_id="A2",
        now=NOW,
        condition=ErrorCondition.DATA_TYPE,
        location="OBX^1^5",
    )
    parsed = ack_fields(ack)
    assert len(parsed) == 3
    err = parsed.segment("ERR")
    assert str(err(2)) == "OBX^1^5" and str(err(3)) == "102^Data type error^HL70357" and str(err(4)) == "E"
    assert parsed.unescape(str(parsed.segment("MSA")(3))).startswith("bad | value ^ with & separators ~ and \\ back")
    assert escape("a|b^c&d~e\\f") == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"


def test_ack_for_garbage_is_still_a_valid_ack() -> None:
    ack = build_ack(b"\x00\xff garbage", AckCode.AR, "not HL7", control_id="A3", now=NOW)
    parsed = ack_fields(ack)
    assert str(parsed.segment("MSH")(3)) == "WARDWATCH" and str(parsed.segment("MSA")(2)) == ""
    assert str(parsed.segment("MSH")(9)) == "ACK" and str(parsed.segment("MSH")(12)) == "2.6"


def test_ack_strips_separators_from_echoed_fields() -> None:
    hostile = "MSH|^~\\&|APP\x07|FAC|RCV~X|R\\F|20261125||ORU^R01|ID^1&2|P|2.6"
    parsed = ack_fields(build_ack(hostile, AckCode.AA, "", control_id="A4", now=NOW))
    assert str(parsed.segment("MSH")(3)) == "RCVX" and str(parsed.segment("MSH")(4)) == "RF"
    assert str(parsed.segment("MSH")(5)) == "APP" and str(parsed.segment("MSA")(2)) == "ID12"


def test_ack_generates_unique_control_ids() -> None:
    raw = fixture("hl7_pcd01_oru.hl7")
    first, second = (ack_fields(build_ack(raw, AckCode.AA, "")) for _ in range(2))
    assert str(first.segment("MSH")(10)) != str(second.segment("MSH")(10))
    assert len(str(first.segment("MSH")(10))) == 20


def test_ack_code_when_nothing_usable() -> None:
    result = parse_hl7v2(message(MSH, PID, OBR, HR.replace("|72|", "|abc|")))
    assert result.ack_code is AckCode.AE and result.error is None
    assert str(ack_fields(result.ack(now=NOW)).segment("ERR")(3)).startswith("207^")


# -------------------------------------------------------------------- MLLP


def test_frame_round_trip() -> None:
    framed = frame("MSH|x\r")
    assert framed == b"\x0bMSH|x\r\x1c\r"
    decoder = MllpDecoder()
    assert decoder.feed(framed) == [b"MSH|x\r"] and decoder.pop_errors() == []


def test_frames_split_anywhere_and_several_per_chunk() -> None:
    stream = frame("one") + frame("two") + b"\r\n" + frame("three")
    decoder = MllpDecoder()
    out: list[bytes] = []
    for byte in stream:
        out.extend(decoder.feed(bytes([byte])))
    assert out == [b"one", b"two", b"three"] and decoder.close() == []
    assert MllpDecoder().feed(stream) == [b"one", b"two", b"three"]


def test_garbage_before_start_flagged_and_skipped() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"GET / HTTP/1.1\r\n" + frame("ok")) == [b"ok"]
    [error] = decoder.pop_errors()
    assert error.kind is FrameErrorKind.GARBAGE and error.sample.startswith(b"GET /") and error.size == 16
    assert "garbage" in error.describe()


def test_missing_cr_after_end_is_tolerated() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"\x0bone\x1c\x0btwo\x1c") == [b"one", b"two"] and decoder.pop_errors() == []


def test_truncated_frame_flagged_by_restart_and_by_close() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"\x0bMSH|partial" + frame("whole") + b"\x0bMSH|cut") == [b"whole"]
    [restart] = decoder.pop_errors()
    assert restart.kind is FrameErrorKind.TRUNCATED and restart.sample == b"MSH|partial"
    assert decoder.pending_bytes == len(b"MSH|cut")
    [at_close] = decoder.close()
    assert at_close.kind is FrameErrorKind.TRUNCATED and at_close.size == 7 and decoder.pending_bytes == 0


def test_oversize_frame_flagged_without_buffering_and_stream_recovers() -> None:
    decoder = MllpDecoder(max_frame_bytes=1000)
    assert decoder.feed(b"\x0b" + b"A" * 600) == []
    assert decoder.feed(b"A" * 600) == [] and decoder.pending_bytes == 0
    assert decoder.feed(b"A" * 5000 + b"\x1c\r" + frame("next")) == [b"next"]
    [error] = decoder.pop_errors()
    assert error.kind is FrameErrorKind.OVERSIZE and error.size == 6200 and error.sample == b"A" * 64


def test_oversize_frame_cut_by_restart() -> None:
    decoder = MllpDecoder(max_frame_bytes=10)
    assert decoder.feed(b"\x0b" + b"B" * 50 + frame("ok")) == [b"ok"]
    assert [e.kind for e in decoder.pop_errors()] == [FrameErrorKind.OVERSIZE]
    assert decoder.feed(b"\x0b" + b"C" * 50) == []
    assert [e.kind for e in decoder.close()] == [FrameErrorKind.OVERSIZE]


def test_default_limit_is_one_mebibyte() -> None:
    decoder = MllpDecoder()
    assert decoder.max_frame_bytes == 1_048_576
    assert decoder.feed(frame(b"x" * 1_048_576)) == [b"x" * 1_048_576]
    assert decoder.feed(frame(b"x" * 1_048_577)) == []
    assert [e.kind for e in decoder.pop_errors()] == [FrameErrorKind.OVERSIZE]


def test_truncated_fixture_end_to_end() -> None:
    decoder = MllpDecoder()
    frames = decoder.feed((FIXTURES / "mllp_truncated.bin").read_bytes())
    assert [e.kind for e in decoder.pop_errors()] == [FrameErrorKind.TRUNCATED]
    assert [e.kind for e in decoder.close()] == [FrameErrorKind.TRUNCATED]
    [body] = frames
    result = parse_hl7v2(body)
    assert result.sample_count == 1 and result.control_id == "MSG00002"


def test_random_bytes_through_decoder_and_parser() -> None:
    rng = random.Random(5)
    decoder = MllpDecoder(max_frame_bytes=2048)
    for _ in range(300):
        chunk = bytes(rng.choice([0x0B, 0x1C, 0x0D, 0x41, rng.randrange(256)]) for _ in range(rng.randrange(1, 200)))
        for body in decoder.feed(chunk):
            assert len(body) <= 2048
            parse_hl7v2(body)
        decoder.pop_errors()
        assert decoder.pending_bytes <= 2048
    decoder.close()


# ------------------------------------------------------------ throughput


def test_throughput_oru_with_six_obx(capsys: pytest.CaptureFixture[str]) -> None:
    raw = fixture("hl7_pcd01_six_obx.hl7").encode()
    runs = 500
    seconds = timeit.timeit(lambda: parse_hl7v2(raw), number=runs)
    rate = runs / seconds
    ack_seconds = timeit.timeit(lambda: parse_hl7v2(raw).ack(), number=runs)
    decoder = MllpDecoder()
    framed = frame(raw) * 100
    mllp_seconds = timeit.timeit(lambda: decoder.feed(framed), number=20) / 2000
    with capsys.disabled():
        print(
            f"\nORU^R01 with 6 OBX: {rate:,.0f} messages/s ({seconds / runs * 1e6:,.0f} µs each); "
            f"with ACK {runs / ack_seconds:,.0f}/s; MLLP decode {1 / mllp_seconds:,.0f} frames/s"
        )
    assert rate > 100


# --------------------------------------------------------------- data shape (OBX-17)


@pytest.mark.parametrize(
    ("obx17", "expected"),
    [
        ("MMEAS^manual-measurement^MDC", "observation_set"),
        ("^spot check", "observation_set"),
        ("CONT^continuous^L", "continuous"),
        ("AMEAS^auto-measurement^MDC", None),  # an NIBP cycle and a bedside monitor share it: inferred instead
        ("", None),
    ],
)
def test_obx_17_observation_method_becomes_the_contract_method_marker(obx17: str, expected: str | None) -> None:
    row = HR + "|" * 6 + obx17  # HR ends at OBX-11: OBX-12..16 empty, then OBX-17
    produced = parse(message(MSH, PID, OBR, row)).messages
    assert len(produced) == 1 and produced[0]["heart_rate"] == 72
    assert produced[0].get("method") == expected
