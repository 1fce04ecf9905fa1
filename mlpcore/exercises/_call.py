"""Call a learner's function on one case's inputs and record what happened.

The only place a learner's function is called: by ``check`` in a notebook, and by
the grader's sandboxed child process, which is given a copy of this file and nothing
else of mlpcore. So it imports the standard library and NumPy only, and it records
facts (the output, the exception, the inputs it changed); it never judges them. The
verdicts are made by ``_runner.judge_case`` (for the grader: outside the sandbox).
"""
from __future__ import annotations

import copy
import inspect
import linecache
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np


@dataclass
class CallOutcome:
    """What one call did. ``raised`` is the exception (None if it returned);
    ``where`` the learner's line that raised (" (line 7: `return x @ w`)");
    ``exit_code`` the repr of a sys.exit code; ``changed`` the first argument it
    modified in place that it may not modify; ``after`` every argument after the call;
    ``warning`` the first NumPy/Python warning it caused."""
    output: Any = None
    raised: Optional[BaseException] = None
    where: str = ""
    exit_code: str = ""
    changed: Optional[str] = None
    after: tuple = ()
    warning: str = ""


def call(function: Callable, arguments: tuple, params: Sequence[str],
         may_modify: Sequence[str] = ()) -> CallOutcome:
    """Call ``function(*arguments)``; ``arguments`` is consumed (it may be changed)."""
    before = copy.deepcopy(arguments)
    outcome = CallOutcome()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome.output = function(*arguments)
        except SystemExit as exc:
            outcome.raised, outcome.exit_code = exc, repr(exc.code)[:200]
        except Exception as exc:
            outcome.raised, outcome.where = exc, location(function, exc)
    outcome.after = tuple(arguments)
    if outcome.raised is None:
        outcome.changed = changed_input(params, before, arguments, may_modify)
        outcome.warning = next((str(w.message).splitlines()[0][:120] for w in caught
                                if str(w.message).strip()), "")
    return outcome


def changed_input(params: Sequence[str], before: tuple, after: tuple,
                  may_modify: Sequence[str]) -> Optional[str]:
    """The first argument holding an array (directly, or inside a list, tuple or dict)
    changed in place, that the exercise does not allow."""
    for name, old, new in zip(params, before, after):
        if name not in may_modify and not _unchanged(old, new):
            return name
    return None


def _unchanged(old: Any, new: Any) -> bool:
    if isinstance(old, np.ndarray):
        return (isinstance(new, np.ndarray) and old.shape == new.shape
                and np.array_equal(old, new, equal_nan=old.dtype.kind in "fc"))
    if isinstance(old, (list, tuple)):
        return (isinstance(new, type(old)) and len(old) == len(new)
                and all(_unchanged(a, b) for a, b in zip(old, new)))
    if isinstance(old, dict):
        return (isinstance(new, dict) and old.keys() == new.keys()
                and all(_unchanged(old[key], new[key]) for key in old))
    return True  # numbers, strings, generators, functions: not checked here


def location(function: Callable, exc: BaseException) -> str:
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
    return f" (line {frame.lineno}: `{text[:120]}`)" if text else f" (line {frame.lineno})"


def signature_problem(function_name: str, params: Sequence[str], function: Any) -> Optional[str]:
    """Why ``function`` cannot be called as ``function_name(*params)``, or None."""
    call_signature = f"{function_name}({', '.join(params)})"
    if not callable(function):
        return (f"`{function_name}` is {type(function).__name__}, not a function; "
                f"define it with `def {call_signature}:`")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins without a signature: just try calling
        return None
    try:
        signature.bind(*params)
    except TypeError as exc:
        return (f"wrong signature: {function_name}{signature} cannot be called as "
                f"{call_signature} ({exc}); keep the parameters given in the exercise")
    return None


@dataclass
class CellOutcome:
    """What running an exercise cell gave: the function (None if not defined), and a
    one-line ``problem`` when the cell could not be compiled or run to its end.
    ``fatal`` means there is nothing to grade; ``stub`` that the cell raised
    NotImplementedError before defining the function."""
    function: Any = None
    problem: str = ""
    fatal: bool = False
    stub: bool = False
    namespace: dict = field(default_factory=dict)


def run_cell(source: str, function_name: str, params: Sequence[str], preamble: str,
             filename: str = "<exercise cell>") -> CellOutcome:
    """Run the preamble, then the cell, in a fresh namespace; find the function."""
    source = without_magics(source)
    try:
        code = compile(source, filename, "exec")
    except SyntaxError as exc:
        text = (exc.text or "").strip()[:120]
        shown = f": `{text}`" if text else ""
        return CellOutcome(problem=f"syntax error in the exercise cell, line {exc.lineno}: "
                                   f"{exc.msg}{shown}", fatal=True)
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
        return CellOutcome(problem=f"the exercise cell cannot be compiled "
                                   f"({type(exc).__name__})", fatal=True)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # A stray check(...) pasted into the exercise cell must not cost the exercise.
    namespace: dict[str, Any] = {"__name__": "__exercise__", "check": lambda *a, **k: None}
    outcome = CellOutcome(namespace=namespace)
    try:
        exec(preamble, namespace)
        exec(code, namespace)
    except SystemExit as exc:
        return CellOutcome(problem=f"the exercise cell called sys.exit({repr(exc.code)[:80]})",
                           fatal=True)
    except Exception as exc:
        line = next((frame.lineno for frame in reversed(traceback.extract_tb(exc.__traceback__))
                     if frame.filename == filename), None)
        where = f", line {line}" if line else ""
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        outcome.problem = f"running the exercise cell raised {type(exc).__name__}{where}: {first}"
        if function_name not in namespace:
            outcome.fatal = True
            outcome.stub = isinstance(exc, NotImplementedError)
            return outcome
    if function_name not in namespace:
        return CellOutcome(problem=f"the exercise cell does not define `{function_name}`; "
                                   f"keep `def {function_name}({', '.join(params)}):`",
                           fatal=True)
    outcome.function = namespace[function_name]
    problem = signature_problem(function_name, params, outcome.function)
    if problem:
        return CellOutcome(problem=problem, fatal=True)
    return outcome


def without_magics(source: str) -> str:
    """IPython magics and shell escapes (%time, !pip) are not Python: blank them out
    (keeping the line numbering) so the rest of the cell can still be graded."""
    lines = source.splitlines()
    return "\n".join(("pass  # " + line.strip()) if line.lstrip().startswith(("%", "!"))
                     and not line.startswith((" ", "\t")) else line for line in lines)
