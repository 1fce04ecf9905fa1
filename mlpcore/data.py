"""Data for the course: a minibatch iterator, the shipped digits set, synthetic sets.

All randomness comes from an explicitly passed ``np.random.Generator`` (``rng=``):
the same seed gives the same batches and the same data sets. Features are
float32 by default (``DEFAULT_DTYPE``, beside the input checks in ``mlpcore._checks``); class labels are int64.
"""
from __future__ import annotations

import gzip
import math
from importlib import resources
from typing import Iterator

import numpy as np

from mlpcore._checks import check_float_dtype, check_positive_int, check_rng
from mlpcore._checks import DEFAULT_DTYPE

__all__ = ["minibatches", "load_digits", "train_test_split", "standardize", "make_linear_regression",
           "make_polynomial", "polynomial_features", "make_moons", "make_spirals", "DIGITS_SHA256"]

DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


# ----- minibatches ---------------------------------------------------------------
def minibatches(X: np.ndarray, y: np.ndarray | None = None, batch_size: int = 32, *,
                rng: np.random.Generator | None = None, shuffle: bool = True,
                drop_last: bool = False) -> Iterator:
    """Yield one epoch of minibatches: every example exactly once.

    With ``shuffle=True`` the order is a permutation drawn from ``rng``, so each
    call (each epoch) gives a different order and the same seed the same one.
    With ``shuffle=False`` the batches are slices in order (views, no copies).

    Shapes: X (N, ...), y (N, ...) -> yields ``(Xb, yb)`` with Xb (B, ...), yb (B, ...),
    B = batch_size except possibly the last batch (dropped if ``drop_last``).
    If ``y`` is None, yields ``Xb`` alone.
    """
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError("minibatches expects X with a leading batch axis (N, ...), got a scalar")
    n = X.shape[0]
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != n:
            raise ValueError(
                f"minibatches got X with {n} examples but y of shape {y.shape}; "
                f"X and y must have the same length along axis 0")
    batch_size = check_positive_int(batch_size, "batch_size", "minibatches")
    if shuffle:
        if rng is None:
            raise TypeError(
                "minibatches(shuffle=True) needs rng=np.random.Generator to draw the order "
                "(e.g. rng=np.random.default_rng(0)); pass shuffle=False for a fixed order")
        check_rng(rng, "minibatches")
        order = rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        # fancy indexing copies the rows; a slice (shuffle=False) is a view
        rows = order[start:start + batch_size] if shuffle else slice(start, start + batch_size)
        yield X[rows] if y is None else (X[rows], y[rows])


# ----- the digits set --------------------------------------------------------------
def _digits_file():
    return resources.files("mlpcore").joinpath("datasets").joinpath("digits.csv.gz")


def load_digits(dtype=DEFAULT_DTYPE) -> tuple[np.ndarray, np.ndarray]:
    """The UCI 8x8 handwritten digits (1797 images, 10 classes), shipped with mlpcore.

    Pixels are counts 0..16 in the source; they are returned scaled to [0, 1].
    Source and licence: ``mlpcore/datasets/README.md``.

    Returns: X (1797, 64) in ``dtype`` with values in [0, 1]; y (1797,) int64 in 0..9.
    """
    dtype = check_float_dtype(dtype, "load_digits")
    with _digits_file().open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    if table.shape != (1797, 65):
        raise RuntimeError(f"digits.csv.gz has shape {table.shape}, expected (1797, 65); "
                           f"the packaged file is damaged, reinstall mlpcore")
    X = (table[:, :64] / 16.0).astype(dtype)
    y = table[:, 64].copy()
    return X, y


