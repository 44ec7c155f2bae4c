"""HL7 v2 over MLLP: a TCP listener on WARDWATCH_MLLP_PORT answering every frame with an ACK.

Each frame is one ORU^R01 (IHE PCD-01) or one ADT message (admit, transfer,
discharge...: produced to the `adt` topic, see streams/adt/). Its usable rows are produced to
`vitals` and its unusable ones dead-lettered (topic field "ingest/mllp") as
HTTP ingest does (streams/ingest/submit.py); the ACK goes back MLLP-framed,
in order, only after Kafka acknowledged: AA when taken (also when some rows
were rejected: their count is in MSA-3), AE for content errors (no PID, no
usable row), AR for what we do not take (wrong encoding characters, message
type, version, processing id), for framing errors (truncated, oversize or
garbage bytes), and for "Kafka unavailable, retry" (HL7's answer for a
failure unrelated to the content; the sender keeps the message and resends).

MLLP has no authentication: the listener takes data only when
WARDWATCH_INGEST_TOKENS is set (the deployment is configured for ingest) or
under WARDWATCH_INGEST_INSECURE=1 on a loopback bind; otherwise every frame
gets AR "not configured". Put it on a trusted network segment, or behind a
TLS-terminating proxy (stunnel, HAProxy) that only gateways can reach.
It binds the web server's address (WARDWATCH_WEB_HOST: 0.0.0.0 by default,
127.0.0.1 in tests and the demo).

Because anyone who reaches the port can connect, nothing a connection does
may hold the listener (streams/ingest/limits.py, docs/security.md):
- a connection that completes no frame for WARDWATCH_MLLP_IDLE_TIMEOUT_S
  (120 s) is closed; each complete frame restarts that clock;
- a frame must arrive whole within WARDWATCH_MLLP_FRAME_DEADLINE_S (30 s)
  of its start byte, oversize ones included: dripping keeps nothing open;
- WARDWATCH_MLLP_MAX_CONNECTIONS (256) in total and
  WARDWATCH_MLLP_MAX_CONNECTIONS_PER_SOURCE (32) per source address; one more
  is closed at once;
- garbage is one framing error per run (a pause of GARBAGE_PAUSE_S ends a
  run), and framing errors are answered, dead-lettered and logged at most
  WARDWATCH_MLLP_FRAMING_REPORTS_PER_MIN (10) times per connection and
  minute; the rest are counted and summarised in one record at close.
Each closing or refusal is a log line (address, reason; never message bytes)
and `wardwatch_mllp_connections_closed_total{reason}`.
Frames over 16 KiB are parsed in the ingest thread pool, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter as Tally
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge

from monitor.interop import build_ack, frame
from monitor.interop.hl7v2 import AckCode, ErrorCondition
from monitor.interop.mllp import FrameError, FrameErrorKind, MllpDecoder
from monitor.interop.result import MESSAGE_ENTRY, EntryRejection, GatewayResult, RejectCode
from streams.adt import gateway as adt_gateway
from streams.ingest import submit as common
from streams.ingest.limits import INLINE_PARSE_BYTES, IngestLimits, off_loop
from streams.metrics import REGISTRY

log = logging.getLogger("wardwatch.ingest.mllp")

FORMAT = "mllp"
SOURCE = "ingest/mllp"
#: A garbage run ends when the sender pauses this long (then it is answered once).
GARBAGE_PAUSE_S = 0.5
#: Refusals of new connections are logged at most once per this many seconds (with a count).
REFUSAL_LOG_EVERY_S = 10.0
_CHUNK = 65536
_FRAMING_TEXT = {
    FrameErrorKind.TRUNCATED: "MLLP frame truncated ({size} bytes discarded): message not taken, resend it whole",
    FrameErrorKind.GARBAGE: "{size} bytes outside an MLLP frame discarded: start each message with 0x0B",
    FrameErrorKind.OVERSIZE: "MLLP frame of {size} bytes exceeds the {limit}-byte limit: message not taken",
}
CLOSE_REASONS = ("idle", "frame_deadline", "global_limit", "source_limit", "unlisted_source")

CONNECTIONS_CLOSED = Counter(
    "wardwatch_mllp_connections_closed_total",
    "MLLP connections the listener closed or refused, by reason (idle, frame_deadline, global_limit, source_limit).",
    ["reason"],
    registry=REGISTRY,
)
CONNECTIONS_OPEN = Gauge("wardwatch_mllp_connections_open", "MLLP connections open now.", registry=REGISTRY)
FRAMING_SUPPRESSED = Counter(
    "wardwatch_mllp_framing_errors_suppressed_total",
    "MLLP framing errors over the per-connection report rate: counted, summarised at close, not answered.",
    registry=REGISTRY,
)
for _reason in CLOSE_REASONS:
    CONNECTIONS_CLOSED.labels(_reason)


@dataclass
class _FramingBudget:
    """Token bucket of framing-error reports for one connection."""

    per_minute: int
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)
    suppressed: int = 0
    suppressed_bytes: int = 0

    def __post_init__(self) -> None:
        self.tokens = float(self.per_minute)

    def allow(self, error: FrameError) -> bool:
        now = time.monotonic()
        self.tokens = min(float(self.per_minute), self.tokens + (now - self.stamp) * self.per_minute / 60.0)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.suppressed += 1
        self.suppressed_bytes += error.size
        FRAMING_SUPPRESSED.inc()
        return False


class _RefusalLog:
    """One log line per reason and REFUSAL_LOG_EVERY_S, however many connections are refused."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.quiet: Tally[str] = Tally()

    def note(self, reason: str, source: str, limit: int) -> None:
        CONNECTIONS_CLOSED.labels(reason).inc()
        now = time.monotonic()
        if now - self.last.get(reason, -REFUSAL_LOG_EVERY_S) < REFUSAL_LOG_EVERY_S:
            self.quiet[reason] += 1
            return
        self.last[reason] = now
        also = self.quiet.pop(reason, 0)
        log.warning(
            "MLLP: refused a connection from %s: %s of %d reached%s",
            source,
            reason.replace("_", " "),
            limit,
            f" ({also} more refused since the last line)" if also else "",
        )


