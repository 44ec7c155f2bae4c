"""The token check of the worker's web pages and APIs, and the console's login flow (no broker)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from streams import webauth
from streams.config import Settings
from streams.console.web import ConsoleHub, ConsoleWeb, aiohttp_app


def req(headers: dict[str, str] | None = None, path: str = "/console") -> object:
    return make_mocked_request("GET", path, headers=headers or {})


def test_bearer_is_accepted_and_compared_exactly_and_a_cookie_never_carries_a_token():
    tokens = ("alpha", "t0ken")
    assert webauth.check_token(req({"Authorization": "Bearer t0ken"}), tokens)
    assert webauth.check_token(req({"Authorization": "bearer  alpha "}), tokens)
    # #15.14: the cookie is a session, never a credential: a cookie holding a token is not accepted.
    assert not webauth.check_token(req({"Cookie": f"{webauth.COOKIE_NAME}=t0ken"}), tokens)
    assert not webauth.check_token(req({"Cookie": "wardwatch_token=t0ken"}), tokens)
    assert not webauth.check_token(req({"Authorization": "Bearer t0ke"}), tokens)
    assert not webauth.check_token(req({"Authorization": "Basic t0ken"}), tokens)
    assert not webauth.check_token(req({"Authorization": "Bearer "}), tokens)
    assert not webauth.check_token(req(), tokens)


def test_query_token_only_through_query_token_and_nothing_without_configured_tokens():
    assert not webauth.check_token(req(path="/console?token=t0ken"), ("t0ken",))
    assert webauth.query_token(req(path="/console?token=t0ken"), ("t0ken",)) == "t0ken"
    assert webauth.query_token(req(path="/console?token=nope"), ("t0ken",)) is None
    assert not webauth.check_token(req({"Authorization": "Bearer "}), ())
    assert not webauth.check_token(req({"Authorization": "Bearer x"}), ())
    assert webauth.parse_tokens(" a, ,b ,") == ("a", "b")


def test_cookie_is_httponly_and_strict():
    from aiohttp import web

    resp = webauth.set_session_cookie(web.Response(), "v1.1.ab.cd", secure=True)
    morsel = resp.cookies[webauth.COOKIE_NAME]
    assert morsel.value == "v1.1.ab.cd"
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "Strict"


def test_sessions_are_signed_expire_and_end_when_their_token_is_removed():
    sessions = webauth.ConsoleSessions(("t0ken", "other"), secret=b"s" * 32, max_age_s=60)
    value = sessions.issue("t0ken", now=1000)
    assert "t0ken" not in value
    assert sessions.valid(value, now=1059)
    assert not sessions.valid(value, now=1061)  # expired
    expires, fingerprint = value.split(".")[1:3]
    forged = f"v1.{int(expires) + 9999}.{fingerprint}.{value.rsplit('.', 1)[1]}"
    assert not sessions.valid(forged, now=1000)  # a changed expiry breaks the signature
    assert not webauth.ConsoleSessions(("t0ken",), secret=b"x" * 32).valid(value, now=1000)  # other secret
    assert not webauth.ConsoleSessions(("other",), secret=b"s" * 32).valid(value, now=1000)  # token rotated out
    for junk in ("", "v1", "v1.a.b.c", "v2.1.2.3", "\udcff", "x" * 5000):
        assert not sessions.valid(junk, now=1000)


def test_secure_follows_x_forwarded_proto_only_from_a_trusted_proxy():
    https = {"X-Forwarded-Proto": "https"}
    from_client = SimpleNamespace(remote="203.0.113.9", headers=https, secure=False)
    from_proxy = SimpleNamespace(remote="10.0.0.5", headers=https, secure=False)
    assert not webauth.request_is_secure(from_client)  # anyone can send the header
    assert not webauth.request_is_secure(from_client, ("10.0.0.0/24",))
    assert webauth.request_is_secure(from_proxy, ("10.0.0.0/24",))
    assert webauth.request_is_secure(from_proxy, ("10.0.0.5",))
    assert not webauth.request_is_secure(SimpleNamespace(remote="10.0.0.5", headers={}, secure=False), ("10.0.0.5",))


def test_undecodable_bearer_never_matches():
    assert not webauth.token_matches("t\udcff0ken", ("t0ken",))


@pytest.fixture
async def client_for():
    clients: list[TestClient] = []

    async def make(tokens: tuple[str, ...] = ("t0ken",), insecure: bool = False) -> TestClient:
        hub = ConsoleHub(Settings())
        client = TestClient(TestServer(aiohttp_app(ConsoleWeb(hub, tokens, insecure))))
        await client.start_server()
        clients.append(client)
        client.hub = hub  # type: ignore[attr-defined]
        return client

    yield make
    for c in clients:
        await c.close()


async def test_console_answers_401_without_token_200_with_bearer(client_for):
    client = await client_for()
    for path in ("/console", "/console/api/state", "/console/api/stream", "/console/static/console.js"):
        resp = await client.get(path)
        assert resp.status == 401, path
    resp = await client.get("/console/api/state", headers={"Authorization": "Bearer wrong"})
    assert resp.status == 401
    resp = await client.get("/console/api/state", headers={"Authorization": "Bearer t0ken"})
    assert resp.status == 200
    assert set(await resp.json()) >= {"open", "recent", "charts"}
    resp = await client.post(
        "/console/api/ack", json={"alert_id": "a", "patient_id": "p", "by": "x", "action": "acknowledge"}
    )
    assert resp.status == 401


async def test_first_load_with_token_sets_cookie_and_redirects_then_cookie_works(client_for):
    client = await client_for()
    resp = await client.get("/console?token=t0ken", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/console"  # the token leaves the address bar
    set_cookie = resp.headers["Set-Cookie"]
    assert f"{webauth.COOKIE_NAME}=v1." in set_cookie and "HttpOnly" in set_cookie
    assert "t0ken" not in set_cookie  # the cookie is a session, not the credential
    assert "SameSite=Strict" in set_cookie and "Secure" not in set_cookie
    # The client's cookie jar now carries it, like a browser.
    page = await client.get("/console")
    assert page.status == 200
    assert "console.js" in await page.text()
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert (await client.get("/console/api/state")).status == 200
    assert (await client.get("/console/static/console.css")).status == 200
    assert (await client.get("/console/static/../console.py")).status in (401, 404)
    bad = await client.get("/console?token=wrong", allow_redirects=False, cookies={})
    assert bad.status in (200, 401)  # a wrong ?token= never sets a cookie
    assert webauth.COOKIE_NAME not in bad.headers.get("Set-Cookie", "")


async def test_without_tokens_console_is_not_configured_unless_insecure_on_loopback(client_for):
    client = await client_for(tokens=())
    resp = await client.get("/console/api/state", headers={"Authorization": "Bearer anything"})
    assert resp.status == 401
    assert "not configured" in (await resp.json())["error"]
    page = await client.get("/console?token=anything", allow_redirects=False)
    assert page.status == 401 and "not configured" in await page.text()
    insecure = await client_for(tokens=(), insecure=True)
    assert (await insecure.get("/console/api/state")).status == 200  # the test client is loopback
    # Insecure mode is ignored once tokens are configured.
    guarded = await client_for(tokens=("t0ken",), insecure=True)
    assert (await guarded.get("/console/api/state")).status == 401


def test_insecure_mode_refuses_other_machines():
    console = ConsoleWeb(ConsoleHub(Settings()), (), insecure=True)
    remote = SimpleNamespace(remote="10.1.2.3", headers={}, cookies={}, query={})
    local = SimpleNamespace(remote="127.0.0.1", headers={}, cookies={}, query={})
    assert console.denied(local) is None
    assert console.denied(remote).status == 401


async def test_ack_api_validates_and_publishes_keyed_by_patient(client_for, monkeypatch):
    client = await client_for()
    sent: list[dict] = []

    async def publish(doc):
        sent.append(doc)
        return SimpleNamespace(partition=0, offset=7)

    monkeypatch.setattr(client.hub, "publish_ack", publish)
    auth = {"Authorization": "Bearer t0ken"}
    resp = await client.post(
        "/console/api/ack", data="alert_id=a", headers={**auth, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert resp.status == 415  # no cross-site form posts
    resp = await client.post(
        "/console/api/ack", json={"alert_id": "a", "patient_id": "p", "by": "", "action": "acknowledge"}, headers=auth
    )
    assert resp.status == 422
    resp = await client.post(
        "/console/api/ack", json={"alert_id": "a", "patient_id": "p", "by": "RN Lee", "action": "snooze"}, headers=auth
    )
    assert resp.status == 422
    resp = await client.post(
        "/console/api/ack",
        json={"alert_id": "a1", "patient_id": "MRN-1", "by": "RN Lee", "action": "acknowledge"},
        headers=auth,
    )
    assert resp.status == 202
    assert sent[0]["alert_id"] == "a1" and sent[0]["action"] == "acknowledge" and sent[0]["ts"].endswith("Z")
