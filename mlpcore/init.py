"""Weight initialisation with PyTorch's names, defaults and formulas (``torch.nn.init``).

Why initialisation matters: a layer y = x @ W with fan_in inputs of variance
Var[x] gives outputs of variance fan_in * Var[W] * Var[x]. If fan_in * Var[W]
is above 1 the signal grows layer after layer (exploding), below 1 it shrinks
(vanishing). Each scheme below picks Var[W] so that the variance is kept:

    =================  ==================================  ============================
    scheme             Var[W]                              keeps
    =================  ==================================  ============================
    Xavier / Glorot    gain^2 * 2 / (fan_in + fan_out)     forward and backward, tanh
    Kaiming / He       gain^2 / fan                        forward (fan_in) or backward
                                                           (fan_out), ReLU: gain^2 = 2
    =================  ==================================  ============================

A uniform U(-a, a) has variance a^2 / 3, so the uniform variants use a = sqrt(3) * std.

Layout: our weights are stored (in_features, out_features) so that a layer
computes x @ W; hence fan_in = shape[0] and fan_out = shape[1]. (PyTorch stores
(out, in) and reads fan_in = size(1); the fans, and so the numbers drawn, agree
for the same layer.)

Every function fills its argument in place -- a ``Parameter`` (its ``.data``) or a
float ``np.ndarray`` -- keeps its dtype, and returns the same object. Random ones
draw only from the ``rng`` they are given, in ``draw_dtype(array.dtype)``; ``rng`` is
required (it defaults to None only so that forgetting it gives a clear error).
"""
from __future__ import annotations

import math
from numbers import Real
from typing import TypeVar

import numpy as np

from mlpcore._checks import check_rng
from mlpcore.module import Parameter

Tensor = TypeVar("Tensor", Parameter, np.ndarray)

_LINEAR_NAMES = ("linear", "identity", "conv1d", "conv2d", "conv3d",
                 "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
_NONLINEARITIES = _LINEAR_NAMES + ("sigmoid", "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity (the factor by which to scale the std).

    ``linear``/``identity``/``conv*``/``sigmoid``: 1;  ``tanh``: 5/3;
    ``relu``: sqrt(2) (ReLU zeroes half of a symmetric input, halving its second
    moment, so the weights' variance is doubled to compensate);
    ``leaky_relu``: sqrt(2 / (1 + negative_slope^2)), negative_slope = ``param``
    (default 0.01); ``selu``: 3/4.
    """
    if nonlinearity in _LINEAR_NAMES or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, Real) and not isinstance(param, bool) and math.isfinite(param):
            negative_slope = float(param)
        else:
            raise ValueError(
                f"calculate_gain('leaky_relu', param={param!r}): param is the negative "
                f"slope and must be a finite number such as 0.01")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain got unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{list(_NONLINEARITIES)} (lower case, as in torch.nn.functional)")


def calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight stored (in_features, out_features, *kernel).

    fan_in = shape[0] * receptive field, fan_out = shape[1] * receptive field, where
    the receptive field is the product of the trailing dimensions (1 for a matrix).
    """
    shape = _array_of(tensor, "calculate_fan_in_and_fan_out").shape
    if len(shape) < 2:
        raise ValueError(
            f"Fan in and fan out can not be computed for tensor with fewer than 2 "
            f"dimensions: got shape {shape}. Fan-based initialisers (xavier_*, kaiming_*) "
            f"are for weight matrices; initialise a bias with zeros_ or uniform_ instead")
    receptive_field = math.prod(shape[2:])
    return shape[0] * receptive_field, shape[1] * receptive_field


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out  # PyTorch's (private) name


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, *,
             rng: np.random.Generator | None = None) -> Tensor:
    """Fill with draws from U(a, b): mean (a + b) / 2, Var = (b - a)^2 / 12."""
    array = _array_of(tensor, "uniform_")
    generator = check_rng(rng, "uniform_")
    if not (math.isfinite(a) and math.isfinite(b) and a <= b):
        raise ValueError(f"uniform_(a={a}, b={b}): expected finite bounds with a <= b")
    _fill_uniform(array, a, b, generator)
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, *,
            rng: np.random.Generator | None = None) -> Tensor:
    """Fill with draws from N(mean, std^2)."""
    array = _array_of(tensor, "normal_")
    generator = check_rng(rng, "normal_")
    if not (math.isfinite(mean) and math.isfinite(std) and std >= 0):
        raise ValueError(f"normal_(mean={mean}, std={std}): expected a finite mean "
                         f"and a finite std >= 0")
    _fill_normal(array, mean, std, generator)
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value ``val``."""
    _array_of(tensor, "constant_").fill(val)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0 (the usual bias initialisation)."""
    _array_of(tensor, "zeros_").fill(0.0)
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1 (e.g. a normalisation layer's scale)."""
    _array_of(tensor, "ones_").fill(1.0)
    return tensor


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, *,
                    rng: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): W ~ U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    Var[W] = gain^2 * 2 / (fan_in + fan_out): the compromise between keeping the
    forward variance (needs Var = 1/fan_in) and the backward variance (needs
    Var = 1/fan_out). Meant for tanh/sigmoid/linear layers.
    """
    array = _array_of(tensor, "xavier_uniform_")
    generator = check_rng(rng, "xavier_uniform_")
    std = _xavier_std(array, gain, "xavier_uniform_")
    bound = math.sqrt(3.0) * std  # U(-a, a) has variance a^2 / 3
    _fill_uniform(array, -bound, bound, generator)
    return tensor


def xavier_normal_(tensor: Tensor, gain: float = 1.0, *,
                   rng: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): W ~ N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).

    Var[W] = gain^2 * 2 / (fan_in + fan_out), the average of the forward (1/fan_in)
    and backward (1/fan_out) conditions in harmonic-mean form.
    """
    array = _array_of(tensor, "xavier_normal_")
    generator = check_rng(rng, "xavier_normal_")
    _fill_normal(array, 0.0, _xavier_std(array, gain, "xavier_normal_"), generator)
    return tensor


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", *,
                     rng: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): W ~ U(-bound, bound), bound = gain * sqrt(3 / fan).

    Var[W] = gain^2 / fan with gain = calculate_gain(nonlinearity, a). For ReLU,
    gain^2 = 2 makes Var[W] = 2 / fan_in, which keeps the second moment of the
    activations constant through depth (mode="fan_in") or, with mode="fan_out",
    that of the gradients in the backward pass. The default (leaky_relu, a=0)
    is ReLU's gain sqrt(2).
    """
    array = _array_of(tensor, "kaiming_uniform_")
    generator = check_rng(rng, "kaiming_uniform_")
    std = _kaiming_std(array, a, mode, nonlinearity, "kaiming_uniform_")
    bound = math.sqrt(3.0) * std
    _fill_uniform(array, -bound, bound, generator)
    return tensor


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", *,
                    rng: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): W ~ N(0, std^2), std = gain / sqrt(fan).

    Var[W] = gain^2 / fan (2 / fan_in for ReLU); see ``kaiming_uniform_`` for why.
    """
    array = _array_of(tensor, "kaiming_normal_")
    generator = check_rng(rng, "kaiming_normal_")
    std = _kaiming_std(array, a, mode, nonlinearity, "kaiming_normal_")
    _fill_normal(array, 0.0, std, generator)
    return tensor


