"""The exercise mechanism itself, for every chapter: the registry, the book's exercise
cells, the comparison helpers and the runner's handling of odd learner code."""
from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from booktools import make_student_edition as make_student
from mlpcore.exercises import (PUBLIC_CASES_SEED, Case, Exercise, Failure, Passed, all_exercises,
                               chapter_exercises, chapter_names, compare_array,
                               compare_outputs, fixed_cases, run_exercise)
from mlpgrader import wire
from mlpgrader.grade_cell import build_job, grade_source
from mlpgrader.notebook import (CHECK_TAG, EXERCISE_TAG, cell_tags, find_exercise_source,
                                infer_chapter, load_cells)
from tests._support import ROOT, edition_path
from tests.exercises._support import hints_shown


def evaluate_source(exercise, source):
    """The grader's path (job encoded, cell run, outcomes judged), in this process."""
    return grade_source(exercise, source, mode="inprocess")


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


def test_compare_array_records_a_constant_factor_without_naming_it():
    """One case cannot tell a constant factor from chance (above all for one number,
    which is always c times another): compare_array only records c; collect decides."""
    assert compare_array("y", EXPECTED * 4, EXPECTED).scale == pytest.approx(4.0)
    assert compare_array("y", EXPECTED * 4, EXPECTED).hint == ""
    assert compare_array("y", EXPECTED + 1.0, EXPECTED).scale is None
    assert compare_array("y", np.float64(3.0), np.float64(1.5)).hint == ""


def test_compare_outputs_spots_swapped_outputs_and_wrong_length():
    a, b = np.ones((2, 2)), np.zeros(3)
    assert compare_outputs((a, b), ("a", "b"), (a, b)) is None
    assert "in the order" in compare_outputs((b, a), ("a", "b"), (a, b)).hint
    assert "tuple of 2" in compare_outputs((a,), ("a", "b"), (a, b)).message


# ---- runner edge cases -------------------------------------------------------------
def double_exercise() -> Exercise:
    def judge(inputs, output):
        return compare_array("out", output, 2 * inputs[0])
    return Exercise(id="ch00.double", function="double", params=("x",),
                    case_generator=fixed_cases(Case("a", lambda: (np.ones(3),), judge),
                                               Case("b", lambda: (np.arange(3.0),), judge)))


def scaled_exercise(values: list) -> Exercise:
    """Answer 2 * x for each case's x (a scalar or an array): the runner's hints."""
    def judge(inputs, output):
        return compare_array("out", output, 2 * inputs[0])
    return Exercise(id="ch00.double", function="double", params=("x",),
                    case_generator=fixed_cases(*(Case.of(f"case {i}", (np.asarray(v),), judge)
                                                 for i, v in enumerate(values))))


@pytest.mark.parametrize("source, status, fragment", [
    ("%time x = 1\ndef double(x):\n    return 2 * x\n", "passed", ""),
    ("def double(x):\n    return 2 * helper(x)\n", "failed", "self-contained"),
    ("def double(x):\n    return 2 * xx\n", "failed", "`xx` is not defined: a typo for `x`?"),
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


# ---- held-out cases: the seed API --------------------------------------------------
def drawn_exercise(names_follow_seed: bool = False) -> Exercise:
    def judge(inputs, output):
        return compare_array("out", output, 2 * inputs[0])

    def generate(rng):
        size = int(rng.integers(2, 6))
        name = f"{size} entries" if names_follow_seed else "random size"
        return (Case.of("fixed", (np.ones(3),), judge),
                Case.of(name, (rng.standard_normal(size),), judge, points=2))
    return Exercise(id="ch00.double", function="double", params=("x",),
                    case_generator=generate)


def test_cases_for_is_deterministic_and_draws_values_not_names():
    exercise = drawn_exercise()
    assert exercise.max_points == 3
    first, again = exercise.cases_for(7), exercise.cases_for(7)
    assert [c.name for c in first] == [c.name for c in exercise.cases]
    assert np.array_equal(first[1].make_inputs()[0], again[1].make_inputs()[0])
    draws = {exercise.cases_for(seed)[1].make_inputs()[0].tobytes() for seed in range(6)}
    assert len(draws) > 1
    assert exercise.cases == exercise.cases_for(PUBLIC_CASES_SEED)
    assert run_exercise(exercise, lambda x: 2 * x, seed=123).points == 3


def test_make_inputs_gives_a_fresh_copy_each_time():
    case = drawn_exercise().cases_for(3)[1]
    case.make_inputs()[0][:] = 99.0
    assert not np.any(case.make_inputs()[0] == 99.0)


def test_a_generator_whose_names_follow_the_seed_is_refused():
    exercise = drawn_exercise(names_follow_seed=True)
    with pytest.raises(ValueError, match="must not depend on the seed"):
        for seed in range(1, 40):
            exercise.cases_for(seed)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True, None])
