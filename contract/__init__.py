"""The wire contract as machine-readable JSON Schemas, one per topic (docs/contract.md says it in words).

Pure: no Kafka. Integrators validate their messages with the same files the
tests validate every real message of the integration tests against
(tests/conftest.py), so the document and the code cannot drift apart.

    from contract import validate
    validate("alerts", doc)          # raises jsonschema.ValidationError
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

#: Default topic name -> schema file (topic names are configurable; the contract is per role).
TOPIC_SCHEMAS: dict[str, str] = {
    "vitals": "vitals.schema.json",
    "vitals-dlq": "vitals-dlq.schema.json",
    "alerts": "alerts.schema.json",
    "alert-acks": "alert-acks.schema.json",
    "audit": "audit.schema.json",
    "notify-dlq": "notify-dlq.schema.json",
    "notify-state": "notify-state.schema.json",
    "patient-wards": "patient-wards.schema.json",
    "adt": "adt.schema.json",
    "patients": "patients.schema.json",
}
_BASE = "https://wardwatch.example/contract/"


def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("schemas", name).read_text(encoding="utf-8"))


@cache
def _registry() -> Registry:
    names = {*TOPIC_SCHEMAS.values(), "common.schema.json"}
    return Registry().with_resources((_BASE + n, Resource.from_contents(_load(n))) for n in names)


def schema(topic: str) -> dict[str, Any]:
    """The JSON Schema of a topic's messages (KeyError for a topic outside the contract)."""
    return _load(TOPIC_SCHEMAS[topic])


@cache
def validator(topic: str) -> Draft202012Validator:
    return Draft202012Validator(schema(topic), registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate(topic: str, doc: Any) -> None:
    """Raise jsonschema.ValidationError (best match first) when `doc` breaks `topic`'s contract."""
    validator(topic).validate(doc)


def errors(topic: str, doc: Any) -> list[str]:
    """Every way `doc` breaks the contract, as `path: message` lines (empty when it conforms)."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator(topic).iter_errors(doc)
    ]
