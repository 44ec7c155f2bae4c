"""Hostile senders against a real worker (issue #15 items 4-11, 13): real broker, real HTTP and MLLP sockets.

One worker serves the whole module with small limits (seconds, not minutes) so each check is quick:
idle 4 s, frame deadline 1 s, 3 connections per source / 6 in total, 3 framing reports per minute,
HTTP header timeout 1.5 s, body timeout 1 s, FHIR Bundles of at most 1000 entries.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from streams.kafka.broker import EmbeddedBroker
from tests.conftest import WorkerProcess, produce_sync
from tests.integration.test_ingest import ACK_END, T0, TOKEN, hl7_oru, msa, post, read_topic

pytestmark = pytest.mark.integration

SECRET_MRN = "MRN-SECRET-4711"
LIMITS = {
    "WARDWATCH_INGEST_TOKENS": TOKEN,
    "WARDWATCH_MLLP_IDLE_TIMEOUT_S": "4",
    "WARDWATCH_MLLP_FRAME_DEADLINE_S": "1",
    "WARDWATCH_MLLP_MAX_CONNECTIONS": "6",
    "WARDWATCH_MLLP_MAX_CONNECTIONS_PER_SOURCE": "3",
    "WARDWATCH_MLLP_FRAMING_REPORTS_PER_MIN": "3",
    "WARDWATCH_HTTP_HEADER_TIMEOUT_S": "1.5",
    "WARDWATCH_HTTP_BODY_TIMEOUT_S": "1",
    "WARDWATCH_FHIR_MAX_ENTRIES": "1000",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Iterator[tuple[EmbeddedBroker, WorkerProcess]]:
    workdir: Path = tmp_path_factory.mktemp("hostile")
    with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
        worker = WorkerProcess(broker.bootstrap, workdir, **LIMITS).start()
        try:
            yield broker, worker
        finally:
            worker.stop()


def mllp_port(worker: WorkerProcess) -> int:
    return int(worker.env["WARDWATCH_MLLP_PORT"])


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes (or `within` s pass: then the assertion fails)."""
    started = time.monotonic()
    sock.settimeout(within)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"still open after {within} s; got {data!r}") from None
    return data, time.monotonic() - started


def acks_in(data: bytes) -> list[str]:
    return [a.lstrip(b"\x0b").decode() for a in data.split(ACK_END) if a.strip()]


def exchange(sock: socket.socket, message: bytes) -> str:
    sock.sendall(b"\x0b" + message + ACK_END)
    buffer = b""
    while ACK_END not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "closed before the ACK"
        buffer += chunk
    return acks_in(buffer)[0]


def dead_letters(broker: EmbeddedBroker, want) -> list[dict]:
    return [
        doc for _, doc in read_topic(broker.bootstrap, "vitals-dlq", lambda rs: want([d for _, d in rs]), timeout=15)
    ]


# ---- item 4: MLLP idle timeout, frame deadline, connection limits -------------------------------
def test_mllp_idle_connection_and_dripped_frame_are_closed(hostile):
    _, worker = hostile
    port = mllp_port(worker)
    idle = connect(port)
    drip = connect(port)
    drip.sendall(b"\x0bMSH|^~\\&|GW")
    for _ in range(3):  # one byte every 0.4 s: a frame that never ends
        time.sleep(0.4)
        try:
            drip.sendall(b"|")
        except OSError:
            break
    data, _ = read_until_closed(drip, within=4)
    assert [msa(a)[1] for a in acks_in(data)] == ["AR"] and "truncated" in acks_in(data)[0]
    _, waited = read_until_closed(idle, within=8)  # idle 4 s from connect
    assert waited < 8
    idle.close(), drip.close()
    assert worker.metric('wardwatch_mllp_connections_closed_total{reason="idle"}') >= 1
    assert worker.metric('wardwatch_mllp_connections_closed_total{reason="frame_deadline"}') >= 1
    assert "no complete frame within the idle timeout" in worker.log()


