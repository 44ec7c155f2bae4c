"""The alert policy: a pure, event-time state machine for one patient.

It encodes alarm-fatigue practice so the pager rings once per deterioration:
- persistence and integral (depth × duration) criteria before raising;
- hysteresis (conditions clear at a relaxed level, see ThresholdRule.clear)
  and a hold time before resolving;
- one episode per class (all physiological kinds share one) and one stable id;
- re-notify only on a rise in priority, or when nobody acknowledged in time;
- a cooldown after a resolve so a flapping signal does not reopen every minute.

All time is event time in epoch ms handed in by the caller; the policy never
reads a clock, so a replay makes exactly the same decisions as the live ward.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

from alerts.conditions import Condition
from alerts.config import PolicyConfig
from alerts.ids import episode_id
from alerts.model import Alert, DetectorInfo, EpisodeClass, Kind, News2Summary, Priority, Reason, Status

#: A gap longer than this does not count towards a condition's integral.
_MAX_STEP_MS = 60_000
#: How many closed alert ids are remembered to tell "resolved" from "unknown".
_RECENT_CLOSED = 16


@dataclass(slots=True)
class Track:
    """How long and how deep one condition has held, while it holds."""

    since_ms: int
    last_ms: int
    integral: float = 0.0

    def confirmed(self, cond: Condition, now_ms: int, persistence_factor: float) -> bool:
        held_s = (now_ms - self.since_ms) / 1000.0
        if held_s >= cond.persistence_s * persistence_factor:
            return True
        return cond.integral > 0 and self.integral >= cond.integral * persistence_factor


@dataclass(slots=True)
class Episode:
    alert_id: str
    episode_class: EpisodeClass
    kind: Kind
    priority: Priority
    status: Status
    onset_ms: int
    raised_ms: int
    notified_ms: int  # last page (raise, escalation); the escalation timer counts from here
    device_id: str
    escalations: int = 0
    clear_since_ms: int | None = None
    acknowledged_by: str | None = None
    reasons: dict[str, Reason] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Observation:
    """What the engine hands the policy for one sample."""

    ts_ms: int
    device_id: str
    evaluated: frozenset[str]  # condition keys that were checked on this sample
    conditions: tuple[Condition, ...]
    news2: News2Summary | None = None
    detector: DetectorInfo | None = None
    suppressed: tuple[str, ...] = ()


class AckError(ValueError):
    """An acknowledgement that cannot be applied; `reason` is the DLQ reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class AlertPolicy:
    def __init__(self, patient_id: str, config: PolicyConfig) -> None:
        self.patient_id = patient_id
        self.config = config
        self.tracks: dict[str, Track] = {}
        self.episodes: dict[EpisodeClass, Episode] = {}
        self.cooldown_until: dict[EpisodeClass, int] = {}
        self.recent_closed: list[str] = []
        self.now_ms = 0
        self.last_data_ms: int | None = None
        self.last_news2: News2Summary | None = None
        self.last_detector: DetectorInfo | None = None
        self.suppressed: tuple[str, ...] = ()

    # ---- public API -------------------------------------------------------
    @property
    def alerting(self) -> bool:
        """True while a physiological condition is pending or paging (freezes learning)."""
        if EpisodeClass.PHYSIOLOGICAL in self.episodes:
            return True
        return any(not k.startswith("technical:") for k in self.tracks)

    def holding(self, key: str) -> bool:
        """True when `key` holds within an open episode, so its rule applies hysteresis."""
        episode_class = EpisodeClass.TECHNICAL if key.startswith("technical:") else EpisodeClass.PHYSIOLOGICAL
        return key in self.tracks and episode_class in self.episodes

    def observe(self, obs: Observation, continuous: bool) -> list[Alert]:
        """Fold one sample's conditions in; `continuous` marks wearable data (for signal loss)."""
        out = self.advance(obs.ts_ms)
        self.now_ms = max(self.now_ms, obs.ts_ms)
        self.last_news2 = obs.news2 or self.last_news2
        self.last_detector = obs.detector or self.last_detector
        self.suppressed = obs.suppressed
        if continuous:
            self.last_data_ms = max(self.last_data_ms or 0, obs.ts_ms)
            loss = self.episodes.get(EpisodeClass.SIGNAL_LOSS)
            if loss is not None:
                out.append(self._close(loss, obs.ts_ms))
        self._update_tracks(obs)
        by_key = {c.key: c for c in obs.conditions}
        for episode_class in (EpisodeClass.PHYSIOLOGICAL, EpisodeClass.TECHNICAL):
            out.extend(self._decide(episode_class, by_key, obs))
        return out

    def advance(self, now_ms: int) -> list[Alert]:
        """Run timers (resolve hold, escalation, signal loss) up to `now_ms`."""
        out: list[Alert] = []
        self._signal_loss(now_ms, out)
        for episode in list(self.episodes.values()):
            out.extend(self._timers(episode, now_ms))
        self.now_ms = max(self.now_ms, now_ms)
        return out

    def acknowledge(self, alert_id: str, by: str, action: str, ts_ms: int | None) -> list[Alert]:
        """Apply an ack/resolve from staff; raise AckError when it cannot apply."""
        episode = next((e for e in self.episodes.values() if e.alert_id == alert_id), None)
        if episode is None:
            if alert_id in self.recent_closed:
                raise AckError("alert_resolved", f"alert {alert_id} is already resolved")
            raise AckError("unknown_alert", f"no open alert {alert_id} for this patient")
        at = ts_ms if ts_ms is not None else self.now_ms
        if action == "resolve":
            return [self._close(episode, at, by=by)]
        if episode.status is Status.ACKNOWLEDGED:
            return []  # idempotent: a second ack changes nothing
        episode.status = Status.ACKNOWLEDGED
        episode.acknowledged_by = by
        return [self._alert(episode, at, Status.ACKNOWLEDGED)]

    # ---- internals ----------------------------------------------------------
    def _update_tracks(self, obs: Observation) -> None:
        present = {c.key: c for c in obs.conditions}
        for key in obs.evaluated:
            cond = present.get(key)
            track = self.tracks.get(key)
            if cond is None:
                self.tracks.pop(key, None)
            elif track is None:
                self.tracks[key] = Track(obs.ts_ms, obs.ts_ms)
            elif obs.ts_ms > track.last_ms:
                step = min(obs.ts_ms - track.last_ms, _MAX_STEP_MS) / 1000.0
                track.integral += cond.depth * step
                track.last_ms = obs.ts_ms

    def _decide(self, episode_class: EpisodeClass, by_key: dict[str, Condition], obs: Observation) -> list[Alert]:
        active = [c for c in by_key.values() if c.episode_class is episode_class and c.key in self.tracks]
        episode = self.episodes.get(episode_class)
        if episode is not None:
            episode.clear_since_ms = None if self._class_active(episode_class) else (
                episode.clear_since_ms if episode.clear_since_ms is not None else obs.ts_ms
            )
        factor = 2.0 if obs.ts_ms < self.cooldown_until.get(episode_class, 0) else 1.0
        confirmed = [
            c for c in active
            if self.tracks[c.key].confirmed(c, obs.ts_ms, 1.0 if c.priority is Priority.HIGH else factor)
        ]
        if not confirmed:
            return []
        confirmed.sort(key=lambda c: (-c.priority.rank, self.tracks[c.key].since_ms))
        top = confirmed[0]
        if episode is None:
            return [self._open(episode_class, top, confirmed, obs)]
        self._merge_reasons(episode, confirmed)
        if top.priority.rank > episode.priority.rank:
            episode.priority = top.priority
            episode.status = Status.ESCALATED
            episode.notified_ms = obs.ts_ms
            episode.acknowledged_by = None
            return [self._alert(episode, obs.ts_ms, Status.ESCALATED)]
        return []

    def _class_active(self, episode_class: EpisodeClass) -> bool:
        prefix = "technical:" if episode_class is EpisodeClass.TECHNICAL else None
        return any(k.startswith("technical:") == (prefix is not None) for k in self.tracks)

    def _open(self, episode_class: EpisodeClass, top: Condition, confirmed: list[Condition], obs: Observation) -> Alert:
        onset = min(self.tracks[c.key].since_ms for c in confirmed)
        episode = Episode(
            alert_id=episode_id(self.patient_id, episode_class, onset),
            episode_class=episode_class,
            kind=top.kind,
            priority=top.priority,
            status=Status.RAISED,
            onset_ms=onset,
            raised_ms=obs.ts_ms,
            notified_ms=obs.ts_ms,
            device_id=obs.device_id,
        )
        self._merge_reasons(episode, confirmed)
        self.episodes[episode_class] = episode
        return self._alert(episode, obs.ts_ms, Status.RAISED)

    @staticmethod
    def _merge_reasons(episode: Episode, conditions: Iterable[Condition]) -> None:
        for cond in conditions:
            for reason in cond.reasons:
                episode.reasons[f"{cond.key}:{reason.vital}"] = reason

    def _timers(self, episode: Episode, now_ms: int) -> list[Alert]:
        cfg = self.config
        if episode.clear_since_ms is not None:
            resolve_at = episode.clear_since_ms + int(cfg.resolve_hold_s * 1000)
            if now_ms >= resolve_at:
                return [self._close(episode, resolve_at)]
        out: list[Alert] = []
        if episode.episode_class is EpisodeClass.SIGNAL_LOSS:
            return out
        while episode.status is not Status.ACKNOWLEDGED and episode.escalations < cfg.max_escalations:
            due = episode.notified_ms + int(cfg.escalation_delay(episode.priority) * 1000)
            if now_ms < due:
                break
            episode.escalations += 1
            episode.notified_ms = due
            episode.status = Status.ESCALATED
            out.append(self._alert(episode, due, Status.ESCALATED))
        return out

    def _signal_loss(self, now_ms: int, out: list[Alert]) -> None:
        if self.last_data_ms is None or EpisodeClass.SIGNAL_LOSS in self.episodes:
            return
        lost_at = self.last_data_ms + int(self.config.signal_loss_s * 1000)
        if now_ms < lost_at:
            return
        gap = Reason(
            vital="signal",
            text=f"No data from the wearable for {self.config.signal_loss_s:.0f} s",
            limit=self.config.signal_loss_s,
        )
        episode = Episode(
            alert_id=episode_id(self.patient_id, EpisodeClass.SIGNAL_LOSS, self.last_data_ms),
            episode_class=EpisodeClass.SIGNAL_LOSS,
            kind=Kind.SIGNAL_LOSS,
            priority=Priority.MEDIUM,
            status=Status.RAISED,
            onset_ms=self.last_data_ms,
            raised_ms=lost_at,
            notified_ms=lost_at,
            device_id="",
            reasons={"signal": gap},
        )
        self.episodes[EpisodeClass.SIGNAL_LOSS] = episode
        out.append(self._alert(episode, lost_at, Status.RAISED))

    def _close(self, episode: Episode, at_ms: int, by: str | None = None) -> Alert:
        del self.episodes[episode.episode_class]
        self.recent_closed = (self.recent_closed + [episode.alert_id])[-_RECENT_CLOSED:]
        if episode.episode_class is not EpisodeClass.SIGNAL_LOSS:
            self.cooldown_until[episode.episode_class] = at_ms + int(self.config.cooldown_s * 1000)
        if by:
            episode.acknowledged_by = by
        return self._alert(episode, at_ms, Status.RESOLVED)

    def _alert(self, episode: Episode, at_ms: int, status: Status) -> Alert:
        physiological = episode.episode_class is EpisodeClass.PHYSIOLOGICAL
        extra = {"escalation_level": episode.escalations} if episode.escalations else {}
        return Alert(
            alert_id=episode.alert_id,
            patient_id=self.patient_id,
            device_id=episode.device_id,
            status=status,
            priority=episode.priority,
            kind=episode.kind,
            ts_ms=at_ms,
            reasons=tuple(episode.reasons.values()),
            news2=self.last_news2 if physiological else None,
            detector=self.last_detector if physiological else None,
            onset_ts_ms=episode.onset_ms,
            suppressed=self.suppressed if physiological else (),
            acknowledged_by=episode.acknowledged_by if status in (Status.ACKNOWLEDGED, Status.RESOLVED) else None,
            extra=extra,
        )

    # ---- serialization ----------------------------------------------------
    def to_state(self) -> list:
        episodes = [
            [e.alert_id, e.episode_class.value, e.kind.value, e.priority.value, e.status.value, e.onset_ms,
             e.raised_ms, e.notified_ms, e.device_id, e.escalations, e.clear_since_ms, e.acknowledged_by,
             [[k, r.to_wire()] for k, r in e.reasons.items()]]
            for e in self.episodes.values()
        ]
        tracks = [[k, t.since_ms, t.last_ms, t.integral] for k, t in self.tracks.items()]
        cooldown = [[c.value, until] for c, until in self.cooldown_until.items()]
        return [self.now_ms, self.last_data_ms, tracks, episodes, cooldown, self.recent_closed,
                self.last_news2.to_wire() if self.last_news2 else None,
                self.last_detector.to_wire() if self.last_detector else None]

    def load_state(self, state: list) -> "AlertPolicy":
        now_ms, last_data, tracks, episodes, cooldown, closed, news2, detector = state
        self.now_ms, self.last_data_ms, self.recent_closed = now_ms, last_data, list(closed)
        self.tracks = {k: Track(s, last, i) for k, s, last, i in tracks}
        self.cooldown_until = {EpisodeClass(c): until for c, until in cooldown}
        self.last_news2 = News2Summary(**news2) if news2 else None
        self.last_detector = DetectorInfo(**detector) if detector else None
        for (aid, cls, kind, prio, status, onset, raised, notified, dev, esc, clear, by, reasons) in episodes:
            episode = Episode(aid, EpisodeClass(cls), Kind(kind), Priority(prio), Status(status), onset, raised,
                              notified, dev, esc, clear, by, {k: Reason.from_wire(r) for k, r in reasons})
            self.episodes[episode.episode_class] = episode
        return self


def with_priority(cond: Condition, priority: Priority) -> Condition:
    return replace(cond, priority=priority)
