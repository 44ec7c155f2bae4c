"""HTTP ingest on the worker's web server: contract JSON, FHIR R4 and HL7 v2 in, `vitals` out.

Routes (POST, `Authorization: Bearer <token>`, body at most 1 MiB):
  /ingest/vitals   contract JSON: one message, a JSON array, or NDJSON
                   (Content-Type application/x-ndjson, or simply several lines)
  /ingest/fhir     a FHIR R4 Observation or a Bundle of them, or an Encounter (ADT)
  /ingest/hl7v2    one HL7 v2 ORU^R01 or ADT message (ER7 text); the reply carries the HL7 ACK too

Replies: 202 {"accepted_samples", "rejected", "skipped_codes", "rejections"?}
once Kafka has acknowledged every accepted message; the usable entries of a
partly bad input are kept and each unusable one is dead-lettered (topic field
"ingest/<format>") and listed. Wholly unusable input: 400 (not parseable),
413 (too large) or 422 (parseable but unusable), with the reason. 401 for a
missing or wrong token, or "not configured" without WARDWATCH_INGEST_TOKENS;
503 + Retry-After when Kafka does not acknowledge in time. Bad input never
gets a 500. Shared logic: streams/ingest/submit.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from monitor.interop.fhir import DEFAULT_MAX_BUNDLE_ENTRIES
from monitor.interop.hl7v2 import AckCode, Hl7Result
from monitor.interop.result import MESSAGE_ENTRY, EntryRejection, GatewayResult, RejectCode
from streams import webauth
from streams.adt import gateway as adt_gateway
from streams.ingest import submit as common
from streams.ingest.limits import INLINE_PARSE_BYTES, IngestLimits, off_loop
from streams.webauth import bearer_token

log = logging.getLogger("wardwatch.ingest.http")

ROUTES = {"/ingest/vitals": "vitals", "/ingest/fhir": "fhir", "/ingest/hl7v2": "hl7v2"}
#: An oversize body is read (and discarded) up to this size so the client sees the 413.
DRAIN_LIMIT_BYTES = 16 * 1_048_576
_CHUNK = 65536


class IngestWeb:
    """The three ingest handlers, over any aiohttp server (the worker's, or a test's)."""

    def __init__(self, pipeline: Any, access: common.IngestAccess, limits: IngestLimits | None = None) -> None:
        self.pipeline = pipeline
        self.access = access
        self.limits = limits or IngestLimits()

    def routes(self) -> list[tuple[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
        def bind(fmt: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
            async def handler(request: web.Request) -> web.StreamResponse:
                return await self.handle(request, fmt)

            return handler

        return [(path, bind(fmt)) for path, fmt in ROUTES.items()]

    async def handle(self, request: web.Request, fmt: str) -> web.StreamResponse:
        try:
            return await self._handle(request, fmt)
        except Exception:  # a bug of ours must not look like the sender's fault, nor be a 500
            log.exception("ingest/%s: internal error", fmt)
            common.record(fmt, "error")
            return _json(
                {
                    "error": "internal error; the input may have been taken: retry later "
                    "(a retry can duplicate it, consumers dedupe)"
                },
                503,
                {"Retry-After": str(common.RETRY_AFTER_S)},
            )

    async def _handle(self, request: web.Request, fmt: str) -> web.StreamResponse:
        if not self.access.configured:
            common.record(fmt, "not_configured")
            return _json({"error": common.NOT_CONFIGURED}, 401, {"WWW-Authenticate": 'Bearer realm="wardwatch"'})
        gateway = self.access.who(bearer_token(request))
        if gateway is None:
            common.record(fmt, "unauthorized")
            return _json(
                {"error": "missing or wrong bearer token (Authorization: Bearer <token>)"},
                401,
                {"WWW-Authenticate": 'Bearer realm="wardwatch", error="invalid_token"'},
            )
        if fmt == "fhir" and "xml" in request.content_type:
            common.record(fmt, "rejected")
            return _json({"error": "FHIR XML is not supported: send application/fhir+json"}, 415)
        try:
            async with asyncio.timeout(self.limits.http_body_timeout_s):
                body = await read_body(request)
        except TimeoutError:
            common.record(fmt, "timeout")
            log.info(
                "ingest/%s: request body not complete after %.0f s, closing the connection",
                fmt,
                self.limits.http_body_timeout_s,
            )
            reply = _json(
                {
                    "error": f"request body not complete within {self.limits.http_body_timeout_s:g} s: "
                    "send it at once (nothing was taken)"
                },
                408,
            )
            return await webauth.send_and_close(request, reply)
        if body is None:
            common.record(fmt, "oversize")
            return _json(
                {
                    "error": f"body larger than {common.MAX_BODY_BYTES} bytes: split it "
                    "(several requests, or NDJSON lines of at most that size in total)"
                },
                413,
            )
        if fmt == "fhir" or len(body) > INLINE_PARSE_BYTES:
            result = await off_loop(
                self.limits, parse, fmt, body, request.content_type, self.limits.fhir_max_entries, f"ingest/{fmt}"
            )
        else:
            result = parse(fmt, body, request.content_type, self.limits.fhir_max_entries, f"ingest/{fmt}")
        try:
            await self.pipeline.submit(result, body, f"ingest/{fmt}", gateway)
        except common.Unavailable as exc:
            log.warning("ingest/%s: %s", fmt, exc)
            common.record(fmt, "unavailable")
            return _json({"error": exc.reply_text()}, 503, {"Retry-After": str(common.RETRY_AFTER_S)})
        outcome = common.outcome_of(result)
        common.record(fmt, outcome, result)
        reply = common.reply_body(result)
        status = common.http_status(result)
        if isinstance(result, Hl7Result):
            reply["ack_code"] = result.ack_code.value
            reply["ack"] = result.ack()
            if result.ack_code is AckCode.AA:
                status = 202
        if outcome != "accepted":
            log.info(
                "ingest/%s: %s, %d samples, %d rejected", fmt, outcome, result.sample_count, len(result.rejections)
            )
        return _json(reply, status)


def parse(
    fmt: str, body: bytes, content_type: str = "", fhir_max_entries: int = DEFAULT_MAX_BUNDLE_ENTRIES, source: str = ""
) -> GatewayResult:
    """The GatewayResult of one body; never raises (an unexpected failure is a rejection).

    ADT (HL7 v2 MSH-9 ADT, a FHIR Encounter) takes the same routes: streams/adt/gateway.py."""
    try:
        if fmt == "fhir":
            return adt_gateway.parse_fhir_body(body, source, common.MAX_BODY_BYTES, fhir_max_entries)
        if fmt == "hl7v2":
            return adt_gateway.parse_hl7v2_body(body, source, common.MAX_BODY_BYTES)
        return common.parse_vitals_body(body, ndjson="ndjson" in content_type)
    except Exception as exc:
        log.exception("ingest/%s: parser failed", fmt)
        reason = f"input could not be processed ({type(exc).__name__})"
        return GatewayResult(rejections=[EntryRejection(MESSAGE_ENTRY, reason, "", RejectCode.INTERNAL)])


async def read_body(request: web.Request, limit: int = common.MAX_BODY_BYTES) -> bytes | None:
    """The body, or None when it exceeds `limit` (then drained up to DRAIN_LIMIT_BYTES, never kept)."""
    declared = request.content_length
    if declared is not None and declared > DRAIN_LIMIT_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            chunks = []
            if size > DRAIN_LIMIT_BYTES:
                return None
            continue
        chunks.append(chunk)
    return None if size > limit else b"".join(chunks)


def _json(body: dict, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def aiohttp_app(ingest: IngestWeb) -> web.Application:
    """A plain aiohttp application with the ingest routes (tests)."""
    app = web.Application()
    for path, handler in ingest.routes():
        app.router.add_post(path, handler)
    return app


def apply_header_timeout(faust_web: Any, seconds: float) -> None:
    """Close connections whose request headers are not complete `seconds` after they open (or
    after their previous response): slowloris protection for the whole worker web server.

    aiohttp has no separate header-read timeout; its keep-alive timer is it: armed when a
    connection opens and after each response, it closes the connection if no complete
    request head arrived by then (a handler in progress, e.g. the console's event stream,
    is never cut). Faust builds its aiohttp AppRunner without options, default 3630 s,
    so the option is set on that runner before the server starts.
    """
    runner = getattr(faust_web, "_runner", None)
    kwargs = getattr(runner, "_kwargs", None)
    if kwargs is None:
        log.warning("cannot set the HTTP header timeout: Faust's web driver has no aiohttp runner")
        return
    kwargs["keepalive_timeout"] = seconds


def register(worker: Any) -> None:
    """Mount the ingest routes on the worker's Faust web server."""
    from faust.web import View

    settings = worker.settings
    limits = IngestLimits.from_env()
    access = common.IngestAccess.for_listener(
        settings.ingest_tokens, settings.web_host, "HTTP ingest", gateways_file=settings.gateways_file
    )
    pipeline = common.pipeline_for(worker) if access.configured else None
    ingest = IngestWeb(pipeline, access, limits)
    apply_header_timeout(worker.app.web, limits.http_header_timeout_s)
    for path, handler in ingest.routes():

        async def post(view: Any, request: Any, _handler: Any = handler) -> Any:
            return await _handler(request)

        name = "ingest_" + path.rsplit("/", 1)[-1]
        worker.app.page(path, name=name)(type(name, (View,), {"post": post}))
