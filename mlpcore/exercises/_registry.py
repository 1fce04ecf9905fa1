"""The registry of graded exercises: what an exercise is, and where to find it.

Each chapter has a case file ``mlpcore/exercises/chNN.py`` that defines
``EXERCISES = [Exercise(...), ...]``. Nothing registers itself at import time: the
registry discovers every ``chNN`` module of this package, so a new chapter only adds
its file. An exercise id is ``"<chapter>.<function name>"``, e.g. ``"ch00.linear_backward"``.

An exercise's cases are not a fixed list: its ``case_generator`` draws them (shapes,
values, conditions) from a ``np.random.Generator``, and ``exercise.cases_for(seed)``
builds them for one seed. The book's inline ``check()`` uses ``PUBLIC_CASES_SEED``; the
instructor's grader passes a private seed, so a table of answers to the public cases
earns nothing. The number of cases, their names and points do not depend on the seed.
"""
from __future__ import annotations

import copy
import difflib
import functools
import importlib
import pkgutil
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

#: Every exercise cell is run after this line alone, in the notebook and in the grader.
DEFAULT_PREAMBLE = "import numpy as np"

_CHAPTER_MODULE = re.compile(r"^ch\d\d$")

#: The seed of the cases that the book's inline ``check()`` runs (public: students see
#: them). The grader draws its cases from another, private seed.
PUBLIC_CASES_SEED = 0


@dataclass(frozen=True)
class Failure:
    """Why a learner's answer is wrong: ``message`` says what was expected and what
    came; ``hint`` points at the likely mistake (empty when there is no good guess).
    ``scale`` is c when the wrong answer is c times the expected one in every entry
    (set by ``compare_array``); the runner names the factor only when c is the same in
    every case of the exercise. ``suspects``, for answers that several wrong rules can
    give (a choice among a few values), holds the hints of every rule that gives this
    answer: the runner shows a hint only if one rule gives the learner's answer in every
    case that reports suspects (failing ones here, passing ones through ``Passed``);
    ``hint`` is then ignored."""
    message: str
    hint: str = ""
    scale: Optional[float] = None
    suspects: Optional[tuple[str, ...]] = None


@dataclass(frozen=True)
class Passed:
    """What a judge may return instead of None for a right answer, to carry evidence
    for the hints: ``suspects``, the hints of the wrong rules that would have passed
    this case too (see ``Failure.suspects``; a rule missing here cannot be the one the
    learner followed)."""
    suspects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One graded test case.

    make_inputs() returns a fresh tuple of positional arguments (the same every call).
    judge(inputs, output) gets a pristine copy of those arguments and what the
    learner's function returned, and returns None (or ``Passed``) when the answer is
    right, else a Failure. A case is worth ``points`` (1 by default). Case generators build cases
    from drawn values with ``Case.of``."""
    name: str
    make_inputs: Callable[[], tuple]
    judge: Callable[[tuple, Any], Optional[Failure]]
    points: int = 1

    @classmethod
    def of(cls, name: str, inputs: tuple, judge: Callable, points: int = 1) -> "Case":
        """A case whose inputs are ``inputs`` (already drawn): each make_inputs() call
        returns a fresh deep copy, so a learner's function cannot change the next call's."""
        frozen = tuple(inputs)
        return cls(name, lambda: copy.deepcopy(frozen), judge, points)


#: A case generator: draws an exercise's cases from the generator it is given.
CaseGenerator = Callable[[np.random.Generator], Sequence[Case]]


def fixed_cases(*cases: Case) -> CaseGenerator:
    """A case generator that ignores its generator: the same cases for every seed.
    Only for exercises whose cases are not yet drawn from the seed (held-out grading
    needs drawn cases; tests/exercises/test_exercises_mechanism.py flags the exercises that use it)."""
    def generate(rng: np.random.Generator) -> tuple[Case, ...]:
        return cases
    generate.fixed = True
    return generate


@dataclass(frozen=True)
class Exercise:
    """A graded exercise: the learner writes ``function(*params)``.

    ``case_generator(rng)`` draws the cases; ``cases_for(seed)`` gives them for one seed
    (``cases`` are the public ones, ``cases_for(PUBLIC_CASES_SEED)``).
    ``exception_hint(exc)`` may turn an exception raised inside the learner's function
    into a hint (e.g. a matmul shape error -> "transpose the weight").
    ``may_modify`` names the arguments the function is allowed to change in place;
    every other array argument is checked to be unchanged after each call."""
    id: str
    function: str
    params: tuple[str, ...]
    case_generator: CaseGenerator
    exception_hint: Optional[Callable[[BaseException], Optional[str]]] = None
    may_modify: frozenset = field(default_factory=frozenset)
    preamble: str = DEFAULT_PREAMBLE

    def __post_init__(self) -> None:
        chapter, _, function = self.id.partition(".")
        if not _CHAPTER_MODULE.match(chapter) or function != self.function:
            raise ValueError(f"exercise id {self.id!r} must be '<chapter>.<function>' "
                             f"like 'ch00.{self.function}'")
        if not callable(self.case_generator):
            raise ValueError(f"exercise {self.id}: case_generator must be a function of "
                             f"an np.random.Generator that returns the cases")

    def cases_for(self, seed: int) -> tuple[Case, ...]:
        """The cases drawn from ``seed`` (a non-negative int): deterministic, and with
        the same names and points for every seed (checked here)."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"a cases seed must be a non-negative integer, got {seed!r}")
        cases = _draw_cases(self, int(seed))
        if int(seed) != PUBLIC_CASES_SEED:
            public = self.cases
            if [(c.name, c.points) for c in cases] != [(c.name, c.points) for c in public]:
                raise ValueError(f"exercise {self.id}: its case generator gave other case "
                                 f"names or points for another seed; names and points "
                                 f"must not depend on the seed (draw values, not names)")
        return cases

    @property
    def cases(self) -> tuple[Case, ...]:
        """The public cases: those the book's ``check()`` runs."""
        return _draw_cases(self, PUBLIC_CASES_SEED)

    @property
    def chapter(self) -> str:
        return self.id.partition(".")[0]

    @property
    def max_points(self) -> int:
        """The same for every seed (``cases_for`` checks it)."""
        return sum(case.points for case in self.cases)

    @property
    def is_fixed(self) -> bool:
        """True if the cases are the same for every seed (``fixed_cases``): not held out."""
        return bool(getattr(self.case_generator, "fixed", False))

    @property
    def call_signature(self) -> str:
        return f"{self.function}({', '.join(self.params)})"


@functools.lru_cache(maxsize=512)
def _draw_cases(exercise: Exercise, seed: int) -> tuple[Case, ...]:
    """Each exercise draws from its own stream (the seed and the exercise's id), so
    adding or changing one exercise leaves the others' cases as they were."""
    rng = np.random.default_rng([seed, zlib.crc32(exercise.id.encode("utf-8"))])
    cases = tuple(exercise.case_generator(rng))
    if not cases or not all(isinstance(case, Case) for case in cases):
        raise ValueError(f"exercise {exercise.id}: its case generator must return a "
                         f"non-empty sequence of Case")
    names = [case.name for case in cases]
    if len(set(names)) != len(names):
        raise ValueError(f"exercise {exercise.id}: two cases share a name ({names})")
    return cases


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
