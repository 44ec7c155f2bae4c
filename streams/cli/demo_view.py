"""What `wardwatch demo` prints: alerts in event-time order, each followed by its pages.

Pure (no Kafka): the demo hands it each polled batch of (topic, message)
pairs from the `alerts` and `audit` topics. Alerts come from several
partitions, each in order but interleaved arbitrarily and up to a few polls
apart, so lines are held back `hold_s` seconds and printed sorted by event
time: what arrives within that window comes out in order. A delivery from
the audit trail is printed indented after the alerts it was held with, so
the whole chain alerts -> delivery (notify's console channel) -> audit shows
in one terminal.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from alerts.audit import stage_text
from alerts.format import alert_line

#: Seconds a line waits for earlier-event-time alerts from other partitions (at the demo's 400x,
#: 3 s of wall time is 20 simulated minutes, the partition skew seen once the worker has caught up).
HOLD_S = 3.0


class DemoView:
    def __init__(
        self, alerts_topic: str, colour: bool = False, started: float | None = None, hold_s: float = HOLD_S
    ) -> None:
        self.alerts_topic, self.colour, self.hold_s = alerts_topic, colour, hold_s
        self.started = time.monotonic() if started is None else started
        self.first = True
        self.alerts: list[tuple[float, dict[str, Any]]] = []  # (arrived, message) waiting to be printed
        self.deliveries: list[tuple[float, dict[str, Any]]] = []

    def lines(
        self, items: Iterable[tuple[str, dict[str, Any]]], now: float | None = None, flush: bool = False
    ) -> list[str]:
        """Take one poll's messages; return the lines now due: held alerts by event time, then their pages."""
        now = time.monotonic() if now is None else now
        for topic, doc in items:
            if topic == self.alerts_topic:
                self.alerts.append((now, doc))
            elif doc.get("type") == "delivery":
                self.deliveries.append((now, doc))
        cutoff = now if flush else now - self.hold_s
        due = sorted((d for t, d in self.alerts if t <= cutoff), key=lambda d: str(d.get("ts", "")))
        pages = [d for t, d in self.deliveries if t <= cutoff]
        self.alerts = [(t, d) for t, d in self.alerts if t > cutoff]
        self.deliveries = [(t, d) for t, d in self.deliveries if t > cutoff]
        out = []
        if due and self.first:
            out.append(f"first alert after {now - self.started - (0 if flush else self.hold_s):.1f} s")
            self.first = False
        out.extend(alert_line(doc, self.colour) for doc in due)
        out.extend(line for line in (delivery_line(d) for d in pages) if line)
        return out


def delivery_line(doc: dict[str, Any]) -> str | None:
    """A delivery audit record as an indented line; other audit records print nothing."""
    if doc.get("type") != "delivery":
        return None
    outcome = doc.get("outcome", "?")
    verb = {"delivered": "paged", "failed": "page FAILED (retrying)"}.get(outcome, "UNDELIVERABLE")
    role = f" ({doc['role']})" if doc.get("role") else ""
    what = stage_text(str(doc.get("stage", "")))
    return (
        f"{'':>9}  -> {verb} {doc.get('name', '?')}{role} via {doc.get('channel', '?')} ({what}) "
        f"[{doc.get('alert_id', '')}]"
    )