# ----- splitting and scaling -----------------------------------------------------
def train_test_split(X: np.ndarray, y: np.ndarray, test_size: float | int = 0.25, *,
                     rng: np.random.Generator, stratify: bool = True):
    """Split into a random training part and test part.

    ``test_size`` is a fraction in (0, 1) or a number of examples. With
    ``stratify=True`` and integer class labels ``y`` (N,), each class is split in
    the same proportion, so both parts keep the class frequencies (to within
    one example per class); for real-valued ``y`` (regression) the split is
    plain random whatever ``stratify`` says.

    Returns ``X_train, X_test, y_train, y_test`` (copies, each in random order).
    """
    check_rng(rng, "train_test_split")
    X, y = np.asarray(X), np.asarray(y)
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"train_test_split got X with {n} examples and y with {y.shape[0]}; "
                         f"they must have the same length")
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: a fractional test_size must be in (0, 1), "
                             f"got {test_size}")
        frac = float(test_size)
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        if not 0 < test_size < n:
            raise ValueError(f"train_test_split: test_size={test_size} examples must be "
                             f"between 1 and {n - 1} for {n} examples")
        frac = test_size / n
    else:
        raise TypeError(f"train_test_split: test_size must be a float fraction or an int "
                        f"count, got {test_size!r}")
    if stratify and y.ndim == 1 and y.dtype.kind in "iub":
        test_idx = []
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            test_idx.append(members[:int(round(frac * members.size))])
        test_idx = np.concatenate(test_idx)
    else:
        test_idx = rng.permutation(n)[:int(round(frac * n))]
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = rng.permutation(np.flatnonzero(is_test))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def standardize(train: np.ndarray, *others: np.ndarray):
    """Standardise every array with the TRAINING set's per-feature statistics.

    x' = (x - mean_train) / std_train, column by column (axis 0). Constant
    features (std = 0, e.g. always-blank pixels) are only centred. Using the
    training statistics for the test set too is what keeps the test set unseen.

    Returns the standardised ``train`` alone, or a tuple ``(train, *others)``.
    Float inputs keep their dtype; integer inputs become float32.
    """
    def as_float(a):
        a = np.asarray(a)
        return a if a.dtype.kind == "f" else a.astype(DEFAULT_DTYPE)

    train = as_float(train)
    if train.ndim < 1 or train.shape[0] < 2:
        raise ValueError(f"standardize needs at least 2 training examples along axis 0, "
                         f"got shape {train.shape}")
    mean = train.mean(axis=0, dtype=np.float64)
    std = train.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0
    results = []
    for a in (train, *others):
        a = as_float(a)
        if a.shape[1:] != train.shape[1:]:
            raise ValueError(f"standardize: array of shape {a.shape} does not match the "
                             f"training features {train.shape[1:]}")
        results.append((a - mean.astype(a.dtype)) / std.astype(a.dtype))
    return results[0] if not others else tuple(results)


# ----- synthetic sets -----------------------------------------------------------
def make_linear_regression(n_samples: int, n_features: int = 200, noise: float = 0.01, *,
                           rng: np.random.Generator, weight: float = 0.01, bias: float = 0.05,
                           dtype=DEFAULT_DTYPE):
    """High-dimensional linear regression (D2L's weight-decay set).

    y = 0.05 + sum_i 0.01 * x_i + eps,  x ~ N(0, I),  eps ~ N(0, noise^2).
    With few examples (D2L uses 20) and 200 features, a linear model can fit the
    training set exactly and overfits: the set for showing weight decay.

    Returns X (n_samples, n_features), y (n_samples, 1), true_w (n_features, 1);
    the true bias is ``bias``.
    """
    check_rng(rng, "make_linear_regression")
    X = rng.standard_normal((n_samples, n_features))
    true_w = np.full((n_features, 1), weight)
    y = X @ true_w + bias + noise * rng.standard_normal((n_samples, 1))
    return X.astype(dtype), y.astype(dtype), true_w.astype(dtype)


