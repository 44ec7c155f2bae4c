"""`wardwatch broker`: run the embedded tansu broker in the foreground (dev and demo)."""

from __future__ import annotations

import argparse
import signal
import time

from streams.kafka import BrokerError, EmbeddedBroker


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "broker",
        help="run the embedded Kafka-compatible broker (tansu, memory only)",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch broker --port 9092 &\n  export WARDWATCH_KAFKA_BOOTSTRAP=127.0.0.1:9092",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=9092, help="0 picks a free port")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        broker = EmbeddedBroker(args.host, args.port).start()
    except BrokerError as exc:
        print(f"error: {exc}; is another broker already on port {args.port}? try --port 0")
        return 1
    print(f"broker ready: WARDWATCH_KAFKA_BOOTSTRAP={broker.bootstrap}  (memory only; Ctrl-C stops it)", flush=True)
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and broker.process and broker.process.poll() is None:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()
    return 0
