"""The functions chapter 3 appended to mlpcore.diagnostics and mlpcore.plotting."""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

from mlpcore import CrossEntropyLoss, Linear, ReLU, Sequential, Sigmoid, Tanh
from mlpcore.diagnostics import fit_geometric_factor, layer_profile

matplotlib.use("Agg")


def _model(activation, rng, scale=1.0, depth=6, width=16):
    layers = [Linear(8, width, rng=rng)]
    for _ in range(depth - 2):
        layers += [activation(), Linear(width, width, rng=rng)]
    layers += [activation(), Linear(width, 3, rng=rng)]
    for layer in layers:
        if isinstance(layer, Linear):
            layer.weight.data *= scale
    return Sequential(*layers)


def test_layer_profile_shapes_and_values():
    rng = np.random.default_rng(0)
    model = _model(Tanh, rng)
    X, y = rng.standard_normal((32, 8)).astype(np.float32), rng.integers(0, 3, 32)
    profile = layer_profile(model, CrossEntropyLoss(), X, y)
    assert profile["activation"] == "tanh"
    for key in ("act_std", "saturated", "dead", "act_grad_std"):
        assert profile[key].shape == (5,), key
    assert profile["grad_norm"].shape == (6,)
    assert np.all(profile["dead"] == 0) and np.all(profile["saturated"] >= 0)
    # the numbers are the model's own: the last activation's std and the loss
    outputs = [out for _, out in __import__("mlpcore.diagnostics", fromlist=["x"])
               .forward_with_activations(model, X)]
    assert math.isclose(profile["act_std"][-1], float(outputs[-2].std()), rel_tol=1e-6)
    assert math.isclose(profile["initial_loss"], float(CrossEntropyLoss()(outputs[-1], y)),
                        rel_tol=1e-6)
    assert math.isclose(profile["grad_norm"][0], float(np.linalg.norm(model[0].weight.grad)),
                        rel_tol=1e-6)


def test_layer_profile_sees_saturation_and_dead_units():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((64, 8)).astype(np.float32), rng.integers(0, 3, 64)
    saturated = layer_profile(_model(Tanh, rng, scale=8.0), CrossEntropyLoss(), X, y)
    assert saturated["saturated"].mean() > 0.5
    dead_model = _model(ReLU, rng)
    for layer in dead_model:
        if isinstance(layer, Linear):
            layer.bias.data[:] = -10.0
    dead = layer_profile(dead_model, CrossEntropyLoss(), X, y)
    assert dead["dead"].min() == 1.0 and dead["activation"] == "relu"


def test_layer_profile_needs_an_activation():
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="no activation layer"):
        layer_profile(Sequential(Linear(4, 3, rng=rng)), CrossEntropyLoss(),
                      np.ones((2, 4), np.float32), np.array([0, 1]))


def test_fit_geometric_factor():
    assert math.isclose(fit_geometric_factor(3.0 * 0.5 ** np.arange(10)), 0.5, rel_tol=1e-12)
    assert math.isclose(fit_geometric_factor([2.0, 2.0, 2.0]), 1.0, rel_tol=1e-12)
    for bad in ([1.0], [1.0, 0.0], [1.0, np.nan], [[1.0, 2.0]]):
        with pytest.raises(ValueError):
            fit_geometric_factor(bad)


def test_plot_grid_labels_cells_and_nan():
    import matplotlib.pyplot as plt
    from mlpcore.plotting import plot_grid

    ax = plot_grid([[0.1, np.nan], [2.0, 1.0]], ["a", "b"], [3, 10], title="t",
                   xlabel="depth", cbar_label="loss")
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["0.10", "1.00", "2.00", "NaN"]
    assert ax.get_title() == "t" and ax.get_xlabel() == "depth"
    with pytest.raises(ValueError, match="shape"):
        plot_grid([[1.0]], ["a", "b"], [1])
    plt.close("all")


def test_plot_profiles_draws_four_panels():
    import matplotlib.pyplot as plt
    from mlpcore.plotting import plot_profiles

    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((16, 8)).astype(np.float32), rng.integers(0, 3, 16)
    profiles = {name: layer_profile(_model(act, rng), CrossEntropyLoss(), X, y)
                for name, act in (("sigmoid", Sigmoid), ("relu", ReLU))}
    axes = plot_profiles(profiles)
    assert len(np.ravel(axes)) == 4
    for ax in np.ravel(axes):
        assert len(ax.get_lines()) == 2 and ax.get_xlabel() and ax.get_ylabel()
    with pytest.raises(ValueError):
        plot_profiles({})
    plt.close("all")


@pytest.mark.parametrize("values", [
    np.array([-3e38, 0.0, 3e38], dtype=np.float32),       # the span overflows float32
    np.array([-1e308, 1e308]),                            # ... and float64
    np.full(7, 1e30, dtype=np.float32),                   # no span, at a huge magnitude
    np.array([1e30, 1e30 + 1e24, np.inf], dtype=np.float32),
])
def test_activation_stats_histogram_survives_huge_finite_activations(values):
    """An exploding net's activations get a finite density histogram, not a crash."""
    from mlpcore.diagnostics import activation_stats

    with np.errstate(over="ignore", invalid="ignore"):   # the std itself may overflow
        (stats,) = activation_stats([("0:Linear", values.reshape(-1, 1))])
    widths = np.diff(stats.edges)
    assert len(stats.counts) == 50 and np.all(widths > 0) and np.all(np.isfinite(stats.edges))
    assert np.sum(stats.counts * widths) == pytest.approx(1.0)   # still a density
    finite = values[np.isfinite(values)].astype(np.float64)
    assert stats.edges[0] <= max(finite.min(), -1e300) and stats.edges[-1] >= min(finite.max(), 1e300)


def test_activation_stats_histogram_unchanged_for_ordinary_values():
    from mlpcore.diagnostics import activation_stats

    values = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    (stats,) = activation_stats([("0:Linear", values)])
    counts, edges = np.histogram(values.astype(np.float64), bins=50, density=True)
    np.testing.assert_allclose(stats.edges, edges)
    np.testing.assert_allclose(stats.counts, counts)
