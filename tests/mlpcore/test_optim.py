"""mlpcore.optim: hand-worked steps, groups, validation, no allocation per step,
state_dict. Gradients are set by hand (no layers). The update rules alone:
test_functional.py; in-place updates and dtypes: test_no_hidden_copies.py; clipping:
test_clip.py."""
import math
import tracemalloc

import numpy as np
import pytest

from mlpcore.module import Parameter
from mlpcore.optim import SGD, Adam, AdamW


def param(*values, dtype=np.float64) -> Parameter:
    return Parameter(np.array(values, dtype=dtype))


def run(optimizer, p, grads):
    """Apply one step per gradient in ``grads`` (a constant gradient, set by hand)."""
    for grad in grads:
        p.grad = np.array(grad, dtype=p.dtype)
        optimizer.step()
    return p.data


# ----- SGD, worked by hand -----------------------------------------------------------
def test_sgd_plain():
    p = param(1.0, -2.0)
    run(SGD([p], lr=0.1), p, [[0.5, 0.25]])  # p - 0.1 * g
    np.testing.assert_allclose(p.data, [0.95, -2.025], rtol=1e-15)


def test_sgd_momentum_two_steps():
    # b1 = g = 1, p1 = 1 - 0.1 = 0.9; b2 = 0.9 * 1 + 1 = 1.9, p2 = 0.9 - 0.19 = 0.71
    p = param(1.0)
    run(SGD([p], lr=0.1, momentum=0.9), p, [[1.0], [1.0]])
    np.testing.assert_allclose(p.data, [0.71], rtol=1e-15)


def test_sgd_dampening_not_applied_on_first_step():
    # b1 = g = 1 (no dampening), p1 = 0.9; b2 = 0.9 + (1 - 0.5) * 1 = 1.4, p2 = 0.76
    p = param(1.0)
    run(SGD([p], lr=0.1, momentum=0.9, dampening=0.5), p, [[1.0], [1.0]])
    np.testing.assert_allclose(p.data, [0.76], rtol=1e-15)


def test_sgd_nesterov_two_steps():
    # b1 = 1, g1 = 1 + 0.9 * 1 = 1.9, p1 = 0.81
    # b2 = 0.9 + 1 = 1.9, g2 = 1 + 0.9 * 1.9 = 2.71, p2 = 0.81 - 0.271 = 0.539
    p = param(1.0)
    run(SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, [[1.0], [1.0]])
    np.testing.assert_allclose(p.data, [0.539], rtol=1e-14)


def test_sgd_weight_decay_is_coupled_l2():
    # g' = 0.5 + 0.1 * 1 = 0.6, p = 1 - 0.1 * 0.6 = 0.94
    p = param(1.0)
    run(SGD([p], lr=0.1, weight_decay=0.1), p, [[0.5]])
    np.testing.assert_allclose(p.data, [0.94], rtol=1e-15)


def test_sgd_weight_decay_enters_momentum():
    # step 1: g' = 0 + 0.5 * 2 = 1, b = 1, p = 2 - 0.1 = 1.9
    # step 2: g' = 0.5 * 1.9 = 0.95, b = 0.9 + 0.95 = 1.85, p = 1.9 - 0.185 = 1.715
    p = param(2.0)
    run(SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5), p, [[0.0], [0.0]])
    np.testing.assert_allclose(p.data, [1.715], rtol=1e-14)


def test_sgd_maximize():
    p = param(1.0)
    run(SGD([p], lr=0.1, maximize=True), p, [[0.5]])  # ascent: 1 + 0.05
    np.testing.assert_allclose(p.data, [1.05], rtol=1e-15)
    q = param(1.0)  # decay still pulls toward 0: g' = -0.5 + 0.1 * 1 = -0.4
    run(SGD([q], lr=0.1, weight_decay=0.1, maximize=True), q, [[0.5]])
    np.testing.assert_allclose(q.data, [1.04], rtol=1e-15)


def test_sgd_momentum_solves_least_squares():
    rng = np.random.default_rng(0)
    design = rng.standard_normal((50, 4))
    target = rng.standard_normal(50)
    weights = Parameter(np.zeros(4))
    optimizer = SGD([weights], lr=0.01, momentum=0.9, nesterov=True)
    for _ in range(300):
        optimizer.zero_grad()
        weights.accumulate_grad(design.T @ (design @ weights.data - target))
        optimizer.step()
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(weights.data, solution, rtol=1e-6, atol=1e-8)


