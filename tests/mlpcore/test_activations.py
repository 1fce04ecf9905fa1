"""The activation layers: values, PyTorch's derivatives at the kinks, no overflow,
any shape, parameter validation. The formulas themselves: test_functional.py."""
import warnings

import numpy as np
from numpy.random import default_rng
import pytest

from mlpcore.layers import ELU, LeakyReLU, ReLU, Sigmoid, Tanh


ACTIVATIONS = [ReLU(), LeakyReLU(0.2), ELU(0.7), Sigmoid(), Tanh()]


def test_activation_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(ReLU()(x), [0, 0, 0, 0.5, 2])
    np.testing.assert_allclose(LeakyReLU(0.2)(x), [-0.4, -0.1, 0, 0.5, 2])
    np.testing.assert_allclose(ELU(0.7)(x), [0.7 * np.expm1(-2), 0.7 * np.expm1(-0.5), 0, 0.5, 2])
    np.testing.assert_allclose(Sigmoid()(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(Tanh()(x), np.tanh(x))


def test_activation_derivatives_at_kinks_follow_pytorch():
    x = np.zeros(3)
    ones = np.ones(3)
    for layer, expected in [(ReLU(), 0.0), (LeakyReLU(0.2), 0.2), (ELU(0.7), 0.7)]:
        layer(x)
        np.testing.assert_array_equal(layer.backward(ones), expected, err_msg=repr(layer))


def test_sigmoid_and_elu_do_not_overflow_for_large_inputs():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow RuntimeWarning fails the test
        y = Sigmoid()(x)
        z = ELU()(x)
        s32 = Sigmoid()(x.astype(np.float32))
    assert y[0] == 0.0 and y[-1] == 1.0 and y[2] == 0.5
    np.testing.assert_allclose(y[1], np.exp(-50.0) / (1 + np.exp(-50.0)), rtol=1e-14)
    assert z[-1] == 1000.0 and z[0] == -1.0
    assert np.all(np.isfinite(s32))


@pytest.mark.parametrize("layer", ACTIVATIONS, ids=lambda m: type(m).__name__)
def test_activation_accepts_any_shape_and_keeps_float32(layer):
    x = default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    y = layer(x)
    assert y.shape == x.shape and y.dtype == np.float32
    grad = layer.backward(np.ones_like(y, dtype=np.float64))  # float64 grad_out: no upcast
    assert grad.shape == x.shape and grad.dtype == np.float32


def test_activation_reprs():
    assert [repr(m) for m in ACTIVATIONS] == [
        "ReLU()", "LeakyReLU(negative_slope=0.2)", "ELU(alpha=0.7)", "Sigmoid()", "Tanh()"]


def test_activation_parameter_validation():
    with pytest.raises(TypeError, match="LeakyReLU: negative_slope must be a real number"):
        LeakyReLU("0.1")
    with pytest.raises(ValueError, match="ELU: alpha must be finite"):
        ELU(float("nan"))
