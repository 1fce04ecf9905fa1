"""Tests for mlpcore.train: fit, evaluate, History, divergence detection, quietness."""
import io
import os
import math
import sys
import warnings

import numpy as np
import pytest

from mlpcore.data import load_digits, make_linear_regression, train_test_split
from mlpcore.layers import Dropout, Linear, ReLU, Sequential
from mlpcore.losses import CrossEntropyLoss, MSELoss
from mlpcore.module import Module
from mlpcore.optim import SGD
from mlpcore import train
from mlpcore.train import History, StepInfo, TrainingDivergedError, evaluate, fit, progress


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits()
    return train_test_split(X, y, 0.25, rng=np.random.default_rng(0))


def mlp(seed, sizes=(64, 32, 10)):
    rng = np.random.default_rng(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(n_in, n_out, rng=rng))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


def test_fit_learns_digits_far_better_than_chance(digits_split):
    X_tr, X_te, y_tr, y_te = digits_split
    model = mlp(1)
    history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X_tr, y_tr,
                  epochs=10, batch_size=32, rng=np.random.default_rng(2), val_data=(X_te, y_te))
    assert history.epochs == list(range(1, 11))
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "batch_loss"):
        assert len(history[key]) == 10 and all(isinstance(v, float) for v in history[key])
    assert "penalty" not in history
    # chance is 10% (loss log 10 = 2.30); over 10 seeds this setting reaches 0.90-0.96
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["train_loss"][-1] < 0.5 < math.log(10)
    assert history.last["val_acc"] >= 0.85
    # the recorded metrics are what evaluate says about the final model
    assert evaluate(model, CrossEntropyLoss(), X_te, y_te)["acc"] == history.last["val_acc"]
    assert len(history.step_losses) == 10 * math.ceil(len(X_tr) / 32)


def test_same_seed_same_history_different_seed_different(digits_split):
    X_tr, _, y_tr, _ = digits_split
    X_tr, y_tr = X_tr[:300], y_tr[:300]

    def run(data_seed):
        model = mlp(3)
        return fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X_tr, y_tr,
                   epochs=3, batch_size=16, rng=np.random.default_rng(data_seed))

    a, b, c = run(7), run(7), run(8)
    assert a.step_losses == b.step_losses and a["train_loss"] == b["train_loss"]
    assert a.step_losses != c.step_losses


