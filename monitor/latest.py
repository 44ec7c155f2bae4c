"""Per-patient rolling view of the latest value of each vital, with its age.

A wearable streams heart rate, SpO2 and resp rate every few seconds, but blood
pressure and temperature are spot checks taken hours apart, and consciousness
and oxygen are charted by a nurse. A NEWS2 therefore always mixes values of
different ages. This module keeps, per vital, the latest value and its event
time, and scores only what is still fresh enough to describe the patient now;
every score says which inputs it used, how old each was, and which were left
out because they had expired, so an alert never hides that its BP is 3 h old.

Rules:
- Event time decides "latest": a value older than the one held is ignored, so
  out-of-order and duplicate samples are harmless (a tie replaces, it is the
  same moment re-sent).
- A value is fresh while its age <= the `Freshness` limit for that vital; an
  age is ``now_ms - ts_ms`` clamped at 0 (a device clock slightly ahead of the
  scoring clock is not "negative old").
- Nursing inputs (`on_oxygen`, `consciousness`) are remembered until changed,
  but also expire: an expired one is treated as not given, so `score_news2`'s
  defaults (air, Alert) apply and the view lists it under `expired`.
- `spo2_scale` never expires: it is a prescription, not an observation.
- SpO2 and pulse of a ``probe_off`` sample are not data and are not kept.
- `diastolic_bp` is kept (for display and rules) but is not a NEWS2 input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from monitor.news2 import PARAMETERS, News2Score, _score
from monitor.vitals import PROBE_VITALS, VITALS, Consciousness, VitalSample

# Measured (Python 3.11, timeit, 2-core dev machine): update() of a full sample
# ~0.4 µs, score() ~2.4 µs of which NEWS2 is ~1.2 (was 3.8 and 2.1 before the
# cached freshness limits and the positional NEWS2 call), to_state() ~0.9 µs;
# news2_of() (the engine's call: no provenance) ~1.9 µs.

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

#: Everything the view keeps, in `to_state` order. Appending is a format change:
#: bump STATE_VERSION.
STATE_FIELDS: tuple[str, ...] = (*VITALS, "on_oxygen", "consciousness", "spo2_scale")
STATE_VERSION = 1

#: A value as held and reported: a number, on_oxygen's bool, ACVPU's str, or the scale.
InputValue = float | int | bool | str

_INDEX: dict[str, int] = {name: i for i, name in enumerate(STATE_FIELDS)}
# (field name, its index, whether a probe-off sample voids it), precomputed for update().
_UPDATE_PLAN: tuple[tuple[str, int, bool], ...] = tuple(
    (name, i, name in PROBE_VITALS) for i, name in enumerate(STATE_FIELDS)
)
# NEWS2 inputs that come from this view, with their slot; spo2_scale is handled apart.
_SCORED: tuple[tuple[str, int], ...] = tuple((name, _INDEX[name]) for name in PARAMETERS)
_SCALE_INDEX = _INDEX["spo2_scale"]
_SPO2_INDEX = _INDEX["spo2"]
# The slots of the NEWS2 inputs, in PARAMETERS order (news2_of reads them by name).
if PARAMETERS != ("resp_rate", "spo2", "on_oxygen", "systolic_bp", "heart_rate", "consciousness", "temperature"):
    raise AssertionError("NEWS2 parameters changed: update LatestVitals.news2_of")
_RR, _SPO2, _O2, _SBP, _HR, _ACVPU, _TEMP = (i for _, i in _SCORED)


@dataclass(frozen=True, slots=True)
class Freshness:
    """How old (ms, event time) each input may be and still be scored.

    Defaults: continuous vitals 5 min (a few missed beats of a wearable, not a
    dropout), spot-check BP and temperature 4 h (the usual ward observation
    round), nursing inputs 12 h (one shift plus handover).
    """

    heart_rate: int = 5 * MINUTE_MS
    spo2: int = 5 * MINUTE_MS
    resp_rate: int = 5 * MINUTE_MS
    temperature: int = 4 * HOUR_MS
    systolic_bp: int = 4 * HOUR_MS
    diastolic_bp: int = 4 * HOUR_MS
    on_oxygen: int = 12 * HOUR_MS
    consciousness: int = 12 * HOUR_MS

    def __post_init__(self) -> None:
        for f in fields(self):
            limit = getattr(self, f.name)
            if type(limit) is not int or limit <= 0:
                raise ValueError(f"Freshness.{f.name} must be a positive int of ms, got {limit!r}")

    def max_age_ms(self, name: str) -> int:
        """The limit for one input, by contract name."""
        return getattr(self, name)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class ScoredView:
    """A NEWS2 plus the provenance of every input it used.

    `used` maps each input taken from the view to its age in ms (it includes
    `spo2_scale` when SpO2 was scored, since the scale changes its points);
    `values` holds those same inputs' values; `expired` names inputs that had
    a value too old to score, in chart order.
    """

    news2: News2Score
    used: dict[str, int] = field(hash=False)
    expired: tuple[str, ...]
    values: dict[str, InputValue] = field(hash=False)


_NewView = Callable[[News2Score, dict[str, int], tuple[str, ...], dict[str, InputValue]], ScoredView]


def _make_new_view() -> _NewView:
    """ScoredView without keyword handling: binds the slots' setters once (hot path)."""
    names = ("news2", "used", "expired", "values")
    if ScoredView.__slots__ != names:
        raise AssertionError("ScoredView fields changed: update _make_new_view")
    set_news2, set_used, set_expired, set_values = (ScoredView.__dict__[n].__set__ for n in names)
    alloc = object.__new__

    def new_view(
        news2: News2Score, used: dict[str, int], expired: tuple[str, ...], values: dict[str, InputValue]
    ) -> ScoredView:
        view = alloc(ScoredView)
        set_news2(view, news2)
        set_used(view, used)
        set_expired(view, expired)
        set_values(view, values)
        return view

    return new_view


