"""Make the invisible visible: what flows through a network and how it learns.

Per layer: the activations (their mean, std, the fraction of saturated tanh or
sigmoid units, the fraction of dead ReLU units), the gradient norms, and the
update-to-weight ratio ||dW|| / ||W|| of an optimiser step; ``Recorder`` logs the
last two over a ``fit`` run. Layers are named ``"path:Class"`` in forward order,
e.g. ``"0:Linear"``, ``"1:Tanh"``, ``"3.block.0:Linear"`` inside a ``Residual``.

Everything works on the arrays the model already computes (float32 stays
float32); only ``update_ratios`` and ``Recorder`` copy the weights they compare.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np

from mlpcore.activations import ReLU, Sigmoid, Tanh
from mlpcore._checks import check_positive_int
from mlpcore.clip import get_total_norm
from mlpcore.layers import Linear, Residual
from mlpcore.module import Module

__all__ = ["ACTIVATION_KINDS", "layer_kind", "named_layers", "linear_layers", "forward_with_activations", "activation_stats",
           "LayerStats", "stats_table", "gradient_norms", "layer_gradient_norms",
           "activation_gradients", "update_ratios", "Recorder"]

# The layers whose output is an activation function's (what the profiles and histograms
# select by default), as ``layer_kind`` reads them off a name.
ACTIVATION_KINDS = ("Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU")
TANH_SATURATION = 0.97      # |tanh(x)| > 0.97  <=>  tanh'(x) = 1 - y^2 < 0.06
SIGMOID_SATURATION = 0.03   # sigma < 0.03 or > 0.97  <=>  sigma'(x) < 0.03


# ----- walking a model -----------------------------------------------------------
def named_layers(model: Module) -> list[tuple[str, Module]]:
    """The model's leaf layers (and Residual blocks) in order, named ``"path:Class"``.

    Containers (Sequential) are walked through; a Residual is listed after the
    layers inside it, since its output ``x + block(x)`` comes after theirs.
    """
    layers: list[tuple[str, Module]] = []

    def walk(module: Module, path: str) -> None:
        children = list(module.named_children())
        for name, child in children:
            walk(child, f"{path}.{name}" if path else name)
        if not children or isinstance(module, Residual):
            layers.append((f"{path or '0'}:{type(module).__name__}", module))

    walk(model, "")
    return layers


def layer_kind(name: str) -> str:
    """The class name in a layer name ``"path:Class"`` (``"3.block.0:Linear"`` -> ``"Linear"``)."""
    return name.rsplit(":", 1)[-1]


def linear_layers(model: Module) -> list[tuple[str, Linear]]:
    """The Linear layers of ``model``, input side first."""
    return [(name, layer) for name, layer in named_layers(model) if isinstance(layer, Linear)]


@contextlib.contextmanager
def _record_outputs(model: Module, store: list):
    """While active, each layer's forward also appends ``(name, output)`` to ``store``.

    This is PyTorch's forward hook done by hand: the instance attribute
    ``forward`` shadows the class's method (``Module.__call__`` looks it up on
    the instance), and is deleted again on exit. Running the real forward keeps
    every layer's cache, so ``model.backward`` still works afterwards.
    """
    wrapped = []
    for name, layer in _unique_layers(model):
        def forward(*args, _forward=layer.forward, _name=name, **kwargs):
            out = _forward(*args, **kwargs)
            store.append((_name, out))
            return out
        layer.forward = forward
        wrapped.append(layer)
    try:
        yield store
    finally:
        for layer in wrapped:
            del layer.forward


def forward_with_activations(model: Module, X: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Run ``model(X)`` and return every layer's output in order: ``[(name, array)]``.

    The model runs in its current mode (in training mode Dropout draws masks and
    BatchNorm updates its running statistics, as in any training forward). The
    last entry is the model's output. Shapes: each array is (N, width of that layer).
    """
    store: list[tuple[str, np.ndarray]] = []
    with _record_outputs(model, store):
        model(X)
    return store


# ----- activation statistics ---------------------------------------------------------
@dataclass
class LayerStats:
    """Summary of one layer's output on a batch.

    ``saturated``: fraction of outputs in the flat tails (|y| > 0.97 for Tanh,
    y < 0.03 or y > 0.97 for Sigmoid), else None. ``dead``: fraction of ReLU
    units that output 0 for every example of the batch, else None.
    ``counts``/``edges``: a histogram of the outputs (density).
    """

    name: str
    mean: float
    std: float
    saturated: float | None = None
    dead: float | None = None
    counts: np.ndarray = field(default=None, repr=False)
    edges: np.ndarray = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return layer_kind(self.name)

    def __str__(self) -> str:
        return self._format(len(self.name))

    def _format(self, name_width: int) -> str:
        text = f"{self.name:>{name_width}}  mean {self.mean:+.3f}  std {self.std:.3f}"
        if self.saturated is not None:
            text += f"  saturated {self.saturated:6.1%}"
        if self.dead is not None:
            text += f"  dead {self.dead:6.1%}"
        return text


