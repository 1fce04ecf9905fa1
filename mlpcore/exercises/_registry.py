"""The registry of graded exercises: what an exercise is, and where to find it.

Each chapter has a case file ``mlpcore/exercises/chNN.py`` that defines
``EXERCISES = [Exercise(...), ...]``. Nothing registers itself at import time: the
registry discovers every ``chNN`` module of this package, so a new chapter only adds
its file. An exercise id is ``"<chapter>.<function name>"``, e.g. ``"ch00.linear_backward"``.
"""
from __future__ import annotations

import difflib
import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

#: Every exercise cell is run after this line alone, in the notebook and in the grader.
DEFAULT_PREAMBLE = "import numpy as np"

_CHAPTER_MODULE = re.compile(r"^ch\d\d$")


@dataclass(frozen=True)
class Failure:
    """Why a learner's answer is wrong: ``message`` says what was expected and what
    came; ``hint`` points at the likely mistake (empty when there is no good guess)."""
    message: str
    hint: str = ""


@dataclass(frozen=True)
class Case:
    """One graded test case.

    make_inputs() returns a fresh tuple of positional arguments (deterministic: fixed
    seed). judge(inputs, output) gets a pristine copy of those arguments and what the
    learner's function returned, and returns None when the answer is right, else a
    Failure. A case is worth ``points`` (1 by default)."""
    name: str
    make_inputs: Callable[[], tuple]
    judge: Callable[[tuple, Any], Optional[Failure]]
    points: int = 1


@dataclass(frozen=True)
class Exercise:
    """A graded exercise: the learner writes ``function(*params)``.

    ``exception_hint(exc)`` may turn an exception raised inside the learner's function
    into a hint (e.g. a matmul shape error -> "transpose the weight").
    ``may_modify`` names the arguments the function is allowed to change in place;
    every other array argument is checked to be unchanged after each call."""
    id: str
    function: str
    params: tuple[str, ...]
    summary: str
    cases: tuple[Case, ...]
    exception_hint: Optional[Callable[[BaseException], Optional[str]]] = None
    may_modify: frozenset = field(default_factory=frozenset)
    preamble: str = DEFAULT_PREAMBLE

    def __post_init__(self) -> None:
        chapter, _, function = self.id.partition(".")
        if not _CHAPTER_MODULE.match(chapter) or function != self.function:
            raise ValueError(f"exercise id {self.id!r} must be '<chapter>.<function>' "
                             f"like 'ch00.{self.function}'")
        if not self.cases:
            raise ValueError(f"exercise {self.id} has no test cases")

    @property
    def chapter(self) -> str:
        return self.id.partition(".")[0]

    @property
    def max_points(self) -> int:
        return sum(case.points for case in self.cases)

    @property
    def call_signature(self) -> str:
        return f"{self.function}({', '.join(self.params)})"


def chapter_names() -> list[str]:
    """The chapters that have a case file, sorted: ['ch00', 'ch01', ...]."""
    import mlpcore.exercises as package
    return sorted(info.name for info in pkgutil.iter_modules(package.__path__)
                  if _CHAPTER_MODULE.match(info.name))


def chapter_exercises(chapter: str) -> list[Exercise]:
    """The exercises of one chapter, in the order the chapter presents them."""
    if chapter not in chapter_names():
        raise ValueError(f"no exercises registered for chapter {chapter!r}; "
                         f"known chapters: {', '.join(chapter_names()) or 'none'}")
    module = importlib.import_module(f"mlpcore.exercises.{chapter}")
    exercises = list(module.EXERCISES)
    for exercise in exercises:
        if exercise.chapter != chapter:
            raise ValueError(f"{module.__name__} lists {exercise.id}, which belongs to "
                             f"another chapter")
    return exercises


def all_exercises() -> list[Exercise]:
    return [exercise for chapter in chapter_names() for exercise in chapter_exercises(chapter)]


def exercise_ids() -> list[str]:
    return [exercise.id for exercise in all_exercises()]


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; a clear error listing the known ids otherwise."""
    known = {exercise.id: exercise for exercise in all_exercises()}
    if exercise_id in known:
        return known[exercise_id]
    close = difflib.get_close_matches(str(exercise_id), known, n=1)
    suggestion = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown exercise {exercise_id!r}.{suggestion} "
                     f"Known exercises: {', '.join(known) or 'none'}.")


def find_by_function(function: str, chapters: Optional[Sequence[str]] = None) -> list[Exercise]:
    """Registered exercises whose function has this name (optionally within chapters)."""
    return [exercise for exercise in all_exercises()
            if exercise.function == function
            and (chapters is None or exercise.chapter in chapters)]
