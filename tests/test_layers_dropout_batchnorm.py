"""Dropout (statistics, fixed masks, validation) and BatchNorm1d (running statistics,
eval mode, errors)."""
import numpy as np
import pytest

from mlpcore.layers import BatchNorm1d, Dropout, Linear, Sequential


def rng(seed=0):
    return np.random.default_rng(seed)


# ----- Dropout --------------------------------------------------------------------------
def test_dropout_is_unbiased_monte_carlo():
    p, draws = 0.3, 4000
    layer = Dropout(p, rng=rng())
    x = rng(1).uniform(0.5, 2.0, size=50)
    outputs = np.stack([layer(x) for _ in range(draws)])
    # each output is x/(1-p) with prob 1-p, else 0: std = x * sqrt(p / (1-p))
    standard_error = x * np.sqrt(p / (1 - p)) / np.sqrt(draws)
    z = (outputs.mean(axis=0) - x) / standard_error
    assert np.max(np.abs(z)) < 5, f"E[y] != x: worst z-score {np.max(np.abs(z)):.1f}"


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_fraction_p_and_scales_survivors(p):
    layer = Dropout(p, rng=rng())
    x = np.full((200, 500), 2.0, dtype=np.float32)
    y = layer(x)
    dropped = np.mean(y == 0)
    n = x.size
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[y != 0], 2.0 / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(layer.mask, (y != 0).astype(np.float32))


def test_dropout_eval_and_p0_are_identity():
    x = rng(1).standard_normal((4, 5)).astype(np.float32)
    layer = Dropout(0.5, rng=rng()).eval()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.ones_like(x))
    no_drop = Dropout(0.0, rng=rng())
    assert no_drop.training
    np.testing.assert_array_equal(no_drop(x), x)


def test_dropout_backward_uses_forward_mask():
    layer = Dropout(0.5, rng=rng())
    x = np.ones((6, 7))
    y = layer(x)
    grad = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(grad, y)  # x = 1, so both equal m / (1 - p)
    np.testing.assert_array_equal(grad, layer.mask / 0.5)


