"""Which offsets are safe to commit while messages are handled concurrently.

Pages for different alerts go out in parallel, so a gateway retrying one
alert must not hold up another patient's page; but an offset may only be
committed once every message before it on its partition is delivered (or
dead-lettered). The safe offset is the oldest one still in flight, or one
past the newest seen when nothing is.
"""

from __future__ import annotations

from aiokafka.structs import TopicPartition


class OffsetTracker:
    def __init__(self) -> None:
        self.in_flight: dict[TopicPartition, set[int]] = {}
        self.newest: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}

    def started(self, tp: TopicPartition, offset: int) -> None:
        self.in_flight.setdefault(tp, set()).add(offset)
        self.newest[tp] = max(self.newest.get(tp, -1), offset)

    def finished(self, tp: TopicPartition, offset: int) -> None:
        self.in_flight.get(tp, set()).discard(offset)

    @property
    def busy(self) -> int:
        return sum(len(s) for s in self.in_flight.values())

    def to_commit(self) -> dict[TopicPartition, int]:
        """Offsets that moved since the last call (Kafka commits the *next* offset to read)."""
        out = {}
        for tp, newest in self.newest.items():
            pending = self.in_flight.get(tp)
            safe = min(pending) if pending else newest + 1
            if safe != self.committed.get(tp):
                out[tp] = safe
        return out

    def mark_committed(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)
