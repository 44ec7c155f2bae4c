"""`wardwatch convert`: check a gateway feed offline, or turn alerts into FHIR R4.

Gateway file → contract JSON lines (what the worker would produce to `vitals`):
  FHIR R4 (an Observation, a Bundle, or NDJSON of them as in FHIR bulk export),
  HL7 v2 (one or more ORU^R01, with CR/LF/CRLF segment ends, or MLLP-framed),
  contract JSON (one message, an array, or NDJSON: checked as the worker checks).
The format is detected from the content unless --from says it. Every rejected
entry goes to stderr with its reason (exit 1 if any); unknown codes are
skipped and listed, as ingest does. The limits are the worker's (1 MiB a message).

Alert JSON (the `alerts` topic: one object, an array, or JSON lines) → FHIR R4
with --to fhir: a Bundle holding a DetectedIssue (+ the NEWS2 Observation).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from monitor.interop.result import MESSAGE_ENTRY, EntryRejection, GatewayResult, RejectCode

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
FORMATS = ("auto", "fhir", "hl7v2", "vitals")
_HL7_BATCH_SEGMENTS = ("FHS", "BHS", "BTS", "FTS")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "convert",
        help="gateway feed (FHIR, HL7 v2) -> contract JSON lines; alert JSON -> FHIR R4",
        description=__doc__,
        formatter_class=Formatter,
        epilog="example:\n"
        "  wardwatch convert feed.hl7                      # contract JSON lines, rejections on stderr\n"
        "  wardwatch convert --from fhir bundle.json > vitals.ndjson\n"
        "  wardwatch convert --to fhir alert.json          # alert -> FHIR R4 Bundle (DetectedIssue)\n"
        "  wardwatch alerts --json | wardwatch convert --to fhir -",
    )
    p.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    p.add_argument(
        "--from",
        dest="source",
        choices=FORMATS,
        default="auto",
        help="input format of a gateway file (auto: detected from the content)",
    )
    p.add_argument(
        "--to",
        dest="target",
        choices=("vitals", "fhir"),
        default="vitals",
        help="vitals: gateway file -> contract JSON lines; fhir: alert JSON -> FHIR R4 Bundle",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.target == "fhir":
        if args.source not in ("auto",):
            print("error: --to fhir converts alert JSON; --from does not apply", file=sys.stderr)
            return EXIT_USAGE
        return alerts_to_fhir(raw)
    source = args.source if args.source != "auto" else detect(raw)
    if source is None:
        print("error: cannot tell the format (not HL7 v2, FHIR JSON or contract JSON): use --from", file=sys.stderr)
        return EXIT_USAGE
    return gateway_to_vitals(raw, source)


# ---- detection ---------------------------------------------------------------------
def detect(raw: bytes) -> str | None:
    """hl7v2, fhir or vitals from the first bytes (and the first JSON document)."""
    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] == b"\x0b" or head[:3] in (b"MSH", b"FHS", b"BHS"):
        return "hl7v2"
    if head[:1] not in (b"{", b"["):
        return None
    doc = _first_json(head)
    if isinstance(doc, list):
        doc = doc[0] if doc else None
    if isinstance(doc, dict):
        return "fhir" if "resourceType" in doc else "vitals"
    return None


def _first_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    first_line = raw.split(b"\n", 1)[0]
    try:
        return orjson.loads(first_line)
    except orjson.JSONDecodeError:
        return None


# ---- gateway feeds -------------------------------------------------------------------
def gateway_to_vitals(raw: bytes, source: str) -> int:
    samples = rejected = 0
    skipped: list[str] = []
    out = sys.stdout
    events = 0
    for label, result in _results(raw, source):
        for message in result.messages:
            out.write(orjson.dumps(message).decode() + "\n")
        for event in result.adt_events:  # ADT: the `adt` topic's JSON, one line each
            out.write(event.to_bytes().decode() + "\n")
        events += len(result.adt_events)
        samples += result.sample_count
        skipped += result.skipped_codes
        for rejection in result.rejections:
            rejected += 1
            where = label if rejection.whole_message else f"{label}{': ' if label else ''}{rejection.entry}"
            print(f"rejected {where or 'input'}: {rejection.code.value}: {rejection.reason}", file=sys.stderr)
    out.flush()
    summary = f"{source}: {samples} samples converted, {rejected} rejected"
    if events:
        summary += f", {events} ADT events"
    if skipped:
        codes = list(dict.fromkeys(skipped))
        summary += f", {len(skipped)} unknown codes skipped ({', '.join(codes[:10])}{', …' if len(codes) > 10 else ''})"
    print(summary, file=sys.stderr)
    return EXIT_REJECTED if rejected else EXIT_OK


def _results(raw: bytes, source: str) -> Iterator[tuple[str, GatewayResult]]:
    """(label, result) per message of the file; the label is '' for a one-message file."""
    if source == "hl7v2":
        yield from _hl7_results(raw)
    elif source == "fhir":
        from monitor.interop import parse_fhir
        from monitor.interop.fhir_encounter import is_encounter, parse_fhir_encounter

        def read(body: bytes) -> GatewayResult:
            return parse_fhir_encounter(body) if is_encounter(body) else parse_fhir(body)

        documents = _json_documents(raw)
        if documents is None:
            yield "", read(raw)
        else:
            for label, text in documents:
                yield label, read(text)
    else:
        from streams.ingest import parse_vitals_body

        yield "", parse_vitals_body(raw)


def _json_documents(raw: bytes) -> list[tuple[str, bytes]] | None:
    """NDJSON lines (label, text) when the file is not one JSON document, else None."""
    try:
        orjson.loads(raw)
        return None
    except orjson.JSONDecodeError:
        pass
    lines = [(f"line {n}", line) for n, line in enumerate(raw.splitlines(), start=1) if line.strip()]
    return lines if len(lines) > 1 else None


def _hl7_results(raw: bytes) -> Iterator[tuple[str, GatewayResult]]:
    from monitor.interop import parse_hl7v2
    from monitor.interop.mllp import MllpDecoder

    if b"\x0b" in raw:
        decoder = MllpDecoder()
        messages = decoder.feed(raw)
        errors = decoder.close()
        for error in errors:
            rejection = EntryRejection(MESSAGE_ENTRY, error.describe(), "", RejectCode.MALFORMED)
            yield "MLLP", GatewayResult(rejections=[rejection])
    else:
        messages = split_hl7(raw)
    many = len(messages) > 1
    from monitor.interop.adt import is_adt, parse_adt_hl7v2

    for number, message in enumerate(messages, start=1):
        result = parse_adt_hl7v2(message) if is_adt(message) else parse_hl7v2(message)
        control = getattr(result, "control_id", "")
        label = f"message {number}" + (f" ({control})" if control else "") if many else ""
        yield label, result


def split_hl7(raw: bytes) -> list[bytes]:
    """The ORU^R01 messages of a file: each starts at an MSH segment; batch envelope segments dropped."""
    text = raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    segments = [s for s in text.split(b"\r") if s.strip() and s[:3].decode("latin-1") not in _HL7_BATCH_SEGMENTS]
    messages: list[list[bytes]] = []
    for segment in segments:
        if segment.startswith(b"MSH") or not messages:
            messages.append([])
        messages[-1].append(segment)
    return [b"\r".join(m) + b"\r" for m in messages]


# ---- alerts to FHIR ------------------------------------------------------------------
def alerts_to_fhir(raw: bytes) -> int:
    from alerts.fhir_export import alert_to_fhir

    try:
        docs = [orjson.loads(raw)]
        if isinstance(docs[0], list):
            docs = docs[0]
    except orjson.JSONDecodeError:
        docs = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                docs.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                docs.append(_Bad(f"line {number}: not valid JSON: {exc}"))
    if not docs:
        print("error: no alert JSON in the input", file=sys.stderr)
        return EXIT_USAGE
    failed = 0
    option = orjson.OPT_INDENT_2 if len(docs) == 1 else 0
    for number, doc in enumerate(docs, start=1):
        where = f"alert {number}: " if len(docs) > 1 else ""
        try:
            if isinstance(doc, _Bad):
                raise ValueError(doc.reason)
            if not isinstance(doc, dict):
                raise ValueError(f"an alert is a JSON object, got {type(doc).__name__}")
            bundle = alert_to_fhir(doc)
        except (ValueError, TypeError, KeyError) as exc:
            failed += 1
            print(f"rejected {where}{exc}", file=sys.stderr)
            continue
        sys.stdout.write(orjson.dumps(bundle, option=option).decode() + "\n")
    sys.stdout.flush()
    return EXIT_REJECTED if failed else EXIT_OK


class _Bad:
    def __init__(self, reason: str) -> None:
        self.reason = reason
