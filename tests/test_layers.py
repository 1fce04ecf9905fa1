"""Linear, activations, Residual, Sequential: values, errors, dtypes, determinism.

Gradients are checked numerically in test_gradcheck.py and against PyTorch in
test_parity_layers.py; Dropout and BatchNorm1d have their own file."""
import warnings

import numpy as np
import pytest

from mlpcore.layers import (ELU, BatchNorm1d, Dropout, LeakyReLU, Linear, ReLU, Residual,
                            Sequential, Sigmoid, Tanh)
from mlpcore.module import Module


def rng(seed=0):
    return np.random.default_rng(seed)


# ----- Linear -------------------------------------------------------------------
def test_linear_shapes_init_and_repr():
    layer = Linear(64, 128, rng=rng())
    assert layer.weight.shape == (64, 128) and layer.bias.shape == (128,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    bound = 1 / np.sqrt(64)
    for param in (layer.weight.data, layer.bias.data):
        assert np.all(np.abs(param) <= bound)
    # U(-b, b) fills its range and has std b/sqrt(3)
    w = layer.weight.data
    assert w.min() < -0.95 * bound and w.max() > 0.95 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
    assert repr(layer) == "Linear(in_features=64, out_features=128, bias=True)"
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_linear_without_bias():
    layer = Linear(3, 2, bias=False, rng=rng())
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = rng(1).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(layer(x), x @ layer.weight.data, rtol=1e-6)
    assert "bias=False" in repr(layer)


def test_linear_forward_backward_formulas():
    layer = Linear(3, 2, rng=rng()).double()
    x = rng(1).standard_normal((5, 3))
    grad_out = rng(2).standard_normal((5, 2))
    y = layer(x)
    np.testing.assert_allclose(y, x @ layer.weight.data + layer.bias.data, rtol=1e-12)
    grad_x = layer.backward(grad_out)
    np.testing.assert_allclose(grad_x, grad_out @ layer.weight.data.T, rtol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, x.T @ grad_out, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, grad_out.sum(0), rtol=1e-12)
    # a second forward/backward accumulates, as in PyTorch
    layer(x)
    layer.backward(grad_out)
    np.testing.assert_allclose(layer.weight.grad, 2 * x.T @ grad_out, rtol=1e-12)


def test_linear_same_seed_same_weights_and_other_seed_differs():
    a, b, c = Linear(5, 4, rng=rng(7)), Linear(5, 4, rng=rng(7)), Linear(5, 4, rng=rng(8))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


def test_linear_float64_by_dtype_and_by_double():
    assert Linear(2, 3, rng=rng(), dtype=np.float64).weight.dtype == np.float64
    layer = Linear(2, 3, rng=rng()).double()
    assert layer(np.ones((1, 2), dtype=np.float32)).dtype == np.float64


def test_linear_casts_input_without_copy_when_dtype_matches():
    layer = Linear(3, 2, rng=rng())
    x32 = np.ones((4, 3), dtype=np.float32)
    layer(x32)
    assert layer._cache is x32  # no hidden copy in the hot path
    layer.clear_cache()
    assert layer(np.ones((4, 3))).dtype == np.float32  # float64 input does not upcast


@pytest.mark.parametrize("shape", [(32, 63), (32, 65)])
def test_linear_wrong_width_message(shape):
    layer = Linear(64, 128, rng=rng())
    with pytest.raises(ValueError) as info:
        layer(np.zeros(shape, dtype=np.float32))
    message = str(info.value)
    assert "Linear(64→128)" in message and str(shape) in message
    assert "(batch, 64)" in message and "in_features" in message


def test_linear_wrong_rank_messages():
    layer = Linear(64, 128, rng=rng())
    with pytest.raises(ValueError) as info:
        layer(np.zeros(64, dtype=np.float32))
    assert "Linear(64→128)" in str(info.value) and "(64,)" in str(info.value)
    assert "x[None, :]" in str(info.value)
    with pytest.raises(ValueError) as info:
        layer(np.zeros((8, 8, 8), dtype=np.float32))
    assert "(8, 8, 8)" in str(info.value) and "reshape" in str(info.value)


def test_linear_constructor_errors():
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        Linear(0, 3, rng=rng())
    with pytest.raises(ValueError, match="out_features"):
        Linear(3, 2.5, rng=rng())
    with pytest.raises(TypeError, match="default_rng"):
        Linear(3, 2, rng=0)
    with pytest.raises(TypeError, match="float dtype"):
        Linear(3, 2, rng=rng(), dtype=np.int32)


def test_backward_checks_grad_out_shape():
    layer = Linear(3, 2, rng=rng())
    layer(np.ones((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Linear\(3→2\).*\(4, 3\).*expected \(4, 2\)"):
        layer.backward(np.ones((4, 3), dtype=np.float32))


# ----- activations --------------------------------------------------------------
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
    x = rng().standard_normal((2, 3, 4)).astype(np.float32)
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


# ----- backward before forward (every layer kind) ---------------------------------
@pytest.mark.parametrize("make", [
    lambda: Linear(3, 2, rng=rng()), ReLU, LeakyReLU, ELU, Sigmoid, Tanh,
    lambda: Dropout(0.5, rng=rng()), lambda: BatchNorm1d(3),
    lambda: Residual(Linear(3, 3, rng=rng()))])
def test_backward_before_forward_is_a_clear_error(make):
    layer = make()
    with pytest.raises(RuntimeError, match="before forward") as info:
        layer.backward(np.ones((2, 3), dtype=np.float32))
    assert type(layer).__name__ in str(info.value)


def test_backward_twice_after_one_forward_is_an_error():
    layer = Tanh()
    layer(np.ones(3))
    layer.backward(np.ones(3))
    with pytest.raises(RuntimeError, match=r"Tanh\(\)\.backward was called before forward"):
        layer.backward(np.ones(3))


# ----- float32 throughout -------------------------------------------------------------
def test_every_layer_keeps_float32_and_double_gives_float64():
    model = Sequential(Linear(4, 6, rng=rng()), BatchNorm1d(6), ReLU(), Dropout(0.2, rng=rng()),
                       Residual(Sequential(Linear(6, 6, rng=rng()), Tanh())), LeakyReLU(),
                       ELU(), Sigmoid(), Linear(6, 2, rng=rng()))
    x = rng(1).standard_normal((5, 4)).astype(np.float32)
    for dtype in (np.float32, np.float64):
        if dtype == np.float64:
            model.double()
        outputs = []
        for layer in model:  # run layer by layer to see every intermediate dtype
            x = layer(x)
            outputs.append(x.dtype)
        assert outputs == [dtype] * len(model)
        grad = np.ones_like(x)
        for layer in reversed(list(model)):
            grad = layer.backward(grad)
            assert grad.dtype == dtype, repr(layer)
        assert all(p.grad.dtype == dtype for p in model.parameters())
        model.zero_grad()
        x = rng(1).standard_normal((5, 4)).astype(np.float32)


# ----- Residual ------------------------------------------------------------------------
def test_residual_forward_backward():
    block = Linear(3, 3, rng=rng()).double()
    layer = Residual(block)
    x = rng(1).standard_normal((4, 3))
    grad_out = rng(2).standard_normal((4, 3))
    np.testing.assert_allclose(layer(x), x + x @ block.weight.data + block.bias.data)
    np.testing.assert_allclose(layer.backward(grad_out), grad_out + grad_out @ block.weight.data.T)
    assert [name for name, _ in layer.named_parameters()] == ["block.weight", "block.bias"]


def test_residual_shape_change_names_block_and_shapes():
    layer = Residual(Linear(4, 3, rng=rng()))
    with pytest.raises(ValueError) as info:
        layer(np.ones((2, 4), dtype=np.float32))
    message = str(info.value)
    assert "Linear(in_features=4, out_features=3" in message
    assert "(2, 4)" in message and "(2, 3)" in message


def test_residual_rejects_non_module():
    with pytest.raises(TypeError, match="Residual expects a Module"):
        Residual(np.tanh)


# ----- Sequential ---------------------------------------------------------------------
def test_sequential_container_protocol_and_names():
    layers = [Linear(3, 4, rng=rng()), ReLU(), Linear(4, 2, rng=rng())]
    model = Sequential(*layers)
    assert len(model) == 3 and list(model) == layers
    assert model[0] is layers[0] and model[-1] is layers[2]
    head = model[:2]
    assert isinstance(head, Sequential) and list(head) == layers[:2]
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]
    assert model.append(Tanh()) is model and len(model) == 4
    assert "(3): Tanh()" in repr(model) and repr(model).startswith("Sequential(\n  (0): Linear(")


def test_sequential_runs_in_order_and_backward_in_reverse():
    model = Sequential(Linear(3, 4, rng=rng()), Tanh(), Linear(4, 2, rng=rng())).double()
    x = rng(1).standard_normal((5, 3))
    expected = model[2](model[1](model[0](x)))
    np.testing.assert_array_equal(model(x), expected)
    grad = rng(2).standard_normal((5, 2))
    model.zero_grad()
    by_hand = model[0].backward(model[1].backward(model[2].backward(grad)))
    hand_grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model(x)
    np.testing.assert_array_equal(model.backward(grad), by_hand)
    for p, g in zip(model.parameters(), hand_grads):
        np.testing.assert_array_equal(p.grad, g)


def test_sequential_train_eval_reaches_children():
    model = Sequential(Linear(3, 3, rng=rng()), Dropout(0.5, rng=rng()))
    model.eval()
    assert not model[1].training
    model.train()
    assert model[1].training


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="entry 1 .*not a Module"):
        Sequential(Linear(3, 3, rng=rng()), np.tanh)
    with pytest.raises(TypeError, match=r"class ReLU; pass an instance, ReLU\(...\)"):
        Sequential(ReLU)
    assert issubclass(Sequential, Module)