def test_divergence_raises_with_step_information():
    X, y = load_digits()
    model = mlp(0, sizes=(64, 32, 32, 10))
    optimizer = SGD(model.parameters(), lr=1e6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fit reports the blow-up itself, without NumPy warnings
        with pytest.raises(TrainingDivergedError) as info:
            fit(model, CrossEntropyLoss(), optimizer, X, y, epochs=5, batch_size=32,
                rng=np.random.default_rng(0))
    exc = info.value
    assert isinstance(exc, FloatingPointError)
    message = str(exc)
    for part in (f"epoch {exc.epoch}", f"step {exc.step} of 57", f"global step {exc.global_step}",
                 "lr=1e+06", "learning rate", "exploding gradients", "clip_grad_norm="):
        assert part in message, part
    losses = exc.history.step_losses
    assert len(losses) == exc.global_step and not math.isfinite(losses[-1])
    # three significant digits: a diverging run's further digits depend on the CPU
    assert exc.last_finite_loss == losses[-2] and f"{losses[-2]:.3g}" in message


class BlowUp(Module):
    """Identity that returns NaN on its n-th training forward (eval forwards are free)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def forward(self, x):
        if self.training:
            self.calls += 1
            if self.calls == self.n:
                return x * np.float32(np.nan)
        return x

    def backward(self, grad_out):
        return grad_out


def test_divergence_in_a_later_epoch_keeps_the_completed_epochs():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 3)).astype(np.float32), rng.integers(0, 2, 10)
    model = Sequential(Linear(3, 2, rng=rng), BlowUp(5))
    with pytest.raises(TrainingDivergedError) as info:  # 3 steps per epoch: step 5 = epoch 2, step 2
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X, y, epochs=4,
            batch_size=4, rng=rng)
    exc = info.value
    assert (exc.epoch, exc.step, exc.global_step) == (2, 2, 5)
    assert "epoch 2, step 2 of 3 (global step 5)" in str(exc)
    assert exc.history.epochs == [1] and len(exc.history["train_loss"]) == 1
    assert exc.last_finite_loss == exc.history.step_losses[3]


@pytest.mark.parametrize("progress", [None, True, False])
def test_fit_prints_nothing_when_quiet(capfd, monkeypatch, progress):
    monkeypatch.setenv("MLPCORE_QUIET", "1")
    X, y = load_digits()
    model = mlp(0)
    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), X[:200], y[:200],
        epochs=2, batch_size=50, rng=np.random.default_rng(0), progress=progress)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def screen(stream: str) -> list[str]:
    """What a terminal shows after ``stream``: '\\r' returns to the line's start and
    overwrites, '\\n' starts a new line; trailing blanks do not show."""
    lines, current = [], ""
    for part in stream.split("\n"):
        for piece in part.split("\r"):
            current = piece + current[len(piece):]
        lines.append(current.rstrip())
        current = ""
    return [line for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def small_fit(model=None, lr=0.1, **kwargs):
    X, y = load_digits()
    model = model or mlp(0)
    return fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=lr), X[:200], y[:200],
               epochs=2, batch_size=50, rng=np.random.default_rng(0), **kwargs)


def diverging_fit(**kwargs):
    """A run whose third training forward is NaN: fit raises TrainingDivergedError."""
    with pytest.raises(TrainingDivergedError):
        small_fit(Sequential(Linear(64, 10, rng=np.random.default_rng(0)), BlowUp(3)), **kwargs)


def test_progress_bar_when_asked_is_gone_when_fit_returns(capfd, monkeypatch):
    monkeypatch.delenv("MLPCORE_QUIET", raising=False)
    small_fit(progress=True)
    out, err = capfd.readouterr()
    assert out == "" and "\r" in err and "epoch 2/2" in err, "the bar was drawn"
    assert screen(err) == [], f"nothing may be left on stderr: {screen(err)}"
    # not a terminal nor a notebook kernel (pytest captures the streams): auto is quiet
    small_fit()
    assert capfd.readouterr() == ("", "")


def test_a_diverged_run_leaves_one_line_saying_so(capfd, monkeypatch):
    monkeypatch.delenv("MLPCORE_QUIET", raising=False)
    diverging_fit(progress=True)
    out, err = capfd.readouterr()
    assert screen(err) == ["fit: diverged at epoch 1, step 3 (see the TrainingDivergedError)"]
    assert "History(" not in err


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def on_terminal(monkeypatch) -> FakeTerminal:
    """stderr is a terminal, no notebook kernel, not quiet: what a person running a
    chapter as a script sees. (Called in the test itself: pytest puts its own capture
    back in sys.stderr between a fixture's set-up and the test.)"""
    monkeypatch.delenv("MLPCORE_QUIET", raising=False)
    fake = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", fake)
    monkeypatch.setattr(train, "_in_ipython_kernel", lambda: False)
    return fake


def test_on_a_terminal_fit_draws_its_bar_and_removes_it(monkeypatch):
    terminal = on_terminal(monkeypatch)
    small_fit()
    assert "epoch 2/2" in terminal.getvalue() and screen(terminal.getvalue()) == []


def test_a_study_shows_one_bar_left_as_one_line_and_counts_diverged_runs(monkeypatch):
    terminal = on_terminal(monkeypatch)
    for lr in progress([0.1, "blow up", 0.05], "learning-rate sweep"):
        if lr == "blow up":
            diverging_fit()
        else:
            small_fit(lr=lr)
    shown = terminal.getvalue()
    assert "learning-rate sweep: 1 of 3 done" in shown
    assert "epoch" not in shown, "fit draws no bar of its own inside a study"
    assert screen(shown) == ["learning-rate sweep: 3 of 3 done, 1 diverged"]


def test_a_study_interrupted_leaves_nothing(monkeypatch):
    terminal = on_terminal(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        for _ in progress(range(3), "seeds"):
            raise KeyboardInterrupt
    assert screen(terminal.getvalue()) == []
    assert train._studies_running == []


class FakeDisplay:
    """IPython.display.display with display_id=True: records every state of the output."""

    def __init__(self):
        self.states = []

    def __call__(self, bundle, raw=False, display_id=None):
        assert raw and display_id is True
        self.states.append(bundle["text/plain"])
        return self

    def update(self, bundle, raw=False):
        assert raw
        self.states.append(bundle["text/plain"])


@pytest.fixture
def kernel(monkeypatch, capfd):
    """A notebook kernel: bars are display outputs updated in place."""
    import IPython.display

    monkeypatch.delenv("MLPCORE_QUIET", raising=False)
    fake = FakeDisplay()
    monkeypatch.setattr(IPython.display, "display", fake)
    monkeypatch.setattr(train, "_in_ipython_kernel", lambda: True)
    return fake


def test_in_a_notebook_fit_writes_nothing_to_stderr_and_its_bar_ends_empty(kernel, capfd):
    small_fit()
    assert capfd.readouterr() == ("", ""), "nothing on stderr per fit()"
    assert any(state.startswith("epoch 2/2") for state in kernel.states)
    assert kernel.states[-1] == "", "the bar is gone when fit returns"


def test_in_a_notebook_a_study_ends_as_one_line(kernel, capfd):
    for seed in progress([0, 1], "training over seeds"):
        small_fit()
    assert capfd.readouterr() == ("", "")
    assert kernel.states == ["training over seeds: 0 of 2 done", "training over seeds: 1 of 2 done",
                             "training over seeds: 2 of 2 done"]


def test_quiet_means_no_progress_at_all(monkeypatch, capfd):
    import IPython.display

    monkeypatch.setenv("MLPCORE_QUIET", "1")
    monkeypatch.setattr(train, "_in_ipython_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: pytest.fail("displayed"))
    for _ in progress(range(2), "seeds"):
        small_fit()
        diverging_fit()
    assert capfd.readouterr() == ("", "")


def test_evaluate_restores_modes_and_matches_a_manual_forward():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5)).astype(np.float32), rng.integers(0, 3, 40)
    model = Sequential(Linear(5, 8, rng=rng), Dropout(0.5, rng=rng), Linear(8, 3, rng=rng))
    loss_fn = CrossEntropyLoss()
    model.train()
    result = evaluate(model, loss_fn, X, y)
    assert all(m.training for m in model.modules())
    model.eval()
    logits = model(X)
    assert result["loss"] == pytest.approx(loss_fn(logits, y))
    assert result["acc"] == np.mean(logits.argmax(1) == y)
    assert evaluate(model, loss_fn, X, y)["loss"] == result["loss"]
    assert not any(m.training for m in model.modules())
    chunked = evaluate(model, loss_fn, X, y, batch_size=7)
    assert chunked["loss"] == pytest.approx(result["loss"], rel=1e-5)
    assert chunked["acc"] == result["acc"]
    model.train()
    model[1].training = False  # mixed modes come back exactly as they were
    evaluate(model, loss_fn, X, y)
    assert [m.training for m in model.modules()] == [True, True, False, True]
    assert "acc" not in evaluate(model, MSELoss(), X, np.zeros((40, 3), np.float32))


def test_evaluate_asks_the_loss_for_accuracy():
    class Hits(MSELoss):  # a regression loss that counts predictions within 0.5
        def count_correct(self, pred, target):
            return int(np.sum(np.abs(pred - target) < 0.5))

    model = Linear(1, 1, rng=np.random.default_rng(0))
    model.weight.data[:] = 1.0
    model.bias.data[:] = 0.0
    X = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
    y = np.array([[0.2], [1.0], [3.0], [0.0]], np.float32)
    assert evaluate(model, Hits(), X, y)["acc"] == 0.5
    assert "acc" not in evaluate(model, MSELoss(), X, y)


def test_fit_trains_any_module_that_keeps_the_backward_contract():
    class TwoLayer(Module):  # not a Sequential: fit must not care
        def __init__(self, rng):
            self.hidden, self.relu = Linear(64, 16, rng=rng), ReLU()
            self.out = Linear(16, 10, rng=rng)

        def forward(self, x):
            return self.out(self.relu(self.hidden(x)))

        def backward(self, grad_out, *, needs_input_grad=True):
            grad = self.relu.backward(self.out.backward(grad_out))
            return self.hidden.backward(grad, needs_input_grad=needs_input_grad)

    X, y = load_digits()
    model = TwoLayer(np.random.default_rng(0))
    history = fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1, momentum=0.9),
                  X[:300], y[:300], epochs=5, batch_size=32, rng=np.random.default_rng(1))
    assert history["train_acc"][-1] > 0.8  # chance is 0.1