# ----- Adam / AdamW, worked by hand --------------------------------------------------
def test_adam_constant_gradient_moves_lr_per_step():
    # With a constant g the bias-corrected m_hat = g and v_hat = g^2 at every step,
    # so each step is lr * g / (|g| + eps): about lr * sign(g), whatever |g| is.
    grad = np.array([0.5, -2.0, 1e-3])
    p = param(1.0, -1.0, 3.0)
    start = p.data.copy()
    run(Adam([p], lr=0.01), p, [grad, grad])
    np.testing.assert_allclose(p.data, start - 2 * 0.01 * grad / (np.abs(grad) + 1e-8), rtol=1e-12)


def test_adam_eps_is_added_after_bias_correction():
    # Step 1: m = 0.1 g, v = 0.001 g^2; denom = sqrt(v) / sqrt(0.001) + eps = |g| + eps.
    # (Adding eps before the correction would give sqrt(0.001) |g| + eps instead.)
    p = param(0.0)
    run(Adam([p], lr=1.0, eps=0.5), p, [[1.0]])
    np.testing.assert_allclose(p.data, [-1.0 / 1.5], rtol=1e-14)


def test_adam_l2_versus_adamw_decoupled():
    # g = 0, p = 1, lr = 0.01, wd = 0.1. Adam: g' = 0.1 and the normalised step is
    # lr * g' / (|g'| + eps) ~= 0.01. AdamW: p <- p * (1 - 0.001) = 0.999 and g = 0.
    adam_p, adamw_p = param(1.0), param(1.0)
    run(Adam([adam_p], lr=0.01, weight_decay=0.1), adam_p, [[0.0]])
    run(AdamW([adamw_p], lr=0.01, weight_decay=0.1), adamw_p, [[0.0]])
    np.testing.assert_allclose(adam_p.data, [1 - 0.01 * 0.1 / (0.1 + 1e-8)], rtol=1e-14)
    np.testing.assert_allclose(adamw_p.data, [0.999], rtol=1e-15)


def quadratic_grad(p: np.ndarray) -> np.ndarray:
    """Gradient of sum(c * (p - t)^2 / 2) with unequal curvatures c."""
    curvature = np.linspace(0.1, 10.0, p.size).reshape(p.shape)
    return curvature * (p - 0.5)


def trajectory(optimizer_class, steps=5, **kwargs):
    p = Parameter(np.linspace(-1.0, 2.0, 6))
    optimizer = optimizer_class([p], **kwargs)
    for _ in range(steps):
        p.grad = quadratic_grad(p.data)
        optimizer.step()
    return p.data


def test_adamw_and_adam_agree_without_decay_and_differ_with_it():
    np.testing.assert_array_equal(trajectory(Adam, lr=0.1, weight_decay=0.0),
                                  trajectory(AdamW, lr=0.1, weight_decay=0.0))
    coupled = trajectory(Adam, lr=0.1, weight_decay=0.5)
    decoupled = trajectory(AdamW, lr=0.1, weight_decay=0.5)
    assert np.max(np.abs(coupled - decoupled)) > 1e-3


def reference_amsgrad(p, grads, lr, betas, eps):
    """Scalar AMSGrad written from the formulas, one coordinate at a time."""
    m = v = v_max = 0.0
    for t, g in enumerate(grads, start=1):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        v_max = max(v_max, v)
        p -= lr / (1 - betas[0] ** t) * m / (math.sqrt(v_max) / math.sqrt(1 - betas[1] ** t) + eps)
    return p


def test_amsgrad_keeps_the_largest_second_moment():
    grads = [3.0, 0.1, 0.1, -0.2]  # v falls after the first step; v_max must not
    p = param(1.0)
    run(Adam([p], lr=0.1, betas=(0.8, 0.9), amsgrad=True), p, [[g] for g in grads])
    expected = reference_amsgrad(1.0, grads, 0.1, (0.8, 0.9), 1e-8)
    np.testing.assert_allclose(p.data, [expected], rtol=1e-13)
    plain = param(1.0)
    run(Adam([plain], lr=0.1, betas=(0.8, 0.9)), plain, [[g] for g in grads])
    assert abs(plain.data[0] - p.data[0]) > 1e-3


