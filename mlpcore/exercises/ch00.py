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

The cases are drawn by each exercise's case generator from the np.random.Generator it
is given (see mlpcore/exercises/__init__.py): sizes, values and step sizes change with
the seed, the kinds of cases (and so their names) do not.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from mlpcore.exercises._compare import Mistake, compare_array, compare_outputs
from mlpcore.exercises._registry import Case, Exercise, Failure


def _int(rng: np.random.Generator, low: int, high: int) -> int:
    """An integer in [low, high], both included."""
    return int(rng.integers(low, high + 1))


def _normal(rng: np.random.Generator, shape, scale: float = 1.0, shift=0.0) -> np.ndarray:
    return shift + scale * rng.standard_normal(shape)


# ------------------------------------------------ 1. backward of a scale-and-shift layer
NO_MEAN_HERE = ("sum over the batch, don't average: grad_out is already d(mean loss)/dy, "
                "so the 1/N is inside it")
SHARED = ("gamma and beta are shared by the N rows of the batch: sum their gradients over "
          "axis 0, giving shape (D,)")
NOT_LINEAR = ("x.T @ grad_out is Linear's weight gradient, where every input meets every "
              "output; here gamma[d] only scales column d: multiply elementwise, then sum "
              "over the batch (axis 0)")
FORGOT_GAMMA = ("y = x * gamma + beta, so dy/dx = gamma: multiply grad_out by gamma "
                "(broadcast along the batch)")
X_NOT_GAMMA = "dy/dx is gamma, not x: grad_x = grad_out * gamma"
GAMMA_NEEDS_X = "dy/dgamma is x: sum grad_out * x over the batch, not grad_out alone"
GAMMA_NOT_GAMMA = "dy/dgamma is x, not gamma: sum grad_out * x over the batch"
WRONG_AXIS = "summed over the wrong axis: axis 0 is the batch"


ALL_AXES = ("sum over the batch (axis 0) only: one gradient per feature, shape (D,), not "
            "a single number")
BETA_SLOPE_ONE = ("dy/dbeta is 1: grad_beta is grad_out summed over the batch, with no "
                  "gamma or x in it")
ROW_BROADCAST = ("gamma[d] scales feature d, a COLUMN: grad_out * gamma broadcasts it along "
                 "the batch; gamma[:, None] would scale rows")


def _scale_shift_draw(rng: np.random.Generator, n: int, d: int) -> tuple:
    """x not centred and of varied scale, gamma of both signs, grad_out of another scale."""
    x = _normal(rng, (n, d), scale=float(rng.uniform(0.5, 3.0)), shift=_normal(rng, d))
    gamma = _normal(rng, d, scale=float(rng.uniform(0.5, 2.0)))
    grad_out = _normal(rng, (n, d), scale=float(rng.uniform(0.1, 2.0)))
    return x, gamma, grad_out


def _scale_shift_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    n, d = _int(rng, 3, 9), _int(rng, 2, 7)
    d += d >= n                                     # N != D, so a wrong axis shows in the shape
    square = _int(rng, 3, 7)
    x, gamma, grad_out = _scale_shift_draw(rng, _int(rng, 3, 8), _int(rng, 3, 6))
    gamma[rng.choice(gamma.size, 1)] = 0.0           # a feature switched off
    grad_out[:, rng.choice(grad_out.shape[1], 1)] = 0.0  # a feature the loss ignores
    judge = _judge_scale_shift
    return (
        Case.of("a batch of N rows, D features (N != D)", _scale_shift_draw(rng, n, d), judge),
        Case.of("a single example (N = 1)", _scale_shift_draw(rng, 1, _int(rng, 2, 6)), judge),
        Case.of("one feature (D = 1)", _scale_shift_draw(rng, _int(rng, 2, 8), 1), judge),
        Case.of("square batch (N = D)", _scale_shift_draw(rng, square, square), judge),
        Case.of("a gamma of zero and a column of zero grad_out", (x, gamma, grad_out), judge),
        Case.of("random shape", _scale_shift_draw(rng, _int(rng, 2, 12), _int(rng, 2, 12)),
                judge),
    )


