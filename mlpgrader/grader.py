"""Grade submissions: find them, decide their chapter, grade each exercise in its own
sandbox, and summarise as a score table and a JSON report; split a class into shards
and merge the shards' reports.

The pytest plugin in grading/ and ``python -m mlpgrader`` are thin layers over this
module (one pytest item per student × exercise).

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
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from mlpcore.exercises import Exercise, ExerciseResult, chapter_exercises, chapter_names
from mlpgrader import sandbox
from mlpgrader.grade_cell import DEFAULT_TIMEOUT, GraderError, grade_source
from mlpgrader.notebook import (NotebookError, find_exercise_source, infer_chapter,
                                load_cells, notebook_chapter)
from mlpgrader.text import clean, clean_path

SUFFIXES = (".ipynb", ".py")
NAME_WIDTH = 40
REPORT_VERSION = 3
PUBLIC_CASES = "public"


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
    # The chapter of the notebook's own exercises when it differs from the class's
    # (--chapter): another chapter's notebook handed in, flagged by name.
    other_chapter: Optional[str] = None

    @property
    def exercises(self) -> list[Exercise]:
        return chapter_exercises(self.chapter) if self.chapter else []

    @property
    def points(self) -> int:
        return sum(result.points for result in self.results.values())

    @property
    def max_points(self) -> int:
        """Each exercise's maximum as graded (held-out cases may number differently
        from the book's), or as registered if it has no result yet."""
        return sum(self.results[e.id].max_points if e.id in self.results else e.max_points
                   for e in self.exercises)

    def to_dict(self) -> dict:
        """The report's entry; a failure while summarising one exercise costs that
        exercise only (it is reported as an error with 0 points)."""
        for exercise in self.exercises:
            result = self.results.get(exercise.id)
            if result is not None:
                try:
                    _exercise_entry(result)
                except Exception as exc:
                    self.results[exercise.id] = ExerciseResult.error(
                        exercise, f"the grader could not summarise this exercise "
                                  f"({type(exc).__name__})")
        return self._entry()

    def _entry(self) -> dict:
        max_points = self.max_points
        return {
            "student": self.student, "file": clean_path(self.path), "chapter": self.chapter,
            "error": clean(self.error or self.read_error, 600) if (self.error or self.read_error) else None,
            "points": self.points, "max_points": max_points,
            "percent": round(100.0 * self.points / max_points, 1) if max_points else 0.0,
            "note": other_chapter_note(self.other_chapter, self.chapter),
            "exercises": [_exercise_entry(result)
                          for result in (self.results.get(e.id) for e in self.exercises)
                          if result is not None],
        }


def _exercise_entry(result: ExerciseResult) -> dict:
    return {"id": result.exercise, "status": result.status, "points": int(result.points),
            "max_points": int(result.max_points),
            "messages": [clean(line, 2000) for line in result.lines()],
            "cases": [{key: clean(value, 2000) if isinstance(value, str) else value
                       for key, value in case.__dict__.items()} for case in result.cases]}


# ---------------------------------------------------------------- finding submissions
def discover(paths: Iterable[str]) -> list[tuple[str, Path]]:
    """(student, file) for each submission. A folder contributes every notebook in it
    and its subfolders (checkpoints skipped, symbolic links to folders not followed;
    a link to a file is listed, and refused when read); a file may also be a .py
    module. The student is the file's path below the folder without its suffix,
    printable ('alice', 'group/bob'); clashing names are made unique."""
    found: list[tuple[str, Path]] = []
    paths = list(paths)
    for raw in paths:
        if not str(raw).strip():
            raise ValueError("an empty submissions path; name a notebook or a folder")
        path = Path(raw)
        if path.is_dir() and not path.is_symlink():
            found += [(clean_path(p.relative_to(path).with_suffix("").as_posix()), p)
                      for p in _notebooks_in(path)]
        elif path.is_symlink() or path.is_file() or path.exists():
            if path.suffix not in SUFFIXES:
                raise ValueError(f"{clean_path(path)}: a submission must be a .ipynb notebook "
                                 f"or a .py module, or a folder of notebooks")
            found.append((clean_path(path.stem), path))
        else:
            raise ValueError(f"{clean_path(path)}: no such file or folder")
    if not found:
        raise ValueError(f"no notebooks found in {', '.join(clean_path(p) for p in paths)}")
    return _unique_names(found)


