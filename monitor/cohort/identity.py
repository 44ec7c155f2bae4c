"""Opaque identifiers: MRN-like patient ids and device ids, derived from the seed.

Real MRNs carry no meaning, so ids here are random digits (unique within a
cohort) rather than `P0001`: code that accidentally relies on ordering or
parsing of ids fails on synthetic data just as it would on a ward.
"""

from __future__ import annotations

import numpy as np


def draw_mrns(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct ids of the form MRN + 7 digits (no leading zero)."""
    numbers = rng.choice(9_000_000, size=count, replace=False) + 1_000_000
    return [f"MRN{int(n)}" for n in numbers]


def wearable_id(rng: np.random.Generator) -> str:
    """A wearable's id as a gateway would report it (vendor prefix + serial)."""
    return f"wear-{int(rng.integers(0x10000, 0xFFFFF)):05x}"


def spot_monitor_id(rng: np.random.Generator) -> str:
    """The ward's spot-check monitor (BP cuff, thermometer, nurse tablet)."""
    return f"spot-{int(rng.integers(1, 40)):02d}"