class MllpServer:
    def __init__(
        self, pipeline: Any, access: common.IngestAccess, host: str, port: int, limits: IngestLimits | None = None
    ) -> None:
        self.pipeline = pipeline
        self.access = access
        self.host = host
        self.port = port
        self.limits = limits or IngestLimits()
        self.server: asyncio.base_events.Server | None = None
        self.connections = 0
        self.per_source: Tally[str] = Tally()
        self._refusals = _RefusalLog()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, self.host, self.port, limit=_CHUNK)
        log.info(
            "MLLP listener on %s:%d (%s)",
            self.host,
            self.port,
            "accepting" if self.access.configured else "not configured: answers AR",
        )

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def run(self) -> None:
        """Serve until cancelled (a Faust task)."""
        try:
            await self.start()
        except OSError as exc:
            log.error("MLLP listener cannot bind %s:%d: %s (HTTP ingest still works)", self.host, self.port, exc)
            return
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    def _admit(self, source: str) -> bool:
        """Room for one more connection from `source`? (else it is refused, logged and counted)."""
        limits = self.limits
        if self.connections >= limits.mllp_max_connections:
            self._refusals.note("global_limit", source, limits.mllp_max_connections)
            return False
        if self.per_source[source] >= limits.mllp_max_per_source:
            self._refusals.note("source_limit", source, limits.mllp_max_per_source)
            return False
        return True

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        if not self._admit(source):
            writer.transport.abort()  # no lingering: the slot must be free for a gateway
            return
        gateway = self.access.mllp_gateway(source)
        if gateway is None:
            CONNECTIONS_CLOSED.labels("unlisted_source").inc()
            log.warning("MLLP: connection from an address no gateway lists, refused")
            writer.transport.abort()
            return
        self.connections += 1
        self.per_source[source] += 1
        CONNECTIONS_OPEN.set(self.connections)
        try:
            await self._serve(reader, writer, source, gateway)
        except (ConnectionError, OSError):
            pass
        except Exception:
            log.exception("MLLP: connection failed")
        finally:
            self.connections -= 1
            self.per_source[source] -= 1
            if self.per_source[source] <= 0:
                del self.per_source[source]
            CONNECTIONS_OPEN.set(self.connections)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _deadline(self, last_frame: float, frame_start: float | None) -> tuple[float, str]:
        """When this connection is closed if nothing completes, and why."""
        idle = (last_frame + self.limits.mllp_idle_timeout_s, "idle")
        if frame_start is None:
            return idle
        return min(idle, (frame_start + self.limits.mllp_frame_deadline_s, "frame_deadline"))

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str, gateway: str | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        decoder = MllpDecoder(max_frame_bytes=common.MAX_BODY_BYTES)
        budget = _FramingBudget(self.limits.mllp_framing_reports_per_minute)
        opened = last_frame = loop.time()
        frame_start: float | None = None
        while True:
            now = loop.time()
            if not decoder.in_frame:
                frame_start = None
            elif frame_start is None:
                frame_start = now
            due, why = self._deadline(last_frame, frame_start)
            wait = due - now
            if decoder.garbage_pending:
                wait = min(wait, GARBAGE_PAUSE_S)
            try:
                if wait <= 0:
                    raise TimeoutError
                data = await asyncio.wait_for(reader.read(_CHUNK), wait)
            except TimeoutError:
                if loop.time() < due:  # only the garbage pause ended: answer the run once
                    await self._report(decoder.flush_garbage(), writer, budget, gateway)
                    await writer.drain()
                    continue
                CONNECTIONS_CLOSED.labels(why).inc()
                log.info(
                    "MLLP: closing a connection from %s after %.0f s: %s",
                    source,
                    loop.time() - opened,
                    "no complete frame within the idle timeout"
                    if why == "idle"
                    else "a frame did not arrive whole within the frame deadline",
                )
                break
            if not data:
                break
            frames = decoder.feed(data)
            if frames:
                last_frame = loop.time()
                frame_start = None
            await self._report(decoder.pop_errors(), writer, budget, gateway)
            for raw in frames:
                writer.write(frame(await self.handle_frame(raw, gateway)))
            await writer.drain()
        # the sender may still read after closing its side
        await self._report(decoder.close(), writer, budget, gateway)
        await self._summarise(budget, writer, gateway)
        await writer.drain()

    async def _report(
        self, errors: list[FrameError], writer: asyncio.StreamWriter, budget: _FramingBudget, gateway: str | None = None
    ) -> None:
        for error in errors:
            if budget.allow(error):
                writer.write(frame(await self.framing_error(error, gateway)))

    async def _summarise(
        self, budget: _FramingBudget, writer: asyncio.StreamWriter, gateway: str | None = None
    ) -> None:
        """One record (and line) for the framing errors over the report rate."""
        if not budget.suppressed:
            return
        log.info(
            "MLLP: %d more framing errors (%d bytes) on one connection were not reported one by one",
            budget.suppressed,
            budget.suppressed_bytes,
        )
        if not self.access.configured:
            return
        reason = (
            f"MLLP: {budget.suppressed} more framing errors ({budget.suppressed_bytes} bytes) on one "
            "connection, over the per-connection report rate"
        )
        result = GatewayResult(rejections=[EntryRejection(MESSAGE_ENTRY, reason, "", RejectCode.MALFORMED)])
        try:
            await self.pipeline.submit(result, b"", SOURCE, gateway)
        except common.Unavailable as exc:
            log.warning("MLLP: framing summary not dead-lettered: %s", exc)

    async def handle_frame(self, raw: bytes, gateway: str | None = None) -> str:
        """The ACK for one frame's message (never raises)."""
        try:
            if not self.access.configured:
                common.record(FORMAT, "not_configured")
                return build_ack(raw, AckCode.AR, common.NOT_CONFIGURED, condition=ErrorCondition.INTERNAL)
            if len(raw) > INLINE_PARSE_BYTES:
                result = await off_loop(self.limits, adt_gateway.parse_hl7v2_body, raw, SOURCE, common.MAX_BODY_BYTES)
            else:
                result = adt_gateway.parse_hl7v2_body(raw, SOURCE, common.MAX_BODY_BYTES)
            try:
                await self.pipeline.submit(result, raw, SOURCE, gateway)
            except common.Unavailable as exc:
                log.warning("MLLP: %s", exc)
                common.record(FORMAT, "unavailable")
                return build_ack(result, AckCode.AR, exc.reply_text("resend later"), condition=ErrorCondition.INTERNAL)
            outcome = common.outcome_of(result)
            common.record(FORMAT, outcome, result)
            if outcome != "accepted":
                log.info(
                    "MLLP: %s %s, %d samples, %d rejected",
                    result.ack_code.value,
                    outcome,
                    result.sample_count,
                    len(result.rejections),
                )
            return result.ack()
        except Exception:
            log.exception("MLLP: internal error")
            common.record(FORMAT, "error")
            return build_ack(
                raw, AckCode.AR, "internal error: message not taken, resend later", condition=ErrorCondition.INTERNAL
            )

    async def framing_error(self, error: FrameError, gateway: str | None = None) -> str:
        """AR for bytes that were not a complete frame; dead-lettered (their first bytes) when configured."""
        text = _FRAMING_TEXT[error.kind].format(size=error.size, limit=common.MAX_BODY_BYTES)
        if not self.access.configured:
            common.record(FORMAT, "not_configured")
            return build_ack(error.sample, AckCode.AR, common.NOT_CONFIGURED, condition=ErrorCondition.INTERNAL)
        code = RejectCode.OVERSIZE if error.kind is FrameErrorKind.OVERSIZE else RejectCode.MALFORMED
        result = GatewayResult(rejections=[EntryRejection(MESSAGE_ENTRY, error.describe(), "", code)])
        try:
            await self.pipeline.submit(result, error.sample, SOURCE, gateway)
        except common.Unavailable as exc:
            log.warning("MLLP: framing error not dead-lettered: %s", exc)
        common.record(FORMAT, "oversize" if code is RejectCode.OVERSIZE else "rejected")
        log.info("MLLP: %s", error.describe())  # kind and size: the bytes may name a patient
        return build_ack(error.sample, AckCode.AR, text, condition=ErrorCondition.INTERNAL)


def register(worker: Any) -> None:
    """Start the listener with the worker (a Faust task), answering AR while not configured."""
    settings = worker.settings
    host = settings.web_host
    access = common.IngestAccess.for_listener(
        settings.ingest_tokens, host, "MLLP listener", gateways_file=settings.gateways_file
    )
    pipeline = common.pipeline_for(worker) if access.configured else None
    server = MllpServer(pipeline, access, host, settings.mllp_port, IngestLimits.from_env())

    async def mllp_listener() -> None:
        await server.run()

    worker.app.task(mllp_listener)
