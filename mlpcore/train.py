"""A small training loop: ``fit`` and ``evaluate``, a ``History`` of per-epoch
metrics, and early detection of a run whose loss has become NaN or infinite.

One optimisation step of ``fit`` is exactly the loop a chapter writes by hand::

    model.train(); optimizer.zero_grad()
    loss = loss_fn(model(Xb), yb)
    model.backward(loss_fn.backward())
    optimizer.step()

plus the optional hooks: an explicit penalty, gradient clipping, a callback. ``fit``
passes ``needs_input_grad=False`` to ``model.backward`` (every Module accepts it): the
gradient with respect to the data is never used, and skipping it saves the first
layer's largest product (PyTorch skips it too, for inputs without ``requires_grad``).
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from mlpcore._checks import check_positive_int, check_rng
from mlpcore.clip import clip_grads_with_norm_, get_total_norm
from mlpcore.data import minibatches
from mlpcore.losses import batch_total, from_total
from mlpcore.module import Module

__all__ = ["fit", "evaluate", "progress", "History", "StepInfo", "TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError):
    """The training loss (or the gradient norm) became NaN or infinite.

    Attributes: ``epoch`` and ``step`` (both counted from 1), ``global_step``,
    ``last_finite_loss`` and ``history`` (the epochs completed before, with the
    loss of every minibatch up to the bad one in ``history.step_losses``).
    """

    def __init__(self, message: str, *, epoch: int, step: int, global_step: int,
                 last_finite_loss: float | None, history: "History"):
        super().__init__(message)
        self.epoch, self.step, self.global_step = epoch, step, global_step
        self.last_finite_loss = last_finite_loss
        self.history = history


class History:
    """Per-epoch metrics of a ``fit`` run.

    ``history["val_loss"]`` is a list of Python floats, one per epoch, and
    ``history.epochs`` the matching epoch numbers (1, 2, ...). Keys:
    ``train_loss``/``train_acc`` (full training set, eval mode, after the epoch),
    ``val_loss``/``val_acc`` (with ``val_data``), ``batch_loss`` (mean minibatch
    loss during the epoch, train mode) and ``penalty`` (mean penalty value during
    the epoch, with a ``penalty`` hook). ``step_losses`` has every minibatch loss.
    """

    def __init__(self):
        self.epochs: list[int] = []
        self.step_losses: list[float] = []
        self._metrics: dict[str, list[float]] = {}

    def append(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs.append(epoch)
        for key, value in metrics.items():
            self._metrics.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        if key not in self._metrics:
            raise KeyError(f"History has no {key!r}; it has {sorted(self._metrics)}")
        return self._metrics[key]

    def __contains__(self, key: str) -> bool:
        return key in self._metrics

    def __len__(self) -> int:
        return len(self.epochs)

    def keys(self) -> list[str]:
        return list(self._metrics)

    def items(self):
        return self._metrics.items()

    @property
    def last(self) -> dict[str, float]:
        """The metrics of the last epoch, e.g. ``history.last["val_acc"]``."""
        return {key: values[-1] for key, values in self._metrics.items() if values}

    def best(self, key: str, mode: str | None = None) -> tuple[int, float]:
        """``(epoch, value)`` of the best epoch for ``key``: the highest for accuracies,
        the lowest otherwise (or say ``mode="max"``/``"min"``)."""
        values = self[key]
        if not values:
            raise ValueError(f"History[{key!r}] is empty: no epoch has finished")
        mode = mode or ("max" if key.endswith("acc") else "min")
        if mode not in ("min", "max"):
            raise ValueError(f"History.best: mode must be 'min' or 'max', got {mode!r}")
        index = int(np.nanargmax(values) if mode == "max" else np.nanargmin(values))
        return self.epochs[index], values[index]

    def __repr__(self) -> str:
        last = ", ".join(f"{key}={value:.4g}" for key, value in self.last.items())
        return f"History(epochs={len(self.epochs)}" + (f", last: {last})" if last else ")")


@dataclass
class StepInfo:
    """What ``fit`` passes to ``on_step`` after each optimiser step (grads still set)."""

    epoch: int           # counted from 1
    step: int            # step within the epoch, from 1
    global_step: int     # steps since the start of fit, from 1
    loss: float          # this minibatch's loss (without penalty)
    penalty: float | None
    grad_norm: float     # total L2 norm of all gradients, before clipping
    lr: float | None
    model: Module
    optimizer: object


def _set_modes(flags: list[tuple[Module, bool]]) -> None:
    for module, training in flags:
        module.training = training


def evaluate(model: Module, loss_fn, X: np.ndarray, y: np.ndarray,
             batch_size: int | None = None) -> dict[str, float]:
    """Loss (and accuracy, if the loss counts correct predictions) of ``model`` on
    (X, y), in eval mode.

    Returns ``{"loss": ..., "acc": ...}`` as Python floats. ``acc`` is there when
    ``loss_fn.count_correct(out, y)`` gives a number (``CrossEntropyLoss``: the mean of
    [argmax_c logits[i, c] == y[i]]), and absent when it gives None (``MSELoss``).
    With ``batch_size`` the set is processed in chunks (same result, less memory).
    Every submodule's train/eval flag is restored afterwards.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"evaluate got X with {X.shape[0]} examples and y with "
                         f"{y.shape[0]}; they must have the same length")
    if X.shape[0] == 0:
        raise ValueError("evaluate got an empty data set")
    reduction = getattr(loss_fn, "reduction", "mean")
    count_correct = getattr(loss_fn, "count_correct", lambda out, target: None)
    flags = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        total_loss, correct = 0.0, []
        chunks = [(X, y)] if batch_size is None else \
            minibatches(X, y, batch_size, shuffle=False)
        for Xb, yb in chunks:
            out = model(Xb)
            total_loss += batch_total(float(loss_fn(out, yb)), len(Xb), reduction)
            correct.append(count_correct(out, yb))  # None: the loss does not classify
    finally:
        _set_modes(flags)
    result = {"loss": from_total(total_loss, X.shape[0], reduction)}
    if None not in correct:
        result["acc"] = sum(correct) / X.shape[0]
    return result


