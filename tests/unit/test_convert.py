"""`wardwatch convert`: gateway files to contract JSON lines, alert JSON to FHIR R4."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import orjson
import pytest

from monitor.parse import ParseResult, parse_document
from streams.cli import main
from streams.cli.convert import detect, split_hl7

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "interop"

ALERT = {
    "alert_id": "phys-3f2a9c0d1e5b7a6c4d2e",
    "patient_id": "MRN-0042",
    "device_id": "wear-17",
    "status": "raised",
    "priority": "high",
    "kind": "news2",
    "ts": "2026-11-25T10:00:00.000Z",
    "emitted_at": "2026-11-25T10:00:01.500Z",
    "reasons": [{"vital": "spo2", "value": 80, "limit": 91, "score": 3, "text": "SpO2 80 %"}],
    "news2": {"total": 8, "components": {"resp_rate": 3, "spo2": 3, "heart_rate": 2}, "band": "high"},
    "detector": {"name": "news2", "version": "1", "score": 8},
}


def convert(capsys: pytest.CaptureFixture, *argv: str, stdin: bytes | None = None) -> tuple[int, list, str]:
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = main(["convert", *argv])
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return code, [orjson.loads(line) for line in out.splitlines() if line.strip()], err


def assert_contract(messages: list[dict]) -> None:
    for message in messages:
        parsed = ParseResult()
        parse_document(message, parsed)
        assert parsed.rejections == [] and parsed.samples, message


def test_hl7_file_becomes_contract_json_lines(capsys) -> None:
    code, messages, err = convert(capsys, str(FIXTURES / "hl7_pcd01_oru.hl7"))
    assert code == 0 and "2 samples converted, 0 rejected" in err
    assert_contract(messages)
    (batch,) = messages
    assert batch["patient_id"] == "MRN-0042" and batch["device_id"] == "0123456789ABCDEF"
    assert batch["samples"][1] == {
        "ts": "2026-11-25T09:00:00.000Z",
        "heart_rate": 72,
        "spo2": 96,
        "resp_rate": 18,
        "temperature": 37.2,
    }


def test_hl7_feed_of_several_messages_on_stdin_reports_each_rejection(capsys) -> None:
    feed = b"".join(
        (FIXTURES / n).read_bytes() for n in ("hl7_pcd01_oru.hl7", "hl7_missing_pid.hl7", "hl7_unknown_codes.hl7")
    )
    code, messages, err = convert(capsys, "-", stdin=feed)
    assert code == 1
    assert "rejected message 2 (MSG00003): missing_patient_id: message has no PID segment" in err
    assert "999999^MDC_MADE_UP^MDC" in err  # skipped codes are listed, not guessed at
    assert len(messages) == 2
    assert_contract(messages)


def test_mllp_capture_is_read_frame_by_frame(capsys) -> None:
    code, messages, err = convert(capsys, str(FIXTURES / "mllp_truncated.bin"))
    assert code == 1 and err.count("MLLP truncated") == 2
    assert [m["patient_id"] for m in messages] == ["MRN-0077"]


def test_fhir_bundle_keeps_usable_entries_and_names_the_bad_ones(capsys) -> None:
    code, messages, err = convert(capsys, "--from", "fhir", str(FIXTURES / "fhir_bundle_mixed.json"))
    assert code == 1
    assert_contract(messages)
    assert "rejected Bundle.entry[3]: withdrawn: status is entered-in-error" in err
    assert "8 rejected" in err and "http://loinc.org|29463-7" in err


def test_fhir_ndjson_and_clean_files_exit_zero(capsys) -> None:
    lines = b"\n".join(
        orjson.dumps(orjson.loads((FIXTURES / n).read_bytes())) for n in ("fhir_heart_rate.json", "fhir_spo2.json")
    )
    code, messages, err = convert(capsys, stdin=lines)
    assert code == 0, err
    assert_contract(messages)
    assert len(messages) == 2


def test_contract_json_is_checked_like_the_worker_does(capsys) -> None:
    body = (
        b'{"patient_id": "MRN-1", "ts": 1764064800000, "heart_rate": 80}\n'
        b'{"patient_id": "MRN-1", "ts": 1764064800000, "spo2": 140}\n'
    )
    code, messages, err = convert(capsys, "--from", "vitals", stdin=body)
    assert code == 1 and len(messages) == 1
    assert "rejected line 2: impossible_value: spo2 140 is outside physical possibility" in err


def test_alert_becomes_a_fhir_bundle(capsys, tmp_path) -> None:
    path = tmp_path / "alert.json"
    path.write_bytes(orjson.dumps(ALERT))
    code = main(["convert", "--to", "fhir", str(path)])
    bundle = orjson.loads(capsys.readouterr().out)  # one alert: one indented document
    assert code == 0
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert bundle["resourceType"] == "Bundle" and kinds == ["DetectedIssue", "Observation"]
    assert bundle["entry"][0]["resource"]["patient"]["reference"] == "Patient/MRN-0042"


def test_alert_lines_on_stdin_with_a_bad_one(capsys) -> None:
    lines = orjson.dumps(ALERT) + b"\n" + orjson.dumps({**ALERT, "status": "exploded"}) + b"\n{oops\n"
    code, bundles, err = convert(capsys, "--to", "fhir", stdin=lines)
    assert code == 1 and len(bundles) == 1
    assert "alert 2:" in err and "alert 3: line 3: not valid JSON" in err


def test_detection_and_usage_errors(capsys, tmp_path) -> None:
    assert detect(b"\xef\xbb\xbfMSH|^~\\&|") == "hl7v2"
    assert detect(b"\x0bMSH|") == "hl7v2"
    assert detect(b' {"resourceType": "Bundle"}') == "fhir"
    assert detect(b'{"patient_id": "x"}\n{"patient_id": "y"}') == "vitals"
    assert detect(b"hello") is None
    assert split_hl7(b"FHS|^~\\&\nMSH|a\nPID|1\r\nMSH|b\nBTS|1\n") == [b"MSH|a\rPID|1\r", b"MSH|b\r"]
    unknown = tmp_path / "x.txt"
    unknown.write_text("hello")
    assert main(["convert", str(unknown)]) == 2
    assert main(["convert", str(tmp_path / "missing.hl7")]) == 2
    assert "cannot read" in capsys.readouterr().err
