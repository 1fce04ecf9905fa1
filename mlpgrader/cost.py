"""What one exercise run costs: ``python -m mlpgrader cost [--runs 20]``.

Grades the book's reference solution of chapter 0's first exercise ``runs`` times one after the
other, in the sandbox, as a plain process (--no-sandbox) and in this process (the
judging alone), and prints the median wall time of each. On a shared machine the
numbers are inflated by whatever else runs: quote the load with them.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from mlpcore.exercises import chapter_exercises
from mlpgrader.grade_cell import grade_source
from mlpgrader.notebook import find_exercise_source, load_cells

BOOK = Path(__file__).resolve().parents[1] / "book" / "00_mlp_in_numpy.ipynb"


def measure(runs: int = 20) -> tuple[str, dict[str, float]]:
    exercise = chapter_exercises("ch00")[0]
    source = find_exercise_source(load_cells(BOOK), exercise)
    medians = {}
    for mode in ("bwrap", "none", "inprocess"):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            result = grade_source(exercise, source, mode)
            times.append(time.perf_counter() - start)
            assert result.points == exercise.max_points, result.summary()
        medians[mode] = statistics.median(times)
    return f"{exercise.id}, {len(exercise.cases)} cases", medians


def main(runs: int) -> int:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    which, medians = measure(runs)
    print(f"one exercise run ({which}), median of {runs}, "
          f"load average {load:.1f} on {os.cpu_count()} CPUs:")
    for mode, label in (("bwrap", "bubblewrap sandbox"), ("none", "plain process (--no-sandbox)"),
                        ("inprocess", "judging alone (no process)")):
        print(f"  {label:30s} {1000 * medians[mode]:7.0f} ms")
    return 0
