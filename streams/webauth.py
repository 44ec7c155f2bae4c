"""Credentials for the worker's web pages and APIs (console, HTTP ingest).

Two separate credentials, because they grant different powers:

- **Ingest tokens** (`WARDWATCH_INGEST_TOKENS`) let a gateway *write vitals*.
  They are only ever accepted as `Authorization: Bearer <token>` on the ingest
  endpoints and the MLLP listener.
- **Console tokens** (`WARDWATCH_CONSOLE_TOKENS`) let staff *see and
  acknowledge alerts*. A browser presents one once (`/console?token=`), and
  gets a signed, expiring **session cookie** in exchange: the cookie carries no
  credential at all, so a console session can never be replayed against ingest,
  and removing a token from the list ends every session made from it.

The API takes an aiohttp-style request (anything with `.headers`, `.cookies`,
`.query`, `.remote`):

- `check_token(request, tokens)` -> bool: a configured token as `Authorization:
  Bearer`. With no tokens configured it is always False (callers answer 401
  "not configured"). `?token=` is *not* accepted here: a token in a URL ends up
  in logs and browser history, so only a page's first load may use it:
- `query_token(request, tokens)` -> the `?token=` value if it is configured;
- `ConsoleSessions.issue(token)` / `.valid(cookie)`: the session cookie,
  `set_session_cookie(response, value, secure=...)` sets it HttpOnly and
  SameSite=Strict so the page's scripts (EventSource, fetch) are authenticated
  without ever seeing it.
- `request_is_secure(request, trusted_proxies)`: HTTPS directly, or
  `X-Forwarded-Proto: https` from a proxy listed in `WARDWATCH_TRUSTED_PROXIES`
  (a client cannot make the cookie `Secure`-less or not by sending the header).

Comparisons are constant-time (`hmac.compare_digest` on bytes), and a header
that is not valid UTF-8 simply does not match (never a 500). An endpoint that
changes state should still insist on `Content-Type: application/json` (the
console's ack API answers 415 otherwise), which a cross-site form cannot send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import time
from collections.abc import Iterable
from typing import Any

#: The console's session cookie (a signed expiry and token fingerprint, never the token itself).
COOKIE_NAME = "wardwatch_session"
#: How long the browser keeps the login: one long shift.
COOKIE_MAX_AGE_S = 14 * 3600


def parse_tokens(text: str | None) -> tuple[str, ...]:
    """`WARDWATCH_INGEST_TOKENS` syntax: comma-separated, blanks ignored."""
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def token_matches(candidate: str | None, tokens: Iterable[str]) -> bool:
    """Is `candidate` one of `tokens`? Constant-time per token; empty never matches."""
    if not candidate:
        return False
    try:
        # Headers arrive as str with undecodable bytes as surrogates (aiohttp): compare the
        # original bytes, so a non-UTF-8 token fails the check instead of raising (issue #15.9).
        given = candidate.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # lone surrogates that were never bytes: not a token of ours
        return False
    ok = False
    for token in tokens:
        if token and hmac.compare_digest(given, token.encode()):
            ok = True
    return ok


def bearer_token(request: Any) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    header = request.headers.get("Authorization", "") if request.headers is not None else ""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def session_cookie(request: Any) -> str | None:
    cookies = getattr(request, "cookies", None) or {}
    return cookies.get(COOKIE_NAME) or None


def check_token(request: Any, tokens: Iterable[str]) -> bool:
    """True if the request carries a configured token as `Authorization: Bearer`."""
    tokens = tuple(tokens)
    if not tokens:
        return False
    return token_matches(bearer_token(request), tokens)


def _fingerprint(token: str) -> str:
    """Which token a session came from, without being usable as that token."""
    return hashlib.sha256(b"wardwatch-console-session:" + token.encode()).hexdigest()[:24]


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding (cookie-safe)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64decode(text: str) -> bytes:
    """Inverse of `b64encode`; ValueError for anything that is not."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """`payload.<HMAC-SHA256>` values for cookies: the console session, the staff session, the SSO flow.

    The MAC covers `purpose:payload`, so a value signed for one purpose never
    verifies as another's even under the same secret; `unsign` returns the
    payload only for a whole, untampered value (never raises on junk).

    >>> signer = Signer(b"k" * 32, "demo")
    >>> signer.unsign(signer.sign("v1.123"), 64)
    'v1.123'
    >>> Signer(b"k" * 32, "other").unsign(signer.sign("v1.123"), 64) is None
    True
    """

    def __init__(self, secret: bytes, purpose: str) -> None:
        self.secret = secret
        self.prefix = purpose.encode() + b":"

    def _mac(self, payload: str) -> str:
        return b64encode(hmac.new(self.secret, self.prefix + payload.encode(), hashlib.sha256).digest())

    def sign(self, payload: str) -> str:
        return f"{payload}.{self._mac(payload)}"

    def unsign(self, value: str | None, max_length: int) -> str | None:
        """The payload of a value this signer made, else None (missing, too long, forged, undecodable)."""
        if not value or len(value) > max_length:
            return None
        payload, _, signature = value.rpartition(".")
        try:
            good = hmac.compare_digest(self._mac(payload).encode(), signature.encode())
        except UnicodeEncodeError:
            return None
        return payload if good else None


class ConsoleSessions:
    """Signed, expiring console sessions: `v1.<expiry>.<token fingerprint>.<hmac>`.

    Why signed rather than stored: any worker that shares `WARDWATCH_SESSION_SECRET`
    accepts the cookie (several workers behind one address), and nothing needs to
    be kept. Without a secret each process makes a random one, so a restart signs
    everyone out (said in docs/console.md). A session is only valid while the
    token it was made from is still configured, so rotating a token out ends its
    sessions too.

    >>> s = ConsoleSessions(("t0ken",), secret=b"k" * 32)
    >>> s.valid(s.issue("t0ken"))
    True
    >>> ConsoleSessions(("other",), secret=b"k" * 32).valid(s.issue("t0ken"))
    False
    """

    def __init__(self, tokens: Iterable[str], secret: bytes | None = None, max_age_s: int = COOKIE_MAX_AGE_S) -> None:
        self.fingerprints = frozenset(_fingerprint(t) for t in tokens if t)
        self.signer = Signer(secret or os.urandom(32), "console")
        self.max_age_s = max_age_s

    def issue(self, token: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.max_age_s)
        return self.signer.sign(f"v1.{expires}.{_fingerprint(token)}")

    def valid(self, value: str | None, now: float | None = None) -> bool:
        payload = self.signer.unsign(value, 256)
        if payload is None:
            return False
        parts = payload.split(".")
        if len(parts) != 3 or parts[0] != "v1" or not parts[1].isdigit() or parts[2] not in self.fingerprints:
            return False
        return int(parts[1]) > (time.time() if now is None else now)


def query_token(request: Any, tokens: Iterable[str]) -> str | None:
    """The `?token=` of a page's first load, if it is a configured token (else None)."""
    value = (getattr(request, "query", None) or {}).get("token")
    return value if token_matches(value, tuple(tokens)) else None


