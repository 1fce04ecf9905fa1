"""The exercise mechanism itself, for every chapter: the registry, the book's exercise
cells, the comparison helpers and the runner's handling of odd learner code."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from fixtures.exercise_notebooks import ROOT, edition_path, load_tool
from mlpcore.exercises import (Case, Exercise, all_exercises, chapter_exercises, chapter_names,
                               compare_array, compare_outputs, run_exercise)
from mlpgrader import wire
from mlpgrader.judge import build_job, grade_source
from mlpgrader.notebook import (CHECK_TAG, EXERCISE_TAG, cell_tags, find_exercise_source,
                                infer_chapter, load_cells)


def evaluate_source(exercise, source):
    """The grader's path (job encoded, cell run, outcomes judged), in this process."""
    return grade_source(exercise, source, mode="inprocess")

make_student = load_tool("make_student_edition")


def book_notebook(chapter: str) -> Path:
    matches = sorted((ROOT / "book").glob(f"{chapter[2:]}_*.ipynb"))
    assert matches, f"{chapter} has exercises but no book/{chapter[2:]}_*.ipynb"
    return matches[0]


def test_registry_ids_are_unique_and_every_exercise_has_cases():
    ids = [exercise.id for exercise in all_exercises()]
    assert len(ids) == len(set(ids)) and "ch00" in chapter_names()
    for exercise in all_exercises():
        assert len(exercise.cases) >= 2, exercise.id
        assert len({case.name for case in exercise.cases}) == len(exercise.cases)


@pytest.mark.parametrize("chapter", chapter_names())
def test_book_has_a_cell_and_a_check_for_every_exercise(chapter):
    cells = load_cells(book_notebook(chapter))
    checks = "".join(c["source"] for c in cells if CHECK_TAG in cell_tags(c))
    for exercise in chapter_exercises(chapter):
        source = find_exercise_source(cells, exercise)
        assert source is not None, f"no exercise cell for {exercise.id}"
        cell = next(c for c in cells if c["source"] == source)
        assert {EXERCISE_TAG, "hide-input"} <= set(cell_tags(cell)), exercise.id
        assert f'check("{exercise.id}", {exercise.function})' in checks, exercise.id
    assert infer_chapter(cells, "") == chapter


@pytest.mark.parametrize("exercise", all_exercises(), ids=lambda e: e.id)
def test_every_case_input_can_be_sent_to_the_sandbox(exercise):
    """The grader sends case inputs as plain data (arrays, numbers, None, Generators,
    lists/tuples/dicts of them): a case file that builds anything else fails here,
    with the reason, long before an instructor grades a class."""
    job, _ = build_job(exercise, "", "inprocess")
    cases = json.loads(job)["cases"]
    for case, encoded in zip(exercise.cases, cases):
        sent = wire.decode(encoded, allow_code=True)  # as the child decodes it
        assert _same(sent, tuple(case.make_inputs())), \
            f"{exercise.id}, {case.name}: changed on the way"


def _same(a, b) -> bool:
    if callable(a) and hasattr(a, "__code__"):  # a case's function: same code, same values
        return callable(b) and a.__code__.co_code == b.__code__.co_code
    if isinstance(a, np.random.Generator):
        return isinstance(b, np.random.Generator) and \
            a.bit_generator.state == b.bit_generator.state
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b) \
            and a.flags.writeable == b.flags.writeable
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and (a == b or (a != a and b != b))


@pytest.mark.parametrize("chapter", chapter_names())
def test_book_reference_solutions_score_full_points(chapter):
    cells = load_cells(book_notebook(chapter))
    for exercise in chapter_exercises(chapter):
        result = evaluate_source(exercise, find_exercise_source(cells, exercise))
        assert result.points == exercise.max_points, result.summary()


def test_every_book_notebook_has_a_student_edition():
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        student, stubbed = make_student.student_notebook(nbformat.read(edition_path(path), as_version=4),
                                                         path.stem)
        code = "".join(cell.source for cell in student.cells if cell.cell_type == "code")
        assert "### BEGIN SOLUTION" not in code and "### END SOLUTION" not in code
        chapter = f"ch{path.stem[:2]}"
        if chapter in chapter_names():
            assert stubbed == [exercise.id for exercise in chapter_exercises(chapter)]


