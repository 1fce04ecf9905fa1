"""Helpers for the book's notebooks that must also work outside the book (Colab, Jupyter).

``glue`` hands a computed value to the book's prose (myst-nb's ``{glue:text}`` role).
Two details make it safe to call everywhere:

* NumPy scalars are turned into plain Python numbers first: myst-nb formats glued
  values with a format spec, and a NumPy float with a spec emits a warning, which the
  strict book build (``-W``) turns into an error.
* Where myst-nb is not installed (Colab), glueing is a no-op: the value is only
  needed by the book's build, and the notebook still runs.
"""
from __future__ import annotations

import numbers

import numpy as np

from mlpcore.claims import record_glue


def plain(value):
    """Return ``value`` as a plain Python number/str if it is a NumPy scalar or 0-d array."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue(name: str, value, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's text; never displays by default."""
    value = plain(value)
    if not isinstance(value, (numbers.Number, str)):
        raise TypeError(
            f"glue({name!r}, ...) expects a number or a pre-formatted string, got "
            f"{type(value).__name__}; format it first, e.g. f'{{x:.3f}}'")
    record_glue(name, value)  # kept for `make replicate`'s report
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # outside the book's toolchain nothing consumes glued values
        return
    myst_glue(name, value, display=display)
