"""The math of mlpcore as pure functions, in the book's notation.

Each function is a few lines: the formula in the docstring, the formula in the
code. Nothing here checks its input or keeps state; the classes (``Linear``,
``Dropout``, ``SGD``, ...) validate, cache what backward needs, keep modes and
buffers, and then call these kernels. As in ``torch.nn.functional``, the names
say what is computed. Shapes: N examples in a batch, D (or in/out) features.

Conventions:

* weights are stored (in, out), so a linear layer computes ``x @ W``;
* ``*_backward(x, grad_out)`` of an activation takes the forward INPUT x and
  G = dL/dy, and returns dL/dx = G ⊙ f'(x);
* ``p`` of dropout is the probability of DROPPING a unit (PyTorch's convention);
* the optimizer steps update ``param`` in place (as ``p.data -= ...`` does in
  PyTorch) and return their new state.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["linear", "linear_backward", "relu", "relu_backward", "leaky_relu",
           "leaky_relu_backward", "elu", "elu_backward", "sigmoid", "sigmoid_backward",
           "tanh", "tanh_backward", "dropout", "dropout_backward", "batch_norm_train",
           "batch_norm_eval", "batch_norm_backward", "batch_norm_backward_graph", "layer_norm", "layer_norm_backward", "softmax_cross_entropy", "mse",
           "sgd_step", "sgd_step_inplace", "adam_step", "adam_step_inplace", "adamw_step",
           "adamw_step_inplace"]


# ----- linear layer -------------------------------------------------------------
def linear(x, weight, bias=None):
    """Affine map  y = x W + b.

    Shapes: x (N, in), weight (in, out), bias (out,) or None -> y (N, out).
    """
    y = x @ weight
    if bias is not None:
        y += bias
    return y


def linear_backward(x, weight, grad_out, *, needs_input_grad=True):
    """Gradients of  y = x W + b,  given G = dL/dy:

        dL/dW = xᵀ G        dL/db = Σ_n G_n        dL/dx = G Wᵀ

    Shapes: x (N, in), weight (in, out), grad_out (N, out) -> grad_x (N, in),
    grad_weight (in, out), grad_bias (out,). grad_x is None if not needs_input_grad
    (the input is data: nobody uses its gradient).
    """
    grad_weight = x.T @ grad_out
    grad_bias = grad_out.sum(axis=0)
    grad_x = grad_out @ weight.T if needs_input_grad else None
    return grad_x, grad_weight, grad_bias


# ----- activations: y = f(x) and dL/dx = G ⊙ f'(x) -------------------------------
def relu(x):
    """y = max(x, 0). Shapes: x (*) -> y (*)."""
    return np.maximum(x, 0)


def relu_backward(x, grad_out):
    """dL/dx = G ⊙ [x > 0]: a unit that was off passes no gradient (0 at x = 0, and
    for an infinite G too, as in PyTorch). Shapes: x, grad_out (*) -> (*)."""
    if np.isfinite(grad_out).all():
        return grad_out * (x > 0)  # ~10x faster than np.where on a random mask
    return np.where(x > 0, grad_out, 0)  # inf * 0 would be NaN


def leaky_relu(x, negative_slope=0.01):
    """y = x for x > 0, a·x otherwise (a = negative_slope)."""
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_backward(x, grad_out, negative_slope=0.01):
    """dL/dx = G where x > 0, a·G otherwise."""
    return np.where(x > 0, grad_out, negative_slope * grad_out)


def elu(x, alpha=1.0):
    """y = x for x > 0, α (eˣ - 1) otherwise (α = alpha)."""
    # exp of the non-positive part only: exp of a large positive x would overflow
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_backward(x, grad_out, alpha=1.0):
    """dL/dx = G where x > 0, G α eˣ otherwise."""
    return np.where(x > 0, grad_out, grad_out * (alpha * np.exp(np.minimum(x, 0))))


def sigmoid(x):
    """σ(x) = 1 / (1 + e⁻ˣ), computed as e^min(x, 0) / (1 + e^-|x|): the same number,
    but no exponential in it can overflow."""
    return np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))


def sigmoid_backward(x, grad_out):
    """dL/dx = G ⊙ σ(x) (1 - σ(x))."""
    y = sigmoid(x)
    return grad_out * y * (1 - y)


def tanh(x):
    """y = tanh(x)."""
    return np.tanh(x)


def tanh_backward(x, grad_out):
    """dL/dx = G ⊙ (1 - tanh²(x))."""
    y = np.tanh(x)
    return grad_out * (1 - y * y)


# ----- dropout --------------------------------------------------------------------
def dropout(x, keep_mask, p):
    """Inverted dropout:  y = x ⊙ m / (1 - p).

    p is the probability of DROPPING a unit; the keep-mask m holds 1 (keep, with
    probability 1 - p) or 0 (drop), so E[y] = x. Shapes: x, keep_mask (*) -> y (*).
    """
    return x * keep_mask / (1 - p)


def dropout_backward(grad_out, keep_mask, p):
    """dL/dx = G ⊙ m / (1 - p): the forward's mask and scale."""
    return grad_out * keep_mask / (1 - p)


