"""Claims: each sentence of the book that states a measured fact, checked where it is measured.

A chapter quotes a number through ``glue`` and guards the sentence that uses it with

    claim(gain.mean() > 2 * gain_se, "dropout's mean gain is beyond two standard errors",
          gain=gain.mean(), se=gain_se)

``claim`` records the sentence (an id made from its text, the cell it ran in, the numbers
it compared, whether it held) and then, by mode:

* ``"strict"`` (the default, and how the book is executed and tested): a claim that does
  not hold raises ``ClaimBroken``, so a chapter cannot be stored with a false sentence;
* ``"record"`` (``make replicate``): it only records, so one run on other seeds reports
  every claim that fails there;
* ``"warn"`` (the Jupyter/Colab edition a learner runs): it prints one line saying which
  sentence of the text no longer holds for the learner's settings, and carries on.

The environment variable ``MLPCORE_CLAIMS`` (``strict``/``record``/``warn``), when set,
wins over ``set_mode``: the tests run the learner's edition strictly that way.
"""
from __future__ import annotations

import math
import numbers
import os
import re
import sys

import numpy as np

__all__ = ["claim", "ClaimBroken", "set_mode", "mode", "records", "glued", "reset"]

MODES = ("strict", "record", "warn")
_state = {"mode": "strict"}
_records: list[dict] = []
_glued: dict[str, object] = {}
_ids: dict[str, int] = {}


class ClaimBroken(AssertionError):
    """A sentence of the text does not hold for the numbers just computed."""


def set_mode(new_mode: str) -> None:
    """Choose what a failed claim does: "strict" raises, "record" records, "warn" prints."""
    if new_mode not in MODES:
        raise ValueError(f"claims.set_mode: mode must be one of {MODES}, got {new_mode!r}")
    _state["mode"] = new_mode


def mode() -> str:
    """The mode in force: MLPCORE_CLAIMS if set, else the last set_mode (default "strict")."""
    from_env = os.environ.get("MLPCORE_CLAIMS", "").strip()
    if from_env:
        if from_env not in MODES:
            raise ValueError(f"MLPCORE_CLAIMS must be one of {MODES}, got {from_env!r}")
        return from_env
    return _state["mode"]


def claim(condition, text: str, **numbers) -> None:
    """Check one sentence of the text: record it, and raise, record or warn by mode.

    ``condition`` is what makes the sentence true (a bool or a NumPy bool); ``text`` the
    sentence, short; ``numbers`` the quantities compared, shown when it fails and kept
    in the replication report. Returns nothing, so a cell that ends with a claim shows
    nothing; ``records()`` says whether it held.
    """
    if isinstance(condition, np.ndarray):
        if condition.size != 1:
            raise TypeError(f"claim({text!r}): the condition is an array of shape "
                            f"{condition.shape}; reduce it with np.all(...) or np.any(...)")
        condition = condition.item()
    passed = bool(condition)
    values = {name: _plain(value) for name, value in numbers.items()}
    record = {"id": _new_id(text), "cell": _execution_count(), "text": text,
              "passed": passed, "detail": values}
    _records.append(record)
    if passed:
        return
    detail = ", ".join(f"{name}={_show(value)}" for name, value in values.items())
    message = f"claim broken: {text}" + (f" ({detail})" if detail else "")
    current = mode()
    if current == "strict":
        raise ClaimBroken(message)
    if current == "warn":
        print(f"Note: this sentence of the text no longer holds for your settings: {text}"
              + (f" ({detail})" if detail else ""), file=sys.stdout)


def record_glue(name: str, value) -> None:
    """Keep a glued value for the replication report (``mlpcore.glue.glue`` calls it)."""
    _glued[name] = value


def records() -> list[dict]:
    """Every claim checked in this process so far, in order."""
    return [dict(record) for record in _records]


def glued() -> dict:
    """Every value glued in this process so far (the last value for each name)."""
    return dict(_glued)


def reset() -> None:
    """Forget the recorded claims and glued values (tests use it)."""
    _records.clear()
    _glued.clear()
    _ids.clear()


def _new_id(text: str) -> str:
    """A stable id from the sentence: its first words as a slug, numbered on repeats."""
    slug = "-".join(re.findall(r"[a-z0-9]+", text.lower())[:8]) or "claim"
    _ids[slug] = _ids.get(slug, 0) + 1
    return slug if _ids[slug] == 1 else f"{slug}-{_ids[slug]}"


def _execution_count():
    """The notebook cell's execution count when run in IPython, else None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "execution_count", None) if shell is not None else None


def _plain(value):
    """Numbers as plain Python numbers, small arrays as lists; the rest as short text."""
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 32 else f"array of shape {value.shape}"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (numbers.Number, str, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)) and len(value) <= 32:
        return [_plain(item) for item in value]
    return repr(value)[:200]


def _show(value) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"
    return str(value)
