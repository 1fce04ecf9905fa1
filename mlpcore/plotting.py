"""Plotting helpers with one shared style for every figure of the book.

matplotlib is imported inside the functions, so ``import mlpcore`` never pulls it
in. Every helper labels its axes, sets a title and a legend, and returns the
``Axes`` (assign it in a notebook, ``ax = plot_history(h)``, so the cell does not
print the object's repr). Pass ``ax=`` to draw into an existing subplot.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from mlpcore.diagnostics import ACTIVATION_KINDS, LayerStats, activation_stats, layer_kind

__all__ = ["use_style", "plot_history", "plot_activation_histograms", "plot_gradient_histograms",
           "plot_layer_norms", "plot_recorder", "PALETTE", "STYLE"]

# Okabe & Ito's colour-blind-safe palette (yellow last: it is faint on white).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442"]

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 2.0,
    "lines.markersize": 5,
    "legend.frameon": False,
    "image.cmap": "viridis",
}


def use_style() -> None:
    """Apply the book's figure style (sizes, fonts, grid, colour-blind-safe colours)."""
    import matplotlib as mpl

    mpl.rcParams.update(STYLE)
    mpl.rcParams["axes.prop_cycle"] = mpl.cycler(color=PALETTE)


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    _, ax = plt.subplots()
    return ax


def _pretty(key: str) -> str:
    """"val_acc" -> "validation accuracy", "train_loss" -> "train loss"."""
    words = key.split("_")
    names = {"val": "validation", "acc": "accuracy"}
    return " ".join(names.get(word, word) for word in words)


def plot_history(history, keys: Sequence[str] | None = None, ax=None,
                 title: str = "Training history", label: str | None = None,
                 logy: bool = False):
    """Per-epoch curves of a ``History`` (or a dict of lists): loss, accuracy, ...

    ``keys`` default to the losses present (train_loss, val_loss). Validation
    curves are dashed. ``label`` prefixes the legend entries, to overlay runs.
    """
    ax = _axes(ax)
    if keys is None:
        keys = [key for key in ("train_loss", "val_loss") if key in history]
        if not keys:
            raise ValueError("plot_history: the history has neither train_loss nor val_loss; "
                             "pass keys=[...]")
    for key in keys:
        if key not in history:
            available = list(history.keys())
            raise KeyError(f"plot_history: no {key!r} in the history; it has {available}")
        values = history[key]
        epochs = getattr(history, "epochs", None) or list(range(1, len(values) + 1))
        name = _pretty(key)
        ax.plot(epochs, values, linestyle="--" if key.startswith("val") else "-",
                label=f"{label}: {name}" if label else name)
    if all("acc" in key for key in keys):
        ylabel = "accuracy"
    elif all("loss" in key or "penalty" in key for key in keys):
        ylabel = "loss"
    else:
        ylabel = "value"
    if logy:
        ax.set_yscale("log")
        ylabel += " (log scale)"
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.legend()
    return ax


def _stats_list(stats_or_acts, bins: int):
    entries = list(stats_or_acts)
    if entries and all(isinstance(entry, LayerStats) for entry in entries):
        return entries
    return activation_stats(entries, bins=bins)


def plot_activation_histograms(stats_or_acts, ax=None,
                               title: str = "Activation distribution per layer",
                               layer_types: Sequence[str] | None = None, bins: int = 50):
    """Histogram (density) of each layer's outputs, one line per layer.

    ``stats_or_acts``: the list from ``activation_stats`` or from
    ``forward_with_activations``. ``layer_types`` selects layers by class name;
    by default the activation-function layers (all layers if there are none).
    The legend gives each layer's std and its saturated (tanh/sigmoid) or dead
    (ReLU) fraction.
    """
    ax = _axes(ax)
    stats = _stats_list(stats_or_acts, bins)
    if layer_types is None:
        chosen = [s for s in stats if s.kind in ACTIVATION_KINDS] or stats
    else:
        chosen = [s for s in stats if s.kind in layer_types]
        if not chosen:
            raise ValueError(f"plot_activation_histograms: no layer of type {list(layer_types)}; "
                             f"the layers are {[s.name for s in stats]}")
    for s in chosen:
        centres = (s.edges[:-1] + s.edges[1:]) / 2
        extra = ""
        if s.saturated is not None:
            extra = f", saturated {s.saturated:.1%}"
        elif s.dead is not None:
            extra = f", dead {s.dead:.1%}"
        ax.plot(centres, s.counts, label=f"{s.name} (std {s.std:.3g}{extra})")
    ax.set(xlabel="activation value", ylabel="density", title=title)
    ax.legend()
    return ax