# ----- batch normalisation ------------------------------------------------------------
def batch_norm_eval(x, mean, var, weight, bias, eps):
    """Batch normalisation with given statistics μ = mean, σ² = var (in eval, the
    running ones):

        x̂ = (x - μ) / √(σ² + ε)        y = γ ⊙ x̂ + β

    weight (γ) and bias (β) may be None (no affine part).
    Shapes: x (N, C); mean, var, weight, bias (C,) -> y, x_hat (N, C), inv_std (C,).
    """
    return _normalize(x - mean, var, weight, bias, eps)


def batch_norm_train(x, weight, bias, eps):
    """Batch normalisation with the batch's own statistics (training):

        μ = (1/N) Σ_n x_n        σ² = (1/N) Σ_n (x_n - μ)²   (biased: divide by N)

    then as batch_norm_eval. Returns y, x_hat, inv_std and the batch's mean and var.
    """
    mean = x.mean(axis=0)
    centered = x - mean
    var = (centered * centered).mean(axis=0)
    return (*_normalize(centered, var, weight, bias, eps), mean, var)


def _normalize(centered, var, weight, bias, eps):
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = centered * inv_std
    y = x_hat if weight is None else x_hat * weight + bias
    return y, x_hat, inv_std


def batch_norm_backward(grad_out, x_hat, inv_std, weight, *, batch_stats=True):
    """Gradients of batch normalisation, given G = dL/dy (bars: means over the batch):

        dL/dγ = Σ_n G ⊙ x̂        dL/dβ = Σ_n G
        dL/dx = γ / √(σ² + ε) ⊙ (G - Ḡ - x̂ ⊙ mean(G ⊙ x̂))   batch statistics (μ, σ depend on x)
        dL/dx = γ / √(σ² + ε) ⊙ G                              running statistics (eval)

    weight None means γ = 1. Shapes: grad_out, x_hat (N, C); inv_std, weight (C,)
    -> grad_x (N, C), grad_weight (C,), grad_bias (C,).
    """
    grad_weight = (grad_out * x_hat).sum(axis=0)
    grad_bias = grad_out.sum(axis=0)
    scale = inv_std if weight is None else inv_std * weight
    if not batch_stats:
        return grad_out * scale, grad_weight, grad_bias
    n = len(grad_out)
    grad_x = scale * (grad_out - grad_bias / n - x_hat * (grad_weight / n))
    return grad_x, grad_weight, grad_bias


def batch_norm_backward_graph(grad_out, x, weight, eps):
    """The training-mode gradient of batch normalisation, node by node along the
    computational graph x -> μ -> σ² -> x̂ -> y (chapter 4 derives it; slower than
    ``batch_norm_backward``, which is its simplified closed form, and kept to check it):

        dx̂ = G ⊙ γ        dσ² = -½ (σ² + ε)^(-3/2) Σ_n dx̂ ⊙ (x - μ)
        dμ = -Σ_n dx̂ / √(σ² + ε) + dσ² · (-2/N) Σ_n (x - μ)
        dx = dx̂ / √(σ² + ε) + dσ² · 2(x - μ)/N + dμ / N

    weight None means γ = 1. Shapes: grad_out, x (N, C); weight (C,) -> grad_x (N, C).
    """
    n = len(x)
    centered = x - x.mean(axis=0)
    var = (centered * centered).mean(axis=0)
    grad_hat = grad_out if weight is None else grad_out * weight
    grad_var = -0.5 * (var + eps) ** -1.5 * (grad_hat * centered).sum(axis=0)
    grad_mean = (-(grad_hat / np.sqrt(var + eps)).sum(axis=0)
                 + grad_var * (-2.0 / n) * centered.sum(axis=0))
    return grad_hat / np.sqrt(var + eps) + grad_var * 2.0 * centered / n + grad_mean / n


