"""`wardwatch` command line: one subcommand per job, each in its own module of this package.

Every subcommand module offers `add_parser(subparsers)` and `run(args) -> int`;
exit codes: 0 ok, 1 failed, 2 usage or configuration error, 3 broker unreachable.
"""

from __future__ import annotations

import argparse
import importlib

#: subcommand -> module implementing it (imported lazily: `wardwatch --help` stays fast).
COMMANDS: dict[str, str] = {
    "broker": "streams.cli.broker",
    "worker": "streams.cli.worker",
    "simulate": "streams.cli.simulate",
    "alerts": "streams.cli.alerts",
    "console": "streams.cli.console",
    "ack": "streams.cli.ack",
    "demo": "streams.cli.demo",
    "evaluate": "streams.cli.evaluate",
    "bench": "streams.cli.bench",
    "convert": "streams.cli.convert",
    "notify": "streams.cli.notify",
    "audit": "streams.cli.audit",
    "recovery": "streams.cli.recovery",
    "user": "streams.cli.user",
    "gateway": "streams.cli.gateway",
}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BROKER = 0, 1, 2, 3


class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Examples kept as written; defaults shown once.

    argparse would append "(default: None)" to a help that already says where
    the value comes from ("default: WARDWATCH_KAFKA_BOOTSTRAP"), and "(default:
    False)" to every switch: both are noise a reader must see past.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False) or action.default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wardwatch",
        description="Real-time patient monitoring on Kafka: vitals in, explained alerts out.",
        epilog="example:\n  wardwatch demo                 # broker + worker + simulated ward, alerts in the terminal\n"
        "  wardwatch <command> --help     # every command has its own example",
        formatter_class=Formatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("streams."):
                continue  # a command not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