def test_dropout_same_seed_same_masks():
    a, b = Dropout(0.5, rng=rng(3)), Dropout(0.5, rng=rng(3))
    x = np.ones((10, 10), dtype=np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(a(x), b(x))
    assert not np.array_equal(a(x), a(x))  # successive calls draw new masks


def test_dropout_explicit_mask_and_fixed_mask_context():
    layer = Dropout(0.25, rng=rng())
    x = rng(1).standard_normal((3, 4))
    mask = (rng(2).random((3, 4)) > 0.5).astype(np.float64)
    np.testing.assert_allclose(layer(x, mask=mask), x * mask / 0.75, rtol=1e-15)
    with pytest.raises(ValueError, match="read-only"):
        layer.mask[0, 0] = 1.0
    with layer.fixed_mask():
        first = layer(x)
        np.testing.assert_array_equal(layer(x), first)  # reuses the first drawn mask
    with layer.fixed_mask(mask):
        np.testing.assert_allclose(layer(x), x * mask / 0.75, rtol=1e-15)
    assert not np.array_equal(layer(x), layer(x))  # outside the block: fresh masks


def test_dropout_mask_errors():
    layer = Dropout(0.5, rng=rng())
    with pytest.raises(ValueError, match=r"mask of shape \(2,\) for an input of shape \(3,\)"):
        layer(np.ones(3), mask=np.ones(2))
    with pytest.raises(ValueError, match="only 0 \\(drop\\) and 1 \\(keep\\)"):
        layer(np.ones(3), mask=np.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="eval mode"):
        layer.eval()(np.ones(3), mask=np.ones(3))


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
        Dropout(p, rng=rng())
    for word in words:
        assert word in str(info.value)


def test_dropout_repr_and_rng_required():
    assert repr(Dropout(0.2, rng=rng())) == "Dropout(p=0.2)"
    with pytest.raises(TypeError, match="default_rng"):
        Dropout(0.2, rng=None)


# ----- BatchNorm1d ---------------------------------------------------------------------
def test_batchnorm_training_normalises_with_biased_variance():
    layer = BatchNorm1d(3, dtype=np.float64)
    x = rng(1).normal(5.0, 3.0, size=(8, 3))
    y = layer(x)
    expected = (x - x.mean(0)) / np.sqrt(x.var(0, ddof=0) + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    layer.weight.data[:] = [1.0, 2.0, 3.0]
    layer.bias.data[:] = [0.5, 0.0, -0.5]
    np.testing.assert_allclose(layer(x), expected * [1, 2, 3] + [0.5, 0, -0.5], rtol=1e-12)


def test_batchnorm_running_stats_follow_pytorch_rule_and_eval_uses_them():
    momentum = 0.2
    layer = BatchNorm1d(4, momentum=momentum, dtype=np.float64)
    mean, var = np.zeros(4), np.ones(4)
    batches = [rng(s).normal(s, 1 + s, size=(6, 4)) for s in range(5)]
    for x in batches:
        layer(x)
        mean = (1 - momentum) * mean + momentum * x.mean(0)
        var = (1 - momentum) * var + momentum * x.var(0, ddof=1)  # unbiased
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)
    assert int(layer.num_batches_tracked) == len(batches)
    layer.eval()
    x = rng(9).standard_normal((3, 4))
    np.testing.assert_allclose(layer(x), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-12)
    layer(x)  # eval must not move the statistics
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    assert int(layer.num_batches_tracked) == len(batches)


def test_batchnorm_momentum_none_is_cumulative_average():
    layer = BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [rng(s).normal(s, 1, size=(5, 2)) for s in range(4)]
    for x in batches:
        layer(x)
    np.testing.assert_allclose(layer.running_mean, np.mean([x.mean(0) for x in batches], 0))


def test_batchnorm_eval_single_example_works_but_training_refuses():
    layer = BatchNorm1d(3)
    with pytest.raises(ValueError) as info:
        layer(np.ones((1, 3), dtype=np.float32))
    message = str(info.value)
    assert "BatchNorm1d(3)" in message and "batch of 1" in message
    assert "Expected more than 1 value per channel when training" in message
    assert ".eval()" in message
    assert layer.eval()(np.ones((1, 3), dtype=np.float32)).shape == (1, 3)


def test_batchnorm_shape_errors_and_repr():
    layer = BatchNorm1d(64)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(64\) got input of shape \(32, 63\); "
                                         r"expected \(batch, 64\)"):
        layer(np.ones((32, 63), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(2, 64, 5\)"):
        layer(np.ones((2, 64, 5), dtype=np.float32))
    assert repr(layer) == ("BatchNorm1d(64, eps=1e-05, momentum=0.1, affine=True, "
                           "track_running_stats=True)")


def test_batchnorm_parameters_buffers_and_options():
    layer = BatchNorm1d(3)
    np.testing.assert_array_equal(layer.weight.data, 1)
    np.testing.assert_array_equal(layer.bias.data, 0)
    assert [n for n, _ in layer.named_buffers()] == [
        "running_mean", "running_var", "num_batches_tracked"]
    assert set(layer.state_dict()) == {"weight", "bias", "running_mean", "running_var",
                                       "num_batches_tracked"}
    plain = BatchNorm1d(3, affine=False, track_running_stats=False)
    assert plain.parameters() == [] and list(plain.named_buffers()) == []
    x = rng(1).standard_normal((4, 3))
    plain.eval()  # without running statistics, batch statistics are used even in eval
    np.testing.assert_allclose(plain(x), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-6)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps must be positive"):
        BatchNorm1d(3, eps=0)


def test_batchnorm_in_a_model_keeps_float32():
    model = Sequential(Linear(3, 4, rng=rng()), BatchNorm1d(4))
    x = rng(1).standard_normal((5, 3)).astype(np.float32)
    y = model(x)
    assert y.dtype == np.float32 and model[1].running_var.dtype == np.float32
    assert model.backward(np.ones_like(y)).dtype == np.float32
