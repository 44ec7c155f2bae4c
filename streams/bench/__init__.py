"""`wardwatch bench`: throughput, latency, memory and recovery of the real pipeline.

One module per measurement; `streams.cli.bench` runs them in order and
`streams.bench.report` renders the table and the JSON object. Everything runs
against a real broker (the embedded tansu unless `--bootstrap`), and the
pipeline figures come from real `wardwatch worker` subprocesses.
"""

from streams.exports import public

__all__, __getattr__ = public(
    __name__,
    {
        "data": ("Ward", "count_samples", "generate_ward"),
        "domain": ("measure_domain", "measure_domain_pure"),
        "detectors": ("DetectorCost", "measure_detectors", "parse_names", "detector_table"),
        "kafka": ("create_topics", "fill"),
        "latency": ("measure_latency",),
        "memory": ("mean_state_bytes",),
        "pipeline": ("run_pipeline",),
        "workers": ("ROOT", "BenchTopics"),
        "recovery_run": ("measure_recovery",),
    },
    modules=("report", "recovery"),
)
