"""Call a learner's function on one case's inputs and record what happened.

The only place a learner's function is called: by ``check`` in a notebook, and by
the instructor's grader (``mlpgrader``) in its sandboxed child process, which is given
a copy of this file and nothing else of mlpcore. So it imports the standard library
and NumPy only, and it records facts (the output, the exception, the inputs it
changed); it never judges them. The verdicts are made by ``judge_case`` (for the
grader: outside the sandbox). Public because the grader depends on it.
"""
from __future__ import annotations

import copy
import inspect
import linecache
import traceback
import warnings
from dataclasses import dataclass
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
