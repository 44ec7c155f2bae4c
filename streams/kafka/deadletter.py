"""The `vitals-dlq` record: every input that could not be used, with its reason."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

#: Payload bytes kept in one record: the record must stay under the broker's ~1 MiB limit
#: (base64 grows a payload by a third), or the reason would be lost with the payload.
MAX_PAYLOAD_BYTES = 262_144


@dataclass(frozen=True, slots=True)
class DeadLetter:
    error: str
    reason: str  # closed-set code, also the metric label
    payload: bytes
    topic: str
    partition: int | None
    offset: int | None
    #: Inputs this record stands for (a grouped record of many bad entries); not on the wire,
    #: it is in `error` and what the rejection metric counts.
    count: int = field(default=1, compare=False)
    gateway: str | None = None  # the named ingest credential that sent it (integrators find their rejects)

    def to_wire(self) -> dict[str, Any]:
        payload, error = self.payload, self.error
        if len(payload) > MAX_PAYLOAD_BYTES:
            error = f"{error} (payload cut to its first {MAX_PAYLOAD_BYTES} of {len(payload)} bytes)"
            payload = payload[:MAX_PAYLOAD_BYTES]
        try:
            text, encoding = payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
        return {
            "error": error,
            "reason": self.reason,
            "payload": text,
            "payload_encoding": encoding,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            **({"gateway": self.gateway} if self.gateway else {}),
        }

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_wire())
