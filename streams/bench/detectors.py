"""Domain cost and checkpoint size per detector: `wardwatch bench --detectors a,b,c`.

Each named detector runs the same generated ward through parse +
`PatientEngine.process` (as `measure_domain` does for the default), so the
µs/sample are comparable within one run; the ratio is against the default
detector measured in the same run. Bytes per patient are the mean and max of
`PatientEngine.to_bytes()` after the ward (the whole patient checkpoint: the
detector's state plus NEWS2 view and alert policy, a few hundred bytes), and
whether the max fits the 16 KiB per-patient budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alerts.config import DEFAULT_CONFIG
from monitor.detectors.registry import DEFAULT_DETECTOR, DetectorSpec, validate
from streams.bench.domain import measure_domain
from streams.bench.memory import mean_state_bytes

#: Per-patient checkpoint budget (bytes).
STATE_BUDGET = 16 * 1024


@dataclass(frozen=True)
class DetectorCost:
    name: str
    us_per_sample: float
    engine_us: float
    state_mean: float
    state_max: int
    alerts: int

    @property
    def fits(self) -> bool:
        return self.state_max <= STATE_BUDGET


def parse_names(text: str) -> list[str]:
    """'a,b,c' -> names, each checked against the registry (ValueError naming a bad one)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("give at least one detector name")
    for name in names:
        validate(DetectorSpec.of(name))
    return names


def measure_detectors(
    messages: list[tuple[bytes, bytes]],
    names: list[str],
    repeats: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[DetectorCost]:
    rows = []
    for name in [DEFAULT_DETECTOR] + [n for n in names if n != DEFAULT_DETECTOR]:
        if progress:
            progress(name)
        result = measure_domain(messages, repeats=repeats, config=DEFAULT_CONFIG.replace(detector=name))
        mean, peak = mean_state_bytes(result.engines.values())
        rows.append(DetectorCost(name, result.us_per_sample, result.engine_us, mean, peak, result.alerts))
    return rows


def detector_table(rows: list[DetectorCost]) -> str:
    base = rows[0].us_per_sample if rows else 0.0
    lines = [
        "| detector | domain µs/sample | × default | bytes/patient mean | max | ≤ 16 KiB |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = r.us_per_sample / base if base else 0.0
        lines.append(
            f"| {r.name} | {r.us_per_sample:.1f} | {ratio:.1f} | {r.state_mean:,.0f} | {r.state_max:,} | "
            f"{'yes' if r.fits else 'NO'} |"
        )
    return "\n".join(lines)
