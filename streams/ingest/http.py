"""HTTP ingest on the worker's web server: contract JSON, FHIR R4 and HL7 v2 in, `vitals` out.

Routes (POST, `Authorization: Bearer <token>`, body at most 1 MiB):
  /ingest/vitals   contract JSON: one message, a JSON array, or NDJSON
                   (Content-Type application/x-ndjson, or simply several lines)
  /ingest/fhir     a FHIR R4 Observation or a Bundle of them
  /ingest/hl7v2    one HL7 v2 ORU^R01 (ER7 text); the reply carries the HL7 ACK too

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

import logging
from typing import Any, Awaitable, Callable

from aiohttp import web

from monitor.interop import parse_fhir, parse_hl7v2
from monitor.interop.hl7v2 import AckCode, Hl7Result
from monitor.interop.result import MESSAGE_ENTRY, EntryRejection, GatewayResult, RejectCode
from streams.ingest import submit as common
from streams.webauth import bearer_token

log = logging.getLogger("wardwatch.ingest.http")

ROUTES = {"/ingest/vitals": "vitals", "/ingest/fhir": "fhir", "/ingest/hl7v2": "hl7v2"}
#: An oversize body is read (and discarded) up to this size so the client sees the 413.
DRAIN_LIMIT_BYTES = 16 * 1_048_576
_CHUNK = 65536


class IngestWeb:
    """The three ingest handlers, over any aiohttp server (the worker's, or a test's)."""

    def __init__(self, pipeline: Any, access: common.IngestAccess) -> None:
        self.pipeline = pipeline
        self.access = access

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
            return _json({"error": "internal error; the input was not taken, retry later"}, 503,
                         {"Retry-After": str(common.RETRY_AFTER_S)})

    async def _handle(self, request: web.Request, fmt: str) -> web.StreamResponse:
        if not self.access.configured:
            common.record(fmt, "not_configured")
            return _json({"error": common.NOT_CONFIGURED}, 401, {"WWW-Authenticate": 'Bearer realm="wardwatch"'})
        if not self.access.allows(bearer_token(request)):
            common.record(fmt, "unauthorized")
            return _json({"error": "missing or wrong bearer token (Authorization: Bearer <token>)"}, 401,
                         {"WWW-Authenticate": 'Bearer realm="wardwatch", error="invalid_token"'})
        if fmt == "fhir" and "xml" in request.content_type:
            common.record(fmt, "rejected")
            return _json({"error": "FHIR XML is not supported: send application/fhir+json"}, 415)
        body = await read_body(request)
        if body is None:
            common.record(fmt, "oversize")
            return _json({"error": f"body larger than {common.MAX_BODY_BYTES} bytes: split it "
                                   "(several requests, or NDJSON lines of at most that size in total)"}, 413)
        result = parse(fmt, body, request.content_type)
        try:
            await self.pipeline.submit(result, body, f"ingest/{fmt}")
        except common.Unavailable as exc:
            log.warning("ingest/%s: %s", fmt, exc)
            common.record(fmt, "unavailable")
            return _json({"error": "Kafka is unavailable; nothing was taken, retry later"}, 503,
                         {"Retry-After": str(common.RETRY_AFTER_S)})
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
            log.info("ingest/%s: %s, %d samples, %d rejected", fmt, outcome, result.sample_count,
                     len(result.rejections))
        return _json(reply, status)


def parse(fmt: str, body: bytes, content_type: str = "") -> GatewayResult:
    """The GatewayResult of one body; never raises (an unexpected failure is a rejection)."""
    try:
        if fmt == "fhir":
            return parse_fhir(body, max_bytes=common.MAX_BODY_BYTES)
        if fmt == "hl7v2":
            return parse_hl7v2(body, max_bytes=common.MAX_BODY_BYTES)
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


def register(worker: Any) -> None:
    """Mount the ingest routes on the worker's Faust web server."""
    from faust.web import View

    settings = worker.settings
    access = common.IngestAccess.for_listener(settings.ingest_tokens, settings.web_host, "HTTP ingest")
    pipeline = common.pipeline_for(worker) if access.configured else None
    ingest = IngestWeb(pipeline, access)
    for path, handler in ingest.routes():
        async def post(view: Any, request: Any, _handler: Any = handler) -> Any:
            return await _handler(request)

        name = "ingest_" + path.rsplit("/", 1)[-1]
        worker.app.page(path, name=name)(type(name, (View,), {"post": post}))
