"""Layers: Linear, Dropout, Residual and Sequential, plus (re-exported) the
activations from ``mlpcore.activations`` and BatchNorm1d from ``mlpcore.normalization``.

Every layer caches in ``forward`` what its ``backward`` needs; ``backward(grad_out)``
accumulates parameter gradients and returns d loss / d input.
"""
from __future__ import annotations

import contextlib
import math
import numbers
from typing import Iterator

import numpy as np

from mlpcore._checks import (as_float_array, check_float_dtype, check_grad_out,
                             check_positive_int, check_rng, uniform)
from mlpcore.activations import ELU, LeakyReLU, ReLU, Sigmoid, Tanh
from mlpcore.module import DEFAULT_DTYPE, Module, Parameter
from mlpcore.normalization import BatchNorm1d

__all__ = ["Linear", "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Dropout",
           "BatchNorm1d", "Residual", "Sequential"]


class Linear(Module):
    r"""Affine map :math:`y = x W + b`.

    The weight is stored (in_features, out_features), so the forward pass is
    ``x @ W`` (PyTorch stores the transpose, (out, in), and computes x Wᵀ).
    Both W and b start as U(-1/√in, 1/√in), PyTorch's default, drawn from ``rng``.

    Shapes: x (N, in_features) -> y (N, out_features); W (in_features, out_features);
    b (out_features,). Input of another float dtype is cast to the weight's dtype.

    Backward, with :math:`G = \partial L/\partial y`:
    :math:`\partial L/\partial W = x^\top G`, :math:`\partial L/\partial b = \sum_n G_n`,
    :math:`\partial L/\partial x = G W^\top`. ``backward(G, needs_input_grad=False)``
    skips the last product and returns None: the first layer of a model gets data, whose
    gradient nobody uses (PyTorch skips it too, for inputs with requires_grad=False).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 rng: np.random.Generator, dtype=DEFAULT_DTYPE):
        self.in_features = check_positive_int(in_features, "in_features", "Linear")
        self.out_features = check_positive_int(out_features, "out_features", "Linear")
        check_rng(rng, "Linear")
        dtype = check_float_dtype(dtype, "Linear")
        bound = 1 / math.sqrt(self.in_features)
        self.weight = Parameter(uniform(rng, (self.in_features, self.out_features), bound, dtype))
        self.bias = Parameter(uniform(rng, (self.out_features,), bound, dtype)) if bias else None

    def _name(self) -> str:
        return f"Linear({self.in_features}→{self.out_features})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self._name())
        if x.ndim != 2:
            fix = ("for a single example use x[None, :]" if x.ndim == 1
                   else "flatten each example first, e.g. x.reshape(len(x), -1)")
            raise ValueError(
                f"{self._name()} got a {x.ndim}-D input of shape {x.shape}; expected a 2-D "
                f"batch of shape (batch, {self.in_features}). {fix[0].upper()}{fix[1:]}.")
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"{self._name()} got input of shape {x.shape}; expected (batch, "
                f"{self.in_features}). Check in_features or flatten the input.")
        x = np.asarray(x, dtype=self.weight.dtype)  # no copy when the dtype already matches
        self._cache = x
        y = x @ self.weight.data
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        x = self._take_cache()
        grad_out = check_grad_out(self._name(), grad_out, (x.shape[0], self.out_features),
                                  self.weight.dtype)
        self.weight.accumulate_grad(x.T @ grad_out)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_out.sum(axis=0))
        if not needs_input_grad:
            return None
        return grad_out @ self.weight.data.T

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Dropout(Module):
    r"""Randomly zero activations during training (inverted dropout).

    ``p`` is the probability of *dropping* a unit (PyTorch's convention; the
    course's source notes call it the keep probability, which the book corrects).
    In training

    .. math::  y = x \odot m / (1 - p), \qquad m_i \sim \text{Bernoulli}(1 - p),

    so E[y] = x; in eval mode, and for p = 0, y = x. Backward multiplies by the
    same m / (1 - p) as the forward. Shapes: x (*) -> y (*), same dtype.

    Fixing the mask (for gradient checks and worked examples): ``forward(x, mask=m)``
    uses the 0/1 keep-mask ``m`` instead of drawing one, and inside
    ``with layer.fixed_mask():`` every training forward reuses one mask (the one
    given, or the first drawn in the block), even when the layer sits deep in a
    model. ``layer.mask`` is the keep-mask of the last training forward (read-only;
    None before any, or after an identity forward).
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator):
        self.p = _check_drop_probability(p)
        self.rng = check_rng(rng, "Dropout")
        self._mask: np.ndarray | None = None
        self._fixed: list | None = None  # [mask or None] while inside fixed_mask()

    @property
    def mask(self) -> np.ndarray | None:
        return self._mask

    @contextlib.contextmanager
    def fixed_mask(self, mask: np.ndarray | None = None):
        """Within the block every training forward uses ``mask`` (0/1, the input's
        shape), or, if None, the mask drawn by the first forward in the block. A
        nested ``fixed_mask()`` without a mask keeps the enclosing block's mask."""
        previous = self._fixed
        self._fixed = previous if (mask is None and previous is not None) else [mask]
        try:
            yield self
        finally:
            self._fixed = previous

    def forward(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        x = as_float_array(x, self)
        if not self.training:
            if mask is not None:
                raise ValueError(f"{self!r} is in eval mode, where it is the identity; a "
                                 f"mask only applies in training mode (call .train())")
            self._cache = (x.shape, None)
            return x
        if mask is None and self._fixed is not None:
            mask = self._fixed[0]
        if mask is None and self.p == 0.0:
            self._cache = (x.shape, None)
            return x
        if mask is None:
            draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
            keep = (self.rng.random(x.shape, dtype=draw_dtype) >= self.p).astype(x.dtype)
        else:
            keep = self._check_mask(mask, x)
        if self._fixed is not None and self._fixed[0] is None:
            self._fixed[0] = keep
        keep.flags.writeable = False
        self._mask = keep
        scale = keep * x.dtype.type(1 / (1 - self.p))
        self._cache = (x.shape, scale)
        return x * scale

    def _check_mask(self, mask, x: np.ndarray) -> np.ndarray:
        mask = np.array(mask, dtype=x.dtype, copy=True)  # our own copy: we freeze it
        if mask.shape != x.shape:
            raise ValueError(f"{self!r} got a mask of shape {mask.shape} for an input of "
                             f"shape {x.shape}; the keep-mask must have the input's shape")
        if not np.all((mask == 0) | (mask == 1)):
            raise ValueError(f"{self!r}: the mask must hold only 0 (drop) and 1 (keep); the "
                             f"1/(1-p) scaling is applied by the layer")
        return mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        shape, scale = self._take_cache()
        if scale is None:
            return check_grad_out(self, grad_out, shape, np.asarray(grad_out).dtype)
        return check_grad_out(self, grad_out, shape, scale.dtype) * scale

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _check_drop_probability(p) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"Dropout: p must be a real number in [0, 1), the probability of "
                        f"DROPPING a unit; got {p!r} of type {type(p).__name__}")
    if math.isnan(p) or not 0 <= p <= 1:
        raise ValueError(f"Dropout: p is the probability of DROPPING a unit and must be in "
                         f"[0, 1), got {p!r}. (If you meant a keep probability k, pass p=1-k.)")
    if p == 1:
        raise ValueError(
            "Dropout: p=1 would drop every unit: the output is always zero and the "
            "1/(1-p) scaling is undefined (PyTorch returns zeros; we refuse). p is the "
            "probability of DROPPING: use p < 1, e.g. p=0.5, or remove the layer / feed "
            "zeros explicitly if that is really what you want.")
    return float(p)


