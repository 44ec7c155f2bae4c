"""Who is paged for an alert: wards, the on-call rota, the escalation chain, channels.

Pure: the routing file (TOML, see deploy/routing.example.toml) is parsed into
frozen records, and every question (who is on call for this role on this ward
at this moment? which step of the chain is due?) is a function of its
arguments. Times are epoch milliseconds, so a unit test walks a chain in event
time and `wardwatch notify` walks it by wall clock with the same code.

The escalation walk is tracked per alert as a `Chase`: raised -> step 0 of the
chain for (ward, priority); no acknowledgement within a step's `after_minutes`
-> the next step; an `escalated` message from the worker jumps to its
`escalation_level` (or re-pages at the new priority); acknowledged / resolved
stop the chase and stand the paged staff down.
"""

from __future__ import annotations

import enum
import hashlib
import tomllib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.model import Priority

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RoutingError(ValueError):
    """The routing file is wrong; the message names the entry and what to fix."""


class Redaction(str, enum.Enum):
    """How much patient data a channel is approved to carry."""

    FULL = "full"  # patient id, location, reasons, NEWS2 (console, secure clinical apps)
    CLINICAL = "clinical"  # location, reasons, NEWS2; no patient identifier
    MINIMAL = "minimal"  # ward/bed, priority and reply code only (pagers, SMS)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A delivery channel as configured; the transport class is chosen by `type`."""

    name: str
    type: str  # webhook | console (one class each in streams/notify/channels.py)
    redaction: Redaction = Redaction.MINIMAL
    url: str | None = None
    secret_env: str | None = None  # the secret itself never lives in the routing file
    timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class Contact:
    channel: str
    address: str


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    contacts: tuple[Contact, ...]


@dataclass(frozen=True, slots=True)
class Shift:
    """One rota line: `person` holds `role` (on `ward`, or every ward) on these days and hours."""

    role: str
    person: str
    ward: str | None
    days: frozenset[int]  # 0 = Monday
    start_min: int
    end_min: int  # end <= start: the shift runs past midnight into the next day

    def covers(self, ward: str, moment: datetime) -> bool:
        if self.ward is not None and self.ward != ward:
            return False
        minute = moment.hour * 60 + moment.minute
        day = moment.weekday()
        if self.start_min < self.end_min:
            return day in self.days and self.start_min <= minute < self.end_min
        return (day in self.days and minute >= self.start_min) or ((day - 1) % 7 in self.days and minute < self.end_min)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of an escalation chain: page these roles `after_s` after the first page."""

    roles: tuple[str, ...]
    after_s: float


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int = 6
    backoff_base_s: float = 0.25
    backoff_cap_s: float = 8.0


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person reached on one channel, for one role; `key` is what dedupe counts."""

    person: str
    name: str
    role: str
    channel: str
    address: str

    @property
    def key(self) -> str:
        return f"{self.person}/{self.channel}"


@dataclass(frozen=True, slots=True)
class Routing:
    timezone: str
    default_ward: str
    console_url: str
    channels: dict[str, ChannelSpec]
    people: dict[str, Person]
    rota: tuple[Shift, ...]
    chains: dict[tuple[str | None, Priority], tuple[Step, ...]]  # (ward or None = any ward, priority)
    delivery: DeliveryPolicy = DeliveryPolicy()
    source: str = "<built-in demo routing>"
    sha256: str = ""

    def chain(self, ward: str, priority: Priority) -> tuple[Step, ...]:
        return self.chains.get((ward, priority)) or self.chains.get((None, priority)) or ()

    def on_call(self, role: str, ward: str, at_ms: int) -> tuple[Person, ...]:
        """People holding `role` for `ward` at that moment (local time of the hospital)."""
        moment = datetime.fromtimestamp(at_ms / 1000, tz=ZoneInfo(self.timezone))
        ids = dict.fromkeys(s.person for s in self.rota if s.role == role and s.covers(ward, moment))
        return tuple(self.people[i] for i in ids)

    def recipients(self, ward: str, step: Step, at_ms: int) -> tuple[Recipient, ...]:
        out: list[Recipient] = []
        for role in step.roles:
            for person in self.on_call(role, ward, at_ms):
                out.extend(Recipient(person.id, person.name, role, c.channel, c.address) for c in person.contacts)
        return tuple(dict.fromkeys(out))

    def recipient(self, key: str, role: str = "") -> Recipient | None:
        """Rebuild a recipient from its dedupe key (to stand down whoever was paged)."""
        person_id, _, channel = key.partition("/")
        person = self.people.get(person_id)
        if person is None:
            return None
        for contact in person.contacts:
            if contact.channel == channel:
                return Recipient(person.id, person.name, role, channel, contact.address)
        return None


