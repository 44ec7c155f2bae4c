"""`wardwatch evaluate`: detection quality on labelled synthetic cohorts and real charted data.

Replays seeded cohorts through the same engine the worker runs (in-process,
no broker) and through classic baselines, and writes a Markdown report, JSON
numbers and PNG plots. `--dataset PATH` replays real charted vitals instead
(a folder with stays.csv + samples.csv.gz, e.g. PhysioNet 2012, see README
"Detection quality"); `--matrix` runs the robustness matrix (sampling, artefact
bursts, missingness; dev and held-out cells). Imports nothing from Kafka/Faust
so it runs anywhere.
"""

from __future__ import annotations

import argparse
import sys

EXAMPLE = """\
example:
  wardwatch evaluate --quick --out /tmp/ww-eval          # ~1.5 min smoke run: 30 patients x 12 h x 3 seeds
  wardwatch evaluate --patients 200 --hours 24 --seeds 7,8,9 --out evaluation
  wardwatch evaluate --seeds 401,402,403 --json > heldout.json   # the held-out seeds (README), numbers only
  wardwatch evaluate --dataset data/physionet2012 --out /tmp/ww-p12  # real ICU charts, ~1 min
  wardwatch evaluate --dataset tests/fixtures/physionet2012 --out /tmp/ww-p12-slice   # the committed slice
  wardwatch evaluate --matrix --out /tmp/ww-matrix     # robustness matrix, 60 cells, ~3-5 min on 2 idle cores
  wardwatch evaluate --matrix --split dev --quick      # only the cells settings may be tuned on, small
  wardwatch evaluate --matrix --detectors baseline-z,hst   # one extra policy per detector name
  wardwatch evaluate --compare --detectors baseline-z,hst,gaussian,oneclass-svm,sad --quick
"""


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be comma-separated integers, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed")
    return seeds


def _positive(kind: type) -> object:
    def parse(text: str) -> object:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def add_parser(sub: argparse._SubParsersAction) -> None:
    from streams.cli import Formatter

    p = sub.add_parser(
        "evaluate",
        help="score detection quality on a labelled synthetic cohort vs fixed limits and NEWS2",
        description=__doc__,
        formatter_class=Formatter,
        epilog=EXAMPLE,
    )
    p.add_argument(
        "--patients",
        type=_positive(int),
        default=None,
        help="patients per cohort (default 200; with --matrix 24 per cell)",
    )
    p.add_argument(
        "--hours",
        type=_positive(float),
        default=None,
        help="hours of monitoring per patient (default 24; with --matrix 12)",
    )
    p.add_argument(
        "--seeds",
        type=_seeds,
        default="7,8,9",
        help="comma-separated cohort seeds (with --matrix: the first is the base seed of every cell)",
    )
    p.add_argument("--out", default="evaluation", help="folder for report.md, report.json and PNG plots")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON on stdout")
    p.add_argument(
        "--quick",
        action="store_true",
        help="small cohort (<= 30 patients x 12 h), short sweep: for CI and smoke runs "
        "(with --matrix: 6 patients x 8 h per cell)",
    )
    p.add_argument("--workers", type=int, default=0, help="processes; 0 = one per core, at most 2")
    p.add_argument("--no-sweep", action="store_true", help="skip the policy-setting sweep")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument(
        "--dataset",
        metavar="PATH",
        help="replay real charted vitals from PATH/stays.csv + PATH/samples.csv.gz instead of a "
        "synthetic cohort (report: alert burden, deaths vs survivors alerted, AUROC)",
    )
    p.add_argument("--limit", type=_positive(int), help="with --dataset: only the first N stays")
    p.add_argument(
        "--matrix",
        action="store_true",
        help="robustness matrix: sampling 1 s..4 h x artefact bursts (flagged 100/75/0 %%, short/long) "
        "x missingness; recall, delay, false alerts per cell and policy, table + heat map",
    )
    p.add_argument(
        "--split",
        choices=("dev", "held-out", "all"),
        default="all",
        help="with --matrix: only the dev cells (to choose settings on) or only the held-out ones",
    )
    p.add_argument(
        "--detectors",
        default="",
        help="comma-separated detector names to compare, each as its own policy "
        "'wardwatch[name]' (see alerts/evaluation/detectors.py)",
    )
    p.add_argument(
        "--compare",
        action="store_true",
        help="with --detectors: one comparison table and plot (compare.md/.json/.png) over the "
        "cohort, the robustness matrix, real charted data (--dataset; default the committed "
        "PhysioNet slice) and the domain cost (µs/sample, bytes/patient) of each detector",
    )
    p.add_argument("--no-matrix", action="store_true", help="with --compare: skip the robustness matrix")
    p.add_argument(
        "--alone",
        action="store_true",
        help="with --compare: also run each detector as the only alert source (twice the time)",
    )
    p.set_defaults(run=run)


