"""mlpcore.init: gains, fans for our (in, out) layout, sample statistics, errors."""
import math

import numpy as np
import pytest

from mlpcore import init
from mlpcore.module import Parameter


def std_tolerance(n: int) -> float:
    """Relative tolerance for a sample std of n i.i.d. draws: 5 standard errors.

    The relative standard error of the sample std is sqrt((kurtosis - 1) / (4n)):
    1/sqrt(2n) for a normal (kurtosis 3), sqrt(0.2/n) for a uniform (1.8). We use
    the larger, 0.75/sqrt(n), for both.
    """
    return 5 * 0.75 / math.sqrt(n)


# ----- calculate_gain ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["linear", "identity", "conv1d", "conv2d", "conv3d",
                                  "conv_transpose1d", "conv_transpose2d",
                                  "conv_transpose3d", "sigmoid"])
def test_gain_is_one_for_linear_like(name):
    assert init.calculate_gain(name) == 1.0


def test_gain_values():
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3, rel=1e-15)
    assert init.calculate_gain("relu") == pytest.approx(2 ** 0.5, rel=1e-15)
    assert init.calculate_gain("selu") == 0.75
    # leaky_relu: sqrt(2 / (1 + slope^2)), default slope 0.01
    assert init.calculate_gain("leaky_relu") == pytest.approx((2 / 1.0001) ** 0.5, rel=1e-15)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx((2 / 1.04) ** 0.5, rel=1e-15)
    assert init.calculate_gain("leaky_relu", 0) == pytest.approx(2 ** 0.5, rel=1e-15)
    assert init.calculate_gain("leaky_relu", 1.0) == pytest.approx(1.0, rel=1e-15)


def test_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'ReLU'"):
        init.calculate_gain("ReLU")
    for bad in ["0.2", True, float("nan"), [0.2]]:
        with pytest.raises(ValueError, match="negative slope"):
            init.calculate_gain("leaky_relu", bad)


# ----- fans ----------------------------------------------------------------------------
def test_fans_follow_in_out_layout():
    # Our Linear(784 -> 10) weight is stored (784, 10): fan_in 784, fan_out 10.
    assert init.calculate_fan_in_and_fan_out(np.empty((784, 10))) == (784, 10)
    assert init.calculate_fan_in_and_fan_out(Parameter(np.empty((3, 5)))) == (3, 5)
    assert init.calculate_fan_in_and_fan_out(np.empty((3, 5, 2, 2))) == (12, 20)


@pytest.mark.parametrize("fn", [init.xavier_uniform_, init.xavier_normal_,
                                init.kaiming_uniform_, init.kaiming_normal_])
def test_fan_based_init_rejects_a_bias(fn):
    bias = np.zeros(10, dtype=np.float32)
    with pytest.raises(ValueError, match="fewer than 2 dimensions.*zeros_ or uniform_"):
        fn(bias, rng=np.random.default_rng(0))
    assert np.all(bias == 0)


# ----- statistics ---------------------------------------------------------------------
def test_kaiming_normal_fan_in_784_by_10():
    weight = init.kaiming_normal_(np.empty((784, 10), np.float64), nonlinearity="relu",
                                  rng=np.random.default_rng(1))
    assert weight.std() == pytest.approx(math.sqrt(2 / 784), rel=std_tolerance(weight.size))
    assert abs(weight.mean()) < 5 * math.sqrt(2 / 784) / math.sqrt(weight.size)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_normal_mode_picks_the_right_fan(mode):
    shape = (200, 1000)  # fan_in 200, fan_out 1000: stds differ by sqrt(5)
    fan = shape[0] if mode == "fan_in" else shape[1]
    weight = init.kaiming_normal_(np.empty(shape, np.float32), mode=mode,
                                  rng=np.random.default_rng(2))
    assert weight.std() == pytest.approx(math.sqrt(2 / fan), rel=std_tolerance(weight.size))


@pytest.mark.parametrize("a, nonlinearity, gain",
                         [(0, "leaky_relu", 2 ** 0.5), (0.2, "leaky_relu", (2 / 1.04) ** 0.5),
                          (0, "relu", 2 ** 0.5), (0, "tanh", 5 / 3), (0, "linear", 1.0)])
def test_kaiming_uniform_bound_and_std(a, nonlinearity, gain):
    shape = (400, 300)
    weight = init.kaiming_uniform_(np.empty(shape, np.float64), a=a,
                                   nonlinearity=nonlinearity, rng=np.random.default_rng(3))
    bound = gain * math.sqrt(3 / shape[0])
    assert np.abs(weight).max() <= bound
    assert np.abs(weight).max() > 0.999 * bound  # the whole interval is used
    assert weight.std() == pytest.approx(gain / math.sqrt(shape[0]), rel=std_tolerance(weight.size))


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_uniform_bound_and_std(gain):
    shape = (300, 500)
    weight = init.xavier_uniform_(np.empty(shape, np.float32), gain=gain,
                                  rng=np.random.default_rng(4))
    bound = gain * math.sqrt(6 / (300 + 500))
    assert np.abs(weight).max() <= np.float32(bound)
    assert np.abs(weight).max() > 0.999 * bound
    assert weight.std() == pytest.approx(gain * math.sqrt(2 / 800), rel=std_tolerance(weight.size))


