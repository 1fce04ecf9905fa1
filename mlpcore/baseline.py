"""The course's baseline, shared by every chapter: chapter 0's data split, model and
training recipe, so that later chapters compare against exactly what chapter 0 built.

    from mlpcore.baseline import digits_split, make_mlp, RECIPE
    split = digits_split()                   # split.X_train, split.y_val, split.X_test, ...
    model = make_mlp(np.random.default_rng(10))

Chapter 0 writes these out in the open and checks that they equal the ones here.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mlpcore.data import load_digits, train_test_split
from mlpcore.layers import Linear, ReLU, Sequential
from mlpcore._checks import DEFAULT_DTYPE

__all__ = ["DigitsSplit", "digits_split", "make_mlp", "RECIPE", "SPLIT_SEED", "SEEDS"]

SPLIT_SEED = 0
"""The seed of the one generator that draws chapter 0's split."""

SEEDS = (10, 11, 12, 13, 14)
"""Chapter 0's five training seeds (weights and batch order), for runs over seeds."""

RECIPE = {"epochs": 30, "batch_size": 32, "lr": 0.1, "momentum": 0.9}
"""Chapter 0's training recipe: plain SGD with momentum, no regularisation."""


class DigitsSplit(NamedTuple):
    """The digits split into training (60 %), validation (20 %) and test (20 %) parts,
    each stratified by class. Pixels are the raw counts 0..16, as in chapter 0."""
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def digits_split(dtype=DEFAULT_DTYPE) -> DigitsSplit:
    """Chapter 0's split of the 1,797 digits: the same images in the same order every call."""
    X, y = load_digits(dtype=dtype)
    rng_split = np.random.default_rng(SPLIT_SEED)
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, rng=rng_split)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25,
                                                      rng=rng_split)
    return DigitsSplit(X_train, y_train, X_val, y_val, X_test, y_test)


def make_mlp(rng: np.random.Generator, hidden: int = 128, *, dtype=DEFAULT_DTYPE) -> Sequential:
    """Chapter 0's model: 64 -> hidden -> 10 with ReLU and PyTorch's default initialisation."""
    return Sequential(Linear(64, hidden, rng=rng, dtype=dtype), ReLU(),
                      Linear(hidden, 10, rng=rng, dtype=dtype))
