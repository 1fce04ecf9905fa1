"""Glue: computed values handed to the book's prose, in the book and outside it (Colab).

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


def power_of_ten(value: float) -> str:
    """A power of ten as the book writes it: 1e-06 -> '1e-6', 0.001 -> '1e-3'."""
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def below(value: float, bound: float) -> str:
    """How the book prints a rounding-level quantity: 'below 1e-6' when value < bound.

    Such a quantity (float rounding, a finite-difference error) has digits that change
    from one CPU to another, so the book states the bound it is checked against, not
    the digits. If the value is not below the bound, the value itself is shown, so a
    broken expectation is visible rather than hidden.
    """
    if value < bound:
        return f"below {power_of_ten(bound)}"
    return f"{value:.1e} (NOT below {power_of_ten(bound)})"
