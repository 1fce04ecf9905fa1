"""Element-wise activation layers: ReLU, LeakyReLU, ELU, Sigmoid, Tanh.

Each accepts an array of any shape and returns one of the same shape and dtype;
``backward(grad_out)`` multiplies ``grad_out`` by the local derivative, with the
same conventions at the kinks as PyTorch (ReLU'(0) = 0, LeakyReLU'(0) = slope,
ELU'(0) = alpha). The formulas are in ``mlpcore.functional``; a layer checks its
input, caches x for backward and calls them.
"""
from __future__ import annotations

import numpy as np

from mlpcore import functional as F
from mlpcore._checks import as_float_array, check_grad_out, check_real
from mlpcore.module import Module


class _Activation(Module):
    """y = f(x), dL/dx = G ⊙ f'(x): ``_forward(x)`` and ``_backward(x, grad_out)`` are
    the kernels; this class casts the input, caches x and checks grad_out."""

    def _forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _backward(self, x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        self._cache = x
        return self._forward(x)

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        x = self._take_cache()
        grad_out = check_grad_out(self, grad_out, x.shape, x.dtype)
        return self._backward(x, grad_out) if needs_input_grad else None


class ReLU(_Activation):
    r"""Rectified linear unit, :math:`y = \max(x, 0)`.

    Derivative: 1 where x > 0, else 0 (also at x = 0 exactly, as in PyTorch).
    A NaN input gives NaN, as in PyTorch (it is not hidden as 0).
    Shapes: x (*) -> y (*), same dtype.
    """

    def _forward(self, x):
        return F.relu(x)

    def _backward(self, x, grad_out):
        return F.relu_backward(x, grad_out)


class LeakyReLU(_Activation):
    r"""Leaky ReLU, :math:`y = x` for x > 0 and :math:`y = \text{negative\_slope}\cdot x`
    otherwise.

    Derivative: 1 where x > 0, else negative_slope (PyTorch's choice at x = 0).
    Shapes: x (*) -> y (*), same dtype.
    """

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = check_real(negative_slope, "negative_slope", "LeakyReLU")

    def _forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def _backward(self, x, grad_out):
        return F.leaky_relu_backward(x, grad_out, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(_Activation):
    r"""Exponential linear unit, :math:`y = x` for x > 0 and
    :math:`y = \alpha\,(e^{x} - 1)` otherwise.

    Derivative: 1 where x > 0, else :math:`\alpha e^{x}` (alpha at x = 0, as in PyTorch).
    Shapes: x (*) -> y (*), same dtype.
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = check_real(alpha, "alpha", "ELU")

    def _forward(self, x):
        return F.elu(x, self.alpha)

    def _backward(self, x, grad_out):
        return F.elu_backward(x, grad_out, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Sigmoid(_Activation):
    r"""Logistic sigmoid, :math:`y = \sigma(x) = 1 / (1 + e^{-x})`, computed so that no
    exponential overflows (no warnings even for |x| ~ 1e3).

    Derivative: :math:`\sigma'(x) = \sigma(x)\,(1 - \sigma(x))`.
    Shapes: x (*) -> y (*), same dtype.
    """

    def _forward(self, x):
        return F.sigmoid(x)

    def _backward(self, x, grad_out):
        return F.sigmoid_backward(x, grad_out)


class Tanh(_Activation):
    r"""Hyperbolic tangent, :math:`y = \tanh(x)`.

    Derivative: :math:`1 - \tanh^2 x`. Shapes: x (*) -> y (*), same dtype.
    """

    def _forward(self, x):
        return F.tanh(x)

    def _backward(self, x, grad_out):
        return F.tanh_backward(x, grad_out)
