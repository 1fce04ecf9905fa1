"""Compare a learner's answer with the reference and say, in one line, what is wrong.

Case files call ``compare_outputs`` (several named arrays) or ``compare_array`` (one);
both return None when the answer is right, else a ``Failure`` whose message shows
what was expected and what came (shapes, the first few numbers, the largest error)
and whose hint names the likely mistake. Known mistakes are passed in as
``(wrong_value, hint)`` pairs computed by the case file: if the learner's answer
equals one of them, that hint is the diagnosis. A wrong value given as a plain tuple
is a shape: an answer of that (wrong) shape gets the hint, whatever its values.
There is no fallback guess: an answer that matches no known mistake gets no hint,
except the constant-factor one, which ``_runner.collect`` gives only when the answer
is the same multiple of the expected one in every entry of every case.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Sequence, Union

import numpy as np

from mlpcore.exercises._registry import Failure

RTOL = 1e-6
ATOL = 1e-9
_PREVIEW = 4

class Mistake(NamedTuple):
    """A known wrong answer and the hint it earns. ``wrong`` is the wrong value (an
    array or a number), or a wrong SHAPE given as a plain tuple: an answer of that shape
    gets the hint, whatever its values. A ``(wrong, hint)`` pair is accepted as well."""

    wrong: Any
    hint: str


def describe(value: Any) -> str:
    """A short, deterministic description of any value (for 'got ...')."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        kind = type(value).__name__
        return f"a {kind} of length {len(value)}"
    if isinstance(value, (int, float, np.number)):
        return f"the number {float(value):.4g}"
    return f"a {type(value).__name__}"


def preview(array: np.ndarray) -> str:
    """'(4, 3) [0.1234, -1.05, 0.3372, 2.1, ...]': the shape and the first few values."""
    flat = np.ravel(array)
    values = ", ".join(f"{float(v):.4g}" for v in flat[:_PREVIEW])
    more = ", ..." if flat.size > _PREVIEW else ""
    return f"{tuple(np.shape(array))} [{values}{more}]"


