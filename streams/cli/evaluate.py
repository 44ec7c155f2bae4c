"""`wardwatch evaluate`: detection quality on labelled synthetic cohorts and real charted data.

Replays seeded cohorts through the same engine the worker runs (in-process,
no broker) and through classic baselines, and writes a Markdown report, JSON
numbers and PNG plots. `--dataset PATH` replays real charted vitals instead
(a folder with stays.csv + samples.csv.gz, e.g. PhysioNet 2012, see README
"Detection quality"). Imports nothing from Kafka/Faust so it runs anywhere.
"""

from __future__ import annotations

import argparse
import sys

EXAMPLE = """\
example:
  wardwatch evaluate --quick --out /tmp/ww-eval          # ~1.5 min smoke run: 30 patients x 12 h x 3 seeds
  wardwatch evaluate --patients 200 --hours 24 --seeds 7,8,9 --out evaluation
  wardwatch evaluate --seeds 101,102,103 --json > heldout.json   # held-out seeds, numbers only
  wardwatch evaluate --dataset data/physionet2012 --out /tmp/ww-p12  # real ICU charts, ~1 min on 2 cores
  wardwatch evaluate --dataset tests/fixtures/physionet2012 --out /tmp/ww-p12-slice   # the committed slice
  wardwatch evaluate --matrix --out /tmp/ww-matrix     # robustness matrix, 60 cells, a few min on 2 cores
  wardwatch evaluate --matrix --split dev --quick      # only the cells settings may be tuned on, small
  wardwatch evaluate --matrix --detectors baseline-z,hst   # one extra policy per detector name
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
    p.add_argument("--patients", type=_positive(int), default=None,
                   help="patients per cohort (default 200; with --matrix 12 per cell)")
    p.add_argument("--hours", type=_positive(float), default=None,
                   help="hours of monitoring per patient (default 24; with --matrix 12)")
    p.add_argument("--seeds", type=_seeds, default="7,8,9", help="comma-separated cohort seeds")
    p.add_argument("--out", default="evaluation", help="folder for report.md, report.json and PNG plots")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON on stdout")
    p.add_argument("--quick", action="store_true",
                   help="small cohort (<= 30 patients x 12 h), short sweep: for CI and smoke runs")
    p.add_argument("--workers", type=int, default=0, help="processes; 0 = one per core, at most 2")
    p.add_argument("--no-sweep", action="store_true", help="skip the policy-setting sweep")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--dataset", metavar="PATH",
                   help="replay real charted vitals from PATH/stays.csv + PATH/samples.csv.gz instead of a "
                        "synthetic cohort (report: alert burden, deaths vs survivors alerted, AUROC)")
    p.add_argument("--limit", type=_positive(int), help="with --dataset: only the first N stays")
    p.add_argument("--matrix", action="store_true",
                   help="robustness matrix: sampling 1 s..4 h x artefact bursts (flagged 100/75/0 %%, short/long) "
                        "x missingness; recall, delay, false alerts per cell and policy, table + heat map")
    p.add_argument("--split", choices=("dev", "held-out", "all"), default="all",
                   help="with --matrix: only the dev cells (to choose settings on) or only the held-out ones")
    p.add_argument("--detectors", default="",
                   help="comma-separated detector names to compare, each as its own policy "
                        "'wardwatch[name]' (see alerts/evaluation/detectors.py)")
    p.set_defaults(run=run)


def _detector_configs(args: argparse.Namespace) -> tuple:
    from alerts.evaluation.detectors import UnknownDetector, detector_configs, parse_names

    try:
        return detector_configs(parse_names(args.detectors))
    except UnknownDetector as exc:
        raise SystemExit(f"wardwatch evaluate: {exc}") from None


def run(args: argparse.Namespace) -> int:
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
    report = run_evaluation(spec, args.out, args.seeds, quick=args.quick, workers=args.workers or None,
                            sweep=not args.no_sweep, plots=not args.no_plots)
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
        report = run_charted(args.dataset, out, workers=args.workers or None, limit=args.limit,
                             configs=configs, plots=not args.no_plots)
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
        print(f"  {p.policy:>14}: {p.episodes_per_day:.2f} episodes/pt-day, deaths alerted {deaths} "
              f"vs survivors {survivors}, AUROC {auc}")
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
    report = run_matrix(out, patients=args.patients or CELL_PATIENTS, hours=args.hours or CELL_HOURS,
                        base_seed=args.seeds[0], split=split, quick=args.quick, workers=args.workers or None,
                        detectors=_detector_configs(args), plots=not args.no_plots)
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
