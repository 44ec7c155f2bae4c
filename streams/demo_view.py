"""What `wardwatch demo` prints: alerts in event-time order, each followed by its pages.

Pure (no Kafka): the demo hands it each polled batch of (topic, message)
pairs from the `alerts` and `audit` topics. Alerts of one poll come from
several partitions, each in order but interleaved arbitrarily, so a poll's
alerts are sorted by event time before printing; a delivery from the audit
trail is printed indented under the alert line, so the whole chain alerts ->
delivery (notify's console channel) -> audit shows in one terminal.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from alerts.audit import stage_text
from alerts.format import alert_line


class DemoView:
    def __init__(self, alerts_topic: str, colour: bool = False, started: float | None = None) -> None:
        self.alerts_topic, self.colour = alerts_topic, colour
        self.started = time.monotonic() if started is None else started
        self.first = True
        self.last_ts = ""

    def lines(self, items: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
        """The lines for one poll: its alerts by event time, then the deliveries notify made."""
        alerts, audit = [], []
        for topic, doc in items:
            (alerts if topic == self.alerts_topic else audit).append(doc)
        out = []
        if alerts and self.first:
            out.append(f"first alert after {time.monotonic() - self.started:.1f} s")
            self.first = False
        for doc in sorted(alerts, key=lambda d: str(d.get("ts", ""))):
            out.append(alert_line(doc, self.colour))
            self.last_ts = max(self.last_ts, str(doc.get("ts", "")))
        out.extend(line for line in (delivery_line(d) for d in audit) if line)
        return out


def delivery_line(doc: dict[str, Any]) -> str | None:
    """A delivery audit record as an indented line under its alert; other audit records print nothing."""
    if doc.get("type") != "delivery":
        return None
    outcome = doc.get("outcome", "?")
    verb = {"delivered": "paged", "failed": "page FAILED (retrying)"}.get(outcome, "UNDELIVERABLE")
    role = f" ({doc['role']})" if doc.get("role") else ""
    what = stage_text(str(doc.get("stage", "")))
    return (f"{'':>9}  -> {verb} {doc.get('name', '?')}{role} via {doc.get('channel', '?')} ({what}) "
            f"[{doc.get('alert_id', '')}]")
