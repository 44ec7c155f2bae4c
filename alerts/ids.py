"""Stable alert ids: a worker that reprocesses after a crash must emit the same id."""

from __future__ import annotations

import hashlib

from alerts.model import EpisodeClass


def episode_id(patient_id: str, episode_class: EpisodeClass, start_ms: int) -> str:
    """Derive the id from (patient, episode class, episode start event time) only.

    Hashed so the id does not spell out the patient identifier in logs that
    carry only the id (it is a correlation id, not PHI).
    """
    digest = hashlib.sha256(f"{patient_id}\x1f{episode_class.value}\x1f{start_ms}".encode()).hexdigest()
    return f"{episode_class.value[:4]}-{digest[:20]}"