def test_mllp_gateway_exchanging_messages_keeps_its_connection(hostile):
    _, worker = hostile
    with connect(mllp_port(worker)) as sock:
        started = time.monotonic()
        count = 0
        while time.monotonic() - started < 6:  # longer than the 4 s idle timeout
            ack = exchange(sock, hl7_oru("MRN-KEEP", f"K{count}", T0 + count * 1000, 97, 14, 70))
            assert msa(ack)[1:3] == ["AA", f"K{count}"]
            count += 1
            time.sleep(1)
        assert count >= 5


def test_mllp_connection_limits_per_source_and_in_total(hostile):
    _, worker = hostile
    port = mllp_port(worker)
    held = [connect(port) for _ in range(3)]
    time.sleep(0.2)
    extra = connect(port)
    data, waited = read_until_closed(extra, within=2)
    assert data == b"" and waited < 2
    held += [connect(port, f"127.0.0.{n}") for n in (2, 3, 4)]  # 6 open: the global limit
    time.sleep(0.2)
    other = connect(port, "127.0.0.5")
    assert read_until_closed(other, within=2)[0] == b""
    for sock in [*held, extra, other]:
        sock.close()
    time.sleep(0.3)
    with connect(port) as sock:  # slots are free again: a gateway gets in
        assert msa(exchange(sock, hl7_oru("MRN-LIMIT", "L1", T0, 97, 14, 70)))[1] == "AA"
    assert worker.metric('wardwatch_mllp_connections_closed_total{reason="source_limit"}') >= 1
    assert worker.metric('wardwatch_mllp_connections_closed_total{reason="global_limit"}') >= 1
    assert "refused a connection from 127.0.0.1: source limit of 3 reached" in worker.log()


# ---- items 5 and 13: garbage grouped and rate-limited; no patient bytes in the log -------------
def test_mllp_garbage_is_one_record_per_run_and_rate_limited(hostile):
    broker, worker = hostile
    port = mllp_port(worker)
    with connect(port) as sock:
        for index in range(2000):  # 2,000 single garbage bytes, arriving in many reads
            sock.sendall(b"g")
            if index % 100 == 0:
                time.sleep(0.01)
        ack = exchange(sock, hl7_oru("MRN-GARB", "G1", T0, 97, 14, 70))
        replies = [ack]
        sock.settimeout(1)
        with contextlib.suppress(TimeoutError):
            replies += acks_in(sock.recv(65536))
    garbage_acks = [a for a in replies if msa(a)[1] == "AR"]
    assert len(garbage_acks) == 1 and "2000 bytes outside an MLLP frame" in garbage_acks[0], replies
    with connect(port) as sock:  # five separate runs, three reports a minute allowed
        for _ in range(5):
            sock.sendall(b"zzzz")
            time.sleep(0.7)
        sock.shutdown(socket.SHUT_WR)
        data, _ = read_until_closed(sock, within=5)
    assert len(acks_in(data)) == 3
    records = dead_letters(broker, lambda rs: any("more framing errors" in r["error"] for r in rs))
    garbage = [r for r in records if r["topic"] == "ingest/mllp" and "garbage" in r["error"]]
    assert [r["error"] for r in garbage].count("MLLP garbage: 2000 bytes discarded") == 1
    assert len(garbage) == 4, [r["error"] for r in records]
    summary = [r for r in records if "more framing errors" in r["error"]]
    assert len(summary) == 1 and "2 more framing errors (8 bytes)" in summary[0]["error"]
    assert worker.metric("wardwatch_mllp_framing_errors_suppressed_total") == 2


def test_mllp_garbage_and_truncated_frames_log_no_patient_identifier(hostile):
    _, worker = hostile
    port = mllp_port(worker)
    message = hl7_oru(SECRET_MRN, "T1", T0, 97, 14, 70)
    from_pid = message[message.index(b"PID|") :]
    with connect(port) as sock:
        sock.sendall(from_pid[:120])  # garbage: the rest of a message whose start was lost
        time.sleep(0.7)
        sock.sendall(b"\x0b" + from_pid[:100] + b"\x0b" + message + ACK_END)  # truncated by a restart
        sock.sendall(b"\x0b" + from_pid[:80])  # truncated at close
        sock.shutdown(socket.SHUT_WR)
        data, _ = read_until_closed(sock, within=5)
    assert sorted(msa(a)[1] for a in acks_in(data)) == ["AA", "AR", "AR", "AR"]
    time.sleep(0.3)
    log = worker.log()
    assert "MLLP garbage:" in log and "MLLP truncated:" in log
    assert SECRET_MRN not in log and "PID|" not in log


