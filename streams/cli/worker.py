"""`wardwatch worker`: the Faust stream processor, configured from the environment."""

from __future__ import annotations

import argparse
import asyncio
import logging

from alerts.config import load_policy
from streams import logs, metrics
from streams.config import Settings, environment_help
from streams.ingest import IngestLimits
from streams.kafka import BrokerUnreachable, ensure_topics

log = logging.getLogger("wardwatch.worker")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "worker",
        help="run a stream worker (reads WARDWATCH_* environment variables)",
        formatter_class=Formatter,
        epilog="example:\n  WARDWATCH_KAFKA_BOOTSTRAP=127.0.0.1:9092 wardwatch worker\n"
        "  WARDWATCH_STORE=rocksdb WARDWATCH_DATA_DIR=/var/lib/wardwatch wardwatch worker\n\n"
        + environment_help()
        + "\n(topics and messages: docs/contract.md)",
    )
    p.add_argument(
        "--connect-attempts",
        type=int,
        default=0,
        help="give up after this many failed broker connections (0 = keep retrying with backoff)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        # The policy file (and the detector it names) is checked before anything
        # connects: an unknown detector or parameter exits 2 naming it.
        load_policy(settings.config_path)
        IngestLimits.from_env()  # a bad limit stops here, named, not as a traceback from the listener
    except ValueError as exc:
        logs.setup("info", "text")
        log.error("configuration error: %s", exc)
        return 2
    logs.setup(settings.log_level, settings.log_format)
    try:
        partitions = asyncio.run(ensure_topics(settings, attempts=args.connect_attempts))
    except BrokerUnreachable as exc:
        log.error("%s", exc)
        return 3
    asyncio.set_event_loop(asyncio.new_event_loop())
    from faust.worker import Worker as FaustWorker

    from streams.worker import Worker

    metrics.serve(settings.metrics_port, settings.metrics_host)
    worker = Worker(settings, partitions)
    log.info(
        "worker %s consuming %s (%d partitions) from %s; metrics on :%d/metrics, web on :%d",
        settings.app_id,
        settings.topics.vitals,
        partitions,
        settings.bootstrap,
        settings.metrics_port,
        settings.web_port,
    )
    # override_logging=False: Faust's Worker would replace the root handlers
    # with its own text format; ours (text or JSON) stays for every logger.
    faust_worker = FaustWorker(
        worker.app, loglevel=settings.log_level.upper(), quiet=True, redirect_stdouts=False, override_logging=False
    )
    faust_worker.spinner = None  # its terminal escapes would corrupt a log line (JSON logs are one per line)
    # SIGTERM/SIGINT: Faust stops the agents, waits for in-flight events,
    # commits (our sensor checkpoints first, the producer is flushed), exits 0.
    faust_worker.execute_from_commandline()
    return 0