# ----- parameter groups ----------------------------------------------------------------
def test_bias_group_without_decay_moves_by_lr_times_grad():
    weight, bias = param(1.0, 2.0), param(3.0)
    optimizer = SGD([{"params": [weight]}, {"params": [bias], "weight_decay": 0.0}],
                    lr=0.1, weight_decay=0.5)
    weight.grad, bias.grad = np.array([0.2, 0.2]), np.array([0.2])
    optimizer.step()
    np.testing.assert_allclose(bias.data, [3.0 - 0.1 * 0.2], rtol=1e-15)
    np.testing.assert_allclose(weight.data, [1 - 0.1 * (0.2 + 0.5), 2 - 0.1 * (0.2 + 1.0)],
                               rtol=1e-15)
    assert optimizer.param_groups[0]["weight_decay"] == 0.5
    assert optimizer.param_groups[1]["weight_decay"] == 0.0
    assert optimizer.param_groups[1]["lr"] == 0.1  # defaults fill what a group omits


def test_group_lr_override_and_add_param_group():
    first, second = param(1.0), param(1.0)
    optimizer = Adam([first], lr=0.1)
    optimizer.add_param_group({"params": second, "lr": 0.01})
    first.grad, second.grad = np.array([1.0]), np.array([1.0])
    optimizer.step()
    np.testing.assert_allclose([first.data[0], second.data[0]], [0.9, 0.99], rtol=1e-7)


def test_parameter_without_grad_is_skipped():
    with_grad, without_grad = param(1.0), param(5.0)
    for optimizer in [SGD([with_grad, without_grad], lr=0.1, momentum=0.9, weight_decay=0.1),
                      AdamW([with_grad, without_grad], lr=0.1)]:
        with_grad.grad = np.array([1.0])
        optimizer.step()
        assert without_grad.data[0] == 5.0
        assert without_grad not in optimizer.state


def test_zero_grad():
    p = param(1.0, 2.0)
    optimizer = SGD([p], lr=0.1)
    p.grad = np.array([3.0, 4.0])
    grad = p.grad
    optimizer.zero_grad(set_to_none=False)
    assert p.grad is grad and np.all(grad == 0)
    optimizer.zero_grad()
    assert p.grad is None


def test_closure_and_repr():
    p = param(1.0)
    optimizer = SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.array([1.0])
    assert optimizer.step(lambda: 2.5) == 2.5
    text = repr(optimizer)
    assert text.startswith("SGD (") and "Parameter Group 0" in text
    assert "    lr: 0.1" in text and "    momentum: 0.9" in text and "params" not in text
    assert "betas: (0.9, 0.999)" in repr(AdamW([p])) and "weight_decay: 0.01" in repr(AdamW([p]))


# ----- validation ------------------------------------------------------------------------
BAD_NUMBERS = [-0.1, float("nan"), float("inf")]


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize("key", ["lr", "momentum", "weight_decay", "dampening"])
def test_sgd_rejects_bad_hyperparameters(key, value, raises_with):
    with raises_with(ValueError, "SGD", f"{key}={value}", "finite"):
        SGD([param(1.0)], **{key: value})


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize("cls", [Adam, AdamW])
@pytest.mark.parametrize("key", ["lr", "eps", "weight_decay"])
def test_adam_rejects_bad_hyperparameters(cls, key, value):
    with pytest.raises(ValueError, match=f"{cls.__name__}: invalid {key}={value}"):
        cls([param(1.0)], **{key: value})


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.9), (0.9, float("nan")),
                                   (0.9,), 0.9])
def test_adam_rejects_bad_betas(betas):
    with pytest.raises(ValueError, match="beta"):
        Adam([param(1.0)], betas=betas)


def test_dampening_above_one_would_flip_the_gradient():
    with pytest.raises(ValueError, match="invalid dampening=1.5.*<= 1.0"):
        SGD([param(1.0)], momentum=0.9, dampening=1.5)


@pytest.mark.parametrize("kwargs", [dict(nesterov=True), dict(nesterov=True, momentum=0.9,
                                                                dampening=0.1)])
