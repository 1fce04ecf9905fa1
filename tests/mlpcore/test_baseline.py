"""The shared baseline is chapter 0's split and model, exactly."""
import numpy as np

from mlpcore import Linear, ReLU, Sequential
from mlpcore.baseline import RECIPE, SEEDS, digits_split, make_mlp
from mlpcore.data import load_digits, train_test_split


def test_split_is_chapter_zeros_split():
    X, y = load_digits()
    rng_split = np.random.default_rng(0)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, rng=rng_split)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25,
                                                      rng=rng_split)
    split = digits_split()
    for ours, theirs in zip(split, (X_train, y_train, X_val, y_val, X_test, y_test)):
        np.testing.assert_array_equal(ours, theirs)
    assert (len(split.y_train), len(split.y_val), len(split.y_test)) == (1079, 359, 359)


def test_split_parts_are_disjoint_and_cover_the_data():
    split = digits_split()
    X, _ = load_digits()
    parts = (split.X_train, split.X_val, split.X_test)
    assert sum(len(part) for part in parts) == len(X)
    # Every image of the data set appears in exactly one part (as a multiset of rows).
    ours = np.sort(np.concatenate(parts).view([("", X.dtype)] * X.shape[1]).ravel())
    theirs = np.sort(X.view([("", X.dtype)] * X.shape[1]).ravel())
    np.testing.assert_array_equal(ours, theirs)


def test_make_mlp_matches_the_written_out_model():
    ours = make_mlp(np.random.default_rng(3))
    rng = np.random.default_rng(3)
    theirs = Sequential(Linear(64, 128, rng=rng), ReLU(), Linear(128, 10, rng=rng))
    for (name_a, a), (name_b, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name_a == name_b
        np.testing.assert_array_equal(a.data, b.data)
    assert make_mlp(np.random.default_rng(0), hidden=32)[0].out_features == 32


def test_recipe_and_seeds():
    assert RECIPE == {"epochs": 30, "batch_size": 32, "lr": 0.1, "momentum": 0.9}
    assert SEEDS == (10, 11, 12, 13, 14)
