"""Grade submissions: find them, decide their chapter, grade each exercise in its own
process, and summarise as a score table and a JSON report.

The pytest plugin in grading/ is a thin layer over this module (one pytest item per
student × exercise); the functions here can also be used directly.

Chapter of a submission, first rule that answers:
1. ``chapter=`` given by the instructor (``--chapter ch00``);
2. the notebook's own content: the chapters named in its ``check("chNN.…")`` calls
   and of the exercise functions it defines;
3. its file name: ``00_…`` or ``…ch00…``;
4. if the file cannot be read at all: the chapter shared by every other submission
   of the run (a class handing in the same assignment).
"""
from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from mlpcore.exercises._notebook import (NotebookError, chapter_from_name,
                                         find_exercise_source, infer_chapter, load_cells)
from mlpcore.exercises._registry import Exercise, chapter_exercises, chapter_names
from mlpcore.exercises._runner import ExerciseResult
from mlpcore.exercises._sandbox import DEFAULT_TIMEOUT, run_in_child

SUFFIXES = (".ipynb", ".py")


@dataclass
class Submission:
    """One student's file. ``error`` is set when it cannot be graded at all (no
    chapter) and ``read_error`` when its cells cannot be read."""
    student: str
    path: Path
    chapter: Optional[str] = None
    cells: Optional[list] = None
    read_error: Optional[str] = None
    error: Optional[str] = None
    results: dict = field(default_factory=dict)  # exercise id -> ExerciseResult

    @property
    def exercises(self) -> list[Exercise]:
        return chapter_exercises(self.chapter) if self.chapter else []

    @property
    def points(self) -> int:
        return sum(result.points for result in self.results.values())

    @property
    def max_points(self) -> int:
        return sum(exercise.max_points for exercise in self.exercises)

    def to_dict(self) -> dict:
        max_points = self.max_points
        return {
            "student": self.student, "file": str(self.path), "chapter": self.chapter,
            "error": self.error or self.read_error,
            "points": self.points, "max_points": max_points,
            "percent": round(100.0 * self.points / max_points, 1) if max_points else 0.0,
            "exercises": [
                {"id": result.exercise, "status": result.status, "points": result.points,
                 "max_points": result.max_points, "messages": result.lines(),
                 "cases": [case.__dict__ for case in result.cases]}
                for result in (self.results.get(exercise.id) for exercise in self.exercises)
                if result is not None],
        }


def discover(paths: Iterable[str]) -> list[tuple[str, Path]]:
    """(student, file) for each submission. A folder contributes every notebook in it
    and its subfolders (checkpoints skipped); a file may also be a .py module. The
    student is the file's path below the folder without its suffix ('alice'); names
    that would clash are made unique (see _unique_names)."""
    found: list[tuple[str, Path]] = []
    for raw in paths:
        if not str(raw).strip():
            raise ValueError("an empty submissions path; name a notebook or a folder")
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.ipynb")
                           if ".ipynb_checkpoints" not in p.parts and p.is_file())
            found += [(p.relative_to(path).with_suffix("").as_posix(), p) for p in files]
        elif path.is_file():
            if path.suffix not in SUFFIXES:
                raise ValueError(f"{path}: a submission must be a .ipynb notebook or a .py "
                                 f"module, or a folder of notebooks")
            found.append((path.stem, path))
        else:
            raise ValueError(f"{path}: no such file or folder")
    if not found:
        raise ValueError(f"no notebooks found in {', '.join(map(str, paths))}")
    return _unique_names(found)


