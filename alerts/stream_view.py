"""A robust view of one patient's continuous stream: medians of the last readings, and
readings that jumped faster than physiology allows.

A stream's single readings are noisy and its artefacts are not always flagged: a probe
moved, a lead knocked, a cough on the RR sensor. The engine asks this view two things
per sample that could page: what NEWS2 a *set* of the last readings would score (RCP
scores a set of observations, not one beat), and whether several vitals jumped together
in a way no patient does within seconds (an unflagged artefact: hold the page once, and
let it confirm if the step lasts). It is pure and kept per patient. Only the last few
readings (the median's input) go with the engine's state; the two minutes behind the
jump reference are a cache that refills after a restart.

Example:

>>> from monitor.vitals import VitalSample
>>> view = StreamView()
>>> for i in range(12):
...     view.remember(i * 5_000, VitalSample("p", "d", i * 5_000, heart_rate=80.0, spo2=97.0, resp_rate=16.0))
>>> burst = VitalSample("p", "d", 60_000, heart_rate=130.0, spo2=88.0, resp_rate=16.0)
>>> view.jumps(burst, 60_000, cadence_ms=5_000, flagged=False)
Jumps(new=('heart_rate', 'spo2'), hold=True)
>>> view.robust_readings(60_000, burst, want=5)
(80.0, 97.0, 16.0)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from itertools import islice
from typing import NamedTuple

from monitor.vitals import VitalSample

#: The reference is the median of each vital over [t - 120 s, t - 10 s] (robust to the
#: burst itself and to noise), recomputed at most every 10 s and only while a
#: physiological condition is present (a well patient pays one deque append per sample).
_REF_FROM_MS, _REF_TO_MS, _REF_TTL_MS = 120_000, 10_000, 10_000
_REF_MIN_SAMPLES = 3
#: A vital with too few readings in that window (a probe re-attached after minutes off) is
#: compared with its last readings before the gap, up to this old (and as far back as `recent`
#: reaches): a probe that came back inside a motion burst was compared with nothing, so the
#: burst paged high (an independent generator's probe re-attachments, 2026-12-03).
_GAP_REF_MS = 600_000
#: ... and at least this many sampling intervals long: a stream sampled once a minute with a
#: quarter of its values missing still has the 3 readings per vital a median needs.
_REF_CADENCES = 10
_RECENT_MAX = 160
#: A jump no physiology makes within ~10 s, in the direction a motion burst moves the
#: vital (HR up, SpO2 down, RR up); two or more together without a motion flag =
#: artefact suspected. HR or RR falling is never taken for motion: apnoea with
#: desaturation, or a heart slowing as SpO2 falls, is the patient.
JUMP_HR, JUMP_SPO2, JUMP_RR = 15.0, 3.0, 4.0
JUMP_MIN_VITALS = 2
#: The streamed vitals, in the order `recent` keeps them after the timestamp.
STREAMED = ("heart_rate", "spo2", "resp_rate")
#: Fewer readings than this within the span: a stream just begun, or one sampled once a minute
#: (each reading a monitor's own average), is scored as it reads.
MEDIAN_MIN_READINGS = 3
_MEDIAN_SPAN_MS = 120_000
#: A jump whose previous jump is within this many sampling intervals (one reading may lack the
#: vitals) continues one run: held once, so a step that lasts confirms after one hold.
_JUMP_RUN_CADENCES = 2.5

#: (ts, HR, SpO2, RR): a tuple of numbers, which the garbage collector stops tracking;
#: keeping the samples themselves cost ~3 us per sample in GC passes (bench ward).
Reading = tuple[int, float | None, float | None, float | None]


class JumpRun(NamedTuple):
    """Consecutive readings in which vitals jumped: one burst, or one step that lasts."""

    last_ms: int  # the run's latest jumped reading
    vitals: frozenset[str]  # every vital that jumped in the run
    held: bool  # the run already placed its hold


class Jumps(NamedTuple):
    """What one reading's jumps mean for the engine."""

    new: tuple[str, ...]  # vitals that jumped for the first time in this run: not to be carried forward
    hold: bool  # several vitals jumped within one run not held yet: hold pages once


NO_JUMPS = Jumps((), False)


