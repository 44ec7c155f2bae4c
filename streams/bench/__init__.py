"""`wardwatch bench`: throughput, latency, memory and recovery of the real pipeline.

One module per measurement; `streams.bench_cmd` runs them in order and
`streams.bench.report` renders the table and the JSON object. Everything runs
against a real broker (the embedded tansu unless `--bootstrap`), and the
pipeline figures come from real `wardwatch worker` subprocesses.
"""
