"""The live alert console for on-call staff: /console on the worker's web server.

`register(worker)` (the worker's EXTENSIONS hook) mounts the page and its APIs
on the Faust web server and starts a `ConsoleHub` as a Faust task; `wardwatch
console` (streams/cli/console.py) serves the same routes from a plain aiohttp
app on a port of its own.

The hub keeps its own picture of the ward (`streams.console.view`), fed by a
group-less aiokafka consumer assigned *all* partitions of `alerts` (from the
beginning) and `vitals` (the last `vitals_backlog` messages of each partition,
then live), so every console shows every patient whichever partitions this
worker owns. Browsers get a snapshot and then live events over SSE; the
Acknowledge / Resolve buttons POST to /console/api/ack, which produces to
`alert-acks` keyed by patient_id and answers 202 once the broker has it.

Routes (all need a console token or the session it buys, see streams/webauth.py):
  GET  /console                     the page (?token= on first load sets the session cookie, then redirects)
  GET  /console/static/{file}       console.js, console.css
  GET  /console/api/state           JSON snapshot {open, recent, charts}
  GET  /console/api/stream          text/event-stream: snapshot, alert, vitals events
  POST /console/api/ack             {alert_id, patient_id, action, by} -> 202
Console tokens (WARDWATCH_CONSOLE_TOKENS) are not ingest tokens: a console
session cannot write vitals. Without console tokens everything answers 401
"not configured" (and the
worker does not follow the topics for it), unless WARDWATCH_CONSOLE_INSECURE=1,
which then serves loopback clients only (the demo).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from alerts.acks import parse_ack
from streams import webauth
from streams.config import Settings
from streams.console.view import ConsoleView
from streams.identity import SignInThrottle, Staff, StaffSessions, UsersFile, visibility

log = logging.getLogger("wardwatch.console")

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"console.js": "text/javascript", "console.css": "text/css"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
#: How often chart updates of alerting patients are pushed, and the SSE keep-alive.
VITALS_PUSH_S = 2.0
HEARTBEAT_S = 15.0
#: A browser that falls this many events behind is disconnected (it reconnects and gets a snapshot).
SUBSCRIBER_QUEUE = 500
#: A console POST (an ack, a sign-in) is a few hundred bytes: one not complete within this is
#: a slow client holding a connection open, answered 408 (aiohttp caps its size at 1 MiB).
#: WARDWATCH_HTTP_BODY_TIMEOUT_S, the ingest's body deadline, lowers it.
BODY_TIMEOUT_S = 15.0


def _body_timeout_s() -> float:
    try:
        ingest = float(os.environ.get("WARDWATCH_HTTP_BODY_TIMEOUT_S", BODY_TIMEOUT_S))
    except ValueError:
        ingest = BODY_TIMEOUT_S  # the ingest side refuses the value at start-up and says why
    return min(BODY_TIMEOUT_S, ingest) if ingest > 0 else BODY_TIMEOUT_S


class SlowBody(Exception):
    """The request body did not arrive within BODY_TIMEOUT_S."""


async def _within_deadline(read: Awaitable[Any]) -> Any:
    try:
        async with asyncio.timeout(_body_timeout_s()):
            return await read
    except TimeoutError:
        raise SlowBody from None


def _slow_body_reply() -> web.Response:
    return web.json_response(
        {"error": f"request body not complete within {_body_timeout_s():g} s: send it at once"}, status=408
    )


def insecure_from_env() -> bool:
    return os.environ.get("WARDWATCH_CONSOLE_INSECURE", "").strip().lower() in ("1", "true", "yes")


def sse(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class ConsoleHub:
    """Consumes alerts + vitals into a ConsoleView, fans changes out, publishes acks."""

    def __init__(self, settings: Settings, view: ConsoleView | None = None, vitals_backlog: int = 20000) -> None:
        self.settings = settings
        self.view = view or ConsoleView(future_tolerance_s=settings.future_tolerance_s)
        self.vitals_backlog = vitals_backlog
        #: Each live stream's queue and the person it is for (None: sees everything, token/demo access).
        self.subscribers: dict[asyncio.Queue, Staff | None] = {}
        self.closing = False
        self.caught_up = False
        self._dirty: set[str] = set()
        self._positions: dict[Any, int] = {}
        self._producer: Any = None
        self._producer_lock: asyncio.Lock | None = None

    # ---- fan-out -------------------------------------------------------------
    def subscribe(self, staff: Staff | None = None) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=SUBSCRIBER_QUEUE)
        self.subscribers[queue] = staff
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.pop(queue, None)

    def broadcast(self, event: str | None, payload: dict[str, Any] | None = None) -> None:
        """Send an event to every live stream, as each one's person may see it (None closes them)."""
        everyone = sse(event, payload) if event is not None and payload is not None else None
        for queue, staff in list(self.subscribers.items()):
            if event is None or staff is None:
                message = None if event is None else everyone
            else:
                shown = visibility.event_for(event, payload or {}, staff, self.view.wards)
                if shown is None:
                    continue
                message = sse(event, shown)
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # too slow: drop it, its EventSource reconnects for a snapshot
                self.subscribers.pop(queue, None)
                queue.get_nowait()
                queue.put_nowait(None)

    def close_streams(self) -> None:
        self.closing = True
        self.broadcast(None)

    def snapshot(self, staff: Staff | None = None) -> dict[str, Any]:
        snap = {**self.view.snapshot(), "caught_up": self.caught_up, "server_time": int(time.time() * 1000)}
        return visibility.snapshot_for(snap, staff)

    # ---- feeding the view ----------------------------------------------------
    def on_alert(self, raw: bytes) -> None:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        card = self.view.apply_alert(doc)
        if card is None:
            return
        payload: dict[str, Any] = {"card": card}
        if card["status"] != "resolved":
            payload["chart"] = self.view.chart(card["patient_id"])
        if self.subscribers:
            self.broadcast("alert", payload)

    def on_vitals(self, raw: bytes) -> None:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        pid = self.view.apply_vitals(doc)
        if pid is not None and self.view.has_open_alert(pid):
            self._dirty.add(pid)

    def flush_charts(self) -> None:
        dirty, self._dirty = self._dirty, set()
        if not self.subscribers:
            return
        for pid in dirty:
            if self.view.has_open_alert(pid):
                self.broadcast("vitals", {"patient_id": pid, "chart": self.view.chart(pid)})

    async def run(self) -> None:
        """Consume until cancelled; reconnects after broker trouble."""
        from streams.kafka import BrokerUnavailable

        while not self.closing:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except BrokerUnavailable as exc:
                log.warning("console: %s; retrying in 5 s", exc)
            except Exception:
                log.exception("console consumer failed; restarting in 5 s")
            await asyncio.sleep(5)

    async def _consume(self) -> None:
        from aiokafka import TopicPartition

        from streams.kafka import consumer

        topics = self.settings.topics
        cons = await consumer(
            self.settings,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=1 << 20,
        )
        try:
            while True:  # wait for the topics (never create them: a metadata request may)
                present = await cons.topics()
                if topics.alerts in present and topics.vitals in present:
                    break
                await asyncio.sleep(2)
            alert_tps = [TopicPartition(topics.alerts, p) for p in sorted(cons.partitions_for_topic(topics.alerts))]
            vital_tps = [TopicPartition(topics.vitals, p) for p in sorted(cons.partitions_for_topic(topics.vitals))]
            cons.assign(alert_tps + vital_tps)
            await cons.seek_to_beginning(*alert_tps)
            if vital_tps:
                begins = await cons.beginning_offsets(vital_tps)
                ends = await cons.end_offsets(vital_tps)
                for tp in vital_tps:
                    cons.seek(tp, max(begins[tp], ends[tp] - self.vitals_backlog))
            for tp in alert_tps + vital_tps:  # after a reconnect: go on where we were
                if tp in self._positions:
                    cons.seek(tp, self._positions[tp])
            alert_ends = await cons.end_offsets(alert_tps) if alert_tps else {}
            log.info(
                "console following %s (%d partitions) and %s (%d partitions)",
                topics.alerts,
                len(alert_tps),
                topics.vitals,
                len(vital_tps),
            )
            last_push = time.monotonic()
            while not self.closing:
                batch = await cons.getmany(timeout_ms=500, max_records=2000)
                for tp, records in batch.items():
                    handle = self.on_alert if tp.topic == topics.alerts else self.on_vitals
                    for record in records:
                        if record.value is not None:
                            handle(record.value)
                    if records:
                        self._positions[tp] = records[-1].offset + 1
                if not self.caught_up and all(await _positions_reached(cons, alert_ends)):
                    self.caught_up = True
                    log.info("console caught up: %d open alerts", len(self.view.open))
                now = time.monotonic()
                if now - last_push >= VITALS_PUSH_S:
                    self.flush_charts()
                    last_push = now
                await asyncio.sleep(0)
        finally:
            await cons.stop()

    # ---- acks ----------------------------------------------------------------
    async def publish_ack(self, doc: dict[str, Any]) -> Any:
        """Produce one ack keyed by patient_id; returns the broker's RecordMetadata."""
        from streams.kafka import producer

        if self._producer_lock is None:
            self._producer_lock = asyncio.Lock()
        async with self._producer_lock:
            if self._producer is None:
                self._producer = await producer(self.settings)
        return await asyncio.wait_for(
            self._producer.send_and_wait(self.settings.topics.acks, orjson.dumps(doc), key=doc["patient_id"].encode()),
            timeout=15,
        )

    async def stop(self) -> None:
        self.close_streams()
        if self._producer is not None:
            prod, self._producer = self._producer, None
            await prod.stop()