def from_trusted_proxy(request: Any, trusted_proxies: Iterable[str]) -> bool:
    """Did the request come straight from a proxy listed in WARDWATCH_TRUSTED_PROXIES?"""
    remote = getattr(request, "remote", None) or ""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    for proxy in trusted_proxies:
        try:
            if address in ipaddress.ip_network(proxy, strict=False):
                return True
        except ValueError:
            continue
    return False


def request_is_secure(request: Any, trusted_proxies: Iterable[str] = ()) -> bool:
    """HTTPS directly, or behind a trusted proxy that says so: then the cookie gets `Secure`.

    `X-Forwarded-Proto` from anyone else is ignored: any client can send it.
    """
    if getattr(request, "secure", False):
        return True
    if not from_trusted_proxy(request, trusted_proxies):
        return False
    return (request.headers.get("X-Forwarded-Proto", "") or "").lower() == "https"


def set_session_cookie(
    response: Any, value: str, *, secure: bool = False, path: str = "/", max_age: int = COOKIE_MAX_AGE_S
) -> Any:
    """Log the browser in: HttpOnly (scripts never read it), SameSite=Strict (no cross-site use)."""
    response.set_cookie(COOKIE_NAME, value, max_age=max_age, path=path, httponly=True, secure=secure, samesite="Strict")
    return response


def clear_session_cookie(response: Any, path: str = "/") -> Any:
    """Log the browser out."""
    response.del_cookie(COOKIE_NAME, path=path)
    return response


def is_loopback(request: Any) -> bool:
    """Did the request come from this machine (for loopback-only insecure demo mode)?"""
    remote = getattr(request, "remote", None) or ""
    return remote in ("127.0.0.1", "::1", "localhost") or remote.startswith("127.")


async def send_and_close(request: Any, reply: Any) -> Any:
    """Send `reply`, then drop the connection: aiohttp would otherwise linger up to 10 s
    reading the rest of a slow body, holding the connection the timeout is meant to free."""
    reply.force_close()
    await reply.prepare(request)
    await reply.write_eof()
    if request.transport is not None:
        request.transport.close()
    return reply
