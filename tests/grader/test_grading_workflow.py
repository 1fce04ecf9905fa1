"""The instructor's workflow end to end: the `mlpgrader` command from any folder, exit
statuses shared by every entry point (and `make grade` without "Error 1"), another
chapter's notebook flagged by name, a report the instructor's group can read, and the
exports (CSV, Gradescope, feedback) validated against the report they come from.

One class of chapter 0 is graded once per module (in the sandbox): ada (the book's
solutions), cleo (one exercise averaged over the batch instead of summed), eve (chapter
1's notebook handed in) and dan (not JSON). Only ada and cleo cost sandbox runs.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlpgrader import export, grader
from tests._support import ROOT, edition_path
from tests.grader._support import (ch00_exercises, chapter0_notebook, read, sandbox_mode,
                                   with_cell, write)

MAX = sum(exercise.max_points for exercise in ch00_exercises())
CHAPTER1 = next(ROOT.glob("book/01_*.ipynb"))
AVERAGED = '''def scale_shift_backward(x, gamma, grad_out):
    return grad_out * gamma, (grad_out * x).mean(axis=0), grad_out.mean(axis=0)
'''
BIN = Path(sys.executable).parent


def mlpgrader(*args: str, cwd: Path, umask: int | None = None) -> subprocess.CompletedProcess:
    """The installed console script, run from ``cwd`` without the repository on the path."""
    script = shutil.which("mlpgrader", path=str(BIN))
    assert script, f"no mlpgrader console script in {BIN}: run `make install` (pip install -e .)"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([script, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, preexec_fn=(lambda: os.umask(umask)) if umask else None)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(folder, report path, completed process) of one grading run of the class."""
    sandbox_mode()
    base = tmp_path_factory.mktemp("workflow")
    folder = base / "submissions"
    folder.mkdir()
    reference = read(chapter0_notebook())
    write(reference, folder / "ada.ipynb")
    write(with_cell(reference, "scale_shift_backward", AVERAGED), folder / "cleo.ipynb")
    shutil.copy(CHAPTER1, folder / "eve.ipynb")
    (folder / "dan.ipynb").write_text('{"cells": [', encoding="utf-8")
    report = base / "report.json"
    run = mlpgrader("grade", str(folder), "--chapter", "ch00", "--report", str(report),
                    cwd=base, umask=0o027)
    return folder, report, run


def rows_by_student(report: Path) -> dict:
    return {row["student"]: row for row in json.loads(report.read_text("utf-8"))["submissions"]}


