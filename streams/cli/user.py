"""`wardwatch user`: add staff, reset passwords, remove them; no worker restart needed.

The users file (`WARDWATCH_USERS_FILE`, or `--file`) holds argon2id hashes,
never passwords. Passwords are read from the terminal (twice) or, for
scripts, one line on standard input with `--password-stdin`; never from the
command line, where `ps` and shell history would keep them.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "user",
        help="manage console staff accounts (users file with argon2 password hashes)",
        formatter_class=Formatter,
        epilog="examples:\n"
        "  export WARDWATCH_USERS_FILE=/etc/wardwatch/users.json\n"
        "  wardwatch user add ada --name 'Nurse Ada' --role nurse --wards 7A,7B     # asks for the password\n"
        "  wardwatch user unit medicine 7A,7B,8C\n"
        "  wardwatch user add chen --name 'Charge nurse Chen' --role charge_nurse --unit medicine\n"
        "  wardwatch user add sam --name 'Sam (ops)' --role ops --sso sam@hospital.example   # SSO only\n"
        "  echo 'new-long-password' | wardwatch user reset ada --password-stdin\n"
        "  wardwatch user remove ada\n"
        "  wardwatch user list",
    )
    p.add_argument(
        "--file", default=os.environ.get("WARDWATCH_USERS_FILE"), help="users file (default: WARDWATCH_USERS_FILE)"
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="add or replace a user", formatter_class=Formatter)
    add.add_argument("username", help="sign-in name (lower case: a-z 0-9 . _ @ -)")
    add.add_argument("--name", required=True, help="display name shown on acknowledgements and in the audit trail")
    add.add_argument("--role", required=True, choices=["nurse", "charge_nurse", "ops"], help="what they may do")
    add.add_argument("--wards", default="", help="comma-separated wards (nurse)")
    add.add_argument("--unit", help="unit whose wards a charge nurse covers (see `wardwatch user unit`)")
    add.add_argument("--sso", help="identity from the hospital's OpenID Connect provider (email, username or sub)")
    add.add_argument("--no-password", action="store_true", help="sign in through SSO only")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    reset = actions.add_parser("reset", help="set a new password (ends the user's sessions)", formatter_class=Formatter)
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    remove = actions.add_parser("remove", help="remove a user (ends their sessions)", formatter_class=Formatter)
    remove.add_argument("username")
    unit = actions.add_parser(
        "unit", help="define a unit: the wards a charge nurse of it covers", formatter_class=Formatter
    )
    unit.add_argument("unit")
    unit.add_argument("wards", help="comma-separated wards")
    actions.add_parser("list", help="list users (no hashes)", formatter_class=Formatter)
    p.set_defaults(run=run, parser=p)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    from streams.identity import Role, User, UsersFile, hash_password, with_password

    if not args.file:
        print("error: no users file: pass --file PATH or set WARDWATCH_USERS_FILE", file=sys.stderr)
        return EXIT_USAGE
    if not args.action:
        args.parser.print_help()
        return EXIT_USAGE
    users = UsersFile(args.file)
    try:
        if args.action == "add":
            user = User(
                args.username.lower(),
                args.name,
                Role(args.role),
                tuple(w.strip() for w in args.wards.split(",") if w.strip()),
                args.unit,
                None,
                args.sso,
            )
            if args.role == "nurse" and not user.wards:
                raise ValueError("a nurse needs --wards (the wards whose alerts they see and acknowledge)")
            if args.role == "charge_nurse" and not (args.unit or user.wards):
                raise ValueError("a charge nurse needs --unit (or --wards)")
            if not args.no_password:
                user = with_password(user, hash_password(_password(args.password_stdin)))
            elif not args.sso:
                raise ValueError("--no-password needs --sso, otherwise nobody could sign in as this user")
            users.put(user)
            print(f"user {user.username} ({user.role.value}) saved to {users.path}")
        elif args.action == "reset":
            user = users.get(args.username)
            if user is None:
                print(f"error: no user {args.username!r} in {users.path} (see `wardwatch user list`)", file=sys.stderr)
                return EXIT_FAILED
            users.put(with_password(user, hash_password(_password(args.password_stdin))))
            print(f"password of {user.username} reset; their open sessions end at their next request")
        elif args.action == "remove":
            if not users.remove(args.username.lower()):
                print(f"error: no user {args.username!r} in {users.path}", file=sys.stderr)
                return EXIT_FAILED
            print(f"user {args.username} removed; their sessions end at their next request")
        elif args.action == "unit":
            users.set_unit(args.unit, tuple(w.strip() for w in args.wards.split(",") if w.strip()))
            print(f"unit {args.unit}: {args.wards}")
        elif args.action == "list":
            for user in users.users():
                where = ",".join(user.wards) or (f"unit {user.unit}" if user.unit else "-")
                how = "+".join(x for x, on in (("password", user.password_hash), ("sso", user.sso)) if on)
                print(f"{user.username:<16} {user.role.value:<13} {where:<20} {how:<13} {user.display_name}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