def plot_gradient_histograms(grads: Sequence[tuple[str, np.ndarray]], ax=None,
                             title: str = "Gradient distribution per layer",
                             layer_types: Sequence[str] | None = None, bins: int = 50):
    """Histogram of dL/d(output) per layer (from ``activation_gradients``), on a
    common range so the layers compare; the legend gives each layer's std."""
    ax = _axes(ax)
    kinds = ACTIVATION_KINDS if layer_types is None else tuple(layer_types)
    chosen = [(n, g) for n, g in grads if layer_kind(n) in kinds]
    if layer_types is None and not chosen:
        chosen = list(grads)
    if not chosen:
        raise ValueError(f"plot_gradient_histograms: no layer of type {list(kinds)}")
    finite = [g[np.isfinite(g)] for _, g in chosen]
    limit = max((float(np.max(np.abs(g))) for g in finite if g.size), default=1.0) or 1.0
    for (name, _), values in zip(chosen, finite):
        counts, edges = np.histogram(values, bins=bins, range=(-limit, limit), density=True)
        ax.plot((edges[:-1] + edges[1:]) / 2, counts,
                label=f"{name} (std {float(np.std(values)):.2e})")
    ax.set(xlabel="gradient dL/d(output)", ylabel="density", title=title)
    ax.legend()
    return ax


def plot_layer_norms(norms: Mapping, ax=None, title: str = "Gradient norm per layer",
                     ylabel: str = "‖∂L/∂W‖", label: str | None = None, marker: str = "o"):
    """One value per layer against depth (layer 1 = input side), log y axis.

    ``norms``: ``{layer_name: value}`` as from ``layer_gradient_norms`` (one
    curve), or ``{curve_label: {layer_name: value}}`` to compare several models,
    initialisations or depths.
    """
    ax = _axes(ax)
    if not norms:
        raise ValueError("plot_layer_norms: got no norms to plot")
    first = next(iter(norms.values()))
    curves = norms if isinstance(first, Mapping) else {label or ylabel: norms}
    for curve_label, values in curves.items():
        depth = np.arange(1, len(values) + 1)
        ax.plot(depth, list(values.values()), marker=marker, label=str(curve_label))
    ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="layer (1 = input side)", ylabel=f"{ylabel} (log scale)", title=title)
    ax.legend()
    return ax


def plot_recorder(recorder, quantity: str = "update_ratios", ax=None, title: str | None = None):
    """Curves over training from a ``Recorder``, one per Linear layer, log y axis.

    ``quantity``: ``"update_ratios"`` (||dW||/||W||, or std(dW)/std(W) for a
    ``Recorder(ratio="std")``, with the 1e-3 rule-of-thumb line), ``"grad_norms"``,
    or, for a Recorder made with ``probe=X``, ``"saturated"`` or ``"dead"`` (the
    fraction of each Tanh/Sigmoid or ReLU layer, linear y axis from 0 to 1).
    Values that are 0 or not finite (a layer that stopped moving, a diverged run)
    have no place on a log axis and are left out of its curve.
    """
    ax = _axes(ax)
    quantities = ("update_ratios", "grad_norms", "saturated", "dead")
    if quantity not in quantities:
        raise ValueError(f"plot_recorder: quantity must be one of {quantities}, "
                         f"got {quantity!r}")
    if not recorder.steps:
        raise ValueError("plot_recorder: the recorder has no steps yet; pass it to "
                         "fit(..., on_step=recorder) first")
    series = getattr(recorder, quantity)
    if not series:
        raise ValueError(f"plot_recorder: the model has no layer with a {quantity} "
                         f"fraction (Tanh/Sigmoid for saturated, ReLU for dead)")
    log = quantity in ("update_ratios", "grad_norms")
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        if log:
            values = np.where(np.isfinite(values) & (values > 0), values, np.nan)
        ax.plot(recorder.steps[:len(values)], values, linewidth=1.5, label=name)
    if quantity == "update_ratios":
        ax.axhline(1e-3, color="0.4", linestyle=":", linewidth=1.5, label="1e-3 (rule of thumb)")
        kind = getattr(recorder, "ratio", "norm")
        ylabel = "std(ΔW) / std(W)" if kind == "std" else "‖ΔW‖ / ‖W‖"
        default_title = "Update-to-weight ratio per layer"
    elif quantity == "grad_norms":
        ylabel, default_title = "‖∂L/∂W‖", "Gradient norm per layer during training"
    else:
        ylabel = "saturated fraction" if quantity == "saturated" else "dead fraction"
        default_title = f"{ylabel.capitalize()} per layer during training"
    if log:
        ax.set_yscale("log")
        ylabel += " (log scale)"
    else:
        ax.set_ylim(-0.02, 1.02)
    ax.set(xlabel="optimizer step", ylabel=ylabel, title=title or default_title)
    ax.legend(ncols=2 if len(series) > 4 else 1)
    return ax