def _notebooks_in(folder: Path) -> list[Path]:
    files = []
    for root, dirs, names in os.walk(folder):  # never follows links to folders
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")
        if ".ipynb_checkpoints" not in Path(root).parts:
            files += [Path(root) / name for name in names if name.endswith(".ipynb")]
    return sorted(files)


def _unique_names(found: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """Same name twice (ref/00_x.ipynb and student/00_x.ipynb): prefix the folder,
    then the suffix, then a number, until every student name is unique."""
    for rename in (lambda s, p: f"{clean_path(p.parent.name)}/{s}",
                   lambda s, p: f"{s}{clean_path(p.suffix)}"):
        names = [student for student, _ in found]
        found = [(rename(student, path) if names.count(student) > 1 else student, path)
                 for student, path in found]
    seen: dict[str, int] = {}
    unique = []
    for student, path in found:
        seen[student] = seen.get(student, 0) + 1
        unique.append((student if seen[student] == 1 else f"{student}#{seen[student]}", path))
    return unique


def parse_shard(text: Optional[str]) -> tuple[int, int]:
    """'2/8' -> (2, 8); None -> (1, 1). ValueError with the expected form otherwise."""
    if not text:
        return 1, 1
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected K/N, e.g. --shard 2/8") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard {text!r}: K must be between 1 and N")
    return index, count


def plan(paths: Iterable[str], chapter: Optional[str] = None,
         shard: tuple[int, int] = (1, 1)) -> list[Submission]:
    """Read the submissions of this shard and decide their chapter (module
    docstring). Shard K of N takes every N-th submission in order of student name,
    starting at the K-th: a deterministic slice, the same on every machine."""
    if chapter is not None and chapter not in chapter_names():
        raise ValueError(f"unknown chapter {chapter!r}; chapters with exercises: "
                         f"{', '.join(chapter_names())}")
    index, count = shard
    everyone = sorted(discover(paths))
    submissions = []
    for student, path in everyone[index - 1::count]:
        submission = Submission(student, path, chapter)
        try:
            submission.cells = load_cells(path)
        except NotebookError as exc:
            submission.read_error = clean(str(exc), 400)
        except Exception as exc:  # a bug of the reader: this student only
            submission.read_error = clean(f"could not read notebook ({type(exc).__name__}: "
                                          f"{exc})", 400)
        if chapter is not None and submission.cells is not None:
            own = infer_chapter(submission.cells)  # its content only, not its file name
            submission.other_chapter = own if own not in (None, chapter) else None
        submission.chapter = notebook_chapter(submission.cells, clean_path(path.stem), chapter)
        submissions.append(submission)
    known = {s.chapter for s in submissions if s.chapter is not None}
    for submission in submissions:
        if submission.chapter is None and submission.cells is None and len(known) == 1:
            submission.chapter = next(iter(known))
        if submission.chapter is None:
            submission.error = (submission.read_error or "found no exercise of any chapter in it")
            submission.error += "; pass --chapter chNN to grade it as that chapter"
    return submissions


# ---------------------------------------------------------------------------- grading
def sandbox_mode(no_sandbox: bool) -> str:
    """'bwrap', or 'none' when the instructor asked for --no-sandbox; refuses (with the
    reason) when no sandbox can start and --no-sandbox was not given."""
    if no_sandbox:
        return "none"
    try:
        sandbox.check_sandbox()
    except sandbox.SandboxUnavailable as exc:
        raise sandbox.SandboxUnavailable(
            f"refusing to grade: {exc}. Grading runs the students' code; without a "
            f"sandbox it could read and change this machine's files. To grade anyway "
            f"(only code you trust, or inside a throwaway container), pass --no-sandbox."
        ) from None
    return "bwrap"


