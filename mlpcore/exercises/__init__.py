"""Graded exercises: inline checks in the chapters and the instructor's grader.

In a chapter, right after an exercise cell::

    check("ch00.linear_backward", linear_backward)

prints one line per test case (✓, or ✗ with what was expected, what came and a
hint), or a single "not attempted yet" line while the function still raises
NotImplementedError. The instructor's grader (the separate ``mlpgrader`` package,
``pytest grading --submissions PATH``, see docs/grading.md) runs the very same cases:
each submitted exercise cell runs in a sandbox that only computes outputs, and the
judges below run outside it.

Per-chapter cases live in ``mlpcore/exercises/chNN.py`` (``EXERCISES = [...]``).

Held-out cases. An exercise does not list its cases: it declares a case generator, a
function that draws them from the ``np.random.Generator`` it is given (shapes, values,
conditions; fixed edge cases may be included) and returns a tuple of ``Case``::

    def _cases(rng: np.random.Generator) -> tuple[Case, ...]:
        n, d = rng.integers(2, 9, size=2)
        return (Case.of("one example", draw(rng, 1, d), judge),
                Case.of("random batch", draw(rng, n, d), judge), ...)

    Exercise(id="ch00.f", function="f", params=(...), case_generator=_cases)

``exercise.cases_for(seed)`` builds them for one seed (deterministic; each exercise
draws from its own stream of that seed). The number of cases, their names and points
must not depend on the seed (``cases_for`` refuses otherwise), so ``max_points`` is
fixed. ``check()`` here uses ``PUBLIC_CASES_SEED`` (``exercise.cases``); the grader
passes its private seed, so answers looked up for the public cases earn nothing.
``fixed_cases(Case(...), ...)`` wraps a fixed list (not held out; the mechanism tests
flag exercises that still use it).

Language: ``set_language("zh_CN")`` (or MLPCORE_LANG=zh_CN) prints check()'s verdicts
from mlpcore/locale/zh_CN/LC_MESSAGES/mlpcore.po, English for anything untranslated
(``_i18n``); the Chinese notebook edition sets it in its first cell.
"""
from __future__ import annotations

import os
from typing import Callable, Union

from mlpcore.exercises.calling import CallOutcome
from mlpcore.exercises._compare import Mistake, compare_array, compare_outputs
from mlpcore.exercises._registry import (
    PUBLIC_CASES_SEED, Case, CaseGenerator, Exercise, Failure, Passed, all_exercises,
    chapter_exercises, chapter_names, exercise_ids, find_by_function, fixed_cases,
    get_exercise)
from mlpcore.exercises._runner import (CaseResult, ExerciseResult, collect, judge_case,
                                       run_exercise)
from mlpcore.exercises._i18n import set_language

__all__ = ["check", "NbgraderPoints", "PUBLIC_CASES_SEED", "Case", "CaseGenerator", "Exercise",
           "Failure", "Passed", "CaseResult", "ExerciseResult", "CallOutcome", "Mistake",
           "all_exercises", "chapter_exercises", "chapter_names", "collect", "compare_array",
           "compare_outputs", "exercise_ids", "find_by_function", "fixed_cases",
           "get_exercise", "judge_case", "run_exercise", "set_language"]


class NbgraderPoints(float):
    """What ``check`` returns while nbgrader autogrades or validates a notebook: the
    points as a number, which nbgrader takes as the grade cell's partial credit
    (its autograder would otherwise give full points to any check cell that does not
    raise). The full result is at ``.result``."""

    def __new__(cls, result: ExerciseResult) -> "NbgraderPoints":
        points = super().__new__(cls, result.points)
        points.result = result
        return points


def check(exercise_id: str, function: Callable) -> Union[ExerciseResult, NbgraderPoints]:
    """Grade ``function`` with the public test cases of exercise ``exercise_id`` and print
    the verdict, one line per case. Returns the result (points, max_points, status,
    cases); Jupyter shows nothing for it, so the printed lines are the whole output.
    Under nbgrader (NBGRADER_EXECUTION set) it returns the points as a number instead.

    A stub that still raises NotImplementedError gives one "not attempted yet" line,
    and no error escapes, so the rest of the notebook runs on."""
    exercise = get_exercise(exercise_id)
    result = run_exercise(exercise, function)
    print(result.summary())
    if os.environ.get("NBGRADER_EXECUTION"):
        return NbgraderPoints(result)
    return result
