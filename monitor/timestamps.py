"""Event-time parsing and formatting (RFC 3339 with zone, or epoch milliseconds)."""

from __future__ import annotations

from datetime import datetime, timezone

#: Epoch ms earlier than 1990 or later than 2200 are surely seconds or garbage.
_MIN_MS = 631_152_000_000
_MAX_MS = 7_258_118_400_000


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
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