def test_explicit_l2_penalty_equals_sgd_weight_decay():
    """(lam/2)||w||^2 added to the loss by hand == SGD(weight_decay=lam), for every parameter."""
    X, y, _ = make_linear_regression(60, 20, rng=np.random.default_rng(0))
    lam, lr = 0.3, 0.05

    def l2_penalty(model):
        value = 0.0
        for param in model.parameters():
            param.grad += lam * param.data          # d/dw (lam/2)||w||^2 = lam * w
            value += 0.5 * lam * float(np.sum(param.data ** 2))
        return value

    def train(weight_decay, penalty):
        model = Sequential(Linear(20, 1, rng=np.random.default_rng(1)))
        optimizer = SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
        history = fit(model, MSELoss(), optimizer, X, y, epochs=5, batch_size=10,
                      rng=np.random.default_rng(2), penalty=penalty)
        return model, history

    by_hand, history = train(0.0, l2_penalty)
    built_in, _ = train(lam, None)
    plain, _ = train(0.0, None)
    for a, b, c in zip(by_hand.parameters(), built_in.parameters(), plain.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-7)
        assert not np.allclose(a.data, c.data, rtol=1e-3)  # the penalty did something
    assert len(history["penalty"]) == 5 and all(v > 0 for v in history["penalty"])
    assert history["penalty"][-1] < history["penalty"][0]  # decay shrinks the weights