def _judge_scale_shift(inputs: tuple, output) -> Optional[Failure]:
    x, gamma, grad_out = inputs
    grad_x = grad_out * gamma
    grad_gamma = (grad_out * x).sum(axis=0)
    grad_beta = grad_out.sum(axis=0)
    n, d = x.shape
    mistakes = {
        "grad_x": [(grad_out, FORGOT_GAMMA), (grad_out * x, X_NOT_GAMMA),
                   (grad_x / n, NO_MEAN_HERE)]
                  + ([(grad_out * gamma[:, None], ROW_BROADCAST)] if n == d else []),
        "grad_gamma": [((n, d), SHARED), ((d, d), NOT_LINEAR),
                       ((x.sum(axis=1, keepdims=True) * grad_out).sum(axis=0), NOT_LINEAR),
                       (grad_out.sum(axis=0), GAMMA_NEEDS_X),
                       ((grad_out * gamma).sum(axis=0), GAMMA_NOT_GAMMA),
                       ((grad_out * x).mean(axis=0), NO_MEAN_HERE),
                       ((grad_out * x).sum(axis=1), WRONG_AXIS),
                       ((grad_out * x).sum(), ALL_AXES)],
        "grad_beta": [((n, d), SHARED),
                      (grad_out.mean(axis=0), NO_MEAN_HERE),
                      (grad_out.sum(axis=1), WRONG_AXIS),
                      ((grad_out * gamma).sum(axis=0), BETA_SLOPE_ONE),
                      ((grad_out * x).sum(axis=0), BETA_SLOPE_ONE),
                      (grad_out.sum(), ALL_AXES)],
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
    case_generator=_scale_shift_cases,
    exception_hint=_scale_shift_exception_hint,
)


# ------------------------------------------------- 2. your own numerical gradient
FORWARD = ("this is a one-sided difference, (f(x + eps) - f(x)) / eps or (f(x) - f(x - eps)) "
           "/ eps, whose error shrinks only like eps; use the central difference "
           "(f(x + eps e_i) - f(x - eps e_i)) / (2 eps), whose error shrinks like eps²")
TWO_EPS = "the two evaluations are 2*eps apart: divide by 2 * eps, not eps"
ONE_AT_A_TIME = ("perturb ONE entry at a time (x + eps * e_i, with e_i zero except entry i); "
                 "adding eps to every entry measures the slope along the all-ones direction")
RESTORE = ("put each entry back to its original value before perturbing the next one; "
           "otherwise later entries are measured at a shifted point")
SAME_SHAPE = "return an array of x's shape (one partial derivative per entry of x)"
OWN_EPS = ("use the eps you are given: with this case's large step the answer is the "
           "central difference at that eps, which differs from the true gradient (and from "
           "a difference with your own small step)")
ROWS = ("x[i] of a 2-D x is a whole row: loop over every entry with np.ndindex(x.shape) "
        "and perturb x[index] alone")
ABSOLUTE = ("eps is an absolute step: x[i] + eps and x[i] - eps, not x[i] * (1 + eps) "
            "(a relative step is 0 for an entry that is 0)")


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


def _backward_sided(f, x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.zeros_like(x, dtype=np.float64)
    base = f(x)
    for index in np.ndindex(x.shape):
        minus = x.copy()
        minus[index] -= eps
        grad[index] = (base - f(minus)) / eps
    return grad


def _by_rows(f, x: np.ndarray, eps: float) -> np.ndarray:
    """x[i] += eps for i in range(len(x)): whole rows perturbed together."""
    grad = np.zeros_like(x, dtype=np.float64)
    for i in range(len(x)):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad


def _relative_step(f, x: np.ndarray, eps: float) -> np.ndarray:
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] *= 1 + eps
        minus[index] *= 1 - eps
        grad[index] = (f(plus) - f(minus)) / (2 * eps)
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


def _small_eps(rng: np.random.Generator) -> float:
    return float(10 ** rng.uniform(-4, -2.5))


