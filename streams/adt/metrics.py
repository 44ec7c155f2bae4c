"""ADT counters. Labels are closed sets: event type (or "other"), outcome; never a patient id."""

from __future__ import annotations

from prometheus_client import Counter

from monitor.encounter import AdtEventType, FoldOutcome
from streams.metrics import REGISTRY

OTHER = "other"
EVENTS = (*(t.value for t in AdtEventType), OTHER)

INGESTED = Counter(
    "wardwatch_adt_messages_total",
    "ADT messages (HL7 v2 ADT, FHIR Encounter) received, by event and outcome "
    "(accepted, ignored: a trigger or status wardwatch does not use, rejected: dead-lettered).",
    ["event", "outcome"],
    registry=REGISTRY,
)
FOLDED = Counter(
    "wardwatch_adt_events_folded_total",
    "ADT events the worker folded into the patients table, by outcome (applied, duplicate, stale).",
    ["outcome"],
    registry=REGISTRY,
)
FORGOTTEN = Counter(
    "wardwatch_patients_forgotten_total",
    "Patient states deleted (tombstoned) after their discharge retention ran out.",
    registry=REGISTRY,
)
for _event in EVENTS:
    for _outcome in ("accepted", "ignored", "rejected"):
        INGESTED.labels(_event, _outcome)
for _fold in FoldOutcome:
    FOLDED.labels(_fold.value)


def event_label(trigger: str | None) -> str:
    """A bounded label for a trigger code: one of ours, else "other" (senders choose the text)."""
    return trigger if trigger in EVENTS else OTHER
