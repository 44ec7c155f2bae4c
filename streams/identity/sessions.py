"""Signed, expiring sessions naming the signed-in person.

Cookie value: `s1.<expiry>.<base64url username>.<method>.<credential fingerprint>.<hmac>`.

Why signed rather than stored: any worker sharing `WARDWATCH_SESSION_SECRET`
accepts it (several workers behind one address) and nothing is kept. The role
and wards are *not* in the cookie: they are read from the users file on every
request, so a demotion takes effect at once; the credential fingerprint ends a
session when the password is reset or the user removed.
"""

from __future__ import annotations

import os
import time

from streams.identity.roles import Staff
from streams.identity.users import UsersFile
from streams.webauth import Signer, b64decode, b64encode

#: One long shift, as for the token sessions.
SESSION_MAX_AGE_S = 14 * 3600
METHODS = ("password", "oidc")


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
        self.signer = Signer(secret or os.urandom(32), "staff")
        self.max_age_s = max_age_s

    def issue(self, user: object, method: str = "password", now: float | None = None) -> str:
        from streams.identity.users import User

        assert isinstance(user, User)
        expires = int((time.time() if now is None else now) + self.max_age_s)
        name = b64encode(user.username.encode())
        return self.signer.sign(f"s1.{expires}.{name}.{method}.{user.credential_fingerprint()}")

    def staff(self, value: str | None, now: float | None = None) -> Staff | None:
        """The signed-in person, or None for a missing, forged, expired or revoked session."""
        payload = self.signer.unsign(value, 512)
        if payload is None:
            return None
        parts = payload.split(".")
        if len(parts) != 5 or parts[0] != "s1" or not parts[1].isdigit() or parts[3] not in METHODS:
            return None
        try:
            username = b64decode(parts[2]).decode()
        except (UnicodeError, ValueError):
            return None
        if int(parts[1]) <= (time.time() if now is None else now):
            return None
        user = self.users.get(username)
        if user is None or user.credential_fingerprint() != parts[4]:
            return None
        return self.users.staff(user, parts[3])
