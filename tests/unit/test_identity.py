"""Staff identity: users file, argon2 passwords, sessions, roles on the console (no broker; #20 part 2)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from alerts.acks import parse_ack
from alerts.audit import AuditRecord, AuditType
from alerts.audit import _entry as entry_of
from streams.config import Settings
from streams.console import ConsoleHub, ConsoleWeb, aiohttp_app
from streams.identity.passwords import hash_password, verify_password
from streams.identity.roles import Role
from streams.identity.sessions import StaffSessions
from streams.identity.throttle import SignInThrottle
from streams.identity.users import User, UsersFile, with_password
from streams.identity.visibility import card_for, snapshot_for

PASSWORD = "correct horse battery"


@pytest.fixture
def users(tmp_path: Path) -> UsersFile:
    file = UsersFile(tmp_path / "users.json")
    file.set_unit("medicine", ("7A", "7B"))
    digest = hash_password(PASSWORD)
    file.put(User("ada", "Nurse Ada", Role.NURSE, ("7A",), password_hash=digest))
    file.put(User("chen", "Charge nurse Chen", Role.CHARGE_NURSE, unit="medicine", password_hash=digest))
    file.put(User("sam", "Sam (ops)", Role.OPS, password_hash=digest))
    return file


def test_passwords_are_salted_argon2id_and_checked_exactly():
    a, b = hash_password(PASSWORD), hash_password(PASSWORD)
    assert a.startswith("$argon2id$") and a != b  # salted
    assert verify_password(a, PASSWORD) and not verify_password(a, PASSWORD + "x")
    assert not verify_password(None, PASSWORD) and not verify_password("not-a-hash", PASSWORD)
    with pytest.raises(ValueError, match="too short"):
        hash_password("short")


def test_users_file_holds_no_password_and_is_reread_without_restart(users: UsersFile):
    raw = users.path.read_text()
    assert PASSWORD not in raw and oct(os.stat(users.path).st_mode)[-3:] == "600"
    reader = UsersFile(users.path)  # what a running worker holds
    assert reader.get("ada").role is Role.NURSE
    assert reader.staff(reader.get("chen")).wards == frozenset({"7A", "7B"})  # the unit's wards
    users.remove("ada")
    os.utime(users.path, ns=(1, 1))  # make sure the change is seen even within one mtime tick
    assert reader.get("ada") is None


def test_sessions_end_on_password_reset_removal_and_expiry(users: UsersFile):
    sessions = StaffSessions(users, secret=b"k" * 32, max_age_s=60)
    cookie = sessions.issue(users.get("ada"), now=1000)
    assert sessions.staff(cookie, now=1001).display_name == "Nurse Ada"
    assert sessions.staff(cookie, now=1061) is None  # expired
    assert StaffSessions(users, secret=b"x" * 32).staff(cookie, now=1001) is None  # other secret
    forged = cookie.replace(cookie.split(".")[2], "c2Ft")  # username swapped for "sam"
    assert sessions.staff(forged, now=1001) is None
    users.put(with_password(users.get("ada"), hash_password("another long password")))
    assert sessions.staff(cookie, now=1001) is None  # password reset ends it


def test_throttle_blocks_after_five_failures_per_name_or_address():
    throttle = SignInThrottle()
    for i in range(5):
        assert not throttle.blocked("ada", "10.0.0.1", now=i)
        throttle.failed("ada", "10.0.0.1", now=i)
    assert throttle.blocked("ada", "10.0.0.9", now=10)  # the name, from anywhere
    assert throttle.blocked("bob", "10.0.0.1", now=10)  # the address, any name
    assert not throttle.blocked("ada", "10.0.0.9", now=400)  # the window passed


def card(ward: str | None, pid: str = "MRN-1") -> dict:
    return {
        "alert_id": f"a-{ward}",
        "patient_id": pid,
        "ward": ward,
        "status": "raised",
        "priority": "high",
        "reasons": [{"text": "SpO2 88 % scores 3", "vital": "spo2", "value": 88}],
        "news2": {"total": 7},
        "device_id": "bed-7",
    }


def test_nurses_see_their_wards_charge_nurses_their_unit_ops_no_patient_values(users: UsersFile):
    ada, chen, sam = (users.staff(users.get(n)) for n in ("ada", "chen", "sam"))
    assert card_for(card("7A"), ada) and card_for(card("7B"), ada) is None
    assert card_for(card(None), ada)  # unknown ward: shown, never hidden from clinicians
    assert card_for(card("7B"), chen) and card_for(card("9Z"), chen) is None
    ops_view = card_for(card("9Z"), sam)
    assert ops_view["priority"] == "high" and ops_view["ward"] == "9Z"
    assert "MRN" not in orjson.dumps(ops_view).decode() and "88" not in orjson.dumps(ops_view).decode()
    snap = snapshot_for(
        {
            "open": [card("7A"), card("7B", "MRN-2")],
            "recent": [],
            "charts": {"MRN-1": {"spo2": [[0, 88]]}, "MRN-2": {"spo2": [[0, 90]]}},
        },
        ada,
    )
    assert [c["ward"] for c in snap["open"]] == ["7A"] and set(snap["charts"]) == {"MRN-1"}
    assert snapshot_for({"open": [card("7A")], "recent": [], "charts": {"MRN-1": {}}}, sam)["charts"] == {}
    assert not sam.may_act_on("7A") and ada.may_act_on("7A") and not ada.may_act_on("7B")


def test_ack_and_audit_carry_the_verified_identity():
    ack = parse_ack(
        orjson.dumps(
            {
                "alert_id": "a",
                "patient_id": "p",
                "by": "Nurse Ada",
                "by_user": "ada",
                "role": "nurse",
                "auth": "password",
                "source": "console",
            }
        )
    )
    assert (ack.by_user, ack.role, ack.auth) == ("ada", "nurse", "password")
    assert ack.to_wire()["by_user"] == "ada"
    record = AuditRecord(
        AuditType.ACK,
        "a",
        "p",
        1,
        1,
        by=ack.by,
        action="acknowledge",
        source="console",
        by_user="ada",
        role="nurse",
        auth="password",
        channel="console",
    )
    assert "(ada, nurse, signed in by password)" in entry_of(record).detail
    self_declared = AuditRecord(AuditType.ACK, "a", "p", 1, 1, by="someone", action="acknowledge", source="cli")
    assert "self-declared" in entry_of(self_declared).detail


@pytest.fixture
async def console(users: UsersFile):
    clients: list[TestClient] = []

    async def make(tokens: tuple[str, ...] = ()) -> TestClient:
        hub = ConsoleHub(Settings())
        web = ConsoleWeb(hub, tokens, users=users, session_secret="s" * 32)
        client = TestClient(TestServer(aiohttp_app(web)))
        await client.start_server()
        clients.append(client)
        client.hub = hub  # type: ignore[attr-defined]
        return client

    yield make
    for c in clients:
        await c.close()


async def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> int:
    resp = await client.post("/console/login", data={"username": username, "password": password}, allow_redirects=False)
    return resp.status


async def test_sign_in_form_then_the_ack_names_the_signed_in_person(console, monkeypatch):
    client = await console()
    page = await client.get("/console", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/console/login"
    assert "password" in await (await client.get("/console/login")).text()
    assert await sign_in(client, "ada", "wrong password!") == 401
    assert await sign_in(client, "nobody") == 401
    assert await sign_in(client, "ada") == 303
    me = await (await client.get("/console/api/me")).json()
    assert me["display_name"] == "Nurse Ada" and me["role"] == "nurse" and me["wards"] == ["7A"]

    hub = client.hub
    hub.on_vitals(orjson.dumps({"patient_id": "MRN-1", "ward": "7A", "ts": 1_795_597_200_000, "heart_rate": 80}))
    hub.on_vitals(orjson.dumps({"patient_id": "MRN-2", "ward": "7B", "ts": 1_795_597_200_000, "heart_rate": 80}))
    for pid, aid in (("MRN-1", "a1"), ("MRN-2", "a2")):
        hub.on_alert(
            orjson.dumps(
                {
                    "alert_id": aid,
                    "patient_id": pid,
                    "status": "raised",
                    "priority": "high",
                    "kind": "news2",
                    "ts": "2026-11-25T09:00:00Z",
                    "reasons": [],
                }
            )
        )
    state = await (await client.get("/console/api/state")).json()
    assert [c["alert_id"] for c in state["open"]] == ["a1"]  # 7B is not Ada's ward

    sent: list[dict] = []

    async def publish(doc):
        sent.append(doc)
        return SimpleNamespace(partition=0, offset=1)

    monkeypatch.setattr(hub, "publish_ack", publish)
    resp = await client.post(
        "/console/api/ack",
        json={"alert_id": "a1", "patient_id": "MRN-1", "action": "acknowledge", "by": "Somebody Else"},
    )
    assert resp.status == 202
    assert sent[0]["by"] == "Nurse Ada" and sent[0]["by_user"] == "ada" and sent[0]["role"] == "nurse"
    resp = await client.post(
        "/console/api/ack", json={"alert_id": "a2", "patient_id": "MRN-2", "action": "acknowledge", "by": "x"}
    )
    assert resp.status == 403 and "not on your wards" in (await resp.json())["error"]


async def test_ops_is_read_only_and_a_shared_token_cannot_acknowledge(console):
    client = await console(tokens=("kiosk-token",))
    assert await sign_in(client, "sam") == 303
    resp = await client.post(
        "/console/api/ack", json={"alert_id": "a1", "patient_id": "MRN-1", "action": "acknowledge", "by": "x"}
    )
    assert resp.status == 403 and "read-only" in (await resp.json())["error"]
    kiosk = await console(tokens=("kiosk-token",))
    resp = await kiosk.post(
        "/console/api/ack",
        json={"alert_id": "a1", "patient_id": "MRN-1", "action": "acknowledge", "by": "x"},
        headers={"Authorization": "Bearer kiosk-token"},
    )
    assert resp.status == 403 and "sign in as yourself" in (await resp.json())["error"]


async def test_sign_in_from_another_site_is_refused_and_guessing_is_throttled(console):
    client = await console()
    resp = await client.post(
        "/console/login",
        data={"username": "ada", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert resp.status == 403
    resp = await client.post(
        "/console/login",
        data={"username": "ada", "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        allow_redirects=False,
    )
    assert resp.status == 403
    for _ in range(5):
        assert await sign_in(client, "ada", "guess guess guess") == 401
    assert await sign_in(client, "ada") == 429  # even the right password, for a while
