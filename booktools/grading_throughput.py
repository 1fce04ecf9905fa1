"""Measure the grader's throughput on two synthetic classes (issue 19, item 8).

    python -m booktools grading-throughput build DIR
    python -m booktools grading-throughput time DIR [--root CHECKOUT] [--jobs 2]
                                               [--cases-seed N] [--repeat 1]

``build`` writes two classes from the book's notebooks into DIR:
- ``ch03_200``: 200 chapter-3 submissions (100 reference solutions, 50 student
  editions, 50 with one exercise answering None, that exercise rotating);
- ``all_20x4``: 20 students × the four chapters (80 reference notebooks).

``time`` grades each class with ``python -m mlpgrader grade`` of the checkout at
``--root`` (default: this one; pass an older checkout to compare, the same venv
serves both), sandboxed, and prints wall time, the load average before and after,
and the grader's peak memory. Run the old and new code interleaved (``--repeat``
with two roots in turn) so that both see the same load.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def _notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _exercise_cells(notebook: dict) -> list[dict]:
    return [cell for cell in notebook["cells"]
            if cell["cell_type"] == "code" and "exercise" in cell.get("metadata", {}).get("tags", [])]


def _wrong(notebook: dict, which: int) -> dict:
    copy = json.loads(json.dumps(notebook))
    cell = _exercise_cells(copy)[which % len(_exercise_cells(copy))]
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    header = source.split(":\n", 1)[0]  # the def line
    cell["source"] = header + ":\n    return None\n"
    return copy


def build(folder: Path) -> None:
    import nbformat

    from booktools.make_student_edition import student_notebook

    chapters = sorted(BOOK.glob("0[0-3]_*.ipynb"))
    ch03 = next(path for path in chapters if path.name.startswith("03_"))
    reference = _notebook(ch03)
    student, _ = student_notebook(nbformat.read(ch03, as_version=4), ch03.stem)
    student = json.loads(nbformat.writes(student))
    out = folder / "ch03_200"
    out.mkdir(parents=True, exist_ok=True)
    for index in range(200):
        notebook = (reference if index < 100 else student if index < 150
                    else _wrong(reference, index))
        (out / f"s{index:03d}_ch03.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    out = folder / "all_20x4"
    out.mkdir(parents=True, exist_ok=True)
    for path in chapters:
        text = path.read_text(encoding="utf-8")
        for index in range(20):
            (out / f"s{index:02d}_{path.stem[:2]}.ipynb").write_text(text, encoding="utf-8")
    print(f"built {folder}/ch03_200 (200 notebooks) and {folder}/all_20x4 (80 notebooks)")


# Runs the grader's CLI in this process and reports its own peak memory (not the
# sandboxes') on the last line of stderr.
_WRAPPER = """
import resource, runpy, sys
sys.argv = ["mlpgrader", *sys.argv[1:]]
try:
    runpy.run_module("mlpgrader", run_name="__main__")
finally:
    print("peak_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def time_class(folder: Path, root: Path, jobs: int, seed: int | None) -> dict:
    report = folder.parent / f".report-{folder.name}-{os.getpid()}.json"
    arguments = ["grade", str(folder), "--jobs", str(jobs), "--report", str(report)]
    if seed is not None:
        arguments += ["--cases-seed", str(seed)]
    command = [sys.executable, "-c", _WRAPPER, *arguments]
    env = dict(os.environ, PYTHONPATH=str(root))
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak = int(done.stderr.strip().splitlines()[-1].rpartition(" ")[2])
    if not report.exists() or done.returncode not in (0, 1):  # 1: someone lost points
        raise SystemExit(f"grading failed ({done.returncode}): {done.stderr[-2000:]}")
    data = json.loads(report.read_text(encoding="utf-8"))
    report.unlink()
    return {"class": folder.name, "root": str(root), "seconds": round(seconds, 1),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
            "grader_peak_MB": round(peak / 1024),
            "points": data["points"], "max_points": data["max_points"],
            "students": len(data["submissions"]),
            "timed_out": sum("timed out" in " ".join(entry["messages"])
                             for row in data["submissions"] for entry in row["exercises"]),
            "exercise_runs": sum(len(row["exercises"]) for row in data["submissions"])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m booktools grading-throughput",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "time"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--root", type=Path, action="append")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cases-seed", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--classes", default="all_20x4,ch03_200")
    args = parser.parse_args(argv)
    if args.action == "build":
        build(args.folder)
        return 0
    roots = args.root or [ROOT]
    for _ in range(args.repeat):
        for name in args.classes.split(","):
            for root in roots:
                seed = args.cases_seed if root.resolve() == ROOT else None
                print(json.dumps(time_class(args.folder / name, root.resolve(), args.jobs, seed)),
                      flush=True)
    return 0