def grade_exercise(submission: Submission, exercise: Exercise, mode: str = "bwrap",
                   timeout: float = DEFAULT_TIMEOUT,
                   cases_seed: Optional[int] = None) -> ExerciseResult:
    """Grade one exercise of one submission (in the sandbox when there is code), with
    the held-out cases of ``cases_seed`` if given. Never raises: whatever goes wrong
    while reading, running, judging or summarising costs this exercise only."""
    try:
        if submission.read_error:
            return ExerciseResult.error(exercise, submission.read_error)
        source = find_exercise_source(submission.cells or [], exercise)
        if source is None and submission.other_chapter:
            return ExerciseResult.error(
                exercise, f"{other_chapter_note(submission.other_chapter, submission.chapter)}: "
                          f"no code cell defines `{exercise.function}`")
        if source is None:
            return ExerciseResult.error(
                exercise, f"exercise cell not found: no code cell defines "
                          f"`{exercise.function}` (keep `def {exercise.call_signature}:` "
                          f"and the cell's `exercise` tag)")
        return grade_source(exercise, source, mode, timeout, cases_seed)
    except GraderError as exc:
        return ExerciseResult.error(exercise, clean(str(exc), 400))
    except Exception as exc:  # a bug in the grader, reported, never fatal
        return ExerciseResult.error(
            exercise, f"the grader failed on this exercise: {type(exc).__name__}: "
                      f"{clean(str(exc), 200)}")


def grade_all(submissions: list[Submission], timeout: float = DEFAULT_TIMEOUT,
              jobs: Optional[int] = None, mode: str = "bwrap",
              cases_seed: Optional[int] = None) -> dict[tuple[str, str], Future]:
    """Start grading every (student, exercise) on a pool of ``jobs`` threads, each
    driving one sandbox; returns the futures keyed by (student, exercise id). A
    future's result is always an ExerciseResult (``grade_exercise`` never raises)."""
    pool = ThreadPoolExecutor(max_workers=jobs or default_jobs())
    futures = {}
    for submission in submissions:
        for exercise in submission.exercises:
            future = pool.submit(grade_exercise, submission, exercise, mode, timeout,
                                 cases_seed)
            future.add_done_callback(_store(submission, exercise))
            futures[(submission.student, exercise.id)] = future
    pool.shutdown(wait=False)
    return futures


def default_jobs() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _store(submission: Submission, exercise: Exercise):
    def callback(future: Future) -> None:
        try:
            submission.results[exercise.id] = future.result()
        except BaseException as exc:  # cancelled, or a bug: this exercise only
            submission.results[exercise.id] = ExerciseResult.error(
                exercise, f"the grader failed on this exercise: {type(exc).__name__}")
    return callback


# ------------------------------------------------------------------ table and report
def score_table(submissions: list[Submission], mode: str = "bwrap") -> list[str]:
    """Lines of a plain-text table (one row per student, one column per exercise,
    grouped by chapter, with a total); every name is escaped and truncated."""
    return table_lines([s.to_dict() for s in submissions], mode)