# ----- chapter 3: a grid of results and a set of layer profiles ----------------------
__all__ += ["plot_grid", "plot_profiles"]


def plot_grid(values, row_labels: Sequence[str], col_labels: Sequence[str], ax=None,
              title: str = "", xlabel: str = "", ylabel: str = "", cbar_label: str = "",
              vmin: float | None = None, vmax: float | None = None, fmt: str = "{:.2f}",
              cmap: str = "viridis_r"):
    """A heat map of a (rows, cols) array with each cell's value written in it.

    NaN cells (a run that diverged) are drawn grey and labelled "NaN". Returns the Axes.
    """
    import matplotlib.pyplot as plt

    ax = _axes(ax)
    values = np.asarray(values, dtype=float)
    if values.shape != (len(row_labels), len(col_labels)):
        raise ValueError(f"plot_grid: values have shape {values.shape} but there are "
                         f"{len(row_labels)} row and {len(col_labels)} column labels")
    colormap = plt.get_cmap(cmap).with_extremes(bad="0.8")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap, vmin=vmin, vmax=vmax,
                      aspect="auto")
    low, high = image.get_clim()
    for (row, col), value in np.ndenumerate(values):
        dark = np.isfinite(value) and (value - low) > 0.5 * (high - low)
        text = "NaN" if not np.isfinite(value) else fmt.format(value)
        ax.text(col, row, text, ha="center", va="center", fontsize=9,
                color="white" if dark else "black")
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    ax.grid(False)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.figure.colorbar(image, ax=ax, label=cbar_label)
    return ax


_PROFILE_PANELS = (
    ("act_std", "activation std (log scale)", True),
    ("act_grad_std", "std of ∂L/∂(activation) (log scale)", True),
    ("grad_norm", "‖∂L/∂W‖ per Linear layer (log scale)", True),
    ("unhealthy", "saturated or dead fraction", False),
)


def plot_profiles(profiles: Mapping[str, Mapping], axes=None,
                  title: str = "Diagnostics per layer"):
    """Four panels comparing ``layer_profile`` dicts: activation std, activation-gradient
    std, weight-gradient norm (all log scale) and the saturated-or-dead fraction, each
    against the layer index (1 = input side). Returns the array of Axes."""
    import matplotlib.pyplot as plt

    if not profiles:
        raise ValueError("plot_profiles: got no profiles to plot")
    if axes is None:
        fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
        fig.suptitle(title)
    for ax, (key, label, log) in zip(np.ravel(axes), _PROFILE_PANELS):
        for name, profile in profiles.items():
            values = (np.maximum(profile["saturated"], profile["dead"]) if key == "unhealthy"
                      else np.asarray(profile[key], dtype=float))
            if log:
                values = np.where(values > 0, values, np.nan)  # an exact 0 has no log
            ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=str(name))
        if log:
            ax.set_yscale("log")
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="layer (1 = input side)", ylabel=label)
        ax.legend(fontsize=8)
    return axes
