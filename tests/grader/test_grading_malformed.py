"""Any file, any name, never the whole class: a matrix of malformed submissions graded
beside a control student, who is always graded (100 %). Each bad file gets a plain
per-student message and zero points; the table stays printable, the report valid."""
from __future__ import annotations

import json
import os
import time
import tracemalloc
import unicodedata

import pytest

from mlpgrader import grader
from mlpgrader.grader import grade_all, grade_exercise, plan, score_table, write_report
from tests.grader._support import (ch00_exercises, chapter0_notebook, read, sandbox_mode,
                                   signature, with_cell, write)

FIRST = ch00_exercises()[0]
EVIL_NAME = "evil\n\x1b[2Jmallory  9\u20449 (100 %)"  # U+2044 looks like a slash


def _raw(text: str):
    return lambda folder, reference: text.encode("utf-8")


def _notebook(change):
    def build(folder, reference):
        notebook = json.loads(json.dumps(reference))
        change(notebook)
        return json.dumps(notebook).encode("utf-8")
    return build


def _cells(notebook, value):
    notebook["cells"] = value


def _first_code(notebook, key, value):
    next(c for c in notebook["cells"] if c["cell_type"] == "code")[key] = value


# name -> (content builder, fragment of every exercise's message or None if graded)
MATRIX = {
    "source_list_with_int": (_notebook(lambda nb: _first_code(nb, "source", ["x = 1\n", 7])),
                             "the source of cell"),
    "nested_100000_deep": (_raw("[" * 100_000 + "]" * 100_000), "nested too deeply"),
    "metadata_is_a_string": (_notebook(lambda nb: [c.update(metadata="oops") for c in nb["cells"]]),
                             None),
    "cells_is_a_dict": (_notebook(lambda nb: _cells(nb, {"a": 1})), "no list of cells"),
    "cell_is_a_number": (_notebook(lambda nb: _cells(nb, [1, 2])), "cell 0 is not a JSON object"),
    "format_3_worksheets": (_raw('{"worksheets": [{"cells": []}], "nbformat": 3}'),
                            "no list of cells"),
    "empty_file": (_raw(""), "not valid JSON"),
    "latin1_bytes": (lambda folder, reference: b'{"cells": "caf\xe9"}', "not UTF-8"),
    "nul_characters": (_raw('{"cells": []}\x00'), "NUL characters"),
    "huge_integer": (_raw('{"cells": [], "n": ' + "9" * 10_000 + "}"), "not valid JSON"),
    "byte_order_mark": (lambda folder, reference: b"\xef\xbb\xbf" + json.dumps(reference).encode(),
                        None),
}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    mode = sandbox_mode()
    folder = tmp_path_factory.mktemp("class")
    reference = read(chapter0_notebook())
    write(reference, folder / "control.ipynb")
    for name, (build, _) in MATRIX.items():
        (folder / f"{name}.ipynb").write_bytes(build(folder, reference))
    surrogate = with_cell(reference, FIRST.function, signature(FIRST) +
                          "    raise ValueError('bad \\udcff byte \\x1b[31m red')\n")
    write(surrogate, folder / "lone_surrogate_message.ipynb")
    with open(folder / "too_big.ipynb", "wb") as handle:  # sparse: 200 MB, instantly
        handle.truncate(200 * 2 ** 20)
    os.mkfifo(folder / "a_fifo.ipynb")
    (folder / os.fsdecode(b"caf\xff.ipynb")).write_text(json.dumps(reference), encoding="utf-8")
    write(reference, folder / f"{EVIL_NAME}.ipynb")
    report = tmp_path_factory.mktemp("report") / "report.json"
    submissions = plan([str(folder)], chapter="ch00")
    for future in grade_all(submissions, timeout=10, mode=mode).values():
        future.result()
    write_report(submissions, str(report), 10, mode)
    return {s.student: s for s in submissions}, report, score_table(submissions, mode)


def test_the_control_student_is_graded(matrix):
    by_student, _, _ = matrix
    assert by_student["control"].points == by_student["control"].max_points > 0


@pytest.mark.parametrize("name", MATRIX)
def test_each_malformed_file_costs_only_its_student(matrix, name):
    by_student, _, _ = matrix
    submission = by_student[name]
    fragment = MATRIX[name][1]
    if fragment is None:  # odd but readable: graded normally
        assert submission.points == submission.max_points, submission.to_dict()
        return
    assert submission.points == 0 and len(submission.results) == len(ch00_exercises())
    for result in submission.results.values():
        assert fragment in result.message, result.message


@pytest.mark.parametrize("name, fragment", [("too_big", "over the 20 MiB limit"),
                                            ("a_fifo", "not a regular file")])
def test_oversized_and_special_files_are_refused_without_reading_them(matrix, name, fragment):
    by_student, _, _ = matrix
    assert all(fragment in r.message for r in by_student[name].results.values())


def test_a_lone_surrogate_and_escape_codes_in_a_message_are_escaped(matrix):
    by_student, report, _ = matrix
    result = by_student["lone_surrogate_message"].results[FIRST.id]
    assert result.points == 0 and "\\udcff" in result.summary() and "\\x1b[31m" in result.summary()
    json.loads(report.read_text(encoding="utf-8"))


