"""Judge an exercise's cases and turn the verdicts into lines.

``check`` in a notebook calls the learner's function here (through ``calling.call``) on
the public cases; the grader calls it in a sandboxed child with the same
``calling.call`` on the cases of its private seed, and judges the recorded outcomes here,
outside the child, with ``judge_case`` and ``collect``. Same judges, same verdicts.

Hints: a case's hint names a mistake only when the answer matched that mistake (the
case file's judges decide). ``collect`` then shows each hint once per exercise (the
first case that earned it); adds the constant-factor hint only when the answer is the
same multiple c of the expected one in every case; and for choices that several wrong
rules can give (``Failure.suspects``, ``Passed.suspects``), names a rule only if it
alone gives the learner's answer in every case, failing or passing.
"""
from __future__ import annotations

import copy
import difflib
import inspect
import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Optional

from mlpcore.exercises.calling import CallOutcome, call, signature_problem
from mlpcore.exercises._registry import PUBLIC_CASES_SEED, Case, Exercise, Failure, Passed

PASS_MARK = "✓"
FAIL_MARK = "✗"
TODO_MARK = "·"

NOT_ATTEMPTED = ("not attempted yet: replace the `raise NotImplementedError(...)` line of "
                 "the exercise cell with your code, run that cell, then this check again")


@dataclass
class CaseResult:
    """The verdict on one case. status: passed | failed | error | not_attempted.
    ``scale``, ``suspects``: see ``Failure``; ``collect`` uses them and clears them."""
    name: str
    status: str
    points: int
    max_points: int
    message: str = ""
    hint: str = ""
    scale: Optional[float] = None
    suspects: Optional[tuple] = None

    def line(self) -> str:
        if self.status == "passed":
            return f"  {PASS_MARK} {self.name}"
        if self.status == "not_attempted":
            return f"  {TODO_MARK} {self.name}: not attempted yet"
        hint = f" → hint: {self.hint}" if self.hint else ""
        return f"  {FAIL_MARK} {self.name}: {self.message}{hint}"