def activation_stats(model_or_acts, X: np.ndarray | None = None, *,
                     bins: int = 50) -> list[LayerStats]:
    """Per-layer mean, std, saturated fraction (Tanh, Sigmoid) and dead fraction (ReLU).

    Pass either the list from ``forward_with_activations`` or ``(model, X)``.
    The histogram of each layer spans [-1, 1] for Tanh, [0, 1] for Sigmoid and
    the data's range otherwise.
    """
    if isinstance(model_or_acts, Module):
        if X is None:
            raise TypeError("activation_stats(model, X): pass the batch X to run the model on")
        acts = forward_with_activations(model_or_acts, X)
    else:
        acts = list(model_or_acts)
        if X is not None:
            raise TypeError("activation_stats got activations and X; pass one or the other")
    stats = []
    for name, out in acts:
        kind = layer_kind(name)
        out = np.asarray(out)
        saturated = dead = None
        if kind == Tanh.__name__:
            saturated = float(np.mean(np.abs(out) > TANH_SATURATION))
            value_range = (-1.0, 1.0)
        elif kind == Sigmoid.__name__:
            saturated = float(np.mean((out < SIGMOID_SATURATION) | (out > 1 - SIGMOID_SATURATION)))
            value_range = (0.0, 1.0)
        else:
            value_range = None
        if kind == ReLU.__name__:
            units = out.reshape(out.shape[0], -1)
            dead = float(np.mean(np.all(units <= 0, axis=0)))
        counts, edges = _histogram(out, bins, value_range)
        stats.append(LayerStats(name, float(np.mean(out)), float(np.std(out)), saturated,
                                dead, counts, edges))
    return stats


def _histogram(values: np.ndarray, bins: int, value_range) -> tuple[np.ndarray, np.ndarray]:
    """Density histogram of the finite values, in float64.

    Huge activations (an exploding net) must not crash a diagnostic: in float32 the span
    of values near ±3e38 overflows, so the bins are computed in float64, and values beyond
    ±HISTOGRAM_LIMIT are counted in the outermost bins. A span too narrow to split into
    ``bins`` steps at the values' magnitude is widened around its centre.
    """
    finite = values if np.all(np.isfinite(values)) else values[np.isfinite(values)]
    if finite.size == 0:  # a diverged layer: nothing to draw, but keep the shapes
        return np.zeros(bins), np.linspace(-1.0, 1.0, bins + 1)
    finite = finite.astype(np.float64, copy=False)
    if value_range is None:
        value_range = _histogram_range(finite, bins)
        finite = np.clip(finite, *value_range)
    return np.histogram(finite, bins=bins, range=value_range, density=True)


HISTOGRAM_LIMIT = 1e300


def _histogram_range(values: np.ndarray, bins: int) -> tuple[float, float]:
    low = max(float(values.min()), -HISTOGRAM_LIMIT)
    high = min(float(values.max()), HISTOGRAM_LIMIT)
    # numpy widens an empty span by ±0.5, which vanishes next to a value of 1e20
    smallest = 4 * bins * float(np.spacing(max(abs(low), abs(high))))
    if high - low < smallest:
        centre, half = (low + high) / 2, max(0.5, smallest)
        low, high = centre - half, centre + half
    return low, high


def _unique_layers(model: Module) -> list[tuple[str, Module]]:
    """named_layers without repeats: a layer used twice is hooked once."""
    seen: set[int] = set()
    unique = []
    for name, layer in named_layers(model):
        if id(layer) not in seen:
            seen.add(id(layer))
            unique.append((name, layer))
    return unique


def stats_table(stats: list[LayerStats]) -> str:
    """The stats as aligned text lines, one per layer (for printing in a notebook)."""
    width = max((len(s.name) for s in stats), default=0)
    return "\n".join(s._format(width) for s in stats)


# ----- gradients ------------------------------------------------------------------------
def gradient_norms(model: Module) -> dict[str, float]:
    """||dL/dp|| (L2, Frobenius for matrices) of every parameter that has a gradient,
    keyed by parameter name (``"0.weight"``). Call after a backward pass."""
    return {name: get_total_norm([param.grad]) for name, param in model.named_parameters()
            if param.grad is not None}


