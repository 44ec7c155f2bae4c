"""HL7 v2 over MLLP: a TCP listener on WARDWATCH_MLLP_PORT answering every frame with an ACK.

Each frame is one ORU^R01 (IHE PCD-01). Its usable rows are produced to
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
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from monitor.interop import build_ack, frame, parse_hl7v2
from monitor.interop.hl7v2 import AckCode, ErrorCondition
from monitor.interop.mllp import FrameError, FrameErrorKind, MllpDecoder
from monitor.interop.result import MESSAGE_ENTRY, EntryRejection, GatewayResult, RejectCode
from streams.ingest import submit as common

log = logging.getLogger("wardwatch.ingest.mllp")

FORMAT = "mllp"
SOURCE = "ingest/mllp"
#: Connections served at once; more are closed on accept (gateways keep a few open).
MAX_CONNECTIONS = 256
#: A frame that stops arriving half-way for this long is truncated and the connection closed.
FRAME_STALL_S = 60.0
_CHUNK = 65536
_FRAMING_TEXT = {
    FrameErrorKind.TRUNCATED: "MLLP frame truncated ({size} bytes discarded): message not taken, resend it whole",
    FrameErrorKind.GARBAGE: "{size} bytes outside an MLLP frame discarded: start each message with 0x0B",
    FrameErrorKind.OVERSIZE: "MLLP frame of {size} bytes exceeds the {limit}-byte limit: message not taken",
}


class MllpServer:
    def __init__(self, pipeline: Any, access: common.IngestAccess, host: str, port: int) -> None:
        self.pipeline = pipeline
        self.access = access
        self.host = host
        self.port = port
        self.server: asyncio.base_events.Server | None = None
        self.connections = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, self.host, self.port, limit=_CHUNK)
        log.info("MLLP listener on %s:%d (%s)", self.host, self.port,
                 "accepting" if self.access.configured else "not configured: answers AR")

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

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= MAX_CONNECTIONS:
            log.warning("MLLP: %d connections open, refusing another", self.connections)
            writer.close()
            return
        self.connections += 1
        decoder = MllpDecoder(max_frame_bytes=common.MAX_BODY_BYTES)
        try:
            while True:
                try:
                    timeout = FRAME_STALL_S if decoder.pending_bytes else None
                    data = await asyncio.wait_for(reader.read(_CHUNK), timeout)
                except asyncio.TimeoutError:
                    log.info("MLLP: frame stalled for %.0f s, closing the connection", FRAME_STALL_S)
                    break
                if not data:
                    break
                frames = decoder.feed(data)
                for error in decoder.pop_errors():
                    writer.write(frame(await self.framing_error(error)))
                for raw in frames:
                    writer.write(frame(await self.handle_frame(raw)))
                await writer.drain()
            for error in decoder.close():  # the sender may still read after closing its side
                writer.write(frame(await self.framing_error(error)))
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        except Exception:
            log.exception("MLLP: connection failed")
        finally:
            self.connections -= 1
            writer.close()
            try:
                await writer.wait_closed()
            except Exception:
                pass

    async def handle_frame(self, raw: bytes) -> str:
        """The ACK for one frame's message (never raises)."""
        try:
            if not self.access.configured:
                common.record(FORMAT, "not_configured")
                return build_ack(raw, AckCode.AR, common.NOT_CONFIGURED, condition=ErrorCondition.INTERNAL)
            result = parse_hl7v2(raw, max_bytes=common.MAX_BODY_BYTES)
            try:
                await self.pipeline.submit(result, raw, SOURCE)
            except common.Unavailable as exc:
                log.warning("MLLP: %s", exc)
                common.record(FORMAT, "unavailable")
                return build_ack(result, AckCode.AR, "Kafka unavailable: message not taken, resend later",
                                 condition=ErrorCondition.INTERNAL)
            outcome = common.outcome_of(result)
            common.record(FORMAT, outcome, result)
            if outcome != "accepted":
                log.info("MLLP: %s %s, %d samples, %d rejected", result.ack_code.value, outcome,
                         result.sample_count, len(result.rejections))
            return result.ack()
        except Exception:
            log.exception("MLLP: internal error")
            common.record(FORMAT, "error")
            return build_ack(raw, AckCode.AR, "internal error: message not taken, resend later",
                             condition=ErrorCondition.INTERNAL)

    async def framing_error(self, error: FrameError) -> str:
        """AR for bytes that were not a complete frame; dead-lettered (their first bytes) when configured."""
        text = _FRAMING_TEXT[error.kind].format(size=error.size, limit=common.MAX_BODY_BYTES)
        if not self.access.configured:
            common.record(FORMAT, "not_configured")
            return build_ack(error.sample, AckCode.AR, common.NOT_CONFIGURED, condition=ErrorCondition.INTERNAL)
        code = RejectCode.OVERSIZE if error.kind is FrameErrorKind.OVERSIZE else RejectCode.MALFORMED
        result = GatewayResult(rejections=[EntryRejection(MESSAGE_ENTRY, error.describe(), "", code)])
        try:
            await self.pipeline.submit(result, error.sample, SOURCE)
        except common.Unavailable as exc:
            log.warning("MLLP: framing error not dead-lettered: %s", exc)
        common.record(FORMAT, "oversize" if code is RejectCode.OVERSIZE else "rejected")
        log.info("MLLP: %s", error.describe())
        return build_ack(error.sample, AckCode.AR, text, condition=ErrorCondition.INTERNAL)


def register(worker: Any) -> None:
    """Start the listener with the worker (a Faust task), answering AR while not configured."""
    settings = worker.settings
    host = settings.web_host
    access = common.IngestAccess.for_listener(settings.ingest_tokens, host, "MLLP listener")
    pipeline = common.pipeline_for(worker) if access.configured else None
    server = MllpServer(pipeline, access, host, settings.mllp_port)

    async def mllp_listener() -> None:
        await server.run()

    worker.app.task(mllp_listener)
