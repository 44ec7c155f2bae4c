"""What HTTP ingest and the MLLP listener share: who may send, produce-and-wait, DLQ, reply.

Both transports reduce an input to a `GatewayResult` (contract messages,
per-entry rejections, skipped codes) and hand it to `IngestPipeline.submit`,
which produces every message to `vitals` (keyed by patient_id) and every
rejection to `vitals-dlq` with a dedicated aiokafka producer (acks=all), and
returns only when the broker has acknowledged the `vitals` records: a sender
that gets 202/AA may forget its copy. A failed or slow broker raises
`Unavailable` (HTTP 503 + Retry-After, HL7 AR) so the sender keeps it and
retries; a retry after a timeout may duplicate samples, which the pipeline
tolerates (at-least-once, DESIGN.md).

Why a producer of our own rather than Faust's: `topic.send()` goes through
Faust's producer, which is transactional under exactly_once and has a
20-minute request timeout; ingest wants a bounded wait and an error it can
answer with.

Who may send (`IngestAccess`): bearer tokens from WARDWATCH_INGEST_TOKENS
(several, for rotation). Without tokens every ingest path answers "not
configured" (401 / AR). WARDWATCH_INGEST_INSECURE=1 accepts unauthenticated
data, and is honoured only when the listener binds a loopback address (the
demo); otherwise it is ignored with a WARNING.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from prometheus_client import Counter

from monitor.interop.result import MESSAGE_ENTRY, EntryRejection, GatewayResult, RejectCode
from monitor.limits import MAX_MESSAGE_BYTES
from monitor.parse import ParseResult, RejectReason, parse_document
from monitor.timestamps import not_after_ms
from streams.ingest.limits import IngestLimits
from streams.kafka import DeadLetter
from streams.metrics import REGISTRY, REJECTED

log = logging.getLogger("wardwatch.ingest")

#: Largest request body / MLLP frame accepted (larger: HTTP 413, MLLP AR).
MAX_BODY_BYTES = MAX_MESSAGE_BYTES
#: How long one input may wait for the broker before the sender is told to retry.
SEND_TIMEOUT_S = 15.0
RETRY_AFTER_S = 5
#: Rejections listed in one reply (all are counted and dead-lettered).
MAX_LISTED_REJECTIONS = 50
#: Rejections of one input dead-lettered one record each; beyond this they are grouped into
#: one record per reject code (count + a sample), so 100,000 bad entries are not 100,000 records.
MAX_LETTERS_PER_INPUT = 20
#: Room left for the record's key, headers and batch framing under the broker's size limit.
_RECORD_OVERHEAD_BYTES = 4096

FORMATS = ("vitals", "fhir", "hl7v2", "mllp")
OUTCOMES = (
    "accepted",
    "partial",
    "rejected",
    "unauthorized",
    "not_configured",
    "oversize",
    "unavailable",
    "timeout",
    "error",
)

REQUESTS = Counter(
    "wardwatch_ingest_requests_total",
    "Ingest requests (HTTP bodies, MLLP frames) by format and outcome.",
    ["format", "outcome"],
    registry=REGISTRY,
)
SKIPPED_CODES = Counter(
    "wardwatch_ingest_skipped_codes_total",
    "Observation codes in ingested input that map to no vital (counted, never guessed at).",
    ["format"],
    registry=REGISTRY,
)
for _format in FORMATS:
    SKIPPED_CODES.labels(_format)
    for _outcome in OUTCOMES:
        REQUESTS.labels(_format, _outcome)

NOT_CONFIGURED = "ingest not configured: set WARDWATCH_INGEST_TOKENS on the worker"


class Unavailable(Exception):
    """The broker did not acknowledge in time: tell the sender to retry.

    `maybe_sent` is True once anything was handed to the producer: a send that
    timed out here may still reach Kafka later, so the sender must be told that
    a retry can duplicate it (consumers dedupe by patient and sample time).
    False (the default) for refusals before any send.
    """

    def __init__(self, message: str, maybe_sent: bool = False, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause  # a known reason fit for the sender (e.g. "the Kafka broker is unreachable")
        self.maybe_sent = maybe_sent

    def reply_text(self, retry: str = "retry later") -> str:
        """What the sender is told (HTTP 503 body, MLLP AR text)."""
        if self.maybe_sent:
            return (
                f"Kafka did not acknowledge in time: the input may have been taken; {retry} "
                "(a retry can duplicate it, consumers dedupe)"
            )
        why = f" ({self.cause})" if self.cause else ""
        return f"Kafka is unavailable{why}: nothing was taken, {retry}"


# ---- who may send --------------------------------------------------------------
def insecure_requested() -> bool:
    return os.environ.get("WARDWATCH_INGEST_INSECURE", "").strip().lower() in ("1", "true", "yes")


def is_loopback_host(host: str) -> bool:
    """Does binding `host` keep the listener on this machine?"""
    host = (host or "").strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class IngestAccess:
    """Who may send: `WARDWATCH_INGEST_TOKENS` and the named gateways of `WARDWATCH_GATEWAYS_FILE`."""

    tokens: tuple[str, ...] = ()
    insecure: bool = False
    gateways: Any = None  # streams.identity.gateways.GatewaysFile, re-read when it changes

    @property
    def configured(self) -> bool:
        return bool(self.tokens) or self.insecure or self.gateways is not None

    @classmethod
    def for_listener(
        cls, tokens: Iterable[str], bind_host: str, listener: str, insecure: bool | None = None, gateways_file: str = ""
    ) -> IngestAccess:
        """Tokens as configured; the insecure flag only for a loopback-bound listener."""
        tokens = tuple(t for t in tokens if t)
        wanted = insecure_requested() if insecure is None else insecure
        honoured = wanted and is_loopback_host(bind_host)
        if wanted and not honoured:
            log.warning(
                "WARDWATCH_INGEST_INSECURE=1 ignored for %s: it binds %r, not a loopback address; "
                "ingest needs WARDWATCH_INGEST_TOKENS",
                listener,
                bind_host,
            )
        elif honoured:
            log.warning(
                "%s accepts UNAUTHENTICATED data (WARDWATCH_INGEST_INSECURE=1, loopback %s only)", listener, bind_host
            )
        gateways = None
        if gateways_file:
            from streams.identity import GatewaysFile

            gateways = GatewaysFile(gateways_file)
        if not tokens and not honoured and gateways is None:
            log.info(
                "%s not configured (no WARDWATCH_INGEST_TOKENS or WARDWATCH_GATEWAYS_FILE): it answers "
                "'not configured'",
                listener,
            )
        return cls(tokens, honoured, gateways)

    def who(self, bearer: str | None) -> str | None:
        """The sender's name for this bearer token (None: refused).

        A named gateway from the gateways file, else `ingest-token` for a shared
        `WARDWATCH_INGEST_TOKENS` token, else `insecure` in the loopback demo mode.
        """
        from streams.webauth import token_matches

        if self.gateways is not None:
            try:
                name = self.gateways.name_for_token(bearer)
            except (OSError, ValueError) as exc:  # a half-edited file must not open or close the door silently
                log.error("gateways file unreadable (%s): only WARDWATCH_INGEST_TOKENS are accepted", exc)
                name = None
            if name is not None:
                return name
        if token_matches(bearer, self.tokens):
            return "ingest-token"
        return "insecure" if self.insecure else None

    def mllp_gateway(self, peer: str) -> str | None:
        """The name of an MLLP peer, or None to refuse it.

        MLLP has nowhere to put a token: when any gateway in the gateways file lists
        `addresses`, only those networks may connect; otherwise the listener is open
        as before (network policy decides) and the peer is `mllp`.
        """
        if self.gateways is None:
            return "mllp"
        try:
            if not self.gateways.restricts_addresses():
                return "mllp"
            return self.gateways.name_for_address(peer)
        except (OSError, ValueError) as exc:
            log.error("gateways file unreadable (%s): MLLP connection refused", exc)
            return None

    def allows(self, bearer: str | None) -> bool:
        """Is a request with this bearer token (None: no header) to be accepted?"""
        return self.who(bearer) is not None


# ---- contract JSON bodies ------------------------------------------------------
_CODE_OF_REASON = {
    RejectReason.MALFORMED: RejectCode.MALFORMED,
    RejectReason.NOT_AN_OBJECT: RejectCode.MALFORMED,
    RejectReason.EMPTY_BATCH: RejectCode.MALFORMED,
    RejectReason.MISSING_PATIENT_ID: RejectCode.MISSING_PATIENT_ID,
    RejectReason.BAD_PATIENT_ID: RejectCode.BAD_PATIENT_ID,
    RejectReason.BAD_TYPE: RejectCode.BAD_VALUE,
    RejectReason.NO_VITAL: RejectCode.BAD_VALUE,
    RejectReason.BAD_TIMESTAMP: RejectCode.BAD_TIMESTAMP,
    RejectReason.FUTURE_TIMESTAMP: RejectCode.FUTURE_TIMESTAMP,
    RejectReason.IMPOSSIBLE_VALUE: RejectCode.IMPOSSIBLE_VALUE,
    RejectReason.OVERSIZE: RejectCode.OVERSIZE,
}


def parse_vitals_body(raw: bytes, ndjson: bool = False) -> GatewayResult:
    """Contract JSON (one message, a JSON array of them, or NDJSON lines) → GatewayResult.

    Each message is checked as the worker will check it (`parse_document`);
    a bad sample of a batch is taken out of the batch and rejected on its own,
    so what is produced is exactly what the worker will use.
    """
    result = GatewayResult()
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    docs: list[tuple[str, Any, str]] = []  # (entry label, decoded doc, original text)
    whole = None
    if not ndjson:
        try:
            whole = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            lines = [line for line in text.splitlines() if line.strip()]
            if len(lines) < 2:
                result.rejections.append(
                    EntryRejection(MESSAGE_ENTRY, f"body is not valid JSON: {exc}", text, RejectCode.MALFORMED)
                )
                return result
            ndjson = True
    if ndjson:
        seen = 0
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            seen += 1
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                result.rejections.append(
                    EntryRejection(f"line {number}", f"not valid JSON: {exc}", line, RejectCode.MALFORMED)
                )
                continue
            _check_document(f"line {number}", doc, line, result)
        if not seen:
            result.rejections.append(EntryRejection(MESSAGE_ENTRY, "body holds no message", text, RejectCode.MALFORMED))
        return result
    if isinstance(whole, list):
        docs = [(f"[{i}]", doc, orjson.dumps(doc).decode()) for i, doc in enumerate(whole)]
    else:
        docs = [(MESSAGE_ENTRY, whole, text)]
    if not docs:
        result.rejections.append(EntryRejection(MESSAGE_ENTRY, "body holds no message", text, RejectCode.MALFORMED))
    for label, doc, original in docs:
        _check_document(label, doc, original, result)
    return result


def _check_document(label: str, doc: Any, original: str, result: GatewayResult) -> None:
    parsed = ParseResult()
    parse_document(doc, parsed, not_after_ms())  # as the worker will check it (wall clock + tolerance)
    if not parsed.rejections:
        unwritable = _unwritable(doc)
        if unwritable is not None:  # found here, not as a failed send reported as "Kafka unavailable"
            result.rejections.append(EntryRejection(label, unwritable[1], original, unwritable[0]))
            return
        result.messages.append(doc)
        return
    where = "" if label == MESSAGE_ENTRY else f"{label}: "
    whole = [r for r in parsed.rejections if r.sample_index is None]
    if whole or not parsed.samples:  # nothing of it is usable
        reason = "; ".join(
            ("" if r.sample_index is None else f"samples[{r.sample_index}]: ") + r.message
            for r in parsed.rejections[:5]
        )
        code = _CODE_OF_REASON.get(parsed.rejections[0].reason, RejectCode.BAD_VALUE)
        result.rejections.append(EntryRejection(label, reason, original, code))
        return
    bad = {r.sample_index: r for r in parsed.rejections}
    samples = doc["samples"]
    for index, rejection in bad.items():
        entry = f"{where}samples[{index}]"
        payload = orjson.dumps(samples[index]).decode()
        code = _CODE_OF_REASON.get(rejection.reason, RejectCode.BAD_VALUE)
        result.rejections.append(EntryRejection(entry, rejection.message, payload, code))
    result.messages.append({**doc, "samples": [s for i, s in enumerate(samples) if i not in bad]})


def _unwritable(doc: Any) -> tuple[RejectCode, str] | None:
    """Why an otherwise valid message cannot be produced as it is (None when it can).

    orjson writes at most 254 levels of nesting (it reads 1024), and the broker
    takes records up to about MAX_MESSAGE_BYTES: both are facts about the input,
    so they are 400/413 with a dead letter, not a 503 the sender retries forever.
    """
    try:
        size = len(orjson.dumps(doc))
    except orjson.JSONEncodeError:
        return RejectCode.MALFORMED, "message nests JSON deeper than 254 levels: not a vitals message"
    if size > MAX_MESSAGE_BYTES - _RECORD_OVERHEAD_BYTES:
        return RejectCode.OVERSIZE, f"message is {size} bytes, limit {MAX_MESSAGE_BYTES - _RECORD_OVERHEAD_BYTES}"
    return None


# ---- replies ---------------------------------------------------------------------
def unique(codes: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(codes))


def outcome_of(result: GatewayResult) -> str:
    if result.rejections and not result.messages and not result.adt_events:
        return "rejected"
    return "partial" if result.rejections else "accepted"


def reply_body(result: GatewayResult) -> dict[str, Any]:
    """The JSON reply: counts first, then what to fix (no patient data beyond entry labels)."""
    body: dict[str, Any] = {
        "accepted_samples": result.sample_count,
        "rejected": len(result.rejections),
        "skipped_codes": unique(result.skipped_codes),
    }
    if result.adt_events:
        body["accepted_events"] = [e.event_type.value for e in result.adt_events]
    if result.ignored_event is not None:
        body["ignored_event"] = result.ignored_event
    if result.rejections:
        body["rejections"] = [
            {"entry": r.entry, "code": r.code.value, "reason": r.reason}
            for r in result.rejections[:MAX_LISTED_REJECTIONS]
        ]
        if not result.messages and not result.adt_events:
            body["error"] = result.rejections[0].reason
    return body


def http_status(result: GatewayResult) -> int:
    """202 when anything (or nothing but unknown codes) was taken; 4xx when the input is unusable."""
    if result.messages or result.adt_events or not result.rejections:
        return 202
    codes = {r.code for r in result.rejections}
    if codes == {RejectCode.OVERSIZE}:
        return 413
    if codes <= {RejectCode.MALFORMED, RejectCode.BAD_ENCODING, RejectCode.BAD_PATIENT_ID}:
        return 400
    return 422


def dead_letters(
    result: GatewayResult, raw: bytes, source: str, gateway: str | None = None, most: int = MAX_LETTERS_PER_INPUT
) -> list[DeadLetter]:
    """One DLQ record per unusable entry; a wholly unusable input carries its original bytes.

    More than `most` rejections are grouped: one record per reject code saying how many
    entries it covers, with the first one's reason and text as the sample (the counts
    in the metric stay per entry).
    """
    if len(result.rejections) > most:
        return _grouped_letters(result.rejections, source, gateway)
    letters = []
    for rejection in result.rejections:
        payload = raw if rejection.whole_message else rejection.payload.encode("utf-8", errors="replace")
        letters.append(
            DeadLetter(_entry_error(rejection), rejection.code.value, payload, source, None, None, gateway=gateway)
        )
    return letters


def _entry_error(rejection: EntryRejection) -> str:
    labelled = rejection.whole_message or rejection.reason.startswith(rejection.entry)
    return rejection.reason if labelled else f"{rejection.entry}: {rejection.reason}"


def _grouped_letters(rejections: list[EntryRejection], source: str, gateway: str | None) -> list[DeadLetter]:
    groups: dict[RejectCode, list[EntryRejection]] = {}
    for rejection in rejections:
        groups.setdefault(rejection.code, []).append(rejection)
    letters = []
    for code, members in groups.items():
        first = members[0]
        error = f"{len(members)} entries rejected as {code.value} (one record for all; sample {_entry_error(first)})"
        payload = first.payload.encode("utf-8", errors="replace")
        letters.append(DeadLetter(error, code.value, payload, source, None, None, count=len(members), gateway=gateway))
    return letters


# ---- producing -------------------------------------------------------------------
async def start_producer(settings: Any, send_timeout_s: float = SEND_TIMEOUT_S) -> Any:
    """acks=all, bounded wait; linger 0 because each sender waits for its own ack
    (concurrent requests still share batches while one is in flight)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        linger_ms=0,
        request_timeout_ms=int(send_timeout_s * 1000),
        client_id="wardwatch-ingest",
        **settings.security.aiokafka_kwargs(),
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


