"""`wardwatch audit PATIENT_OR_ALERT_ID`: the full timeline of an episode, from the audit topic.

raised -> delivered to whom -> escalated -> acknowledged by whom -> resolved,
with the routing file (by hash) in force, as a table or as JSON for a report.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

from alerts.audit import AuditRecord, parse_record, render_table, timelines
from streams.config import Settings
from streams.kafka import BrokerUnavailable
from streams.notify import read_topic


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "audit",
        help="reconstruct an alert episode's timeline from the audit trail",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch audit phys-3f2a9c0d1e5b7a6c4d2e\n"
        "  wardwatch audit MRN-000417 --json > episode.json\n"
        "every row shows two clocks: wall clock (the timeline's order) and the alert's event time (the\n"
        "patient data's clock, hours away in a replay or the demo); durations are wall clock.\n"
        "the audit topic is written by `wardwatch notify` (the demo starts one): no notify, no records.",
    )
    p.add_argument("id", metavar="PATIENT_OR_ALERT_ID", help="an alert id, or a patient id (all its episodes)")
    p.add_argument("--json", action="store_true", help="print the episodes as JSON")
    p.add_argument("--bootstrap", help="broker list (default: env WARDWATCH_KAFKA_BOOTSTRAP, else 127.0.0.1:9092)")
    p.add_argument(
        "--idle-seconds",
        type=float,
        default=1.0,
        help="the topic counts as read to its end once "
        "no record arrives for this many seconds (raise it on a slow or remote broker)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no explanation on stderr when nothing is found (the exit code still says so)",
    )
    p.set_defaults(run=run)


async def load_records(settings: Settings, idle_s: float) -> list[AuditRecord]:
    out = []
    for record in await read_topic(settings, settings.topics.audit, quiet_s=idle_s, timeout_s=600):
        try:
            out.append(parse_record(record.value))
        except (ValueError, KeyError):
            continue  # a schema this version does not know: skipped, not fatal
    return out


def nothing_found(query: str, topic: str, records: list[AuditRecord]) -> str:
    """Why there is no timeline, and what to do: an empty topic means no notify wrote it."""
    if not records:
        return (
            f"no audit records for {query}: topic {topic} is empty. Only `wardwatch notify` writes the audit "
            "trail; start it against this broker (the demo runs one), then alerts raised from then on "
            "are audited"
        )
    alerts = sum(1 for r in records if r.alert_id)
    return (
        f"no audit records for {query} among {len(records)} on topic {topic} ({alerts} about alerts): check "
        "the id (an alert id like phys-..., or a patient id; `wardwatch alerts --from-beginning` lists them), "
        "or the alert came before notify started"
    )


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(**({"bootstrap": args.bootstrap} if args.bootstrap else {}))
    try:
        records = asyncio.run(load_records(settings, args.idle_seconds))
    except BrokerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    episodes = timelines(records, args.id)
    if args.json:
        print(
            orjson.dumps(
                {"query": args.id, "episodes": [e.to_wire() for e in episodes]}, option=orjson.OPT_INDENT_2
            ).decode()
        )
    elif episodes:
        print(render_table(episodes))
    if not episodes:
        if not args.quiet:
            print(f"error: {nothing_found(args.id, settings.topics.audit, records)}", file=sys.stderr)
        return 1
    return 0
