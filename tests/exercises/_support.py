"""Shared helpers for the chapters' exercise tests (tests/exercises/test_exercises_chNN.py):
a cell's function, the mutant check, the reference solutions read from a notebook; and
the held-out checks: the cases of seeds nobody has seen must still pass the reference
and fail the wrong answers, and every hint a case file lists must be shown to some wrong
answer."""
from __future__ import annotations

import functools
import textwrap

import numpy as np

from booktools import make_student_edition
from mlpcore.exercises import (PUBLIC_CASES_SEED, ExerciseResult, chapter_exercises, check,
                               get_exercise, run_exercise)
from mlpgrader.notebook import find_exercise_source, load_cells
from tests._support import edition_path


def define(source: str, function: str):
    """The function ``function`` defined by ``source``, run after `import numpy as np`
    alone, as an exercise cell is."""
    namespace: dict = {}
    exec("import numpy as np", namespace)
    exec(textwrap.dedent(source), namespace)
    return namespace[function]


#: The seeds every mutant is graded on: the public one and two others, so a mutant is
#: caught by the kinds of cases, not by one lucky draw.
MUTANT_SEEDS = (PUBLIC_CASES_SEED, 1, 2)


def assert_mutant_caught(exercise_id: str, name: str, source: str, hint, capsys) -> None:
    """A plausible wrong answer must lose points AND get the hint that names its mistake
    (``hint`` a fragment of it), or no hint at all (``hint`` None: a mistake no hint
    describes must not be given another mistake's hint), on every seed of MUTANT_SEEDS.
    ``hint`` a frozenset of fragments: every hint shown contains one of them, and there
    may be none (a mistake whose telltale appears on some draws only)."""
    exercise = get_exercise(exercise_id)
    function = define(source, exercise.function)
    with np.errstate(all="ignore"):  # a wrong answer may overflow; that is its business
        result = check(exercise_id, function)
        printed = capsys.readouterr().out
        results = [result] + [run_exercise(exercise, function, seed=seed)
                              for seed in MUTANT_SEEDS if seed != PUBLIC_CASES_SEED]
    assert "Traceback" not in printed
    for seed, result in zip(MUTANT_SEEDS, results):
        shown = f"seed {seed}:\n{result.summary()}"
        assert result.points < result.max_points, f"mutant {name} was not caught, {shown}"
        hints = [case.hint for case in result.cases if case.status != "passed" and case.hint]
        if hint is None:
            assert not hints, f"mutant {name} got a hint for another mistake, {shown}"
        elif isinstance(hint, frozenset):
            assert all(any(allowed in text for allowed in hint) for text in hints), \
                f"mutant {name} got a hint for another mistake, {shown}"
        else:
            assert any(hint in text for text in hints), (
                f"mutant {name}: no failing case has the hint {hint!r}, {shown}")


def hints_shown(exercise_id: str, source: str) -> set:
    """Every hint a wrong answer gets, on every seed of MUTANT_SEEDS."""
    exercise = get_exercise(exercise_id)
    function = define(source, exercise.function)
    with np.errstate(all="ignore"):
        return {case.hint for seed in MUTANT_SEEDS
                for case in run_exercise(exercise, function, seed=seed).cases if case.hint}


def solutions_from(cells: list, chapter: str) -> dict:
    """{exercise id: the function its exercise cell defines}, for every exercise of
    ``chapter``, from a notebook's cells (mlpgrader.notebook.load_cells)."""
    functions = {}
    for exercise in chapter_exercises(chapter):
        source = find_exercise_source(cells, exercise)
        assert source is not None, f"the chapter has no exercise cell for {exercise.id}"
        functions[exercise.id] = define(source, exercise.function)
    return functions


def mutant_ids(mutants: list) -> list[str]:
    """pytest ids for rows (exercise id, name, source, hint): "function-name"."""
    return [f"{exercise_id.split('.')[1]}-{name}" for exercise_id, name, *_ in mutants]