@dataclass
class IngestPipeline:
    """Produces accepted messages and dead letters; one per worker, shared by HTTP and MLLP."""

    settings: Any
    producer: Any = None
    _stop: bool = False
    limits: IngestLimits = field(default_factory=IngestLimits)
    #: Why Kafka cannot take input now, (for the log, for the sender), ("", "") when it can: ingest refuses
    #: rather than answer 202 / AA for what the pipeline cannot deliver (the worker's BrokerWatch).
    kafka_problem: Callable[[], tuple[str, str]] | None = None

    @property
    def ready(self) -> bool:
        return self.producer is not None

    async def run(self) -> None:
        """Start the producer (retrying while the broker is away) and keep it until cancelled."""
        delay = 0.5
        try:
            while self.producer is None and not self._stop:
                try:
                    self.producer = await start_producer(self.settings, self.limits.send_timeout_s)
                    log.info("ingest producer connected")
                except (KafkaError, OSError) as exc:
                    log.warning(
                        "ingest producer cannot reach Kafka at %s (%s); retrying in %.0f s",
                        self.settings.bootstrap,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        self._stop = True
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception:
                log.warning("ingest producer stop failed", exc_info=True)

    async def submit(self, result: GatewayResult, raw: bytes, source: str, gateway: str | None = None) -> None:
        """Produce messages + dead letters; return once `vitals` has them (else raise Unavailable)."""
        producer = self.producer
        if producer is None:
            raise Unavailable("not connected to Kafka yet")
        problem, brief = self.kafka_problem() if self.kafka_problem else ("", "")
        if problem:
            raise Unavailable(problem, cause=brief)
        topics = self.settings.topics
        sends: list[Any] = []
        dlq: list[Any] = []
        letters = dead_letters(result, raw, source, gateway)
        try:
            for m in result.messages:
                sends.append(await producer.send(topics.vitals, orjson.dumps(m), key=str(m["patient_id"]).encode()))
            # ADT events keyed by patient: the murmur2 partition of the patient's vitals and state.
            for e in result.adt_events:
                sends.append(await producer.send(topics.adt, e.to_bytes(), key=e.patient_id.encode()))
            for letter in letters:
                dlq.append(await producer.send(topics.dlq, letter.to_bytes()))
            done = await asyncio.wait_for(
                asyncio.gather(*sends, *dlq, return_exceptions=True), self.limits.send_timeout_s
            )
        except Exception as exc:  # timeouts, KafkaError, a producer stopped under us
            # Once a record is queued in the producer it may still be written after we gave up.
            raise Unavailable(
                f"Kafka did not acknowledge: {type(exc).__name__}: {exc}", maybe_sent=bool(sends or dlq)
            ) from exc
        failed = [d for d in done[: len(sends)] if isinstance(d, BaseException)]
        if failed:
            raise Unavailable(f"Kafka did not acknowledge: {failed[0]!r}", maybe_sent=True)
        for letter, outcome in zip(letters, done[len(sends) :], strict=True):
            if isinstance(outcome, BaseException):
                log.error(
                    "ingest: dead letter from %s not written (%r); its reason went back to the sender", source, outcome
                )
            else:
                REJECTED.labels(letter.reason).inc(letter.count)


_PIPELINES: weakref.WeakKeyDictionary[Any, IngestPipeline] = weakref.WeakKeyDictionary()


def pipeline_for(worker: Any) -> IngestPipeline:
    """The worker's one pipeline; its producer runs as a Faust task from the first caller on."""
    pipeline = _PIPELINES.get(worker)
    if pipeline is None:
        pipeline = _PIPELINES[worker] = IngestPipeline(worker.settings, limits=IngestLimits.from_env())

        async def ingest_producer() -> None:
            await pipeline.run()

        worker.app.task(ingest_producer)
        watch = getattr(worker, "broker_watch", None)
        if watch is not None:
            pipeline.kafka_problem = lambda: (watch.status.problem(), watch.status.brief())
        checks = getattr(worker, "readiness_checks", None)
        if checks is not None:
            checks["ingest_producer"] = lambda: pipeline.ready
    return pipeline


def record(fmt: str, outcome: str, result: GatewayResult | None = None) -> None:
    REQUESTS.labels(fmt, outcome).inc()
    if result is not None and result.skipped_codes:
        SKIPPED_CODES.labels(fmt).inc(len(result.skipped_codes))
