"""The matrix's cells and the fixed dev / held-out split.

Axes:
- sampling interval: 1 s, 5 s, 1 min (streams), 15 min, 1 h, 4 h (observation sets);
- artefact profile: none; 3 bursts/h of 10-30 s flagged by the device 100 %, 75 % or 0 %;
  3 bursts/h of 30-60 s with 0 % flagged (the hardest: long, silent);
- missingness: 0 or 25 % of values left out.

Split (fixed, by rule, never by result): **dev** = sampling 1 s, 1 min or 1 h with no
missingness; every other cell is **held out** (5 s, 15 min, 4 h, and all 25 %-missing cells).
Settings may be chosen on dev cells only (`--split dev`); the held-out cells are the check.
Each cell has its own cohort seed (base seed + 1000 x cell number), so no two cells share a patient.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from monitor.cohort.shapes import DataShape

SAMPLING_S: tuple[float, ...] = (1.0, 5.0, 60.0, 900.0, 3600.0, 14400.0)
MISSING: tuple[float, ...] = (0.0, 0.25)
BURSTS_PER_HOUR = 3.0
SHORT_BURST_S, LONG_BURST_S = (10.0, 30.0), (30.0, 60.0)
#: (name, bursts per hour, burst length, share flagged by the device)
ARTEFACTS: tuple[tuple[str, float, tuple[float, float], float], ...] = (
    ("none", 0.0, SHORT_BURST_S, 1.0),
    ("flagged 100%", BURSTS_PER_HOUR, SHORT_BURST_S, 1.0),
    ("flagged 75%", BURSTS_PER_HOUR, SHORT_BURST_S, 0.75),
    ("flagged 0%", BURSTS_PER_HOUR, SHORT_BURST_S, 0.0),
    ("long, flagged 0%", BURSTS_PER_HOUR, LONG_BURST_S, 0.0),
)
DEV_SAMPLING_S = frozenset({1.0, 60.0, 3600.0})
#: The issue's target applies to cells sampled at least this often.
TARGET_MAX_SAMPLING_S = 60.0


class Split(str, enum.Enum):
    DEV = "dev"
    HELD_OUT = "held-out"


@dataclass(frozen=True, slots=True)
class Cell:
    """One matrix cell: a name, its data shape, its split and its cohort seed."""

    number: int
    artefacts: str
    shape: DataShape
    split: Split
    seed: int

    @property
    def name(self) -> str:
        return f"{sampling_label(self.shape.sampling_s)} / {self.artefacts} / missing {self.shape.missing:.0%}"

    @property
    def has_target(self) -> bool:
        return self.shape.sampling_s <= TARGET_MAX_SAMPLING_S


def sampling_label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def split_of(shape: DataShape) -> Split:
    return Split.DEV if shape.sampling_s in DEV_SAMPLING_S and shape.missing == 0 else Split.HELD_OUT


def build_cells(
    base_seed: int = 7,
    sampling: tuple[float, ...] = SAMPLING_S,
    missing: tuple[float, ...] = MISSING,
    split: Split | None = None,
) -> tuple[Cell, ...]:
    """Every (missingness, artefact profile, sampling) cell, optionally one split only."""
    cells = []
    number = 0
    for miss in missing:
        for name, rate, length, flagged in ARTEFACTS:
            for period in sampling:
                shape = DataShape(
                    sampling_s=period, bursts_per_hour=rate, burst_s=length, flagged_share=flagged, missing=miss
                )
                cell = Cell(number, name, shape, split_of(shape), base_seed + 1000 * number)
                number += 1
                if split is None or cell.split is split:
                    cells.append(cell)
    return tuple(cells)
