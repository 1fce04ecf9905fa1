"""Linear, Dropout, Residual, Sequential and what every layer shares: values, errors,
determinism. Activations and BatchNorm1d have their own files; gradients are checked
numerically in test_gradcheck.py and against PyTorch in test_parity_layers.py; dtypes
and copies in test_no_hidden_copies.py."""
import numpy as np
from numpy.random import default_rng
import pytest

from mlpcore.layers import (ELU, BatchNorm1d, Dropout, LeakyReLU, Linear, ReLU, Residual,
                            Sequential, Sigmoid, Tanh)
from mlpcore.module import Module


# ----- Linear -------------------------------------------------------------------
def test_linear_shapes_init_and_repr():
    layer = Linear(64, 128, rng=default_rng(0))
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


def test_linear_draws_pytorchs_distribution_with_the_same_numbers_as_always():
    # W then b, each (2u - 1) / sqrt(in) with u ~ U[0, 1) drawn in float32: chapter 0's
    # stored outputs depend on these exact numbers
    layer = Linear(64, 10, rng=default_rng(3))
    draws = default_rng(3)
    bound = np.float32(1 / np.sqrt(64))
    expected_weight = (2 * draws.random((64, 10), dtype=np.float32) - 1) * bound
    expected_bias = (2 * draws.random(10, dtype=np.float32) - 1) * bound
    np.testing.assert_array_equal(layer.weight.data, expected_weight)
    np.testing.assert_array_equal(layer.bias.data, expected_bias)
    layer.reset_parameters(default_rng(3))  # PyTorch's name, and the same rule
    np.testing.assert_array_equal(layer.weight.data, expected_weight)


def test_linear_without_bias():
    layer = Linear(3, 2, bias=False, rng=default_rng(0))
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = default_rng(1).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(layer(x), x @ layer.weight.data, rtol=1e-6)
    assert "bias=False" in repr(layer)


def test_linear_forward_backward_formulas():
    layer = Linear(3, 2, rng=default_rng(0)).double()
    x = default_rng(1).standard_normal((5, 3))
    grad_out = default_rng(2).standard_normal((5, 2))
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
    a, b, c = Linear(5, 4, rng=default_rng(7)), Linear(5, 4, rng=default_rng(7)), Linear(5, 4, rng=default_rng(8))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


def test_linear_float64_by_dtype_and_by_double():
    assert Linear(2, 3, rng=default_rng(0), dtype=np.float64).weight.dtype == np.float64
    layer = Linear(2, 3, rng=default_rng(0)).double()
    assert layer(np.ones((1, 2), dtype=np.float32)).dtype == np.float64


@pytest.mark.parametrize("shape", [(32, 63), (32, 65)])
def test_linear_wrong_width_message(shape):
    layer = Linear(64, 128, rng=default_rng(0))
    with pytest.raises(ValueError) as info:
        layer(np.zeros(shape, dtype=np.float32))
    message = str(info.value)
    assert "Linear(64→128)" in message and str(shape) in message
    assert "(batch, 64)" in message and "in_features" in message


def test_linear_wrong_rank_messages():
    layer = Linear(64, 128, rng=default_rng(0))
    with pytest.raises(ValueError) as info:
        layer(np.zeros(64, dtype=np.float32))
    assert "Linear(64→128)" in str(info.value) and "(64,)" in str(info.value)
    assert "x[None, :]" in str(info.value)
    with pytest.raises(ValueError) as info:
        layer(np.zeros((8, 8, 8), dtype=np.float32))
    assert "(8, 8, 8)" in str(info.value) and "reshape" in str(info.value)


def test_linear_constructor_errors():
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        Linear(0, 3, rng=default_rng(0))
    with pytest.raises(ValueError, match="out_features"):
        Linear(3, 2.5, rng=default_rng(0))
    with pytest.raises(TypeError, match="default_rng"):
        Linear(3, 2, rng=0)
    with pytest.raises(TypeError, match="float dtype"):
        Linear(3, 2, rng=default_rng(0), dtype=np.int32)


def test_backward_checks_grad_out_shape(raises_with):
    layer = Linear(3, 2, rng=default_rng(0))
    layer(np.ones((4, 3), dtype=np.float32))
    with raises_with(ValueError, "Linear(3→2)", "grad_out of shape (4, 3)", "(4, 2)"):
        layer.backward(np.ones((4, 3), dtype=np.float32))


# ----- Dropout --------------------------------------------------------------------------
def test_dropout_is_unbiased_monte_carlo():
    p, draws = 0.3, 4000
    layer = Dropout(p, rng=default_rng(0))
    x = default_rng(1).uniform(0.5, 2.0, size=50)
    outputs = np.stack([layer(x) for _ in range(draws)])
    # each output is x/(1-p) with prob 1-p, else 0: std = x * sqrt(p / (1-p))
    standard_error = x * np.sqrt(p / (1 - p)) / np.sqrt(draws)
    z = (outputs.mean(axis=0) - x) / standard_error
    assert np.max(np.abs(z)) < 5, f"E[y] != x: worst z-score {np.max(np.abs(z)):.1f}"


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_fraction_p_and_scales_survivors(p):
    layer = Dropout(p, rng=default_rng(0))
    x = np.full((200, 500), 2.0, dtype=np.float32)
    y = layer(x)
    dropped = np.mean(y == 0)
    n = x.size
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[y != 0], 2.0 / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(layer.mask, (y != 0).astype(np.float32))


def test_dropout_eval_and_p0_are_identity():
    x = default_rng(1).standard_normal((4, 5)).astype(np.float32)
    layer = Dropout(0.5, rng=default_rng(0)).eval()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    no_drop = Dropout(0.0, rng=default_rng(0))
    assert no_drop.training
    np.testing.assert_array_equal(no_drop(x), x)


