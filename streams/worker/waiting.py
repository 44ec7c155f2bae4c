"""What a worker that is not processing waits for, logged while it waits.

A worker killed and restarted used to wait silently for the dead member's
session to expire; a person watching the log saw nothing for a minute. The
worker now says at once, and every few seconds, what it waits for.
"""

from __future__ import annotations

import logging
import time

from streams.config import Settings

log = logging.getLogger("wardwatch.worker")


class WaitReporter:
    """Logs, every few seconds, what a worker that is not processing is waiting for and for how long.

    `since` is the last moment the worker was seen ready (or its start): `done()` moves it each second."""

    FIRST_S = 2.0
    EVERY_S = 3.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.since = time.monotonic()
        self.last = 0.0
        self.reported = False

    def rebalance_text(self) -> str:
        s = self.settings
        return (
            f"waiting for consumer group {s.app_id!r} to assign partitions: partitions held by a previous member "
            f"(e.g. a crashed worker) are released when its session expires "
            f"({s.session_timeout_s:g} s without heartbeats, WARDWATCH_SESSION_TIMEOUT_S); members have "
            f"{s.rebalance_timeout_s:g} s to rejoin"
        )

    def report(self, reason: str) -> None:
        now = time.monotonic()
        waited = now - self.since
        if waited < self.FIRST_S or (self.last and now - self.last < self.EVERY_S):
            return
        self.last = now
        self.reported = True
        log.info("not processing yet, %.0f s so far: %s", waited, reason)

    def done(self) -> None:
        if self.reported:
            log.info("processing again after %.1f s", time.monotonic() - self.since)
        self.reported = False
        self.last = 0.0
        self.since = time.monotonic()