def test_a_seed_must_be_a_non_negative_integer(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        drawn_exercise().cases_for(seed)


@pytest.mark.parametrize("exercise", all_exercises(), ids=lambda e: e.id)
def test_every_exercise_draws_its_cases_from_the_seed(exercise):
    """Held out: the grader's private seed gives other inputs than the public one, with
    the same names and points. (An exercise still on fixed_cases fails here, by name.)"""
    public = exercise.cases
    for seed in (1, 2):
        private = exercise.cases_for(seed)
        assert [(c.name, c.points) for c in private] == [(c.name, c.points) for c in public]
    assert not exercise.is_fixed, f"{exercise.id} still has fixed cases (fixed_cases)"
    changed = [not _same(a.make_inputs(), b.make_inputs())
               for a, b in zip(public, exercise.cases_for(1))]
    assert sum(changed) >= len(public) - 1, \
        f"{exercise.id}: only {sum(changed)} of {len(public)} cases change with the seed"


# ---- hints: the runner's rules -------------------------------------------------------
def test_the_constant_factor_hint_needs_the_same_factor_in_every_case():
    arrays = scaled_exercise([np.arange(1.0, 4.0), np.array([2.0, -1.0])])
    result = run_exercise(arrays, lambda x: 8 * x)          # 4 times, in every case
    hints = [case.hint for case in result.cases]
    assert "4 times the expected ones in every case" in hints[0] and hints[1] == ""
    result = run_exercise(arrays, lambda x: -2 * x)
    assert result.cases[0].hint == "the sign is flipped"
    mixed = run_exercise(arrays, lambda x: 8 * x if x.size == 3 else 6 * x)
    assert all(case.hint == "" for case in mixed.cases), mixed.summary()
    partly = run_exercise(arrays, lambda x: 8 * x if x.size == 3 else 2 * x)
    assert all(case.hint == "" for case in partly.cases), partly.summary()


def test_a_wrong_number_is_not_called_a_constant_factor():
    """_scale_factor finds a c for any single number: one scalar case says nothing."""
    scalars = scaled_exercise([1.5, -0.5])
    result = run_exercise(scalars, lambda x: 2 * x + 1.0)
    assert all(case.hint == "" for case in result.cases), result.summary()
    result = run_exercise(scalars, lambda x: 2 * x + (0.3 if x > 0 else 0.0))
    assert all(case.hint == "" for case in result.cases), result.summary()


def test_each_hint_is_shown_once_per_exercise():
    def judge(inputs, output):
        return compare_array("out", output, 2 * inputs[0], mistakes=[(inputs[0], "named")])
    exercise = Exercise(id="ch00.double", function="double", params=("x",),
                        case_generator=fixed_cases(*(Case.of(f"case {i}", (np.arange(i + 2.0),),
                                                             judge) for i in range(5))))
    result = run_exercise(exercise, lambda x: x)
    assert result.points == 0 and [case.hint for case in result.cases].count("named") == 1
    assert result.summary().count("named") == 1


# ---- every listed hint is reachable ---------------------------------------------------
def listed_hints(chapter: str) -> dict:
    """{name: text} of the hints a case file lists: its top-level UPPER_CASE string
    constants of four words or more (short ones, like an init scheme's name, are data)."""
    module = importlib.import_module(f"mlpcore.exercises.{chapter}")
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names = [target.id for node in tree.body if isinstance(node, ast.Assign)
             for target in node.targets
             if isinstance(target, ast.Name) and target.id.isupper()]
    return {name: getattr(module, name) for name in names
            if isinstance(getattr(module, name), str) and len(getattr(module, name).split()) >= 4}


def chapter_mutants(chapter: str) -> list:
    """The (exercise, name, source, hint) wrong solutions of tests/exercises/test_exercises_chNN.py."""
    module = importlib.import_module(f"tests.exercises.test_exercises_{chapter}")
    return list(getattr(module, "ALL_MUTANTS", module.MUTANTS))


@pytest.mark.parametrize("chapter", chapter_names())
def test_every_listed_hint_is_reached_by_a_wrong_solution(chapter):
    """A hint no wrong answer can trigger is dead text (or, worse, a case that cannot
    catch the mistake it names): each listed hint must be shown to at least one of the
    chapter's mutants, on the seeds the mutants are graded on."""
    shown = set()
    for exercise_id, _, source, _ in chapter_mutants(chapter):
        shown |= hints_shown(exercise_id, source)
    unreached = sorted(name for name, text in listed_hints(chapter).items()
                       if not any(text in hint for hint in shown))
    assert not unreached, f"{chapter}: no wrong solution in the tests gets these hints: {unreached}"


def test_a_wrong_rule_is_named_only_if_it_alone_explains_every_case():
    """Choices that several wrong rules can give (Failure.suspects, Passed.suspects)."""
    rules = {"rule A": lambda x: x + 1, "rule B": lambda x: x + 1 if x < 2 else x + 2}

    def judge(inputs, output):
        x = float(inputs[0])
        suspects = tuple(sorted(hint for hint, rule in rules.items() if output == rule(x)))
        return Passed(suspects) if output == x else Failure("wrong", suspects=suspects)
    exercise = Exercise(id="ch00.same", function="same", params=("x",),
                        case_generator=fixed_cases(*(Case.of(f"x = {x}", (x,), judge)
                                                     for x in (1.0, 3.0, 5.0))))
    def hints(function):
        return [case.hint for case in run_exercise(exercise, function).cases if case.hint]
    assert hints(lambda x: x + 1) == ["rule A"]                      # both fit x = 1 only
    assert hints(lambda x: x + 1 if x < 2 else x + 2) == ["rule B"]
    assert hints(lambda x: x + 1 if x < 4 else x) == []              # x = 5 clears rule A
    assert hints(lambda x: x + 1 if x < 2 else 0.0) == []            # no rule fits x = 3
