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
        elif args.action == "revoke":
            if not gateways.revoke(args.name):
                print(
                    f"error: no gateway {args.name!r} in {gateways.path} (see `wardwatch gateway list`)",
                    file=sys.stderr,
                )
                return EXIT_FAILED
            print(f"gateway {args.name} revoked; running workers refuse it from its next request")
        else:
            for g in gateways.gateways().values():
                print(f"{g.name:<24} added {g.added:<22} {','.join(g.addresses) or '-'}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
