"""Per-patient state size and the RSS of a process holding 10,000 patients.

`state_bytes`: mean length of `PatientEngine.to_bytes()` (the changelog
record) over engines that have processed a whole generated ward, so detector
baselines are warm and some patients have open episodes.

`rss`: a fresh interpreter (`python -m streams.bench.memory`) imports the
domain, reads its RSS, builds `patients` engines, feeds each
`samples_per_patient` samples of a generated patient (ids differ, so nothing
is shared but the sample objects), collects garbage and reads VmRSS again.
It prints one JSON line {"rss_mib", "base_mib", "patients", "samples"}.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterable

import orjson

from alerts.engine import PatientEngine


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def mean_state_bytes(engines: Iterable[PatientEngine]) -> tuple[float, int]:
    sizes = [len(engine.to_bytes()) for engine in engines]
    return (sum(sizes) / len(sizes), max(sizes)) if sizes else (0.0, 0)


def hold_patients(patients: int, samples_per_patient: int, seed: int = 5) -> dict[str, float]:
    from monitor.cohort import CohortSpec, generate_cohort, iter_patient_samples

    base = rss_mib()
    cohort = generate_cohort(CohortSpec(n_patients=20, hours=1.0, seed=seed))
    streams = []
    for pid in cohort.patient_ids:
        seq = []
        for sample in iter_patient_samples(cohort, pid):
            seq.append(sample)
            if len(seq) >= samples_per_patient:
                break
        streams.append(seq)
    engines: dict[str, PatientEngine] = {}
    for i in range(patients):
        pid = f"MRN{i:07d}"
        engine = engines[pid] = PatientEngine(pid)
        for sample in streams[i % len(streams)]:
            engine.process(sample)
    del streams
    gc.collect()
    state, largest = mean_state_bytes(engines.values())
    return {
        "rss_mib": rss_mib(),
        "base_mib": base,
        "patients": len(engines),
        "samples": samples_per_patient,
        "state_bytes": state,
        "state_bytes_max": largest,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="RSS of a process holding many PatientEngines")
    p.add_argument("--patients", type=int, default=10_000)
    p.add_argument("--samples", type=int, default=20)
    args = p.parse_args(argv)
    sys.stdout.write(orjson.dumps(hold_patients(args.patients, args.samples)).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