async def _positions_reached(cons: Any, ends: dict) -> list[bool]:
    out = []
    for tp, end in ends.items():
        try:
            out.append(await cons.position(tp) >= end)
        except Exception:
            out.append(False)
    return out


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConsoleWeb:
    """The HTTP side: login, page, static files, snapshot, SSE, acks."""

    def __init__(
        self,
        hub: ConsoleHub,
        tokens: tuple[str, ...],
        insecure: bool = False,
        trusted_proxies: tuple[str, ...] = (),
        session_secret: str = "",
        users: UsersFile | None = None,
        oidc: Any = None,
    ) -> None:
        self.hub = hub
        self.tokens = tuple(tokens)
        self.users = users
        self.oidc = oidc
        self.insecure = insecure and not self.tokens and users is None
        self.trusted_proxies = tuple(trusted_proxies)
        secret = session_secret.encode() or os.urandom(32)
        self.sessions = webauth.ConsoleSessions(self.tokens, secret)
        self.staff_sessions = StaffSessions(users, secret) if users is not None else None
        self.throttle = SignInThrottle()

    @property
    def configured(self) -> bool:
        return bool(self.tokens) or self.users is not None or self.insecure

    def routes(self) -> list[tuple[str, tuple[str, ...], Handler]]:
        return [
            ("/console", ("GET",), self.page),
            ("/console/static/{name}", ("GET",), self.static),
            ("/console/api/state", ("GET",), self.state),
            ("/console/api/stream", ("GET",), self.stream),
            ("/console/api/ack", ("POST",), self.ack),
            ("/console/api/me", ("GET",), self.me),
            ("/console/login", ("GET", "POST"), self.login),
            ("/console/logout", ("POST",), self.logout),
            ("/console/oidc/callback", ("GET",), self.oidc_callback),
        ]

    # ---- auth ----------------------------------------------------------------
    def staff(self, request: web.Request) -> Staff | None:
        """The signed-in person, if the request carries a valid staff session."""
        if self.staff_sessions is None:
            return None
        return self.staff_sessions.staff(webauth.session_cookie(request))

    def denied(self, request: web.Request, page: bool = False) -> web.Response | None:
        """None when the request may proceed, else the 401 to answer."""
        if self.staff(request) is not None:
            return None
        if self.insecure:
            if webauth.is_loopback(request):
                return None
            reason = "the console runs without tokens (WARDWATCH_CONSOLE_INSECURE=1) and serves this machine only"
        elif not self.tokens and self.users is None:
            reason = "console not configured: set WARDWATCH_USERS_FILE (staff sign-in) or WARDWATCH_CONSOLE_TOKENS"
        elif webauth.check_token(request, self.tokens) or self.sessions.valid(webauth.session_cookie(request)):
            return None
        elif self.users is not None:
            if page:  # a person at a browser: take them to the sign-in form
                return web.Response(status=303, headers={**SECURITY_HEADERS, "Location": "/console/login"})
            reason = "signed out: sign in at /console/login"
        else:
            reason = (
                "token required: open /console?token=YOUR_TOKEN once"
                if page
                else "token required: Authorization: Bearer <token>"
            )
        headers = {**SECURITY_HEADERS, "WWW-Authenticate": 'Bearer realm="wardwatch"'}
        if page:
            return web.Response(status=401, text=_login_page(reason), content_type="text/html", headers=headers)
        return web.json_response({"error": reason}, status=401, headers=headers)

    # ---- handlers ------------------------------------------------------------
    async def page(self, request: web.Request) -> web.StreamResponse:
        token = webauth.query_token(request, self.tokens) if self.tokens else None
        if token is not None:
            # Log the browser in, then drop the token from the address bar and history.
            response = web.Response(status=303, headers={**SECURITY_HEADERS, "Location": request.path})
            webauth.set_session_cookie(
                response, self.sessions.issue(token), secure=webauth.request_is_secure(request, self.trusted_proxies)
            )
            return response
        denied = self.denied(request, page=True)
        if denied is not None:
            return denied
        return web.Response(
            body=_read_static("console.html"), content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
        )

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name", "")
        denied = None if name == "console.css" else self.denied(request)  # the sign-in page needs the CSS
        if denied is not None:
            return denied
        if name not in STATIC_FILES:
            return web.json_response({"error": "not found"}, status=404)
        return web.Response(
            body=_read_static(name), content_type=STATIC_FILES[name], charset="utf-8", headers=SECURITY_HEADERS
        )

    async def state(self, request: web.Request) -> web.StreamResponse:
        denied = self.denied(request)
        if denied is not None:
            return denied
        return web.Response(
            body=orjson.dumps(self.hub.snapshot(self.staff(request))),
            content_type="application/json",
            headers=SECURITY_HEADERS,
        )

    async def stream(self, request: web.Request) -> web.StreamResponse:
        denied = self.denied(request)
        if denied is not None:
            return denied
        response = web.StreamResponse(
            headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        staff = self.staff(request)
        queue = self.hub.subscribe(staff)
        try:
            await response.write(b"retry: 2000\n" + sse("snapshot", self.hub.snapshot(staff)))
            while not self.hub.closing:
                try:
                    message = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    message = b": keep-alive\n\n"
                if message is None:
                    break
                await response.write(message)
        except (ConnectionResetError, RuntimeError):
            pass  # the browser went away
        finally:
            self.hub.unsubscribe(queue)
        return response

    async def ack(self, request: web.Request) -> web.StreamResponse:
        denied = self.denied(request)
        if denied is not None:
            return denied
        if request.content_type != "application/json":  # also keeps cross-site form posts out
            return web.json_response({"error": "send JSON (Content-Type: application/json)"}, status=415)
        try:
            body = orjson.loads(await _within_deadline(request.read()))
        except SlowBody:
            return await webauth.send_and_close(request, _slow_body_reply())
        except orjson.JSONDecodeError:
            return web.json_response({"error": "body is not valid JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        staff = self.staff(request)
        if staff is None and self.users is not None:
            return web.json_response(
                {
                    "error": "sign in as yourself to acknowledge (/console/login): "
                    "a shared token cannot say who acknowledged"
                },
                status=403,
            )
        if staff is not None and not staff.may_act_on(self.hub.view.ward_of(str(body.get("alert_id")))):
            why = "ops sign-ins are read-only" if not staff.clinical else "this alert is not on your wards"
            return web.json_response({"error": why}, status=403)
        by = staff.display_name if staff is not None else str(body.get("by") or "").strip()[:80]
        doc = {
            "alert_id": body.get("alert_id"),
            "patient_id": body.get("patient_id"),
            "by": by,
            "action": body.get("action") or "acknowledge",
            "ts": _utc_now(),
            "source": "console",
        }
        if staff is not None:  # who, verified: the audit trail rests on this, not on the name
            doc.update(by_user=staff.username, role=staff.role.value, auth=staff.method)
        try:
            parse_ack(orjson.dumps(doc))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=422)
        known = self.hub.view.open.get(doc["alert_id"])
        if known is not None and known["patient_id"] != doc["patient_id"]:
            return web.json_response({"error": "alert_id belongs to another patient"}, status=409)
        try:
            meta = await self.hub.publish_ack(doc)
        except Exception as exc:
            log.warning("console: ack not published: %r", exc)
            return web.json_response({"error": "could not publish the ack to Kafka; try again"}, status=503)
        log.info("console: %s of %s published", doc["action"], doc["alert_id"])
        return web.json_response(
            {"status": "accepted", "ack": doc, "partition": meta.partition, "offset": meta.offset}, status=202
        )

    # ---- staff sign-in -------------------------------------------------------
    async def me(self, request: web.Request) -> web.StreamResponse:
        """Who is signed in (the page hides the free-text name box when someone is)."""
        staff = self.staff(request)
        if staff is None:
            denied = self.denied(request)
            if denied is not None:
                return denied
            return web.json_response({"username": None}, headers=SECURITY_HEADERS)
        return web.json_response(
            {
                "username": staff.username,
                "display_name": staff.display_name,
                "role": staff.role.value,
                "wards": sorted(staff.wards),
                "auth": staff.method,
            },
            headers=SECURITY_HEADERS,
        )

    async def login(self, request: web.Request) -> web.StreamResponse:
        if self.users is None:
            return web.Response(
                status=404, text="staff sign-in is not configured (WARDWATCH_USERS_FILE)", headers=SECURITY_HEADERS
            )
        if request.method == "GET":
            if request.query.get("sso") and self.oidc is not None:
                return await self._oidc_begin(request)
            return self._login_form()
        if not _same_origin(request):  # login CSRF: only our own form may sign someone in
            return self._login_form("sign-in refused: the form came from another site", 403)
        try:
            form = await _within_deadline(request.post())
        except SlowBody:
            return await webauth.send_and_close(request, _slow_body_reply())
        username = str(form.get("username") or "").strip().lower()[:64]
        password = str(form.get("password") or "")[:1024]
        remote = request.remote or "?"
        if self.throttle.blocked(username, remote):
            log.warning("console: sign-in throttled after repeated failures (from %s)", remote)
            return self._login_form("too many failed sign-ins: wait a few minutes", 429)
        from streams.identity import verify_password

        user = self.users.get(username) if username else None
        ok = verify_password(user.password_hash if user else None, password)
        if not ok or user is None:
            self.throttle.failed(username, remote)
            log.info("console: failed sign-in (from %s)", remote)
            return self._login_form("wrong user name or password", 401)
        self.throttle.succeeded(username, remote)
        return self._signed_in(request, self.staff_sessions.issue(user, "password"), user.username, "password")

    def _signed_in(
        self, request: web.Request, session: str, username: str, method: str, refresh: bool = False
    ) -> web.StreamResponse:
        log.info("console: %s signed in (%s)", username, method)
        if refresh:
            # After a cross-site redirect (the provider's), a SameSite=Strict cookie would not be sent on
            # a 303; a same-site navigation from this page carries it.
            response = web.Response(text=_refresh_page("/console"), content_type="text/html", headers=SECURITY_HEADERS)
        else:
            response = web.Response(status=303, headers={**SECURITY_HEADERS, "Location": "/console"})
        webauth.set_session_cookie(response, session, secure=webauth.request_is_secure(request, self.trusted_proxies))
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(
            status=303,
            headers={**SECURITY_HEADERS, "Location": "/console/login" if self.users is not None else "/console"},
        )
        webauth.clear_session_cookie(response)
        return response

    async def _oidc_begin(self, request: web.Request) -> web.StreamResponse:
        from streams.identity import FLOW_COOKIE, FLOW_MAX_AGE_S

        try:
            url, flow = await self.oidc.begin(self.oidc.redirect_uri(_base_url(request)))
        except Exception as exc:  # the provider is down or misconfigured: say so, keep password sign-in
            log.warning("console: single sign-on unavailable: %r", exc)
            return self._login_form("single sign-on is unavailable right now; use your password or try later", 503)
        response = web.Response(status=303, headers={**SECURITY_HEADERS, "Location": url})
        response.set_cookie(
            FLOW_COOKIE,
            flow,
            max_age=FLOW_MAX_AGE_S,
            path="/console",
            httponly=True,
            secure=webauth.request_is_secure(request, self.trusted_proxies),
            samesite="Lax",
        )
        return response

    async def oidc_callback(self, request: web.Request) -> web.StreamResponse:
        from streams.identity import FLOW_COOKIE, identities

        if self.oidc is None or self.users is None:
            return web.Response(status=404, text="single sign-on is not configured", headers=SECURITY_HEADERS)
        try:
            claims = await self.oidc.complete(
                self.oidc.redirect_uri(_base_url(request)), dict(request.query), request.cookies.get(FLOW_COOKIE)
            )
        except Exception as exc:
            log.warning("console: single sign-on failed: %s", exc)
            return self._login_form(f"single sign-on failed: {exc}", 401)
        names = identities(claims)
        user = next((u for u in (self.users.by_sso(n) for n in names) if u is not None), None)
        if user is None:
            shown = names[0] if names else "?"
            return self._login_form(
                f"{shown} signed in at the hospital but is not a wardwatch user: ask an "
                f"administrator to run `wardwatch user add NAME --sso {shown} --role ...`",
                403,
            )
        response = self._signed_in(
            request, self.staff_sessions.issue(user, "oidc"), user.username, "oidc", refresh=True
        )
        response.del_cookie(FLOW_COOKIE, path="/console")
        return response

    def _login_form(self, error: str = "", status: int = 200) -> web.Response:
        return web.Response(
            status=status,
            text=_signin_page(error, self.oidc is not None),
            content_type="text/html",
            headers=SECURITY_HEADERS,
        )


def _utc_now() -> str:
    from datetime import datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_STATIC_CACHE: dict[str, bytes] = {}


def _same_origin(request: web.Request) -> bool:
    """A browser's form post must come from our own page.

    Browsers send `Sec-Fetch-Site` (our `Referrer-Policy: no-referrer` makes their
    `Origin` "null"); older ones send `Origin`; non-browser clients send neither.
    """
    from urllib.parse import urlsplit

    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return origin is None  # non-browser clients send neither; a sandboxed page sends "null"
    return urlsplit(origin).netloc == request.host


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _signin_page(error: str, sso: bool) -> str:
    from html import escape

    sso_link = '<p><a class="btn" id="sso" href="login?sso=1">Sign in with the hospital account</a></p>' if sso else ""
    message = f'<p class="err" role="alert">{escape(error)}</p>' if error else ""
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport "
        "content='width=device-width,initial-scale=1'><title>wardwatch console: sign in</title>"
        "<link rel=stylesheet href='static/console.css'>"
        "<main class=signin><h1>wardwatch console</h1>"
        + message
        + "<form method=post action=login><label for=username>User name</label>"
        "<input id=username name=username autocomplete=username required autofocus>"
        "<label for=password>Password</label>"
        "<input id=password name=password type=password autocomplete=current-password required>"
        "<button class='btn' id=signin type=submit>Sign in</button></form>" + sso_link + "</main></html>"
    )


def _refresh_page(target: str) -> str:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<meta http-equiv=refresh content='0;url={target}'><title>signed in</title>"
        f"<p>Signed in. <a href='{target}'>Open the console</a>.</p></html>"
    )


