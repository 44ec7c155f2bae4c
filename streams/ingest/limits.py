"""How long and how much an ingest sender may take, read once from the environment.

docs/security.md lists every limit with its default and what a sender hears
when it hits it. Parsing runs in a small thread pool (`off_loop`) so a large
input never holds the worker's event loop (agents, timers, alert publishing).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def _env_number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r}: give a number (default {default:g})") from None
    if value <= 0:
        raise ValueError(f"{name}={text!r}: must be above 0 (default {default:g})")
    return value


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """How long and how much a sender may take, per connection and in total.

    Every limit ends with an answer (HTTP status, MLLP ACK) or a closed
    connection plus a log line without patient data and a metric; none of
    them waits on a sender forever.
    """

    #: MLLP: a connection that completes no frame for this long is closed (a gateway sending
    #: messages keeps its connection: every complete frame restarts the clock).
    mllp_idle_timeout_s: float = 120.0
    #: MLLP: one frame, from its start byte to its end, must arrive within this (oversize ones too).
    mllp_frame_deadline_s: float = 30.0
    #: MLLP: connections open at once, in total and from one source address.
    mllp_max_connections: int = 256
    mllp_max_per_source: int = 32
    #: MLLP: framing errors (garbage runs, truncated/oversize frames) answered, dead-lettered and
    #: logged per connection and minute; the rest are counted and summarised once.
    mllp_framing_reports_per_minute: int = 10
    #: HTTP: request headers must be complete this long after the connection opens or the
    #: previous response ends (aiohttp's keep-alive timer, which also closes idle connections).
    http_header_timeout_s: float = 15.0
    #: HTTP ingest: the whole request body must arrive within this (else 408).
    http_body_timeout_s: float = 30.0
    #: FHIR: entries one Bundle may carry (more: 413); monitor.interop.fhir.DEFAULT_MAX_BUNDLE_ENTRIES.
    fhir_max_entries: int = 5000
    #: Threads parsing ingest input off the event loop (FHIR validation of a 1 MiB Bundle takes
    #: seconds). One: the parsers hold the GIL, so a second thread adds no throughput, only a
    #: second contender with the loop (measured: max /healthz 0.28 s with 1 thread, 0.70 s with 2).
    parse_threads: int = 1
    #: How long one input waits for the broker's acknowledgement before the sender hears 503.
    send_timeout_s: float = 15.0

    @classmethod
    def from_env(cls) -> IngestLimits:
        d = cls()
        return cls(
            mllp_idle_timeout_s=_env_number("WARDWATCH_MLLP_IDLE_TIMEOUT_S", d.mllp_idle_timeout_s),
            mllp_frame_deadline_s=_env_number("WARDWATCH_MLLP_FRAME_DEADLINE_S", d.mllp_frame_deadline_s),
            mllp_max_connections=int(_env_number("WARDWATCH_MLLP_MAX_CONNECTIONS", d.mllp_max_connections)),
            mllp_max_per_source=int(_env_number("WARDWATCH_MLLP_MAX_CONNECTIONS_PER_SOURCE", d.mllp_max_per_source)),
            mllp_framing_reports_per_minute=int(
                _env_number("WARDWATCH_MLLP_FRAMING_REPORTS_PER_MIN", d.mllp_framing_reports_per_minute)
            ),
            http_header_timeout_s=_env_number("WARDWATCH_HTTP_HEADER_TIMEOUT_S", d.http_header_timeout_s),
            http_body_timeout_s=_env_number("WARDWATCH_HTTP_BODY_TIMEOUT_S", d.http_body_timeout_s),
            fhir_max_entries=int(_env_number("WARDWATCH_FHIR_MAX_ENTRIES", d.fhir_max_entries)),
            parse_threads=int(_env_number("WARDWATCH_INGEST_PARSE_THREADS", d.parse_threads)),
            send_timeout_s=_env_number("WARDWATCH_INGEST_SEND_TIMEOUT_S", d.send_timeout_s),
        )


_EXECUTORS: dict[int, ThreadPoolExecutor] = {}


#: Inputs smaller than this are parsed on the loop (well under a millisecond for contract JSON
#: and HL7; the thread hand-off would cost more than it saves). FHIR always goes to the pool:
#: model validation costs ~0.25 ms per entry.
INLINE_PARSE_BYTES = 16_384


async def off_loop(limits: IngestLimits, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a parser in the ingest thread pool, so alerts and timers keep running meanwhile.

    Measured (docs/security.md, `python -m streams.bench.ingest_stall`): eight
    concurrent 1 MiB FHIR Bundles parsed on the loop stalled it for 10 s; in the
    pool the loop still gets the GIL every switch interval between validations.
    """
    executor = _EXECUTORS.get(limits.parse_threads)
    if executor is None:
        executor = _EXECUTORS[limits.parse_threads] = ThreadPoolExecutor(
            max_workers=limits.parse_threads, thread_name_prefix="wardwatch-ingest-parse"
        )
    return await asyncio.get_running_loop().run_in_executor(executor, functools.partial(fn, *args, **kwargs))
