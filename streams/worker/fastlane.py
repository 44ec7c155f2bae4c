"""Batch lane: the input topics' records go to the worker a fetched batch at a time.

Why: Faust hands every message to an agent through its conductor (an Event
per message, a queue hop into the stream, sensor hooks) and its fetch loop
waits on each message with `Service.wait_first` (two tasks per message).
On this machine that is ~150 µs of CPU per message while the domain work for
a 3-sample gateway message is ~60 µs, so the framework, not the ward, set
the worker's rate (docs/performance.md has the profile). Measured with the
lane (dcb6764, `wardwatch bench`): 14k -> 33k samples/s batched, pipeline /
baseline 0.44 -> 0.95.

This lane keeps everything Faust is good at: the consumer group and its
partition assignment, the table and its changelog recovery, the commit task
(our checkpoint sensor still runs right before each commit), flow control
during rebalances, the web server. It only replaces the per-message hand-off
for the topics registered here: Faust's fetch loop is swapped for one that
passes each fetched batch of those topics to a handler, then marks the
offsets acknowledged exactly as `Consumer.ack` would (so commits, gaps and
`wait_empty` on revoke behave as before). Records of every other topic
(acks, table changelogs) take Faust's original per-message path.

Safety points, each mirrored from Faust's own loop:
- a record is acknowledged only after its handler returned, so the commit
  that follows (and the checkpoint before it) covers its state change;
- while a batch is in hand a sentinel sits in the consumer's unacked set, so
  a revoke's `wait_empty` waits for the record being processed;
- flow control and the consumer generation are checked before every record:
  a rebalance stops the batch at the next record, and the remaining records
  are fetched again from the committed offset by whoever owns them next;
- the producer buffer's back-pressure is honoured once per batch.

Set WARDWATCH_BATCH_LANE=0 to fall back to Faust's per-message agents (the
same handler code runs in both).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

log = logging.getLogger("wardwatch.fastlane")

#: `handler(record)` processes one aiokafka ConsumerRecord completely
#: (state change staged, outputs handed to the producer) and never raises
#: for bad input; the lane acknowledges the offset when it returns.
RecordHandler = Callable[[Any], Awaitable[None]]

_original_drain = Consumer._drain_messages
_LANES: weakref.WeakKeyDictionary[Any, BatchLane] = weakref.WeakKeyDictionary()


class _InFlight:
    """Stands in the consumer's unacked set while a batch is processed (what `wait_empty` waits on)."""

    __slots__ = ("__weakref__", "acked", "refcount")

    def __init__(self) -> None:
        self.acked = False
        self.refcount = 1


class BatchLane:
    """The batch hand-off for one app's input topics."""

    def __init__(self, topics: Iterable[str], handler: RecordHandler) -> None:
        self.topics = frozenset(topics)
        self.handler = handler

    async def run(self, consumer: Consumer, tp: Any, records: list, generation: int) -> None:
        """Handle `records` of one partition in order; acknowledge each once handled."""
        app = consumer.app
        read_offset = consumer._read_offset
        acking = app.topics.acks_enabled_for(tp.topic)
        await app.flow_control.acquire()
        await app.producer.buffer.wait_until_ebb()
        marker = _InFlight()
        consumer._unacked_messages.add(marker)
        try:
            async for record in _deliverable(consumer, tp, records, generation, acking):
                offset = record.offset
                await self.handler(record)
                if acking:
                    _ack(consumer, tp, offset)
                read_offset[tp] = offset
        finally:
            marker.acked = True
            consumer._unacked_messages.discard(marker)
            notify(consumer._waiting_for_ack)
        await _commit_if_due(consumer)


def _ack(consumer: Consumer, tp: Any, offset: int) -> None:
    """`Consumer.ack` for a record that never became a Faust Message."""
    with ack_lock:
        committed = consumer._committed_offset[tp]
        if committed is None or offset >= committed:
            index = consumer._acked_index[tp]
            if offset not in index:
                index.add(offset)
                consumer._acked[tp].append(offset)
                consumer._n_acked += 1


def install(app: Any, topics: Iterable[str], handler: RecordHandler) -> BatchLane:
    """Route `topics` of `app` through a BatchLane calling `handler` (other apps are untouched)."""
    lane = BatchLane(topics, handler)
    _LANES[app] = lane
    Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    return lane


async def _drain_messages(self: Consumer, fetcher: Any) -> None:
    """Faust's fetch loop, with whole batches of the lane's topics handed over at once."""
    lane = _LANES.get(self.app)
    if lane is None:
        return await _original_drain(self, fetcher)
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            self.diag.set_flag(CONSUMER_FETCHING)
            records, active = await self._wait_next_records(1.0)
            await self.sleep(0)
            if records is not None and not self.should_stop:
                if self.flow_active:
                    await _dispatch(self, lane, records, active)
                else:
                    await _seek_back(self)
            self.diag.unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            log.info("broker stopped the consumer while shutting down")
            return
        raise
    finally:
        self.diag.unset_flag(CONSUMER_FETCHING)


async def _dispatch(consumer: Consumer, lane: BatchLane, records: dict, active: set | None) -> None:
    app = consumer.app
    generation = app.consumer_generation_id
    for tp, batch in records.items():
        if not consumer.flow_active or app.consumer_generation_id != generation:
            return
        if not (active is None or tp in active or tp in consumer._buffered_partitions):
            continue
        app.monitor.track_tp_end_offset(tp, consumer.highwater(tp))
        if tp.topic in lane.topics:
            await lane.run(consumer, tp, batch, generation)
        else:
            await _one_by_one(consumer, tp, batch, generation)


async def _one_by_one(consumer: Consumer, tp: Any, batch: list, generation: int) -> None:
    """Faust's own per-message delivery (conductor → channels), for every other topic."""
    app = consumer.app
    read_offset = consumer._read_offset
    callback = consumer.callback
    async for record in _deliverable(consumer, tp, batch, generation, app.topics.acks_enabled_for(tp.topic)):
        offset = record.offset
        await _commit_if_due(consumer)
        await consumer.wait_first(callback(consumer._to_message(tp, record)), consumer.suspend_flow.wait())
        read_offset[tp] = offset


async def _commit_if_due(consumer: Consumer) -> None:
    """Faust's `broker_commit_every`: commit once that many messages were acknowledged."""
    commit_every = consumer._commit_every
    if commit_every is not None and consumer._n_acked >= commit_every:
        consumer._n_acked = 0
        await consumer.commit()


async def _deliverable(consumer: Consumer, tp: Any, batch: list, generation: int, acking: bool) -> AsyncIterator[Any]:
    """The records Faust's loop would deliver, in order: none once flow stops or the
    generation changes, none already handed out; offsets skipped are filed as gaps."""
    app = consumer.app
    read_offset = consumer._read_offset
    for record in batch:
        if not consumer.flow_active or app.consumer_generation_id != generation:
            return
        offset = record.offset
        last = read_offset[tp]
        if last is not None and offset < last:
            continue  # already handed out (Faust's loop drops these too)
        if acking and last is not None and offset - last > 1:
            await consumer._add_gap(tp, last + 1, offset)
        yield record


async def _seek_back(consumer: Consumer) -> None:
    """Flow stopped (rebalance): go back to the committed offsets, as Faust's getmany does."""
    try:
        await consumer.perform_seek()
    except Exception as exc:
        log.warning("seek to committed offsets while flow is stopped failed: %r", exc)