# ---- the escalation walk ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chase:
    """Notify's memory of one open alert: how far up its chain it has paged, since when."""

    alert_id: str
    patient_id: str
    ward: str
    priority: Priority
    raised_ts_ms: int  # event time of the alert's first message seen (for time-to-ack)
    started_ms: int  # clock time of the first page: the chain's timers count from here
    step: int = 0
    paged: frozenset[str] = frozenset()  # recipient keys paged so far
    acked_ms: int | None = None  # set once acknowledged: stop chasing

    def with_paged(self, keys: tuple[str, ...] | list[str]) -> Chase:
        return replace(self, paged=self.paged | frozenset(keys))


@dataclass(frozen=True, slots=True)
class Page:
    """A decision to page one step of the chain; `stage` is the dedupe status."""

    alert_id: str
    step: int
    stage: str
    reason: str
    recipients: tuple[Recipient, ...]


def stage_name(step: int, priority: Priority) -> str:
    """Dedupe status of an escalation page: names step and priority.

    A timer escalation and the worker's `escalated` message for the same step
    and priority share the name, so the person is paged once; a rise in
    priority is a new name, so it re-pages.
    """
    return f"escalated-{step}-{priority.value}"


def start_chase(
    alert_id: str, patient_id: str, ward: str, priority: Priority, ts_ms: int, now_ms: int, step: int = 0
) -> Chase:
    return Chase(alert_id, patient_id, ward, priority, ts_ms, now_ms, step)


def page_step(routing: Routing, chase: Chase, step: int, at_ms: int, stage: str, reason: str) -> Page:
    """Recipients of `step`; when nobody is on call for it, the next step up (never nobody)."""
    chain = routing.chain(chase.ward, chase.priority)
    for index in range(min(step, len(chain) - 1), len(chain)):
        found = routing.recipients(chase.ward, chain[index], at_ms)
        if found:
            return Page(chase.alert_id, index, stage, reason, found)
    return Page(chase.alert_id, step, stage, reason, ())


def first_page(routing: Routing, chase: Chase, at_ms: int) -> Page:
    """The page for a new chase: `raised`, or the step a late-seen escalation points at."""
    stage = "raised" if chase.step == 0 else stage_name(chase.step, chase.priority)
    return page_step(routing, chase, chase.step, at_ms, stage, "raised")


def due_page(routing: Routing, chase: Chase, now_ms: int) -> Page | None:
    """The highest chain step whose timer has run out and is not paged yet, if any."""
    if chase.acked_ms is not None:
        return None
    chain = routing.chain(chase.ward, chase.priority)
    elapsed = (now_ms - chase.started_ms) / 1000
    due = [i for i, s in enumerate(chain) if i > chase.step and s.after_s <= elapsed]
    if not due:
        return None
    step = due[-1]
    return page_step(
        routing,
        chase,
        step,
        now_ms,
        stage_name(step, chase.priority),
        f"not acknowledged after {chain[step].after_s / 60:g} min",
    )


def escalate(routing: Routing, chase: Chase, priority: Priority, level: int | None, at_ms: int) -> tuple[Chase, Page]:
    """The worker said `escalated`: go to its level's step, or re-page this step at the new priority."""
    risen = priority.rank > chase.priority.rank
    chase = replace(chase, priority=priority if risen else chase.priority)
    last = max(len(routing.chain(chase.ward, chase.priority)) - 1, 0)
    target = chase.step if level is None else max(chase.step, min(level, last))
    reason = f"priority rose to {priority.value}" if risen else f"escalation level {level}"
    page = page_step(routing, chase, target, at_ms, stage_name(target, chase.priority), reason)
    return advance(chase, page), page