def _first_lr(optimizer) -> float | None:
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        return groups[0].get("lr")
    return getattr(optimizer, "lr", None)


def _show_progress(progress: bool | None) -> bool:
    if os.environ.get("MLPCORE_QUIET", "") not in ("", "0"):
        return False  # stored notebook outputs and test logs must stay clean
    if progress is not None:
        return bool(progress)
    if _studies_running:
        return False  # the study's own bar says how far it is; one bar, not one per run
    return _in_ipython_kernel() or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())


class _Line:
    """One status line, redrawn in place and then removed or left as a single line.

    In Jupyter (an IPython kernel) it is a display output that is updated in place, so
    nothing goes to stderr; emptied, it shows nothing. On a terminal it is one stderr
    line redrawn with '\\r'; cleared, the terminal is as before."""

    def __init__(self):
        self.kernel = _in_ipython_kernel()
        self.handle = None
        self.length = 0

    def show(self, text: str) -> None:
        if self.kernel:
            from IPython.display import display

            bundle = {"text/plain": text}
            if self.handle is None:
                self.handle = display(bundle, raw=True, display_id=True)
            else:
                self.handle.update(bundle, raw=True)
            return
        sys.stderr.write("\r" + text + " " * max(0, self.length - len(text)))
        sys.stderr.flush()
        self.length = len(text)

    def clear(self) -> None:
        """Remove the line: nothing is left of it."""
        if self.kernel:
            if self.handle is not None:
                self.handle.update({"text/plain": ""}, raw=True)
            return
        if self.length:
            sys.stderr.write("\r" + " " * self.length + "\r")
            sys.stderr.flush()
            self.length = 0

    def finish(self, text: str) -> None:
        """Leave ``text`` as the line's last state (one line)."""
        self.show(text)
        if not self.kernel:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _Study:
    """A study that ``progress`` is iterating over: fit reports its diverged runs here."""

    def __init__(self, label: str):
        self.label, self.diverged = label, 0