def layer_gradient_norms(model: Module, loss_fn, X: np.ndarray, y: np.ndarray
                         ) -> dict[str, float]:
    """One forward/backward on (X, y); returns ||dL/dW|| of each Linear layer's weight,
    input side first: ``{"0:Linear": ..., "2:Linear": ..., ...}``.

    This is the plot of the vanishing/exploding-gradients chapter: in a deep
    sigmoid or tanh net with a poor initialisation the norms shrink (or grow)
    geometrically towards the input. The model's gradients are overwritten
    (zeroed first) and left in ``.grad``; the model runs in its current mode.
    """
    model.zero_grad()
    loss_fn(model(X), y)
    model.backward(loss_fn.backward())
    norms = {}
    for name, layer in linear_layers(model):
        if layer.weight.grad is None:
            raise RuntimeError(f"layer_gradient_norms: {name} got no gradient; is it "
                               f"used in the model's forward pass?")
        norms[name] = get_total_norm([layer.weight.grad])
    return norms


def activation_gradients(model: Module, loss_fn, X: np.ndarray, y: np.ndarray
                         ) -> list[tuple[str, np.ndarray]]:
    """One forward/backward; returns dL/d(output) of every layer, in forward order.

    Karpathy-style gradient histograms per layer come from these. Parameter
    gradients are zeroed first and left in ``.grad``.
    """
    grads: dict[str, np.ndarray] = {}
    layers = _unique_layers(model)
    model.zero_grad()
    loss_fn(model(X), y)
    with contextlib.ExitStack() as stack:
        for name, layer in layers:
            def backward(grad_out, _backward=layer.backward, _name=name):
                grads[_name] = np.asarray(grad_out)
                return _backward(grad_out)
            layer.backward = backward  # a backward hook, removed on exit
            stack.callback(delattr, layer, "backward")
        model.backward(loss_fn.backward())
    return [(name, grads[name]) for name, _ in layers if name in grads]


# ----- updates -------------------------------------------------------------------------
RATIO_KINDS = ("norm", "std")


def _ratio(before: np.ndarray, after: np.ndarray, kind: str = "norm") -> float:
    """||after - before|| / ||before|| ("norm"), or std(after - before) / std(before)
    ("std", makemore's update-to-data ratio). The two differ only by the means: a norm
    is sqrt(size) times the root mean square, and std**2 = mean square - mean**2."""
    if kind == "std":
        scale = float(np.std(before, dtype=np.float64))
        change = float(np.std(after - before, dtype=np.float64))
    else:
        scale = get_total_norm([before])
        change = get_total_norm([after - before])
    return change / scale if scale > 0 else math.inf


def _check_ratio_kind(kind: str, where: str) -> str:
    if kind not in RATIO_KINDS:
        raise ValueError(f"{where}: ratio must be 'norm' (||dW|| / ||W||) or 'std' "
                         f"(std(dW) / std(W)), got {kind!r}")
    return kind


def update_ratios(model: Module, optimizer, *, ratio: str = "norm") -> dict[str, float]:
    """Take ONE optimiser step and return ||W_after - W_before|| / ||W_before||
    for each Linear layer's weight, input side first (``ratio="std"``: makemore's
    std(W_after - W_before) / std(W_before) instead).

    Call it in place of ``optimizer.step()`` (the gradients must be set). The rule
    of thumb (CS231n, Karpathy) is ratios near 1e-3; chapter 5 measures which ratios
    went with the fastest training of its small nets (between about 1e-3 and 2e-2, for
    SGD and Adam alike) and which with failure (above about 2e-2).
    """
    _check_ratio_kind(ratio, "update_ratios")
    layers = linear_layers(model)
    before = {name: layer.weight.data.copy() for name, layer in layers}
    optimizer.step()
    return {name: _ratio(before[name], layer.weight.data, ratio) for name, layer in layers}