def table_lines(rows: list[dict], mode: str = "bwrap") -> list[str]:
    """The score table from report entries (so a merged report prints the same)."""
    lines: list[str] = []
    if mode != "bwrap":
        lines += [f"WARNING: {sandbox.UNSANDBOXED_WARNING}", ""]
    for chapter in sorted({row["chapter"] for row in rows if row["chapter"]}):
        exercises = chapter_exercises(chapter)
        table = [["student"] + [exercise.function for exercise in exercises] + ["total"]]
        for row in (r for r in rows if r["chapter"] == chapter):
            graded = {entry["id"]: entry for entry in row["exercises"]}
            cells = [_cell_text(row["student"])]
            for exercise in exercises:
                entry = graded.get(exercise.id)
                note = {"not_attempted": " not attempted", "error": " error"}.get(
                    entry["status"], "") if entry else ""
                cells.append(f"{entry['points']}/{entry['max_points']}{note}" if entry
                             else "not graded")
            cells.append(f"{row['points']}/{row['max_points']} ({row['percent']:.0f} %)"
                         + (f"  <- {row['note']}" if row.get("note") else ""))
            table.append(cells)
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        lines.append(f"chapter {chapter} (1 point per test case passed)")
        lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                  for line in table]
        lines.append("")
    for row in rows:
        if row["error"] and not row["chapter"]:
            lines.append(f"{_cell_text(row['student'])}: NOT GRADED: {clean(row['error'], 300)}")
    lines += _mixed_chapters_note(rows)
    lines.append(summary_line(rows))
    return lines


def summary_line(rows: list[dict]) -> str:
    full = sum(1 for row in rows if exit_status([row]) == 0)
    return (f"{len(rows)} submission{'s' if len(rows) != 1 else ''} graded: {full} with full "
            f"points, {len(rows) - full} with less or not graded")


def chapter_title(chapter: str) -> str:
    """'ch01' -> 'chapter 1'."""
    return f"chapter {int(chapter[2:])}" if chapter[2:].isdigit() else chapter


def other_chapter_note(own: Optional[str], graded_as: Optional[str]) -> Optional[str]:
    """The flag for a notebook of another chapter than the class's."""
    if not own or own == graded_as:
        return None
    return (f"this is {chapter_title(own)}'s notebook ({own}), not "
            f"{chapter_title(graded_as)}'s" if graded_as else f"this is {chapter_title(own)}'s notebook")


def _mixed_chapters_note(rows: list[dict]) -> list[str]:
    """Without --chapter every notebook is graded as its own chapter; when a run holds
    several, say so (one class handing in the wrong chapter looks just like this)."""
    counts: dict[str, list[str]] = {}
    for row in rows:
        if row["chapter"]:
            counts.setdefault(row["chapter"], []).append(row["student"])
    if len(counts) < 2:
        return []
    parts = [f"{chapter}: {len(names)}" + (f" ({', '.join(_cell_text(n) for n in names)})"
                                           if len(names) <= 3 else "")
             for chapter, names in sorted(counts.items(), key=lambda item: -len(item[1]))]
    return [f"NOTE: these notebooks are of {len(counts)} chapters ({'; '.join(parts)}), each "
            f"graded as its own. If they are one class's, grade again with --chapter chNN "
            f"(make grade CHAPTER=chNN): another chapter's notebook is then flagged and gets "
            f"no points for the class's exercises.", ""]


def exit_status(rows: list[dict]) -> int:
    """The status every grading entry point ends with (docs/grading.md): 0 when every
    submission has full points, 1 when the class was graded but some submission has
    less (or could not be graded). Refusing to grade is 4, decided by the caller."""
    perfect = all(row["max_points"] and row["points"] == row["max_points"] and not row["error"]
                  for row in rows)  # as pytest: every exercise of every submission passes
    return 0 if rows and perfect else 1


def _cell_text(name: str) -> str:
    return clean(name, NAME_WIDTH)


def report_dict(submissions: list[Submission], timeout: float, mode: str = "bwrap",
                shard: tuple[int, int] = (1, 1), cases: str = PUBLIC_CASES) -> dict:
    """The JSON report. ``cases`` is ``"public"`` (the book's cases) or the
    fingerprint of the instructor's private cases seed (``seed_fingerprint``), which
    lets the grading be re-run exactly without revealing the seed."""
    rows = [s.to_dict() for s in submissions]
    return {"version": REPORT_VERSION, "complete": True,
            "grader": {"sandbox": mode, "warning": None if mode == "bwrap" else
                       sandbox.UNSANDBOXED_WARNING, "timeout_seconds": timeout,
                       "shards": [f"{shard[0]}/{shard[1]}"], "cases": cases},
            "points": sum(row["points"] for row in rows),
            "max_points": sum(row["max_points"] for row in rows),
            "submissions": rows}


