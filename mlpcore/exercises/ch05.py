"""Chapter 5 exercises (watching a network train): the cases and the classic mistakes.

5.1 asks for the update-to-weight ratio of each layer, ||W_after - W_before|| / ||W_before||
(Frobenius norms), from two lists of weight snapshots. The reference is computed in
float64 from each case's own inputs. The cases are drawn from the generator they are
given: layer shapes, weight scales and means, step sizes and means, so that every mistake
below gives a different answer from the right one in at least one case (a weight matrix
with a non-zero mean separates the std ratio; a large step separates the denominators;
weights near zero separate the mean of per-entry ratios).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from mlpcore.exercises._compare import compare_array
from mlpcore.exercises._registry import Case, Exercise, Failure

DIFF_OF_NORMS = ("take the norm of the DIFFERENCE, ||after - before||, not the difference of "
                 "the norms: a step that rotates the weights without changing their size "
                 "still moves them")
AFTER_DENOMINATOR = ("divide by the norm of the weights BEFORE the step (the ones the update "
                     "was made for), not after it")
SQUARED = ("a norm is the square ROOT of the sum of squares: you returned the ratio of the "
           "squared norms")
ELEMENTWISE = ("compare whole matrices, ||dW|| / ||W||, not the mean of per-entry ratios "
               "|dw| / |w|: one weight near zero makes its entry's ratio huge")
STD_RATIO = ("that is makemore's std(dW) / std(W), which subtracts each matrix's mean; the "
             "norm ratio keeps it (they differ when the weights or the step have a non-zero mean)")
LOG_SCALE = "return the ratio itself; take log10 only when you plot it"
ONE_RATIO = ("one ratio PER LAYER: norm each layer's step and weights separately, not all "
             "layers together")
LARGEST_ENTRY = ("use the norm of the whole matrix (square root of the sum of all squared "
                 "entries), not its largest entry")
MEAN_ABS = ("use the L2 (Frobenius) norm, sqrt(sum of squares), not the mean absolute value "
            "(an L1-type size)")
INVERTED = "the ratio is step over weights, ||dW|| / ||W||, not its inverse"


def _norm(array: np.ndarray) -> float:
    return float(np.sqrt(np.sum(np.asarray(array, dtype=np.float64) ** 2)))


def _reference(before: list, after: list) -> np.ndarray:
    return np.array([_norm(np.subtract(a, b, dtype=np.float64)) / _norm(b)
                     for b, a in zip(before, after)])


def _mistakes(before: list, after: list) -> list:
    """(wrong answer, hint) for the classic slips, on this case's inputs."""
    b64 = [np.asarray(b, dtype=np.float64) for b in before]
    a64 = [np.asarray(a, dtype=np.float64) for a in after]
    steps = [a - b for b, a in zip(b64, a64)]
    with np.errstate(divide="ignore", invalid="ignore"):
        total = _norm(np.concatenate([s.ravel() for s in steps])) / \
            _norm(np.concatenate([b.ravel() for b in b64]))
        candidates = [
            (np.array([(_norm(a) - _norm(b)) / _norm(b) for b, a in zip(b64, a64)]), DIFF_OF_NORMS),
            (np.array([abs(_norm(a) - _norm(b)) / _norm(b) for b, a in zip(b64, a64)]),
             DIFF_OF_NORMS),
            (np.array([_norm(s) / _norm(a) for s, a in zip(steps, a64)]), AFTER_DENOMINATOR),
            (np.array([_norm(s) ** 2 / _norm(b) ** 2 for s, b in zip(steps, b64)]), SQUARED),
            (np.array([np.mean(np.abs(s) / np.abs(b)) for s, b in zip(steps, b64)]), ELEMENTWISE),
            (np.array([np.std(s) / np.std(b) for s, b in zip(steps, b64)]), STD_RATIO),
            (np.log10(_reference(before, after)), LOG_SCALE),
            (np.full(len(before), total), ONE_RATIO),
            (np.array([np.max(np.abs(s)) / np.max(np.abs(b)) for s, b in zip(steps, b64)]),
             LARGEST_ENTRY),
            (np.array([np.mean(np.abs(s)) / np.mean(np.abs(b)) for s, b in zip(steps, b64)]),
             MEAN_ABS),
            (1.0 / _reference(before, after), INVERTED),
        ]
    right = _reference(before, after)
    # a slip that gives the right answer here, or the same answer as another slip with a
    # different hint, cannot be named in this case
    distinct = [(wrong, hint) for wrong, hint in candidates
                if np.all(np.isfinite(wrong)) and not np.allclose(wrong, right, rtol=1e-4)]
    return [(wrong, hint) for wrong, hint in distinct
            if not any(other_hint != hint and np.allclose(other, wrong, rtol=1e-6)
                       for other, other_hint in distinct)] + [((), ONE_RATIO)]


