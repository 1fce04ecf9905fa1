"""Loss functions: ``loss = loss_fn(pred, target)`` returns a Python float and
``loss_fn.backward(grad_out=1.0)`` returns d loss / d pred (in pred's dtype).

The formulas are ``functional.softmax_cross_entropy`` and ``functional.mse``; a loss
checks its inputs, applies the reduction and caches the gradient for ``backward``.
``count_correct(pred, target)`` is how ``evaluate`` asks a loss for accuracy."""
from __future__ import annotations

import numpy as np

from mlpcore import functional as F
from mlpcore._checks import as_float_array
from mlpcore.module import Module

__all__ = ["CrossEntropyLoss", "MSELoss"]

_REDUCTIONS = ("mean", "sum")


# ----- the reduction rule, in one place ------------------------------------------------
# The kernels give the MEAN over the loss's `count` terms (N examples for cross-entropy,
# M elements for MSE) and its gradient; "sum" is that mean times `count`.
def reduce_mean(mean: float, count: int, reduction: str) -> float:
    """The loss (or d loss / d mean's scale) under ``reduction``, from the mean."""
    return mean if reduction == "mean" else mean * count


def batch_total(loss: float, batch_size: int, reduction: str) -> float:
    """A batch's loss as a sum over its examples, to add up batches (``evaluate``)."""
    return loss * batch_size if reduction == "mean" else loss


def from_total(total: float, size: int, reduction: str) -> float:
    """The loss of a whole set under ``reduction``, from the sum of ``batch_total``s."""
    return total / size if reduction == "mean" else total


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def _reduce(self, mean: float, grad_of_mean: np.ndarray, count: int) -> float:
        """Cache the kernel's gradient of the mean for ``backward``; return the loss."""
        self._cache = (grad_of_mean, count)
        return float(reduce_mean(mean, count, self.reduction))

    def backward(self, grad_out: float = 1.0, *, needs_input_grad: bool = True) -> np.ndarray:
        """d (grad_out * loss) / d pred, from the gradient of the mean the kernel gave."""
        grad, count = self._take_cache()  # ours alone, so it can be scaled in place
        if type(grad_out) is not float and np.ndim(grad_out) != 0:
            raise ValueError(f"{type(self).__name__}.backward: grad_out is d(final)/d(loss) "
                             f"and must be a scalar, got shape {np.shape(grad_out)}")
        # a Python float: np.float64 would upcast float32 gradients
        scale = reduce_mean(float(grad_out), count, self.reduction)
        if scale != 1:
            grad *= scale
        return grad

    def count_correct(self, pred: np.ndarray, target: np.ndarray) -> int | None:
        """Number of correct predictions, for losses of classifiers; None otherwise."""
        return None

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

    The softmax is computed in float64 whatever the logits' dtype, and the gradient is
    returned in the logits' dtype. NumPy's float32 ``exp`` and ``log`` give different
    last bits on different CPUs (they use the CPU's vector instructions), and training
    grows those bits into visibly different networks; in float64 the differences stay
    far below anything a chapter prints. (PyTorch computes in the logits' dtype; the
    two agree to float32 rounding.)

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
        loss, grad = F.softmax_cross_entropy(logits.astype(np.float64, subok=False), target)
        return self._reduce(loss, grad.astype(logits.dtype, copy=False), n)

    def count_correct(self, logits: np.ndarray, target: np.ndarray) -> int:
        """How many rows' largest logit is the target class (``evaluate`` reports accuracy)."""
        return int(np.count_nonzero(np.asarray(logits).argmax(axis=1) == np.asarray(target)))


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
        loss, grad = F.mse(pred, np.asarray(target, dtype=pred.dtype))
        return self._reduce(loss, grad, grad.size)  # the mean is over all M elements
