"""Chapter 0 exercises (an MLP in NumPy): the cases and the classic mistakes.

None of the four is printed or spelled out by the chapter: a layer whose backward the
chapter does not derive, the learner's own gradient check, a loss the chapter does not
derive (value and gradient), and a batch's gradient accumulated from micro-batches of
unequal sizes (the chapter shows two equal halves weighted by 1/2; the general weight
n_k / N needs its point that a batch gradient is a MEAN over the batch's rows).

Every reference below is computed in float64 from the case's own inputs, with the
textbook formula, so the cases do not depend on the rest of mlpcore (the tests check
that the formulas agree with mlpcore's central differences, and with PyTorch when it is
installed). Each wrong variant listed next to a reference is a mistake
learners actually make; when an answer equals one, its hint is shown.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from mlpcore.exercises._compare import Mistake, compare_array, compare_outputs
from mlpcore.exercises._registry import Case, Exercise, Failure


def _normal(seed: int, *shapes: tuple, scale: float = 1.0, shift: float = 0.0) -> tuple:
    rng = np.random.default_rng(seed)
    return tuple(shift + scale * rng.standard_normal(shape) for shape in shapes)


def _random_shape(seed: int, low: int, high: int, ndim: int) -> tuple:
    """A shape drawn from a seeded generator: every run gets the same 'random' shape."""
    return tuple(int(n) for n in np.random.default_rng(seed).integers(low, high + 1, size=ndim))


# ------------------------------------------------ 1. backward of a scale-and-shift layer
NO_MEAN_HERE = ("sum over the batch, don't average: grad_out is already d(mean loss)/dy, "
                "so the 1/N is inside it")
SHARED = ("gamma and beta are shared by the N rows of the batch: sum their gradients over "
          "axis 0, giving shape (D,)")
NOT_LINEAR = ("x.T @ grad_out is Linear's weight gradient, where every input meets every "
              "output; here gamma[d] only scales column d: multiply elementwise, then sum "
              "over the batch (axis 0)")


def _scale_shift_inputs(seed: int, n: int, d: int):
    return lambda: _normal(seed, (n, d), (d,), (n, d))


def _random_scale_shift_inputs(seed: int):
    n, d = _random_shape(seed, 2, 8, 2)
    return _scale_shift_inputs(seed + 1, n, d)


def _judge_scale_shift(inputs: tuple, output) -> Optional[Failure]:
    x, gamma, grad_out = inputs
    grad_x = grad_out * gamma
    grad_gamma = (grad_out * x).sum(axis=0)
    grad_beta = grad_out.sum(axis=0)
    mistakes = {
        "grad_x": [(grad_out, "y = x * gamma + beta, so dy/dx = gamma: multiply grad_out by "
                              "gamma (broadcast along the batch)"),
                   (grad_out * x, "dy/dx is gamma, not x: grad_x = grad_out * gamma"),
                   (grad_x / len(x), NO_MEAN_HERE)],
        "grad_gamma": [((x.shape[0], x.shape[1]), SHARED),
                       ((x.shape[1], x.shape[1]), NOT_LINEAR),
                       (grad_out.sum(axis=0), "dy/dgamma is x: sum grad_out * x over the "
                                              "batch, not grad_out alone"),
                       ((grad_out * gamma).sum(axis=0), "dy/dgamma is x, not gamma: sum "
                                                        "grad_out * x over the batch"),
                       ((grad_out * x).mean(axis=0), NO_MEAN_HERE),
                       ((grad_out * x).sum(axis=1), "summed over the wrong axis: axis 0 is "
                                                    "the batch")],
        "grad_beta": [((x.shape[0], x.shape[1]), SHARED),
                      (grad_out.mean(axis=0), NO_MEAN_HERE),
                      (grad_out.sum(axis=1), "summed over the wrong axis: axis 0 is the "
                                             "batch")],
    }
    return compare_outputs(output, ("grad_x", "grad_gamma", "grad_beta"),
                           (grad_x, grad_gamma, grad_beta), mistakes=mistakes)


def _scale_shift_exception_hint(exc: BaseException) -> Optional[str]:
    if isinstance(exc, ValueError) and ("matmul" in str(exc) or "aligned" in str(exc)):
        return "no matrix product is needed: " + NOT_LINEAR
    return None


SCALE_SHIFT_BACKWARD = Exercise(
    id="ch00.scale_shift_backward",
    function="scale_shift_backward",
    params=("x", "gamma", "grad_out"),
    summary="gradients of y = x * gamma + beta (one scale and shift per feature)",
    cases=(
        Case("batch of 4, 3 features", _scale_shift_inputs(1, 4, 3), _judge_scale_shift),
        Case("a single example, 5 features", _scale_shift_inputs(2, 1, 5), _judge_scale_shift),
        Case("square batch (N = D = 6)", _scale_shift_inputs(3, 6, 6), _judge_scale_shift),
        Case("random shape (seeded)", _random_scale_shift_inputs(4), _judge_scale_shift),
        Case("another random shape (seeded)", _random_scale_shift_inputs(6),
             _judge_scale_shift),
    ),
    exception_hint=_scale_shift_exception_hint,
)


# ------------------------------------------------- 2. your own numerical gradient
FORWARD = ("this is the one-sided difference (f(x + eps) - f(x)) / eps, whose error "
           "shrinks only like eps; use the central difference "
           "(f(x + eps e_i) - f(x - eps e_i)) / (2 eps), whose error shrinks like eps²")
TWO_EPS = "the two evaluations are 2*eps apart: divide by 2 * eps, not eps"
ONE_AT_A_TIME = ("perturb ONE entry at a time (x + eps * e_i, with e_i zero except entry i); "
                 "adding eps to every entry measures the slope along the all-ones direction")
RESTORE = ("put each entry back to its original value before perturbing the next one; "
           "otherwise later entries are measured at a shifted point")
SAME_SHAPE = "return an array of x's shape (one partial derivative per entry of x)"


def _central(f, x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def _one_sided(f, x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.zeros_like(x, dtype=np.float64)
    base = f(x)
    for index in np.ndindex(x.shape):
        plus = x.copy()
        plus[index] += eps
        grad[index] = (f(plus) - base) / eps
    return grad


def _never_restored(f, x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.zeros_like(x, dtype=np.float64)
    moving = x.copy()
    for index in np.ndindex(x.shape):
        moving[index] += eps
        plus = f(moving)
        moving[index] -= 2 * eps
        grad[index] = (plus - f(moving)) / (2 * eps)
    return grad


def _sin_sum(seed: int, shape: tuple, eps: float):
    def make() -> tuple:
        weights, x = _normal(seed, shape, shape)
        return (lambda z: float(np.sum(weights * np.sin(z)))), x, eps
    return make


def _log_sum_exp(seed: int, shape: tuple, eps: float):
    def make() -> tuple:
        (x,) = _normal(seed, shape)
        return (lambda z: float(np.log(np.sum(np.exp(2.0 * z))))), x, eps
    return make


def _scale_shift_tanh(seed: int, n: int, d: int, eps: float):
    """f(gamma) = sum(R * tanh(X * gamma + beta)): a gradient check of exercise 0.1's
    layer (followed by tanh) with respect to gamma."""
    def make() -> tuple:
        X, beta, R, gamma = _normal(seed, (n, d), (d,), (n, d), (d,))
        return (lambda g: float(np.sum(R * np.tanh(X * g + beta)))), gamma, eps
    return make


def _quadratic_coupled(seed: int, eps: float):
    shape = _random_shape(seed, 2, 3, 3)

    def make() -> tuple:
        weights, x = _normal(seed + 1, shape, shape)
        return (lambda z: float(0.5 * np.sum(weights * z ** 3) + np.sum(z) ** 2)), x, eps
    return make


def _judge_numerical_gradient(inputs: tuple, output) -> Optional[Failure]:
    f, x, eps = inputs
    expected = _central(f, x, eps)
    mistakes: list[Mistake] = [(_one_sided(f, x, eps), FORWARD),
                               (2 * expected, TWO_EPS),
                               (np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps)),
                                ONE_AT_A_TIME),
                               (_never_restored(f, x, eps), RESTORE)]
    if x.ndim > 1:
        mistakes.append(((x.size,), SAME_SHAPE))
    return compare_outputs(output, ("grad",), (expected,), mistakes={"grad": mistakes})


NUMERICAL_GRADIENT = Exercise(
    id="ch00.numerical_gradient",
    function="numerical_gradient",
    params=("f", "x", "eps"),
    summary="central-difference gradient of a scalar function f at x, one entry at a time",
    cases=(
        Case("sum of weighted sines, 5 entries, eps 1e-3", _sin_sum(30, (5,), 1e-3),
             _judge_numerical_gradient),
        Case("log-sum-exp of a 3 × 4 array, eps 1e-4", _log_sum_exp(31, (3, 4), 1e-4),
             _judge_numerical_gradient),
        Case("gradient check of a scale-and-shift layer + tanh, w.r.t. gamma (4 features)",
             _scale_shift_tanh(32, 6, 4, 1e-3), _judge_numerical_gradient),
        Case("random 3-D shape (seeded), coupled entries, eps 1e-3",
             _quadratic_coupled(33, 1e-3), _judge_numerical_gradient),
        Case("random 2-D shape (seeded), eps 1e-2",
             _log_sum_exp(35, _random_shape(34, 2, 5, 2), 1e-2), _judge_numerical_gradient),
    ),
)


# --------------------------------------- 3. binary cross-entropy from logits: value and gradient
STABLE = ("log(sigmoid(z)) and log(1 - sigmoid(z)) hit log(0) once |z| is large (about 37 "
          "and beyond in float64); use the stable form "
          "max(z, 0) - z * t + log1p(exp(-|z|)), which never takes the log of 0")
MEAN = "the loss is the MEAN over the N examples: divide the sum by N"
GRAD_MEAN = ("each example's gradient carries the 1/N of the mean: "
             "grad = (sigmoid(z) - t) / N")
CANCELS = ("the sigmoid's own derivative sigma(1 - sigma) cancels against the log's "
           "1/sigma: d loss_n / d z_n = sigmoid(z_n) - t_n, nothing more")
SIGN = ("this is the gradient of the log-likelihood, which we maximise; the loss is its "
        "negative: grad = (sigmoid(z) - t) / N")
CAPPED = ("your loss is finite but too small where a logit is large and of the wrong sign: "
          "the true loss of such an example grows like |z|, and clipping sigmoid(z) (or z) "
          "caps it; use the stable form max(z, 0) - z * t + log1p(exp(-|z|)) instead of "
          "clipping")
SOFT = ("targets may be any number in [0, 1] (soft labels): use "
        "t * log(sigmoid(z)) + (1 - t) * log(1 - sigmoid(z)) in its stable form, not a "
        "branch on t == 1")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for any z, no overflow


def _bce_inputs(seed: int, n: int, scale: float = 2.0, soft: bool = False,
                confident_wrong: bool = False):
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        targets = rng.integers(0, 2, size=n).astype(np.float64)
        if soft:
            targets = rng.uniform(0.0, 1.0, size=n)
        logits = scale * rng.standard_normal(n)
        if confident_wrong:  # large logits of the wrong sign: log(0) for a naive loss
            logits = np.where(targets > 0.5, -1.0, 1.0) * rng.uniform(40.0, 1000.0, size=n)
        return logits, targets
    return make


def _random_bce_inputs(seed: int, **options):
    (n,) = _random_shape(seed, 5, 40, 1)
    return _bce_inputs(seed + 1, n, **options)


def _judge_bce(inputs: tuple, output) -> Optional[Failure]:
    logits, targets = inputs
    n = logits.shape[0]
    per_example = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    loss = np.float64(per_example.mean())
    probs = _sigmoid(logits)
    grad = (probs - targets) / n
    branches = [np.where(chosen, np.logaddexp(0, -logits), np.logaddexp(0, logits)).mean()
                for chosen in (targets > 0.5, targets == 1)]  # targets rounded to 0 or 1
    mistakes = {
        "loss": [(np.float64(per_example.sum()), MEAN), (np.float64(-loss), SIGN)]
                + [(np.float64(branch), SOFT) for branch in branches],
        "grad_logits": [(probs - targets, GRAD_MEAN), ((targets - probs) / n, SIGN),
                        (grad * probs * (1 - probs), CANCELS)],
    }
    failure = compare_outputs(output, ("loss", "grad_logits"), (loss, grad),
                              mistakes=mistakes, nan_hint=STABLE)
    if failure is not None and failure.message.startswith("loss:") \
            and np.abs(logits).max() > 37 and 0 < _as_float(output[0]) < loss:
        return Failure(failure.message, CAPPED)  # clipped: finite, but capped
    return failure


def _as_float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


BCE_WITH_LOGITS = Exercise(
    id="ch00.bce_with_logits",
    function="bce_with_logits",
    params=("logits", "targets"),
    summary="mean binary cross-entropy from logits, and its gradient with respect to them",
    cases=(
        Case("4 examples, targets 0 or 1", _bce_inputs(40, 4), _judge_bce),
        Case("a single example", _bce_inputs(41, 1), _judge_bce),
        Case("random batch size (seeded), targets 0 or 1", _random_bce_inputs(42),
             _judge_bce),
        Case("soft targets in [0, 1], 6 examples", _bce_inputs(44, 6, soft=True), _judge_bce),
        Case("confident and wrong: logits of size 40 to 1000, random batch size (seeded)",
             _random_bce_inputs(45, confident_wrong=True), _judge_bce),
    ),
)


# ------------------------------------------- 4. gradient accumulation over micro-batches
WEIGHT_BY_SIZE = ("each micro-batch gradient is a MEAN over its own rows; when the last "
                  "micro-batch is smaller, a plain average of the means over-weights its "
                  "rows: weight each by its row count n_k and divide by N")
SUM_OF_MEANS = ("adding the micro-batch gradients counts every row about K times too much "
                "(each is already a mean): weight each by n_k / N")
SUM_OVER_N = ("dividing the sum of the micro-batch means by N forgets that each is already "
              "a mean over n_k rows: weight each by n_k, then divide by N")
REMAINDER = ("the last rows were left out: when micro_batch does not divide N, the final "
             "micro-batch holds the remaining (fewer) rows and still counts")
TOO_BIG = ("grad_fn refuses more than micro_batch rows at once (that is the point of "
           "accumulating): loop over consecutive slices X[i:i + micro_batch]")
EMPTY = "a micro-batch had no rows: slice up to N only (range(0, N, micro_batch))"


def _least_squares_grad(limit: int):
    """The gradient of the mean of 0.5 (x . w - y)^2 over the rows given, refusing more
    than ``limit`` rows (the memory of an imagined accelerator)."""
    def grad_fn(w, X, y):
        if len(X) > limit or len(X) == 0:
            raise ValueError(f"grad_fn got {len(X)} rows; it takes 1 to {limit} rows at "
                             f"a time")
        return X.T @ (X @ w - y) / len(X)
    return grad_fn


def _softmax_regression_grad(limit: int):
    """The gradient of the mean cross-entropy of softmax(X @ W) over the rows given."""
    def grad_fn(W, X, y):
        if len(X) > limit or len(X) == 0:
            raise ValueError(f"grad_fn got {len(X)} rows; it takes 1 to {limit} rows at "
                             f"a time")
        z = X @ W
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p = p / p.sum(axis=1, keepdims=True)
        return X.T @ (p - np.eye(W.shape[1])[y]) / len(X)
    return grad_fn


def _accumulation_inputs(seed: int, n: Optional[int], d: int, micro: Optional[int],
                         classes: int = 0):
    """classes = 0: least squares (w of shape (d,)); else softmax regression (d, classes).
    n or micro None: drawn from the seeded generator."""
    def make() -> tuple:
        rng = np.random.default_rng(seed)
        rows = int(rng.integers(7, 17)) if n is None else n
        size = int(rng.integers(2, rows)) if micro is None else micro
        X = rng.standard_normal((rows, d))
        if classes:
            w, y = rng.standard_normal((d, classes)), rng.integers(0, classes, size=rows)
            return _softmax_regression_grad(size), w, X, y, size
        w, y = rng.standard_normal(d), rng.standard_normal(rows)
        return _least_squares_grad(size), w, X, y, size
    return make


def _chunks(n: int, micro: int) -> list:
    return [slice(i, min(i + micro, n)) for i in range(0, n, micro)]


def _judge_accumulation(inputs: tuple, output) -> Optional[Failure]:
    grad_fn, w, X, y, micro = inputs
    n = len(X)
    parts = [(s.stop - s.start, grad_fn(w, X[s], y[s])) for s in _chunks(n, micro)]
    expected = sum(rows * g for rows, g in parts) / n
    means = [g for _, g in parts]
    full = [g for rows, g in parts if rows == micro]
    mistakes = [(np.mean(means, axis=0), WEIGHT_BY_SIZE), (np.sum(means, axis=0), SUM_OF_MEANS),
                (np.sum(means, axis=0) / n, SUM_OVER_N)]
    if full and len(full) < len(parts):  # a partial last micro-batch that a wrong loop can drop
        mistakes += [(np.mean(full, axis=0), REMAINDER),
                     (sum(micro * g for g in full) / (micro * len(full)), REMAINDER),
                     (sum(micro * g for g in full) / n, REMAINDER)]
    return compare_array("grad", output, expected, mistakes=mistakes)


def _accumulation_exception_hint(exc: BaseException) -> Optional[str]:
    if isinstance(exc, ValueError) and "rows at a time" in str(exc):
        return EMPTY if str(exc).startswith("grad_fn got 0 rows") else TOO_BIG
    return None


ACCUMULATED_GRADIENT = Exercise(
    id="ch00.accumulated_gradient",
    function="accumulated_gradient",
    params=("grad_fn", "w", "X", "y", "micro_batch"),
    summary="the gradient of the mean loss over a whole batch, from micro-batches that fit",
    cases=(
        Case("12 rows in micro-batches of 4, least squares", _accumulation_inputs(50, 12, 3, 4),
             _judge_accumulation),
        Case("10 rows in micro-batches of 4 (the last has 2), least squares",
             _accumulation_inputs(51, 10, 3, 4), _judge_accumulation),
        Case("7 rows, one at a time, softmax regression with 3 classes",
             _accumulation_inputs(52, 7, 4, 1, classes=3), _judge_accumulation),
        Case("5 rows, micro_batch 8 (one micro-batch)", _accumulation_inputs(53, 5, 4, 8),
             _judge_accumulation),
        Case("random rows and micro_batch (seeded), least squares",
             _accumulation_inputs(54, None, 3, None), _judge_accumulation),
        Case("random rows and micro_batch (seeded), softmax regression",
             _accumulation_inputs(55, None, 3, None, classes=3), _judge_accumulation),
    ),
    exception_hint=_accumulation_exception_hint,
)

EXERCISES = [SCALE_SHIFT_BACKWARD, NUMERICAL_GRADIENT, BCE_WITH_LOGITS, ACCUMULATED_GRADIENT]