@dataclass
class ExerciseResult:
    """The verdict on one exercise.

    status: passed (every case) | partial | failed (no case) | not_attempted |
    error (the function could not be graded at all: ``message`` says why). For a
    graded function, ``message`` may hold a note (e.g. a line of the cell that failed
    after the function was defined)."""
    exercise: str
    status: str
    points: int
    max_points: int
    message: str = ""
    cases: list[CaseResult] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What ``check`` prints: a header, then one line per case."""
        if self.status == "not_attempted":
            return [f"{self.exercise}: {NOT_ATTEMPTED}"]
        if self.status == "error":
            return [f"{self.exercise}: {self.points}/{self.max_points} points. {FAIL_MARK} {self.message}"]
        verdict = "all cases pass" if self.status == "passed" else "see below"
        note = [f"  {self.message}"] if self.message else []
        return ([f"{self.exercise}: {self.points}/{self.max_points} points, {verdict}"]
                + [case.line() for case in self.cases] + note)

    def summary(self) -> str:
        """The lines, in the language set by ``mlpcore.exercises.set_language`` or
        MLPCORE_LANG (English by default; see ``_i18n``)."""
        from mlpcore.exercises._i18n import localized_lines
        return "\n".join(localized_lines(self))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def error(cls, exercise: Exercise, message: str, status: str = "error") -> "ExerciseResult":
        return cls(exercise.id, status, 0, exercise.max_points, message)

    def __repr__(self) -> str:
        return f"<{self.exercise}: {self.points}/{self.max_points} points, {self.status}>"

    def _ipython_display_(self) -> None:
        """Show nothing in Jupyter: ``check`` has already printed the verdict, and a
        stored Out[] would only repeat it."""


def run_exercise(exercise: Exercise, function: Callable,
                 seed: int = PUBLIC_CASES_SEED) -> ExerciseResult:
    """Run every case drawn from ``seed`` on ``function`` in this process (``check``
    uses the public seed)."""
    problem = signature_problem(exercise.function, exercise.params, function)
    if problem is not None:
        return ExerciseResult.error(exercise, problem)
    verdicts = []
    for case in exercise.cases_for(seed):
        arguments = case.make_inputs()
        pristine = copy.deepcopy(arguments)
        outcome = call(function, arguments, exercise.params, tuple(exercise.may_modify))
        verdicts.append(judge_case(exercise, case, pristine, outcome))
    return collect(exercise, verdicts)


def collect(exercise: Exercise, cases: list[CaseResult], message: str = "") -> ExerciseResult:
    """The exercise's verdict from its cases' verdicts (hints settled as the module
    docstring says)."""
    cases = _settle_hints(cases)
    points = sum(case.points for case in cases)
    if all(case.status == "not_attempted" for case in cases):
        status = "not_attempted"
    elif points == exercise.max_points:
        status = "passed"
    else:
        status = "partial" if points > 0 else "failed"
    message = NOT_ATTEMPTED if status == "not_attempted" else message
    return ExerciseResult(exercise.id, status, points, exercise.max_points, message, cases)


def _settle_hints(cases: list[CaseResult]) -> list[CaseResult]:
    """Each failing case's hint as the module docstring says, each hint once (on the
    first case that has it); ``scale`` and ``suspects`` cleared."""
    factor_hint, rule_hint = _factor_hint(cases), _rule_hint(cases)
    settled, seen = [], set()
    for case in cases:
        hint = ""
        if case.status != "passed":
            hint = rule_hint if case.suspects is not None else case.hint or factor_hint
        settled.append(replace(case, hint="" if hint in seen else hint, scale=None,
                               suspects=None))
        seen.add(hint)
    return settled


def _factor_hint(cases: list[CaseResult]) -> str:
    """The constant-factor hint, if the answer is c times the expected one in every
    entry (``_compare._scale_factor``) of every case, with the same c: one case, and
    above all one number, is always "c times" the expected one."""
    scales = [case.scale for case in cases]
    if len(scales) < 2 or any(s is None for s in scales) or \
            not all(math.isclose(s, scales[0], rel_tol=1e-6) for s in scales):
        return ""
    if math.isclose(scales[0], -1.0, rel_tol=1e-6):
        return "the sign is flipped"
    return (f"your values are {scales[0]:.4g} times the expected ones in every case: a "
            f"missing or extra constant factor")


def _rule_hint(cases: list[CaseResult]) -> str:
    """The one wrong rule that gives the learner's answer in every case that reports
    suspects (passing ones included), if some case failed; else no hint."""
    if not any(case.suspects is not None and case.status != "passed" for case in cases):
        return ""
    common = set.intersection(*[set(case.suspects) for case in cases
                                if case.suspects is not None])
    return common.pop() if len(common) == 1 else ""


def judge_case(exercise: Exercise, case: Case, pristine: tuple, outcome: CallOutcome) -> CaseResult:
    """The verdict on one case from what the call did. ``pristine`` is an untouched
    copy of the case's inputs; the judge may take a third argument, the arguments as
    they were after the call (for exercises that update an argument in place)."""
    def verdict(status: str, failure: Optional[Failure] = None) -> CaseResult:
        if status == "passed":
            return CaseResult(case.name, status, case.points, case.points,
                              suspects=failure.suspects if failure else None)
        return CaseResult(case.name, status, 0, case.points,
                          failure.message if failure else "", failure.hint if failure else "",
                          failure.scale if failure else None,
                          failure.suspects if failure else None)

    if isinstance(outcome.raised, NotImplementedError):
        return verdict("not_attempted")
    if isinstance(outcome.raised, SystemExit):
        return verdict("error", Failure(f"your function called sys.exit({outcome.exit_code})",
                                        "return the result instead of exiting"))
    if outcome.raised is not None:
        return verdict("error", _exception_failure(exercise, outcome.raised, outcome.where))
    changed = outcome.changed
    if changed:
        return verdict("failed", Failure(
            f"your function changed its input `{changed}` in place",
            f"`{changed} -= ...`, `{changed} *= ...` or `{changed}[...] = ...` (or the same on "
            f"an array inside `{changed}`) modify the caller's array; compute a new array "
            f"instead (`new = {changed} - ...`)"))
    try:
        if _takes_after(case.judge):
            failure = case.judge(copy.deepcopy(pristine), outcome.output, outcome.after)
        else:
            failure = case.judge(copy.deepcopy(pristine), outcome.output)
    except Exception as exc:  # an answer so odd that the comparison itself failed
        failure = Failure(f"could not check the answer ({type(exc).__name__}: "
                          f"{str(exc)[:200]})")
    if failure is None or isinstance(failure, Passed):
        return verdict("passed", failure)
    if outcome.warning:
        failure = replace(failure, message=f"{failure.message} (NumPy warned: "
                                           f"{outcome.warning})")
    return verdict("failed", failure)


def _takes_after(judge: Callable) -> bool:
    try:
        inspect.signature(judge).bind(None, None, None)
    except (TypeError, ValueError):
        return False
    return True


def _exception_failure(exercise: Exercise, exc: BaseException, where: str) -> Failure:
    text = str(exc).strip().splitlines()
    detail = f": {text[0][:200]}" if text else ""
    message = f"your function raised {type(exc).__name__}{detail}{where}"
    hint = ((exercise.exception_hint(exc) if exercise.exception_hint else None)
            or _generic_hint(exc, exercise.params))
    return Failure(message, hint)


def _undefined_name_hint(text: str, params: tuple) -> str:
    """A misspelt parameter is a typo, not a missing import from the notebook."""
    match = re.search(r"name '(\w+)' is not defined", text)
    if match is None:
        return ("the exercise cell must be self-contained: only `import numpy as np` "
                "is run before it")
    name = match.group(1)
    close = difflib.get_close_matches(name, list(params) + ["np"], n=1, cutoff=0.6)
    if close:
        return f"`{name}` is not defined: a typo for `{close[0]}`?"
    return (f"`{name}` is not defined: the exercise cell must be self-contained (only "
            f"`import numpy as np` is run before it), so define `{name}` inside it, or "
            f"fix its spelling")


def _generic_hint(exc: BaseException, params: tuple = ()) -> str:
    text = str(exc)
    if isinstance(exc, ValueError) and ("matmul" in text or "aligned" in text):
        return ("the shapes of a matrix product do not fit: print the shapes (x.shape) "
                "and check which matrix needs a transpose")
    if isinstance(exc, ValueError) and "broadcast" in text:
        return ("two arrays of incompatible shapes were combined: check the axis you "
                "reduced over and use keepdims=True to keep it")
    if isinstance(exc, IndexError):
        return "an index is out of range: check which axis you index into"
    if isinstance(exc, NameError):
        return _undefined_name_hint(text, params)
    if isinstance(exc, TypeError) and "NoneType" in text:
        return "a value is None where an array was expected: did something forget to return?"
    if isinstance(exc, (FloatingPointError, ZeroDivisionError)):
        return "a division by zero or an overflow: check the denominators"
    return ""
