"""The live console's in-memory picture of the ward, fed message by message.

Pure and synchronous (no Kafka, no web): `streams.console` feeds it the
`alerts` and `vitals` topics and serves what it holds; tests feed it dicts.

- Alerts: the latest state per `alert_id`. Open alerts (raised, escalated,
  acknowledged) are sorted by priority, then unacknowledged first, then oldest
  first. A resolved alert leaves "open" and joins a bounded "recent" list; its
  id is remembered (bounded) so a duplicate from an at-least-once replay does
  not reopen it. An `acknowledged` stays acknowledged when a duplicate
  `raised` is replayed after it; only an `escalated` to a higher priority asks
  for attention again.
- Vitals: per patient and vital a small series, downsampled to one point per
  `step_s` (the last value of each step) over the last `window_s` of that
  patient's *event* time, kept in compact arrays. Every patient gets one (so a
  new alert already has the minutes that led to it), but only `max_patients`
  are kept: the least recently updated patient without an open alert is
  forgotten first. Memory is therefore bounded by
  max_patients x vitals x window_s/step_s points (default 1000 x 5 x 120).
- Baseline band: from the alert's reasons. A detector reason carries
  `value`, `baseline` and `score` (= |z|, baseline standard deviations), so the
  band is baseline ± 2 SD (the detector's own "normal" range, where it starts
  scoring); a threshold reason carries a `limit`, drawn as a line.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Any

from alerts.format import place_text
from monitor.timestamps import not_after_ms, parse_ts

PRIORITY_RANK = {"high": 2, "medium": 1, "low": 0}
OPEN_STATUSES = ("raised", "escalated", "acknowledged")
CHART_VITALS = ("heart_rate", "spo2", "resp_rate", "systolic_bp", "temperature")
PROBE_VITALS = ("heart_rate", "spo2")
#: The band drawn around a detector baseline, in baseline standard deviations.
BAND_SD = 2.0


class Series:
    """One vital of one patient: (step index, value) pairs in two compact arrays."""

    __slots__ = ("steps", "values")

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = array("f")

    def add(self, step: int, value: float, keep: int) -> bool:
        steps = self.steps
        if steps and step < steps[-1]:
            return False  # out of order beyond a step: the chart does not need it
        if steps and step == steps[-1]:
            self.values[-1] = value
        else:
            steps.append(step)
            self.values.append(value)
        oldest = step - keep + 1
        if steps[0] < oldest:
            cut = 0
            while cut < len(steps) and steps[cut] < oldest:
                cut += 1
            del steps[:cut]
            del self.values[:cut]
        return True

    def points(self, step_ms: int) -> list[list[float]]:
        return [[s * step_ms, round(v, 2)] for s, v in zip(self.steps, self.values, strict=True)]


class ConsoleView:
    def __init__(
        self,
        *,
        recent_limit: int = 50,
        window_s: int = 3600,
        step_s: int = 30,
        max_patients: int = 1000,
        max_open: int = 5000,
        remember_resolved: int = 20000,
        future_tolerance_s: float | None = None,
    ) -> None:
        """`future_tolerance_s`: samples dated further ahead of the wall clock are not plotted (the
        worker dead-letters them); default WARDWATCH_FUTURE_TOLERANCE_S or 120 s."""
        self.recent_limit = recent_limit
        self.future_tolerance_s = future_tolerance_s
        self.step_ms = step_s * 1000
        self.keep_steps = max(1, window_s // step_s)
        self.max_patients = max_patients
        self.max_open = max_open
        self.remember_resolved = remember_resolved
        self.open: dict[str, dict[str, Any]] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=recent_limit)
        self._resolved: OrderedDict[str, None] = OrderedDict()
        self._charts: OrderedDict[str, dict[str, Series]] = OrderedDict()
        self._open_per_patient: dict[str, int] = {}
        #: Each patient's ward as last seen on an alert (`location.ward`, `ward`) or vitals (`ward`):
        #: the console shows a nurse the alerts of their wards.
        self.wards: OrderedDict[str, str] = OrderedDict()
        self.located: set[str] = set()  # patients whose ward came from an alert's location
        self.alert_messages = 0
        self.vitals_messages = 0

    # ---- alerts ------------------------------------------------------------
    def apply_alert(self, doc: Any) -> dict[str, Any] | None:
        """Take one `alerts` message; return the card that changed (None when ignored).

        The returned card carries `notify: true` when staff should be told
        loudly: a new high-priority alert, or one escalated to high.
        """
        if not isinstance(doc, dict):
            return None
        alert_id, status = doc.get("alert_id"), doc.get("status")
        if not isinstance(alert_id, str) or not alert_id or status not in (*OPEN_STATUSES, "resolved"):
            return None
        self.alert_messages += 1
        location = doc.get("location")
        self._note_ward(
            doc.get("patient_id"), _alert_ward(doc), located=isinstance(location, dict) and bool(location.get("ward"))
        )
        if alert_id in self._resolved:
            return None  # a replayed duplicate of a closed episode
        card = self.open.get(alert_id)
        if status == "resolved":
            if card is None:
                card = self._new_card(doc)
            else:
                self._merge(card, doc)
                self._close(alert_id)
            card["status"] = "resolved"
            card["notify"] = False
            card["resolved_at"] = doc.get("emitted_at") or doc.get("ts")
            self._remember_resolved(alert_id)
            self.recent.appendleft(card)
            return card
        if card is None:
            card = self._new_card(doc)
            card["notify"] = card["priority"] == "high" and status in ("raised", "escalated")
            self.open[alert_id] = card
            pid = card["patient_id"]
            self._open_per_patient[pid] = self._open_per_patient.get(pid, 0) + 1
            self._trim_open()
            return card
        before = PRIORITY_RANK.get(card["priority"], 0)
        was_acked = card["acknowledged"]
        self._merge(card, doc)
        rose = PRIORITY_RANK.get(card["priority"], 0) > before
        if status == "acknowledged":
            card["acknowledged"] = True
            card["acknowledged_by"] = doc.get("acknowledged_by") or card.get("acknowledged_by")
        elif status == "escalated" and rose:
            card["acknowledged"] = False  # worse than what was acknowledged: attention again
        elif was_acked:
            card["status"] = "acknowledged"  # a replayed duplicate does not undo the ack
        card["notify"] = rose and card["priority"] == "high" and not card["acknowledged"]
        return card

    def _new_card(self, doc: dict[str, Any]) -> dict[str, Any]:
        priority = doc.get("priority") if doc.get("priority") in PRIORITY_RANK else "low"
        card: dict[str, Any] = {
            "alert_id": doc["alert_id"],
            "patient_id": str(doc.get("patient_id") or "?"),
            "device_id": doc.get("device_id"),
            "status": doc["status"],
            "priority": priority,
            "kind": doc.get("kind"),
            "ts": doc.get("ts"),
            "emitted_at": doc.get("emitted_at"),
            "first_ts": doc.get("onset_ts") or doc.get("ts"),
            "first_seen": doc.get("emitted_at") or doc.get("ts"),
            "reasons": _reasons(doc.get("reasons")),
            "news2": doc.get("news2") if isinstance(doc.get("news2"), dict) else None,
            "detector": doc.get("detector") if isinstance(doc.get("detector"), dict) else None,
            "acknowledged": doc["status"] == "acknowledged",
            "acknowledged_by": doc.get("acknowledged_by"),
            "ward": self.wards.get(str(doc.get("patient_id") or "")),
            "location": place_text(doc.get("location")) or None,  # "7A room 12 bed 3" (ADT)
        }
        card["bands"] = bands_from_reasons(card["reasons"])
        return card

    def _note_ward(self, pid: Any, ward: Any, located: bool = False) -> None:
        """`located`: the ward is an alert's `location` (the worker's answer, ADT first): the `ward`
        field of later vitals does not override it (docs/gateways.md, precedence)."""
        if not isinstance(pid, str) or not isinstance(ward, str) or not ward:
            return
        if located:
            self.located.add(pid)
        elif pid in self.located:
            return
        if self.wards.get(pid) != ward:
            self.wards[pid] = ward[:64]
            for card in self.open.values():
                if card["patient_id"] == pid:
                    card["ward"] = self.wards[pid]
        self.wards.move_to_end(pid)
        while len(self.wards) > max(self.max_patients, self.max_open) * 4:
            self.located.discard(self.wards.popitem(last=False)[0])

    def ward_of(self, alert_id: str) -> str | None:
        card = self.open.get(alert_id)
        return card.get("ward") if card else None

    def _merge(self, card: dict[str, Any], doc: dict[str, Any]) -> None:
        card["status"] = doc["status"]
        if doc.get("priority") in PRIORITY_RANK:
            card["priority"] = doc["priority"]
        for name in ("ts", "emitted_at", "device_id"):
            if doc.get(name):
                card[name] = doc[name]
        if place_text(doc.get("location")):  # a transfer: the card follows the patient
            card["location"] = place_text(doc.get("location"))
        reasons = _reasons(doc.get("reasons"))
        if reasons:
            card["reasons"] = reasons
            card["bands"] = {**card.get("bands", {}), **bands_from_reasons(reasons)}
        if isinstance(doc.get("news2"), dict):
            card["news2"] = doc["news2"]
        if isinstance(doc.get("detector"), dict):
            card["detector"] = doc["detector"]

    def _close(self, alert_id: str) -> None:
        card = self.open.pop(alert_id, None)
        if card is None:
            return
        pid = card["patient_id"]
        left = self._open_per_patient.get(pid, 1) - 1
        if left > 0:
            self._open_per_patient[pid] = left
        else:
            self._open_per_patient.pop(pid, None)

    def _remember_resolved(self, alert_id: str) -> None:
        self._resolved[alert_id] = None
        while len(self._resolved) > self.remember_resolved:
            self._resolved.popitem(last=False)

    def _trim_open(self) -> None:
        """A broken producer must not grow memory without end: drop the least urgent, newest."""
        while len(self.open) > self.max_open:
            worst = min(self.open.values(), key=lambda c: (PRIORITY_RANK.get(c["priority"], 0), -_age_key(c)))
            self._close(worst["alert_id"])

    def open_alerts(self) -> list[dict[str, Any]]:
        """Highest priority first; within it unacknowledged first, then the longest waiting."""
        return sorted(self.open.values(), key=sort_key)

    def has_open_alert(self, patient_id: str) -> bool:
        return patient_id in self._open_per_patient

    def patients_with_open_alerts(self) -> set[str]:
        return set(self._open_per_patient)

    # ---- vitals ------------------------------------------------------------
    def apply_vitals(self, doc: Any) -> str | None:
        """Take one `vitals` message; return its patient_id if that patient's chart changed."""
        if not isinstance(doc, dict):
            return None
        pid = doc.get("patient_id")
        if not isinstance(pid, str) or not pid:
            return None
        self.vitals_messages += 1
        self._note_ward(pid, doc.get("ward"))
        samples = doc.get("samples")
        if not isinstance(samples, list):
            samples = [doc]
        changed = False
        charts = self._charts.get(pid)
        latest = not_after_ms(self.future_tolerance_s)
        for sample in samples:
            if not isinstance(sample, dict):
                continue
            try:
                ts_ms = parse_ts(sample.get("ts"))
            except (ValueError, TypeError):
                continue
            if ts_ms > latest:
                # Dead-lettered by the worker; plotted, it would also push every later real point
                # "out of order" off the chart.
                continue
            quality = sample.get("quality") if isinstance(sample.get("quality"), dict) else {}
            probe_off = quality.get("probe_off") is True
            step = ts_ms // self.step_ms
            for vital in CHART_VITALS:
                value = sample.get(vital)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                    continue
                if probe_off and vital in PROBE_VITALS:
                    continue
                if charts is None:
                    charts = self._charts[pid] = {}
                    self._evict()
                series = charts.get(vital)
                if series is None:
                    series = charts[vital] = Series()
                changed |= series.add(step, float(value), self.keep_steps)
        if charts is not None:
            self._charts.move_to_end(pid)
        return pid if changed else None

    def _evict(self) -> None:
        if len(self._charts) <= self.max_patients:
            return
        for pid in list(self._charts):
            if len(self._charts) <= self.max_patients:
                return
            if pid not in self._open_per_patient:
                del self._charts[pid]

    def chart(self, patient_id: str) -> dict[str, list[list[float]]]:
        """{vital: [[epoch ms, value], ...]} of the patient's recent vitals (event time)."""
        series = self._charts.get(patient_id) or {}
        return {vital: s.points(self.step_ms) for vital, s in series.items() if len(s.steps)}

    @property
    def tracked_patients(self) -> int:
        return len(self._charts)

    # ---- what the page gets ------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        open_alerts = self.open_alerts()
        patients = {c["patient_id"] for c in open_alerts}
        return {
            "open": open_alerts,
            "recent": list(self.recent),
            "charts": {pid: self.chart(pid) for pid in sorted(patients)},
        }