def _sin_sum(rng: np.random.Generator, shape: tuple, eps: float) -> tuple:
    weights, x = _normal(rng, shape), _normal(rng, shape, scale=2.0)
    return (lambda z: float(np.sum(weights * np.sin(z)))), x, eps


def _log_sum_exp(rng: np.random.Generator, shape: tuple, eps: float) -> tuple:
    x, slope = _normal(rng, shape), float(rng.uniform(1.0, 3.0))
    return (lambda z: float(np.log(np.sum(np.exp(slope * z))))), x, eps


def _scale_shift_tanh(rng: np.random.Generator, n: int, d: int, eps: float) -> tuple:
    """f(gamma) = sum(R * tanh(X * gamma + beta)): a gradient check of exercise 0.1's
    layer (followed by tanh) with respect to gamma."""
    X, beta, R, gamma = _normal(rng, (n, d)), _normal(rng, d), _normal(rng, (n, d)), \
        _normal(rng, d)
    return (lambda g: float(np.sum(R * np.tanh(X * g + beta)))), gamma, eps


def _coupled_cubic(rng: np.random.Generator, shape: tuple, eps: float) -> tuple:
    weights, x = _normal(rng, shape), _normal(rng, shape)
    x.flat[int(rng.integers(x.size))] = 0.0          # an entry at 0: a relative step is 0
    return (lambda z: float(0.5 * np.sum(weights * z ** 3) + np.sum(z) ** 2)), x, eps


def _large_step(rng: np.random.Generator, shape: tuple) -> tuple:
    """A step of 0.1 to 0.4 on a function with a large third derivative: the central
    difference at this eps is far (1e-3 or more, relative) from the true gradient.
    Entries of size 1.5 to 3 too, where a step scaled by |x| would differ."""
    weights, x, rate = _normal(rng, shape), _normal(rng, shape), float(rng.uniform(2.0, 4.0))
    x.flat[:2] = rng.choice([-1.0, 1.0], size=2) * rng.uniform(1.5, 3.0, size=2)
    x = rng.permutation(x.ravel()).reshape(shape)
    eps = float(rng.uniform(0.1, 0.4))
    return (lambda z: float(np.sum(weights * np.sin(rate * z)))), x, eps


def _numerical_gradient_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_numerical_gradient
    shape_2d = (_int(rng, 2, 5), _int(rng, 2, 5))
    shape_3d = (_int(rng, 2, 3), _int(rng, 2, 3), _int(rng, 2, 3))
    return (
        Case.of("sum of weighted sines, a vector", _sin_sum(rng, (_int(rng, 3, 8),),
                                                           _small_eps(rng)), judge),
        Case.of("log-sum-exp of a 2-D array", _log_sum_exp(rng, shape_2d, _small_eps(rng)),
                judge),
        Case.of("gradient check of a scale-and-shift layer + tanh, w.r.t. gamma",
                _scale_shift_tanh(rng, _int(rng, 3, 8), _int(rng, 2, 6), _small_eps(rng)),
                judge),
        Case.of("a 3-D array, coupled entries, one entry at 0",
                _coupled_cubic(rng, shape_3d, _small_eps(rng)), judge),
        Case.of("a large step (eps 0.1 to 0.4), 2-D",
                _large_step(rng, (_int(rng, 2, 4), _int(rng, 2, 4))), judge),
    )


def _judge_numerical_gradient(inputs: tuple, output) -> Optional[Failure]:
    f, x, eps = inputs
    expected = _central(f, x, eps)
    mistakes = [Mistake(_one_sided(f, x, eps), FORWARD),
                Mistake(_backward_sided(f, x, eps), FORWARD),
                Mistake(2 * expected, TWO_EPS),
                Mistake(np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps)), ONE_AT_A_TIME),
                Mistake(_never_restored(f, x, eps), RESTORE),
                Mistake(_relative_step(f, x, eps), ABSOLUTE)]
    if x.ndim > 1:
        mistakes += [Mistake((x.size,), SAME_SHAPE), Mistake(_by_rows(f, x, eps), ROWS)]
    failure = compare_outputs(output, ("grad",), (expected,), mistakes={"grad": mistakes})
    if failure is not None and not failure.hint and eps >= 0.05 and \
            _near(output, _central(f, x, 1e-5)):
        return Failure(failure.message, OWN_EPS)  # the true gradient, not the difference
    return failure


