"""What the engine needs from a per-patient detector, whichever one a ward runs."""

from __future__ import annotations

from typing import Any, Protocol

from monitor.vitals import VitalSample


class PatientDetector(Protocol):
    """One patient's detector, as `alerts.engine.PatientEngine` drives it.

    `learn_and_score` is the hot path (one call per sample: learn unless
    `frozen`, then score, returning `monitor.detector.DetectorResult` with the
    vitals behind the score); `to_state`/`load_state` are JSON-able and
    versioned so a checkpoint survives a restart; `NAME`/`VERSION` go on
    every alert (`detector` field).
    """

    NAME: str
    VERSION: str
    frozen: bool

    def learn_and_score(self, sample: VitalSample) -> Any: ...

    def baseline(self, vital: str) -> float | None: ...

    def is_warm(self, ts_ms: int) -> bool: ...

    def to_state(self) -> Any: ...

    def load_state(self, state: Any) -> Any: ...
