"""Layers: Linear, Dropout, Residual and Sequential, plus (re-exported) the
activations from ``mlpcore.activations`` and BatchNorm1d and LayerNorm from ``mlpcore.normalization``.

Every layer checks its input, caches in ``forward`` what its ``backward`` needs and
calls the math in ``mlpcore.functional``; ``backward(grad_out)`` accumulates parameter
gradients and returns d loss / d input (or None with ``needs_input_grad=False``).
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from mlpcore import functional as F
from mlpcore import init
from mlpcore._checks import (DEFAULT_DTYPE, as_float_array, check_batch, check_float_dtype,
                             check_grad_out, check_drop_probability, check_positive_int,
                             check_rng)
from mlpcore.activations import ELU, LeakyReLU, ReLU, Sigmoid, Tanh
from mlpcore.init import draw_dtype
from mlpcore.module import Module, Parameter
from mlpcore.normalization import BatchNorm1d, LayerNorm

__all__ = ["Linear", "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Dropout", "draw_keep_mask",
           "BatchNorm1d", "LayerNorm", "Residual", "Sequential"]


class Linear(Module):
    r"""Affine map :math:`y = x W + b` (the math: ``functional.linear``/``linear_backward``).

    The weight is stored (in_features, out_features), so the forward pass is
    ``x @ W`` (PyTorch stores the transpose, (out, in), and computes x Wᵀ).
    ``reset_parameters(rng)`` draws W and b as PyTorch's Linear does, both from
    U(-1/√in, 1/√in). Shapes: x (N, in_features) -> y (N, out_features); input of
    another float dtype is cast to the weight's dtype.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 rng: np.random.Generator, dtype=DEFAULT_DTYPE):
        self.in_features = check_positive_int(in_features, "in_features", "Linear")
        self.out_features = check_positive_int(out_features, "out_features", "Linear")
        dtype = check_float_dtype(dtype, "Linear")
        self.weight = Parameter(np.empty((self.in_features, self.out_features), dtype))
        self.bias = Parameter(np.empty(self.out_features, dtype)) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """PyTorch's rule: ``init.kaiming_uniform_`` with a=√5, i.e. W ~ U(-1/√fan_in, 1/√fan_in),
        and b ~ U(-1/√fan_in, 1/√fan_in)."""
        check_rng(rng, "Linear")
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def _name(self) -> str:
        return f"Linear({self.in_features}→{self.out_features})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_batch(x, self.in_features, self, self.weight.dtype)
        self._cache = x
        return F.linear(x, self.weight.data, None if self.bias is None else self.bias.data)

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        x = self._take_cache()
        grad_out = check_grad_out(self, grad_out, (x.shape[0], self.out_features),
                                  self.weight.dtype)
        grad_x, grad_weight, grad_bias = F.linear_backward(
            x, self.weight.data, grad_out, needs_input_grad=needs_input_grad)
        self.weight.accumulate_grad(grad_weight)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_bias)
        return grad_x

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def draw_keep_mask(rng: np.random.Generator, shape: tuple, p: float, dtype) -> np.ndarray:
    """Dropout's keep-mask m of ``shape``: 1 (keep) with probability 1 - p, 0 (drop) with
    probability p, in ``dtype``; drawn as U[0, 1) >= p from ``rng`` in
    ``init.draw_dtype(dtype)``, the library's one rule for the dtype of random draws."""
    return (rng.random(shape, dtype=draw_dtype(dtype)) >= p).astype(dtype)


class Dropout(Module):
    r"""Randomly zero activations during training (inverted dropout).

    ``p`` is the probability of *dropping* a unit (PyTorch's convention; the
    course's source notes call it the keep probability, which the book corrects).
    In training :math:`y = x \odot m / (1 - p)` with :math:`m_i \sim
    \text{Bernoulli}(1 - p)`, so E[y] = x (``functional.dropout``); in eval mode,
    and for p = 0, y = x. Backward multiplies by the same m / (1 - p).
    ``mask`` is the keep-mask m of the last training forward (read-only).
    Shapes: x (*) -> y (*), same dtype.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator):
        self.p = check_drop_probability(p, "Dropout")
        self.rng = check_rng(rng, "Dropout")
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        if not self.training or self.p == 0.0:
            self._cache = (x.shape, None)
            return x
        keep_mask = draw_keep_mask(self.rng, x.shape, self.p, x.dtype)
        keep_mask.flags.writeable = False
        self.mask = keep_mask
        self._cache = (x.shape, keep_mask)
        return F.dropout(x, keep_mask, self.p)

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        shape, keep_mask = self._take_cache()
        dtype = np.asarray(grad_out).dtype if keep_mask is None else keep_mask.dtype
        grad_out = check_grad_out(self, grad_out, shape, dtype)
        if not needs_input_grad:
            return None
        return grad_out if keep_mask is None else F.dropout_backward(grad_out, keep_mask, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


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

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        shape = self._take_cache()
        grad_out = check_grad_out("Residual", grad_out, shape, np.asarray(grad_out).dtype)
        if not needs_input_grad:
            return self.block.backward(grad_out, needs_input_grad=False)
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
            x = layer.forward(x)  # what layer(x) calls, one Python call fewer per layer
        return x

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        """Backward through the layers in reverse order; returns d loss / d input.

        ``needs_input_grad=False``, for a training step whose input is data: it is
        passed on to the first layer, which may skip d loss / d input (a Linear saves
        its product G Wᵀ, a third of its backward), and None is returned. Only then is
        the keyword passed, so a layer whose ``backward(grad_out)`` lacks it still
        works in a model whose input gradient is asked for.
        """
        for index in reversed(range(len(self._layers))):
            layer = self._layers[index]
            if index == 0 and not needs_input_grad:
                return layer.backward(grad_out, needs_input_grad=False)
            grad_out = layer.backward(grad_out)
        return grad_out if needs_input_grad else None