# ---- item 10: an ORU^R01 with nothing after PID -----------------------------------------------------
def test_oru_without_obx_is_an_error_on_mllp_and_http(hostile):
    broker, worker = hostile
    cut = b"\r".join(hl7_oru("MRN-CUT", "CUT1", T0, 97, 14, 70).split(b"\r")[:2]) + b"\r"
    with connect(mllp_port(worker)) as sock:
        ack = exchange(sock, cut)
    assert msa(ack)[1:3] == ["AE", "CUT1"] and "no OBX segment" in msa(ack)[3]
    status, reply = post(worker.web_port, "/ingest/hl7v2", cut, content_type="text/plain")
    assert status == 422 and reply["ack_code"] == "AE" and "no OBX segment" in reply["error"]
    records = dead_letters(broker, lambda rs: sum("no OBX segment" in r["error"] for r in rs) >= 2)
    assert {r["reason"] for r in records if "no OBX segment" in r["error"]} == {"no_vital"}


# ---- item 8: bad input is 400/413 with a dead letter, not "Kafka unavailable" ------------------
def test_deep_json_and_bad_patient_ids_are_refused_with_a_reason(hostile):
    broker, worker = hostile
    deep = b'{"patient_id": "MRN-DEEP", "ts": 1795597200000, "heart_rate": 70, "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    status, reply = post(worker.web_port, "/ingest/vitals", deep)
    assert status == 400 and "deeper than 254" in reply["error"], reply
    huge = orjson.dumps({"patient_id": "M" * 1_000_000, "ts": T0, "heart_rate": 70})
    status, reply = post(worker.web_port, "/ingest/vitals", huge)
    assert status == 400 and reply["error"] == "patient_id is 1000000 characters, limit 64"
    for evil in ("MRN-1\r\nINFO forged line", "MRN-\x1b[31mred", "MRN-\x85next"):
        body = orjson.dumps({"patient_id": evil, "ts": T0, "spo2": 97})
        status, reply = post(worker.web_port, "/ingest/vitals", body)
        assert status == 400 and "control or invisible" in reply["error"], (evil, reply)
    pid_esc = hl7_oru("MRN-\x1b[2J", "ESC1", T0, 97, 14, 70)
    with connect(mllp_port(worker)) as sock:
        ack = exchange(sock, pid_esc)
    assert msa(ack)[1] == "AE" and "PID-3 patient_id contains control" in ack
    # Contract JSON straight on Kafka: the worker dead-letters it with the same reason.
    produce_sync(broker.bootstrap, "vitals", [(b"k", orjson.dumps({"patient_id": "MRN\nX", "ts": T0, "spo2": 97}))])
    records = dead_letters(broker, lambda rs: sum(r["reason"] == "bad_patient_id" for r in rs) >= 6)
    bad = [r for r in records if r["reason"] == "bad_patient_id"]
    assert {r["topic"] for r in bad} >= {"ingest/vitals", "ingest/mllp", "vitals"}
    big = next(r for r in bad if "1000000 characters" in r["error"])
    assert "payload cut to its first 262144" in big["error"] and len(big["payload"]) == 262144
    assert any("deeper than 254" in r["error"] and r["reason"] == "malformed" for r in records)
    assert worker.metric('wardwatch_ingest_requests_total{format="vitals",outcome="unavailable"}') == 0


# ---- item 9: a bearer token that is not UTF-8 -----------------------------------------------------
def test_non_utf8_bearer_token_is_401(hostile):
    _, worker = hostile
    body = b'{"patient_id": "MRN-T", "ts": 1795597200000, "spo2": 97}'
    request = (
        b"POST /ingest/vitals HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer \xff\xfe\x80token\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body
    )
    with socket.create_connection(("127.0.0.1", worker.web_port), timeout=10) as sock:
        sock.sendall(request)
        data, _ = read_until_closed(sock, within=10)
    assert data.startswith(b"HTTP/1.1 401"), data[:200]
    assert "Traceback" not in worker.log()