def assert_references_score_full_points(chapter: str, functions: dict, capsys) -> None:
    """Every reference solution of ``chapter`` passes `check` with full points, one ✓ a case."""
    for exercise in chapter_exercises(chapter):
        result = check(exercise.id, functions[exercise.id])
        printed = capsys.readouterr().out
        assert result.status == "passed", printed
        assert (result.points, result.max_points) == (exercise.max_points, exercise.max_points)
        assert printed.count("✓") == len(exercise.cases) and "✗" not in printed


def assert_enough_cases_and_mutants(chapter: str, mutants: list, per_exercise: int) -> None:
    """Every exercise of ``chapter`` has at least five cases and ``per_exercise`` mutants."""
    for exercise in chapter_exercises(chapter):
        assert len(exercise.cases) >= 5, exercise.id
        assert sum(m[0] == exercise.id for m in mutants) >= per_exercise, exercise.id


def assert_student_edition_scores_zero(notebook, chapter: str, folder, capsys) -> None:
    """The chapter's student edition (`python -m booktools student-edition` on its notebook
    edition, written to ``folder``): every exercise cell is a stub without the solution,
    and `check` reports it not attempted, with 0 points."""
    assert make_student_edition.main(["--out", str(folder), str(edition_path(notebook))]) == 0
    cells = load_cells(folder / notebook.name)
    exercises = chapter_exercises(chapter)
    assert exercises, f"{chapter} registers no exercise"
    for exercise in exercises:
        source = find_exercise_source(cells, exercise)
        assert "### BEGIN SOLUTION" not in source, exercise.id
        result = check(exercise.id, define(source, exercise.function))
        assert result.status == "not_attempted" and result.points == 0, exercise.id
    assert "not attempted yet" in capsys.readouterr().out


#: Seeds other than the public one: stand-ins for an instructor's private seed.
HELD_OUT_SEEDS = (1, 2, 3)


@functools.lru_cache(maxsize=None)
def run_source(exercise_id: str, source: str, seed: int = PUBLIC_CASES_SEED) -> ExerciseResult:
    """The verdict on ``source`` (an exercise cell) for the cases of ``seed`` (cached:
    several tests look at the same mutant)."""
    exercise = get_exercise(exercise_id)
    with np.errstate(all="ignore"):  # a wrong answer may overflow; that is its business
        return run_exercise(exercise, define(source, exercise.function), seed=seed)


def shown_hints(result: ExerciseResult) -> list[str]:
    return [case.hint for case in result.cases if case.status != "passed" and case.hint]


def assert_loses_points_on_held_out_seeds(exercise_id: str, name: str, source: str) -> None:
    for seed in HELD_OUT_SEEDS:
        result = run_source(exercise_id, source, seed)
        assert result.points < result.max_points, \
            f"mutant {name} scores full points on held-out seed {seed}:\n{result.summary()}"


#: The seeds every reference solution must pass on: the public one, the held-out ones, two more.
REFERENCE_SEEDS = (PUBLIC_CASES_SEED,) + HELD_OUT_SEEDS + (17, 2024)


def assert_references_pass(chapter: str, functions: dict, seed: int) -> None:
    for exercise in chapter_exercises(chapter):
        result = run_exercise(exercise, functions[exercise.id], seed=seed)
        assert result.status == "passed", result.summary()


def assert_every_hint_reachable(chapter: str, listed: dict, mutants: list) -> None:
    """``listed`` ({exercise id: hints}) names every exercise of ``chapter``, and each
    hint in it is shown to at least one mutant."""
    assert set(listed) == {exercise.id for exercise in chapter_exercises(chapter)}
    for exercise_id, hints in listed.items():
        shown = {hint for mutant_id, _, source, _ in mutants if mutant_id == exercise_id
                 for hint in shown_hints(run_source(mutant_id, source))}
        missing = [hint for hint in hints if hint not in shown]
        assert not missing, f"{exercise_id}: no mutant is shown these hints: {missing}"
