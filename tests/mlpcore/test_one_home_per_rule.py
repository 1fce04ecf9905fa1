"""Issue 23's rules, each kept in one place: a check names its owner only when it fails,
dropout's mask comes from draw_keep_mask, fit calls a model's own train()/zero_grad(),
and plotting selects layers with diagnostics' kinds and parser."""
from __future__ import annotations

import numpy as np
import pytest

from mlpcore import (BatchNorm1d, CrossEntropyLoss, Dropout, LayerNorm, Linear, ReLU,
                     Sequential, Tanh, diagnostics, fit)
from mlpcore.layers import draw_keep_mask
from mlpcore.optim import SGD


def _layers():
    rng = np.random.default_rng(0)
    return [Linear(4, 3, rng=rng), BatchNorm1d(4), LayerNorm(4), ReLU(), Tanh(),
            Dropout(0.5, rng=rng)]


@pytest.mark.parametrize("layer", _layers(), ids=lambda layer: type(layer).__name__)
def test_a_layer_builds_its_name_only_for_an_error(layer, monkeypatch):
    calls = []
    original = type(layer)._name
    monkeypatch.setattr(type(layer), "_name", lambda self: calls.append(1) or original(self))
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    out = layer(x)
    layer.backward(np.ones_like(out))
    assert calls == []  # the happy path never formats the owner
    layer(x)
    with pytest.raises(ValueError, match=r"backward got grad_out of shape \(2, 2\)"):
        layer.backward(np.ones((2, 2), np.float32))
    assert calls  # and the error names it


def test_dropout_draws_its_mask_with_draw_keep_mask():
    x = np.ones((64, 32), np.float32)
    layer = Dropout(0.3, rng=np.random.default_rng(7))
    layer(x)
    expected = draw_keep_mask(np.random.default_rng(7), x.shape, 0.3, x.dtype)
    np.testing.assert_array_equal(layer.mask, expected)
    assert expected.dtype == np.float32 and 0.55 < expected.mean() < 0.85


class _CountingModel(Sequential):
    def __init__(self, *layers):
        super().__init__(*layers)
        self.calls = {"train": 0, "zero_grad": 0}

    def train(self, mode=True):
        self.calls["train"] += bool(mode)  # evaluate's eval() calls train(False)
        return super().train(mode)

    def zero_grad(self):
        self.calls["zero_grad"] += 1
        super().zero_grad()


def test_fit_calls_a_models_own_train_and_zero_grad_every_step():
    rng = np.random.default_rng(3)
    model = _CountingModel(Linear(4, 8, rng=rng), ReLU(), Linear(8, 3, rng=rng))
    X = rng.standard_normal((20, 4)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=2,
        batch_size=5, rng=rng)
    assert model.calls == {"train": 8, "zero_grad": 8}


def test_fit_sets_training_mode_and_clears_grads_like_train_and_zero_grad():
    rng = np.random.default_rng(4)
    model = Sequential(Linear(4, 8, rng=rng), Dropout(0.5, rng=rng), Linear(8, 3, rng=rng))
    X = rng.standard_normal((12, 4)).astype(np.float32)
    y = rng.integers(0, 3, 12)
    seen = []

    def on_step(info):
        seen.append([module.training for module in model.modules()])
        model.eval()  # fit must put it back in training mode for the next step
        for param in model.parameters():
            param.grad = np.full_like(param.data, np.nan)  # and drop these

    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=1,
        batch_size=4, rng=rng, on_step=on_step)
    assert seen == [[True] * 4] * 3


def test_plotting_selects_layers_with_the_kinds_and_parser_of_diagnostics():
    pytest.importorskip("matplotlib")
    from mlpcore import plotting

    assert plotting.ACTIVATION_KINDS is diagnostics.ACTIVATION_KINDS
    assert plotting.layer_kind is diagnostics.layer_kind
    assert diagnostics.layer_kind("3.block.0:LeakyReLU") == "LeakyReLU"
