"""A paging gateway's receiver for wardwatch pages: verify, de-duplicate on the signed id, then page.

Run it:  WARDWATCH_PAGER_SECRET=... python examples/webhook_receiver.py   (listens on :8080)
docs/delivery.md quotes this file; tests/unit/test_webhook_receiver.py runs it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web


def valid(
    secret: bytes, timestamp: str, body: bytes, signature: str, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """Right HMAC over f"{timestamp}.{body}" and a fresh timestamp (a stale one is a replay)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    expected = b"sha256=" + hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest().encode()
    try:
        given = signature.encode("ascii")  # compare bytes: compare_digest raises on non-ASCII str
    except (AttributeError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(expected, given)


def delivery_id(body: bytes) -> str | None:
    """The page's idempotency key from the SIGNED body (the X-Wardwatch-Delivery header is not
    signed: a replayed request could carry any header, e.g. a later page's id to suppress it)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    value = doc.get("delivery_id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and value else None


class Receiver:
    """Shows each delivery once; keep `seen` for a day in a real gateway (notify may resend)."""

    def __init__(self, secret: bytes, show: Callable[[dict[str, Any]], None]) -> None:
        self.secret, self.show = secret, show
        self.seen: set[str] = set()

    async def page(self, request: web.Request) -> web.Response:
        body = await request.read()  # verify the raw bytes, before parsing
        if not valid(
            self.secret,
            request.headers.get("X-Wardwatch-Timestamp", ""),
            body,
            request.headers.get("X-Wardwatch-Signature", ""),
        ):
            return web.Response(status=401)  # final: notify dead-letters it
        delivery = delivery_id(body)
        if delivery is None:
            return web.Response(status=400)
        if delivery not in self.seen:
            self.seen.add(delivery)
            self.show(json.loads(body))  # hand to the pager network here
        return web.Response(status=200)  # a repeat is acknowledged, not shown again

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes([web.post("/wardwatch", self.page)])
        return app


if __name__ == "__main__":
    receiver = Receiver(
        os.environ["WARDWATCH_PAGER_SECRET"].encode(),
        lambda doc: print("PAGE", doc["recipient"]["address"], doc["text"]),
    )
    web.run_app(receiver.app(), port=8080)
