"""`wardwatch ack ALERT_ID --by NAME`: acknowledge (or resolve) an alert over Kafka."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import orjson

from alerts.acks import Ack, AckAction
from streams.config import Settings
from streams.kafka import BrokerUnavailable, consumer, producer


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "ack", help="acknowledge or resolve an alert (publishes to alert-acks)",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch ack phys-3f2a9c0d1e5b7a6c4d2e --by 'Nurse Ada'\n"
        "  wardwatch ack phys-3f2a9c0d1e5b7a6c4d2e --by 'Dr Lee' --resolve",
    )
    p.add_argument("alert_id")
    p.add_argument("--by", required=True, help="who acknowledges (name or staff id)")
    p.add_argument("--resolve", action="store_true", help="resolve instead of acknowledge")
    p.add_argument("--patient", help="patient id (looked up on the alerts topic when omitted)")
    p.add_argument("--bootstrap", help="broker list (default: WARDWATCH_KAFKA_BOOTSTRAP)")
    p.set_defaults(run=run)


async def find_patient(settings: Settings, alert_id: str, timeout_s: float = 15.0) -> str | None:
    """Scan the alerts topic for the alert id; the ack must be keyed by its patient.

    Reads until the topic goes quiet rather than to ListOffsets' end, which the
    embedded broker reports wrongly.
    """
    cons = await consumer(settings, settings.topics.alerts, auto_offset_reset="earliest", group_id=None,
                          enable_auto_commit=False)
    deadline = time.monotonic() + timeout_s
    quiet = 0
    try:
        while time.monotonic() < deadline and quiet < 3:
            batch = await cons.getmany(timeout_ms=400)
            quiet = 0 if batch else quiet + 1
            for records in batch.values():
                for record in records:
                    if alert_id.encode() in record.value:
                        doc = orjson.loads(record.value)
                        if doc.get("alert_id") == alert_id:
                            return doc.get("patient_id")
    finally:
        await cons.stop()
    return None


async def send_ack(settings: Settings, ack: Ack) -> None:
    prod = await producer(settings)
    try:
        await prod.send_and_wait(settings.topics.acks, orjson.dumps(ack.to_wire()), key=ack.patient_id.encode())
    finally:
        await prod.stop()


async def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(**({"bootstrap": args.bootstrap} if args.bootstrap else {}))
    patient = args.patient or await find_patient(settings, args.alert_id)
    if not patient:
        print(f"error: alert {args.alert_id} not found on topic {settings.topics.alerts}; "
              "check the id (wardwatch alerts --from-beginning) or pass --patient", file=sys.stderr)
        return 1
    action = AckAction.RESOLVE if args.resolve else AckAction.ACKNOWLEDGE
    await send_ack(settings, Ack(args.alert_id, patient, args.by, action, int(time.time() * 1000), source="cli"))
    print(f"{action.value} sent for {args.alert_id} by {args.by}")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except BrokerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
