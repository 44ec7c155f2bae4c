"""Read a charted dataset (stays.csv + samples.csv.gz) into stays and contract messages.

The files are the ones `convert_p2012.py` writes for the PhysioNet/CinC
Challenge 2012 (see README "Detection quality"): minutes since ICU admission,
no absolute times, so each stay is placed at `start_ms` + its minute. Values
are kept exactly as charted; whether a value is possible is the contract
parser's decision at replay time, not this reader's.
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: 2012-01-01T00:00Z: where the converter put the records; any start works.
DEFAULT_START_MS = 1_325_376_000_000
MINUTE_MS = 60_000
DAY_MS = 86_400_000
#: The Challenge kept the first 48 h of each stay.
DEFAULT_WINDOW_H = 48.0
STAYS_FILE, SAMPLES_FILE = "stays.csv", "samples.csv.gz"
#: One `vitals` message in the contract's JSON shape (what a gateway puts on the wire).
Message = dict[str, Any]
NUMERIC = ("heart_rate", "resp_rate", "temperature", "systolic_bp", "spo2", "diastolic_bp")
_STAY_COLUMNS = ("patient_id", "in_hospital_death")
_SAMPLE_COLUMNS = ("patient_id", "minute")


class DatasetError(ValueError):
    """The files are missing or not in the expected shape; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Stay:
    """One ICU stay: where it sits in time and how it ended."""

    patient_id: str
    died: bool
    start_ms: int
    end_ms: int
    unit: str = ""
    survival_days: int | None = None

    @property
    def days(self) -> float:
        return (self.end_ms - self.start_ms) / DAY_MS


@dataclass(frozen=True)
class ChartedDataset:
    """Stays and, per stay, its charted sets as contract `vitals` messages (time order)."""

    title: str
    stays: tuple[Stay, ...]
    messages: dict[str, list[Message]] = field(repr=False)

    @property
    def deaths(self) -> int:
        return sum(s.died for s in self.stays)


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or ())]
            if missing:
                raise DatasetError(
                    f"{path}: missing column(s) {', '.join(missing)}; expected the files "
                    "convert_p2012.py writes (see README 'Detection quality')"
                )
            yield from reader
    except FileNotFoundError:
        raise DatasetError(
            f"{path} not found: --dataset must be a folder holding {STAYS_FILE} and "
            f"{SAMPLES_FILE} (see README 'Detection quality' for how to get them)"
        ) from None


def _message(patient_id: str, device_id: str, ts_ms: int, row: dict[str, str]) -> Message:
    """One charted set as a single-form `vitals` message; empty cells are not charted."""
    doc: dict[str, object] = {"patient_id": patient_id, "device_id": device_id, "ts": ts_ms}
    for name in NUMERIC:
        text = row.get(name)
        if text:
            try:
                doc[name] = float(text)
            except ValueError:
                doc[name] = text  # the parser rejects it with a reason, like any bad input
    oxygen = row.get("on_oxygen")
    if oxygen:
        doc["on_oxygen"] = oxygen.lower() == "true" if oxygen.lower() in ("true", "false") else oxygen
    level = row.get("consciousness")
    if level:
        doc["consciousness"] = level
    return doc


def load_dataset(
    path: str | Path,
    start_ms: int = DEFAULT_START_MS,
    window_h: float = DEFAULT_WINDOW_H,
    limit: int | None = None,
    device_id: str = "chart",
) -> ChartedDataset:
    """Read `path`/stays.csv and `path`/samples.csv.gz; `limit` keeps the first N stays.

    Every stay starts at `start_ms` (stays do not interact, so overlapping them
    in time changes nothing) and ends `window_h` hours later.
    """
    base = Path(path)
    end_ms = start_ms + int(window_h * 3_600_000)
    stays: list[Stay] = []
    for row in _rows(base / STAYS_FILE, _STAY_COLUMNS):
        survival = row.get("survival_days") or ""
        stays.append(
            Stay(
                patient_id=row["patient_id"],
                died=row["in_hospital_death"].strip() == "1",
                start_ms=start_ms,
                end_ms=end_ms,
                unit=row.get("icu_type", ""),
                survival_days=int(survival) if survival.lstrip("-").isdigit() else None,
            )
        )
        if limit is not None and len(stays) >= limit:
            break
    wanted = {s.patient_id for s in stays}
    messages: dict[str, list[Message]] = defaultdict(list)
    for row in _rows(base / SAMPLES_FILE, _SAMPLE_COLUMNS):
        pid = row["patient_id"]
        if pid in wanted:
            messages[pid].append(_message(pid, device_id, start_ms + int(float(row["minute"]) * MINUTE_MS), row))
    for docs in messages.values():
        docs.sort(key=lambda d: int(d["ts"]))
    title = f"{base.name or base}: {len(stays)} stays, first {window_h:g} h"
    return ChartedDataset(title, tuple(stays), dict(messages))
