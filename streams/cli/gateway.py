"""`wardwatch gateway`: name, add and revoke ingest credentials; running workers pick changes up at once."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "gateway",
        help="manage named ingest credentials (one token per gateway, revocable without restart)",
        formatter_class=Formatter,
        epilog="examples:\n"
        "  export WARDWATCH_GATEWAYS_FILE=/etc/wardwatch/gateways.json\n"
        "  wardwatch gateway add icu-monitors                       # prints the new token once\n"
        "  wardwatch gateway add lab-mllp --addresses 10.20.0.0/24  # MLLP from that network\n"
        "  wardwatch gateway revoke icu-monitors                    # locked out at its next request\n"
        "  wardwatch gateway list",
    )
    p.add_argument(
        "--bootstrap",
        default=os.environ.get("WARDWATCH_KAFKA_BOOTSTRAP"),
        help="broker list: the change is also written to the audit topic (default: WARDWATCH_KAFKA_BOOTSTRAP)",
    )
    p.add_argument(
        "--file",
        default=os.environ.get("WARDWATCH_GATEWAYS_FILE"),
        help="gateways file (default: WARDWATCH_GATEWAYS_FILE)",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="add a gateway, or rotate its token", formatter_class=Formatter)
    add.add_argument("name", help="gateway name (a-z 0-9 . _ -), shown in dead-letter records")
    add.add_argument("--addresses", default="", help="comma-separated networks its MLLP connections come from")
    revoke = actions.add_parser("revoke", help="revoke a gateway's token", formatter_class=Formatter)
    revoke.add_argument("name")
    actions.add_parser("list", help="list gateways (no tokens)", formatter_class=Formatter)
    p.set_defaults(run=run, parser=p)


def run(args: argparse.Namespace) -> int:
    from streams.identity import GatewaysFile

    if not args.file:
        print("error: no gateways file: pass --file PATH or set WARDWATCH_GATEWAYS_FILE", file=sys.stderr)
        return EXIT_USAGE
    if not args.action:
        args.parser.print_help()
        return EXIT_USAGE
    gateways = GatewaysFile(args.file)
    try:
        if args.action == "add":
            addresses = tuple(a.strip() for a in args.addresses.split(",") if a.strip())
            token = gateways.add(args.name, addresses)
            print(f"gateway {args.name} saved to {gateways.path}; its token (shown only now):")
            print(token)
            _audit(args, f"gateway {args.name} added" + (f" (MLLP from {', '.join(addresses)})" if addresses else ""))
        elif args.action == "revoke":
            if not gateways.revoke(args.name):
                print(
                    f"error: no gateway {args.name!r} in {gateways.path} (see `wardwatch gateway list`)",
                    file=sys.stderr,
                )
                return EXIT_FAILED
            print(f"gateway {args.name} revoked; running workers refuse it from its next request")
            _audit(args, f"gateway {args.name} revoked")
        else:
            for g in gateways.gateways().values():
                print(f"{g.name:<24} added {g.added:<22} {','.join(g.addresses) or '-'}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _audit(args: argparse.Namespace, what: str) -> None:
    """Put the credential change on the audit topic (a safety officer's record of who could send data)."""
    if not args.bootstrap:
        print("note: not in the audit trail (no --bootstrap or WARDWATCH_KAFKA_BOOTSTRAP)", file=sys.stderr)
        return
    import asyncio
    import getpass
    import time

    from alerts.audit import AuditRecord, AuditType
    from streams.config import Settings
    from streams.kafka import BrokerUnavailable, producer

    now = int(time.time() * 1000)
    record = AuditRecord(
        AuditType.ACCESS, "", "", now, now, wall_ms=now, gateway=args.name, detail=f"{what} by {getpass.getuser()}"
    ).with_id()

    async def send() -> None:
        settings = Settings.from_env(bootstrap=args.bootstrap)
        prod = await producer(settings)
        try:
            await prod.send_and_wait(settings.topics.audit, record.to_bytes(), key=b"gateway:" + args.name.encode())
        finally:
            await prod.stop()

    try:
        asyncio.run(send())
    except (BrokerUnavailable, OSError) as exc:
        print(f"warning: the change is made but not in the audit trail: {exc}", file=sys.stderr)
