"""Golden output of the domain: every alert's wire JSON and every engine's state, as one digest.

The check the detector and engine optimisations were held to ("golden output
identical"): three generated wards (different seeds, 24 h, artefacts on),
each sample through `PatientEngine.process`, a `tick` every minute, every
raised alert acknowledged 5 min later, and every engine round-tripped through
`to_bytes`/`from_bytes` every 6 h of ward time. It writes one line per alert
and per final state, so two versions of the code can be compared with `cmp`,
and prints the sha256.

    python -m streams.bench.golden --out /tmp/golden-new.txt
    git worktree add /tmp/golden-ref <commit> && (cd /tmp/golden-ref && \\
        /path/to/.venv/bin/python -m streams.bench.golden --out /tmp/golden-ref.txt)
    cmp /tmp/golden-ref.txt /tmp/golden-new.txt

`--detector NAME` runs the wards with another registered detector (no
reference to compare against: for a quick end-to-end run of it).
"""

from __future__ import annotations

import argparse
import hashlib
import sys

import orjson

from alerts.engine import PatientEngine
from alerts.policy import AckError
from monitor.cohort import CohortSpec, generate_cohort, iter_messages
from monitor.parse import parse_message

SEEDS = (7, 201, 301)


def run(out_path: str, patients: int, hours: float, config=None) -> str:  # type: ignore[no-untyped-def]
    lines: list[bytes] = []
    kwargs = {} if config is None else {"config": config}
    for seed in SEEDS:
        cohort = generate_cohort(CohortSpec(n_patients=patients, hours=hours, seed=seed))
        engines: dict[str, PatientEngine] = {}
        acks: list[tuple[int, str, str]] = []
        next_tick = next_trip = None
        for message in iter_messages(cohort, batch_seconds=5.0):
            result = parse_message(orjson.dumps(message))
            pid = result.patient_id
            if pid is None:
                continue
            engine = engines.get(pid)
            if engine is None:
                engine = engines[pid] = PatientEngine(pid, **kwargs)
            for sample in result.samples:
                ts = sample.ts_ms
                if next_tick is None:
                    next_tick, next_trip = ts + 60_000, ts + 6 * 3_600_000
                while ts >= next_tick:
                    for other in engines.values():
                        for alert in other.tick(next_tick):
                            lines.append(b"T " + orjson.dumps(alert.to_wire(), option=orjson.OPT_SORT_KEYS))
                    while acks and acks[0][0] <= next_tick:
                        at, owner, alert_id = acks.pop(0)
                        try:
                            acked = engines[owner].acknowledge(alert_id, "golden", "acknowledge", at)
                        except AckError as exc:  # resolved before the ack came: part of the output too
                            lines.append(b"X " + str(exc).encode())
                            continue
                        for alert in acked:
                            lines.append(b"A " + orjson.dumps(alert.to_wire(), option=orjson.OPT_SORT_KEYS))
                    next_tick += 60_000
                if ts >= next_trip:
                    engines = {k: PatientEngine.from_bytes(e.to_bytes(), **kwargs) for k, e in engines.items()}
                    engine = engines[pid]
                    next_trip += 6 * 3_600_000
                for alert in engine.process(sample):
                    lines.append(b"S " + orjson.dumps(alert.to_wire(), option=orjson.OPT_SORT_KEYS))
                    if alert.status.value == "raised":
                        acks.append((ts + 300_000, pid, alert.alert_id))
        for pid in sorted(engines):
            lines.append(b"E " + engines[pid].to_bytes())
    blob = b"\n".join(lines) + b"\n"
    with open(out_path, "wb") as fh:
        fh.write(blob)
    return hashlib.sha256(blob).hexdigest()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="file for the golden lines")
    p.add_argument("--patients", type=int, default=30)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--detector", help="a registered detector name (default: the policy default)")
    args = p.parse_args(argv)
    config = None
    if args.detector:
        from alerts.config import DEFAULT_CONFIG

        config = DEFAULT_CONFIG.replace(detector=args.detector)
    digest = run(args.out, args.patients, args.hours, config)
    print(digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
