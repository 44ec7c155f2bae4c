"""The users file: who may sign in to the console, with which role and wards.

A JSON file (`WARDWATCH_USERS_FILE`) written by `wardwatch user`, readable and
diff-able by a person:

    {"schema": 1,
     "units": {"medicine": ["7A", "7B"]},
     "users": {"ada": {"display_name": "Nurse Ada", "role": "nurse", "wards": ["7A"],
                       "password": "$argon2id$v=19$m=65536,t=3,p=4$..."},
               "chen": {"display_name": "Charge nurse Chen", "role": "charge_nurse", "unit": "medicine",
                        "sso": "chen@hospital.example"}}}

Passwords are argon2id hashes (never the password). `sso` names the identity
the hospital's OpenID Connect provider vouches for (`preferred_username`,
`email` or `sub`): the provider proves who someone is, this file says what
they may do here. The file is re-read when it changes, so adding a user,
resetting a password or removing someone needs no restart; removing a user or
changing their password ends their sessions at the next request.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from streams.identity.private_file import version_of, write_private_json
from streams.identity.roles import Role, Staff

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


@dataclass(frozen=True, slots=True)
class User:
    username: str
    display_name: str
    role: Role
    wards: tuple[str, ...] = ()
    unit: str | None = None
    password_hash: str | None = None
    sso: str | None = None

    def credential_fingerprint(self) -> str:
        """Changes when the password (or SSO mapping) changes, which ends older sessions."""
        basis = f"{self.password_hash or ''}|{self.sso or ''}|{self.role.value}"
        return hashlib.sha256(basis.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"display_name": self.display_name, "role": self.role.value}
        if self.wards:
            out["wards"] = list(self.wards)
        for key, value in (("unit", self.unit), ("password", self.password_hash), ("sso", self.sso)):
            if value:
                out[key] = value
        return out


@dataclass(slots=True)
class _Loaded:
    mtime_ns: int = -1
    size: int = -1
    users: dict[str, User] = field(default_factory=dict)
    units: dict[str, tuple[str, ...]] = field(default_factory=dict)


class UsersFile:
    """The users file, re-read whenever its modification time or size changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._loaded = _Loaded()

    # ---- reading ---------------------------------------------------------------
    def _current(self) -> _Loaded:
        version = version_of(self.path)
        if version != (self._loaded.mtime_ns, self._loaded.size):
            self._loaded = _parse(self.path.read_bytes(), *version) if version != (0, 0) else _Loaded(0, 0)
        return self._loaded

    def get(self, username: str) -> User | None:
        return self._current().users.get(username.strip().lower())

    def by_sso(self, identity: str) -> User | None:
        wanted = identity.strip().lower()
        return next((u for u in self._current().users.values() if u.sso and u.sso.lower() == wanted), None)

    def users(self) -> list[User]:
        return sorted(self._current().users.values(), key=lambda u: u.username)

    def units(self) -> dict[str, tuple[str, ...]]:
        return dict(self._current().units)

    def staff(self, user: User, method: str = "password") -> Staff:
        """The console's view of `user`: a charge nurse sees every ward of their unit."""
        wards = set(user.wards)
        if user.unit:
            wards.update(self._current().units.get(user.unit, ()))
        return Staff(user.username, user.display_name, user.role, frozenset(wards), method)

    # ---- writing (the `wardwatch user` command) -----------------------------------
    def put(self, user: User) -> None:
        if not USERNAME.match(user.username):
            rule = "use 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit"
            raise ValueError(f"user name {user.username!r}: {rule}")
        loaded = self._current()
        users = {**loaded.users, user.username: user}
        self._write(users, loaded.units)

    def remove(self, username: str) -> bool:
        loaded = self._current()
        if username not in loaded.users:
            return False
        self._write({k: v for k, v in loaded.users.items() if k != username}, loaded.units)
        return True

    def set_unit(self, unit: str, wards: tuple[str, ...]) -> None:
        loaded = self._current()
        self._write(loaded.users, {**loaded.units, unit: wards})

    def _write(self, users: dict[str, User], units: dict[str, tuple[str, ...]]) -> None:
        doc = {
            "schema": 1,
            "units": {k: list(v) for k, v in sorted(units.items())},
            "users": {k: users[k].to_json() for k in sorted(users)},
        }
        write_private_json(self.path, doc)


def with_password(user: User, password_hash: str) -> User:
    return replace(user, password_hash=password_hash)


def _parse(raw: bytes, mtime_ns: int, size: int) -> _Loaded:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"users file is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("users", {}), dict):
        raise ValueError('users file: expected {"schema": 1, "users": {...}}')
    units = {str(k): tuple(str(w) for w in v) for k, v in (doc.get("units") or {}).items() if isinstance(v, list)}
    users = {}
    for name, entry in doc.get("users", {}).items():
        if not isinstance(entry, dict):
            raise ValueError(f"users file: user {name!r} must be an object")
        try:
            role = Role(entry.get("role"))
        except ValueError:
            raise ValueError(
                f"users file: user {name!r} has role {entry.get('role')!r}; use one of "
                + ", ".join(r.value for r in Role)
            ) from None
        users[name] = User(
            name,
            str(entry.get("display_name") or name),
            role,
            tuple(str(w) for w in entry.get("wards") or ()),
            entry.get("unit") or None,
            entry.get("password") or None,
            entry.get("sso") or None,
        )
    return _Loaded(mtime_ns, size, users, units)