# ----- helpers ---------------------------------------------------------------------
def _array_of(tensor, caller: str) -> np.ndarray:
    array = tensor.data if isinstance(tensor, Parameter) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{caller} expects a Parameter or a float np.ndarray to fill in "
                        f"place, got {type(tensor).__name__}")
    if array.dtype.kind != "f":
        raise TypeError(f"{caller} expects a float array, got dtype {array.dtype}; "
                        f"create it as float (e.g. np.zeros(shape, dtype=np.float32))")
    return array


def _correct_fan(array: np.ndarray, mode: str, caller: str) -> int:
    valid_modes = ("fan_in", "fan_out")
    if not isinstance(mode, str) or mode.lower() not in valid_modes:
        raise ValueError(f"{caller}: mode {mode!r} not supported; use one of "
                         f"{list(valid_modes)}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    return fan_in if mode.lower() == "fan_in" else fan_out


def _xavier_std(array: np.ndarray, gain: float, caller: str) -> float:
    if not (math.isfinite(gain) and gain >= 0):
        raise ValueError(f"{caller}: gain must be a finite number >= 0, got {gain}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(array)
    if fan_in + fan_out == 0:
        return 0.0  # empty array: nothing will be drawn
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def _kaiming_std(array, a, mode, nonlinearity, caller: str) -> float:
    fan = _correct_fan(array, mode, caller)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan) if fan > 0 else 0.0  # fan 0: empty array, no-op


def draw_dtype(dtype) -> np.dtype:
    """The dtype in which mlpcore draws random numbers for arrays of ``dtype`` (the one
    rule): ``dtype`` itself when the generator can draw it (float32, float64), else
    float32 (float16). A float32 model never draws, or pays for, float64 numbers."""
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)


def _fill_uniform(array: np.ndarray, low: float, high: float, rng: np.random.Generator):
    # low + (high - low) u, written as mid + half (2u - 1): for Linear's symmetric
    # bounds, bit for bit the numbers mlpcore has always drawn (chapter 0's outputs
    # depend on them). Python floats keep the draws' dtype.
    draws = rng.random(array.shape, dtype=draw_dtype(array.dtype))  # U[0, 1)
    draws *= 2
    draws -= 1
    draws *= (high - low) / 2
    draws += (high + low) / 2
    array[...] = draws


def _fill_normal(array: np.ndarray, mean: float, std: float, rng: np.random.Generator):
    draws = rng.standard_normal(array.shape, dtype=draw_dtype(array.dtype))
    draws *= std
    draws += mean
    array[...] = draws