def _read_static(name: str) -> bytes:
    body = _STATIC_CACHE.get(name)
    if body is None:
        body = _STATIC_CACHE[name] = (STATIC_DIR / name).read_bytes()
    return body


def _login_page(reason: str) -> str:
    from html import escape

    return (
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport "
        "content='width=device-width,initial-scale=1'><title>wardwatch console: sign in</title>"
        f"<h1>wardwatch console</h1><p>{escape(reason)}</p></html>"
    )


# ---- wiring ------------------------------------------------------------------
def build(settings: Settings, insecure: bool | None = None) -> tuple[ConsoleHub, ConsoleWeb]:
    hub = ConsoleHub(settings)
    return hub, console_web(hub, settings, insecure_from_env() if insecure is None else insecure)


def console_web(hub: ConsoleHub, settings: Settings, insecure: bool) -> ConsoleWeb:
    """The console's HTTP side with the console credentials (never the ingest tokens)."""
    secret = settings.session_secret or os.urandom(32).hex()
    users = UsersFile(settings.users_file) if settings.users_file else None
    oidc = None
    if settings.oidc_issuer and users is not None:
        from streams.identity import OidcSettings, OidcSignIn

        oidc = OidcSignIn(
            OidcSettings(
                settings.oidc_issuer,
                settings.oidc_client_id,
                settings.oidc_client_secret,
                settings.oidc_redirect_url or None,
            ),
            secret.encode(),
        )
    return ConsoleWeb(hub, settings.console_tokens, insecure, settings.trusted_proxies, secret, users, oidc)


