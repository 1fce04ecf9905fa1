"""mlpcore.init against torch.nn.init: gains, fans of the transposed layout, bounds
and sample stds. Our weight is (in, out); torch's is (out, in)."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests skipped "
                                            "(pip install torch==2.13.0 to run them)")

from mlpcore import init  # noqa: E402

TORCH_NAMES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
               "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu", "selu"]
IN_FEATURES, OUT_FEATURES = 300, 700  # unequal, so fan_in and fan_out cannot be confused


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_gain_matches_torch(name):
    assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name), rel=1e-15)


@pytest.mark.parametrize("slope", [None, 0, 0.01, 0.2, 1, 3.5])
def test_leaky_relu_gain_matches_torch(slope):
    expected = torch.nn.init.calculate_gain("leaky_relu", slope)
    assert init.calculate_gain("leaky_relu", slope) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("name, param", [("gelu", None), ("leaky_relu", "0.1"), ("leaky_relu", True)])
def test_both_reject_the_same_gain_requests(name, param):
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(name, param)
    with pytest.raises(ValueError):
        init.calculate_gain(name, param)


@pytest.mark.parametrize("shape", [(784, 10), (3, 5), (4, 6, 3, 3)])
def test_fans_match_torch_on_the_transposed_layout(shape):
    torch_shape = (shape[1], shape[0]) + shape[2:]  # torch: (out, in, *kernel)
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(torch_shape))
    assert init.calculate_fan_in_and_fan_out(np.empty(shape)) == expected


def test_both_reject_a_one_dimensional_tensor():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        torch.nn.init.xavier_uniform_(torch.empty(5))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(np.empty(5), rng=np.random.default_rng(0))


def both_samples(ours, theirs, **kwargs):
    """Our draw on (in, out) and torch's on (out, in), float64, fixed seeds."""
    mine = ours(np.empty((IN_FEATURES, OUT_FEATURES)), rng=np.random.default_rng(0), **kwargs)
    reference = theirs(torch.empty(OUT_FEATURES, IN_FEATURES, dtype=torch.float64),
                       generator=torch.Generator().manual_seed(0), **kwargs)
    return mine, reference.numpy()


def assert_same_std(mine, reference):
    # Two independent samples: the difference of their stds has relative standard
    # error ~ sqrt(2) * 0.75 / sqrt(n) (0.75/sqrt(n) covers normal and uniform draws).
    tolerance = 5 * math.sqrt(2) * 0.75 / math.sqrt(mine.size)
    assert mine.std() == pytest.approx(reference.std(), rel=tolerance)


def torch_uniform_bound(kind, **kwargs):
    """The bound torch derives from ITS fans of ITS (out, in) tensor."""
    weight = torch.empty(OUT_FEATURES, IN_FEATURES)
    if kind == "xavier":
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(weight)
        return kwargs.get("gain", 1.0) * math.sqrt(6.0 / (fan_in + fan_out))
    fan = torch.nn.init._calculate_correct_fan(weight, kwargs.get("mode", "fan_in"))
    gain = torch.nn.init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
    return gain * math.sqrt(3.0 / fan)


UNIFORM_CASES = [
    ("xavier", {}), ("xavier", {"gain": 5 / 3}),
    ("kaiming", {}), ("kaiming", {"mode": "fan_out"}),
    ("kaiming", {"a": 0.2, "nonlinearity": "leaky_relu"}),
    ("kaiming", {"nonlinearity": "relu", "mode": "fan_out"}),
    ("kaiming", {"nonlinearity": "tanh"}),
]


@pytest.mark.parametrize("kind, kwargs", UNIFORM_CASES)
def test_uniform_inits_share_torch_bound_and_std(kind, kwargs):
    ours = init.xavier_uniform_ if kind == "xavier" else init.kaiming_uniform_
    theirs = torch.nn.init.xavier_uniform_ if kind == "xavier" else torch.nn.init.kaiming_uniform_
    mine, reference = both_samples(ours, theirs, **kwargs)
    bound = torch_uniform_bound(kind, **kwargs)
    for sample in (mine, reference):
        assert np.abs(sample).max() <= bound
        assert np.abs(sample).max() > 0.999 * bound  # both fill the same interval
    assert_same_std(mine, reference)


NORMAL_CASES = [
    (init.xavier_normal_, torch.nn.init.xavier_normal_, {}),
    (init.xavier_normal_, torch.nn.init.xavier_normal_, {"gain": 2.0}),
    (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {}),
    (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"mode": "fan_out"}),
    (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"a": 0.3}),
    (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"nonlinearity": "selu"}),
    (init.normal_, torch.nn.init.normal_, {"mean": 0.5, "std": 0.02}),
    (init.uniform_, torch.nn.init.uniform_, {"a": -0.3, "b": 0.1}),
]


@pytest.mark.parametrize("ours, theirs, kwargs", NORMAL_CASES)
def test_other_inits_have_torch_std(ours, theirs, kwargs):
    mine, reference = both_samples(ours, theirs, **kwargs)
    assert_same_std(mine, reference)
    mean_tolerance = 5 * math.sqrt(2) * reference.std() / math.sqrt(mine.size)
    assert mine.mean() == pytest.approx(reference.mean(), abs=mean_tolerance)


def test_both_reject_a_bad_mode():
    with pytest.raises(ValueError, match="fan_avg"):
        torch.nn.init.kaiming_uniform_(torch.empty(3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="fan_avg"):
        init.kaiming_uniform_(np.empty((4, 3)), mode="fan_avg", rng=np.random.default_rng(0))