class Recorder:
    """Log per-layer gradient norms and update ratios during ``fit``.

    ``rec = Recorder(model, every=10); fit(..., on_step=rec)``. On steps 1,
    1 + every, 1 + 2*every, ... (counted over all fits it is used in) it records,
    for each Linear weight: ``grad_norms[name]`` (the gradient used for the update,
    i.e. after clipping) and ``update_ratios[name]`` = ||dW|| / ||W||; plus
    ``steps``, ``losses`` and ``total_grad_norms`` (before clipping). The weights
    are copied once per recorded step, into buffers allocated once.

    ``ratio="std"`` records makemore's std(dW) / std(W) instead of the norm ratio.
    ``probe=X`` (a fixed batch) also runs the model on X at each recorded step, after
    the update, and keeps ``activations``: one ``activation_stats`` list per recorded
    step (means, stds, saturated and dead fractions, histograms of ``bins`` bins);
    ``saturated`` and ``dead`` give each layer's fraction over the recorded steps.
    The probe forward runs in the model's current mode (training: Dropout draws
    masks, BatchNorm updates its running statistics) and leaves the gradients alone.
    """

    def __init__(self, model: Module, every: int = 1, *, ratio: str = "norm",
                 probe: np.ndarray | None = None, bins: int = 30):
        self.every = check_positive_int(every, "every", "Recorder")
        self.ratio = _check_ratio_kind(ratio, "Recorder")
        self.layers = linear_layers(model)
        if not self.layers:
            raise ValueError("Recorder: the model has no Linear layers to record")
        self.model = model
        self.probe = probe
        self.bins = check_positive_int(bins, "bins", "Recorder")
        self.activations: list[list[LayerStats]] = []
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.total_grad_norms: list[float] = []
        self.grad_norms: dict[str, list[float]] = {name: [] for name, _ in self.layers}
        self.update_ratios: dict[str, list[float]] = {name: [] for name, _ in self.layers}
        self._count = 0
        # the weights before the next recorded step (that is step 1 now)
        self._before = {name: layer.weight.data.copy() for name, layer in self.layers}

    def __call__(self, info) -> None:
        self._count += 1
        if (self._count - 1) % self.every == 0:
            self.steps.append(self._count)
            self.losses.append(float(info.loss))
            self.total_grad_norms.append(float(info.grad_norm))
            for name, layer in self.layers:
                grad = layer.weight.grad
                self.grad_norms[name].append(get_total_norm([grad]) if grad is not None
                                             else math.nan)
                self.update_ratios[name].append(_ratio(self._before[name], layer.weight.data,
                                                       self.ratio))
            if self.probe is not None:
                self.activations.append(activation_stats(self.model, self.probe,
                                                         bins=self.bins))
        if self._count % self.every == 0:  # the next call is a recorded step
            for name, layer in self.layers:
                np.copyto(self._before[name], layer.weight.data)

    def _fraction(self, field_name: str) -> dict[str, list[float]]:
        if self.probe is None:
            raise ValueError(f"Recorder.{field_name}: pass probe=X (a fixed batch) when "
                             f"creating the Recorder to record activations")
        series: dict[str, list[float]] = {}
        for stats in self.activations:
            for layer in stats:
                value = getattr(layer, field_name)
                if value is not None:
                    series.setdefault(layer.name, []).append(value)
        return series

    @property
    def saturated(self) -> dict[str, list[float]]:
        """Each Tanh/Sigmoid layer's saturated fraction at every recorded step (needs probe)."""
        return self._fraction("saturated")

    @property
    def dead(self) -> dict[str, list[float]]:
        """Each ReLU layer's dead fraction at every recorded step (needs probe)."""
        return self._fraction("dead")

    def __repr__(self) -> str:
        return (f"Recorder(every={self.every}, layers={len(self.layers)}, "
                f"recorded steps={len(self.steps)})")


# ----- one network's profile (chapter 3) -----------------------------------------------
__all__ += ["layer_profile", "fit_geometric_factor"]


def layer_profile(model: Module, loss_fn, X: np.ndarray, y: np.ndarray) -> dict:
    """Everything chapter 3 reads off one network, from one batch, as arrays per layer.

    Returns a dict with
    ``activation`` (the first activation layer's class name, lower case),
    ``act_std``, ``saturated``, ``dead`` (per activation layer, input side first;
    ``saturated``/``dead`` are 0 where they do not apply),
    ``act_grad_std`` (std of dL/d(output) of each activation layer),
    ``grad_norm`` (||dL/dW|| of each Linear weight) and ``initial_loss`` (the loss on
    the batch). Two forward passes and one backward pass: in training mode a
    BatchNorm's running statistics are updated twice. Gradients are left in ``.grad``.
    """
    acts = forward_with_activations(model, X)
    loss = float(loss_fn(acts[-1][1], y))
    stats = [s for s in activation_stats(acts, bins=10) if s.kind in ACTIVATION_KINDS]
    if not stats:
        raise ValueError("layer_profile: the model has no activation layer "
                         f"({', '.join(ACTIVATION_KINDS)}) to profile")
    grads = dict(activation_gradients(model, loss_fn, X, y))
    return {
        "activation": stats[0].kind.lower(),
        "act_std": np.array([s.std for s in stats]),
        "saturated": np.array([s.saturated or 0.0 for s in stats]),
        "dead": np.array([s.dead or 0.0 for s in stats]),
        "act_grad_std": np.array([float(np.std(grads[s.name])) for s in stats]),
        "grad_norm": np.array([get_total_norm([layer.weight.grad])
                               for _, layer in linear_layers(model)]),
        "initial_loss": loss,
    }


def fit_geometric_factor(values) -> float:
    """The per-layer factor r of a least-squares fit values[l] ~ c * r**l (on a log scale).

    A profile that shrinks by half per layer gives 0.5; a flat one gives 1.
    Needs at least two positive, finite values.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size < 2 or not np.all(np.isfinite(values)) \
            or np.any(values <= 0):
        raise ValueError(f"fit_geometric_factor needs >= 2 positive finite values, got "
                         f"{values!r}")
    slope = np.polyfit(np.arange(values.size), np.log(values), 1)[0]
    return float(np.exp(slope))
