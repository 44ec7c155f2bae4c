"""`wardwatch alerts`: follow the alerts topic in the terminal, with filters."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import orjson

from alerts.format import TABLE_HEADER, alert_line, alert_row, table_line
from streams.config import Settings
from streams.kafka import BrokerUnavailable, consumer


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "alerts",
        help="follow alerts as they are published",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch alerts --priority high --status raised,escalated\n"
        "  wardwatch alerts --table --from-beginning --timeout 5",
    )
    p.add_argument("--bootstrap", help="broker list (default: WARDWATCH_KAFKA_BOOTSTRAP)")
    p.add_argument("--priority", help="comma list: high,medium,low")
    p.add_argument("--status", help="comma list: raised,escalated,acknowledged,resolved")
    p.add_argument("--kind", help="comma list: news2,anomaly,threshold,signal_loss,technical")
    p.add_argument("--ward", help="only alerts whose ward (if known) is this")
    p.add_argument("--from-beginning", action="store_true", help="replay the whole topic first")
    p.add_argument("--json", action="store_true", help="print the raw JSON of each alert")
    p.add_argument("--table", action="store_true", help="compact table view")
    p.add_argument("--count", type=int, default=0, help="stop after this many alerts (0 = never)")
    p.add_argument("--timeout", type=float, default=0, help="stop after this many idle seconds (0 = never)")
    p.set_defaults(run=run)


def _set(text: str | None) -> set[str] | None:
    return {t.strip() for t in text.split(",") if t.strip()} if text else None


def matches(doc: dict, args: argparse.Namespace) -> bool:
    location = doc.get("location") if isinstance(doc.get("location"), dict) else {}
    values = {**doc, "ward": location.get("ward") or doc.get("ward")}  # ADT location first (docs/gateways.md)
    for field, wanted in (
        ("priority", _set(args.priority)),
        ("status", _set(args.status)),
        ("kind", _set(args.kind)),
        ("ward", _set(args.ward)),
    ):
        if wanted is not None and str(values.get(field)) not in wanted:
            return False
    return True


async def follow(settings: Settings, args: argparse.Namespace, out=sys.stdout) -> int:
    cons = await consumer(
        settings,
        settings.topics.alerts,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=False,
        group_id=None,
    )
    shown = 0
    colour = out.isatty()
    if args.table:
        print(table_line(TABLE_HEADER), file=out, flush=True)
    idle_since = time.monotonic()
    try:
        while True:
            batch = await cons.getmany(timeout_ms=500)
            if not batch and args.timeout and time.monotonic() - idle_since > args.timeout:
                return 0
            for records in batch.values():
                idle_since = time.monotonic()
                for record in records:
                    try:
                        doc = orjson.loads(record.value)
                    except orjson.JSONDecodeError:
                        continue
                    if not matches(doc, args):
                        continue
                    if args.json:
                        line = record.value.decode()
                    elif args.table:
                        line = table_line(alert_row(doc))
                    else:
                        line = alert_line(doc, colour)
                    print(line, file=out, flush=True)
                    shown += 1
                    if args.count and shown >= args.count:
                        return 0
    finally:
        await cons.stop()


def run(args: argparse.Namespace) -> int:
    overrides = {"bootstrap": args.bootstrap} if args.bootstrap else {}
    try:
        return asyncio.run(follow(Settings.from_env(**overrides), args))
    except BrokerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