_new_view = _make_new_view()


class LatestVitals:
    """The latest value and event time of each vital of one patient (mutable)."""

    __slots__ = ("_fresh", "_limits", "_ts", "_values")

    def __init__(self) -> None:
        self._values: list[Any] = [None] * len(STATE_FIELDS)
        self._ts: list[int | None] = [None] * len(STATE_FIELDS)
        # The last Freshness scored with and its limits in _SCORED order (a cache, not state).
        self._fresh: Freshness | None = None
        self._limits: tuple[int, ...] = ()

    def update(self, sample: VitalSample) -> None:
        """Take each value the sample carries unless a later one is already held."""
        ts = sample.ts_ms
        values, stamps = self._values, self._ts
        for name, i, voided_by_probe in _UPDATE_PLAN:
            value = getattr(sample, name)
            if value is None or (voided_by_probe and sample.probe_off):
                continue
            held = stamps[i]
            if held is not None and ts < held:
                continue
            values[i] = value
            stamps[i] = ts

    def revalue(self, name: str, value: InputValue) -> None:
        """Replace `name`'s held value, keeping when it was taken (so it expires as before).

        For a value that must stand for a while (a stream's HR and RR while the patient
        walks): the engine puts the median of the minutes before in place of the last
        single reading, which may have been an artefact.
        """
        i = _INDEX[name]
        if self._ts[i] is not None:
            self._values[i] = value

    def forget(self, name: str, ts_ms: int) -> None:
        """Drop `name`'s value if it is still the one taken at `ts_ms`.

        For a value that must not stand in for later samples: a jump no
        physiology makes between two readings of a stream is scored where it
        was measured, but if the next sample lacks that vital it is left out
        (an artefact carried forward would keep a condition's persistence
        running on no new evidence).
        """
        i = _INDEX[name]
        if self._ts[i] == ts_ms:
            self._values[i] = None
            self._ts[i] = None

    def get(self, name: str) -> tuple[InputValue, int] | None:
        """(value, ts_ms) held for `name`, expired or not; None if never seen."""
        i = _INDEX[name]
        ts = self._ts[i]
        return None if ts is None else (self._values[i], ts)

    def score(self, now_ms: int, freshness: Freshness) -> ScoredView:
        """NEWS2 of the inputs still fresh at `now_ms` (event time), with provenance."""
        limits = self._limits_for(freshness)
        values, stamps = self._values, self._ts
        inputs: dict[str, Any] = {}
        used: dict[str, int] = {}
        expired: list[str] = []
        # zip(strict=) would add ~0.16 µs a call on 3.11 (timeit); limits is built from _SCORED.
        for (name, i), limit in zip(_SCORED, limits):  # noqa: B905  same length by construction
            ts = stamps[i]
            if ts is None:
                continue
            age = now_ms - ts if now_ms > ts else 0
            if age > limit:
                expired.append(name)
                continue
            inputs[name] = values[i]
            used[name] = age
        scale_ts = stamps[_SCALE_INDEX]
        scale = 1
        if scale_ts is not None and "spo2" in used:
            inputs["spo2_scale"] = scale = values[_SCALE_INDEX]
            used["spo2_scale"] = now_ms - scale_ts if now_ms > scale_ts else 0
        get = inputs.get
        news2 = _score(
            get("resp_rate"),
            get("spo2"),
            scale,
            get("on_oxygen", False),
            get("systolic_bp"),
            get("heart_rate"),
            get("consciousness", "A"),
            get("temperature"),
        )
        return _new_view(news2, used, tuple(expired), inputs)

    def _limits_for(self, freshness: Freshness) -> tuple[int, ...]:
        """Each NEWS2 input's max age under `freshness`, cached per (frozen) Freshness object."""
        if freshness is not self._fresh:
            self._limits = tuple(freshness.max_age_ms(name) for name, _ in _SCORED)
            self._fresh = freshness
        return self._limits

    def news2_of(self, now_ms: int, freshness: Freshness) -> tuple[News2Score, dict[str, InputValue]]:
        """`score(now_ms, freshness)`'s `news2` and `values` only, without the provenance.

        The engine scores every sample and reads nothing else of the view, so
        this skips building `used` and `expired`. Same inputs, same order, same
        NEWS2 as `score` (a unit test compares the two).
        """
        values, stamps = self._values, self._ts
        # the usual case (the engine's one Freshness) without the call
        limits = self._limits if freshness is self._fresh else self._limits_for(freshness)
        l_rr, l_spo2, l_o2, l_sbp, l_hr, l_acvpu, l_temp = limits
        inputs: dict[str, Any] = {}
        # Written out per input, in chart order (the dict's order is `score`'s):
        # fresh while now - ts <= limit, an age clamped at 0 always being fresh.
        rr = spo2 = sbp = hr = temp = None
        on_oxygen: Any = False
        acvpu: Any = "A"
        scale: Any = 1
        ts = stamps[_RR]
        if ts is not None and (now_ms - ts if now_ms > ts else 0) <= l_rr:
            inputs["resp_rate"] = rr = values[_RR]
        ts = stamps[_SPO2]
        if ts is not None and (now_ms - ts if now_ms > ts else 0) <= l_spo2:
            inputs["spo2"] = spo2 = values[_SPO2]
        ts = stamps[_O2]
        if ts is not None and (now_ms - ts if now_ms > ts else 0) <= l_o2:
            inputs["on_oxygen"] = on_oxygen = values[_O2]
        ts = stamps[_SBP]
        if ts is not None and (now_ms - ts if now_ms > ts else 0) <= l_sbp:
            inputs["systolic_bp"] = sbp = values[_SBP]
        ts = stamps[_HR]
        if ts is not None and (now_ms - ts if now_ms > ts else 0) <= l_hr:
            inputs["heart_rate"] = hr = values[_HR]
        ts = stamps[_ACVPU]
        if ts is not None and (now_ms - ts if now_ms > ts else 0) <= l_acvpu:
            inputs["consciousness"] = acvpu = values[_ACVPU]
        ts = stamps[_TEMP]
        if ts is not None and (now_ms - ts if now_ms > ts else 0) <= l_temp:
            inputs["temperature"] = temp = values[_TEMP]
        if "spo2" in inputs and stamps[_SCALE_INDEX] is not None:
            inputs["spo2_scale"] = scale = values[_SCALE_INDEX]
        return _score(rr, spo2, scale, on_oxygen, sbp, hr, acvpu, temp), inputs

    def to_state(self) -> list[Any]:
        """Plain JSON-able checkpoint: ``[version, value0, ts0, value1, ts1, …]``.

        Order is STATE_FIELDS; absent slots are ``None, None``; consciousness
        is its letter. Compact and explicit so a changelog record stays tiny and
        readable, and no pickle ever crosses a trust boundary.
        """
        state: list[Any] = [STATE_VERSION]
        # zip(strict=) would add ~0.16 µs a call on 3.11 (timeit); both lists have len(STATE_FIELDS).
        for value, ts in zip(self._values, self._ts):  # noqa: B905  same length by construction
            if isinstance(value, Consciousness):
                value = value.value
            state.append(value)
            state.append(ts)
        return state

    @classmethod
    def from_state(cls, state: list[Any] | tuple[Any, ...]) -> LatestVitals:
        """Rebuild from `to_state` output, also after JSON; ValueError if malformed."""
        if not isinstance(state, (list, tuple)) or len(state) != 1 + 2 * len(STATE_FIELDS):
            raise ValueError("LatestVitals state must be a list of the to_state layout")
        if state[0] != STATE_VERSION or type(state[0]) is not int:
            raise ValueError(f"unsupported LatestVitals state version {state[0]!r}")
        view = cls()
        for i, name in enumerate(STATE_FIELDS):
            value, ts = state[1 + 2 * i], state[2 + 2 * i]
            if value is None and ts is None:
                continue
            if type(ts) is not int:
                raise ValueError(f"state of {name}: ts must be int epoch ms, got {ts!r}")
            view._values[i] = _restore_value(name, value)
            view._ts[i] = ts
        return view

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatestVitals):
            return NotImplemented
        return self.to_state() == other.to_state()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        held = {name: self.get(name) for name in STATE_FIELDS if self.get(name) is not None}
        return f"LatestVitals({held})"


def _restore_value(name: str, value: Any) -> InputValue:
    """Check one stored value's type, so a corrupt checkpoint fails loudly here."""
    if name == "consciousness":
        try:
            return Consciousness(value)
        except ValueError:
            raise ValueError(f"state of consciousness: not ACVPU: {value!r}") from None
    if name == "on_oxygen":
        if type(value) is not bool:
            raise ValueError(f"state of on_oxygen: not a bool: {value!r}")
        return value
    if name == "spo2_scale":
        if type(value) is not int or value not in (1, 2):
            raise ValueError(f"state of spo2_scale: not 1 or 2: {value!r}")
        return value
    if type(value) is not int and type(value) is not float:
        raise ValueError(f"state of {name}: not a number: {value!r}")
    return value
