"""Which parser reads a gateway body: ADT goes to the ADT parsers, everything else as before.

The HL7 v2 endpoint and the MLLP listener take ORU^R01 and ADT on the same
port (gateways and interface engines send both down one connection); the
FHIR endpoint takes Observations, Bundles of them, and Encounters. The choice
is made on MSH-9 / resourceType, cheaply, before the full parse.
"""

from __future__ import annotations

from monitor.interop import parse_fhir, parse_hl7v2
from monitor.interop.adt import is_adt, parse_adt_hl7v2
from monitor.interop.fhir import DEFAULT_MAX_BUNDLE_ENTRIES
from monitor.interop.fhir_encounter import is_encounter, parse_fhir_encounter
from monitor.interop.hl7_result import Hl7Result
from monitor.interop.result import GatewayResult
from streams.adt import metrics


def parse_hl7v2_body(raw: bytes, source: str, max_bytes: int) -> Hl7Result:
    if is_adt(raw):
        result = parse_adt_hl7v2(raw, source=source, max_bytes=max_bytes)
        count(result, result.header.trigger.strip().upper())
        return result
    return parse_hl7v2(raw, max_bytes=max_bytes)


def parse_fhir_body(
    raw: bytes, source: str, max_bytes: int, max_entries: int = DEFAULT_MAX_BUNDLE_ENTRIES
) -> GatewayResult:
    if len(raw) <= max_bytes and is_encounter(raw):
        result = parse_fhir_encounter(raw, source=source, max_bytes=max_bytes)
        count(result, result.adt_events[0].event_type.value if result.adt_events else None)
        return result
    return parse_fhir(raw, max_bytes=max_bytes, max_entries=max_entries)


def count(result: GatewayResult, trigger: str | None) -> None:
    """One ADT message's outcome (an unknown trigger is `ignored`, never an error)."""
    outcome = "accepted" if result.adt_events else "ignored" if result.ignored_event is not None else "rejected"
    metrics.INGESTED.labels(metrics.event_label(trigger), outcome).inc()