_studies_running: list[_Study] = []


def progress(items, label: str):
    """Iterate over ``items`` (the seeds, the values of a sweep, ...) with one progress bar.

    One line, redrawn in place (``label: 3 of 10 done``) and left as
    ``label: 10 of 10 done`` at the end (``..., 2 diverged`` when runs of ``fit`` inside
    the study raised ``TrainingDivergedError``), when a person runs the notebook
    (Jupyter: an output updated in place, nothing on stderr; a terminal: one stderr
    line); nothing at all under ``MLPCORE_QUIET=1`` (how the book is executed for
    storage). While it runs, ``fit`` draws no bar of its own.

        for seed in progress(SEEDS, "training over seeds"):
            ...
    """
    items = list(items)
    show = _show_progress(None)
    study = _Study(label)
    line = _Line() if show else None
    _studies_running.append(study)

    def status(done: int) -> str:
        diverged = f", {study.diverged} diverged" if study.diverged else ""
        return f"{label}: {done} of {len(items)} done{diverged}"

    finished = False
    try:
        for index, item in enumerate(items):
            if line is not None:
                line.show(status(index))
            yield item
        finished = True
    finally:
        _studies_running.remove(study)
        if line is not None:
            if finished:
                line.finish(status(len(items)))
            else:  # interrupted or failed: the error says what happened, the bar goes
                line.clear()


def _in_ipython_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython too old or half-imported: just stay quiet
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