def _alert_ward(doc: dict[str, Any]) -> Any:
    location = doc.get("location")
    if isinstance(location, dict) and location.get("ward"):
        return location.get("ward")
    return doc.get("ward")


def sort_key(card: dict[str, Any]) -> tuple[int, int, str]:
    return (
        -PRIORITY_RANK.get(card.get("priority"), 0),
        1 if card.get("acknowledged") else 0,
        str(card.get("first_seen") or ""),
    )


def _age_key(card: dict[str, Any]) -> int:
    try:
        return parse_ts(card.get("first_seen"))
    except (ValueError, TypeError):
        return 0


def _reasons(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [r for r in value if isinstance(r, dict)][:12]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _is_detector_reason(reason: dict[str, Any]) -> bool:
    """A baseline-detector reason: its score is a z (a float), not NEWS2 points (an int)."""
    score = reason.get("score")
    return isinstance(score, float) or "own baseline" in str(reason.get("text", ""))


def bands_from_reasons(reasons: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """{vital: {baseline, low, high, limit}} (each optional) for the chart, from an alert's reasons.

    - `baseline`: the patient's own baseline, from any reason that carries it;
    - `low`/`high`: baseline ± 2 SD, from a detector reason (value, baseline and
      score = |z|, so SD = |value - baseline| / score);
    - `limit`: the limit that was crossed: a hard threshold's, else the NEWS2
      chart edge's (the detector's own limit is the band's edge already).
    """
    out: dict[str, dict[str, float]] = {}
    limit_rank: dict[str, int] = {}
    for reason in reasons:
        vital = reason.get("vital")
        if vital not in CHART_VITALS:
            continue
        band = out.setdefault(vital, {})
        baseline, value, score = (
            _number(reason.get("baseline")),
            _number(reason.get("value")),
            _number(reason.get("score")),
        )
        detector = _is_detector_reason(reason)
        if baseline is not None:
            band.setdefault("baseline", baseline)
            if detector and value is not None and score and score > 0:
                band["baseline"] = baseline
                sd = abs(value - baseline) / score
                band["low"] = round(baseline - BAND_SD * sd, 2)
                band["high"] = round(baseline + BAND_SD * sd, 2)
        limit = _number(reason.get("limit"))
        rank = 0 if detector else (2 if score is None else 1)
        if limit is not None and rank and rank > limit_rank.get(vital, 0):
            band["limit"] = limit
            limit_rank[vital] = rank
        if not band:
            del out[vital]
    return out
