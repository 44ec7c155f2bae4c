"""What `wardwatch demo` prints: alerts in event-time order, each followed by its pages.

Pure (no Kafka): the demo hands it each polled batch of (topic, message)
pairs from the `alerts` and `audit` topics. Alerts come from several
partitions, each in order but interleaved arbitrarily, and while the worker
catches up on its first backlog one partition can run minutes of event time
ahead of another. So a line is printed once it has waited `hold_s` seconds
*and* every alerts partition has reached its event time (a watermark: the
lowest of the partitions' latest event times), or after `max_hold_s` at most
(a partition with no alerts must not hold the demo silent); due lines come
out sorted by event time. A delivery from
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
#: Longest a line waits for a partition that has not reached its event time (8 s of wall time is
#: 53 simulated minutes at 400x, more than the skew seen while the worker catches up).
MAX_HOLD_S = 8.0


class DemoView:
    def __init__(
        self,
        alerts_topic: str,
        colour: bool = False,
        started: float | None = None,
        hold_s: float = HOLD_S,
        partitions: int = 0,
        max_hold_s: float = MAX_HOLD_S,
    ) -> None:
        self.alerts_topic, self.colour, self.hold_s = alerts_topic, colour, hold_s
        self.partitions, self.max_hold_s = partitions, max_hold_s
        self.partition_ts: dict[int, str] = {}  # latest event time seen on each alerts partition
        self.started = time.monotonic() if started is None else started
        self.first = True
        self.alerts: list[tuple[float, dict[str, Any]]] = []  # (arrived, message) waiting to be printed
        self.deliveries: list[tuple[float, dict[str, Any]]] = []

    def _watermark(self) -> str | None:
        """Event time every alerts partition has reached (None: some partition has not reported yet)."""
        if not self.partition_ts or len(self.partition_ts) < self.partitions:
            return None
        return min(self.partition_ts.values())

    def _due(self, arrived: float, doc: dict[str, Any], now: float, flush: bool) -> bool:
        if flush or now - arrived >= self.max_hold_s:
            return True
        if now - arrived < self.hold_s:
            return False
        if not self.partitions:  # partitions unknown: the hold alone orders what arrives within it
            return True
        mark = self._watermark()
        return mark is not None and str(doc.get("ts", "")) <= mark

    def lines(self, items: Iterable[tuple[Any, ...]], now: float | None = None, flush: bool = False) -> list[str]:
        """Take one poll's (topic, message[, partition]) items; return the lines now due: held alerts by
        event time, then their pages."""
        now = time.monotonic() if now is None else now
        for topic, doc, *where in items:
            if topic == self.alerts_topic:
                self.alerts.append((now, doc))
                if where and doc.get("ts"):
                    self.partition_ts[where[0]] = max(self.partition_ts.get(where[0], ""), str(doc["ts"]))
            elif doc.get("type") == "delivery":
                self.deliveries.append((now, doc))
        ready = [(t, d) for t, d in self.alerts if self._due(t, d, now, flush)]
        due = sorted((d for _, d in ready), key=lambda d: str(d.get("ts", "")))
        self.alerts = [(t, d) for t, d in self.alerts if not self._due(t, d, now, flush)]
        newest = max((t for t, _ in ready), default=None)
        cutoff = now if flush else (newest if newest is not None else now - self.max_hold_s)
        pages = [d for t, d in self.deliveries if t <= cutoff]
        self.deliveries = [(t, d) for t, d in self.deliveries if t > cutoff]
        out = []
        if due and self.first:
            out.append(f"first alert after {min(t for t, _ in ready) - self.started:.1f} s")
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
