"""Token check for the worker's web pages and APIs (console, HTTP ingest).

DESIGN.md: "Web pages and APIs of the worker take the token as
`Authorization: Bearer` or, for a browser's first page load, `?token=` (then a
cookie); `WARDWATCH_INGEST_TOKENS` is comma-separated."

The API is three functions that take an aiohttp-style request (anything with
`.headers`, `.cookies`, `.query`):

- `check_token(request, tokens)` -> bool: is a configured token presented as
  `Authorization: Bearer <token>` or in the `wardwatch_token` cookie? With no
  tokens configured it is always False (callers answer 401 "not configured").
  `?token=` is *not* accepted here: a token in a URL ends up in logs and
  browser history, so only a page's first load may use it, explicitly:
- `query_token(request, tokens)` -> the `?token=` value if it is a configured
  token, else None; the page then calls
- `set_token_cookie(response, token, secure=...)`: an HttpOnly, SameSite=Strict
  cookie, so the page's own scripts (EventSource, fetch) are authenticated
  without ever seeing the token.

Comparisons are constant-time (`hmac.compare_digest`). The cookie is
SameSite=Strict, so another site cannot make a browser use it; an endpoint that
changes state should still insist on `Content-Type: application/json` (the
console's ack API answers 415 otherwise), which a cross-site form cannot send.

Typical use in an aiohttp handler:

    if not webauth.check_token(request, settings.ingest_tokens):
        return web.json_response({"error": "..."}, status=401)
"""

from __future__ import annotations

import hmac
from typing import Any, Iterable

COOKIE_NAME = "wardwatch_token"
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


def cookie_token(request: Any) -> str | None:
    cookies = getattr(request, "cookies", None) or {}
    return cookies.get(COOKIE_NAME) or None


def check_token(request: Any, tokens: Iterable[str]) -> bool:
    """True if the request carries a configured token (Bearer header or login cookie)."""
    tokens = tuple(tokens)
    if not tokens:
        return False
    return token_matches(bearer_token(request), tokens) or token_matches(cookie_token(request), tokens)


def query_token(request: Any, tokens: Iterable[str]) -> str | None:
    """The `?token=` of a page's first load, if it is a configured token (else None)."""
    value = (getattr(request, "query", None) or {}).get("token")
    return value if token_matches(value, tuple(tokens)) else None


def request_is_secure(request: Any) -> bool:
    """HTTPS directly or behind a proxy that says so: then the cookie gets `Secure`."""
    if getattr(request, "secure", False):
        return True
    return (request.headers.get("X-Forwarded-Proto", "") or "").lower() == "https"


def set_token_cookie(response: Any, token: str, *, secure: bool = False, path: str = "/",
                     max_age: int = COOKIE_MAX_AGE_S) -> Any:
    """Log the browser in: HttpOnly (scripts never read it), SameSite=Strict (no cross-site use)."""
    response.set_cookie(COOKIE_NAME, token, max_age=max_age, path=path, httponly=True, secure=secure,
                        samesite="Strict")
    return response


def clear_token_cookie(response: Any, path: str = "/") -> Any:
    """Log the browser out."""
    response.del_cookie(COOKIE_NAME, path=path)
    return response


def is_loopback(request: Any) -> bool:
    """Did the request come from this machine (for loopback-only insecure demo mode)?"""
    remote = getattr(request, "remote", None) or ""
    return remote in ("127.0.0.1", "::1", "localhost") or remote.startswith("127.")
