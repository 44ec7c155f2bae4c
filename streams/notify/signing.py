"""Webhook signatures: HMAC-SHA256 over `"{timestamp}.{body}"`, Stripe-style.

The timestamp is inside the signed text, so a gateway that rejects stale
timestamps (say older than 5 minutes) also rejects replays of a captured page.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Wardwatch-Timestamp"
SIGNATURE_HEADER = "X-Wardwatch-Signature"
#: Same as the signed body's `delivery_id`; the header itself is NOT signed, so a receiver
#: de-duplicates on the body's id (examples/webhook_receiver.py).
DELIVERY_HEADER = "X-Wardwatch-Delivery"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """Header value `sha256=<hex>` for this body sent at `timestamp` (epoch seconds)."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: bytes, timestamp: str, body: bytes, signature: str, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """What a gateway runs: right signature and a fresh timestamp (so replays fail)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    try:
        given = (signature or "").encode("ascii")  # compare_digest raises TypeError on non-ASCII str
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(sign(secret, ts, body).encode("ascii"), given)
