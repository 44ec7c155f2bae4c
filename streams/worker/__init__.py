"""The Faust worker: per-patient state, the batch lane, the processor and its checkpointed outbox."""

from streams.exports import public

__all__, __getattr__ = public(
    __name__,
    {
        "app": ("EXTENSIONS", "TABLE_NAME", "Worker"),
        "processor": (
            "ACK_TAG",
            "OUT_ALERT",
            "OUT_DLQ",
            "VITALS_TAG",
            "Outcome",
            "Processor",
            "Staged",
            "decode_state",
            "encode_state",
            "partition_for",
            "utc_now_text",
        ),
    },
)
