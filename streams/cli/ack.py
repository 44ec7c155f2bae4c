"""`wardwatch ack ALERT_ID --user NAME`: acknowledge (or resolve) an alert over Kafka, as a signed-in person.

With a users file (`WARDWATCH_USERS_FILE`) the command needs a credential:
`--user` and that account's password (asked on the terminal, or one line on
standard input with `--password-stdin`); the ack then carries the account, its
role and how it signed in, like the console's, and the same role and ward rules
apply. Without a users file (the demo) `--by NAME` still works and is recorded
as a self-declared name.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time

import orjson

from alerts.acks import Ack, AckAction
from streams.config import Settings
from streams.kafka import BrokerUnavailable, consumer, producer


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "ack",
        help="acknowledge or resolve an alert (publishes to alert-acks)",
        formatter_class=Formatter,
        epilog="examples:\n"
        "  wardwatch ack phys-3f2a9c0d1e5b7a6c4d2e --user ada               # asks for Ada's password\n"
        '  echo "$PASSWORD" | wardwatch ack phys-3f2a9c0d1e5b7a6c4d2e --user ada --password-stdin --resolve\n'
        "  wardwatch ack phys-3f2a9c0d1e5b7a6c4d2e --by 'Nurse Ada'   # demo: no users file, a self-declared name",
    )
    p.add_argument("alert_id", help="the alert's id, as printed at the end of each alert line ([phys-...])")
    p.add_argument("--user", help="your account in the users file (required when WARDWATCH_USERS_FILE is set)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument(
        "--users-file",
        default=os.environ.get("WARDWATCH_USERS_FILE"),
        help="users file (default: WARDWATCH_USERS_FILE)",
    )
    p.add_argument("--by", help="a self-declared name, only without a users file (the demo)")
    p.add_argument("--resolve", action="store_true", help="resolve instead of acknowledge")
    p.add_argument("--patient", help="patient id (looked up on the alerts topic when omitted)")
    p.add_argument("--bootstrap", help="broker list (default: WARDWATCH_KAFKA_BOOTSTRAP)")
    p.set_defaults(run=run)


async def find_alert(settings: Settings, alert_id: str, timeout_s: float = 15.0) -> dict | None:
    """The alert's latest message on the alerts topic (its patient keys the ack; its status says if an
    ack can still do anything).

    One alert's messages share a key, hence a partition, so the last one read is
    its current state. Reads until the topic goes quiet rather than to
    ListOffsets' end, which the embedded broker reports wrongly.
    """
    cons = await consumer(
        settings, settings.topics.alerts, auto_offset_reset="earliest", group_id=None, enable_auto_commit=False
    )
    deadline = time.monotonic() + timeout_s
    quiet = 0
    latest: dict | None = None
    try:
        while time.monotonic() < deadline and quiet < 3:
            batch = await cons.getmany(timeout_ms=400)
            quiet = 0 if batch else quiet + 1
            for records in batch.values():
                for record in records:
                    if alert_id.encode() in record.value:
                        doc = orjson.loads(record.value)
                        if doc.get("alert_id") == alert_id:
                            latest = doc
    finally:
        await cons.stop()
    return latest


async def send_ack(settings: Settings, ack: Ack) -> None:
    prod = await producer(settings)
    try:
        await prod.send_and_wait(settings.topics.acks, orjson.dumps(ack.to_wire()), key=ack.patient_id.encode())
    finally:
        await prod.stop()


def _who(args: argparse.Namespace) -> tuple[str, dict[str, str]] | str:
    """(by, verified identity fields) for the ack, or an error message."""
    if not args.users_file:
        if args.user:
            return "--user needs a users file: set WARDWATCH_USERS_FILE (or --users-file)"
        if not (args.by or "").strip():
            return "say who acknowledges: --user NAME (with WARDWATCH_USERS_FILE) or, without one, --by NAME"
        return args.by.strip(), {}
    if not args.user:
        return (
            "this installation has staff accounts: acknowledge as yourself with --user NAME "
            "(--by is a self-declared name and is refused here)"
        )
    from streams.identity import SignInError, UsersFile, sign_in

    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else getpass.getpass("password: ")
    try:
        staff = sign_in(UsersFile(args.users_file), args.user.strip().lower(), password)
    except SignInError as exc:
        return str(exc)
    return staff.display_name, {
        "by_user": staff.username,
        "role": staff.role.value,
        "auth": staff.method,
        "_staff": staff,
    }  # type: ignore[dict-item]


async def _run(args: argparse.Namespace) -> int:
    who = _who(args)
    if isinstance(who, str):
        print(f"error: {who}", file=sys.stderr)
        return 2 if "users file" in who or "say who" in who or "--user" in who else 1
    by, identity = who
    staff = identity.pop("_staff", None)
    settings = Settings.from_env(**({"bootstrap": args.bootstrap} if args.bootstrap else {}))
    latest = await find_alert(settings, args.alert_id)
    patient = args.patient or (latest or {}).get("patient_id")
    if not patient:
        print(
            f"error: alert {args.alert_id} not found on topic {settings.topics.alerts}; "
            "check the id (wardwatch alerts --from-beginning) or pass --patient",
            file=sys.stderr,
        )
        return 1
    action = AckAction.RESOLVE if args.resolve else AckAction.ACKNOWLEDGE
    if latest and latest.get("status") == "resolved":
        by = f" by {latest['acknowledged_by']}" if latest.get("acknowledged_by") else ""
        print(
            f"warning: alert {args.alert_id} is already resolved (event time {latest.get('ts')}{by}); "
            f"nothing sent: the worker would dead-letter the {action.value} as alert_resolved. "
            "If the patient needs attention again, a new alert will have its own id.",
            file=sys.stderr,
        )
        return 1
    if staff is not None:
        from streams.identity import SignInError, check_may_act

        location = (latest or {}).get("location") if isinstance((latest or {}).get("location"), dict) else {}
        try:
            check_may_act(staff, (location or {}).get("ward") or (latest or {}).get("ward"))
        except SignInError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    await send_ack(settings, Ack(args.alert_id, patient, by, action, int(time.time() * 1000), source="cli", **identity))
    print(f"{action.value} sent for {args.alert_id} by {by}" + ("" if identity else " (self-declared name)"))
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except BrokerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