def layer_norm(x, weight, bias, eps):
    """Layer normalisation: each EXAMPLE normalised over its own C features (no batch
    statistics, so one example's output never depends on the others):

        μ_n = (1/C) Σ_c x_nc        σ²_n = (1/C) Σ_c (x_nc - μ_n)²   (biased)
        x̂ = (x - μ) / √(σ² + ε)        y = x̂ ⊙ γ + β   (γ, β per feature)

    weight (γ) and bias (β) may be None. Shapes: x (N, C); weight, bias (C,)
    -> y, x_hat (N, C), inv_std (N, 1).
    """
    centered = x - x.mean(axis=1, keepdims=True)
    var = (centered * centered).mean(axis=1, keepdims=True)
    return _normalize(centered, var, weight, bias, eps)


def layer_norm_backward(grad_out, x_hat, inv_std, weight):
    """Gradients of layer normalisation, given G = dL/dy (bars: means over a row's features):

        dL/dγ = Σ_n G ⊙ x̂        dL/dβ = Σ_n G        D = G ⊙ γ
        dL/dx = (1/√(σ² + ε)) ⊙ (D - D̄ - x̂ ⊙ mean(D ⊙ x̂))

    γ multiplies before the row means here (it varies along the axis being averaged).
    Shapes: grad_out, x_hat (N, C); inv_std (N, 1); weight (C,) or None
    -> grad_x (N, C), grad_weight (C,), grad_bias (C,).
    """
    grad_weight = (grad_out * x_hat).sum(axis=0)
    grad_bias = grad_out.sum(axis=0)
    grad_hat = grad_out if weight is None else grad_out * weight
    grad_x = inv_std * (grad_hat - grad_hat.mean(axis=1, keepdims=True)
                        - x_hat * (grad_hat * x_hat).mean(axis=1, keepdims=True))
    return grad_x, grad_weight, grad_bias


