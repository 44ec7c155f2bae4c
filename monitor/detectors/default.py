"""The default detector's factory, kept apart from the river ones: validating a policy that
names only `baseline-z` must not import river.anomaly (seconds on a loaded machine)."""

from __future__ import annotations

from monitor.detector import BASELINE_TAU_S, CURRENT_TAU_S, INTERMITTENT_WARMUP_S, BaselineDetector


def baseline_z(
    *,
    warmup_samples: int = 120,
    warmup_s: float = 900.0,
    memory: float = BASELINE_TAU_S,
    tau_s: float = CURRENT_TAU_S,
    intermittent_warmup_s: float = INTERMITTENT_WARMUP_S,
) -> BaselineDetector:
    """Per-vital departure from the patient's own time-weighted baseline, combined (the default)."""
    return BaselineDetector(warmup_samples, warmup_s, memory, tau_s, intermittent_warmup_s)