def aiohttp_app(console: ConsoleWeb) -> web.Application:
    """A plain aiohttp application with the console routes (standalone command, tests)."""
    app = web.Application()
    for path, methods, handler in console.routes():
        for method in methods:
            app.router.add_route(method, path, handler)

    async def on_shutdown(_app: web.Application) -> None:
        console.hub.close_streams()

    app.on_shutdown.append(on_shutdown)
    return app


def register(worker: Any) -> None:
    """Mount the console on the worker's Faust web server and follow the topics in a Faust task."""
    from faust.web import View

    hub, console = build(worker.settings)
    app = worker.app
    for path, methods, handler in console.routes():

        async def call(view: Any, request: Any, _handler: Handler = handler, **kwargs: Any) -> Any:
            return await _handler(request)

        attrs = {method.lower(): call for method in methods}
        name = "console_" + path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
        app.page(path, name=name)(type(name, (View,), attrs))

    async def on_shutdown(_app: Any) -> None:
        hub.close_streams()

    app.web.web_app.on_shutdown.append(on_shutdown)

    async def follow() -> None:
        try:
            await hub.run()
        finally:
            await hub.stop()

    follow.__name__ = "console_follow"
    if console.configured:
        app.task(follow)
    else:  # nobody can open it: do not spend the worker's CPU following the topics
        log.info("console not configured (no WARDWATCH_CONSOLE_TOKENS): /console answers 401")
