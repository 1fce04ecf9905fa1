"""mlpcore.functional: each kernel computes its formula, its backward is the exact
gradient (central differences in float64), the kernels are pure, and every in-place
twin gives bit for bit the result of the readable rule it stands in for.

The layers built on these kernels are tested in test_layers.py, test_activations.py,
test_normalization.py and test_losses.py; against PyTorch in test_parity_*.py."""
import numpy as np
import pytest
from numpy.random import default_rng

from mlpcore import functional as F

STEP = 1e-6


def numerical_vjp(f, x, grad_out):
    """d sum(grad_out * f(x)) / dx by central differences (float64)."""
    x = x.copy()
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + STEP
        plus = np.sum(grad_out * f(x))
        x[i] = original - STEP
        minus = np.sum(grad_out * f(x))
        x[i] = original
        grad[i] = (plus - minus) / (2 * STEP)
    return grad


def away_from_zero(rng, shape):
    """|x| >= 0.1, so no finite difference straddles a kink at 0."""
    return rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# ----- linear -------------------------------------------------------------------------
def test_linear_and_its_gradients_are_the_formulas(rng):
    x, weight, bias = rng.standard_normal((5, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    grad_out = rng.standard_normal((5, 2))
    np.testing.assert_allclose(F.linear(x, weight, bias), x @ weight + bias, rtol=1e-14)
    np.testing.assert_allclose(F.linear(x, weight), x @ weight, rtol=1e-14)
    grad_x, grad_weight, grad_bias = F.linear_backward(x, weight, grad_out)
    np.testing.assert_allclose(grad_x, numerical_vjp(lambda v: F.linear(v, weight, bias), x,
                                                     grad_out), atol=1e-8)
    np.testing.assert_allclose(grad_weight, numerical_vjp(lambda w: F.linear(x, w, bias), weight,
                                                          grad_out), atol=1e-8)
    np.testing.assert_allclose(grad_bias, numerical_vjp(lambda b: F.linear(x, weight, b), bias,
                                                        grad_out), atol=1e-8)
    skipped = F.linear_backward(x, weight, grad_out, needs_input_grad=False)
    assert skipped[0] is None
    np.testing.assert_array_equal(skipped[1], grad_weight)


# ----- activations --------------------------------------------------------------------
ACTIVATIONS = {
    "relu": (F.relu, F.relu_backward),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x, g: F.leaky_relu_backward(x, g, 0.2)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x, g: F.elu_backward(x, g, 0.7)),
    "sigmoid": (F.sigmoid, F.sigmoid_backward),
    "tanh": (F.tanh, F.tanh_backward),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_is_the_gradient_of_the_forward(name, rng):
    forward, backward = ACTIVATIONS[name]
    x = away_from_zero(rng, (4, 6))
    grad_out = rng.standard_normal(x.shape)
    np.testing.assert_allclose(backward(x, grad_out), numerical_vjp(forward, x, grad_out),
                               atol=1e-8)


def test_activation_formulas():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(F.relu(x), np.maximum(x, 0))
    np.testing.assert_allclose(F.leaky_relu(x, 0.1), np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(F.elu(x, 2.0), np.where(x > 0, x, 2.0 * (np.exp(x) - 1)))
    np.testing.assert_allclose(F.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(F.tanh(x), np.tanh(x))


def test_relu_backward_passes_nothing_through_an_off_unit_even_an_infinite_gradient():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(F.relu_backward(x, np.array([5.0, 5.0, 5.0])), [0, 0, 5])
    np.testing.assert_array_equal(F.relu_backward(x, np.array([np.inf, -np.inf, np.inf])),
                                  [0, 0, np.inf])


# ----- dropout ------------------------------------------------------------------------
def test_dropout_scales_the_kept_units_and_its_backward_uses_the_same_mask(rng):
    x = rng.standard_normal((6, 5))
    keep_mask = (rng.random(x.shape) >= 0.3).astype(x.dtype)
    y = F.dropout(x, keep_mask, 0.3)
    np.testing.assert_allclose(y, np.where(keep_mask == 1, x / 0.7, 0.0), rtol=1e-15)
    grad_out = rng.standard_normal(x.shape)
    np.testing.assert_allclose(F.dropout_backward(grad_out, keep_mask, 0.3),
                               numerical_vjp(lambda v: F.dropout(v, keep_mask, 0.3), x, grad_out),
                               atol=1e-8)


# ----- batch normalisation -------------------------------------------------------------
def test_batch_norm_train_normalises_with_the_biased_batch_variance(rng):
    x = rng.normal(3.0, 2.0, (8, 4))
    weight, bias = rng.uniform(0.5, 2, 4), rng.standard_normal(4)
    y, x_hat, inv_std, mean, var = F.batch_norm_train(x, weight, bias, 1e-5)
    np.testing.assert_allclose(mean, x.mean(0), rtol=1e-14)
    np.testing.assert_allclose(var, x.var(0, ddof=0), rtol=1e-13)
    np.testing.assert_allclose(x_hat, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(y, weight * x_hat + bias, rtol=1e-14)
    y_eval, _, _ = F.batch_norm_eval(x, mean, var, weight, bias, 1e-5)
    np.testing.assert_allclose(y_eval, y, rtol=1e-13)
    assert F.batch_norm_train(x, None, None, 1e-5)[0] is not None


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("batch_stats", [True, False])
def test_batch_norm_backward_is_the_gradient(affine, batch_stats, rng):
    x = rng.normal(1.0, 2.0, (6, 3))
    weight, bias = (rng.uniform(0.5, 2, 3), rng.standard_normal(3)) if affine else (None, None)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)  # "running" statistics

    def forward(v, w=weight, b=bias):
        if batch_stats:
            return F.batch_norm_train(v, w, b, 1e-5)[0]
        return F.batch_norm_eval(v, mean, var, w, b, 1e-5)[0]

    grad_out = rng.standard_normal(x.shape)
    _, x_hat, inv_std, *_ = (F.batch_norm_train(x, weight, bias, 1e-5) if batch_stats
                             else F.batch_norm_eval(x, mean, var, weight, bias, 1e-5))
    grad_x, grad_weight, grad_bias = F.batch_norm_backward(grad_out, x_hat, inv_std, weight,
                                                           batch_stats=batch_stats)
    np.testing.assert_allclose(grad_x, numerical_vjp(forward, x, grad_out), atol=1e-7)
    if affine:
        np.testing.assert_allclose(grad_weight, numerical_vjp(lambda w: forward(x, w=w), weight,
                                                              grad_out), atol=1e-7)
        np.testing.assert_allclose(grad_bias, numerical_vjp(lambda b: forward(x, b=b), bias,
                                                            grad_out), atol=1e-7)


@pytest.mark.parametrize("n", [2, 7])
def test_batch_norm_backward_graph_equals_the_closed_form_and_the_gradient(n, rng):
    x = rng.normal(1.0, 2.0, (n, 4))
    weight = rng.uniform(-2, 2, 4)
    grad_out = rng.standard_normal(x.shape)
    _, x_hat, inv_std, *_ = F.batch_norm_train(x, weight, np.zeros(4), 1e-5)
    closed, _, _ = F.batch_norm_backward(grad_out, x_hat, inv_std, weight)
    graph = F.batch_norm_backward_graph(grad_out, x, weight, 1e-5)
    np.testing.assert_allclose(graph, closed, rtol=1e-10, atol=1e-12)
    forward = lambda v: F.batch_norm_train(v, weight, np.zeros(4), 1e-5)[0]  # noqa: E731
    np.testing.assert_allclose(graph, numerical_vjp(forward, x, grad_out), atol=1e-7)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_backward_is_the_gradient(affine, rng):
    x = rng.normal(1.0, 2.0, (5, 6))
    weight, bias = (rng.uniform(-2, 2, 6), rng.standard_normal(6)) if affine else (None, None)
    forward = lambda v, w=weight, b=bias: F.layer_norm(v, w, b, 1e-5)[0]  # noqa: E731
    grad_out = rng.standard_normal(x.shape)
    _, x_hat, inv_std = F.layer_norm(x, weight, bias, 1e-5)
    grad_x, grad_weight, grad_bias = F.layer_norm_backward(grad_out, x_hat, inv_std, weight)
    np.testing.assert_allclose(grad_x, numerical_vjp(forward, x, grad_out), atol=1e-7)
    if affine:
        np.testing.assert_allclose(grad_weight, numerical_vjp(lambda w: forward(x, w=w), weight,
                                                              grad_out), atol=1e-7)
        np.testing.assert_allclose(grad_bias, numerical_vjp(lambda b: forward(x, b=b), bias,
                                                            grad_out), atol=1e-7)


# ----- losses ---------------------------------------------------------------------------
def test_softmax_cross_entropy_value_and_gradient(rng):
    logits, targets = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    loss, grad = F.softmax_cross_entropy(logits, targets)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert loss == pytest.approx(-log_probs[np.arange(5), targets].mean(), rel=1e-14)
    np.testing.assert_allclose(
        grad, numerical_vjp(lambda z: F.softmax_cross_entropy(z, targets)[0], logits, 1.0),
        atol=1e-8)


def test_mse_value_and_gradient(rng):
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    loss, grad = F.mse(pred, target)
    assert loss == pytest.approx(np.mean((pred - target) ** 2), rel=1e-14)
    np.testing.assert_allclose(grad, numerical_vjp(lambda p: F.mse(p, target)[0], pred, 1.0),
                               atol=1e-8)


# ----- purity ----------------------------------------------------------------------------
def test_kernels_do_not_modify_their_inputs(rng):
    x, weight, grad_out = rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), \
        rng.standard_normal((4, 3))
    keep_mask = (rng.random((4, 3)) > 0.5).astype(float)
    targets = np.array([0, 1, 2, 0])
    inputs = [x, weight, grad_out, keep_mask]
    before = [a.copy() for a in inputs]
    F.linear(x, weight, weight[0])
    F.linear_backward(x, weight, grad_out)
    for forward, backward in ACTIVATIONS.values():
        forward(x)
        backward(x, grad_out)
    F.dropout(x, keep_mask, 0.5)
    F.dropout_backward(grad_out, keep_mask, 0.5)
    _, x_hat, inv_std, _, _ = F.batch_norm_train(x, weight[0], weight[1], 1e-5)
    F.batch_norm_backward(grad_out, x_hat, inv_std, weight[0])
    F.softmax_cross_entropy(x, targets)
    F.mse(x, grad_out)
    for array, old in zip(inputs, before):
        np.testing.assert_array_equal(array, old)


# ----- the update rules, readable and in place ----------------------------------------------
SGD_SETTINGS = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=5e-4),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
]


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_step_inplace_equals_sgd_step_bit_for_bit(settings, maximize, dtype):
    rng = default_rng(0)
    readable = rng.standard_normal((6, 5)).astype(dtype)
    fast = readable.copy()
    work = (np.empty_like(fast), np.empty_like(fast))
    buf_readable = buf_fast = None
    for _ in range(4):
        grad = rng.standard_normal(fast.shape).astype(dtype)
        buf_readable = F.sgd_step(readable, -grad if maximize else grad, buf_readable, **settings)
        buf_fast = F.sgd_step_inplace(fast, grad, buf_fast, *work, maximize=maximize, **settings)
        np.testing.assert_array_equal(fast, readable)
        np.testing.assert_array_equal(buf_fast, buf_readable)
    assert fast.dtype == dtype


def test_sgd_step_by_hand():
    p = np.array([1.0])
    # g = 2 + 0.1 * 1 = 2.1 (decay); first step: b = g; p = 1 - 0.5 * 2.1
    buf = F.sgd_step(p, np.array([2.0]), None, lr=0.5, momentum=0.9, weight_decay=0.1)
    np.testing.assert_allclose([p[0], buf[0]], [1 - 0.5 * 2.1, 2.1], rtol=1e-15)
    # g = 1 + 0.1 p; b = 0.9 * 2.1 + g; p -= 0.5 b
    p_before = p[0]
    g = 1 + 0.1 * p_before
    F.sgd_step(p, np.array([1.0]), buf, lr=0.5, momentum=0.9, weight_decay=0.1)
    np.testing.assert_allclose(p, [p_before - 0.5 * (0.9 * 2.1 + g)], rtol=1e-15)


ADAM_SETTINGS = [
    dict(lr=1e-2),
    dict(lr=1e-2, weight_decay=0.1),
    dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, amsgrad=True),
    dict(lr=1e-2, weight_decay=0.1, amsgrad=True, decoupled=True),
    dict(lr=1e-2, weight_decay=0.1, decoupled=True),
]


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("settings", ADAM_SETTINGS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_and_adamw_step_inplace_equal_the_readable_steps_bit_for_bit(settings, maximize, dtype):
    settings = dict(settings)
    amsgrad, decoupled = settings.pop("amsgrad", False), settings.pop("decoupled", False)
    rng = default_rng(1)
    readable = rng.standard_normal((4, 3)).astype(dtype)
    fast = readable.copy()
    zeros = np.zeros_like(fast)
    m, v, v_max = zeros, zeros, (zeros if amsgrad else None)
    state = [zeros.copy(), zeros.copy(), zeros.copy() if amsgrad else None]
    work = (np.empty_like(fast), np.empty_like(fast))
    for t in range(1, 5):
        grad = rng.standard_normal(fast.shape).astype(dtype)
        rule = F.adamw_step if decoupled else F.adam_step
        m, v, v_max = rule(readable, -grad if maximize else grad, m, v, t, v_max=v_max,
                           **settings)
        fast_rule = F.adamw_step_inplace if decoupled else F.adam_step_inplace
        fast_rule(fast, grad, state[0], state[1], t, *work, v_max=state[2],
                  maximize=maximize, **settings)
        np.testing.assert_array_equal(fast, readable)
        np.testing.assert_array_equal(state[0], m)
        np.testing.assert_array_equal(state[1], v)
        if amsgrad:
            np.testing.assert_array_equal(state[2], v_max)
    assert fast.dtype == dtype and m.dtype == dtype


def test_adam_first_step_moves_each_weight_by_lr():
    # t = 1: m = (1 - b1) g, v = (1 - b2) g², so m / (1 - b1) / sqrt(v / (1 - b2)) = sign(g)
    p = np.array([1.0, 1.0])
    F.adam_step(p, np.array([3.0, -1e-3]), np.zeros(2), np.zeros(2), 1, lr=0.1, eps=0.0)
    np.testing.assert_allclose(p, [0.9, 1.1], rtol=1e-12)


def test_adamw_shrinks_the_weight_before_the_adam_step():
    decayed, plain = np.array([2.0]), np.array([2.0 * (1 - 0.1 * 0.5)])
    F.adamw_step(decayed, np.array([1.0]), np.zeros(1), np.zeros(1), 1, lr=0.1, weight_decay=0.5)
    F.adam_step(plain, np.array([1.0]), np.zeros(1), np.zeros(1), 1, lr=0.1)
    np.testing.assert_array_equal(decayed, plain)
