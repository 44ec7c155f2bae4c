"""Run independent per-patient tasks on a process pool, with a progress line.

Patients share nothing, so the evaluation parallelises perfectly over them;
results come back in completion order and are re-sorted by the caller's key.
Progress goes to stderr as one rewritten line, so `--json` on stdout stays
clean for pipes.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TextIO, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 2))


class Progress:
    """`label: done/total (pct) elapsed` on one stderr line."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, unit: str = "patients") -> None:
        self.label, self.total, self.done, self.unit = label, total, 0, unit
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.perf_counter()
        self._shown = 0.0

    def step(self) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        if self.done < self.total and elapsed - self._shown < 0.25:
            return  # at most four redraws a second: a 4,000-stay replay is not 4,000 lines of output
        self._shown = elapsed
        pct = 100 * self.done // max(self.total, 1)
        end = "\n" if self.done >= self.total else ""
        self.stream.write(f"\r{self.label}: {self.done}/{self.total} {self.unit} ({pct:3.0f} %) {elapsed:6.1f} s{end}")
        self.stream.flush()


def run_tasks(fn: Callable[[T], R], tasks: Sequence[T], workers: int, progress: Progress | None = None) -> list[R]:
    """Apply `fn` to every task (in a pool when workers > 1); completion order."""
    results: list[R] = []
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            results.append(fn(task))
            if progress:
                progress.step()
        return results
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with context.Pool(workers) as pool:
        for result in pool.imap_unordered(fn, _iter(tasks), chunksize=1):
            results.append(result)
            if progress:
                progress.step()
    return results


def _iter(tasks: Iterable[T]) -> Iterable[T]:
    yield from tasks