def write_report(submissions: list[Submission], path: str, timeout: float,
                 mode: str = "bwrap", shard: tuple[int, int] = (1, 1),
                 cases: str = PUBLIC_CASES) -> None:
    write_json_atomically(report_dict(submissions, timeout, mode, shard, cases), path)


def mark_report_in_progress(path: str) -> None:
    """Called before anything else of a run: replace whatever report is at ``path``
    by a marker that says a grading started and has not finished, so an old report
    never looks current if this run stops early. ``merge`` refuses the marker."""
    write_json_atomically({"version": REPORT_VERSION, "complete": False,
                           "note": "grading started and has not finished (or was "
                                   "interrupted): this is not a grading report"}, path)


def write_json_atomically(data: dict, path: str) -> None:
    """Write JSON to a temporary file beside ``path``, then rename it over ``path``:
    a reader sees the old report or the new one, never half of one."""
    target = Path(path)
    text = json.dumps(data, indent=1, ensure_ascii=False, default=_plain) + "\n"
    payload = text.encode("utf-8", "backslashreplace")
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                         dir=target.parent if str(target.parent) else ".")
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp makes 0600; a report is shared
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (Python has no getter: set it, then put it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _plain(value):
    """A value json cannot write (a NumPy scalar that slipped into a result): its
    Python number, or its text, rather than no report at all."""
    item = getattr(value, "item", None)
    try:
        return item() if callable(item) else str(value)
    except Exception:
        return repr(value)


def merge_reports(paths: list[str]) -> dict:
    """One report from the shard reports of one class: every shard 1..N exactly once,
    the same sandbox mode and time limit, no student twice. ValueError otherwise."""
    reports = []
    for path in paths:
        try:
            reports.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{clean_path(path)}: not a grading report ({exc})") from None
        if reports[-1].get("complete") is False:
            raise ValueError(f"{clean_path(path)}: that grading did not finish")
    seeds = {report["grader"].get("cases", PUBLIC_CASES) for report in reports}
    if len(seeds) != 1:
        raise ValueError(f"the reports were graded with different cases: "
                         f"{', '.join(sorted(seeds))}")
    shards = [shard for report in reports for shard in report["grader"]["shards"]]
    counts = {int(shard.split("/")[1]) for shard in shards}
    if len(counts) != 1:
        raise ValueError(f"the reports come from different shardings: {', '.join(shards)}")
    (count,) = counts
    expected = {f"{k}/{count}" for k in range(1, count + 1)}
    if sorted(shards) != sorted(expected):
        missing = sorted(expected - set(shards))
        raise ValueError(f"need each of the {count} shards exactly once; got "
                         f"{', '.join(sorted(shards))}"
                         + (f" (missing {', '.join(missing)})" if missing else ""))
    modes = {report["grader"]["sandbox"] for report in reports}
    rows = sorted((row for report in reports for row in report["submissions"]),
                  key=lambda row: row["student"])
    students = [row["student"] for row in rows]
    if len(set(students)) != len(students):
        raise ValueError("a student appears in two shards: were they run on different "
                         "folders?")
    mode = "bwrap" if modes == {"bwrap"} else "none"
    return {"version": REPORT_VERSION, "complete": True,
            "grader": {"sandbox": mode, "warning": None if mode == "bwrap" else
                       sandbox.UNSANDBOXED_WARNING,
                       "timeout_seconds": max(r["grader"]["timeout_seconds"] for r in reports),
                       "shards": sorted(shards, key=lambda s: int(s.split("/")[0])),
                       "cases": seeds.pop()},
            "points": sum(row["points"] for row in rows),
            "max_points": sum(row["max_points"] for row in rows),
            "submissions": rows}
