"""What a signed-in person's console shows: their wards' alerts, and no patient values for ops.

Pure functions over the console view's JSON (cards, charts), applied to the
snapshot and to every live event before it leaves the server: a filter in the
browser would still send the data.
"""

from __future__ import annotations

from typing import Any

from streams.identity.roles import Staff

#: Card fields an ops engineer sees: the system's behaviour, not the patient.
OPS_FIELDS = (
    "alert_id",
    "status",
    "priority",
    "kind",
    "ts",
    "emitted_at",
    "first_ts",
    "first_seen",
    "acknowledged",
    "acknowledged_by",
    "ward",
    "notify",
    "resolved_at",
)


def card_for(card: dict[str, Any], staff: Staff | None) -> dict[str, Any] | None:
    """The card as `staff` may see it, or None when it is not theirs to see (None staff: everything)."""
    if staff is None:
        return card
    if not staff.sees_ward(card.get("ward")):
        return None
    if staff.sees_values:
        return card
    out = {k: card[k] for k in OPS_FIELDS if k in card}
    out.update(patient_id="", reasons=[], news2=None, detector=None, bands={}, device_id=None)
    return out


def snapshot_for(snapshot: dict[str, Any], staff: Staff | None) -> dict[str, Any]:
    if staff is None:
        return snapshot
    open_cards = [c for c in (card_for(card, staff) for card in snapshot.get("open", [])) if c is not None]
    recent = [c for c in (card_for(card, staff) for card in snapshot.get("recent", [])) if c is not None]
    visible = {c["patient_id"] for c in open_cards} if staff.sees_values else set()
    charts = {pid: chart for pid, chart in snapshot.get("charts", {}).items() if pid in visible}
    return {**snapshot, "open": open_cards, "recent": recent, "charts": charts}


def event_for(
    event: str, payload: dict[str, Any], staff: Staff | None, ward_of_patient: dict[str, str]
) -> dict[str, Any] | None:
    """A live SSE event as `staff` may see it, or None to send nothing."""
    if staff is None:
        return payload
    if event == "alert":
        card = card_for(payload["card"], staff)
        if card is None:
            return None
        out: dict[str, Any] = {"card": card}
        if staff.sees_values and "chart" in payload:
            out["chart"] = payload["chart"]
        return out
    if event == "vitals":
        pid = payload.get("patient_id", "")
        return payload if staff.sees_values and staff.sees_ward(ward_of_patient.get(pid)) else None
    return payload
