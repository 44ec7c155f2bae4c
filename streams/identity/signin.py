"""Checking a person's password outside a browser (`wardwatch ack --user`).

The console's form and the CLI share one rule: the users file decides, argon2
verifies, and a wrong name costs as long as a wrong password.
"""

from __future__ import annotations

from streams.identity.passwords import verify_password
from streams.identity.roles import Staff
from streams.identity.users import UsersFile


class SignInError(ValueError):
    """Why a sign-in or an action was refused, worded for the person at the terminal."""


def sign_in(users: UsersFile, username: str, password: str) -> Staff:
    user = users.get(username)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise SignInError("wrong user name or password")
    return users.staff(user, "password")


def check_may_act(staff: Staff, ward: str | None) -> None:
    """Raise SignInError when `staff` may not acknowledge or resolve an alert of `ward`."""
    if not staff.clinical:
        raise SignInError(f"{staff.username} is an ops account: ops sign-ins are read-only")
    if not staff.may_act_on(ward):
        raise SignInError(
            f"the alert is on ward {ward}, not on {staff.username}'s wards ({', '.join(sorted(staff.wards)) or 'none'})"
        )
