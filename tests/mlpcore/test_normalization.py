"""BatchNorm1d: batch and running statistics (PyTorch's rules), eval mode, options,
errors; LayerNorm: per-example statistics, no batch dependence. Gradients:
test_gradcheck.py; against PyTorch: test_parity_layers.py."""
import numpy as np
from numpy.random import default_rng
import pytest

from mlpcore.layers import BatchNorm1d


def test_batchnorm_training_normalises_with_biased_variance():
    layer = BatchNorm1d(3, dtype=np.float64)
    x = default_rng(1).normal(5.0, 3.0, size=(8, 3))
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
    batches = [default_rng(s).normal(s, 1 + s, size=(6, 4)) for s in range(5)]
    for x in batches:
        layer(x)
        mean = (1 - momentum) * mean + momentum * x.mean(0)
        var = (1 - momentum) * var + momentum * x.var(0, ddof=1)  # unbiased
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)
    assert int(layer.num_batches_tracked) == len(batches)
    layer.eval()
    x = default_rng(9).standard_normal((3, 4))
    np.testing.assert_allclose(layer(x), (x - mean) / np.sqrt(var + 1e-5), rtol=1e-12)
    layer(x)  # eval must not move the statistics
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    assert int(layer.num_batches_tracked) == len(batches)


def test_batchnorm_momentum_none_is_cumulative_average():
    layer = BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [default_rng(s).normal(s, 1, size=(5, 2)) for s in range(4)]
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


def test_batchnorm_shape_errors_and_repr(raises_with):
    layer = BatchNorm1d(64)
    with raises_with(ValueError, "BatchNorm1d(64)", "(32, 63)", "(batch, 64)", "num_features"):
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
    x = default_rng(1).standard_normal((4, 3))
    plain.eval()  # without running statistics, batch statistics are used even in eval
    np.testing.assert_allclose(plain(x), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-6)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="eps must be positive"):
        BatchNorm1d(3, eps=0)


def test_layernorm_normalises_each_example_and_ignores_batch_mates():
    from mlpcore import LayerNorm
    rng = default_rng(3)
    x = rng.normal(3.0, 2.0, size=(6, 5))
    layer = LayerNorm(5, dtype=np.float64)
    y = layer(x)
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), x.var(axis=1) / (x.var(axis=1) + 1e-5), rtol=1e-12)
    alone = layer(x[2:3])
    np.testing.assert_array_equal(alone[0], layer(x[[2, 0, 5]])[0])
    with pytest.raises(ValueError, match=r"LayerNorm\(5\) got input of shape \(4, 3\)"):
        layer(np.ones((4, 3)))
    with pytest.raises(ValueError, match="eps must be positive"):
        LayerNorm(5, eps=0)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(LayerNorm(5, elementwise_affine=False).parameters()) == []