# ---- comparison helpers ------------------------------------------------------------
EXPECTED = np.arange(6, dtype=np.float64).reshape(2, 3) + 1.0


@pytest.mark.parametrize("got, fragment", [
    (EXPECTED.T, "looks transposed"),
    (EXPECTED[None], "extra axis of length 1"),
    (EXPECTED.ravel(), "right number of entries in the wrong shape"),
    (EXPECTED.astype(np.float32), "dtype"),
    (np.full((2, 3), np.nan), "NaN"),
    (-EXPECTED, "sign is flipped"),
    (EXPECTED * 4, "4 times the expected"),
    ("text", "expected real numbers"),
])
def test_compare_array_explains_generic_mistakes(got, fragment):
    failure = compare_array("y", got, EXPECTED)
    assert failure is not None and fragment in failure.message + failure.hint


def test_compare_array_prefers_a_known_mistake_and_accepts_the_right_answer():
    assert compare_array("y", EXPECTED + 1e-12, EXPECTED) is None
    failure = compare_array("y", EXPECTED * 2, EXPECTED, mistakes=[(EXPECTED * 2, "named")])
    assert failure.hint == "named" and "max abs error" in failure.message
    failure = compare_array("y", np.zeros(5), EXPECTED, mistakes=[((5,), "shape hint")])
    assert failure.hint == "shape hint"


def test_compare_outputs_spots_swapped_outputs_and_wrong_length():
    a, b = np.ones((2, 2)), np.zeros(3)
    assert compare_outputs((a, b), ("a", "b"), (a, b)) is None
    assert "in the order" in compare_outputs((b, a), ("a", "b"), (a, b)).hint
    assert "tuple of 2" in compare_outputs((a,), ("a", "b"), (a, b)).message


# ---- runner edge cases -------------------------------------------------------------
def double_exercise() -> Exercise:
    def judge(inputs, output):
        return compare_array("out", output, 2 * inputs[0])
    return Exercise(id="ch00.double", function="double", params=("x",), summary="2x",
                    cases=(Case("a", lambda: (np.ones(3),), judge),
                           Case("b", lambda: (np.arange(3.0),), judge)))


@pytest.mark.parametrize("source, status, fragment", [
    ("%time x = 1\ndef double(x):\n    return 2 * x\n", "passed", ""),
    ("def double(x):\n    return 2 * helper(x)\n", "failed", "self-contained"),
    ("def double(x):\n    import sys\n    sys.exit(1)\n", "failed", "sys.exit(1)"),
    ("raise RuntimeError('boom')\n", "error", "raised RuntimeError, line 1: boom"),
    ("def twice(x):\n    return 2 * x\n", "error", "does not define `double`"),
    ("double = 3\n", "error", "not a function"),
    ("def double(x):\n    return 2 * x\ncheck('ch00.double', double)\n", "passed", ""),
    ("def double(x):\n    return 2 * x\nprint(double(X_train))\n", "passed",
     "note: running the exercise cell raised NameError, line 3"),
    ("raise NotImplementedError\n", "not_attempted", "not attempted yet"),
    ("def double(x):\n    return np.exp(np.full_like(x, 1000.0))\n", "failed", "NumPy warned"),
])
def test_evaluate_source_handles_odd_cells(source, status, fragment):
    result = evaluate_source(double_exercise(), source)
    assert result.status == status, result.summary()
    assert fragment in result.summary()


def test_only_a_stub_reports_not_attempted_and_partial_credit_counts():
    exercise = double_exercise()
    assert run_exercise(exercise, lambda x: (_ for _ in ()).throw(NotImplementedError)).status \
        == "not_attempted"
    partial = run_exercise(exercise, lambda x: 2 * x if x[0] == 1 else x)
    assert (partial.status, partial.points, partial.max_points) == ("partial", 1, 2)
    assert re.match(r"ch00\.double: 1/2 points", partial.summary())
