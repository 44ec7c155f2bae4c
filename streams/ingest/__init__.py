"""Ingest: HTTP and MLLP listeners in the worker, one submit path to `vitals` and the dead-letter topic."""

from streams.exports import public

__all__, __getattr__ = public(
    __name__,
    {
        "submit": (
            "IngestAccess",
            "IngestPipeline",
            "Unavailable",
            "is_loopback_host",
            "parse_vitals_body",
            "pipeline_for",
        ),
        "limits": ("IngestLimits",),
        "http": ("IngestWeb",),
        "mllp": ("MllpServer",),
    },
)
