"""Scale-out: two worker processes in one consumer group split the partitions; stopping one (SIGTERM), or
killing one (SIGKILL), moves its patients, with their state, to the other, and alerts continue as if
nothing had happened."""

from __future__ import annotations

import time

import pytest

from streams.worker.processor import partition_for
from tests.conftest import consume_sync, produce_sync
from tests.integration.test_durability import Reference, Ward, assert_same_as_reference, wait_alerts

pytestmark = pytest.mark.integration


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_split_partitions_and_one_leaving_hands_over_its_patients_with_state(broker, worker_factory):
    ward = Ward("MRN-B", onsets=(60, 64, 68, 72, 76, None))
    patients = ward.patients
    assert len({partition_for(p, 4) for p in patients}) >= 3  # patients on both workers' partitions
    first, second = ward.messages(0, 90), ward.messages(90, 105)
    third, fourth = ward.messages(105, 115), ward.messages(115, 135)
    ref = Reference()
    ref.feed(first)

    a = worker_factory()
    b = worker_factory()  # same WARDWATCH_APP_ID: one consumer group

    def split() -> bool:
        return a.metric("wardwatch_assigned_partitions") == 2 == b.metric("wardwatch_assigned_partitions")

    wait_until(split, 60, "both workers to hold 2 of the 4 partitions")
    a.wait_ready(60)
    b.wait_ready(60)

    produce_sync(broker.bootstrap, "vitals", first)
    total = Ward.samples(first)
    wait_until(
        lambda: a.metric("wardwatch_samples_processed_total") + b.metric("wardwatch_samples_processed_total") >= total,
        60,
        "the first stretch to be processed",
    )
    assert a.metric("wardwatch_samples_processed_total") > 0 and b.metric("wardwatch_samples_processed_total") > 0
    wait_alerts(broker.bootstrap, patients, set(ref.expected()))
    # The gauge is refreshed by the worker's 1 s timer.
    wait_until(
        lambda: b.metric("wardwatch_patients_active") > 0 and a.metric("wardwatch_patients_active") > 0,
        10,
        "both workers to hold patients",
    )

    # b leaves the group; a takes over b's partitions and recovers b's patients from the changelog.
    assert b.stop() == 0, b.log()[-3000:]
    wait_until(lambda: a.metric("wardwatch_assigned_partitions") == 4, 60, "a to take over all partitions")
    a.wait_ready(60)
    wait_until(lambda: a.metric("wardwatch_patients_active") == len(patients), 10, "a to hold every patient")

    before = a.metric("wardwatch_samples_processed_total")
    ref.feed(second)
    produce_sync(broker.bootstrap, "vitals", second)
    a.wait_metric("wardwatch_samples_processed_total", before + Ward.samples(second))
    wait_alerts(broker.bootstrap, patients, set(ref.expected()))

    # A new worker c joins (a hands half the partitions over through the revocation path), then a is
    # killed with SIGKILL: c takes over a's partitions after the session timeout, from the changelog.
    c = worker_factory()
    wait_until(
        lambda: a.metric("wardwatch_assigned_partitions") == 2 == c.metric("wardwatch_assigned_partitions"),
        60,
        "a and c to hold 2 partitions each",
    )
    ref.feed(third)
    produce_sync(broker.bootstrap, "vitals", third)
    wait_alerts(broker.bootstrap, patients, set(ref.expected()))
    a.kill()
    wait_until(lambda: c.metric("wardwatch_assigned_partitions") == 4, 60, "c to take over all partitions")
    c.wait_ready(60)
    ref.feed(fourth)
    produce_sync(broker.bootstrap, "vitals", fourth)
    records = wait_alerts(broker.bootstrap, patients, set(ref.expected()))
    time.sleep(1.0)
    records = consume_sync(broker.bootstrap, "alerts", lambda rs: len(rs) >= len(records), timeout=10)
    # Same (alert_id, status) set and detector scores as one uninterrupted worker: no new episode ids for
    # open episodes, no detector warm-up for the patients that moved.
    counts = assert_same_as_reference(records, ref, patients)
    print(
        f"\nrebalance test: alerts expected {counts['expected']}, seen {counts['seen']}, "
        f"duplicates {counts['duplicates']}"
    )