def test_dropout_backward_uses_forward_mask():
    layer = Dropout(0.5, rng=default_rng(0))
    x = np.ones((6, 7))
    y = layer(x)
    grad = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad, y)  # x = 1, so both equal m / (1 - p)
    np.testing.assert_array_equal(grad, layer.mask / 0.5)


def test_dropout_same_seed_same_masks():
    a, b = Dropout(0.5, rng=default_rng(3)), Dropout(0.5, rng=default_rng(3))
    x = np.ones((10, 10), dtype=np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(a(x), b(x))
    assert not np.array_equal(a(x), a(x))  # successive calls draw new masks


@pytest.mark.parametrize("p, error, words", [
    (-0.1, ValueError, ["DROPPING", "[0, 1)", "-0.1"]),
    (1.5, ValueError, ["DROPPING", "[0, 1)", "1.5"]),
    (float("nan"), ValueError, ["[0, 1)", "nan"]),
    ("0.5", TypeError, ["real number", "'0.5'", "str"]),
    (1.0, ValueError, ["p=1 would drop every unit", "1/(1-p)", "PyTorch returns zeros",
                       "use p < 1"]),
])
def test_dropout_p_validation_messages(p, error, words):
    with pytest.raises(error) as info:
        Dropout(p, rng=default_rng(0))
    for word in words:
        assert word in str(info.value)


def test_dropout_repr_and_rng_required():
    assert repr(Dropout(0.2, rng=default_rng(0))) == "Dropout(p=0.2)"
    with pytest.raises(TypeError, match="default_rng"):
        Dropout(0.2, rng=None)


# ----- backward before forward (every layer kind) ---------------------------------
@pytest.mark.parametrize("make", [
    lambda: Linear(3, 2, rng=default_rng(0)), ReLU, LeakyReLU, ELU, Sigmoid, Tanh,
    lambda: Dropout(0.5, rng=default_rng(0)), lambda: BatchNorm1d(3),
    lambda: Residual(Linear(3, 3, rng=default_rng(0)))])
def test_backward_before_forward_is_a_clear_error(make):
    layer = make()
    with pytest.raises(RuntimeError, match="before forward") as info:
        layer.backward(np.ones((2, 3), dtype=np.float32))
    assert type(layer).__name__ in str(info.value)


def test_backward_twice_after_one_forward_is_an_error(raises_with):
    layer = Tanh()
    layer(np.ones(3))
    layer.backward(np.ones(3))
    with raises_with(RuntimeError, "Tanh()", "before forward"):
        layer.backward(np.ones(3))


def test_double_makes_every_layer_float64():
    model = Sequential(Linear(4, 6, rng=default_rng(0)), BatchNorm1d(6), ReLU(),
                       Dropout(0.2, rng=default_rng(0)),
                       Residual(Sequential(Linear(6, 6, rng=default_rng(0)), Tanh())),
                       LeakyReLU(), ELU(), Sigmoid(), Linear(6, 2, rng=default_rng(0))).double()
    x = default_rng(1).standard_normal((5, 4)).astype(np.float32)
    for layer in model:  # layer by layer, to see every intermediate dtype
        x = layer(x)
        assert x.dtype == np.float64, repr(layer)
    assert model.backward(np.ones_like(x)).dtype == np.float64
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    assert all(b.dtype == np.float64 for n, b in model.named_buffers()
               if not n.endswith("num_batches_tracked"))


# ----- Residual ------------------------------------------------------------------------
def test_residual_forward_backward():
    block = Linear(3, 3, rng=default_rng(0)).double()
    layer = Residual(block)
    x = default_rng(1).standard_normal((4, 3))
    grad_out = default_rng(2).standard_normal((4, 3))
    np.testing.assert_allclose(layer(x), x + x @ block.weight.data + block.bias.data)
    np.testing.assert_allclose(layer.backward(grad_out), grad_out + grad_out @ block.weight.data.T)
    assert [name for name, _ in layer.named_parameters()] == ["block.weight", "block.bias"]


def test_residual_shape_change_names_block_and_shapes():
    layer = Residual(Linear(4, 3, rng=default_rng(0)))
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
    layers = [Linear(3, 4, rng=default_rng(0)), ReLU(), Linear(4, 2, rng=default_rng(0))]
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
    model = Sequential(Linear(3, 4, rng=default_rng(0)), Tanh(), Linear(4, 2, rng=default_rng(0))).double()
    x = default_rng(1).standard_normal((5, 3))
    expected = model[2](model[1](model[0](x)))
    np.testing.assert_array_equal(model(x), expected)
    grad = default_rng(2).standard_normal((5, 2))
    model.zero_grad()
    by_hand = model[0].backward(model[1].backward(model[2].backward(grad)))
    hand_grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    model(x)
    np.testing.assert_array_equal(model.backward(grad), by_hand)
    for p, g in zip(model.parameters(), hand_grads):
        np.testing.assert_array_equal(p.grad, g)


def test_sequential_train_eval_reaches_children():
    model = Sequential(Linear(3, 3, rng=default_rng(0)), Dropout(0.5, rng=default_rng(0)))
    model.eval()
    assert not model[1].training
    model.train()
    assert model[1].training


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="entry 1 .*not a Module"):
        Sequential(Linear(3, 3, rng=default_rng(0)), np.tanh)
    with pytest.raises(TypeError, match=r"class ReLU; pass an instance, ReLU\(...\)"):
        Sequential(ReLU)
    assert issubclass(Sequential, Module)
