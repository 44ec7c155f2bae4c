"""PhysioNet/CinC Challenge 2012 set-a -> wardwatch contract samples, one patient_id per ICU stay.

Input: --src DIR holding set-a/<RecordID>.txt (Time,Parameter,Value; Time is HH:MM since ICU admission)
and Outcomes-a.txt, e.g. extracted from the mirror of github.com/AbdelrahmanManz/ICU-Mortality-Predictor
at commit df183eb97fe9a222b86ff26c7cdef55a4e4aec62 (its first commit; later commits edited the files):
    git --git-dir=<mirror> archive df183eb set-a Outcomes-a.txt | tar -x -C DIR
Output (--out DIR): stays.csv and samples.csv.gz, the input of `wardwatch evaluate --dataset DIR`.
Run: python -m alerts.evaluation.charted.physionet2012 --src DIR --out data/physionet2012

Data: Silva I, Moody G, Scott DJ, Celi LA, Mark RG. Predicting In-Hospital Mortality of ICU Patients:
The PhysioNet/Computing in Cardiology Challenge 2012. Computing in Cardiology 2012;39:245-248 (MIMIC-II),
Open Data Commons Attribution License v1.0 (ODC-By): keep this attribution with any derived file.

Conversion choices (see README.md):
- Each record is the first 48 h of one ICU stay (the Challenge kept stays of >= 48 h); its time axis is
  put at 2012-01-01T00:00Z + the record's HH:MM (no absolute times in the source); the stay ends at 48 h.
- HR -> heart_rate; RespRate -> resp_rate (charted for non-ventilated patients only); NISysABP
  (cuff), else SysABP (arterial line) at the same minute -> systolic_bp; Temp (degC) -> temperature.
  No SpO2 exists in this dataset (SaO2 is arterial blood gas and is not used). Values are kept as
  charted; the replay's contract parser rejects what it must and reports it.
- on_oxygen: MechVent 1 or FiO2 > 0.21 -> true, FiO2 <= 0.21 -> false (remembered by the engine).
- consciousness from GCS total: 15 A, 14 C, 9-13 V, 6-8 P, 3-5 U (sedated ventilated patients score U).
- Outcome: In-hospital_death; death time = admission + Survival days (day resolution only).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
from collections import defaultdict
from pathlib import Path

FIELDS = ("patient_id", "minute", "heart_rate", "resp_rate", "temperature", "systolic_bp", "on_oxygen", "consciousness")
STAY_FIELDS = (
    "patient_id",
    "record_id",
    "icu_type",
    "saps1",
    "los_days",
    "survival_days",
    "in_hospital_death",
    "n_samples",
)


def acvpu(gcs: float) -> str:
    g = round(gcs)
    return "A" if g >= 15 else "C" if g == 14 else "V" if g >= 9 else "P" if g >= 6 else "U"


def convert_record(path: Path) -> tuple[dict[str, str], list[dict[str, object]]]:
    info: dict[str, str] = {}
    by_min: dict[int, dict[str, float]] = defaultdict(dict)
    with open(path) as f:
        next(f)
        for line in f:
            t, param, value = line.strip().split(",")
            if t == "00:00" and param in ("RecordID", "Age", "Gender", "Height", "ICUType", "Weight"):
                info[param] = value
                continue
            h, m = t.split(":")
            by_min[int(h) * 60 + int(m)][param] = float(value)
    samples = []
    for minute in sorted(by_min):
        v = by_min[minute]
        s: dict[str, object] = {}
        if "HR" in v:
            s["heart_rate"] = v["HR"]
        if "RespRate" in v:
            s["resp_rate"] = v["RespRate"]
        if "NISysABP" in v:
            s["systolic_bp"] = v["NISysABP"]
        elif "SysABP" in v:
            s["systolic_bp"] = v["SysABP"]
        if "Temp" in v:
            s["temperature"] = v["Temp"]
        oxygen = None
        if "FiO2" in v:
            oxygen = v["FiO2"] > 0.21
        if v.get("MechVent") == 1:
            oxygen = True
        if oxygen is not None:
            s["on_oxygen"] = oxygen
        if "GCS" in v:
            s["consciousness"] = acvpu(v["GCS"])
        if s:
            s["minute"] = minute
            samples.append(s)
    return info, samples


def convert(src: Path, out: Path) -> None:
    with open(src / "Outcomes-a.txt", newline="") as f:
        outcomes = {r["RecordID"]: r for r in csv.DictReader(f)}
    stays, rows = [], []
    for path in sorted((src / "set-a").glob("*.txt")):
        info, samples = convert_record(path)
        rid = info.get("RecordID", path.stem)
        o = outcomes[rid]
        pid = f"p12-{rid}"
        stays.append(
            {
                "patient_id": pid,
                "record_id": rid,
                "icu_type": info.get("ICUType", ""),
                "saps1": o["SAPS-I"],
                "los_days": o["Length_of_stay"],
                "survival_days": o["Survival"],
                "in_hospital_death": o["In-hospital_death"],
                "n_samples": len(samples),
            }
        )
        for s in samples:
            rows.append({"patient_id": pid, **s})
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "stays.csv", "w", newline="") as f:
        w = csv.DictWriter(f, STAY_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(stays)
    buf = io.StringIO()
    w = csv.DictWriter(buf, FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(
            {
                k: (
                    ""
                    if r.get(k) is None
                    else (
                        str(r[k]).lower()
                        if isinstance(r[k], bool)
                        else (f"{r[k]:g}" if isinstance(r[k], float) else r[k])
                    )
                )
                for k in FIELDS
            }
        )
    with gzip.open(out / "samples.csv.gz", "wt", encoding="utf-8", compresslevel=9) as f:
        f.write(buf.getvalue())
    print(
        f"{len(stays)} stays ({sum(s['in_hospital_death'] == '1' for s in stays)} in-hospital deaths), "
        f"{len(rows)} samples"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="folder for stays.csv and samples.csv.gz")
    args = ap.parse_args()
    convert(args.src, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
