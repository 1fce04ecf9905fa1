"""Tests for mlpcore.diagnostics: activations, saturation, dead units, gradient norms,
update ratios and the Recorder."""
import numpy as np
import pytest

from mlpcore.clip import get_total_norm
from mlpcore.data import load_digits
from mlpcore.diagnostics import (Recorder, activation_gradients, activation_stats,
                                 forward_with_activations, gradient_norms,
                                 layer_gradient_norms, linear_layers, named_layers,
                                 stats_table, update_ratios)
from mlpcore.layers import Linear, ReLU, Residual, Sequential, Sigmoid, Tanh
from mlpcore.losses import CrossEntropyLoss
from mlpcore.optim import SGD
from mlpcore.train import fit


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:256], y[:256]


def deep_net(activation, depth, width=32, weight_std=None, seed=0):
    """64 -> width x depth hidden layers -> 10; optionally weights ~ N(0, weight_std^2)."""
    rng = np.random.default_rng(seed)
    layers = [Linear(64, width, rng=rng), activation()]
    for _ in range(depth - 1):
        layers += [Linear(width, width, rng=rng), activation()]
    model = Sequential(*layers, Linear(width, 10, rng=rng))
    if weight_std is not None:
        for _, layer in linear_layers(model):
            layer.weight.data[...] = weight_std * rng.standard_normal(layer.weight.shape)
    return model


def test_named_layers_walks_into_residual_blocks():
    rng = np.random.default_rng(0)
    model = Sequential(Linear(4, 4, rng=rng), Residual(Sequential(Linear(4, 4, rng=rng), ReLU())),
                       Tanh())
    assert [name for name, _ in named_layers(model)] == [
        "0:Linear", "1.block.0:Linear", "1.block.1:ReLU", "1:Residual", "2:Tanh"]
    assert [name for name, _ in linear_layers(model)] == ["0:Linear", "1.block.0:Linear"]


def test_forward_with_activations_is_the_real_forward_and_cleans_up(digits):
    X, y = digits
    rng = np.random.default_rng(0)
    model = Sequential(Linear(64, 16, rng=rng), Residual(Sequential(Linear(16, 16, rng=rng), Tanh())),
                       ReLU(), Linear(16, 10, rng=rng))
    acts = forward_with_activations(model, X)
    assert [n for n, _ in acts] == ["0:Linear", "1.block.0:Linear", "1.block.1:Tanh",
                                    "1:Residual", "2:ReLU", "3:Linear"]
    np.testing.assert_array_equal(acts[-1][1], model(X))
    np.testing.assert_allclose(acts[3][1], acts[0][1] + acts[2][1], rtol=1e-6)
    assert acts[1][1].dtype == np.float32
    assert not any("forward" in vars(layer) for _, layer in named_layers(model))
    # the caches of that forward are intact: backward works right after it
    forward_with_activations(model, X)
    loss_fn = CrossEntropyLoss()
    loss_fn(acts[-1][1], y)
    model.backward(loss_fn.backward())
    # an error inside the forward still removes the hooks
    with pytest.raises(ValueError):
        forward_with_activations(model, X[:, :10])
    assert not any("forward" in vars(layer) for _, layer in named_layers(model))


def test_dead_relu_fraction():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 8)).astype(np.float32)
    model = Sequential(Linear(8, 16, rng=rng), ReLU())
    model[0].bias.data[...] = -100.0     # every pre-activation is negative
    stats = activation_stats(model, X)
    assert stats[1].name == "1:ReLU" and stats[1].dead == 1.0
    assert stats[0].dead is None and stats[0].saturated is None
    model[0].bias.data[:8] = 100.0      # half the units alive again
    assert activation_stats(model, X)[1].dead == 0.5


