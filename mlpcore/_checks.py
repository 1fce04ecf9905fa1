"""Input checks shared by layers, losses, optimisers and data helpers, so every error
names its owner, the shapes or the value, and the fix; and ``DEFAULT_DTYPE``, the dtype
they (and every constructor) give data that arrives without a float dtype.

``owner`` is what a message calls the caller: a string, or the module itself, whose
name (``owner_name``) is then built only when an error is raised (these checks run on
every forward and backward, so they must cost next to nothing when all is well)."""
from __future__ import annotations

import math
import numbers

import numpy as np

DEFAULT_DTYPE = np.float32


def owner_name(owner: object) -> str:
    """What an error message calls ``owner``: a module's ``_name()`` (e.g.
    ``Linear(64→128)``), else ``str(owner)``. Called only when a message is built."""
    name = getattr(owner, "_name", None)
    return name() if callable(name) else str(owner)


def as_float_array(x, owner: object) -> np.ndarray:
    """``x`` as a float ndarray: floats pass through untouched, ints and bools
    become DEFAULT_DTYPE, anything else is refused with a message naming ``owner``."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    if x.dtype.kind == "f":
        return x
    if x.dtype.kind in "iub":
        return x.astype(DEFAULT_DTYPE)
    raise TypeError(f"{owner_name(owner)} expects a numeric array, got one of dtype {x.dtype}; "
                    f"convert it with np.asarray(x, dtype=np.float32)")


def check_batch(x, in_features: int, owner: object, dtype) -> np.ndarray:
    """``x`` as a 2-D float batch (N, in_features) of ``dtype`` (no copy when it already is)."""
    x = as_float_array(x, owner)
    if x.ndim != 2:
        fix = ("for a single example use x[None, :]" if x.ndim == 1
               else "flatten each example first, e.g. x.reshape(len(x), -1)")
        raise ValueError(
            f"{owner_name(owner)} got a {x.ndim}-D input of shape {x.shape}; expected a 2-D "
            f"batch of shape (batch, {in_features}). {fix[0].upper()}{fix[1:]}.")
    if x.shape[1] != in_features:
        raise ValueError(
            f"{owner_name(owner)} got input of shape {x.shape}; expected (batch, "
            f"{in_features}). Check in_features or flatten the input.")
    return x if x.dtype == dtype else x.astype(dtype)


def check_grad_out(owner: object, grad_out, shape: tuple, dtype) -> np.ndarray:
    """``grad_out`` as an array of ``dtype`` (so a float64 gradient does not upcast a
    float32 layer), after checking it has the shape of the forward output."""
    if type(grad_out) is np.ndarray and grad_out.dtype == dtype and grad_out.shape == shape:
        return grad_out  # the usual case, checked at the cost of three comparisons
    grad_shape = np.shape(grad_out)
    if grad_shape != shape:
        raise ValueError(
            f"{owner_name(owner)}.backward got grad_out of shape {grad_shape}; expected {shape}, the "
            f"shape of the output of the last forward. Pass d loss / d output of this layer.")
    return np.asarray(grad_out, dtype=dtype)


def check_positive_int(value, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_real(value, name: str, owner: str) -> float:
    """A real, finite number as a Python float (a np.float64 would upcast float32 arrays)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r} "
                        f"of type {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return float(value)


def check_number(optimizer: str, key: str, value, low: float = 0.0,
                  high: float | None = None, high_open: bool = False) -> None:
    """Raise unless ``value`` is a finite real with ``low <= value <= high`` (or ``< high``);
    the optimisers' hyper-parameter check."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value) and value >= low)
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        upper = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        raise ValueError(f"{optimizer}: invalid {key}={value!r}; expected a finite "
                         f"number >= {low}{upper}")


def check_rng(rng, owner: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{owner} needs rng=np.random.Generator, got {type(rng).__name__}: "
                        f"pass rng=np.random.default_rng(seed); all randomness in mlpcore "
                        f"goes through an explicit generator, never NumPy's global state")
    return rng


def check_float_dtype(dtype, owner: str) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{owner}: dtype must be a float dtype such as np.float32 or "
                        f"np.float64, got {dtype}")
    return dtype


def check_drop_probability(p, owner: str) -> float:
    """p of dropout: the probability of DROPPING a unit, in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{owner}: p must be a real number in [0, 1), the probability of "
                        f"DROPPING a unit; got {p!r} of type {type(p).__name__}")
    if math.isnan(p) or not 0 <= p <= 1:
        raise ValueError(f"{owner}: p is the probability of DROPPING a unit and must be in "
                         f"[0, 1), got {p!r}. (If you meant a keep probability k, pass p=1-k.)")
    if p == 1:
        raise ValueError(
            f"{owner}: p=1 would drop every unit: the output is always zero and the "
            "1/(1-p) scaling is undefined (PyTorch returns zeros; we refuse). p is the "
            "probability of DROPPING: use p < 1, e.g. p=0.5, or remove the layer / feed "
            "zeros explicitly if that is really what you want.")
    return float(p)
