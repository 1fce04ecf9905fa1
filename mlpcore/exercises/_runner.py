"""Run an exercise's cases against a learner's function; turn the outcome into lines.

This is the one place where a learner's function is called, both by ``check`` in a
notebook and by the grader's child process, so the two always agree.
"""
from __future__ import annotations

import copy
import inspect
import linecache
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from mlpcore.exercises._registry import Exercise, Failure

PASS_MARK = "✓"
FAIL_MARK = "✗"
TODO_MARK = "·"

NOT_ATTEMPTED = ("not attempted yet: replace the `raise NotImplementedError(...)` line of "
                 "the exercise cell with your code, run that cell, then this check again")


@dataclass
class CaseResult:
    """The verdict on one case. status: passed | failed | error | not_attempted."""
    name: str
    status: str
    points: int
    max_points: int
    message: str = ""
    hint: str = ""

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
        return "\n".join(self.lines())

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ExerciseResult":
        cases = [CaseResult(**case) for case in data.get("cases", [])]
        return cls(**{**data, "cases": cases})

    @classmethod
    def error(cls, exercise: Exercise, message: str, status: str = "error") -> "ExerciseResult":
        return cls(exercise.id, status, 0, exercise.max_points, message)

    def __repr__(self) -> str:
        return f"<{self.exercise}: {self.points}/{self.max_points} points, {self.status}>"

    def _ipython_display_(self) -> None:
        """Show nothing in Jupyter: ``check`` has already printed the verdict, and a
        stored Out[] would only repeat it."""


def signature_problem(exercise: Exercise, function: Callable) -> Optional[str]:
    """Why ``function`` cannot be called as the exercise's function, or None."""
    if not callable(function):
        return (f"`{exercise.function}` is {type(function).__name__}, not a function; "
                f"define it with `def {exercise.call_signature}:`")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins without a signature: just try calling
        return None
    try:
        signature.bind(*exercise.params)
    except TypeError as exc:
        return (f"wrong signature: {exercise.function}{signature} cannot be called as "
                f"{exercise.call_signature} ({exc}); keep the parameters given in the exercise")
    return None


def run_exercise(exercise: Exercise, function: Callable) -> ExerciseResult:
    """Run every case of ``exercise`` on ``function`` and collect the verdicts."""
    problem = signature_problem(exercise, function)
    if problem is not None:
        return ExerciseResult.error(exercise, problem)
    cases = [_run_case(exercise, case, function) for case in exercise.cases]
    points = sum(case.points for case in cases)
    if all(case.status == "not_attempted" for case in cases):
        status = "not_attempted"
    elif points == exercise.max_points:
        status = "passed"
    else:
        status = "partial" if points > 0 else "failed"
    message = NOT_ATTEMPTED if status == "not_attempted" else ""
    return ExerciseResult(exercise.id, status, points, exercise.max_points, message, cases)


def _run_case(exercise: Exercise, case, function: Callable) -> CaseResult:
    def verdict(status: str, failure: Optional[Failure] = None) -> CaseResult:
        passed = status == "passed"
        return CaseResult(case.name, status, case.points if passed else 0, case.points,
                          failure.message if failure else "", failure.hint if failure else "")

    arguments = case.make_inputs()
    pristine = copy.deepcopy(arguments)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            output = function(*arguments)
        except NotImplementedError:
            return verdict("not_attempted")
        except SystemExit as exc:
            return verdict("error", Failure(
                f"your function called sys.exit({exc.code!r})",
                "return the result instead of exiting"))
        except Exception as exc:
            return verdict("error", _exception_failure(exercise, function, exc))

    changed = _changed_inputs(exercise, pristine, arguments)
    if changed:
        return verdict("failed", Failure(
            f"your function changed its input `{changed}` in place",
            f"`{changed} -= ...`, `{changed} *= ...` or `{changed}[...] = ...` modify the "
            f"caller's array; compute a new array instead (`new = {changed} - ...`)"))
    try:
        failure = case.judge(pristine, output)
    except Exception as exc:  # an answer so odd that the comparison itself failed
        failure = Failure(f"could not check the answer ({type(exc).__name__}: {exc})")
    if failure is None:
        return verdict("passed")
    warned = _first_warning(caught)
    if warned:
        failure = Failure(f"{failure.message} (NumPy warned: {warned})", failure.hint)
    return verdict("failed", failure)


