"""`wardwatch bench`: measure the pipeline against the broker's limit, in one run.

Runs, in order, on one generated ward: the pure domain cost per sample; the
saturation throughput of a real `wardwatch worker` over a pre-filled topic
with batched and with single-sample messages; a hand-written aiokafka loop
over the same domain code on the same data (the baseline, and the ratio);
event → alert latency at half the measured rate; the serialized state per
patient and the RSS of 10,000 patients; and restart-to-ready with 10,000
patients' state. See docs/performance.md for how to read the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from streams.bench import (
    ROOT,
    BenchTopics,
    Ward,
    create_topics,
    fill,
    generate_ward,
    mean_state_bytes,
    measure_domain,
    measure_domain_pure,
    measure_latency,
    report,
    run_pipeline,
)


@dataclass(frozen=True)
class Sizes:
    patients: int
    hours: float
    domain_repeats: int
    latency_s: float
    memory_patients: int
    memory_samples: int
    recovery_patients: int
    recovery_samples: int
    recovery_timeout_s: float


FULL = Sizes(
    patients=100,
    hours=1.0,
    domain_repeats=3,
    latency_s=15.0,
    memory_patients=10_000,
    memory_samples=20,
    recovery_patients=10_000,
    recovery_samples=10,
    recovery_timeout_s=120.0,
)
QUICK = Sizes(
    patients=12,
    hours=0.25,
    domain_repeats=1,
    latency_s=3.0,
    memory_patients=10_000,
    memory_samples=2,
    recovery_patients=500,
    recovery_samples=2,
    recovery_timeout_s=30.0,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "bench",
        help="measure throughput, latency, memory and recovery against a real broker",
        formatter_class=Formatter,
        epilog="example:\n  wardwatch bench                      # embedded broker, full sizes (~3 min), table\n"
        "  wardwatch bench --quick --json       # CI: small sizes, < 60 s, one JSON object\n"
        "  wardwatch bench --bootstrap kafka:9092 --patients 200 --hours 2\n"
        "  wardwatch bench --domain-only --detectors hst,gaussian,oneclass-svm,sad   # µs and bytes per detector",
    )
    p.add_argument("--bootstrap", help="use this broker instead of starting the embedded one")
    p.add_argument("--quick", action="store_true", help="small sizes for CI (numbers are not meaningful)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--patients", type=int, help="patients in the generated ward (default 100, quick 12)")
    p.add_argument("--hours", type=float, help="simulated hours of the ward (default 1, quick 0.25)")
    p.add_argument(
        "--batch-seconds",
        type=float,
        default=5.0,
        help="seconds of one device's samples per batched message (as gateways send them)",
    )
    p.add_argument("--partitions", type=int, default=4, help="partitions of the bench's vitals topics")
    p.add_argument(
        "--latency-load",
        type=float,
        default=0.5,
        help="share of the measured saturation rate offered during the latency run",
    )
    p.add_argument("--keep", metavar="DIR", help="keep worker logs and data in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.add_argument(
        "--detectors",
        metavar="A,B,C",
        help="also measure domain µs/sample and bytes/patient per detector (registered names, "
        "e.g. hst,gaussian,oneclass-svm,sad; the default is always measured with them)",
    )
    p.add_argument(
        "--domain-only",
        action="store_true",
        help="only the in-process domain figures (no broker): with --detectors, the detector table",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else FULL
    if args.patients or args.hours:
        from dataclasses import replace

        sizes = replace(sizes, patients=args.patients or sizes.patients, hours=args.hours or sizes.hours)
    if args.detectors:
        from streams.bench import parse_names

        try:
            args.detector_names = parse_names(args.detectors)
        except ValueError as exc:
            print(f"error: --detectors: {exc}", file=sys.stderr)
            return 2
    if args.domain_only:
        return _domain_only(args, sizes)
    if args.keep:
        workdir = Path(args.keep)
        workdir.mkdir(parents=True, exist_ok=True)
        return _run_in(args, sizes, workdir)
    with tempfile.TemporaryDirectory(prefix="wardwatch-bench-") as tmp:
        return _run_in(args, sizes, Path(tmp))


def _domain_only(args: argparse.Namespace, sizes: Sizes) -> int:
    """The in-process domain figures only: per detector when asked (no broker, no workers)."""
    from streams.bench import detector_table, measure_detectors

    progress = report.Progress(steps=2, quiet=args.quiet)
    progress.begin("generating ward")
    ward = generate_ward(sizes.patients, sizes.hours, args.batch_seconds)
    progress.begin("domain per detector")
    rows = measure_detectors(
        ward.batched,
        getattr(args, "detector_names", []),
        sizes.domain_repeats,
        lambda name: progress.update(name, force=True),
    )
    progress.done()
    if args.json:
        print(json.dumps({"detectors": [r.__dict__ for r in rows]}))
    else:
        print(detector_table(rows))
        print(
            f"\n{sizes.patients} patients x {sizes.hours:g} h, best of {sizes.domain_repeats}; "
            "bytes = the whole patient checkpoint (PatientEngine.to_bytes) after the ward"
        )
    return 0


def _run_in(args: argparse.Namespace, sizes: Sizes, workdir: Path) -> int:
    from streams.kafka import BrokerError, EmbeddedBroker

    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        try:
            broker = EmbeddedBroker(log_path=workdir / "broker.log").start()
        except BrokerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
        bootstrap = broker.bootstrap
    from aiokafka.errors import KafkaConnectionError, KafkaError

    try:
        results, notes = _measure(args, sizes, bootstrap, workdir)
    except (KafkaConnectionError, OSError) as exc:
        print(f"\nerror: cannot use the broker at {bootstrap}: {exc}", file=sys.stderr)
        return 3
    except (RuntimeError, KafkaError, subprocess.SubprocessError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    finally:
        if broker:
            broker.stop()
    detector_rows = notes.pop("_detectors", "")
    if args.json:
        print(json.dumps({k: results[k] for k in report.KEYS}))
    else:
        print(report.table(results, notes))
        if detector_rows:
            print("\ndomain per detector (same ward, same run):\n" + detector_rows)
        mode = "quick (sizes too small for meaningful numbers)" if args.quick else "full"
        print(f"\nmode: {mode}; broker: {'embedded tansu' if broker else bootstrap}")
    return 0


def _compiled_note(us: float, sizes: Sizes, batch_seconds: float, progress: report.Progress) -> str:
    """Which hot-path modules ran compiled, and the same ward as plain Python in this run."""
    from monitor.compiled import status

    modules = status()
    compiled = sum(modules.values())
    if not compiled:
        return "; pure Python (no compiled build: make venv)"
    progress.update("the same ward as plain Python", force=True)
    pure = measure_domain_pure(sizes.patients, sizes.hours, batch_seconds, sizes.domain_repeats)
    return f"; hot path compiled ({compiled}/{len(modules)} modules), plain Python {pure:.1f} µs: × {us / pure:.2f}"


def _measure(
    args: argparse.Namespace, sizes: Sizes, bootstrap: str, workdir: Path
) -> tuple[dict[str, float], dict[str, str]]:
    run_id = uuid.uuid4().hex[:8]
    progress = report.Progress(steps=9, quiet=args.quiet)
    results: dict[str, float] = {}
    notes: dict[str, str] = {}
    partitions = args.partitions

    progress.begin("generating ward")
    ward = generate_ward(sizes.patients, sizes.hours, args.batch_seconds)
    span_ms = int(sizes.hours * 3_600_000)
    from monitor.cohort import DEFAULT_START_MS

    later = generate_ward(sizes.patients, sizes.hours, args.batch_seconds, start_ms=DEFAULT_START_MS + span_ms)

    progress.begin("domain (parse + PatientEngine.process, no Kafka)")
    domain = measure_domain(ward.batched, repeats=sizes.domain_repeats)
    expected = domain.samples
    results["domain_us_per_sample"] = domain.us_per_sample
    notes["domain_us_per_sample"] = (
        f"parse {domain.parse_us:.1f} + engine {domain.engine_us:.1f} µs, "
        f"best of {sizes.domain_repeats}, {domain.samples:,} samples"
    ) + _compiled_note(domain.us_per_sample, sizes, args.batch_seconds, progress)
    state_mean, state_max = mean_state_bytes(domain.engines.values())
    results["state_bytes_per_patient"] = state_mean
    notes["state_bytes_per_patient"] = (
        f"mean to_bytes() after the ward ({domain.samples // max(1, ward.patients):,}"
        f" samples each), max {state_max:,} B"
    )
    del domain
    if getattr(args, "detector_names", None):
        from streams.bench import detector_table, measure_detectors

        progress.update("per detector", force=True)
        notes["_detectors"] = detector_table(measure_detectors(ward.batched, args.detector_names, sizes.domain_repeats))

    batched = BenchTopics(f"bench-{run_id}-b")
    single = BenchTopics(f"bench-{run_id}-s")
    progress.begin("pre-filling topics")
    asyncio.run(create_topics(bootstrap, [batched.vitals, single.vitals], partitions))
    total_msgs = len(ward.batched) + len(ward.single)
    asyncio.run(
        fill(bootstrap, batched.vitals, ward.batched, lambda n: progress.update(f"{n:,}/{total_msgs:,} messages"))
    )
    asyncio.run(
        fill(
            bootstrap,
            single.vitals,
            ward.single,
            lambda n: progress.update(f"{len(ward.batched) + n:,}/{total_msgs:,} messages"),
        )
    )

    progress.begin(f"pipeline, batched ({ward.samples_per_batch:.1f} samples/message)")
    pipe, worker = run_pipeline(
        bootstrap,
        f"bench-{run_id}-b",
        batched,
        workdir,
        expected,
        partitions,
        lambda v: progress.update(f"{v:,.0f}/{expected:,} samples"),
    )
    try:
        results["pipeline_samples_per_s"] = pipe.samples_per_s
        notes["pipeline_samples_per_s"] = (
            f"{len(ward.batched):,} messages, {pipe.samples:,.0f} samples in "
            f"{pipe.seconds:.1f} s after {pipe.startup_s:.1f} s start-up; "
            f"{pipe.samples_per_cpu_s:,.0f}/CPU-s, worker at {pipe.cpu_share:.0%} "
            "of a core"
        )
        # Right after the pipeline, so both see the same load from the rest of the machine;
        # the worker idles meanwhile (it is needed again for the latency run).
        progress.begin("baseline (aiokafka + streams.worker.processor.Processor)")
        base = _baseline(bootstrap, batched, expected, run_id)
        results["baseline_samples_per_s"] = base["samples_per_s"]
        results["ratio"] = pipe.samples_per_s / base["samples_per_s"] if base["samples_per_s"] else 0.0
        notes["baseline_samples_per_s"] = (
            f"same {len(ward.batched):,} batched messages, {base['seconds']:.1f} s; "
            f"{base['samples_per_cpu_s']:,.0f}/CPU-s, at {base['cpu_share']:.0%} "
            "of a core"
        )
        cpu_ratio = pipe.samples_per_cpu_s / base["samples_per_cpu_s"] if base["samples_per_cpu_s"] else 0.0
        notes["ratio"] = f"wall rates; per CPU second {cpu_ratio:.2f} (immune to other load on the machine)"
        progress.begin(f"latency at {args.latency_load:.0%} of {pipe.samples_per_s:,.0f} samples/s")
        load = [(k, v, n) for (k, v), n in zip(later.batched, _sample_counts(later.batched), strict=True)]
        rate = max(1.0, pipe.samples_per_s * args.latency_load)
        duration = min(sizes.latency_s, max(1.0, later.samples / rate))
        lat = asyncio.run(
            measure_latency(
                bootstrap,
                batched.vitals,
                batched.alerts,
                load,
                rate,
                duration,
                run_id,
                progress=lambda f: progress.update(f"{f:.0%}"),
            )
        )
    finally:
        worker.stop()
    results["latency_p50_ms"] = lat.p50_ms
    results["latency_p99_ms"] = lat.p99_ms
    notes["latency_p50_ms"] = (
        f"{lat.answered}/{lat.probes} probes answered, offered {lat.achieved_samples_per_s:,.0f} samples/s"
    )
    notes["latency_p99_ms"] = f"max {lat.max_ms:.0f} ms over {duration:.0f} s"

    progress.begin("pipeline, one sample per message")
    pipe1, worker1 = run_pipeline(
        bootstrap,
        f"bench-{run_id}-s",
        single,
        workdir,
        expected,
        partitions,
        lambda v: progress.update(f"{v:,.0f}/{expected:,} samples"),
    )
    worker1.stop()
    results["pipeline_single_samples_per_s"] = pipe1.samples_per_s
    notes["pipeline_single_samples_per_s"] = (
        f"{len(ward.single):,} messages in {pipe1.seconds:.1f} s; "
        f"{pipe1.samples_per_cpu_s:,.0f}/CPU-s, worker at "
        f"{pipe1.cpu_share:.0%} of a core"
    )

    progress.begin(f"memory ({sizes.memory_patients:,} patients)")
    mem = _subprocess_json(
        [
            sys.executable,
            "-m",
            "streams.bench.memory",
            "--patients",
            str(sizes.memory_patients),
            "--samples",
            str(sizes.memory_samples),
        ]
    )
    results["rss_mib_10k_patients"] = mem["rss_mib"]
    notes["rss_mib_10k_patients"] = (
        f"{mem['patients']:,} engines x {mem['samples']} samples; interpreter + imports {mem['base_mib']:.0f} MiB"
    )

    progress.begin(f"recovery ({sizes.recovery_patients:,} patients)")
    rec, how = _recovery(bootstrap, sizes, workdir, run_id, partitions, ward, lambda s: progress.update(s, force=True))
    results["recovery_s_10k_patients"] = rec
    notes["recovery_s_10k_patients"] = how
    progress.done()
    return {k: float(results[k]) for k in report.KEYS}, notes


def _sample_counts(messages: list[tuple[bytes, bytes]]) -> list[int]:
    from streams.bench import count_samples

    return [count_samples(orjson.loads(v)) for _, v in messages]


def _subprocess_json(cmd: list[str], timeout: float = 900.0) -> dict:
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:4])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return orjson.loads(done.stdout.strip().splitlines()[-1])


def _baseline(bootstrap: str, topics: BenchTopics, expected: int, run_id: str) -> dict:
    return _subprocess_json(
        [
            sys.executable,
            "-m",
            "streams.bench.baseline",
            "--bootstrap",
            bootstrap,
            "--topic",
            topics.vitals,
            "--alerts-topic",
            f"{topics.prefix}-baseline-alerts",
            "--dlq-topic",
            f"{topics.prefix}-baseline-dlq",
            "--changelog-topic",
            f"{topics.prefix}-baseline-changelog",
            "--expected",
            str(expected),
            "--group",
            f"bench-{run_id}-baseline",
        ]
    )


def _recovery(
    bootstrap: str, sizes: Sizes, workdir: Path, run_id: str, partitions: int, ward: Ward, progress
) -> tuple[float, str]:
    from streams.bench import recovery

    n = sizes.recovery_patients
    external = recovery.external_measure()
    if external is not None:
        result = external(bootstrap, n, "memory", progress=progress)
        seconds = recovery.seconds_of(result)
        detail = []
        for phase in ("restart", "cold"):
            inner = result.get(phase) or {}
            if "ready_s" in inner:
                detail.append(f"{phase} {inner['ready_s']:.1f} s (recovery {inner.get('recovery_s', 0):.1f})")
        return seconds, (
            f"process start to /readyz, {n:,} patients x {result.get('state_bytes_per_patient', '?')} B "
            f"(memory store); " + ", ".join(detail)
        )
    samples = []
    for _, raw in ward.batched:
        doc = orjson.loads(raw)
        samples.extend(doc.get("samples") or [])
        if len(samples) >= sizes.recovery_samples:
            break
    result = recovery.measure_recovery_minimal(
        bootstrap,
        n,
        workdir,
        run_id,
        partitions,
        samples[: sizes.recovery_samples],
        progress,
        ready_timeout=sizes.recovery_timeout_s,
    )
    if not result["ready"]:
        return result["recovery_s"], f"NOT READY within {sizes.recovery_timeout_s:.0f} s (lower bound)"
    return result["recovery_s"], (f"{n:,} patients' state in the changelog; process start to /readyz (memory store)")
