"""`wardwatch notify`: page on-call staff for alerts, chase unacknowledged ones, write the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from alerts.routing import RoutingError, load_routing
from streams import logs
from streams.config import Settings
from streams.kafka import BrokerUnavailable, BrokerUnreachable, ensure_topics
from streams.notify import ChannelConfigError, Notifier, NotifyOptions, build_channels, metrics

log = logging.getLogger("wardwatch.notify")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "notify",
        help="deliver alerts to on-call staff (routing, rota, escalation, signed webhooks, audit)",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch notify          # built-in demo routing, pages printed on stdout\n"
        "  WARDWATCH_PAGER_SECRET=s3cret wardwatch notify --routing deploy/routing.example.toml\n"
        "  wardwatch notify --check --routing deploy/routing.example.toml   # validate the file and exit",
    )
    p.add_argument(
        "--routing",
        default=os.environ.get("WARDWATCH_ROUTING"),
        help="routing TOML file (default: WARDWATCH_ROUTING, else the built-in demo routing)",
    )
    p.add_argument("--bootstrap", help="broker list (default: WARDWATCH_KAFKA_BOOTSTRAP)")
    p.add_argument(
        "--group",
        default=os.environ.get("WARDWATCH_NOTIFY_GROUP"),
        help="consumer group (default: WARDWATCH_NOTIFY_GROUP, else <app id>-notify)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("WARDWATCH_NOTIFY_METRICS_PORT", "9109")),
        help="Prometheus /metrics port (0 = off)",
    )
    p.add_argument(
        "--metrics-host",
        default=os.environ.get("WARDWATCH_METRICS_HOST", "0.0.0.0"),
        help="address /metrics listens on (default: WARDWATCH_METRICS_HOST, else 0.0.0.0)",
    )
    p.add_argument(
        "--state-topic",
        default=os.environ.get("WARDWATCH_TOPIC_NOTIFY_STATE", "notify-state"),
        help="compacted topic holding delivery state",
    )
    p.add_argument(
        "--wards-topic",
        default=os.environ.get("WARDWATCH_TOPIC_PATIENT_WARDS", "patient-wards"),
        help='topic of {"patient_id", "ward", "bed"} records',
    )
    p.add_argument("--tick", type=float, default=1.0, help="seconds between escalation timer checks")
    p.add_argument(
        "--max-age",
        type=float,
        default=3600.0,
        help="alerts emitted longer ago than this (s) are audited but not paged (0 = page all)",
    )
    p.add_argument(
        "--forget-after",
        type=float,
        default=24.0,
        metavar="HOURS",
        help="forget an alert's delivery state this many hours after it resolved",
    )
    p.add_argument("--check", action="store_true", help="validate the routing file and channels, then exit")
    p.set_defaults(run=run)


async def _ensure_compacted(settings: Settings, *topics: str) -> None:
    """State and ward tables are compacted topics: only the last value per key matters."""
    from aiokafka.admin import NewTopic
    from aiokafka.errors import KafkaError

    from streams.kafka import connect_admin

    admin = await connect_admin(settings, attempts=5)
    try:
        existing = set(await admin.list_topics())
        for topic in (t for t in topics if t not in existing):
            await admin.create_topics(
                [NewTopic(topic, 1, settings.replication, topic_configs={"cleanup.policy": "compact"})]
            )
    except KafkaError as exc:
        log.warning("could not create %s as compacted topics (%s)", ", ".join(topics), exc)
    finally:
        await admin.close()


async def _main(settings: Settings, options: NotifyOptions, args: argparse.Namespace) -> int:
    channels = build_channels(options.routing)
    await ensure_topics(settings, attempts=5)
    await _ensure_compacted(settings, options.state_topic, options.wards_topic)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Notifier(settings, options, channels).run(stop)
    return 0


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(**({"bootstrap": args.bootstrap} if args.bootstrap else {}))
    logs.setup(settings.log_level, settings.log_format)
    try:
        routing = load_routing(args.routing)
        if args.check:
            build_channels(routing)
            print(
                f"routing {routing.source} ok: sha256:{routing.sha256[:12]}, {len(routing.people)} people, "
                f"{len(routing.rota)} rota lines, channels {', '.join(routing.channels)}"
            )
            return 0
    except (RoutingError, ChannelConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    options = NotifyOptions(
        routing,
        args.group or f"{settings.app_id}-notify",
        args.state_topic,
        args.wards_topic,
        args.tick,
        args.max_age,
        args.forget_after * 3600,
    )
    metrics.init_channels(list(routing.channels))
    if args.metrics_port:
        metrics.serve(args.metrics_port, args.metrics_host)
    log.info("notify: routing %s (sha256:%s), metrics on :%d", routing.source, routing.sha256[:12], args.metrics_port)
    try:
        return asyncio.run(_main(settings, options, args))
    except ChannelConfigError as exc:
        log.error("%s", exc)
        return 2
    except (BrokerUnavailable, BrokerUnreachable) as exc:
        log.error("%s", exc)
        return 3