def _detector_configs(args: argparse.Namespace) -> tuple:
    from alerts.evaluation.detectors import UnknownDetector, detector_configs, parse_names

    try:
        return detector_configs(parse_names(args.detectors))
    except UnknownDetector as exc:
        raise SystemExit(f"wardwatch evaluate: {exc}") from None


def run(args: argparse.Namespace) -> int:
    if args.compare:
        return run_compare(args)
    if args.dataset:
        return run_dataset(args)
    if args.matrix:
        return run_matrix_cmd(args)
    args.patients = args.patients or 200
    args.hours = args.hours or 24.0
    from alerts.evaluation import run_evaluation
    from alerts.evaluation.report import report_json
    from monitor.cohort import CohortSpec

    spec = CohortSpec(n_patients=args.patients, hours=args.hours, seed=args.seeds[0])
    report = run_evaluation(
        spec,
        args.out,
        args.seeds,
        quick=args.quick,
        workers=args.workers or None,
        sweep=not args.no_sweep,
        plots=not args.no_plots,
    )
    if args.json:
        sys.stdout.buffer.write(report_json(report) + b"\n")
        sys.stdout.flush()
    else:
        print(f"report: {args.out}/report.md  numbers: {args.out}/report.json  ({report.runtime_s:.0f} s)")
        for check in report.targets:
            state = "n/a" if check.met is None else ("met" if check.met else "MISSED")
            value = "–" if check.value is None else f"{check.value:.3g}"
            print(f"  {check.name}: {value} (target {check.target}) {state}")
    return 0


