"""Graded exercises: inline checks in the chapters and the instructor's grader.

In a chapter, right after an exercise cell::

    check("ch00.linear_backward", linear_backward)

prints one line per test case (✓, or ✗ with what was expected, what came and a
hint), or a single "not attempted yet" line while the function still raises
NotImplementedError. The grader (``pytest grading --submissions PATH``, see
docs/grading.md) runs the very same cases on each submitted exercise cell in a
separate process.

Per-chapter cases live in ``mlpcore/exercises/chNN.py`` (``EXERCISES = [...]``).
"""
from __future__ import annotations

from typing import Callable

from mlpcore.exercises._registry import (
    Case, Exercise, Failure, all_exercises, chapter_exercises, chapter_names,
    exercise_ids, get_exercise)
from mlpcore.exercises._runner import CaseResult, ExerciseResult, run_exercise

__all__ = ["check", "Case", "Exercise", "Failure", "CaseResult", "ExerciseResult",
           "all_exercises", "chapter_exercises", "chapter_names", "exercise_ids",
           "get_exercise", "run_exercise"]


def check(exercise_id: str, function: Callable) -> ExerciseResult:
    """Grade ``function`` with the test cases of exercise ``exercise_id`` and print
    the verdict, one line per case. Returns the result (points, max_points, status,
    cases); Jupyter shows nothing for it, so the printed lines are the whole output.

    A stub that still raises NotImplementedError gives one "not attempted yet" line,
    and no error escapes, so the rest of the notebook runs on."""
    exercise = get_exercise(exercise_id)
    result = run_exercise(exercise, function)
    print(result.summary())
    return result