class StreamView:
    """The last readings of a patient's continuous stream and the current run of jumps."""

    __slots__ = ("_ref", "jumped_last", "recent", "run", "suspect")

    def __init__(self) -> None:
        self.recent: deque[Reading] = deque(maxlen=_RECENT_MAX)
        self._ref: Reading | None = None  # (valid until, median HR, SpO2, RR), cached
        self.run: JumpRun | None = None
        #: Vitals whose last reading jumped and was forgotten, until they are read again.
        self.suspect: frozenset[str] = frozenset()
        #: Vitals whose last reading jumped -> that reading's time: jumped again at its next
        #: reading, however far apart (RR read every third minute), it is a step that lasts.
        self.jumped_last: dict[str, int] = {}

    def remember(self, ts: int, clean: VitalSample) -> None:
        """Keep this continuous reading (after the checks that compare it with the ones before)."""
        self.recent.append((ts, clean.heart_rate, clean.spo2, clean.resp_rate))
        if self.jumped_last:  # a vital read again and not found jumped at this reading
            self.jumped_last = {v: t for v, t in self.jumped_last.items() if t == ts or getattr(clean, v) is None}

    def last(self, n: int) -> list[Reading]:
        """The last `n` readings, none for n <= 0 (what a checkpoint keeps: the median's input)."""
        recent = self.recent
        return list(islice(recent, max(len(recent) - max(n, 0), 0), None))

    def restore(self, readings: Sequence[Sequence[float | None]]) -> None:
        """Readings from a checkpoint, oldest first (the jump reference refills from new ones)."""
        for ts, hr, spo2, rr in readings:
            self.recent.append((int(ts), hr, spo2, rr))  # type: ignore[arg-type]

    def reread(self, clean: VitalSample) -> None:
        """A suspect vital read again: the new reading stands for it."""
        self.suspect = frozenset(v for v in self.suspect if getattr(clean, v) is None)

    # ---- the median of the last readings ------------------------------------
    def robust_readings(
        self, ts: int, clean: VitalSample, want: int
    ) -> tuple[float | None, float | None, float | None]:
        """Median HR, SpO2, RR of this reading and the ones before it: the last `want` of each
        within 2 min, None for a vital with fewer than `MEDIAN_MIN_READINGS` (scored as it reads).

        A patient on oxygen whose RR wanders 18-21 touches NEWS2 5 on one reading in four; the
        median of five readings does not, and a change that lasts shows in it within three.
        """
        oldest = ts - _MEDIAN_SPAN_MS
        picked: list[list[float]] = [[], [], []]
        for i, value in enumerate((clean.heart_rate, clean.spo2, clean.resp_rate)):
            if value is not None:
                picked[i].append(value)
        for r in reversed(self.recent):
            if r[0] < oldest:
                break
            for i in (0, 1, 2):
                v = r[i + 1]
                if v is not None and len(picked[i]) < want:
                    picked[i].append(v)
            if len(picked[0]) >= want and len(picked[1]) >= want and len(picked[2]) >= want:
                break
        hr, spo2, rr = (median(p, MEDIAN_MIN_READINGS) for p in picked)
        return hr, spo2, rr

    # ---- jumps: several vitals moving faster than physiology ----------------
    def jumps(self, clean: VitalSample, ts: int, cadence_ms: int, flagged: bool) -> Jumps:
        """Compare this reading with the median of each vital over the two minutes before the
        last 10 s. HR, SpO2 and RR moving by more than `JUMP_*` together, within one run of
        consecutive jumped readings (with values missing, a burst shows RR in one reading and
        SpO2 in the next), is an artefact until it has lasted the hold. A motion-flagged
        reading is one the device saw: it starts no run another burst continues.
        """
        ref = self._ref
        if ref is None or ts >= ref[0]:
            ref = self._ref = self._reference(ts, cadence_ms)
        _, hr, spo2, rr = ref
        jumped = [
            name
            for name, value, base in (
                ("heart_rate", clean.heart_rate, hr),
                ("spo2", clean.spo2, spo2),
                ("resp_rate", clean.resp_rate, rr),
            )
            if value is not None and base is not None and jumped_beyond_physiology(name, value, base)
        ]
        if not jumped:
            return NO_JUMPS
        run = self.run
        if run is None or ts - run.last_ms > _JUMP_RUN_CADENCES * max(cadence_ms, 1000):
            run = None  # the reading before did not jump: a new run starts here
        seen = run.vitals if run is not None else frozenset()
        current = None if flagged else JumpRun(ts, seen | frozenset(jumped), run is not None and run.held)
        # A jump not seen in this run before counts for this reading only (the caller stops
        # carrying it forward); jumped again at its next reading, it is the patient's value.
        lasting = self.jumped_last
        new = tuple(name for name in jumped if name not in seen and name not in lasting)
        for name in jumped:
            lasting[name] = ts
        if new:
            self.suspect = self.suspect | frozenset(new)
        hold = current is not None and not current.held and len(current.vitals) >= JUMP_MIN_VITALS
        self.run = current._replace(held=True) if hold and current is not None else current
        return Jumps(new, hold)

    def end_run(self, clean: VitalSample) -> None:
        """End the run when this reading shows a jumped vital back near its reference: two bursts
        a few minutes apart are two runs, each held (a reading that lacks them leaves it open)."""
        ref, run = self._ref, self.run
        if ref is None or run is None:
            return
        _, hr, spo2, rr = ref
        for name, value, base in (
            ("heart_rate", clean.heart_rate, hr),
            ("spo2", clean.spo2, spo2),
            ("resp_rate", clean.resp_rate, rr),
        ):
            if (
                name in run.vitals
                and value is not None
                and base is not None
                and not jumped_beyond_physiology(name, value, base)
            ):
                self.run = None
                return

    def settled(self, ts: int) -> tuple[float | None, float | None]:
        """HR and RR at rest over the two minutes before the last 10 s (the jump reference's
        window), robust to a burst inside it: the median of the readings within a jump
        (`JUMP_HR`, `JUMP_RR`) of the window's lower quartile.

        Motion and exertion push HR and RR only up, so the lower quartile is a resting value
        while up to three quarters of the window are disturbed, and trimming from it (not
        taking it) keeps the median of a calm window as it was. The plain median carried a
        60 s burst that filled half the window (HR 127, RR 25 on a patient at 74 / 17) into
        the activity after it, and NEWS2 5 paged on it (our matrix at 96 patients, 1 s,
        long unflagged bursts). Falls back to the jump reference's rule without enough readings.
        """
        hi, window = self._window(ts, 0)
        hr = _trimmed_median([r[1] for r in window], JUMP_HR)
        rr = _trimmed_median([r[3] for r in window], JUMP_RR)
        # Too few readings in the window: the jump reference's own fallback, the last before a gap.
        if hr is None:
            hr = self._before_gap(1, hi, ts - _GAP_REF_MS)
        if rr is None:
            rr = self._before_gap(3, hi, ts - _GAP_REF_MS)
        return hr, rr

    def _window(self, ts: int, cadence_ms: int) -> tuple[int, list[Reading]]:
        """(its end, the recent readings in it) of the window before the last 10 s: 2 min, or
        `_REF_CADENCES` sampling intervals if longer (a stream sampled once a minute)."""
        lo, hi = ts - max(_REF_FROM_MS, _REF_CADENCES * cadence_ms), ts - _REF_TO_MS
        return hi, [r for r in self.recent if lo <= r[0] <= hi]

    def _reference(self, ts: int, cadence_ms: int) -> Reading:
        """(valid until, median HR, SpO2, RR) of the recent readings in the window."""
        hi, window = self._window(ts, cadence_ms)
        hr, spo2, rr = (median([r[i] for r in window], _REF_MIN_SAMPLES) for i in (1, 2, 3))
        if hr is None or spo2 is None or rr is None:
            oldest = ts - _GAP_REF_MS
            hr = self._before_gap(1, hi, oldest) if hr is None else hr
            spo2 = self._before_gap(2, hi, oldest) if spo2 is None else spo2
            rr = self._before_gap(3, hi, oldest) if rr is None else rr
        return ts + _REF_TTL_MS, hr, spo2, rr

    def _before_gap(self, index: int, hi: int, oldest: int) -> float | None:
        """Median of a vital's last `_REF_MIN_SAMPLES` readings at or before `hi`, none older than `oldest`."""
        found: list[float | None] = []
        for r in reversed(self.recent):
            if r[0] > hi:
                continue
            if r[0] < oldest:
                break
            if r[index] is not None:
                found.append(r[index])
                if len(found) == _REF_MIN_SAMPLES:
                    break
        return median(found, _REF_MIN_SAMPLES)


def jumped_beyond_physiology(name: str, value: float, reference: float) -> bool:
    """A move no physiology makes within ~10 s, the way motion moves it: HR up, SpO2 down, RR up."""
    if name == "spo2":
        return reference - value >= JUMP_SPO2
    return value - reference >= (JUMP_HR if name == "heart_rate" else JUMP_RR)


def _trimmed_median(values: Sequence[float | None], above_low_quartile: float) -> float | None:
    """Median of the values less than `above_low_quartile` over their lower quartile (None with
    fewer than `_REF_MIN_SAMPLES`): one-sided trimming for a vital that motion only raises."""
    present = sorted(v for v in values if v is not None)
    if len(present) < _REF_MIN_SAMPLES:
        return None
    ceiling = present[len(present) // 4] + above_low_quartile
    return median([v for v in present if v < ceiling], 1)  # a reading a jump above is no rest


def median(values: Sequence[float | None], at_least: int) -> float | None:
    """The median of the values present, None with fewer than `at_least` of them."""
    present = sorted(v for v in values if v is not None)
    n = len(present)
    if n < at_least:
        return None
    return present[n // 2] if n % 2 else (present[n // 2 - 1] + present[n // 2]) / 2.0