def _judge(inputs: tuple, output) -> Optional[Failure]:
    before, after = inputs
    return compare_array("ratios", output, _reference(before, after),
                         mistakes=_mistakes(before, after), rtol=1e-6)


def _shape(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(3, 40)), int(rng.integers(2, 40))


def _layer(rng: np.random.Generator, shape, *, scale=0.1, mean=0.0, step=1e-3,
           step_mean=0.0, near_zero=False) -> tuple[np.ndarray, np.ndarray]:
    before = mean + scale * rng.standard_normal(shape)
    if near_zero:   # a few weights within 1e-4 of zero
        flat = before.reshape(-1)
        picks = rng.choice(flat.size, size=max(1, flat.size // 10), replace=False)
        flat[picks] = rng.uniform(-1e-4, 1e-4, size=picks.size)
    after = before + step * scale * rng.standard_normal(shape) + step_mean * scale
    return before, after


def _case(rng: np.random.Generator, layers: list[dict]) -> tuple:
    pairs = [_layer(rng, _shape(rng), **layer) for layer in layers]
    return [b for b, _ in pairs], [a for _, a in pairs]


def _cases(rng: np.random.Generator) -> tuple[Case, ...]:
    def log_uniform(low, high):
        return float(10 ** rng.uniform(np.log10(low), np.log10(high)))

    judge = _judge
    return (
        Case.of("one layer, a small step", _case(rng, [dict(step=log_uniform(1e-4, 1e-2))]),
                judge),
        Case.of("three layers, steps of different sizes",
                _case(rng, [dict(step=log_uniform(1e-4, 1e-3)), dict(step=log_uniform(1e-3, 1e-2)),
                            dict(step=log_uniform(1e-2, 1e-1))]), judge),
        Case.of("two layers, weights with a non-zero mean",
                _case(rng, [dict(mean=rng.uniform(0.2, 0.5), step=log_uniform(1e-3, 1e-2)),
                            dict(mean=-rng.uniform(0.2, 0.5), step=log_uniform(1e-3, 1e-2))]),
                judge),
        Case.of("two layers, large steps (ratios of 0.2 to 2)",
                _case(rng, [dict(step=log_uniform(0.2, 0.6)), dict(step=log_uniform(0.6, 2.0))]),
                judge),
        Case.of("two layers, a step with a non-zero mean",
                _case(rng, [dict(step=log_uniform(1e-3, 1e-2), step_mean=rng.uniform(0.01, 0.05)),
                            dict(step=log_uniform(1e-3, 1e-2), step_mean=-rng.uniform(0.01, 0.05))]),
                judge),
        Case.of("three layers, some weights near zero",
                _case(rng, [dict(near_zero=True, step=log_uniform(1e-3, 1e-2))
                            for _ in range(3)]), judge),
    )


UPDATE_TO_WEIGHT_RATIOS = Exercise(
    id="ch05.update_to_weight_ratios",
    function="update_to_weight_ratios",
    params=("before", "after"),
    summary="each layer's ||W_after - W_before|| / ||W_before|| from two weight snapshots",
    case_generator=_cases,
)

EXERCISES = [UPDATE_TO_WEIGHT_RATIOS]

#: Every hint that names a mistake, per exercise: tests/test_exercises_ch05.py proves each
#: is shown to a wrong answer that makes that mistake (no hint is unreachable).
HINTS = {
    UPDATE_TO_WEIGHT_RATIOS.id: (DIFF_OF_NORMS, AFTER_DENOMINATOR, SQUARED, ELEMENTWISE,
                                 STD_RATIO, LOG_SCALE, ONE_RATIO, LARGEST_ENTRY, MEAN_ABS,
                                 INVERTED),
}
