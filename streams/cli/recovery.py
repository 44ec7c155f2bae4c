"""`wardwatch recovery`: how long a restarted worker takes to get N patients' state back, per store."""

from __future__ import annotations

import argparse
import json
import sys

from streams.kafka import BrokerError, EmbeddedBroker


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "recovery",
        help="measure state recovery time of a restarted worker (memory vs RocksDB store)",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch recovery --patients 10000 --store rocksdb\n"
        "  wardwatch recovery --patients 10000 --store both --json\n"
        "  wardwatch recovery --bootstrap 127.0.0.1:9092 --patients 1000   # against a running broker",
    )
    p.add_argument("--patients", type=int, default=10000, help="patients whose state is recovered")
    p.add_argument("--store", choices=("memory", "rocksdb", "both"), default="both", help="state store to measure")
    p.add_argument(
        "--bootstrap", default=None, help="Kafka bootstrap to use (default: start an embedded broker for the run)"
    )
    p.add_argument("--timeout", type=float, default=600.0, help="give up on a worker after this many seconds")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from streams.bench import measure_recovery

    if args.patients < 1:
        _say("--patients must be at least 1")
        return 2
    stores = ["memory", "rocksdb"] if args.store == "both" else [args.store]
    broker = None
    bootstrap = args.bootstrap
    try:
        if not bootstrap:
            try:
                broker = EmbeddedBroker().start()
            except BrokerError as exc:
                _say(f"cannot start the embedded broker: {exc}")
                return 3
            bootstrap = broker.bootstrap
            _say(f"embedded broker on {bootstrap}")
        results = []
        for store in stores:
            _say(f"== {store} store, {args.patients} patients")
            try:
                results.append(measure_recovery(bootstrap, args.patients, store, progress=_say, timeout=args.timeout))
            except RuntimeError as exc:
                _say(f"failed: {exc}")
                return 1
    finally:
        if broker:
            broker.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"{'store':<8} {'patients':>8} {'B/patient':>9} {'cold ready s':>12} {'cold recov s':>12} "
            f"{'restart ready s':>15} {'restart recov s':>15}"
        )
        for r in results:
            print(
                f"{r['store']:<8} {r['patients']:>8} {r['state_bytes_per_patient']:>9} "
                f"{r['cold']['ready_s']:>12} {r['cold']['recovery_s']:>12} "
                f"{r['restart']['ready_s']:>15} {r['restart']['recovery_s']:>15}"
            )
    return 0
