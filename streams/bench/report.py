"""The bench's outputs: a readable table, the JSON object, a progress line."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

#: The JSON object of `wardwatch bench --json`: exactly these keys, all numbers.
KEYS: tuple[str, ...] = (
    "pipeline_samples_per_s",
    "pipeline_single_samples_per_s",
    "baseline_samples_per_s",
    "ratio",
    "domain_us_per_sample",
    "latency_p50_ms",
    "latency_p99_ms",
    "state_bytes_per_patient",
    "rss_mib_10k_patients",
    "recovery_s_10k_patients",
)

#: (key, comparison, target) of the issue; "ge" means higher is better.
TARGETS: dict[str, tuple[str, float]] = {
    "pipeline_samples_per_s": ("ge", 20_000),
    "ratio": ("ge", 0.8),
    "domain_us_per_sample": ("le", 20.0),
    "latency_p99_ms": ("le", 250.0),
    "state_bytes_per_patient": ("le", 16 * 1024),
    "rss_mib_10k_patients": ("le", 300.0),
    "recovery_s_10k_patients": ("le", 10.0),
}

LABELS: dict[str, str] = {
    "pipeline_samples_per_s": "pipeline, batched messages",
    "pipeline_single_samples_per_s": "pipeline, one sample per message",
    "baseline_samples_per_s": "baseline aiokafka + Processor",
    "ratio": "pipeline / baseline",
    "domain_us_per_sample": "domain per sample (parse+engine)",
    "latency_p50_ms": "event -> alert p50 at half load",
    "latency_p99_ms": "event -> alert p99 at half load",
    "state_bytes_per_patient": "state per patient (serialized)",
    "rss_mib_10k_patients": "RSS holding 10k patients",
    "recovery_s_10k_patients": "restart to ready, 10k patients",
}

UNITS: dict[str, str] = {
    "pipeline_samples_per_s": "samples/s",
    "pipeline_single_samples_per_s": "samples/s",
    "baseline_samples_per_s": "samples/s",
    "ratio": "",
    "domain_us_per_sample": "µs",
    "latency_p50_ms": "ms",
    "latency_p99_ms": "ms",
    "state_bytes_per_patient": "B",
    "rss_mib_10k_patients": "MiB",
    "recovery_s_10k_patients": "s",
}


def verdict(key: str, value: float) -> str:
    target = TARGETS.get(key)
    if target is None:
        return ""
    op, limit = target
    ok = value >= limit if op == "ge" else value <= limit
    return ("met" if ok else "MISSED") + f" ({'≥' if op == 'ge' else '≤'} {limit:g})"


def fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: dict[str, float], notes: dict[str, str]) -> str:
    rows = [("measure", "value", "unit", "target", "how")]
    for key in KEYS:
        rows.append((LABELS[key], fmt(results[key]), UNITS[key], verdict(key, results[key]), notes.get(key, "")))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            row[0].ljust(widths[0]),
            row[1].rjust(widths[1]),
            row[2].ljust(widths[2]),
            row[3].ljust(widths[3]),
            row[4],
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 3)
    return "\n".join(lines)


@dataclass
class Progress:
    """One status line on stderr: `[step/steps] what … detail`, rewritten in place on a terminal."""

    steps: int
    quiet: bool = False
    step: int = 0
    what: str = ""
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0
    _width: int = 0

    def begin(self, what: str) -> None:
        if self.step and not self.quiet and sys.stderr.isatty():
            sys.stderr.write("\n")  # keep the finished step's last line
            self._width = 0
        self.step += 1
        self.what = what
        self._last = 0.0
        self.update("", force=True)

    def update(self, detail: str, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        tty = sys.stderr.isatty()
        if not force and (now - self._last < (0.2 if tty else 5.0)):
            return
        self._last = now
        text = f"[{self.step}/{self.steps}] {self.what}" + (f": {detail}" if detail else "")
        text += f"  ({now - self.started:.0f} s)"
        if tty:
            pad = max(0, self._width - len(text))
            sys.stderr.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if not self.quiet and sys.stderr.isatty():
            sys.stderr.write("\n")
            sys.stderr.flush()
