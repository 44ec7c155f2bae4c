"""Logging set-up: human text for a terminal, one JSON object per line for ops.

No patient identifier is ever logged at INFO: alert lines carry the alert id
(a hash, usable as a correlation id: `extra={"alert_id": ...}` puts it in the
JSON as `alert_id` and `correlation_id`), never the patient. The handler is on
the root logger, so Faust's, mode's and aiokafka's records use the same
format; the worker starts Faust with `override_logging=False` so Faust does
not replace it.
"""

from __future__ import annotations

import logging
import sys

import orjson


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        correlation = getattr(record, "alert_id", None)
        if correlation:
            doc["alert_id"] = correlation
            doc["correlation_id"] = correlation
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc).decode()


def setup(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