def _unique_names(found: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """Same name twice (ref/00_x.ipynb and student/00_x.ipynb): prefix the folder,
    then the suffix, then a number, until every student name is unique."""
    for rename in (lambda s, p: f"{p.parent.name}/{s}", lambda s, p: f"{s}{p.suffix}"):
        names = [student for student, _ in found]
        found = [(rename(student, path) if names.count(student) > 1 else student, path)
                 for student, path in found]
    seen: dict[str, int] = {}
    unique = []
    for student, path in found:
        seen[student] = seen.get(student, 0) + 1
        unique.append((student if seen[student] == 1 else f"{student}#{seen[student]}", path))
    return unique


def plan(paths: Iterable[str], chapter: Optional[str] = None) -> list[Submission]:
    """Read every submission and decide its chapter (see the module docstring)."""
    if chapter is not None and chapter not in chapter_names():
        raise ValueError(f"unknown chapter {chapter!r}; chapters with exercises: "
                         f"{', '.join(chapter_names())}")
    submissions = []
    for student, path in discover(paths):
        submission = Submission(student, path, chapter)
        try:
            submission.cells = load_cells(path)
        except NotebookError as exc:
            submission.read_error = str(exc)
        if submission.chapter is None:
            submission.chapter = (infer_chapter(submission.cells, path.stem)
                                  if submission.cells is not None else chapter_from_name(path.stem))
        submissions.append(submission)
    known = {s.chapter for s in submissions if s.chapter is not None}
    for submission in submissions:
        if submission.chapter is None and submission.cells is None and len(known) == 1:
            submission.chapter = next(iter(known))
        if submission.chapter is None:
            submission.error = (submission.read_error or "found no exercise of any chapter in it")
            submission.error += "; pass --chapter chNN to grade it as that chapter"
    return submissions


def grade_exercise(submission: Submission, exercise: Exercise,
                   timeout: float = DEFAULT_TIMEOUT) -> ExerciseResult:
    """Grade one exercise of one submission (in a child process when there is code)."""
    if submission.read_error:
        return ExerciseResult.error(exercise, submission.read_error)
    source = find_exercise_source(submission.cells or [], exercise)
    if source is None:
        return ExerciseResult.error(
            exercise, f"exercise cell not found: no code cell defines `{exercise.function}` "
                      f"(keep `def {exercise.call_signature}:` and the cell's `exercise` tag)")
    return run_in_child(exercise, source, timeout)


def grade_all(submissions: list[Submission], timeout: float = DEFAULT_TIMEOUT,
              jobs: Optional[int] = None) -> dict[tuple[str, str], Future]:
    """Start grading every (student, exercise) on a pool of ``jobs`` threads, each
    driving one child process; returns the futures keyed by (student, exercise id)."""
    pool = ThreadPoolExecutor(max_workers=jobs or default_jobs())
    futures = {}
    for submission in submissions:
        for exercise in submission.exercises:
            future = pool.submit(grade_exercise, submission, exercise, timeout)
            future.add_done_callback(_store(submission, exercise))
            futures[(submission.student, exercise.id)] = future
    pool.shutdown(wait=False)
    return futures


def default_jobs() -> int:
    import os
    return max(1, min(8, os.cpu_count() or 1))


def _store(submission: Submission, exercise: Exercise):
    def callback(future: Future) -> None:
        try:
            submission.results[exercise.id] = future.result()
        except Exception as exc:  # a bug in the grader, reported, never fatal
            submission.results[exercise.id] = ExerciseResult.error(
                exercise, f"the grader failed on this exercise: {type(exc).__name__}: {exc}")
    return callback


def score_table(submissions: list[Submission]) -> list[str]:
    """Lines of a plain-text table: one row per student, one column per exercise,
    grouped by chapter, with a total."""
    lines: list[str] = []
    for chapter in sorted({s.chapter for s in submissions if s.chapter}):
        group = [s for s in submissions if s.chapter == chapter]
        exercises = chapter_exercises(chapter)
        header = ["student"] + [exercise.function for exercise in exercises] + ["total"]
        rows = [header]
        for submission in group:
            cells = [submission.student]
            for exercise in exercises:
                result = submission.results.get(exercise.id)
                if result is None:
                    cells.append("not graded")
                    continue
                note = {"not_attempted": " not attempted", "error": " error"}.get(result.status, "")
                cells.append(f"{result.points}/{result.max_points}{note}")
            percent = 100.0 * submission.points / submission.max_points if submission.max_points else 0.0
            cells.append(f"{submission.points}/{submission.max_points} ({percent:.0f} %)")
            rows.append(cells)
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines.append(f"chapter {chapter} (1 point per test case passed)")
        lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                  for row in rows]
        lines.append("")
    for submission in submissions:
        if submission.error:
            lines.append(f"{submission.student}: NOT GRADED: {submission.error}")
    return lines


def write_report(submissions: list[Submission], path: str, timeout: float) -> None:
    report = {
        "timeout_seconds": timeout,
        "points": sum(s.points for s in submissions),
        "max_points": sum(s.max_points for s in submissions),
        "submissions": [s.to_dict() for s in submissions],
    }
    Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                          encoding="utf-8")