def test_xavier_normal_std():
    weight = init.xavier_normal_(np.empty((300, 500)), gain=2.0, rng=np.random.default_rng(5))
    assert weight.std() == pytest.approx(2.0 * math.sqrt(2 / 800), rel=std_tolerance(weight.size))


def test_uniform_and_normal():
    rng = np.random.default_rng(6)
    values = init.uniform_(np.empty(100_000, np.float32), -2.0, 3.0, rng=rng)
    assert values.min() >= -2.0 and values.max() < 3.0
    assert values.mean() == pytest.approx(0.5, abs=5 * 5 / math.sqrt(12 * values.size))
    values = init.normal_(np.empty(100_000), mean=1.5, std=0.1, rng=rng)
    assert values.mean() == pytest.approx(1.5, abs=5 * 0.1 / math.sqrt(values.size))
    assert values.std() == pytest.approx(0.1, rel=std_tolerance(values.size))


def test_constant_fills():
    assert np.all(init.zeros_(np.full((2, 3), 7.0)) == 0)
    assert np.all(init.ones_(np.zeros((2, 3), np.float32)) == 1)
    assert np.all(init.constant_(np.zeros(4), 0.25) == 0.25)


# ----- in place, dtype, determinism ----------------------------------------------------
ALL_RANDOM = [init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
              init.kaiming_normal_, init.normal_, init.uniform_]


@pytest.mark.parametrize("fn", ALL_RANDOM)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_in_place_on_parameter_keeps_dtype(fn, dtype):
    param = Parameter(np.zeros((20, 30), dtype=dtype))
    data = param.data
    returned = fn(param, rng=np.random.default_rng(7))
    assert returned is param
    assert param.data is data and param.data.dtype == dtype
    assert np.count_nonzero(param.data) > 0


@pytest.mark.parametrize("fn", ALL_RANDOM)
def test_in_place_on_ndarray_and_views(fn):
    array = np.zeros((30, 20), np.float32)
    assert fn(array, rng=np.random.default_rng(8)) is array
    assert np.count_nonzero(array) > 0
    transposed = np.zeros((20, 30), np.float32).T  # a non-contiguous view
    fn(transposed, rng=np.random.default_rng(8))
    assert np.count_nonzero(transposed.base) > 0


@pytest.mark.parametrize("fn", ALL_RANDOM)
def test_same_seed_same_values(fn):
    first = fn(np.empty((10, 6), np.float32), rng=np.random.default_rng(9))
    second = fn(np.empty((10, 6), np.float32), rng=np.random.default_rng(9))
    other = fn(np.empty((10, 6), np.float32), rng=np.random.default_rng(10))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_draws_in_float32_use_the_float32_stream():
    # Drawing in the array's dtype (not float64 then casting) is what keeps float32 cheap.
    expected = np.random.default_rng(11).standard_normal((5, 4), dtype=np.float32)
    drawn = init.normal_(np.empty((5, 4), np.float32), rng=np.random.default_rng(11))
    np.testing.assert_array_equal(drawn, expected)


def test_empty_weight_is_a_no_op():
    empty = np.empty((0, 5), np.float32)
    assert init.kaiming_uniform_(empty, rng=np.random.default_rng(0)) is empty
    assert init.xavier_normal_(np.empty((0, 0)), rng=np.random.default_rng(0)).size == 0


# ----- errors ------------------------------------------------------------------------
@pytest.mark.parametrize("fn", ALL_RANDOM)
def test_missing_rng(fn):
    with pytest.raises(TypeError, match=r"pass rng=np\.random\.default_rng\(seed\)"):
        fn(np.empty((3, 4)))
    with pytest.raises(TypeError, match="RandomState"):
        fn(np.empty((3, 4)), rng=np.random.RandomState(0))


@pytest.mark.parametrize("fn", ALL_RANDOM + [init.zeros_, init.ones_])
def test_non_float_array(fn):
    kwargs = {"rng": np.random.default_rng(0)} if fn in ALL_RANDOM else {}
    with pytest.raises(TypeError, match=f"{fn.__name__} expects a float array, got dtype int64"):
        fn(np.zeros((3, 4), dtype=np.int64), **kwargs)
    with pytest.raises(TypeError, match="got list"):
        fn([[0.0, 1.0]], **kwargs)


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.kaiming_normal_])
def test_bad_mode(fn):
    with pytest.raises(ValueError, match=r"mode 'fan_avg' not supported.*\['fan_in', 'fan_out'\]"):
        fn(np.empty((3, 4)), mode="fan_avg", rng=np.random.default_rng(0))
    fn(np.empty((3, 4)), mode="FAN_OUT", rng=np.random.default_rng(0))  # as PyTorch: any case


def test_bad_distribution_parameters():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(np.empty(3), 1.0, 0.0, rng=rng)
    with pytest.raises(ValueError, match="finite bounds"):
        init.uniform_(np.empty(3), 0.0, math.inf, rng=rng)
    with pytest.raises(ValueError, match="std >= 0"):
        init.normal_(np.empty(3), std=-1.0, rng=rng)
    with pytest.raises(ValueError, match="gain"):
        init.xavier_uniform_(np.empty((3, 4)), gain=float("nan"), rng=rng)
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.kaiming_normal_(np.empty((3, 4)), nonlinearity="softmax", rng=rng)