def reroute(routing: Routing, chase: Chase, ward: str, at_ms: int) -> tuple[Chase, Page]:
    """The patient moved to `ward` (ADT transfer): the chase continues there, at the step it reached.

    The new ward's staff of every step up to the current one are paged (the
    nurse now caring for the patient first of all), except people already
    paged for this alert (a charge nurse for every ward is not paged twice).
    The stage names the ward, so a later move elsewhere pages again.
    """
    old = chase.ward
    moved = replace(chase, ward=ward)
    chain = routing.chain(ward, chase.priority)
    found: list[Recipient] = []
    for step in chain[: min(chase.step, len(chain) - 1) + 1]:
        found.extend(routing.recipients(ward, step, at_ms))
    fresh = tuple(r for r in dict.fromkeys(found) if r.key not in chase.paged)
    page = Page(chase.alert_id, chase.step, f"transferred-{ward}", f"patient transferred from {old} to {ward}", fresh)
    return moved, page


def advance(chase: Chase, page: Page) -> Chase:
    return replace(chase, step=max(chase.step, page.step))


# ---- parsing ----------------------------------------------------------------


def _hhmm(text: str, where: str) -> int:
    try:
        hours, minutes = (int(p) for p in str(text).split(":"))
    except ValueError:
        raise RoutingError(f"{where}: time {text!r} must be HH:MM") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 1440:
        raise RoutingError(f"{where}: time {text!r} is not a time of day")
    return hours * 60 + minutes


def _days(value: object, where: str) -> frozenset[int]:
    """`"mon-fri"`, `"sat,sun"`, `"daily"` or a list of day names."""
    if value in (None, "daily", "*"):
        return frozenset(range(7))
    parts = value if isinstance(value, list) else str(value).split(",")
    out: set[int] = set()
    for part in (str(p).strip().lower()[:7] for p in parts):
        first, _, last = part.partition("-")
        if first[:3] not in _DAYS or (last and last[:3] not in _DAYS):
            raise RoutingError(f"{where}: day {part!r} is not one of {', '.join(_DAYS)}")
        a, b = _DAYS.index(first[:3]), _DAYS.index((last or first)[:3])
        out.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(out)


def _channels(doc: dict[str, Any]) -> dict[str, ChannelSpec]:
    out = {}
    for name, spec in (doc.get("channels") or {}).items():
        kind = spec.get("type")
        if kind not in ("webhook", "console"):
            raise RoutingError(f"channels.{name}: type must be webhook or console, got {kind!r}")
        try:
            redaction = Redaction(spec.get("redaction", "minimal"))
        except ValueError:
            raise RoutingError(f"channels.{name}: redaction must be full, clinical or minimal") from None
        if kind == "webhook" and not spec.get("url"):
            raise RoutingError(f"channels.{name}: a webhook needs a url")
        out[name] = ChannelSpec(
            name, kind, redaction, spec.get("url"), spec.get("secret_env"), float(spec.get("timeout_s", 5.0))
        )
    if not out:
        raise RoutingError("no [channels] configured")
    return out


def _people(doc: dict[str, Any], channels: dict[str, ChannelSpec]) -> dict[str, Person]:
    out = {}
    for pid, spec in (doc.get("people") or {}).items():
        contacts = []
        for c in spec.get("contacts") or []:
            if c.get("channel") not in channels:
                raise RoutingError(f"people.{pid}: channel {c.get('channel')!r} is not in [channels]")
            contacts.append(Contact(c["channel"], str(c.get("address", pid))))
        if not contacts:
            raise RoutingError(f"people.{pid}: needs at least one contact")
        out[pid] = Person(pid, str(spec.get("name", pid)), tuple(contacts))
    return out


def _rota(doc: dict[str, Any], people: dict[str, Person]) -> tuple[Shift, ...]:
    out = []
    for i, spec in enumerate(doc.get("rota") or []):
        where = f"rota[{i}]"
        if spec.get("person") not in people:
            raise RoutingError(f"{where}: person {spec.get('person')!r} is not in [people]")
        if not spec.get("role"):
            raise RoutingError(f"{where}: needs a role")
        out.append(
            Shift(
                spec["role"],
                spec["person"],
                spec.get("ward"),
                _days(spec.get("days"), where),
                _hhmm(spec.get("from", "00:00"), where),
                _hhmm(spec.get("to", "24:00"), where),
            )
        )
    return tuple(out)


