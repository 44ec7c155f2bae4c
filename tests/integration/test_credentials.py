"""Console and ingest credentials are separate, and the worker's listeners bind where they are told (#15.14).

A real worker on the embedded broker, real HTTP clients: a nurse's console
session (or console token) cannot write vitals, an ingest token cannot open the
console, a client-sent `X-Forwarded-Proto` does not decide the cookie's
`Secure` flag, and `/metrics` listens on `WARDWATCH_METRICS_HOST` only.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import socket
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.integration

CONSOLE = "console-t0ken"
INGEST = "ingest-t0ken"
SAMPLE = b'{"patient_id": "MRN-CRED-1", "device_id": "d1", "ts": 1795597200000, "heart_rate": 80}'


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # urllib's signature; None: do not follow
        return None


def call(
    url: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    opener: urllib.request.OpenerDirector | None = None,
) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with (opener or urllib.request.build_opener(NoRedirect)).open(request, timeout=10) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


def test_console_session_and_console_token_cannot_write_vitals(worker_factory):
    worker = worker_factory(WARDWATCH_CONSOLE_TOKENS=CONSOLE, WARDWATCH_INGEST_TOKENS=INGEST)
    base = f"http://127.0.0.1:{worker.web_port}"
    json_headers = {"Content-Type": "application/json"}

    # A browser signs in to the console with a client-sent X-Forwarded-Proto (no trusted proxy configured).
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(jar))
    status, headers = call(f"{base}/console?token={CONSOLE}", headers={"X-Forwarded-Proto": "https"}, opener=opener)
    assert status == 303
    set_cookie = headers["Set-Cookie"]
    assert "wardwatch_session=" in set_cookie and CONSOLE not in set_cookie
    assert "Secure" not in set_cookie  # the header came from the client, not a trusted proxy
    session = next(c.value for c in jar if c.name == "wardwatch_session")
    assert call(f"{base}/console/api/state", opener=opener)[0] == 200

    # Neither the session cookie nor the console token writes vitals.
    assert call(f"{base}/ingest/vitals", SAMPLE, {**json_headers, "Cookie": f"wardwatch_session={session}"})[0] == 401
    assert call(f"{base}/ingest/vitals", SAMPLE, {**json_headers, "Authorization": f"Bearer {session}"})[0] == 401
    assert call(f"{base}/ingest/vitals", SAMPLE, {**json_headers, "Authorization": f"Bearer {CONSOLE}"})[0] == 401
    # The ingest token does, and it does not open the console.
    assert call(f"{base}/ingest/vitals", SAMPLE, {**json_headers, "Authorization": f"Bearer {INGEST}"})[0] == 202
    assert call(f"{base}/console/api/state", headers={"Authorization": f"Bearer {INGEST}"})[0] == 401
    assert call(f"{base}/console?token={INGEST}")[0] == 401


def test_secure_cookie_behind_a_trusted_proxy(worker_factory):
    worker = worker_factory(WARDWATCH_CONSOLE_TOKENS=CONSOLE, WARDWATCH_TRUSTED_PROXIES="127.0.0.1")
    status, headers = call(
        f"http://127.0.0.1:{worker.web_port}/console?token={CONSOLE}", headers={"X-Forwarded-Proto": "https"}
    )
    assert status == 303 and "Secure" in headers["Set-Cookie"]


def test_metrics_listen_on_the_configured_host_only(worker_factory):
    worker = worker_factory(WARDWATCH_METRICS_HOST="127.0.0.2")
    with urllib.request.urlopen(f"http://127.0.0.2:{worker.metrics_port}/metrics", timeout=10) as resp:
        assert resp.status == 200
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", worker.metrics_port), timeout=2).close()


def test_named_gateways_are_added_and_revoked_without_restart_and_named_in_dead_letters(
    worker_factory, broker, tmp_path
):
    from streams.identity.gateways import GatewaysFile
    from tests.conftest import consume_sync

    gateways = GatewaysFile(tmp_path / "gateways.json")
    first = gateways.add("icu-monitors")
    worker = worker_factory(WARDWATCH_GATEWAYS_FILE=str(gateways.path))
    url = f"http://127.0.0.1:{worker.web_port}/ingest/vitals"
    json_headers = {"Content-Type": "application/json"}
    assert call(url, SAMPLE, {**json_headers, "Authorization": f"Bearer {first}"})[0] == 202
    bad = b'{"patient_id": "MRN-CRED-2", "device_id": "d1", "ts": 1795597200000, "heart_rate": 900}'
    assert call(url, bad, {**json_headers, "Authorization": f"Bearer {first}"})[0] == 422
    letters = consume_sync(broker.bootstrap, "vitals-dlq", lambda rs: any(r.get("gateway") for r in rs))
    assert [r["gateway"] for r in letters if r.get("gateway")] == ["icu-monitors"]

    # Revoked and a new one added while the worker runs: no restart.
    time.sleep(0.01)
    assert gateways.revoke("icu-monitors")
    second = gateways.add("ward-7a-wearables")
    assert call(url, SAMPLE, {**json_headers, "Authorization": f"Bearer {first}"})[0] == 401
    assert call(url, SAMPLE, {**json_headers, "Authorization": f"Bearer {second}"})[0] == 202


def test_mllp_accepts_only_the_networks_a_gateway_lists(worker_factory, tmp_path):
    from streams.identity.gateways import GatewaysFile

    gateways = GatewaysFile(tmp_path / "gateways.json")
    gateways.add("lab-mllp", ("127.0.0.2/32",))
    worker = worker_factory(WARDWATCH_GATEWAYS_FILE=str(gateways.path))
    port = int(worker.env["WARDWATCH_MLLP_PORT"])
    frame = b"\x0bMSH|^~\\&|GW|ICU|WW|H|20261125090000||ORU^R01|c1|P|2.6\rPID|||MRN-1\r\x1c\r"

    def exchange(source: str) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as conn:
            conn.sendall(frame)
            data = b""
            while not data.endswith(b"\x1c\r"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data

    deadline = time.monotonic() + 20
    while True:  # the listener starts right after readiness
        try:
            reply = exchange("127.0.0.2")
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert b"MSA|" in reply  # answered (AE/AA): a listed network
    with contextlib.suppress(ConnectionResetError):  # closed without an answer (or reset): no gateway lists it
        assert exchange("127.0.0.1") == b""


def test_gateway_changes_are_in_the_audit_trail(broker, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT, consume_sync

    gateways = tmp_path / "gateways.json"
    for action in (["add", "icu-monitors"], ["revoke", "icu-monitors"]):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "gateway",
                "--file",
                str(gateways),
                "--bootstrap",
                broker.bootstrap,
                *action,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    records = consume_sync(broker.bootstrap, "audit", lambda rs: sum(r.get("type") == "access" for r in rs) >= 2)
    details = [r["detail"] for r in records if r.get("type") == "access"]
    assert [r["gateway"] for r in records if r.get("type") == "access"] == ["icu-monitors"] * 2
    assert details[0].startswith("gateway icu-monitors added by ") and "revoked" in details[1]
    assert all("token" not in d for d in details)  # never the credential itself


def test_a_console_post_whose_body_never_completes_is_answered_408(worker_factory):
    """A signed-in (or token) client dripping an ack body holds no connection for long (#15 item 7)."""
    import socket

    worker = worker_factory(WARDWATCH_CONSOLE_TOKENS=CONSOLE, WARDWATCH_HTTP_BODY_TIMEOUT_S="1")
    with socket.create_connection(("127.0.0.1", worker.web_port), timeout=10) as sock:
        sock.sendall(
            b"POST /console/api/ack HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + CONSOLE.encode() + b'\r\nContent-Length: 500\r\n\r\n{"alert_id"'
        )
        started, data = time.monotonic(), b""
        while chunk := sock.recv(4096):
            data += chunk
        waited = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 408") and b"request body not complete" in data, data[:300]
    assert waited < 5