# ------------------------------------------------------------------ command and status
def test_console_script_and_module_run_from_any_folder(tmp_path):
    helped = mlpgrader("--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for command in ("grade", "merge", "stamp", "student", "export", "similar", "cost"):
        assert command in helped.stdout
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    module = subprocess.run([sys.executable, "-m", "mlpgrader", "--help"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert module.returncode == 0 and "similar" in module.stdout, module.stderr
    bad = mlpgrader("grade", "--no-such-option", str(tmp_path), cwd=tmp_path)
    assert bad.returncode == 4, (bad.returncode, bad.stderr)
    missing = mlpgrader("grade", str(tmp_path / "nowhere"), "--no-sandbox", cwd=tmp_path)
    assert missing.returncode == 4 and "no such file or folder" in missing.stderr


def test_grading_an_imperfect_class_exits_1_with_the_table(graded):
    _, report, run = graded
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "4 submissions graded: 1 with full points, 3 with less or not graded" in run.stdout
    rows = rows_by_student(report)
    assert rows["ada"]["points"] == MAX
    cleo = {entry["id"]: entry for entry in rows["cleo"]["exercises"]}
    assert cleo["ch00.scale_shift_backward"]["points"] < cleo["ch00.scale_shift_backward"]["max_points"]
    assert rows["cleo"]["points"] == MAX - (cleo["ch00.scale_shift_backward"]["max_points"]
                                            - cleo["ch00.scale_shift_backward"]["points"])
    assert rows["dan"]["points"] == 0 and "not valid JSON" in rows["dan"]["error"]


def test_a_perfect_class_exits_0(tmp_path):
    sandbox_mode()
    folder = tmp_path / "class"
    folder.mkdir()
    write(read(chapter0_notebook()), folder / "ada.ipynb")
    run = mlpgrader("grade", str(folder), cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "1 submission graded: 1 with full points, 0 with less" in run.stdout


def test_another_chapters_notebook_is_flagged_by_name(graded):
    _, report, run = graded
    eve = rows_by_student(report)["eve"]
    assert eve["note"] == "this is chapter 1's notebook (ch01), not chapter 0's"
    assert eve["chapter"] == "ch00" and eve["points"] == 0
    assert all(entry["messages"][0].count("this is chapter 1's notebook") == 1
               for entry in eve["exercises"])
    row = next(line for line in run.stdout.splitlines() if line.startswith("eve "))
    assert "this is chapter 1's notebook (ch01)" in row
    assert rows_by_student(report)["ada"]["note"] is None


def test_several_chapters_without_chapter_option_are_pointed_out():
    rows = [{"student": name, "chapter": chapter, "points": 1, "max_points": 1, "percent": 100.0,
             "error": None, "note": None, "exercises": []}
            for name, chapter in (("ada", "ch02"), ("bob", "ch02"), ("eve", "ch01"))]
    text = "\n".join(grader.table_lines(rows))
    assert "of 2 chapters (ch02: 2 (ada, bob); ch01: 1 (eve))" in text
    assert "--chapter" in text and "CHAPTER=" in text
    assert "2 chapters" not in "\n".join(grader.table_lines(rows[:2]))


def test_report_is_readable_by_the_group(graded):
    _, report, _ = graded
    mode = stat.S_IMODE(report.stat().st_mode)
    assert mode == 0o640, oct(mode)  # 0666 less the umask 027 the grader ran with


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_grade_takes_chapter_and_ends_without_error(graded, tmp_path):
    folder, _, _ = graded
    report = tmp_path / "make-report.json"
    make = ["make", "-C", str(ROOT), "-o", ".venv/.installed", f"PY={sys.executable}", "grade"]
    run = subprocess.run([*make, f"SUBMISSIONS={folder}", "CHAPTER=ch00", f"REPORT={report}"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Error" not in run.stderr, run.stderr
    assert "grading complete; some submissions are below full points" in run.stdout
    assert "this is chapter 1's notebook" in run.stdout
    assert rows_by_student(report)["eve"]["note"]
    refused = subprocess.run([*make, f"SUBMISSIONS={tmp_path / 'nowhere'}"],
                             capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "no such file or folder" in refused.stdout + refused.stderr


def test_exit_status_is_shared_by_every_entry_point():
    """pytest's usage-error status is the CLI's refusal status; 0 and 1 agree."""
    from mlpgrader import cli
    assert int(pytest.ExitCode.USAGE_ERROR) == cli.REFUSED
    assert (int(pytest.ExitCode.OK), int(pytest.ExitCode.TESTS_FAILED)) == (cli.PERFECT,
                                                                           cli.IMPERFECT)


# ---------------------------------------------------------------------------- exports
@pytest.fixture(scope="module")
def exported(graded, tmp_path_factory):
    _, report, _ = graded
    out = tmp_path_factory.mktemp("exports")
    run = mlpgrader("export", str(report), "--csv", str(out / "grades.csv"),
                    "--gradescope", str(out / "gradescope"), "--feedback", str(out / "feedback"),
                    cwd=out)
    assert run.returncode == 0, run.stderr
    return report, out


def test_csv_rereads_to_the_report_totals(exported):
    report, out = exported
    rows = rows_by_student(report)
    with open(out / "grades.csv", encoding="utf-8", newline="") as stream:
        table = list(csv.DictReader(stream))
    assert [line["Student"] for line in table] == list(rows)
    exercise_ids = [exercise.id for exercise in ch00_exercises()]
    assert list(table[0]) == ["Student", *exercise_ids, "Total", "Maximum", "Percent"]
    for line in table:
        row = rows[line["Student"]]
        points = {entry["id"]: entry["points"] for entry in row["exercises"]}
        assert [int(line[e]) for e in exercise_ids] == [points[e] for e in exercise_ids]
        assert sum(int(line[e]) for e in exercise_ids) == int(line["Total"]) == row["points"]
        assert int(line["Maximum"]) == row["max_points"] == MAX
        assert float(line["Percent"]) == pytest.approx(100 * row["points"] / MAX, abs=0.05)


def test_gradescope_results_have_the_required_fields(exported):
    report, out = exported
    rows = rows_by_student(report)
    folders = sorted(p.name for p in (out / "gradescope").iterdir())
    assert folders == sorted(rows)
    for student, row in rows.items():
        results = json.loads((out / "gradescope" / student / "results.json").read_text("utf-8"))
        assert isinstance(results["score"], (int, float)) and results["score"] == row["points"]
        assert [test["name"] for test in results["tests"]] == [e.id for e in ch00_exercises()]
        for test, entry in zip(results["tests"], row["exercises"]):
            assert set(test) >= {"name", "score", "max_score", "output", "status"}
            assert isinstance(test["score"], (int, float))
            assert isinstance(test["max_score"], (int, float)) and test["max_score"] > 0
            assert test["status"] in ("passed", "failed")
            assert (test["status"] == "passed") == (test["score"] == test["max_score"])
            assert isinstance(test["output"], str) and entry["messages"][0] in test["output"]
        assert sum(test["score"] for test in results["tests"]) == results["score"]
    assert "chapter 1's notebook" in json.loads(
        (out / "gradescope" / "eve" / "results.json").read_text("utf-8"))["output"]


def test_feedback_has_every_message_and_hint(exported):
    report, out = exported
    rows = rows_by_student(report)
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(f"{s}.txt" for s in rows)
    hints = 0
    for student, row in rows.items():
        text = (out / "feedback" / f"{student}.txt").read_text("utf-8")
        assert text.startswith(f"{student}: chapter 0 (ch00), {row['points']}/{MAX} points")
        for entry in row["exercises"]:
            for message in entry["messages"]:
                assert message in text
            for case in entry["cases"]:
                if case["hint"]:
                    hints += 1
                    assert case["hint"] in text
    assert hints >= 1  # cleo's batch-averaged gradient gets a hint
    assert "not valid JSON" in (out / "feedback" / "dan.txt").read_text("utf-8")


def test_export_file_names_are_safe_and_unique():
    names = export.file_names(["ada", "Ada", "group1/bob", "../../etc", "", "x y", "x_y"])
    assert names["ada"] == "ada" and names["Ada"] == "Ada-2"
    assert names["group1/bob"] == "group1_bob" and names["../../etc"] == "etc"
    assert names[""] == "student" and {names["x y"], names["x_y"]} == {"x_y", "x_y-2"}
    assert len({name.lower() for name in names.values()}) == len(names)


def test_export_refuses_what_is_not_a_report(tmp_path):
    (tmp_path / "notes.json").write_text('{"hello": 1}', encoding="utf-8")
    run = mlpgrader("export", str(tmp_path / "notes.json"), "--csv", str(tmp_path / "g.csv"),
                    cwd=tmp_path)
    assert run.returncode == 4 and "not a grading report" in run.stderr
    assert not (tmp_path / "g.csv").exists()
    nothing = mlpgrader("export", str(tmp_path / "notes.json"), cwd=tmp_path)
    assert nothing.returncode == 4 and "nothing to export" in nothing.stderr


def test_csv_names_cannot_run_as_spreadsheet_formulas(tmp_path):
    report = {"submissions": [{"student": "=HYPERLINK(1)", "chapter": "ch00", "points": 0,
                               "max_points": 1, "percent": 0.0, "exercises": []}]}
    export.write_csv(report, str(tmp_path / "g.csv"))
    with open(tmp_path / "g.csv", encoding="utf-8", newline="") as stream:
        assert list(csv.reader(stream))[1][0] == "'=HYPERLINK(1)"


def test_student_subcommand_is_the_book_tool(tmp_path):
    """`mlpgrader student` runs booktools/make_student_edition.py on the notebook edition:
    stubs, from any folder; a book chapter (MyST roles, solutions) is refused."""
    run = mlpgrader("student", str(edition_path(chapter0_notebook())), "--out", "edition",
                    cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    edition = read(tmp_path / "edition" / chapter0_notebook().name)
    text = json.dumps(edition)
    assert "### BEGIN SOLUTION" not in text
    for exercise in ch00_exercises():
        assert f"{exercise.id}: replace this line with your code" in text
    missing = mlpgrader("student", str(tmp_path / "nowhere.ipynb"), "--out", "x", cwd=tmp_path)
    assert missing.returncode == 4 and not (tmp_path / "x").exists()
    book = mlpgrader("student", str(chapter0_notebook()), "--out", "y", cwd=tmp_path)
    assert book.returncode == 4 and "not the notebook edition" in book.stderr


def test_brief_exports_keep_points_and_hints_but_not_expected_values(graded, tmp_path):
    """--brief: for held-out cases, the expected values must not reach students."""
    _, report, _ = graded
    run = mlpgrader("export", str(report), "--feedback", "fb", "--gradescope", "gs", "--brief",
                    cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    cleo = rows_by_student(report)["cleo"]
    text = (tmp_path / "fb" / "cleo.txt").read_text("utf-8")
    results = json.loads((tmp_path / "gs" / "cleo" / "results.json").read_text("utf-8"))
    outputs = "\n".join(test["output"] for test in results["tests"])
    hints = {case["hint"] for entry in cleo["exercises"] for case in entry["cases"] if case["hint"]}
    assert hints and all(hint in text and hint in outputs for hint in hints)
    for shown in (text, outputs):
        assert "✗" not in shown and "✓" not in shown  # no case lines, so no values
        assert f"{cleo['exercises'][0]['points']}/{cleo['exercises'][0]['max_points']} points" in shown
    assert results["score"] == cleo["points"]