def _chain(steps: list[Any], where: str) -> tuple[Step, ...]:
    out = []
    for i, s in enumerate(steps):
        roles = s.get("roles") or ([s["role"]] if s.get("role") else [])
        if not roles:
            raise RoutingError(f"{where}[{i}]: needs role or roles")
        out.append(Step(tuple(roles), float(s.get("after_minutes", 0)) * 60))
    if [s.after_s for s in out] != sorted(s.after_s for s in out):
        raise RoutingError(f"{where}: after_minutes must not decrease along the chain")
    return tuple(out)


def _chains(doc: dict[str, Any]) -> dict[tuple[str | None, Priority], tuple[Step, ...]]:
    out: dict[tuple[str | None, Priority], tuple[Step, ...]] = {}
    scopes = [(None, doc.get("escalation") or {}, "escalation")]
    wards = (doc.get("wards") or {}).items()
    scopes += [(w, spec.get("escalation") or {}, f"wards.{w}.escalation") for w, spec in wards]
    for ward, table, where in scopes:
        for prio, steps in table.items():
            try:
                priority = Priority(prio)
            except ValueError:
                raise RoutingError(f"{where}: {prio!r} is not high, medium or low") from None
            out[(ward, priority)] = _chain(steps, f"{where}.{prio}")
    for priority in Priority:
        if (None, priority) not in out:
            raise RoutingError(f"escalation.{priority.value}: every priority needs a default chain")
    return out


def parse_routing(text: str, source: str = "<text>") -> Routing:
    """Parse and check a routing file; RoutingError says which entry is wrong."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutingError(f"{source}: not valid TOML: {exc}") from None
    if doc.get("version", 1) != 1:
        raise RoutingError(f"{source}: unsupported routing version {doc.get('version')!r}")
    tz = str(doc.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except Exception:
        raise RoutingError(f"timezone {tz!r} is not an IANA zone name") from None
    channels = _channels(doc)
    people = _people(doc, channels)
    d = doc.get("delivery") or {}
    return Routing(
        timezone=tz,
        default_ward=str(doc.get("default_ward", "ward")),
        console_url=str(doc.get("console_url", "http://localhost:6066")).rstrip("/"),
        channels=channels,
        people=people,
        rota=_rota(doc, people),
        chains=_chains(doc),
        delivery=DeliveryPolicy(
            int(d.get("max_attempts", 6)), float(d.get("backoff_base_s", 0.25)), float(d.get("backoff_cap_s", 8.0))
        ),
        source=source,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def load_routing(path: str | None) -> Routing:
    """The file at `path`, or the built-in demo routing when no path is given."""
    if not path:
        return parse_routing(DEMO_ROUTING, "<built-in demo routing>")
    try:
        with open(path, encoding="utf-8") as fh:
            return parse_routing(fh.read(), path)
    except OSError as exc:
        raise RoutingError(f"cannot read routing file {path}: {exc.strerror}") from None


#: The demo default: one ward, everyone on call all week, pages printed on notify's standard output.
DEMO_ROUTING = """
version = 1
timezone = "UTC"
default_ward = "ward-1"
console_url = "http://localhost:6066"

[channels.console]
type = "console"
redaction = "clinical"

[people.nurse]
name = "Ward nurse"
contacts = [{ channel = "console", address = "ward-1 nurses' station" }]
[people.charge]
name = "Charge nurse"
contacts = [{ channel = "console", address = "charge nurse bleep" }]
[people.rrt]
name = "Rapid response team"
contacts = [{ channel = "console", address = "RRT bleep" }]

[[rota]]
role = "nurse"
person = "nurse"
[[rota]]
role = "charge_nurse"
person = "charge"
[[rota]]
role = "rapid_response"
person = "rrt"

[escalation]
high = [
  { role = "nurse" }, { role = "charge_nurse", after_minutes = 3 }, { role = "rapid_response", after_minutes = 6 },
]
medium = [{ role = "nurse" }, { role = "charge_nurse", after_minutes = 10 }]
low = [{ role = "nurse" }]
"""