class Residual(Module):
    r"""Skip connection around a block: :math:`y = x + f(x)`.

    Backward: :math:`\partial L/\partial x = G + J_f^\top G`, i.e.
    ``grad_out + block.backward(grad_out)``: the identity path passes the
    gradient through unchanged, which is why deep residual stacks train.
    Shapes: x (*) -> y (*); ``block`` must keep the shape.
    """

    def __init__(self, block: Module):
        if not isinstance(block, Module):
            raise TypeError(f"Residual expects a Module as its block, got "
                            f"{type(block).__name__}")
        self.block = block

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, "Residual")
        out = self.block(x)
        if out.shape != x.shape:
            block_name = repr(self.block).split("\n")[0]
            raise ValueError(
                f"Residual: the block {block_name} changed the shape from {x.shape} to "
                f"{out.shape}, but y = x + block(x) needs block(x) to have the shape of x. "
                f"Make the block's output width equal to its input width.")
        self._cache = x.shape
        return x + out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        shape = self._take_cache()
        grad_out = check_grad_out("Residual", grad_out, shape, np.asarray(grad_out).dtype)
        return grad_out + self.block.backward(grad_out)


class Sequential(Module):
    """A chain of modules: ``forward`` runs them in order, ``backward`` in reverse.

    Indexing (``model[0]``; a slice gives a Sequential sharing the same layers),
    ``len``, iteration and ``append`` work as in PyTorch; the children are named
    "0", "1", ..., so parameters are named "0.weight", "0.bias", ...
    """

    def __init__(self, *layers: Module):
        self._layers: list[Module] = []
        for layer in layers:
            self.append(layer)

    def append(self, layer: Module) -> "Sequential":
        if not isinstance(layer, Module):
            position = len(self._layers)
            if isinstance(layer, type) and issubclass(layer, Module):
                hint = f"you passed the class {layer.__name__}; pass an instance, {layer.__name__}(...)"
            else:
                hint = "wrap it in a Module subclass with forward and backward"
            raise TypeError(f"Sequential: entry {position} is {layer!r} of type "
                            f"{type(layer).__name__}, not a Module; {hint}")
        self._layers.append(layer)
        return self

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for index, layer in enumerate(self._layers):
            yield str(index), layer

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self._layers[index])
        return self._layers[index]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self._layers:
            x = layer(x)
        return x

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        """Backward through the layers in reverse order; returns d loss / d input.

        ``needs_input_grad=False``, for a training step whose input is data: the
        first layer may skip d loss / d input (a Linear saves its product G Wᵀ, a
        third of its backward) and None is returned.
        """
        for index in reversed(range(len(self._layers))):
            layer = self._layers[index]
            if index == 0 and not needs_input_grad and isinstance(layer, (Linear, Sequential)):
                return layer.backward(grad_out, needs_input_grad=False)
            grad_out = layer.backward(grad_out)
        return grad_out if needs_input_grad else None
