"""Signed, expiring sessions naming the signed-in person.

Cookie value: `s1.<expiry>.<base64url username>.<method>.<credential fingerprint>.<hmac>`.

Why signed rather than stored: any worker sharing `WARDWATCH_SESSION_SECRET`
accepts it (several workers behind one address) and nothing is kept. The role
and wards are *not* in the cookie: they are read from the users file on every
request, so a demotion takes effect at once; the credential fingerprint ends a
session when the password is reset or the user removed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time

from streams.identity.roles import Staff
from streams.identity.users import UsersFile

#: One long shift, as for the token sessions.
SESSION_MAX_AGE_S = 14 * 3600
METHODS = ("password", "oidc")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StaffSessions:
    """Issue and check staff session cookies against the (live) users file.

    >>> import tempfile, pathlib
    >>> from streams.identity.users import User
    >>> from streams.identity.roles import Role
    >>> users = UsersFile(pathlib.Path(tempfile.mkdtemp()) / "users.json")
    >>> users.put(User("ada", "Nurse Ada", Role.NURSE, ("7A",), password_hash="h1"))
    >>> sessions = StaffSessions(users, secret=b"k" * 32)
    >>> sessions.staff(sessions.issue(users.get("ada"))).display_name
    'Nurse Ada'
    """

    def __init__(self, users: UsersFile, secret: bytes | None = None, max_age_s: int = SESSION_MAX_AGE_S) -> None:
        self.users = users
        self.secret = secret or os.urandom(32)
        self.max_age_s = max_age_s

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, b"staff:" + payload.encode(), hashlib.sha256).digest())

    def issue(self, user: object, method: str = "password", now: float | None = None) -> str:
        from streams.identity.users import User

        assert isinstance(user, User)
        expires = int((time.time() if now is None else now) + self.max_age_s)
        payload = f"s1.{expires}.{_b64(user.username.encode())}.{method}.{user.credential_fingerprint()}"
        return f"{payload}.{self._sign(payload)}"

    def staff(self, value: str | None, now: float | None = None) -> Staff | None:
        """The signed-in person, or None for a missing, forged, expired or revoked session."""
        if not value or len(value) > 512:
            return None
        payload, _, signature = value.rpartition(".")
        parts = payload.split(".")
        if len(parts) != 5 or parts[0] != "s1" or not parts[1].isdigit() or parts[3] not in METHODS:
            return None
        try:
            if not hmac.compare_digest(self._sign(payload).encode(), signature.encode()):
                return None
            username = _unb64(parts[2]).decode()
        except (UnicodeError, ValueError):
            return None
        if int(parts[1]) <= (time.time() if now is None else now):
            return None
        user = self.users.get(username)
        if user is None or user.credential_fingerprint() != parts[4]:
            return None
        return self.users.staff(user, parts[3])