def test_on_step_and_gradient_clipping():
    X, y = load_digits()
    model = mlp(0)
    seen = []

    def on_step(info):
        assert isinstance(info, StepInfo) and info.model is model
        clipped = math.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2))
                                for p in model.parameters()))
        seen.append((info.global_step, info.grad_norm, clipped, info.lr))

    fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.5), X[:256], y[:256],
        epochs=2, batch_size=64, rng=np.random.default_rng(0), clip_grad_norm=0.1,
        on_step=on_step)
    assert [s[0] for s in seen] == list(range(1, 9))
    assert all(clipped <= 0.1 * (1 + 1e-4) for _, _, clipped, _ in seen)
    assert any(before > 0.1 for _, before, _, _ in seen)  # clipping had work to do
    assert all(lr == 0.5 for *_, lr in seen)


def test_history_api():
    history = History()
    history.append(1, {"val_loss": 0.5, "val_acc": 0.7})
    history.append(2, {"val_loss": 0.3, "val_acc": 0.6})
    history.append(3, {"val_loss": 0.4, "val_acc": 0.8})
    assert history["val_loss"] == [0.5, 0.3, 0.4] and len(history) == 3
    assert history.best("val_loss") == (2, 0.3)
    assert history.best("val_acc") == (3, 0.8)
    assert history.best("val_acc", mode="min") == (2, 0.6)
    assert history.last == {"val_loss": 0.4, "val_acc": 0.8}
    assert repr(history) == "History(epochs=3, last: val_loss=0.4, val_acc=0.8)"
    with pytest.raises(KeyError, match="val_loss"):
        history["train_acc"]


def test_fit_argument_errors():
    X, y = np.zeros((10, 3), np.float32), np.zeros(10, np.int64)
    model = Sequential(Linear(3, 2, rng=np.random.default_rng(0)))
    opt = SGD(model.parameters(), lr=0.1)
    loss_fn = CrossEntropyLoss()
    with pytest.raises(TypeError, match="rng=np.random.Generator"):
        fit(model, loss_fn, opt, X, y, epochs=1, batch_size=2, rng=0)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(model, loss_fn, opt, X, y, epochs=0, batch_size=2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        fit(model, loss_fn, opt, X, y, epochs=1, batch_size=0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="same number of examples"):
        fit(model, loss_fn, opt, X, y[:9], epochs=1, batch_size=2, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="val_data must be a pair"):
        fit(model, loss_fn, opt, X, y, epochs=1, batch_size=2, rng=np.random.default_rng(0),
            val_data=X)
    with pytest.raises(ValueError, match="clip_grad_norm"):
        fit(model, loss_fn, opt, X, y, epochs=1, batch_size=2, rng=np.random.default_rng(0),
            clip_grad_norm=0)
