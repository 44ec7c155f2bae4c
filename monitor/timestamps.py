"""Event-time parsing and formatting (RFC 3339 with zone, or epoch milliseconds)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

#: Epoch ms earlier than 1990 or later than 2200 are surely seconds or garbage.
_MIN_MS = 631_152_000_000
_MAX_MS = 7_258_118_400_000


#: How far ahead of the receiving process's wall clock an event time may be (device clock skew),
#: unless WARDWATCH_FUTURE_TOLERANCE_S says otherwise. A sample further ahead is rejected as
#: `future_timestamp`: accepted, it would move the patient's clock forward and make every real
#: sample until then "late" (ignored), i.e. switch monitoring off for that patient.
DEFAULT_FUTURE_TOLERANCE_S = 120.0
FUTURE_TOLERANCE_ENV = "WARDWATCH_FUTURE_TOLERANCE_S"


def future_tolerance_s() -> float:
    """The configured tolerance (seconds); the default when unset or unreadable (Settings validates it)."""
    raw = os.environ.get(FUTURE_TOLERANCE_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_FUTURE_TOLERANCE_S
    except ValueError:
        return DEFAULT_FUTURE_TOLERANCE_S
    return value if value >= 0 else DEFAULT_FUTURE_TOLERANCE_S


def not_after_ms(tolerance_s: float | None = None, now_s: float | None = None) -> int:
    """The latest event time (epoch ms) accepted now: wall clock + tolerance."""
    tol = future_tolerance_s() if tolerance_s is None else tolerance_s
    return int(((time.time() if now_s is None else now_s) + tol) * 1000)


def future_message(ts_ms: int, limit_ms: int) -> str:
    """Why a sample dated `ts_ms` is refused when `limit_ms` is the latest acceptable time."""
    ahead = (ts_ms - limit_ms) / 1000.0
    return (
        f"event time {format_ts(ts_ms) if _MIN_MS <= ts_ms <= _MAX_MS else ts_ms} is {ahead:.0f} s beyond "
        f"this receiver's clock + tolerance ({format_ts(limit_ms)}); fix the sender's clock "
        f"(tolerance: {FUTURE_TOLERANCE_ENV})"
    )


def parse_ts(value: object) -> int:
    """Return epoch milliseconds; raise ValueError saying what a sender should fix."""
    if isinstance(value, bool):
        raise ValueError("ts must be RFC 3339 text or integer epoch milliseconds, not a boolean")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("ts is not a finite number")
        ms = int(value)
        if not _MIN_MS <= ms <= _MAX_MS:
            raise ValueError(f"ts {value} is not epoch milliseconds (seconds sent instead?)")
        return ms
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"ts {value!r} is not RFC 3339") from None
        if parsed.tzinfo is None:
            raise ValueError(f"ts {value!r} has no time zone (add Z or +hh:mm)")
        return round(parsed.timestamp() * 1000)
    if value is None:
        raise ValueError("ts is missing")
    raise ValueError(f"ts must be RFC 3339 text or epoch milliseconds, got {type(value).__name__}")


def format_ts(ms: int | float) -> str:
    """RFC 3339 in UTC with millisecond precision and a Z, as the alerts contract wants."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