# ----- losses -------------------------------------------------------------------------
def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy of softmax(z) against the class indices t, and its gradient:

        ℓ_n = log Σ_c exp(z_nc) - z_n,t_n        L = (1/N) Σ_n ℓ_n
        dL/dz = (softmax(z) - onehot(t)) / N

    Shapes: logits z (N, C), targets t (N,) ints in [0, C) -> loss (scalar), grad (N, C).
    """
    n = len(targets)
    rows = np.arange(n)
    shifted = logits - logits.max(axis=1, keepdims=True)  # log-sum-exp: e^z cannot overflow
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    loss = (np.log(sum_exp[:, 0]) - shifted[rows, targets]).sum() / n
    grad_logits = exp / sum_exp
    grad_logits[rows, targets] -= 1
    grad_logits *= 1 / n
    return loss, grad_logits


def mse(pred, target):
    """Mean squared error over all M elements, and its gradient:

        L = (1/M) Σ_i (ŷ_i - y_i)²        dL/dŷ = 2 (ŷ - y) / M

    Shapes: pred ŷ, target y (*) of the same shape -> loss (scalar), grad (*).
    """
    diff = pred - target
    return np.sum(diff * diff) / diff.size, diff * (2 / diff.size)


# ----- optimizer update rules (PyTorch's order) -----------------------------------------
def sgd_step(param, grad, buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
             weight_decay=0.0):
    """One step of SGD on param p (in place), as PyTorch; returns the momentum buffer.

        g ← g + weight_decay · p                  L2 penalty (weight_decay/2)‖p‖², coupled
        b ← g                                     first step (buf is None)
        b ← momentum · b + (1 - dampening) · g    later steps
        g ← g + momentum · b  if nesterov,  else  g ← b
        p ← p - lr · g
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum != 0:
        buf = grad.copy() if buf is None else momentum * buf + (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    param -= lr * grad
    return buf


def sgd_step_inplace(param, grad, buf, direction, lookahead=None, *, lr, momentum=0.0,
                     dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False):
    """``sgd_step`` without temporaries, for the training loop: the same operations in
    the same order, so bit for bit the same result (tests/mlpcore/test_functional.py checks it).
    Two work arrays like ``param``, allocated once by the caller: ``direction`` holds
    the step's direction g (then lr · g), ``lookahead`` momentum · b (nesterov only; may
    be None otherwise). ``buf`` (None on the first step) is updated in place and
    returned. ``maximize`` steps along -grad."""
    if weight_decay != 0:
        np.multiply(param, weight_decay, out=direction)
        (np.subtract if maximize else np.add)(direction, grad, out=direction)
    elif maximize:
        np.negative(grad, out=direction)
    else:
        np.copyto(direction, grad, casting="same_kind")
    step_along = direction
    if momentum != 0:
        if buf is None:
            buf = direction.copy()
        else:
            buf *= momentum
            if dampening != 0:
                direction *= 1 - dampening
            buf += direction
        if nesterov:
            direction += np.multiply(buf, momentum, out=lookahead)
        else:
            step_along = buf  # g <- b: lr · b is written into direction below
    np.multiply(step_along, lr, out=direction)
    param -= direction
    return buf


def adam_step(param, grad, m, v, t, *, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              v_max=None):
    """Step t = 1, 2, ... of Adam on param p (in place), as PyTorch; returns (m, v, v_max).

        g ← g + weight_decay · p                 L2, coupled: then divided by √v too
        m ← β1 · m + (1 - β1) · g
        v ← β2 · v + (1 - β2) · g²
        v_max ← max(v_max, v)                    amsgrad only (pass v_max): it replaces v
        p ← p - lr / (1 - β1ᵗ) · m / (√v / √(1 - β2ᵗ) + eps)
    """
    beta1, beta2 = betas
    if weight_decay != 0:
        grad = grad + weight_decay * param
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    if v_max is not None:
        v_max = np.maximum(v_max, v)
    denom = np.sqrt(v if v_max is None else v_max) / math.sqrt(1 - beta2 ** t) + eps
    param -= lr / (1 - beta1 ** t) * (m / denom)
    return m, v, v_max


def adamw_step(param, grad, m, v, t, *, lr, betas=(0.9, 0.999), eps=1e-8,
               weight_decay=1e-2, v_max=None):
    """Step t of AdamW on param p (in place), as PyTorch; returns (m, v, v_max).

        p ← p · (1 - lr · weight_decay)          decoupled: shrink p itself, not g
        then the Adam step (adam_step) with the plain gradient g
    """
    param *= 1 - lr * weight_decay
    return adam_step(param, grad, m, v, t, lr=lr, betas=betas, eps=eps, v_max=v_max)


def adam_step_inplace(param, grad, m, v, t, temp, adjusted_grad=None, *, lr,
                      betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, v_max=None,
                      maximize=False):
    """``adam_step`` without temporaries: the same operations in the same order (bit for
    bit the same result, as tests/mlpcore/test_functional.py checks), updating ``m``, ``v`` and
    ``v_max`` in place. Two work arrays like ``param``, allocated once by the caller:
    ``temp`` holds each intermediate in turn ((1 - β1) g, (1 - β2) g², the denominator,
    the step), ``adjusted_grad`` the gradient the moments see when it is not ``grad``
    itself (g + weight_decay · p, or -g with maximize; may be None otherwise)."""
    beta1, beta2 = betas
    if weight_decay != 0:
        np.multiply(param, weight_decay, out=adjusted_grad)
        (np.subtract if maximize else np.add)(adjusted_grad, grad, out=adjusted_grad)
        grad = adjusted_grad
    elif maximize:
        grad = np.negative(grad, out=adjusted_grad)
    m *= beta1
    m += np.multiply(grad, 1 - beta1, out=temp)
    v *= beta2
    np.multiply(grad, grad, out=temp)
    temp *= 1 - beta2
    v += temp
    if v_max is not None:
        np.maximum(v_max, v, out=v_max)
    denom = np.sqrt(v if v_max is None else v_max, out=temp)
    denom /= math.sqrt(1 - beta2 ** t)
    denom += eps  # eps after the bias correction, as PyTorch
    step = np.divide(m, denom, out=temp)
    step *= lr / (1 - beta1 ** t)
    param -= step


def adamw_step_inplace(param, grad, m, v, t, temp, adjusted_grad=None, *, lr,
                       betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, v_max=None,
                       maximize=False):
    """``adamw_step`` without temporaries (bit for bit the same result): the decoupled
    shrink p ← p · (1 - lr · weight_decay), then ``adam_step_inplace`` without L2
    (``adjusted_grad`` is used only with maximize)."""
    if weight_decay != 0:
        param *= 1 - lr * weight_decay
    adam_step_inplace(param, grad, m, v, t, temp, adjusted_grad, lr=lr, betas=betas,
                      eps=eps, v_max=v_max, maximize=maximize)
