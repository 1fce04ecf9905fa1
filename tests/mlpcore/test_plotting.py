"""Tests for mlpcore.plotting: every helper returns labelled Axes; matplotlib stays lazy."""
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mlpcore.data import load_digits  # noqa: E402
from mlpcore.diagnostics import (Recorder, activation_gradients, activation_stats,  # noqa: E402
                                 forward_with_activations, layer_gradient_norms)
from mlpcore.layers import Linear, ReLU, Sequential, Tanh  # noqa: E402
from mlpcore.losses import CrossEntropyLoss  # noqa: E402
from mlpcore.optim import SGD  # noqa: E402
from mlpcore.plotting import (PALETTE, plot_activation_histograms,  # noqa: E402
                              plot_gradient_histograms, plot_history, plot_layer_norms,
                              plot_recorder, use_style)
from mlpcore.train import History, fit  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def setup():
    X, y = load_digits()
    X, y = X[:200], y[:200]
    rng = np.random.default_rng(0)
    model = Sequential(Linear(64, 16, rng=rng), Tanh(), Linear(16, 16, rng=rng), ReLU(),
                       Linear(16, 10, rng=rng))
    return model, X, y


def assert_labelled(ax, n_entries=None):
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    legend = ax.get_legend()
    assert legend is not None
    if n_entries is not None:
        assert len(legend.get_texts()) == n_entries


def test_import_mlpcore_does_not_import_matplotlib():
    code = ("import sys, mlpcore, mlpcore.data, mlpcore.train, mlpcore.diagnostics, "
            "mlpcore.plotting; assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_use_style_sets_the_shared_style():
    use_style()
    assert matplotlib.rcParams["axes.grid"] is True
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == PALETTE[0]
    matplotlib.rcdefaults()


def test_plot_history(setup):
    history = History()
    for epoch, (a, b, c) in enumerate([(1.0, 1.2, 0.5), (0.5, 0.9, 0.7)], start=1):
        history.append(epoch, {"train_loss": a, "val_loss": b, "val_acc": c})
    ax = plot_history(history, title="Loss")
    assert_labelled(ax, 2)
    assert ax.get_title() == "Loss" and ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [1.2, 0.9])
    assert ax.lines[1].get_linestyle() == "--"
    fig, axes = plt.subplots(1, 2)
    ax2 = plot_history(history, keys=["val_acc"], ax=axes[1], label="run A")
    assert ax2 is axes[1] and ax2.get_ylabel() == "accuracy"
    assert ax2.get_legend().get_texts()[0].get_text() == "run A: validation accuracy"
    with pytest.raises(KeyError, match="train_acc"):
        plot_history(history, keys=["train_acc"])


def test_plot_activation_histograms_from_acts_and_stats(setup):
    model, X, _ = setup
    acts = forward_with_activations(model, X)
    ax = plot_activation_histograms(acts)
    assert_labelled(ax, 2)  # the Tanh and the ReLU layer
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0].startswith("1:Tanh") and "saturated" in texts[0] and "dead" in texts[1]
    ax = plot_activation_histograms(activation_stats(acts), layer_types=["Linear"])
    assert_labelled(ax, 3)
    with pytest.raises(ValueError, match="no layer of type"):
        plot_activation_histograms(acts, layer_types=["Sigmoid"])


def test_plot_gradient_histograms(setup):
    model, X, y = setup
    ax = plot_gradient_histograms(activation_gradients(model, CrossEntropyLoss(), X, y))
    assert_labelled(ax, 2)


def test_plot_layer_norms_log_scale(setup):
    model, X, y = setup
    norms = layer_gradient_norms(model, CrossEntropyLoss(), X, y)
    ax = plot_layer_norms(norms, label="default init")
    assert_labelled(ax, 1)
    assert ax.get_yscale() == "log"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), list(norms.values()))
    ax = plot_layer_norms({"a": norms, "b": {k: 2 * v for k, v in norms.items()}})
    assert_labelled(ax, 2)


def test_plot_recorder(setup):
    model, X, y = setup
    recorder = Recorder(model, every=2)
    with pytest.raises(ValueError, match="no steps"):
        plot_recorder(recorder)
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=1,
        batch_size=20, rng=np.random.default_rng(0), on_step=recorder)
    ax = plot_recorder(recorder)
    assert_labelled(ax, 4)  # 3 layers + the 1e-3 guide
    assert ax.get_yscale() == "log"
    ax = plot_recorder(recorder, "grad_norms")
    assert_labelled(ax, 3)


def test_plot_recorder_fractions_and_zero_ratios(setup):
    import matplotlib.pyplot as plt
    X, y = load_digits()
    X, y = X[:64].astype(np.float32), y[:64]
    rng = np.random.default_rng(0)
    from mlpcore import ReLU as _ReLU
    model = Sequential(Linear(64, 16, rng=rng), _ReLU(), Linear(16, 10, rng=rng))
    model[0].bias.data[...] = -100.0                   # dead: the first weight never moves
    recorder = Recorder(model, every=1, probe=X)
    from mlpcore.optim import SGD as _SGD
    fit(model, CrossEntropyLoss(), _SGD(model.parameters(), lr=0.1), X, y, epochs=1,
        batch_size=32, rng=rng, on_step=recorder)
    ax = plot_recorder(recorder, "dead")
    assert ax.get_ylabel() == "dead fraction" and ax.get_ylim()[1] > 1
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [1.0, 1.0])
    ax = plot_recorder(recorder)                       # the dead layer's zeros are left out
    assert np.all(np.isnan(ax.lines[0].get_ydata()))
    with pytest.raises(ValueError, match="saturated"):
        plot_recorder(recorder, "saturated")
    with pytest.raises(ValueError, match="one of"):
        plot_recorder(recorder, "ratios")
    plt.close("all")
