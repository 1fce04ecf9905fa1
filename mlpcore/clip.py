"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Clipping by norm rescales ALL gradients together by one factor, so the update
keeps its direction and only its length is capped:

    total = || concat(g_1, ..., g_k) ||_p
    g_i <- g_i * min(1, max_norm / (total + 1e-6))

Clipping by value clamps every entry to [-clip_value, clip_value], which can
change the direction. Both act in place on ``.grad``, skip parameters whose
``.grad`` is None, and accept a single Parameter or an iterable of them.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from mlpcore.module import Module, Parameter

__all__ = ["get_total_norm", "clip_grads_with_norm_", "clip_grad_norm_", "clip_grad_value_"]


def get_total_norm(arrays: Iterable[np.ndarray], norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> float:
    """p-norm of the arrays viewed as one long vector: (sum_i sum_j |a_ij|^p)^(1/p),
    or max_ij |a_ij| for p = inf. Returns a Python float (0.0 for no arrays)."""
    norm_type = _check_norm_type(norm_type)
    arrays = list(arrays)
    if not arrays:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(a))) if a.size else 0.0 for a in arrays)
    else:
        # Accumulate in float64 so the squares of a large float32 gradient (|g| > 1e19)
        # do not overflow to inf before the root brings them back into range.
        if norm_type == 2.0:
            power_sum = sum(float(np.square(a, dtype=np.float64).sum()) for a in arrays)
        else:
            power_sum = sum(float(np.sum(np.power(np.abs(a), norm_type, dtype=np.float64)))
                            for a in arrays)
        total = power_sum ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"non-finite ({total}), so it cannot be clipped. The training has already "
            f"diverged: lower the learning rate, use a better-scaled initialisation "
            f"(Xavier/He), or clip earlier. Set error_if_nonfinite=False to scale the "
            f"gradients by the non-finite norm anyway")
    return total


def clip_grads_with_norm_(parameters: Parameter | Iterable[Parameter], max_norm: float,
                          total_norm: float) -> None:
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)), in place."""
    params = _as_parameter_list(parameters, "clip_grads_with_norm_")
    max_norm = float(max_norm)
    if math.isnan(max_norm) or max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm} "
                         f"(a negative factor would flip the gradients)")
    clip_coef = max_norm / (float(total_norm) + 1e-6)
    # A NaN total makes clip_coef NaN, which (as in PyTorch) propagates to the grads.
    if clip_coef < 1.0 or math.isnan(clip_coef):
        for param in params:
            if param.grad is not None:
                param.grad *= clip_coef  # Python float: the grad keeps its dtype


def clip_grad_norm_(parameters: Parameter | Iterable[Parameter], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Rescale the gradients so that their total p-norm is at most ``max_norm``.

    total = ||(g_1, ..., g_k)||_p,   g_i <- g_i * min(1, max_norm / (total + 1e-6)).
    Returns the total norm BEFORE clipping (a Python float), which is the number
    worth logging. ``norm_type`` may be ``float("inf")`` (largest |entry|).
    """
    params = _as_parameter_list(parameters, "clip_grad_norm_")
    grads = [param.grad for param in params if param.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters: Parameter | Iterable[Parameter], clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value], in place."""
    params = _as_parameter_list(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    if math.isnan(clip_value) or clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for param in params:
        if param.grad is not None:
            np.clip(param.grad, -clip_value, clip_value, out=param.grad)


def _check_norm_type(norm_type) -> float:
    try:
        value = float(norm_type)
    except (TypeError, ValueError):
        value = math.nan
    if not value > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a number > 0 or "
                         f"float('inf'), got {norm_type!r}")
    return value


def _as_parameter_list(parameters, caller: str) -> list[Parameter]:
    if isinstance(parameters, Parameter):
        return [parameters]
    if isinstance(parameters, Module):
        raise TypeError(f"{caller} got the model itself; pass model.parameters()")
    try:
        params = list(parameters)
    except TypeError:
        raise TypeError(f"{caller} expects a Parameter or an iterable of Parameters, got "
                        f"{type(parameters).__name__}") from None
    for param in params:
        if not isinstance(param, Parameter):
            raise TypeError(f"{caller} expects Parameters (their .grad is clipped), but one "
                            f"entry is a {type(param).__name__}; pass model.parameters()")
    return params
