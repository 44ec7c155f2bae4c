"""Password hashing with argon2id (argon2-cffi): salted, memory-hard, parameters stored in the hash.

Why argon2-cffi: it is the maintained binding of the Password Hashing
Competition winner, with sane defaults (RFC 9106 low-memory profile) and
`check_needs_rehash` for raising costs later.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
#: Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("wardwatch-no-such-user")
MIN_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password too short: use at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; never raises on a bad or missing hash (that is just 'no')."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
