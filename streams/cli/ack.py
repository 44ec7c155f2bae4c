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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from alerts.acks import Ack, AckAction
from streams.config import Settings
from streams.kafka import BrokerUnavailable, consumer, producer

if TYPE_CHECKING:
    from streams.identity import Staff


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


@dataclass(frozen=True, slots=True)
class Who:
    """Who the ack names: a signed-in account, or (no users file: the demo) a self-declared name."""

    by: str
    staff: Staff | None = None

    def ack_fields(self) -> dict[str, str]:
        """The verified identity the ack carries (none for a self-declared name)."""
        if self.staff is None:
            return {}
        return {"by_user": self.staff.username, "role": self.staff.role.value, "auth": self.staff.method}


class Refused(Exception):
    """Why the command will not send the ack, and its exit code (2: usage, 1: refused)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _who(args: argparse.Namespace) -> Who:
    """Who acknowledges; raises Refused with what to do instead."""
    if not args.users_file:
        if args.user:
            raise Refused("--user needs a users file: set WARDWATCH_USERS_FILE (or --users-file)", 2)
        if not (args.by or "").strip():
            raise Refused("say who acknowledges: --user NAME (with WARDWATCH_USERS_FILE) or, without one, --by NAME", 2)
        return Who(args.by.strip())
    if not args.user:
        raise Refused(
            "this installation has staff accounts: acknowledge as yourself with --user NAME "
            "(--by is a self-declared name and is refused here)",
            2,
        )
    from streams.identity import SignInError, UsersFile, sign_in

    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else getpass.getpass("password: ")
    try:
        staff = sign_in(UsersFile(args.users_file), args.user.strip().lower(), password)
    except SignInError as exc:
        raise Refused(str(exc), 1) from None
    return Who(staff.display_name, staff)


async def _run(args: argparse.Namespace) -> int:
    try:
        who = _who(args)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
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
        acked = f" by {latest['acknowledged_by']}" if latest.get("acknowledged_by") else ""
        print(
            f"warning: alert {args.alert_id} is already resolved (event time {latest.get('ts')}{acked}); "
            f"nothing sent: the worker would dead-letter the {action.value} as alert_resolved. "
            "If the patient needs attention again, a new alert will have its own id.",
            file=sys.stderr,
        )
        return 1
    if who.staff is not None:
        from streams.identity import SignInError, check_may_act

        location = (latest or {}).get("location") if isinstance((latest or {}).get("location"), dict) else {}
        try:
            check_may_act(who.staff, (location or {}).get("ward") or (latest or {}).get("ward"))
        except SignInError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    ack = Ack(args.alert_id, patient, who.by, action, int(time.time() * 1000), source="cli", **who.ack_fields())
    await send_ack(settings, ack)
    print(f"{action.value} sent for {args.alert_id} by {who.by}" + ("" if who.staff else " (self-declared name)"))
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except BrokerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