def test_saturation_grows_with_the_init_scale(digits):
    X, _ = digits
    small = activation_stats(deep_net(Tanh, 4, weight_std=0.1), X)
    large = activation_stats(deep_net(Tanh, 4, weight_std=3.0), X)
    tanh_small = [s for s in small if s.kind == "Tanh"]
    tanh_large = [s for s in large if s.kind == "Tanh"]
    assert len(tanh_large) == 4
    assert all(s.saturated < 0.01 for s in tanh_small)
    assert all(s.saturated > 0.5 for s in tanh_large[1:])  # piled up at +-1
    assert tanh_small[-1].std < tanh_small[0].std           # tiny weights: the signal fades
    sig = activation_stats(deep_net(Sigmoid, 2, weight_std=5.0), X)
    assert sig[1].kind == "Sigmoid" and sig[1].saturated > 0.3
    # histogram of a tanh layer is a density on [-1, 1]
    s = tanh_large[0]
    assert s.edges[0] == -1 and s.edges[-1] == 1
    assert np.sum(s.counts * np.diff(s.edges)) == pytest.approx(1.0)
    assert "saturated" in stats_table(large) and len(stats_table(large).splitlines()) == len(large)


def test_gradients_vanish_towards_the_input_in_a_deep_tanh_net_with_tiny_init(digits):
    X, y = digits
    model = deep_net(Tanh, 8, weight_std=0.05)
    norms = layer_gradient_norms(model, CrossEntropyLoss(), X, y)
    names = list(norms)
    assert names[0] == "0:Linear" and len(names) == 9
    values = np.array(list(norms.values()))
    assert values[0] < 1e-2 * values[-1]
    # dL/db_l is the backpropagated signal itself: it shrinks at every layer on the way down
    bias_norms = [get_total_norm([layer.bias.grad]) for _, layer in linear_layers(model)]
    assert np.all(np.diff(bias_norms) > 0)
    # the same network with PyTorch's default init keeps the first layer within ~30x of the last
    healthy = layer_gradient_norms(deep_net(Tanh, 8), CrossEntropyLoss(), X, y)
    healthy = np.array(list(healthy.values()))
    assert healthy[0] > 3e-2 * healthy[-1]


def test_gradient_norms_per_parameter(digits):
    X, y = digits
    model = deep_net(ReLU, 2)
    assert gradient_norms(model) == {}
    layer_norms = layer_gradient_norms(model, CrossEntropyLoss(), X, y)
    per_param = gradient_norms(model)
    assert set(per_param) == {name for name, _ in model.named_parameters()}
    assert per_param["0.weight"] == pytest.approx(layer_norms["0:Linear"])
    assert per_param["0.weight"] == pytest.approx(float(np.linalg.norm(model[0].weight.grad)))


def test_activation_gradients_are_what_each_layer_receives(digits):
    X, y = digits
    model = deep_net(Tanh, 2)
    grads = activation_gradients(model, CrossEntropyLoss(), X, y)
    assert [n for n, _ in grads] == [n for n, _ in named_layers(model)]
    # the last layer receives dL/dlogits = (softmax - onehot) / N
    logits = model(X)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    np.testing.assert_allclose(grads[-1][1], p / len(y), atol=1e-6)
    assert not any("backward" in vars(layer) for _, layer in named_layers(model))


def test_update_ratios_of_one_sgd_step(digits):
    X, y = digits
    model = deep_net(ReLU, 2)
    layer_gradient_norms(model, CrossEntropyLoss(), X, y)
    expected = {name: 0.1 * get_total_norm([layer.weight.grad]) / get_total_norm([layer.weight.data])
                for name, layer in linear_layers(model)}
    before = model[0].weight.data.copy()
    ratios = update_ratios(model, SGD(model.parameters(), lr=0.1))
    assert not np.array_equal(before, model[0].weight.data)  # the step was taken
    assert list(ratios) == list(expected)
    for name in expected:
        assert ratios[name] == pytest.approx(expected[name], rel=1e-4)