def polynomial_features(x: np.ndarray, degree: int, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """Features x^i / i! for i = 0 .. degree-1 (the 1/i! keeps high powers from exploding).

    Shapes: x (N,) or (N, 1) -> (N, degree).
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    powers = np.arange(degree)
    factorials = np.array([math.factorial(int(i)) for i in powers], dtype=np.float64)
    return (x ** powers / factorials).astype(dtype)


def make_polynomial(n_samples: int, noise: float = 0.1, *, rng: np.random.Generator,
                    degree: int = 20, coefs=(5.0, 1.2, -3.4, 5.6), dtype=DEFAULT_DTYPE):
    """A 1-D cubic target with noise, for capacity and overfitting demos (D2L 3.6).

    y = 5 + 1.2 x - 3.4 x^2/2! + 5.6 x^3/3! + eps,  x ~ N(0, 1),  eps ~ N(0, noise^2).
    A linear model on the first k columns of X has capacity k: k = 4 matches the
    truth, k = 2 underfits, k = 20 overfits a small training set.

    Returns X (n_samples, degree) = polynomial_features(x, degree) (column 1 is x
    itself), y (n_samples, 1), true_coef (degree, 1) (the coefs, zero-padded).
    """
    check_rng(rng, "make_polynomial")
    if degree < len(coefs):
        raise ValueError(f"make_polynomial: degree={degree} is smaller than the "
                         f"{len(coefs)} true coefficients")
    true_coef = np.zeros((degree, 1), dtype=np.float64)
    true_coef[:len(coefs), 0] = coefs
    x = rng.standard_normal(n_samples)
    features64 = polynomial_features(x, degree, dtype=np.float64)
    y = features64 @ true_coef + noise * rng.standard_normal((n_samples, 1))
    return features64.astype(dtype), y.astype(dtype), true_coef.astype(dtype)


def make_moons(n_samples: int = 200, noise: float = 0.1, *, rng: np.random.Generator,
               dtype=DEFAULT_DTYPE):
    """Two interleaving half circles: a small 2-D set a linear model cannot separate.

    Class 0: (cos t, sin t); class 1: (1 - cos t, 0.5 - sin t), t in [0, pi],
    plus Gaussian noise of std ``noise``. Good for drawing decision boundaries
    and watching a too-big network overfit.

    Returns X (n_samples, 2) in ``dtype``, y (n_samples,) int64 in {0, 1}, shuffled.
    """
    check_rng(rng, "make_moons")
    n_outer = n_samples - n_samples // 2
    n_inner = n_samples // 2
    t_outer = np.linspace(0.0, np.pi, n_outer)
    t_inner = np.linspace(0.0, np.pi, n_inner)
    X = np.concatenate([np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1),
                        np.stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)])
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return X[order].astype(dtype), y[order]


def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, *,
                 rng: np.random.Generator, dtype=DEFAULT_DTYPE):
    """Interleaved spiral arms, one per class (the CS231n toy set).

    Arm k: r = linspace(0, 1), theta = 4k .. 4(k+1) radians plus N(0, noise^2)
    angular noise; x = (r sin theta, r cos theta). Not linearly separable: needs
    a hidden layer, and a deep narrow net shows training trouble quickly.

    Returns X (n_samples, 2) in ``dtype``, y (n_samples,) int64 in 0..n_classes-1,
    shuffled; classes differ in size by at most one.
    """
    check_rng(rng, "make_spirals")
    if n_classes < 2 or n_samples < n_classes:
        raise ValueError(f"make_spirals needs n_classes >= 2 and n_samples >= n_classes, "
                         f"got n_samples={n_samples}, n_classes={n_classes}")
    points, labels = [], []
    for k in range(n_classes):
        m = n_samples // n_classes + (1 if k < n_samples % n_classes else 0)
        r = np.linspace(0.0, 1.0, m)
        theta = np.linspace(4.0 * k, 4.0 * (k + 1), m) + noise * rng.standard_normal(m)
        points.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        labels.append(np.full(m, k, dtype=np.int64))
    X, y = np.concatenate(points), np.concatenate(labels)
    order = rng.permutation(n_samples)
    return X[order].astype(dtype), y[order]
