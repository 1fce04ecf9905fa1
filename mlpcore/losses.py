"""Loss functions: ``loss = loss_fn(pred, target)`` returns a Python float and
``loss_fn.backward(grad_out=1.0)`` returns d loss / d pred (in pred's dtype)."""
from __future__ import annotations

import numpy as np

from mlpcore._checks import as_float_array
from mlpcore.module import Module

__all__ = ["CrossEntropyLoss", "MSELoss"]

_REDUCTIONS = ("mean", "sum")


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def _grad_scale(self, grad_out) -> float:
        if np.ndim(grad_out) != 0:
            raise ValueError(f"{type(self).__name__}.backward: grad_out is d(final)/d(loss) "
                             f"and must be a scalar, got shape {np.shape(grad_out)}")
        return float(grad_out)  # a Python float: np.float64 would upcast float32 gradients

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    r"""Softmax cross-entropy from logits, as ``torch.nn.CrossEntropyLoss``.

    .. math::
        \ell_n = -z_{n, t_n} + \log \sum_c e^{z_{n,c}}, \qquad
        L = \tfrac{1}{N}\sum_n \ell_n \ (\text{mean}) \ \text{or} \ \sum_n \ell_n \ (\text{sum})

    The log-sum-exp subtracts each row's maximum first, so logits of size 1e4 do
    not overflow. Gradient: :math:`\partial L/\partial z = (\mathrm{softmax}(z) -
    \mathrm{onehot}(t)) / N` for "mean" (no 1/N for "sum"), times ``grad_out``.

    Shapes: logits z (N, C) float; target t (N,) integer class indices in [0, C).
    """

    def forward(self, logits: np.ndarray, target: np.ndarray) -> float:
        logits = as_float_array(logits, "CrossEntropyLoss")
        target = np.asarray(target)
        if logits.ndim != 2:
            fix = " For one example use logits[None, :]." if logits.ndim == 1 else ""
            raise ValueError(f"CrossEntropyLoss expects logits of shape (N, C), got shape "
                             f"{logits.shape}.{fix}")
        n, num_classes = logits.shape
        if target.dtype.kind not in "iu":
            hint = (" If they are one-hot rows, use y.argmax(1)." if target.ndim == 2
                    else " Convert them with y.astype(np.int64).")
            raise TypeError(f"CrossEntropyLoss needs integer class indices as target, got "
                            f"dtype {target.dtype} with shape {target.shape}.{hint}")
        if target.ndim != 1:
            hint = " If they are one-hot rows, use y.argmax(1)." if target.ndim == 2 else ""
            raise ValueError(f"CrossEntropyLoss expects target of shape (N,) = ({n},) with "
                             f"class indices, got shape {target.shape}.{hint}")
        if target.shape[0] != n:
            raise ValueError(f"CrossEntropyLoss: logits have N={n} rows but target has "
                             f"{target.shape[0]} labels; they must describe the same batch")
        if n == 0:
            raise ValueError("CrossEntropyLoss got an empty batch (N=0); the mean is undefined")
        low, high = int(target.min()), int(target.max())
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"CrossEntropyLoss: target labels must be in [0, C) = [0, {num_classes}), "
                f"got min {low} and max {high}. Check C (the last layer's out_features); "
                f"1-based labels need y - 1.")
        rows = np.arange(n)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp_shifted = np.exp(shifted)
        sum_exp = exp_shifted.sum(axis=1, keepdims=True)
        per_example = np.log(sum_exp[:, 0]) - shifted[rows, target]
        self._cache = (exp_shifted / sum_exp, target)
        total = per_example.sum()
        return float(total / n if self.reduction == "mean" else total)

    def backward(self, grad_out: float = 1.0) -> np.ndarray:
        probs, target = self._take_cache()
        scale = self._grad_scale(grad_out)
        n = probs.shape[0]
        grad = probs  # the cache is ours alone, so it can be overwritten
        grad[np.arange(n), target] -= 1
        if self.reduction == "mean":
            scale /= n
        grad *= scale
        return grad


class MSELoss(_Loss):
    r"""Mean squared error, as ``torch.nn.MSELoss``.

    .. math::
        L = \tfrac{1}{M}\sum_i (\hat y_i - y_i)^2 \ (\text{mean, M = number of
        elements}) \quad \text{or} \quad \sum_i (\hat y_i - y_i)^2 \ (\text{sum})

    Gradient: :math:`\partial L/\partial \hat y = 2(\hat y - y)/M` (no 1/M for
    "sum"), times ``grad_out``. Shapes: pred and target of exactly the same shape;
    (N,) against (N, 1) is refused (PyTorch broadcasts it to (N, N) with only a
    warning, a silently wrong loss).
    """

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        pred = as_float_array(pred, "MSELoss")
        target = np.asarray(target)
        if pred.shape != target.shape:
            raise ValueError(
                f"MSELoss got pred of shape {pred.shape} and target of shape "
                f"{target.shape}; the shapes must match exactly (broadcasting (N,) against "
                f"(N, 1) would compare every prediction with every target). Use "
                f"target.reshape(pred.shape) or fix the model's output width.")
        diff = pred - np.asarray(target, dtype=pred.dtype)
        self._cache = diff
        total = np.sum(diff * diff)
        return float(total / diff.size if self.reduction == "mean" else total)

    def backward(self, grad_out: float = 1.0) -> np.ndarray:
        diff = self._take_cache()
        scale = 2 * self._grad_scale(grad_out)
        if self.reduction == "mean":
            scale /= diff.size
        return diff * diff.dtype.type(scale)
