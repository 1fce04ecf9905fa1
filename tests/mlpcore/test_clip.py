"""mlpcore.clip: clipping by total norm (PyTorch's formula, float64 accumulation, the
norm returned) and by value; errors."""
import math

import numpy as np
import pytest

from mlpcore.clip import clip_grad_norm_, clip_grad_value_
from mlpcore.module import Parameter


def param(*values, dtype=np.float64) -> Parameter:
    return Parameter(np.array(values, dtype=dtype))


def grads_with_norm(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = [Parameter(np.zeros(shape, dtype)) for shape in [(4, 3), (3,), (2, 2)]]
    for p in params:
        p.grad = rng.standard_normal(p.shape).astype(dtype)
    norm = math.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in params))
    return params, norm


def test_clip_grad_norm_scales_to_max_norm():
    params, norm = grads_with_norm()
    before = [p.grad.copy() for p in params]
    returned = clip_grad_norm_(params, max_norm=norm / 4)
    assert isinstance(returned, float) and returned == pytest.approx(norm, rel=1e-12)
    clipped_norm = math.sqrt(sum(float(np.sum(p.grad ** 2)) for p in params))
    assert clipped_norm == pytest.approx(norm / 4, rel=1e-6)
    for p, old in zip(params, before):  # one common factor: the direction is kept
        np.testing.assert_allclose(p.grad, old * (norm / 4) / (norm + 1e-6), rtol=1e-12)


def test_clip_grad_norm_leaves_small_gradients_alone():
    params, norm = grads_with_norm(1)
    before = [p.grad.copy() for p in params]
    assert clip_grad_norm_(iter(params), max_norm=2 * norm) == pytest.approx(norm, rel=1e-12)
    for p, old in zip(params, before):
        np.testing.assert_array_equal(p.grad, old)


def test_clip_grad_norm_inf_and_other_p():
    params, _ = grads_with_norm(2)
    largest = max(float(np.abs(p.grad).max()) for p in params)
    assert clip_grad_norm_(params, 0.5, norm_type=float("inf")) == largest
    assert max(float(np.abs(p.grad).max()) for p in params) == pytest.approx(0.5, rel=1e-5)
    params, _ = grads_with_norm(3)
    l1 = sum(float(np.abs(p.grad).sum()) for p in params)
    assert clip_grad_norm_(params, 1.0, norm_type=1) == pytest.approx(l1, rel=1e-12)
    assert sum(float(np.abs(p.grad).sum()) for p in params) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_float32_single_parameter_and_skips():
    p = Parameter(np.zeros(3, np.float32))
    p.grad = np.array([3e20, 4e20, 0.0], np.float32)  # squares overflow float32
    idle = Parameter(np.zeros(2, np.float32))
    assert clip_grad_norm_([p, idle], 1.0) == pytest.approx(5e20, rel=1e-6)
    assert p.grad.dtype == np.float32 and idle.grad is None
    np.testing.assert_allclose(p.grad, [0.6, 0.8, 0.0], rtol=1e-5)
    q = Parameter(np.zeros(2))
    q.grad = np.array([3.0, 4.0])
    assert clip_grad_norm_(q, 10.0) == pytest.approx(5.0, rel=1e-15)
    assert clip_grad_norm_([idle], 1.0) == 0.0


def test_clip_grad_norm_errors():
    p = param(0.0, 0.0)
    p.grad = np.array([np.nan, 1.0])
    with pytest.raises(RuntimeError, match="non-finite \\(nan\\).*lower the learning rate"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    p.grad = np.array([1.0, 1.0])
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm_([p], -1.0)
    with pytest.raises(ValueError, match="norm_type must be a number > 0"):
        clip_grad_norm_([p], 1.0, norm_type=0)
    with pytest.raises(TypeError, match="one entry is a ndarray"):
        clip_grad_norm_([p.grad], 1.0)


def test_clip_grad_value():
    p, idle = param(-3.0, 0.5, 2.0), param(1.0)
    p.grad = np.array([-3.0, 0.5, 2.0])
    grad = p.grad
    clip_grad_value_([p, idle], 1.0)
    assert p.grad is grad and idle.grad is None
    np.testing.assert_array_equal(p.grad, [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_(p, -1.0)
