"""Human-readable alert lines for the terminal (`wardwatch alerts`) and log channels."""

from __future__ import annotations

from typing import Any

_COLOURS = {"high": "\033[1;31m", "medium": "\033[33m", "low": "\033[36m"}
_RESET = "\033[0m"


def alert_line(doc: dict[str, Any], colour: bool = False) -> str:
    """One line a nurse can read at a glance: time, status, priority, patient, why."""
    priority = str(doc.get("priority", "?"))
    head = f"{str(doc.get('ts', ''))[11:19]} {str(doc.get('status', '?')).upper():<12} {priority.upper():<6}"
    if colour and priority in _COLOURS:
        head = f"{_COLOURS[priority]}{head}{_RESET}"
    news2 = doc.get("news2") or {}
    score = f" NEWS2 {news2['total']} ({news2['band']})" if news2.get("total") is not None else ""
    reasons = _why(doc)
    by = f" by {doc['acknowledged_by']}" if doc.get("acknowledged_by") else ""
    where = place_text(doc.get("location"))
    where = f" @ {where}" if where else ""
    return (
        f"{head} {doc.get('kind', '?'):<11} {doc.get('patient_id', '?'):<12}{where}{score}{by} | {reasons} "
        f"[{doc.get('alert_id', '')}]"
    )


def place_text(location: Any) -> str:
    """`7A room 12 bed 3` from an alert's `location` ('' when it has none)."""
    if not isinstance(location, dict):
        return ""
    parts = [str(location["ward"])] if location.get("ward") else []
    parts += [f"{name} {location[name]}" for name in ("room", "bed") if location.get(name)]
    return " ".join(parts)


def _why(doc: dict[str, Any]) -> str:
    """The reasons, except on `resolved`: the episode's reasons are its history then, and printed
    beside the current (normal) score they would contradict it."""
    if doc.get("status") == "resolved":
        return "episode closed (its reasons: wardwatch audit ALERT_ID)"
    return "; ".join(r.get("text", "") for r in (doc.get("reasons") or [])[:3] if r.get("vital") != "news2")


#: Column widths of the table view: the closed sets' longest values ("acknowledged", "signal_loss"),
#: so rows stay aligned whatever the status or kind; the alert id, last, needs no padding.
TABLE_HEADER = ("time", "status", "priority", "kind", "patient", "NEWS2", "alert id")
TABLE_WIDTHS = (8, len("acknowledged"), len("priority"), len("signal_loss"), 16, 5)


def table_line(cells: tuple[str, ...]) -> str:
    """One aligned row (a patient id longer than its column pushes only its own row)."""
    padded = [f"{c:<{w}}" for c, w in zip(cells, TABLE_WIDTHS, strict=False)] + list(cells[len(TABLE_WIDTHS) :])
    return "  ".join(padded).rstrip()


def alert_row(doc: dict[str, Any]) -> tuple[str, ...]:
    """The compact table view's columns."""
    news2 = doc.get("news2") or {}
    return (
        str(doc.get("ts", ""))[11:19],
        str(doc.get("status", "")),
        str(doc.get("priority", "")),
        str(doc.get("kind", "")),
        str(doc.get("patient_id", "")),
        str(news2.get("total", "")),
        str(doc.get("alert_id", "")),
    )
