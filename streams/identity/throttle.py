"""Slow down password guessing: per user name and per client address, in memory.

Five failures within 5 minutes block that name (or that address) for the rest
of the window. In memory per worker on purpose: it needs no shared store, and
an attacker spreading guesses over workers still meets argon2's cost per try.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque

MAX_FAILURES = 5
WINDOW_S = 300.0


class SignInThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] > self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return deque()
        return times

    def blocked(self, username: str, remote: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return any(len(self._recent(k, now)) >= self.max_failures for k in (f"u:{username}", f"r:{remote}"))

    def failed(self, username: str, remote: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in (f"u:{username}", f"r:{remote}"):
            self._failures[key].append(now)
        if len(self._failures) > 10000:  # bounded under a spray of names
            self._failures.clear()

    def succeeded(self, username: str, remote: str) -> None:
        self._failures.pop(f"u:{username}", None)
