"""`wardwatch console`: the live alert console on a port of its own, without a worker.

Same page, APIs and token rules as /console on the worker (streams/console/web.py),
served by a plain aiohttp app with its own aiokafka consumer and producer; use
it to give the ward station a console that does not share a process with the
stream processing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from streams import logs
from streams.config import Settings

log = logging.getLogger("wardwatch.console")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "console",
        help="serve the live alert console (web page) on its own port",
        formatter_class=Formatter,
        epilog="example:\n  WARDWATCH_CONSOLE_TOKENS=s3cret wardwatch console --port 6067\n"
        "  then open http://127.0.0.1:6067/console?token=s3cret",
    )
    p.add_argument("--bootstrap", help="broker list (default: WARDWATCH_KAFKA_BOOTSTRAP)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for the ward network)")
    p.add_argument("--port", type=int, default=6067, help="port of the console's web server")
    p.add_argument(
        "--vitals-backlog",
        type=int,
        default=20000,
        help="vitals messages per partition read back at start for the charts",
    )
    p.set_defaults(run=run)


async def serve(
    settings: Settings, host: str, port: int, vitals_backlog: int = 20000, stop: asyncio.Event | None = None
) -> int:
    from aiohttp import web

    from streams.console import ConsoleHub, aiohttp_app, console_web, insecure_from_env

    hub = ConsoleHub(settings, vitals_backlog=vitals_backlog)
    console = console_web(hub, settings, insecure_from_env())
    runner = web.AppRunner(aiohttp_app(console), access_log=None, shutdown_timeout=5)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        print(f"error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    if not console.configured:
        log.warning('no WARDWATCH_CONSOLE_TOKENS: the console answers 401 "not configured"')
    log.info("console on http://%s:%d/console (alerts from %s)", host, port, settings.bootstrap)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    follow = asyncio.create_task(hub.run())
    try:
        await stop.wait()
    finally:
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow
        await hub.stop()
        await runner.cleanup()
    return 0


def run(args: argparse.Namespace) -> int:
    overrides = {"bootstrap": args.bootstrap} if args.bootstrap else {}
    settings = Settings.from_env(**overrides)
    logs.setup(settings.log_level, settings.log_format)
    return asyncio.run(serve(settings, args.host, args.port, args.vitals_backlog))