def test_recorder_during_fit_matches_the_sgd_update(digits):
    X, y = digits
    model = deep_net(Tanh, 3)
    lr = 0.05
    recorder = Recorder(model, every=3)
    checked = []

    def on_step(info):
        recorder(info)
        if recorder.steps and recorder.steps[-1] == info.global_step:
            # plain SGD: W_before = W_after + lr * grad
            for name, layer in recorder.layers:
                grad, after = layer.weight.grad, layer.weight.data
                expected = lr * get_total_norm([grad]) / get_total_norm([after + lr * grad])
                assert recorder.update_ratios[name][-1] == pytest.approx(expected, rel=1e-3)
                assert recorder.grad_norms[name][-1] == pytest.approx(get_total_norm([grad]))
            checked.append(info.global_step)

    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=lr), X, y, epochs=2,
        batch_size=64, rng=np.random.default_rng(0), on_step=on_step)
    assert recorder.steps == [1, 4, 7] == checked  # 8 steps in all, recorded every 3rd
    assert len(recorder.losses) == 3 and len(recorder.total_grad_norms) == 3
    assert set(recorder.update_ratios) == {"0:Linear", "2:Linear", "4:Linear", "6:Linear"}
    with pytest.raises(ValueError, match="every"):
        Recorder(model, every=0)


def test_std_ratio_is_makemores_and_differs_from_the_norm_ratio_only_by_the_means(digits):
    X, y = digits
    model = deep_net(Tanh, 2)
    layer_gradient_norms(model, CrossEntropyLoss(), X, y)
    before = {name: layer.weight.data.astype(np.float64) for name, layer in linear_layers(model)}
    ratios = update_ratios(model, SGD(model.parameters(), lr=0.1), ratio="std")
    for name, layer in linear_layers(model):
        delta = layer.weight.data - before[name]
        assert ratios[name] == pytest.approx(np.std(delta) / np.std(before[name]), rel=1e-4)
    # with a mean of 0 both ratios agree; a common shift of the weights separates them
    from mlpcore.diagnostics import _ratio
    rng = np.random.default_rng(1)
    w = rng.standard_normal((20, 30))
    step = 1e-3 * rng.standard_normal((20, 30))
    assert _ratio(w, w + step, "std") == pytest.approx(_ratio(w, w + step, "norm"), rel=0.05)
    assert _ratio(w + 3.0, w + 3.0 + step, "std") > 2 * _ratio(w + 3.0, w + 3.0 + step, "norm")
    with pytest.raises(ValueError, match="'norm'"):
        update_ratios(model, SGD(model.parameters(), lr=0.1), ratio="log")
    with pytest.raises(ValueError, match="'std'"):
        Recorder(model, ratio="rms")


def test_recorder_with_a_probe_records_saturation_and_dead_units(digits):
    X, y = digits
    model = deep_net(Tanh, 3)
    recorder = Recorder(model, every=4, probe=X[:64], ratio="std")
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.05), X, y, epochs=1,
        batch_size=32, rng=np.random.default_rng(0), on_step=recorder)
    assert recorder.steps == [1, 5]
    assert len(recorder.activations) == 2
    # the last record is the model as it is now (after the last recorded step's update
    # and before any later one): recomputing on the final model after step 8 differs,
    # so check the structure and that the fractions are the stats' own
    assert set(recorder.saturated) == {"1:Tanh", "3:Tanh", "5:Tanh"}
    for name, values in recorder.saturated.items():
        assert len(values) == 2 and all(0 <= v <= 1 for v in values)
        stats = {s.name: s for s in recorder.activations[-1]}
        assert values[-1] == stats[name].saturated
    assert recorder.dead == {}
    relu = deep_net(ReLU, 2)
    for _, layer in linear_layers(relu)[:-1]:
        layer.bias.data[...] = -100.0                   # every hidden unit dead
    rec = Recorder(relu, every=1, probe=X[:64])
    fit(relu, CrossEntropyLoss(), SGD(relu.parameters(), lr=0.05), X[:64], y[:64], epochs=1,
        batch_size=32, rng=np.random.default_rng(0), on_step=rec)
    assert rec.dead == {"1:ReLU": [1.0, 1.0], "3:ReLU": [1.0, 1.0]}
    # dead units pass no gradient: the first layer's weights never move
    assert rec.update_ratios["0:Linear"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="probe"):
        Recorder(relu).dead
