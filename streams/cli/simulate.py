"""`wardwatch simulate`: stream the synthetic ward (monitor.cohort) into Kafka.

Event time is laid so the simulated span ends about now; `--speed` compresses
it (600 = ten simulated minutes per wall second) so hours replay in seconds,
and `--speed 0` sends as fast as the broker takes it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time

import orjson

from monitor.cohort import CohortSpec, generate_cohort, iter_messages
from streams.config import Settings
from streams.kafka import BrokerUnavailable, producer


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "simulate",
        help="stream a synthetic ward of wearables into the vitals topic",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch simulate --patients 50 --hours 6 --speed 600 --deteriorating 0.3\n"
        "  wardwatch simulate --patients 200 --hours 24 --speed 0   # as fast as possible",
    )
    add_cohort_arguments(p)
    p.add_argument("--speed", type=float, default=300.0, help="simulated seconds per wall second (0 = max)")
    p.add_argument("--bootstrap", help="broker list (default: WARDWATCH_KAFKA_BOOTSTRAP)")
    p.add_argument("--topic", help="target topic (default: WARDWATCH_TOPIC_VITALS or vitals)")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(run=run)


def add_cohort_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--patients", type=int, default=20, help="simulated patients")
    p.add_argument("--hours", type=float, default=6.0, help="simulated span")
    p.add_argument("--deteriorating", type=float, default=0.3, help="share of patients who deteriorate")
    p.add_argument("--seed", type=int, default=7, help="cohort seed (same seed, same ward)")
    p.add_argument("--no-artifacts", action="store_true", help="clean signals (no motion, probe-off, dropouts)")
    p.add_argument("--batch-seconds", type=float, default=5.0, help="seconds of samples per batch message (0 = single)")


def cohort_from_args(args: argparse.Namespace, end_ms: int | None = None) -> CohortSpec:
    spec = CohortSpec(
        n_patients=args.patients,
        hours=args.hours,
        seed=args.seed,
        deteriorating_share=args.deteriorating,
        artifacts=not args.no_artifacts,
    )
    if end_ms is not None:
        spec = dataclasses.replace(spec, start_ms=end_ms - int(args.hours * 3_600_000))
    return spec


def _first_ts(message: dict) -> int:
    samples = message.get("samples")
    return int(samples[0]["ts"] if samples else message["ts"])


async def stream(
    settings: Settings, spec: CohortSpec, speed: float, batch_seconds: float, topic: str, quiet: bool = False
) -> tuple[int, int]:
    cohort = generate_cohort(spec)
    prod = await producer(settings)
    sent_messages = sent_samples = 0
    wall0 = time.monotonic()
    last_report = 0.0
    pending = []
    try:
        for message in iter_messages(cohort, batch_seconds=batch_seconds or 0.001):
            ts = _first_ts(message)
            if speed > 0:
                due = (ts - spec.start_ms) / 1000.0 / speed
                delay = due - (time.monotonic() - wall0)
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.append(await prod.send(topic, orjson.dumps(message), key=message["patient_id"].encode()))
            sent_messages += 1
            sent_samples += len(message.get("samples") or [message])
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
            now = time.monotonic()
            if not quiet and now - last_report > 1.0:
                last_report = now
                done = (ts - spec.start_ms) / (spec.end_ms - spec.start_ms)
                print(
                    f"\rsimulate: {done:6.1%} of {spec.hours:g} h, {sent_messages} messages, {sent_samples} samples",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
        await asyncio.gather(*pending)
    finally:
        await prod.stop()
    if not quiet:
        print(f"\rsimulate: done, {sent_messages} messages, {sent_samples} samples" + " " * 20, file=sys.stderr)
    return sent_messages, sent_samples


def run(args: argparse.Namespace) -> int:
    overrides = {"bootstrap": args.bootstrap} if args.bootstrap else {}
    settings = Settings.from_env(**overrides)
    spec = cohort_from_args(args, end_ms=int(time.time() * 1000))
    topic = args.topic or settings.topics.vitals
    try:
        asyncio.run(stream(settings, spec, args.speed, args.batch_seconds, topic, args.quiet))
    except BrokerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    return 0
