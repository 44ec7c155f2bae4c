"""The generated ward every measurement of one bench run shares.

Messages come from `monitor.cohort` (realistic rhythm, noise, artifacts,
duplicates and late deliveries), serialized once up front so that producing
them costs the measured pipeline nothing. The same samples exist in two wire
forms: the batched form gateways send (up to `batch_seconds` of one device
per message) and one message per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from monitor.cohort import CohortSpec, generate_cohort, iter_messages


@dataclass(frozen=True)
class Ward:
    """Serialized `vitals` messages of one cohort: (key, value) pairs, in arrival order."""

    patients: int
    hours: float
    batched: list[tuple[bytes, bytes]]
    single: list[tuple[bytes, bytes]]
    samples: int

    @property
    def samples_per_batch(self) -> float:
        return self.samples / max(1, len(self.batched))


def count_samples(message: dict) -> int:
    items = message.get("samples")
    return len(items) if items is not None else 1


def generate_ward(
    patients: int, hours: float, batch_seconds: float, seed: int = 11, start_ms: int | None = None
) -> Ward:
    """Generate and serialize a ward in both forms (same samples, same order)."""
    spec = CohortSpec(n_patients=patients, hours=hours, seed=seed)
    if start_ms is not None:
        spec = CohortSpec(n_patients=patients, hours=hours, seed=seed, start_ms=start_ms)
    cohort = generate_cohort(spec)
    batched: list[tuple[bytes, bytes]] = []
    single: list[tuple[bytes, bytes]] = []
    samples = 0
    dumps = orjson.dumps
    for message in iter_messages(cohort, batch_seconds=batch_seconds):
        key = message["patient_id"].encode()
        batched.append((key, dumps(message)))
        items = message.get("samples")
        if items is None:
            single.append((key, batched[-1][1]))
            samples += 1
            continue
        head = {k: v for k, v in message.items() if k != "samples"}
        for item in items:
            single.append((key, dumps({**head, **item})))
        samples += len(items)
    return Ward(patients, hours, batched, single, samples)