class _ProgressBar:
    """fit's bar: one line redrawn at most ten times a second, removed when fit ends;
    a run that diverged leaves one line saying so."""

    def __init__(self, epochs: int, steps: int, width: int = 24):
        self.epochs, self.steps, self.width = epochs, steps, width
        self.last_draw = time.perf_counter()
        self.line = _Line()

    def update(self, epoch: int, step: int, loss: float, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        done = ((epoch - 1) * self.steps + step) / (self.epochs * self.steps)
        filled = int(round(done * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        self.line.show(f"epoch {epoch}/{self.epochs} [{bar}] loss {loss:.4g}")

    def close(self, diverged: "TrainingDivergedError | None" = None) -> None:
        if diverged is None:
            self.line.clear()
        else:
            self.line.finish(f"fit: diverged at epoch {diverged.epoch}, step {diverged.step} "
                             f"(see the TrainingDivergedError)")


@dataclass
class _Position:
    """Where ``fit`` is (epoch and step from 1; global_step counts every step) and the
    last finite minibatch loss before it, for the message of a divergence."""

    steps_per_epoch: int
    epoch: int = 0
    step: int = 0
    global_step: int = 0
    last_finite_loss: float | None = None
    last_finite_step: int | None = None

    def advance(self, epoch: int, step: int) -> None:
        self.epoch, self.step, self.global_step = epoch, step, self.global_step + 1


def _raise_unless_finite(what: str, value: float | None, at: _Position, optimizer,
                         history: History) -> None:
    """Raise ``TrainingDivergedError`` if ``value`` (a loss, penalty or norm) is not finite."""
    if value is None or math.isfinite(value):
        return
    lr = _first_lr(optimizer)
    lr_text = "" if lr is None else f" (lr={lr:g} in the optimizer's first param group)"
    before = ("no finite loss before it" if at.last_finite_loss is None else
              f"last finite minibatch loss {at.last_finite_loss:.3g} at global step "
              f"{at.last_finite_step}")
    message = (
        f"fit: training diverged at epoch {at.epoch}, step {at.step} of "
        f"{at.steps_per_epoch} (global step {at.global_step}): the {what} is {value} "
        f"({before}). The usual causes are exploding gradients or a learning rate that is "
        f"too large{lr_text}. Fixes: lower the learning rate, clip gradients with "
        f"fit(..., clip_grad_norm=1.0), use a better initialisation (Xavier with "
        f"calculate_gain for tanh, He for ReLU; none rescues a deep sigmoid stack), or add "
        f"normalisation (BatchNorm1d). The partial "
        f"history is in exc.history.")
    raise TrainingDivergedError(message, epoch=at.epoch, step=at.step,
                                global_step=at.global_step,
                                last_finite_loss=at.last_finite_loss, history=history)


def _check_fit_arguments(epochs, batch_size, rng, X, y, val_data, clip_grad_norm):
    """fit's arguments, checked; returns (epochs, batch_size, X, y) as fit uses them."""
    epochs = check_positive_int(epochs, "epochs", "fit")
    batch_size = check_positive_int(batch_size, "batch_size", "fit")
    check_rng(rng, "fit")
    if val_data is not None and (not isinstance(val_data, (tuple, list)) or len(val_data) != 2):
        raise TypeError("fit: val_data must be a pair (X_val, y_val)")
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(f"fit got X of shape {X.shape} and y of shape {y.shape}; they "
                         f"must have the same number of examples along axis 0")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"fit: clip_grad_norm must be a positive max norm, got {clip_grad_norm!r}")
    return epochs, batch_size, X, y


@dataclass
class _Run:
    """What every step of one ``fit`` call uses: the model and its parts, the hooks, and
    the parameters and modules listed once (a step walks no module tree)."""

    model: Module
    loss_fn: object
    optimizer: object
    clip_grad_norm: float | None
    penalty: Callable[[Module], float] | None
    on_step: Callable[[StepInfo], None] | None
    bar: "_ProgressBar | None"
    history: History
    at: _Position

    def __post_init__(self) -> None:
        self.params = self.model.parameters()
        self.modules = list(self.model.modules())
        # a model class that defines its own train() or zero_grad() gets them called
        self.plain_modes = all(type(m).train is Module.train for m in self.modules)
        self.plain_zero_grad = type(self.model).zero_grad is Module.zero_grad

    def stop_if_diverged(self, what: str, value: float | None) -> None:
        _raise_unless_finite(what, value, self.at, self.optimizer, self.history)

    def start_step(self) -> None:
        """model.train() and model.zero_grad() (all of the model's gradients, also any
        the optimizer skips), over the modules and parameters listed once."""
        if self.plain_modes:
            for module in self.modules:
                module.training = True
        else:
            self.model.train()
        if self.plain_zero_grad:
            for param in self.params:
                param.grad = None
        else:
            self.model.zero_grad()


def _train_step(run: _Run, Xb: np.ndarray, yb: np.ndarray) -> tuple[float, float | None]:
    """One optimisation step on the minibatch; returns (its loss, the penalty or None)."""
    model, loss_fn, at = run.model, run.loss_fn, run.at
    run.start_step()
    loss = float(loss_fn(model(Xb), yb))
    run.history.step_losses.append(loss)
    run.stop_if_diverged("minibatch loss", loss)
    at.last_finite_loss, at.last_finite_step = loss, at.global_step
    model.backward(loss_fn.backward(), needs_input_grad=False)
    penalty_value = None
    if run.penalty is not None:
        penalty_value = float(run.penalty(model))
        run.stop_if_diverged("penalty", penalty_value)
    # The norm before clipping is the one that says whether training blew up.
    grad_norm = get_total_norm([p.grad for p in run.params if p.grad is not None])
    run.stop_if_diverged("gradient norm", grad_norm)
    if run.clip_grad_norm is not None:
        # what clip_grad_norm_ does, reusing the norm computed above
        clip_grads_with_norm_(run.params, run.clip_grad_norm, grad_norm)
    run.optimizer.step()
    if run.on_step is not None:
        run.on_step(StepInfo(at.epoch, at.step, at.global_step, loss, penalty_value,
                             grad_norm, _first_lr(run.optimizer), model, run.optimizer))
    return loss, penalty_value


def _train_epoch(run: _Run, epoch: int, X, y, batch_size: int, rng) -> dict[str, float]:
    """One pass over (X, y) in an order drawn from ``rng``; returns the epoch's mean
    minibatch loss (and mean penalty, with one)."""
    batch_losses, penalties = [], []
    for step, (Xb, yb) in enumerate(minibatches(X, y, batch_size, rng=rng), 1):
        run.at.advance(epoch, step)
        loss, penalty_value = _train_step(run, Xb, yb)
        batch_losses.append(loss)
        if penalty_value is not None:
            penalties.append(penalty_value)
        if run.bar is not None:
            run.bar.update(epoch, step, loss)
    means = {"batch_loss": float(np.mean(batch_losses))}
    if run.penalty is not None:
        means["penalty"] = float(np.mean(penalties))
    return means


def _epoch_metrics(run: _Run, X, y, val_data, step_means: dict[str, float]) -> dict[str, float]:
    """The History row of an epoch: the training set's (and val_data's) loss and
    accuracy in eval mode, then the means of the steps."""
    metrics = {}
    eval_sets = [("train", (X, y))] + ([("val", val_data)] if val_data else [])
    for prefix, (Xe, ye) in eval_sets:
        for key, value in evaluate(run.model, run.loss_fn, Xe, ye).items():
            metrics[f"{prefix}_{key}"] = value
    metrics.update(step_means)
    return metrics


def fit(model: Module, loss_fn, optimizer, X: np.ndarray, y: np.ndarray, *, epochs: int,
        batch_size: int, rng: np.random.Generator,
        val_data: tuple[np.ndarray, np.ndarray] | None = None,
        clip_grad_norm: float | None = None,
        penalty: Callable[[Module], float] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        progress: bool | None = None) -> History:
    """Train ``model`` by minibatch gradient descent and return its ``History``.

    Each epoch is one pass over (X, y) in an order drawn from ``rng``; the same
    seed gives the same history. Per step: zero the gradients, forward, loss,
    backward, then ``penalty(model)`` if given, ``clip_grad_norm_`` if given,
    ``optimizer.step()`` and ``on_step(StepInfo)``. After each epoch the whole
    training set and ``val_data`` are evaluated in eval mode.

    ``penalty``: an explicit regulariser R(w). It receives the model, ADDS dR/dw
    into each ``param.grad`` and returns R(w) as a float; the objective minimised
    is then loss + R. E.g. the L2 penalty R = (lambda/2) sum ||w||^2 adds lambda*w.

    Shapes: X (N, ...), y (N, ...) as the model and loss expect them.
    Raises ``TrainingDivergedError`` as soon as a loss or the gradient norm is
    not finite. Prints nothing unless a progress bar is wanted: ``progress=None``
    shows one in Jupyter or a terminal (none inside a ``progress`` study, whose own
    bar counts the runs), ``False`` never; the environment variable
    ``MLPCORE_QUIET=1`` silences it always. The bar is removed when fit returns; a
    run that diverged leaves one line saying so.
    """
    epochs, batch_size, X, y = _check_fit_arguments(epochs, batch_size, rng, X, y,
                                                     val_data, clip_grad_norm)
    steps_per_epoch = math.ceil(X.shape[0] / batch_size)
    bar = _ProgressBar(epochs, steps_per_epoch) if _show_progress(progress) else None
    run = _Run(model, loss_fn, optimizer, clip_grad_norm, penalty, on_step, bar, History(),
               _Position(steps_per_epoch))
    try:
        # Overflow is expected when a run diverges; fit reports it itself, once, clearly.
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(1, epochs + 1):
                step_means = _train_epoch(run, epoch, X, y, batch_size, rng)
                metrics = _epoch_metrics(run, X, y, val_data, step_means)
                run.history.append(epoch, metrics)
                # the last step of an epoch can blow up the weights with nothing left to see it
                run.stop_if_diverged("training-set loss after the epoch", metrics["train_loss"])
                if bar is not None:
                    bar.update(epoch, steps_per_epoch, metrics["batch_loss"], force=True)
    except TrainingDivergedError as exc:
        if bar is not None:
            bar.close(diverged=exc)
            bar = None
        if _studies_running:  # the study's bar counts it
            _studies_running[-1].diverged += 1
        raise
    finally:
        if bar is not None:
            bar.close()
    return run.history