def test_odd_file_names_are_graded_and_printed_escaped(matrix):
    by_student, report, table = matrix
    assert by_student["caf\\xff"].points == by_student["caf\\xff"].max_points
    evil = next(name for name in by_student if name.startswith("evil"))
    assert "\n" not in evil and "\x1b" not in evil
    for line in table:
        assert not any(unicodedata.category(ch) == "Cc" for ch in line), repr(line)
        assert not line.startswith("mallory")
    data = json.loads(report.read_text(encoding="utf-8"))
    assert {row["student"] for row in data["submissions"]} == set(by_student)


def test_a_symlinked_folder_is_not_followed(tmp_path):
    (tmp_path / "class").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write(read(chapter0_notebook()), tmp_path / "elsewhere" / "x.ipynb")
    (tmp_path / "class" / "link").symlink_to(tmp_path / "elsewhere")
    write(read(chapter0_notebook()), tmp_path / "class" / "ada.ipynb")
    assert [student for student, _ in grader.discover([str(tmp_path / "class")])] == ["ada"]


def test_the_report_is_replaced_atomically(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    grader.write_json_atomically({"old": True}, str(path))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(grader.os, "fsync", broken)  # fails after the temporary file is written
    with pytest.raises(RuntimeError):
        grader.write_json_atomically({"new": True}, str(path))
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"], "no temporary file left"


# ------------------------------------------------ issue 19, item 5: cheap refusals
def test_planning_a_huge_cell_of_def_lines_is_linear(tmp_path):
    """4.6 MiB of `def a(` lines: 106 s of planning before (a registry lookup per
    line); now one scan per cell. The bound is loose for a loaded machine."""
    cell = {"cell_type": "code", "metadata": {"tags": ["exercise"]},
            "source": "def a(\n" * (int(4.6 * 2 ** 20) // 7)}
    path = tmp_path / "defs.ipynb"
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}), encoding="utf-8")
    start = time.monotonic()
    (submission,) = plan([str(path)], "ch00")
    exercise = submission.exercises[0]
    result = grade_exercise(submission, exercise, mode="inprocess")
    assert time.monotonic() - start < 30
    assert "exercise cell not found" in result.message


def test_a_notebook_of_a_million_empty_cells_is_refused_before_parsing(tmp_path):
    """20 MiB of empty cells cost 586 MB of grader memory before the cell cap refused
    them; the item count refuses them before json builds a single cell."""
    cells = '{"cell_type":"code","source":""},' * ((20 * 2 ** 20 - 100) // 33)
    path = tmp_path / "empty.ipynb"
    path.write_text('{"nbformat":4,"cells":[' + cells.rstrip(",") + "]}", encoding="utf-8")
    tracemalloc.start()
    try:
        (submission,) = plan([str(path)], "ch00")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "JSON items" in submission.read_error
    assert peak < 80 * 2 ** 20, f"{peak / 2 ** 20:.0f} MiB"


def test_many_small_objects_under_the_item_cap_are_refused_while_parsing(tmp_path):
    """Objects are counted as they are parsed: a notebook of 150,000 cells stops at
    the 100,000th object, not after building all of them."""
    cells = ",".join(['{"a":1}'] * 150_000)
    path = tmp_path / "objects.ipynb"
    path.write_text('{"nbformat":4,"cells":[' + cells + "]}", encoding="utf-8")
    (submission,) = plan([str(path)], "ch00")
    assert "JSON objects" in submission.read_error


def test_an_old_report_never_looks_current(tmp_path, monkeypatch):
    """The report is replaced by an 'in progress' marker as the run starts; if the run
    stops before its end, the marker stays (and merge refuses it)."""
    from mlpgrader import grader, options
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"version": 2, "points": 99, "submissions": []}))
    write(read(chapter0_notebook()), tmp_path / "ada.ipynb")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(grader, "plan", interrupted)
    values = {"report": str(report), "shard": None, "cases_seed": None,
              "cases_seed_file": None, "no_sandbox": True, "chapter": None,
              "exercise_timeout": 10.0, "jobs": 1}
    with pytest.raises(KeyboardInterrupt):
        options.start([str(tmp_path / "ada.ipynb")], values.get)
    marker = json.loads(report.read_text())
    assert marker["complete"] is False and "points" not in marker
    with pytest.raises(ValueError, match="did not finish"):
        grader.merge_reports([str(report)])


def test_a_failure_while_summarising_costs_that_exercise_only(tmp_path, monkeypatch):
    """A result whose lines cannot be produced (a bug, a forged value) is reported as
    an error on that exercise; the student's other exercises and the report stand."""
    from mlpgrader import grader
    write(read(chapter0_notebook()), tmp_path / "ada.ipynb")
    (submission,) = plan([str(tmp_path / "ada.ipynb")])
    for future in grader.grade_all([submission], jobs=2, mode="inprocess").values():
        future.result()
    first = submission.exercises[0].id
    broken = submission.results[first]
    monkeypatch.setattr(type(broken), "lines",
                        lambda self: 1 / 0 if self.exercise == first and
                        self.status != "error" else [f"{self.exercise}: {self.message}"])
    row = submission.to_dict()
    statuses = {entry["id"]: entry["status"] for entry in row["exercises"]}
    assert statuses[first] == "error"
    assert all(status == "passed" for key, status in statuses.items() if key != first)