def run_dataset(args: argparse.Namespace) -> int:
    """`--dataset`: replay charted stays; a missing or malformed folder is an error that says what to do."""
    from alerts.evaluation.charted import run_charted
    from alerts.evaluation.charted.dataset import DatasetError
    from alerts.evaluation.charted.report import report_json

    out = args.out if args.out != "evaluation" else "evaluation-charted"
    from alerts.evaluation.runner import policy_configs

    configs = policy_configs() + _detector_configs(args)
    try:
        report = run_charted(
            args.dataset, out, workers=args.workers or None, limit=args.limit, configs=configs, plots=not args.no_plots
        )
    except DatasetError as exc:
        print(f"wardwatch evaluate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.buffer.write(report_json(report) + b"\n")
        sys.stdout.flush()
        return 0
    print(f"report: {out}/report.md  numbers: {out}/report.json  ({report.runtime_s:.0f} s)")
    print(f"  {report.stays} stays, {report.deaths} deaths; {report.accepted}/{report.sets} charted sets accepted")
    for p in report.policies:
        auc = "–" if p.auroc is None else f"{p.auroc:.3f}"
        deaths = "–" if p.deaths_alerted is None else f"{100 * p.deaths_alerted:.0f} %"
        survivors = "–" if p.survivors_alerted is None else f"{100 * p.survivors_alerted:.0f} %"
        print(
            f"  {p.policy:>14}: {p.episodes_per_day:.2f} episodes/pt-day, deaths alerted {deaths} "
            f"vs survivors {survivors}, AUROC {auc}"
        )
    for t in report.targets:
        state = "n/a" if t.met is None else ("met" if t.met else "MISSED")
        print(f"  {t.name}: {state}")
    return 0


def run_matrix_cmd(args: argparse.Namespace) -> int:
    """`--matrix`: every cell through every policy; prints the target per split."""
    from alerts.evaluation.matrix import Split, run_matrix
    from alerts.evaluation.matrix.report import report_json
    from alerts.evaluation.matrix.run import CELL_HOURS, CELL_PATIENTS

    out = args.out if args.out != "evaluation" else "evaluation-matrix"
    split = None if args.split == "all" else Split(args.split)
    report = run_matrix(
        out,
        patients=args.patients or CELL_PATIENTS,
        hours=args.hours or CELL_HOURS,
        base_seed=args.seeds[0],
        split=split,
        quick=args.quick,
        workers=args.workers or None,
        detectors=_detector_configs(args),
        plots=not args.no_plots,
    )
    if args.json:
        sys.stdout.buffer.write(report_json(report) + b"\n")
        sys.stdout.flush()
        return 0
    print(f"report: {out}/report.md  numbers: {out}/report.json  ({report.runtime_s:.0f} s)")
    print("  target (sampling <= 1 min): recall >= 95 % and <= 1 false alert / stable patient-day")
    for policy in report.policies:
        met, judged = report.target_summary(policy)
        print(f"  {policy:>14}: {met}/{judged} cells met")
    return 0


#: Real charted stays used by --compare when no --dataset is given (committed, small).
COMPARE_SLICE = "tests/fixtures/physionet2012"


def run_compare(args: argparse.Namespace) -> int:
    """`--compare --detectors a,b,c`: cohort, matrix, real data and cost per detector, one table + plot."""
    from pathlib import Path

    from alerts.evaluation import detector_compare as dc
    from alerts.evaluation.charted.dataset import DatasetError
    from alerts.evaluation.detectors import UnknownDetector, detector_config, parse_names
    from alerts.evaluation.parallel import default_workers
    from monitor.cohort import CohortSpec
    from streams.bench import generate_ward, measure_detectors

    names = list(parse_names(args.detectors)) or ["baseline-z"]
    try:
        for name in names:
            detector_config(name)
    except UnknownDetector as exc:
        print(f"wardwatch evaluate: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out if args.out != "evaluation" else "evaluation-detectors")
    workers = args.workers or default_workers()
    patients = args.patients or (12 if args.quick else 40)
    hours = args.hours or (8.0 if args.quick else 24.0)
    seeds = args.seeds if not args.quick else args.seeds[:1]
    rows = {n: dc.DetectorRow(n) for n in names}
    notes = [
        f"cohort: {patients} patients x {hours:g} h, seeds {','.join(map(str, seeds))}; "
        "wardwatch[name] = NEWS2 + hard limits + that detector; 'detector alone' = anomaly source only"
    ]
    print(f"[1/4] cohort ({len(names)} detectors)", file=sys.stderr)
    dc.cohort_figures(
        names, CohortSpec(n_patients=patients, hours=hours, seed=seeds[0]), seeds, workers, rows, alone=args.alone
    )
    if not args.no_matrix:
        print("[2/4] robustness matrix", file=sys.stderr)
        dc.matrix_figures(names, out, rows, args.quick, workers, seeds[0])
        notes.append(
            f"matrix: {out}/matrix/report.md, cells sampled every "
            f"{', '.join(f'{s:g} s' for s in dc.COMPARE_SAMPLING_S)} (the 1-min ones judged)"
        )
    dataset = args.dataset or COMPARE_SLICE
    print(f"[3/4] real charted data ({dataset})", file=sys.stderr)
    try:
        dc.charted_figures(names, dataset, out, rows, workers, args.limit)
        notes.append(f"real data: {dataset} ({out}/charted/report.md)")
    except DatasetError as exc:
        print(f"wardwatch evaluate: real data skipped: {exc}", file=sys.stderr)
        notes.append(f"real data skipped: {exc}")
    print("[4/4] domain cost per detector", file=sys.stderr)
    ward = generate_ward(min(patients, 30 if args.quick else 60), min(hours, 0.5 if args.quick else 2.0), 5.0)
    for cost in measure_detectors(ward.batched, names):
        if cost.name in rows:
            row = rows[cost.name]
            row.us_per_sample, row.bytes_per_patient, row.bytes_max = (
                cost.us_per_sample,
                cost.state_mean,
                cost.state_max,
            )
    notes.append(
        "µs/sample: parse + PatientEngine.process on one generated ward, in-process, this machine; "
        "bytes: mean (max) PatientEngine.to_bytes() after it (budget 16 KiB)"
    )
    ordered = [rows[n] for n in names]
    paths = dc.write(ordered, out, notes, plots=not args.no_plots)
    if args.json:
        import dataclasses
        import json

        print(json.dumps([dataclasses.asdict(r) for r in ordered]))
    else:
        print(dc.table(ordered))
        print("written: " + ", ".join(str(p) for p in paths))
    return 0
