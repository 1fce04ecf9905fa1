"""Turn a grading report into what learning platforms take:

    mlpgrader export report.json --csv grades.csv --gradescope DIR --feedback DIR

- ``--csv``: one row per student: the student's name, the points of every exercise,
  the total, the maximum and the percentage (plain UTF-8 CSV with one header row,
  the shape the gradebook importers of Canvas and Moodle read).
- ``--gradescope DIR``: ``DIR/<student>/results.json`` per student, in the format of
  Gradescope's autograder (``score``, and ``tests`` with ``name``, ``score``,
  ``max_score``, ``status``, ``output``), one test per exercise.
- ``--feedback DIR``: ``DIR/<student>.txt`` per student: every message and hint of the
  grading, readable without any tool.

The report is the only input (a merged report of shards works the same), so an
export never re-runs a student's code. Names in the report are already escaped
(mlpgrader.text.clean); file names are further reduced to letters, digits and
``._-`` (``group1/bob`` → ``group1_bob``), made unique.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Iterable

from mlpgrader.grader import chapter_title

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    pass


def load_report(path: str) -> dict:
    """The report at ``path``; ExportError (with the path) if it is not one."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path}: cannot read a grading report ({exc})") from None
    rows = report.get("submissions") if isinstance(report, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) and "student" in row
                                             for row in rows):
        raise ExportError(f"{path}: not a grading report (no list of submissions); "
                          f"make one with `mlpgrader grade ... --report {path}`")
    return report


def exercise_columns(rows: list[dict]) -> list[tuple[str, int]]:
    """(exercise id, max points) of every exercise in the report, by chapter, in the
    order the grader lists them."""
    seen: dict[str, int] = {}
    for row in sorted(rows, key=lambda r: r.get("chapter") or ""):
        for entry in row.get("exercises", []):
            seen.setdefault(entry["id"], entry["max_points"])
    return sorted(seen.items(), key=lambda item: item[0].split(".")[0])


def file_names(students: Iterable[str]) -> dict[str, str]:
    """student -> a file name made of letters, digits and ``._-`` only, unique even on
    a case-insensitive file system (``Ada`` and ``ada`` get ``Ada`` and ``ada-2``)."""
    names, taken = {}, set()
    for student in students:
        base = _UNSAFE.sub("_", student).strip("._") or "student"
        name, number = base, 1
        while name.lower() in taken:
            number += 1
            name = f"{base}-{number}"
        taken.add(name.lower())
        names[student] = name
    return names


def _cell(text: str) -> str:
    """A name a spreadsheet will not run as a formula (OWASP's CSV-injection advice)."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def write_csv(report: dict, path: str, id_header: str = "Student") -> int:
    """One row per student (module docstring); returns the number of rows. An
    exercise of another chapter than the student's is left empty."""
    rows = report["submissions"]
    columns = exercise_columns(rows)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow([id_header] + [exercise for exercise, _ in columns]
                        + ["Total", "Maximum", "Percent"])
        for row in rows:
            points = {entry["id"]: entry["points"] for entry in row.get("exercises", [])}
            writer.writerow([_cell(row["student"])]
                            + [points.get(exercise, "") for exercise, _ in columns]
                            + [row["points"], row["max_points"], f"{row['percent']:.1f}"])
    return len(rows)


def _summary(row: dict) -> str:
    chapter = row.get("chapter")
    where = f"{chapter_title(chapter)} ({chapter})" if chapter else "no chapter"
    return f"{row['student']}: {where}, {row['points']}/{row['max_points']} points ({row['percent']:.0f} %)"


def _notes(row: dict, report: dict) -> list[str]:
    notes = []
    if row.get("note"):
        notes.append(f"NOTE: {row['note']}.")
    if row.get("error"):
        notes.append(f"{'PROBLEM' if row.get('exercises') else 'NOT GRADED'}: {row['error']}")
    warning = (report.get("grader") or {}).get("warning")
    if warning:
        notes.append(f"WARNING: {warning}")
    return notes


def exercise_lines(entry: dict, brief: bool = False) -> list[str]:
    """What the grader printed for one exercise; ``brief``: its first line (the
    points) and each distinct hint, without the cases' expected and received values
    (which, for held-out cases, are a table of answers students should not keep)."""
    messages = entry.get("messages") or [f"{entry['id']}: {entry['points']}/"
                                         f"{entry['max_points']} points"]
    hints = [case["hint"] for case in entry.get("cases", []) if case.get("hint")]
    if brief:
        return ([messages[0].replace(", see below", "")]
                + [f"  hint: {hint}" for hint in dict.fromkeys(hints)])
    missing = [hint for hint in hints if not any(hint in m for m in messages)]
    return messages + [f"  hint: {hint}" for hint in dict.fromkeys(missing)]


def gradescope_results(row: dict, report: dict, brief: bool = False) -> dict:
    """One student's results.json in Gradescope's autograder format."""
    tests = [{"name": entry["id"], "score": entry["points"], "max_score": entry["max_points"],
              "status": "passed" if entry["points"] == entry["max_points"] else "failed",
              "output": "\n".join(exercise_lines(entry, brief)),
              "visibility": "visible"}
             for entry in row.get("exercises", [])]
    return {"score": row["points"],
            "output": "\n".join([_summary(row)] + _notes(row, report)),
            "tests": tests,
            "extra_data": {"student": row["student"], "chapter": row.get("chapter"),
                           "max_points": row["max_points"]}}


def write_gradescope(report: dict, folder: str, brief: bool = False) -> int:
    rows = report["submissions"]
    names = file_names(row["student"] for row in rows)
    for row in rows:
        target = Path(folder) / names[row["student"]]
        target.mkdir(parents=True, exist_ok=True)
        text = json.dumps(gradescope_results(row, report, brief), indent=1, ensure_ascii=False)
        (target / "results.json").write_text(text + "\n", encoding="utf-8")
    return len(rows)


def feedback_text(row: dict, report: dict, brief: bool = False) -> str:
    """Everything the grading said about one student, as plain text."""
    lines = [_summary(row), ""] + _notes(row, report)
    if lines[-1] != "":
        lines.append("")
    for entry in row.get("exercises", []):
        lines += exercise_lines(entry, brief)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_feedback(report: dict, folder: str, brief: bool = False) -> int:
    rows = report["submissions"]
    names = file_names(row["student"] for row in rows)
    Path(folder).mkdir(parents=True, exist_ok=True)
    for row in rows:
        (Path(folder) / f"{names[row['student']]}.txt").write_text(
            feedback_text(row, report, brief), encoding="utf-8")
    return len(rows)


def main(report_path: str, csv_path: str | None = None, gradescope: str | None = None,
         feedback: str | None = None, id_header: str = "Student", brief: bool = False) -> int:
    if not (csv_path or gradescope or feedback):
        raise ExportError("nothing to export: give --csv FILE, --gradescope DIR and/or "
                          "--feedback DIR")
    report = load_report(report_path)
    for folder in (gradescope, feedback):
        if folder and Path(folder).exists() and not Path(folder).is_dir():
            raise ExportError(f"{folder}: exists and is not a folder")
    if csv_path:
        print(f"{write_csv(report, csv_path, id_header)} students written to {csv_path}")
    if gradescope:
        print(f"{write_gradescope(report, gradescope, brief)} Gradescope results.json written "
              f"under {gradescope}/")
    if feedback:
        print(f"{write_feedback(report, feedback, brief)} feedback files written to {feedback}/")
    return 0