def _close(got: np.ndarray, expected: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> bool:
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def _scale_factor(got: np.ndarray, expected: np.ndarray) -> Optional[float]:
    """c if got == c * expected for one constant c != 1 (e.g. a missing 1/N), else None."""
    norm2 = float(np.sum(expected * expected))
    if norm2 == 0.0:
        return None
    factor = float(np.sum(got * expected)) / norm2
    residual = float(np.linalg.norm(got - factor * expected))
    if not (np.isfinite(factor) and np.isfinite(residual)):
        return None
    if residual > 1e-6 * np.sqrt(norm2) * max(1.0, abs(factor)) or abs(factor - 1.0) < 1e-6:
        return None
    return factor


def as_numeric_array(value: Any, label: str) -> np.ndarray | Failure:
    """``value`` as a real ndarray, or a Failure saying why it is not one."""
    if value is None:
        return Failure(f"{label}: got None instead of an array",
                       "did you forget a `return` statement, or return the result of an "
                       "in-place operation such as `x += 1`?")
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        return Failure(f"{label}: could not turn {describe(value)} into an array ({exc})")
    if array.dtype.kind not in "fiu":
        return Failure(f"{label}: expected real numbers, got {describe(value)}",
                       "return a NumPy array of floats")
    return array


def compare_array(label: str, got: Any, expected: np.ndarray, *,
                  mistakes: Sequence[Mistake] = (), nan_hint: str = "",
                  default_hint: str = "", rtol: float = RTOL, atol: float = ATOL) -> Optional[Failure]:
    """None if ``got`` equals ``expected`` (same shape and dtype, values within
    rtol/atol), else a Failure with the most specific hint available."""
    array = as_numeric_array(got, label)
    if isinstance(array, Failure):
        return array
    expected = np.asarray(expected)

    if array.shape != expected.shape:
        message = f"{label}: expected shape {expected.shape}, got shape {array.shape}"
        return Failure(message, _shape_hint(array, expected, mistakes))

    # A single number may come back as a Python int (a sum that started at 0 and found
    # nothing to add): its value is judged, not its type.
    integer_scalar = array.ndim == 0 and expected.ndim == 0 and array.dtype.kind in "iu"
    if array.dtype != expected.dtype and not integer_scalar:
        hint = ("integer arithmetic lost the fractions: build arrays from the inputs "
                "(np.zeros_like(x), x.copy()) instead of np.zeros(n, dtype=int)"
                if array.dtype.kind in "iu" else
                "keep the dtype of the inputs: no astype(...) to another precision")
        return Failure(f"{label}: expected dtype {expected.dtype}, got {array.dtype}", hint)

    bad = ~np.isfinite(array)
    if bad.any() and np.isfinite(expected).all():
        message = (f"{label}: {int(bad.sum())} of {array.size} entries are NaN or inf "
                   f"(expected {preview(expected)})")
        return Failure(message, nan_hint or "look for an overflow (exp of a large number) "
                                            "or a division by zero")

    if _close(array, expected, rtol, atol):
        return None

    error = float(np.max(np.abs(array - expected)))
    message = (f"{label}: expected {preview(expected)}, got {preview(array)}; "
               f"max abs error {error:.3g}")
    hint = _closest_mistake(array, expected, mistakes)
    if hint is not None:
        return Failure(message, hint)
    # A constant factor is only a diagnosis if it is the same in every case: the runner
    # decides (one case, and above all one number, is always "c times" the expected one).
    return Failure(message, default_hint, scale=_scale_factor(array, expected))


def _closest_mistake(array: np.ndarray, expected: np.ndarray,
                     mistakes: Sequence[Mistake]) -> Optional[str]:
    """The hint of the known wrong answer that ``array`` equals; if it is within the
    tolerance of several, the nearest one's (two mistakes can differ by little). A
    mistake that this case cannot tell from the right answer (within 10 times the
    tolerance: a late step's bias correction, say) names nothing here."""
    matches = []
    for wrong, hint in mistakes:
        if isinstance(wrong, tuple):
            continue
        wrong = np.asarray(wrong)
        if _close(wrong, expected, 10 * RTOL, 10 * ATOL):
            continue
        if _close(array, wrong):
            matches.append((float(np.max(np.abs(array - wrong), initial=0.0)), hint))
    return min(matches, key=lambda match: match[0])[1] if matches else None


def _shape_hint(array: np.ndarray, expected: np.ndarray, mistakes: Sequence[Mistake]) -> str:
    for wrong, hint in mistakes:  # a known wrong answer first, then a known wrong shape
        if not isinstance(wrong, tuple) and _close(array, np.asarray(wrong)):
            return hint
    for wrong, hint in mistakes:
        shape = wrong if isinstance(wrong, tuple) else np.shape(wrong)
        if tuple(shape) == array.shape:
            return hint
    if array.ndim == 2 and array.shape == expected.shape[::-1]:
        return "the result looks transposed: check the order of the matrix product"
    if array.shape == (1,) + expected.shape or array.shape == expected.shape + (1,):
        return "there is an extra axis of length 1: drop keepdims=True or index it away"
    if array.size == expected.size:
        return "the right number of entries in the wrong shape: check reshapes and keepdims"
    return ""


def _swapped(got_other: Any, expected_here: np.ndarray) -> bool:
    """True if the other slot holds this output's expected value: a real swap, not a
    wrong value that happens to equal another output (a known mistake's hint wins)."""
    try:
        return _close(np.asarray(got_other, dtype=np.float64), np.asarray(expected_here))
    except (TypeError, ValueError):
        return False


def compare_outputs(output: Any, names: Sequence[str], expected: Sequence[np.ndarray], *,
                    mistakes: Optional[dict[str, Sequence[Mistake]]] = None,
                    nan_hint: Union[str, dict[str, str]] = "",
                    default_hints: Optional[dict[str, str]] = None,
                    ) -> Optional[Failure]:
    """Check a function that returns a tuple of arrays (``names`` in order).
    ``nan_hint`` may be one hint or one per output name.

    The first wrong entry is reported. If it equals another entry's expected value (and
    no known mistake explains it, or the two are really swapped), the hint says the
    outputs are in the wrong order."""
    mistakes = mistakes or {}
    default_hints = default_hints or {}
    nan_hints = nan_hint if isinstance(nan_hint, dict) else {name: nan_hint for name in names}
    order = ", ".join(names)
    if len(names) == 1:
        return compare_array(names[0], output, expected[0], mistakes=mistakes.get(names[0], ()),
                             nan_hint=nan_hints.get(names[0], ""),
                             default_hint=default_hints.get(names[0], ""))
    if not isinstance(output, (tuple, list)) or len(output) != len(names):
        return Failure(f"expected a tuple of {len(names)} arrays ({order}), got {describe(output)}",
                       f"end with `return {order}`")
    for index, (name, got, want) in enumerate(zip(names, output, expected)):
        failure = compare_array(name, got, want, mistakes=mistakes.get(name, ()),
                                nan_hint=nan_hints.get(name, ""),
                                default_hint=default_hints.get(name, ""))
        if failure is None:
            continue
        array = np.asarray(got) if isinstance(got, np.ndarray) else None
        for other_index, other in enumerate(expected):
            if other_index != index and array is not None and _close(array, other) \
                    and (not failure.hint or _swapped(output[other_index], want)):
                return Failure(failure.message,
                               f"this is {names[other_index]}: return them in the order "
                               f"({order})")
        return failure
    return None