# ---- item 7: slow HTTP clients -----------------------------------------------------------------------
def test_slow_http_headers_and_body_are_timed_out(hostile):
    _, worker = hostile
    with socket.create_connection(("127.0.0.1", worker.web_port), timeout=10) as sock:
        sock.sendall(b"POST /ingest/vitals HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 6:  # one header byte every 0.3 s
            try:
                sock.sendall(b"X")
                sock.settimeout(0.3)
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed and time.monotonic() - started < 4
    with socket.create_connection(("127.0.0.1", worker.web_port), timeout=10) as sock:
        sock.sendall(
            b"POST /ingest/vitals HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b'\r\nContent-Length: 1000\r\n\r\n{"patient_id"'
        )
        data, waited = read_until_closed(sock, within=8)
    assert data.startswith(b"HTTP/1.1 408") and b"request body not complete" in data, data[:300]
    assert waited < 5


# ---- item 6: FHIR bundle limits, grouped dead letters --------------------------------------------
def test_fhir_bundle_entry_cap_and_grouped_dead_letters(hostile):
    broker, worker = hostile
    too_many = orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{}] * 1001})
    status, reply = post(worker.web_port, "/ingest/fhir", too_many)
    assert status == 413 and "Bundle has 1001 entries, limit 1000" in reply["error"]
    empties = orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{}] * 900})
    status, reply = post(worker.web_port, "/ingest/fhir", empties)
    assert status == 422 and reply["rejected"] == 900 and len(reply["rejections"]) == 50
    records = dead_letters(broker, lambda rs: any("900 entries rejected" in r["error"] for r in rs))
    fhir = [r for r in records if r["topic"] == "ingest/fhir"]
    assert len(fhir) == 2, [r["error"][:80] for r in fhir]  # the 413 and one group for the 900
    group = next(r for r in fhir if r["reason"] == "unsupported")
    assert group["error"].startswith("900 entries rejected as unsupported") and "Bundle.entry[0]" in group["error"]
    assert worker.metric('wardwatch_inputs_rejected_total{reason="unsupported"}') == 900


# ---- item 11: a 503 after the send started must not claim that nothing was taken ----------------
async def test_503_after_the_send_started_says_the_input_may_have_been_taken(broker):
    import asyncio

    from aiohttp import ClientSession, web

    from streams.config import Settings
    from streams.ingest import limits
    from streams.ingest import submit as common
    from streams.ingest.http import IngestWeb, aiohttp_app
    from streams.kafka.broker import free_port

    pipeline = common.IngestPipeline(
        Settings(bootstrap=broker.bootstrap), limits=limits.IngestLimits(send_timeout_s=1.5)
    )
    runner = web.AppRunner(aiohttp_app(IngestWeb(pipeline, common.IngestAccess((TOKEN,)))))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    body = orjson.dumps({"patient_id": "MRN-503", "ts": T0, "spo2": 97})
    url, auth = f"http://127.0.0.1:{port}/ingest/vitals", {"Authorization": f"Bearer {TOKEN}"}
    producing: asyncio.Task | None = None
    try:
        async with ClientSession() as http:
            async with http.post(url, data=body, headers=auth) as resp:  # before the producer connected
                assert resp.status == 503 and "nothing was taken" in (await resp.json())["error"]
            producing = asyncio.create_task(pipeline.run())
            for _ in range(100):
                if pipeline.ready:
                    break
                await asyncio.sleep(0.1)
            async with http.post(url, data=body, headers=auth) as resp:
                assert resp.status == 202
            broker.stop()  # the producer knows the topic; the next send is queued and never acknowledged
            async with http.post(url, data=body, headers=auth) as resp:
                error = (await resp.json())["error"]
                assert resp.status == 503 and resp.headers["Retry-After"] == str(common.RETRY_AFTER_S)
        assert "may have been taken" in error and "duplicate" in error and "nothing was taken" not in error
    finally:
        if producing is not None:
            producing.cancel()
            await asyncio.gather(producing, return_exceptions=True)
        await runner.cleanup()
