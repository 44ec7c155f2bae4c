"""The `vitals-dlq` record: every input that could not be used, with its reason."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class DeadLetter:
    error: str
    reason: str  # closed-set code, also the metric label
    payload: bytes
    topic: str
    partition: int | None
    offset: int | None

    def to_wire(self) -> dict[str, Any]:
        try:
            text, encoding = self.payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.payload).decode("ascii"), "base64"
        return {
            "error": self.error,
            "reason": self.reason,
            "payload": text,
            "payload_encoding": encoding,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "received_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.to_wire())
