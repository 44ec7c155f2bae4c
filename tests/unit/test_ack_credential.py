"""`wardwatch ack` needs a credential where staff accounts exist (#20): no self-declared names there."""

from __future__ import annotations

import argparse
import io

import pytest

from streams.cli.ack import Refused, _who
from streams.identity import Role, SignInError, User, UsersFile, check_may_act, hash_password

PASSWORD = "a long ward password"


def args(users_file: str | None = None, **kw: object) -> argparse.Namespace:
    base = {"users_file": users_file, "user": None, "by": None, "password_stdin": True}
    return argparse.Namespace(**{**base, **kw})


@pytest.fixture
def users(tmp_path) -> UsersFile:
    file = UsersFile(tmp_path / "users.json")
    file.put(User("ada", "Nurse Ada", Role.NURSE, ("7A",), password_hash=hash_password(PASSWORD)))
    file.put(User("sam", "Sam Ops", Role.OPS, password_hash=hash_password(PASSWORD)))
    return file


def refusal(namespace: argparse.Namespace) -> str:
    with pytest.raises(Refused) as refused:
        _who(namespace)
    return str(refused.value)


def test_with_staff_accounts_a_self_declared_name_is_refused(users):
    assert "refused here" in refusal(args(str(users.path), by="Nurse Ada"))


def test_the_signed_in_account_is_the_ack_s_identity(users, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    who = _who(args(str(users.path), user="ada"))
    by, identity = who.by, who.ack_fields()
    assert by == "Nurse Ada" and identity["by_user"] == "ada" and identity["role"] == "nurse"
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong password\n"))
    assert refusal(args(str(users.path), user="ada")) == "wrong user name or password"


def test_without_accounts_the_demo_keeps_its_typed_name():
    demo = _who(args(by="Nurse Ada"))
    assert (demo.by, demo.ack_fields()) == ("Nurse Ada", {})
    assert "users file" in refusal(args(user="ada"))
    assert "say who" in refusal(args())


def test_ops_and_other_wards_may_not_act(users):
    ada, sam = users.staff(users.get("ada")), users.staff(users.get("sam"))
    check_may_act(ada, "7A")
    check_may_act(ada, None)  # unknown ward: never blocks a clinician
    with pytest.raises(SignInError, match="not on ada's wards"):
        check_may_act(ada, "9Z")
    with pytest.raises(SignInError, match="read-only"):
        check_may_act(sam, "7A")