def test_nesterov_needs_momentum_and_no_dampening(kwargs, raises_with):
    with raises_with(ValueError, "Nesterov", "momentum=", "dampening=", "nesterov=False"):
        SGD([param(1.0)], lr=0.1, **kwargs)


def test_group_overrides_are_validated():
    with pytest.raises(ValueError, match="invalid lr=-1"):
        SGD([{"params": [param(1.0)], "lr": -1}], lr=0.1)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['weight_deacy'\].*spelling"):
        SGD([{"params": [param(1.0)], "weight_deacy": 0.0}], lr=0.1)
    with pytest.raises(ValueError, match="no 'params' entry"):
        SGD([{"lr": 0.1}])


def test_empty_parameter_list(raises_with):
    with raises_with(ValueError, "SGD", "empty parameter list", "generator"):
        SGD([], lr=0.1)
    params = (p for p in [param(1.0)])
    list(params)  # the generator is used up
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam(params)


def test_bad_parameter_entries():
    p = param(1.0)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [p]}, {"params": [p], "lr": 0.5}], lr=0.1)
    with pytest.raises(ValueError, match="same parameter twice"):
        SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="can only optimise Parameters.*ndarray"):
        SGD([p, np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match=r"named_parameters\(\)"):
        SGD([("weight", p)], lr=0.1)
    with pytest.raises(TypeError, match=r"wrap it in a list: \[param\]"):
        SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        SGD([{"params": {p}}], lr=0.1)
    with pytest.raises(TypeError, match="must be a dict"):
        SGD([{"params": [p]}, param(2.0)], lr=0.1)


# ----- .grad untouched, no allocation ---------------------------------------------------
OPTIMISERS = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    (Adam, dict(lr=0.1, weight_decay=0.01, amsgrad=True)),
    (Adam, dict(lr=0.1, maximize=True)),
    (AdamW, dict(lr=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("cls, kwargs", OPTIMISERS)
def test_step_never_edits_grad(cls, kwargs):
    p = Parameter(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
    optimizer = cls([p], **kwargs)
    for _ in range(3):
        p.grad = quadratic_grad(p.data).astype(np.float32)
        grad_before = p.grad.copy()
        optimizer.step()
        np.testing.assert_array_equal(p.grad, grad_before)


@pytest.mark.parametrize("cls, kwargs", OPTIMISERS)
def test_step_allocates_no_parameter_sized_arrays(cls, kwargs):
    p = Parameter(np.zeros(250_000, dtype=np.float32))  # 1 MB
    p.grad = np.full_like(p.data, 0.5)
    optimizer = cls([p], **kwargs)
    optimizer.step()  # the first step creates state and work arrays
    tracemalloc.start()
    try:
        optimizer.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < p.data.nbytes / 4


def test_float64_model_stays_float64_with_float32_lr():
    p = param(1.0, 2.0)
    optimizer = SGD([p], lr=np.float32(0.1), momentum=0.9)
    run(optimizer, p, [[1.0, 1.0]])
    assert p.data.dtype == np.float64
    lr = float(np.float32(0.1))  # 0.100000001490116..., applied without rounding to float32
    np.testing.assert_allclose(p.data, [1 - lr, 2 - lr], rtol=1e-15)


# ----- state_dict ----------------------------------------------------------------------
def test_state_dict_round_trip_continues_identically():
    original = Parameter(np.linspace(-1.0, 1.0, 5))
    optimizer = Adam([original], lr=0.1, amsgrad=True)
    for _ in range(3):
        original.grad = quadratic_grad(original.data)
        optimizer.step()
    saved = optimizer.state_dict()
    assert saved["param_groups"][0]["params"] == [0] and saved["state"][0]["step"] == 3
    copy = Parameter(original.data.copy())
    restored = Adam([copy], lr=0.5)
    restored.load_state_dict(saved)
    assert restored.param_groups[0]["lr"] == 0.1
    for _ in range(2):
        original.grad, copy.grad = quadratic_grad(original.data), quadratic_grad(copy.data)
        optimizer.step()
        restored.step()
    np.testing.assert_array_equal(copy.data, original.data)
    assert saved["state"][0]["step"] == 3  # the saved dict holds copies


def test_load_state_dict_mismatch():
    saved = SGD([param(1.0), param(2.0)], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="2 parameters.*has 1"):
        SGD([param(1.0)], lr=0.1).load_state_dict(saved)