def _near(output, value: np.ndarray) -> bool:
    """True if ``output`` is ``value`` to within 1e-4 (a small step's own error)."""
    try:
        got = np.asarray(output, dtype=np.float64)
        return got.shape == value.shape and bool(np.allclose(got, value, rtol=1e-4,
                                                             atol=1e-6))
    except (TypeError, ValueError):
        return False


NUMERICAL_GRADIENT = Exercise(
    id="ch00.numerical_gradient",
    function="numerical_gradient",
    params=("f", "x", "eps"),
    case_generator=_numerical_gradient_cases,
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
BOTH_TERMS = ("the loss has two terms, -t * log(sigmoid(z)) - (1 - t) * log(1 - sigmoid(z)): "
              "the second is the one that counts for the examples with t = 0")
SIGMOID_OVERFLOW = ("exp(z) overflows to inf beyond z = 709 in float64 (inf / inf is NaN): "
                    "compute sigmoid without a large exp, 0.5 * (1 + tanh(z / 2))")
PER_LOGIT = ("grad_logits has one entry per example: (sigmoid(z) - t) / N, shape (N,), "
             "not its mean or sum")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for any z, no overflow


def _hard_targets(rng: np.random.Generator, n: int) -> np.ndarray:
    """0s and 1s, both present when n > 1 (so neither term of the loss can be left out)."""
    targets = rng.integers(0, 2, size=n).astype(np.float64)
    if n > 1:
        targets[:2] = (0.0, 1.0)
        targets = rng.permutation(targets)
    return targets


def _bce_draw(rng: np.random.Generator, n: int, scale: float, soft: bool = False) -> tuple:
    targets = rng.uniform(0.0, 1.0, size=n) if soft else _hard_targets(rng, n)
    return scale * rng.standard_normal(n), targets


def _confident_and_wrong(rng: np.random.Generator, n: int) -> tuple:
    """Large logits of the wrong sign, some beyond 710 where exp overflows in float64:
    log(0) or inf for a naive loss, a capped one for a clipped loss."""
    targets = _hard_targets(rng, n)
    size = rng.uniform(40.0, 700.0, size=n)
    for label in (0.0, 1.0):                          # one of each target beyond 710
        size[rng.choice(np.flatnonzero(targets == label))] = rng.uniform(710.0, 1000.0)
    return np.where(targets > 0.5, -1.0, 1.0) * size, targets


def _bce_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    judge = _judge_bce
    n_mixed = _int(rng, 5, 40)
    logits, targets = _bce_draw(rng, n_mixed, float(rng.uniform(1.0, 10.0)))
    soft = rng.random(n_mixed) < 0.5
    targets[soft] = rng.uniform(0.0, 1.0, size=int(soft.sum()))
    return (
        Case.of("N examples, targets 0 or 1", _bce_draw(rng, _int(rng, 3, 12), 2.0), judge),
        Case.of("a single example", _bce_draw(rng, 1, 2.0), judge),
        Case.of("soft targets in [0, 1]", _bce_draw(rng, _int(rng, 4, 10), 2.0, soft=True),
                judge),
        Case.of("confident and wrong: logits of size 40 to 1000",
                _confident_and_wrong(rng, _int(rng, 4, 12)), judge),
        Case.of("random batch, hard and soft targets mixed, logits of scale 1 to 10",
                (logits, targets), judge),
    )


def _judge_bce(inputs: tuple, output) -> Optional[Failure]:
    logits, targets = inputs
    n = logits.shape[0]
    per_example = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    loss = np.float64(per_example.mean())
    probs = _sigmoid(logits)
    grad = (probs - targets) / n
    branches = [np.where(chosen, np.logaddexp(0, -logits), np.logaddexp(0, logits)).mean()
                for chosen in (targets > 0.5, targets == 1)]  # targets rounded to 0 or 1
    first_term = np.float64(np.mean(targets * np.logaddexp(0, -logits)))
    mistakes = {
        "loss": [(np.float64(per_example.sum()), MEAN), (np.float64(-loss), SIGN),
                 (first_term, BOTH_TERMS)]
                + [(np.float64(branch), SOFT) for branch in branches],
        "grad_logits": [(probs - targets, GRAD_MEAN), ((targets - probs) / n, SIGN),
                        (targets - probs, SIGN),
                        (grad * probs * (1 - probs), CANCELS),
                        (np.float64(grad.sum()), PER_LOGIT), (np.float64(grad.mean()), PER_LOGIT),
                        (np.float64((probs - targets).mean()), PER_LOGIT)],
    }
    failure = compare_outputs(output, ("loss", "grad_logits"), (loss, grad),
                              mistakes=mistakes,
                              nan_hint={"loss": STABLE, "grad_logits": SIGMOID_OVERFLOW})
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
    case_generator=_bce_cases,
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
LAST_SIZE = ("the last micro-batch may hold fewer rows: weight it by its own row count, "
             "len(X[i:i + micro_batch]), not by micro_batch")
DIVIDE_BY_N = ("divide the weighted sum by N, the number of rows, not by (number of "
               "micro-batches) * micro_batch")


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


def _accumulation_draw(rng: np.random.Generator, n: int, micro: int, classes: int = 0) -> tuple:
    """classes = 0: least squares (w of shape (d,)); else softmax regression (d, classes)."""
    d = _int(rng, 2, 5)
    X = _normal(rng, (n, d), shift=_normal(rng, d))
    if classes:
        w, y = _normal(rng, (d, classes)), rng.integers(0, classes, size=n)
        return _softmax_regression_grad(micro), w, X, y, micro
    w, y = _normal(rng, d), _normal(rng, n, scale=2.0, shift=float(rng.normal()))
    return _least_squares_grad(micro), w, X, y, micro


def _accumulation_cases(rng: np.random.Generator) -> tuple[Case, ...]:
    draw, judge = _accumulation_draw, _judge_accumulation
    micro = _int(rng, 2, 5)
    even = (micro * _int(rng, 2, 4), micro)
    micro_r = _int(rng, 3, 6)
    remainder = (micro_r * _int(rng, 1, 3) + _int(rng, 2, micro_r - 1), micro_r)
    micro_1 = _int(rng, 2, 5)
    one_left = (micro_1 * _int(rng, 1, 3) + 1, micro_1)
    single = _int(rng, 3, 9)
    whole = _int(rng, 3, 8)
    n_random = _int(rng, 7, 20)
    return (
        Case.of("N a multiple of micro_batch, least squares", draw(rng, *even), judge),
        Case.of("a smaller last micro-batch (2 or more rows), least squares",
                draw(rng, *remainder), judge),
        Case.of("a last micro-batch of one row, softmax regression",
                draw(rng, *one_left, classes=3), judge),
        Case.of("one row at a time (micro_batch 1), softmax regression",
                draw(rng, single, 1, classes=_int(rng, 2, 4)), judge),
        Case.of("micro_batch >= N (a single micro-batch)",
                draw(rng, whole, whole + _int(rng, 0, 4)), judge),
        Case.of("random N and micro_batch, softmax regression",
                draw(rng, n_random, _int(rng, 2, n_random - 1), classes=3), judge),
    )


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
                (np.sum(means, axis=0) / n, SUM_OVER_N),
                (sum(micro * g for g in means) / n, LAST_SIZE),
                (sum(rows * g for rows, g in parts) / (micro * len(parts)), DIVIDE_BY_N)]
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
    case_generator=_accumulation_cases,
    exception_hint=_accumulation_exception_hint,
)

EXERCISES = [SCALE_SHIFT_BACKWARD, NUMERICAL_GRADIENT, BCE_WITH_LOGITS, ACCUMULATED_GRADIENT]
