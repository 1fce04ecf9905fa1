"""Tests for mlpcore.data: minibatches, the shipped digits, splits, synthetic sets."""
import hashlib
from importlib import resources

import numpy as np
import pytest

from mlpcore.data import (DIGITS_SHA256, load_digits, make_linear_regression, make_moons,
                          make_polynomial, make_spirals, minibatches, polynomial_features,
                          standardize, train_test_split)


# ----- minibatches ----------------------------------------------------------------
def test_minibatches_cover_every_index_once_and_differ_between_epochs():
    X = np.arange(103, dtype=np.float32).reshape(-1, 1)
    y = np.arange(103)
    rng = np.random.default_rng(0)
    epochs = []
    for _ in range(2):
        batches = list(minibatches(X, y, 10, rng=rng))
        assert [len(xb) for xb, _ in batches] == [10] * 10 + [3]
        for xb, yb in batches:
            np.testing.assert_array_equal(xb[:, 0], yb)  # X and y stay aligned
        seen = np.concatenate([yb for _, yb in batches])
        assert sorted(seen.tolist()) == list(range(103))
        epochs.append(seen)
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[0], np.arange(103))


def test_minibatches_same_seed_same_order():
    X = np.zeros((50, 2))
    y = np.arange(50)
    a = [yb for _, yb in minibatches(X, y, 7, rng=np.random.default_rng(5))]
    b = [yb for _, yb in minibatches(X, y, 7, rng=np.random.default_rng(5))]
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


def test_minibatches_drop_last_no_shuffle_and_x_only():
    X = np.arange(10)
    batches = list(minibatches(X, batch_size=4, shuffle=False, drop_last=True))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert np.shares_memory(batches[0], X)  # in order, slices are views


def test_minibatches_errors():
    X, y = np.zeros((10, 3)), np.zeros(9)
    with pytest.raises(TypeError, match="needs rng"):
        next(minibatches(X, batch_size=2))
    with pytest.raises(ValueError, match="same length"):
        next(minibatches(X, y, 2, rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match="minibatches.*batch_size.*positive integer.*0"):
        next(minibatches(X, batch_size=0, rng=np.random.default_rng(0)))
    with pytest.raises(TypeError, match="Generator"):
        next(minibatches(X, batch_size=2, rng=0))


# ----- digits -------------------------------------------------------------------------
def test_digits_file_checksum():
    data = resources.files("mlpcore").joinpath("datasets").joinpath("digits.csv.gz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == DIGITS_SHA256


def test_load_digits_shape_dtype_range_and_counts():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    # class counts of the UCI test portion, as documented by UCI
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    X64, _ = load_digits(np.float64)
    assert X64.dtype == np.float64
    np.testing.assert_allclose(X64 * 16, np.round(X64 * 16))  # pixel counts 0..16
    with pytest.raises(TypeError, match="float dtype"):
        load_digits(np.int32)


# ----- split and standardize --------------------------------------------------------
def test_train_test_split_stratified_and_deterministic():
    X, y = load_digits()
    parts = train_test_split(X, y, 0.25, rng=np.random.default_rng(1))
    X_tr, X_te, y_tr, y_te = parts
    assert len(X_tr) + len(X_te) == 1797 and len(X_tr) == len(y_tr)
    counts, test_counts = np.bincount(y), np.bincount(y_te, minlength=10)
    assert np.all(np.abs(test_counts - 0.25 * counts) <= 1)
    # the rows are a partition of the original rows
    rows = {r.tobytes() for r in np.concatenate([X_tr, X_te])}
    assert len(np.concatenate([X_tr, X_te])) == 1797 and rows == {r.tobytes() for r in X}
    again = train_test_split(X, y, 0.25, rng=np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


def test_train_test_split_plain_for_regression_and_int_size():
    X = np.arange(40.0).reshape(20, 2)
    y = X[:, :1] * 2
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, 5, rng=np.random.default_rng(0))
    assert len(X_te) == 5 and len(X_tr) == 15
    np.testing.assert_array_equal(y_te, X_te[:, :1] * 2)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        train_test_split(X, y, 1.5, rng=np.random.default_rng(0))


def test_standardize_uses_train_statistics_and_keeps_dtype():
    rng = np.random.default_rng(0)
    train = (3 + 2 * rng.standard_normal((500, 3))).astype(np.float32)
    train[:, 2] = 7.0  # constant feature: centred, not divided by zero
    test = train[:10] + 1
    tr, te = standardize(train, test)
    assert tr.dtype == np.float32 and te.dtype == np.float32
    np.testing.assert_allclose(tr[:, :2].mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(tr[:, :2].std(0), 1, atol=1e-5)
    assert np.all(tr[:, 2] == 0) and np.all(np.isfinite(te))
    # test uses the train statistics: shifting by 1 moves it by 1/std_train
    np.testing.assert_allclose(te[:, :2] - tr[:10, :2], np.broadcast_to(1 / train[:, :2].std(0), (10, 2)), rtol=1e-4)
    assert isinstance(standardize(train), np.ndarray)
    with pytest.raises(ValueError, match="does not match"):
        standardize(train, np.zeros((2, 4)))


# ----- synthetic sets -----------------------------------------------------------------
def test_make_linear_regression_matches_its_formula():
    X, y, w = make_linear_regression(2000, 200, noise=0.01, rng=np.random.default_rng(0))
    assert X.shape == (2000, 200) and y.shape == (2000, 1) and w.shape == (200, 1)
    assert X.dtype == y.dtype == w.dtype == np.float32
    residual = y - (X @ w + 0.05)
    assert abs(residual.std() - 0.01) < 0.002 and abs(residual.mean()) < 0.002


def test_make_polynomial_matches_its_formula():
    X, y, coef = make_polynomial(500, noise=0.1, rng=np.random.default_rng(0))
    assert X.shape == (500, 20) and y.shape == (500, 1) and X.dtype == np.float32
    x = X[:, 1]
    expected = 5 + 1.2 * x - 3.4 * x ** 2 / 2 + 5.6 * x ** 3 / 6
    assert abs((y[:, 0] - expected).std() - 0.1) < 0.02
    np.testing.assert_allclose(X, polynomial_features(x, 20), rtol=1e-5)
    assert coef[:4, 0].tolist() == pytest.approx([5, 1.2, -3.4, 5.6])


@pytest.mark.parametrize("maker,n_classes", [(make_moons, 2), (make_spirals, 3)])
def test_toy_classification_sets(maker, n_classes):
    X, y = maker(301, rng=np.random.default_rng(0))
    assert X.shape == (301, 2) and X.dtype == np.float32 and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == n_classes and counts.max() - counts.min() <= 1
    X2, y2 = maker(301, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(X, X2)
    X3, _ = maker(301, rng=np.random.default_rng(1))
    assert not np.array_equal(X, X3)
    with pytest.raises(TypeError, match="Generator"):
        maker(10, rng=None)