def _changed_inputs(exercise: Exercise, before: tuple, after: tuple) -> Optional[str]:
    for name, old, new in zip(exercise.params, before, after):
        if name in exercise.may_modify or not isinstance(old, np.ndarray):
            continue
        if not isinstance(new, np.ndarray) or not np.array_equal(old, new, equal_nan=True):
            return name
    return None


def _first_warning(caught: list) -> str:
    for record in caught:
        return str(record.message).splitlines()[0][:120]
    return ""


def _exception_failure(exercise: Exercise, function: Callable, exc: BaseException) -> Failure:
    text = str(exc).strip().splitlines()
    detail = f": {text[0][:200]}" if text else ""
    where = _location(function, exc)
    message = f"your function raised {type(exc).__name__}{detail}{where}"
    hint = (exercise.exception_hint(exc) if exercise.exception_hint else None) or _generic_hint(exc)
    return Failure(message, hint)


def _location(function: Callable, exc: BaseException) -> str:
    """' (line 7: `return x @ w`)': the learner's line that raised, if we can tell."""
    code = getattr(function, "__code__", None)
    if code is None:
        return ""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if frame.filename == code.co_filename]
    if not frames:
        return ""
    frame = frames[-1]
    text = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    return f" (line {frame.lineno}: `{text}`)" if text else f" (line {frame.lineno})"


def _generic_hint(exc: BaseException) -> str:
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
        return ("the exercise cell must be self-contained: only `import numpy as np` "
                "is run before it")
    if isinstance(exc, TypeError) and "NoneType" in text:
        return "a value is None where an array was expected: did something forget to return?"
    if isinstance(exc, (FloatingPointError, ZeroDivisionError)):
        return "a division by zero or an overflow: check the denominators"
    return ""


def evaluate_source(exercise: Exercise, source: str, filename: str = "<exercise cell>") -> ExerciseResult:
    """Grade the source of an exercise cell: run the preamble, then the cell, in a fresh
    namespace; find the function; run the cases. Used by the grader's child process."""
    source = _without_magics(source)
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        shown = f": `{text}`" if text else ""
        return ExerciseResult.error(
            exercise, f"syntax error in the exercise cell, line {exc.lineno}: {exc.msg}{shown}")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # A stray check(...) pasted into the exercise cell must not cost the exercise.
    namespace: dict[str, Any] = {"__name__": "__exercise__", "check": lambda *args, **kwargs: None}
    problem = ""
    try:
        exec(exercise.preamble, namespace)
        exec(code, namespace)
    except SystemExit as exc:
        return ExerciseResult.error(exercise, f"the exercise cell called sys.exit({exc.code!r})")
    except Exception as exc:
        line = next((frame.lineno for frame in reversed(traceback.extract_tb(exc.__traceback__))
                     if frame.filename == filename), None)
        where = f", line {line}" if line else ""
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        problem = f"running the exercise cell raised {type(exc).__name__}{where}: {first}"
        if exercise.function not in namespace:
            if isinstance(exc, NotImplementedError):
                return ExerciseResult.error(exercise, NOT_ATTEMPTED, status="not_attempted")
            return ExerciseResult.error(exercise, problem)
    if exercise.function not in namespace:
        return ExerciseResult.error(
            exercise, f"the exercise cell does not define `{exercise.function}`; "
                      f"keep `def {exercise.call_signature}:`")
    result = run_exercise(exercise, namespace[exercise.function])
    if problem and result.status != "error":
        # The function was defined before the failing line (say, a quick test that
        # uses a variable from another cell): grade it, and say what was ignored.
        result.message = f"note: {problem} (ignored: the function was graded)"
    return result


def _without_magics(source: str) -> str:
    """IPython magics and shell escapes (%time, !pip) are not Python: blank them out
    (keeping the line numbering) so the rest of the cell can still be graded."""
    lines = source.splitlines()
    return "\n".join(("pass  # " + line.strip()) if line.lstrip().startswith(("%", "!"))
                     and not line.startswith((" ", "\t")) else line for line in lines)
