"""Batch normalisation for (N, C) activations, with PyTorch's statistics rules (the
formulas: ``functional.batch_norm_train``, ``batch_norm_eval``, ``batch_norm_backward``),
and layer normalisation, its batch-independent counterpart (``functional.layer_norm``,
``layer_norm_backward``)."""
from __future__ import annotations

import numpy as np

from mlpcore import functional as F
from mlpcore._checks import (DEFAULT_DTYPE, as_float_array, check_float_dtype,
                             check_grad_out, check_positive_int, check_real)
from mlpcore.module import Module, Parameter


class BatchNorm1d(Module):
    r"""Batch normalisation over the batch dimension of an (N, C) input.

    .. math::
        \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
        y = \gamma \odot \hat x + \beta

    In training, :math:`\mu` and :math:`\sigma^2` are the batch mean and the
    *biased* batch variance (divide by N), and the running statistics follow
    PyTorch's rule

    .. math::
        r \leftarrow (1 - m)\, r + m\, s,

    where s is the batch mean, or for ``running_var`` the *unbiased* batch
    variance (divide by N - 1), and m is ``momentum`` (note: weight on the NEW
    value; some older notes use 0.9 on the old one). ``momentum=None`` gives
    the cumulative average, m = 1 / num_batches_tracked. In eval mode
    :math:`\mu, \sigma^2` are ``running_mean`` and ``running_var``. With
    ``track_running_stats=False`` batch statistics are used in both modes.

    Parameters: ``weight`` (gamma, init 1) and ``bias`` (beta, init 0), shape (C,),
    if ``affine``. Buffers: ``running_mean`` (init 0), ``running_var`` (init 1),
    ``num_batches_tracked`` (int64), if ``track_running_stats``.
    Shapes: x (N, C) -> y (N, C).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype=DEFAULT_DTYPE):
        self.num_features = check_positive_int(num_features, "num_features", "BatchNorm1d")
        self.eps = check_real(eps, "eps", "BatchNorm1d")
        if self.eps <= 0:
            raise ValueError(f"BatchNorm1d: eps must be positive (it keeps 1/sqrt(var + eps) "
                             f"finite for a constant feature), got {eps!r}")
        if momentum is not None:
            momentum = check_real(momentum, "momentum", "BatchNorm1d")
            if not 0 <= momentum <= 1:
                raise ValueError(f"BatchNorm1d: momentum is the weight of the new batch "
                                 f"statistic and must be in [0, 1], got {momentum!r}")
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = check_float_dtype(dtype, "BatchNorm1d")
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def _name(self) -> str:
        return f"BatchNorm1d({self.num_features})"

    def _dtype(self, x: np.ndarray) -> np.dtype:
        if self.affine:
            return self.weight.dtype
        if self.track_running_stats:
            return self.running_mean.dtype
        return x.dtype  # nothing of our own to match: follow the input

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self._name()} got input of shape {x.shape}; expected "
                f"(batch, {self.num_features}). Check that num_features equals the width "
                f"of the previous layer (this layer normalises (N, C) inputs only).")
        x = np.asarray(x, dtype=self._dtype(x))
        use_batch_stats = self.training or not self.track_running_stats
        weight, bias = (self.weight.data, self.bias.data) if self.affine else (None, None)
        if use_batch_stats:
            if x.shape[0] < 2:
                raise ValueError(
                    f"{self._name()} got a batch of {x.shape[0]} in training mode: the "
                    f"variance of a single value is 0, so it cannot be normalised (PyTorch: "
                    f"'Expected more than 1 value per channel when training'). Use a batch "
                    f"of at least 2, or call .eval() to use the running statistics.")
            y, x_hat, inv_std, mean, var = F.batch_norm_train(x, weight, bias, self.eps)
            if self.training and self.track_running_stats:
                self._update_running_stats(mean, var, x.shape[0])
        else:
            y, x_hat, inv_std = F.batch_norm_eval(x, self.running_mean, self.running_var,
                                                  weight, bias, self.eps)
        self._cache = (x_hat, inv_std, use_batch_stats)
        return y

    def _update_running_stats(self, mean: np.ndarray, var: np.ndarray, batch_size: int) -> None:
        self.num_batches_tracked += 1
        if self.momentum is None:
            factor = 1.0 / int(self.num_batches_tracked)
        else:
            factor = self.momentum
        unbiased_var = var * (batch_size / (batch_size - 1))
        # in place, so views and optimiser-style references stay valid
        self.running_mean *= 1 - factor
        self.running_mean += factor * mean
        self.running_var *= 1 - factor
        self.running_var += factor * unbiased_var

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        """Gradients as in ``functional.batch_norm_backward``: with batch statistics
        (training) mu and sigma depend on x; with running statistics (eval) they do not.
        Without ``affine``, gamma = 1 and no parameter gradient is accumulated."""
        x_hat, inv_std, use_batch_stats = self._take_cache()
        grad_out = check_grad_out(self, grad_out, x_hat.shape, x_hat.dtype)
        weight = self.weight.data if self.affine else None
        grad_x, grad_weight, grad_bias = F.batch_norm_backward(
            grad_out, x_hat, inv_std, weight, batch_stats=use_batch_stats)
        if self.affine:
            self.weight.accumulate_grad(grad_weight)
            self.bias.accumulate_grad(grad_bias)
        return grad_x if needs_input_grad else None

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class LayerNorm(Module):
    r"""Layer normalisation over the features of each example of an (N, C) input
    (PyTorch's ``nn.LayerNorm(C)``, Ba et al. 2016).

    .. math::
        \mu_n = \frac1C \sum_c x_{nc}, \quad
        \sigma_n^2 = \frac1C \sum_c (x_{nc} - \mu_n)^2, \quad
        y_{nc} = \gamma_c \frac{x_{nc} - \mu_n}{\sqrt{\sigma_n^2 + \epsilon}} + \beta_c

    The statistics are each example's own (biased variance), the same in training and
    evaluation, so there are no running statistics and an example's output does not
    depend on the rest of the batch; a batch of one is fine.
    Parameters: ``weight`` (gamma, init 1) and ``bias`` (beta, init 0), shape (C,), if
    ``elementwise_affine``. Shapes: x (N, C) -> y (N, C).
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5,
                 elementwise_affine: bool = True, dtype=DEFAULT_DTYPE):
        if isinstance(normalized_shape, (tuple, list)):
            if len(normalized_shape) != 1:
                raise ValueError(f"LayerNorm: this layer normalises (N, C) inputs over C "
                                 f"only; got normalized_shape={normalized_shape!r}")
            normalized_shape = normalized_shape[0]
        self.normalized_shape = check_positive_int(normalized_shape, "normalized_shape",
                                                   "LayerNorm")
        self.eps = check_real(eps, "eps", "LayerNorm")
        if self.eps <= 0:
            raise ValueError(f"LayerNorm: eps must be positive (it keeps 1/sqrt(var + eps) "
                             f"finite for a constant example), got {eps!r}")
        self.elementwise_affine = bool(elementwise_affine)
        dtype = check_float_dtype(dtype, "LayerNorm")
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
        else:
            self.weight = self.bias = None

    def _name(self) -> str:
        return f"LayerNorm({self.normalized_shape})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = as_float_array(x, self)
        if x.ndim != 2 or x.shape[1] != self.normalized_shape:
            raise ValueError(
                f"{self._name()} got input of shape {x.shape}; expected "
                f"(batch, {self.normalized_shape}). Check that normalized_shape equals the "
                f"width of the previous layer.")
        if self.elementwise_affine:   # without parameters, follow the input's dtype
            x = np.asarray(x, dtype=self.weight.dtype)
        weight, bias = ((self.weight.data, self.bias.data) if self.elementwise_affine
                        else (None, None))
        y, x_hat, inv_std = F.layer_norm(x, weight, bias, self.eps)
        self._cache = (x_hat, inv_std)
        return y

    def backward(self, grad_out: np.ndarray, *,
                 needs_input_grad: bool = True) -> np.ndarray | None:
        """Gradients as in ``functional.layer_norm_backward``."""
        x_hat, inv_std = self._take_cache()
        grad_out = check_grad_out(self, grad_out, x_hat.shape, x_hat.dtype)
        weight = self.weight.data if self.elementwise_affine else None
        grad_x, grad_weight, grad_bias = F.layer_norm_backward(grad_out, x_hat, inv_std, weight)
        if self.elementwise_affine:
            self.weight.accumulate_grad(grad_weight)
            self.bias.accumulate_grad(grad_bias)
        return grad_x if needs_input_grad else None

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
